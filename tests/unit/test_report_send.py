"""The report's chat messages per kind, Feishu's signature, retries and refusals, and the
``reports:`` section's validation: errors name the file and field, never a secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest

from bizlogic.ops.relay.config import NotifyConfigError
from bizlogic.ops.relay.send import ChannelError
from bizlogic.ops.report.delivery import load_delivery
from bizlogic.ops.report.send import chat_body, send_chat

FEISHU_SECRET = "feishu-report-secret-123"
HOOK = "https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef0123"
MARKDOWN = "## Weekly operations report\n- **Analyses**: 12 · success rate 91.7%"


def config(tmp_path: Path, reports: str) -> Path:
    path = tmp_path / "notify.yml"
    path.write_text(
        "channels:\n"
        f"  lark:\n    kind: feishu\n    url: {HOOK}\n    secret: {FEISHU_SECRET}\n"
        "  wx:\n    kind: wecom\n    url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1234\n"
        "  sl:\n    kind: slack\n    url: https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX\n"
        f"{reports}"
    )
    return path


def test_feishu_card_is_signed(tmp_path: Path) -> None:
    [lark] = load_delivery(config(tmp_path, "reports:\n  chat: [lark]\n")).chat
    seen: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"code": 0, "msg": "success"})

    attempts = send_chat(lark, "Weekly", MARKDOWN, transport=httpx.MockTransport(answer),
                         clock=lambda: 1_765_000_000.4)  # fmt: skip
    assert attempts == 1
    [body] = seen
    key = f"{body['timestamp']}\n{FEISHU_SECRET}".encode()
    assert body["timestamp"] == "1765000000"
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "interactive"
    assert body["card"]["elements"] == [{"tag": "markdown", "content": MARKDOWN}]


def test_each_kind_gets_markdown(tmp_path: Path) -> None:
    channels = {
        c.name: c for c in load_delivery(config(tmp_path, "reports:\n  chat: [wx, sl]\n")).chat
    }
    assert chat_body(channels["wx"], "T", MARKDOWN) == {
        "msgtype": "markdown", "markdown": {"content": MARKDOWN}
    }  # fmt: skip
    slack = chat_body(channels["sl"], "T", MARKDOWN)["text"]
    assert slack.startswith("*Weekly operations report*\n- *Analyses*: 12")
    long = "汉" * 3000  # 9000 bytes: WeCom takes 4096
    assert len(chat_body(channels["wx"], "T", long)["markdown"]["content"].encode()) <= 4096


def test_retries_then_names_the_channel_without_its_secret(tmp_path: Path) -> None:
    [lark] = load_delivery(config(tmp_path, "reports:\n  chat: [lark]\n")).chat
    calls = []

    def busy(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, text=f"overloaded {request.url}")

    with pytest.raises(ChannelError) as caught:
        send_chat(lark, "T", MARKDOWN, transport=httpx.MockTransport(busy), max_wait_s=0.01)
    assert len(calls) == 3 and caught.value.attempts == 3
    text = str(caught.value)
    assert text.startswith("channel 'lark' (feishu, https://open.feishu.cn)")
    assert "0123456789abcdef0123" not in text and FEISHU_SECRET not in text

    def refused(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"code": 19021, "msg": "sign match fail"})

    calls.clear()
    with pytest.raises(ChannelError, match="feishu error 19021"):
        send_chat(lark, "T", MARKDOWN, transport=httpx.MockTransport(refused), max_wait_s=0.01)
    assert len(calls) == 1  # a refusal is not retried


@pytest.mark.parametrize(
    ("reports", "message"),
    [
        ("reports:\n  chat: [nope]\n", "reports.chat[0]: no channel 'nope' in channels"),
        ("reports:\n  chta: [wx]\n", "reports.chta: Extra inputs are not permitted"),
        ("reports: {}\n", "reports: neither email nor chat is set"),
        ("reports:\n  email: {host: m, from: a@b.c, to: [x@y.z], port: 0}\n",
         "reports.email.port:"),
        ("reports:\n  email: {host: m, from: a@b.c, to: [x@y.z], security: tls}\n",
         "reports.email.security:"),
        ("reports:\n  email: {host: m, from: a@b.c, to: [x@y.z], username: u}\n",
         "reports.email.username: needs password or password_file"),
        ("reports:\n  email: {host: m, from: a@b.c, to: [x@y.z], username: u,"
         " password: s3cret-pw, password_file: pw}\n",
         "reports.email.password: set at most one of password, password_file"),
        ("reports:\n  email: {host: m, from: a@b.c, to: [x@y.z], username: u,"
         " password_file: missing-pw}\n",
         "reports.email.password_file: cannot read"),
        ("", "reports: missing"),
    ],
)  # fmt: skip
def test_bad_reports_section_names_the_field(tmp_path: Path, reports: str, message: str) -> None:
    path = config(tmp_path, reports)
    with pytest.raises(NotifyConfigError) as caught:
        load_delivery(path)
    assert str(caught.value).startswith(f"{path}: {message}")
    assert "s3cret-pw" not in str(caught.value) and FEISHU_SECRET not in str(caught.value)


def test_password_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret-pw\n")
    path = config(tmp_path, "reports:\n  email: {host: m, from: a@b.c, to: [x@y.z], "
                            "username: u, password_file: pw}\n")  # fmt: skip
    delivery = load_delivery(path)
    assert delivery.password == "s3cret-pw" and "s3cret-pw" not in repr(delivery)
