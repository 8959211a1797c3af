"""The notification relay's channels (bizlogic.ops.relay): each kind's request against the
vendor's documented format, signatures recomputed here by hand from the vendors'
documented algorithms, SMS templates and truncation, retries, config errors that name the
field, and no secret in anything reported."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx
import pytest
from structlog.testing import capture_logs

from bizlogic.ops.recovery.alerts import AlertmanagerPayload
from bizlogic.ops.relay import ChannelError, Notice, NotifyConfigError, Relay, load_notify_config
from bizlogic.ops.relay.channels import dingtalk_sign
from bizlogic.ops.relay.message import MAX_LISTED, cut
from bizlogic.ops.relay.send import MAX_REASON, scrub
from bizlogic.settings import Settings

NOW = 1_767_225_600.25  # 2026-01-01T00:00:00.25Z: what the relay's clock says here
WECOM_KEY = "wecom-key-0b3e2a77-5c1d-4e0f-9a11-c0ffee000001"
DING_TOKEN = "dingtoken" + "d" * 55
DING_SECRET = "SEC" + "5" * 61
FEISHU_HOOK = "feishu-hook-" + "f" * 24
FEISHU_SECRET = "feishu-secret-" + "s" * 18
SLACK_PATH = "T000/B000/" + "x" * 24
SMS_KEY = "sms-api-key-" + "k" * 20
SECRETS = (WECOM_KEY, DING_TOKEN, DING_SECRET, FEISHU_HOOK, FEISHU_SECRET, SLACK_PATH, SMS_KEY)


def alert(
    name: str = "BusinessLogicServiceDown",
    status: str = "firing",
    severity: str = "critical",
    instance: str = "api-1:8000",
    summary: str = "bizlogic API api-1:8000 is down",
) -> dict[str, Any]:
    labels = {"alertname": name, "severity": severity, "instance": instance}
    return {
        "status": status,
        "labels": {**labels, "service": "business_logic"},
        "annotations": {"summary": summary},
        "startsAt": "2026-01-01T00:00:00Z",
        "fingerprint": f"{abs(hash((name, instance))):x}",
    }


def payload(*alerts: dict[str, Any], **extra: Any) -> AlertmanagerPayload:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return AlertmanagerPayload.model_validate(
        {"version": "4", "status": status, "alerts": list(alerts), **extra}
    )


def dingtalk_by_hand(secret: str, timestamp: str) -> str:
    """DingTalk's documented signing: HmacSHA256 with the secret as key over
    ``timestamp + "\n" + secret``, Base64 (the caller URL-encodes)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), "sha256")
    return base64.b64encode(mac.digest()).decode("ascii")


def feishu_by_hand(secret: str, timestamp: str) -> str:
    """Feishu's documented signing: HmacSHA256 with ``timestamp + "\n" + secret`` as the
    key over an empty message, Base64."""
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", "sha256")
    return base64.b64encode(mac.digest()).decode("ascii")


def write_config(tmp_path: Path, text: str) -> Path:
    (tmp_path / "wecom-url").write_text(
        f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}\n"
    )
    (tmp_path / "ding-secret").write_text(DING_SECRET + "\n")
    (tmp_path / "sms-headers").write_text(f"# the gateway's key\nX-Api-Key: {SMS_KEY}\n")
    path = tmp_path / "notify.yml"
    path.write_text(text)
    return path


FULL = f"""
channels:
  wecom:
    kind: wecom
    url_file: wecom-url            # relative: beside this file
  ding:
    kind: dingtalk
    url: https://oapi.dingtalk.com/robot/send?access_token={DING_TOKEN}
    secret_file: ding-secret
  ding-plain:
    kind: dingtalk
    url: https://oapi.dingtalk.com/robot/send?access_token={DING_TOKEN}
  feishu:
    kind: feishu
    url: https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_HOOK}
    secret: {FEISHU_SECRET}
  feishu-post:
    kind: feishu
    format: post
    url: https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_HOOK}
  slack:
    kind: slack
    url: https://hooks.slack.com/services/{SLACK_PATH}
    channel: "#ops"
    username: bizlogic
  sms:
    kind: sms
    url: https://sms.example.org/v1/send
    headers: {{Content-Type: application/json}}
    headers_file: sms-headers
    recipients: ["+8613800000001", "+8613800000002"]
    max_length: 70
    body:
      to: "{{recipients}}"
      text: "{{message}}"
      meta: {{copy: "to {{recipients}}", tags: [alert, "{{message}}"]}}
  sms-each:
    kind: sms
    method: PUT
    url: https://sms.example.org/v1/one
    per_recipient: true
    recipients: ["+111", "+222", "+333"]
    body: {{number: "{{recipient}}", content: "{{message}}"}}
"""


class Recorder:
    """A mock transport: records each request, answers with ``answer(request)``."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer or self.ok

    @staticmethod
    def ok(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if "feishu" in host:
            return httpx.Response(200, json={"code": 0, "msg": "success", "data": {}})
        if "weixin" in host or "dingtalk" in host:
            return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})
        return httpx.Response(200, text="ok")

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


@pytest.fixture
def config(tmp_path: Path):
    return load_notify_config(write_config(tmp_path, FULL))


def send(config, name: str, notice: Notice, recorder: Recorder | None = None) -> Recorder:
    recorder = recorder or Recorder()
    relay = Relay(config, transport=httpx.MockTransport(recorder), clock=lambda: NOW, max_wait_s=0)
    asyncio.run(relay.send(config.channels[name], notice))
    return recorder


ONE = Notice.from_payload(payload(alert()))


# --- the message -------------------------------------------------------------------------


def test_the_message_says_what_where_how_bad_and_how_many() -> None:
    notice = Notice.from_payload(
        payload(
            alert(status="resolved", instance="api-2:8000", summary="was down"),
            alert(),
        )
    )
    assert (notice.firing, notice.resolved, notice.count) == (1, 1, 2)
    assert notice.title == "[FIRING:1, RESOLVED:1] BusinessLogicServiceDown"
    assert notice.plain().splitlines() == [
        "[FIRING:1, RESOLVED:1] BusinessLogicServiceDown",
        "• FIRING BusinessLogicServiceDown · critical · api-1:8000 — bizlogic API api-1:8000 "
        "is down",
        "• RESOLVED BusinessLogicServiceDown · critical · api-2:8000 — was down",
    ]  # firing first
    resolved = Notice.from_payload(payload(alert(status="resolved")))
    assert resolved.status == "resolved" and resolved.title.startswith("[RESOLVED:1] ")


def test_many_alerts_are_counted_not_all_listed() -> None:
    many = [alert(instance=f"api-{i}:8000", name=f"A{i % 3}") for i in range(MAX_LISTED + 4)]
    notice = Notice.from_payload(payload(*many, truncatedAlerts=6))  # webhook max_alerts
    assert notice.count == MAX_LISTED + 4 + 6
    assert notice.title == f"[FIRING:{MAX_LISTED + 4}] A0, A1 +1"
    assert notice.plain().splitlines()[-1] == "… and 10 more"
    assert len(notice.plain().splitlines()) == 1 + MAX_LISTED + 1


def test_cut_marks_the_cut() -> None:
    assert cut("short", 10) == "short"
    assert cut("a" * 20, 10) == "a" * 9 + "…"
    assert len(cut("告警" * 50, 70)) == 70


# --- each kind's request -----------------------------------------------------------------


def test_wecom_group_robot_markdown(config) -> None:
    (request,) = send(config, "wecom", ONE).requests
    assert str(request.url) == f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={WECOM_KEY}"
    assert request.method == "POST" and request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    assert body["markdown"]["content"].splitlines() == [
        "**[FIRING:1] BusinessLogicServiceDown**",
        '> <font color="warning">FIRING</font> **BusinessLogicServiceDown** · critical · '
        "api-1:8000",
        "> bizlogic API api-1:8000 is down",
    ]


def test_wecom_content_stays_within_4096_bytes(config) -> None:
    long = [alert(instance=f"节点-{i}", summary="磁盘" * 150) for i in range(MAX_LISTED)]
    (body,) = send(config, "wecom", Notice.from_payload(payload(*long))).bodies()
    content = body["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith("…")


def test_dingtalk_signature_is_the_documented_one(config) -> None:
    (request,) = send(config, "ding", ONE).requests
    # DingTalk: timestamp in ms; sign = urlencode(base64(HmacSHA256(key=secret,
    # message=timestamp + "\n" + secret))), appended to the webhook URL's query.
    timestamp = "1767225600250"
    expected = dingtalk_by_hand(DING_SECRET, timestamp)
    query = urlsplit(str(request.url)).query
    assert query == f"access_token={DING_TOKEN}&timestamp={timestamp}&sign={quote_plus(expected)}"
    assert parse_qs(query)["sign"] == [expected]
    body = json.loads(request.content)
    assert body == {
        "msgtype": "markdown",
        "markdown": {
            "title": "[FIRING:1] BusinessLogicServiceDown",
            "text": "#### [FIRING:1] BusinessLogicServiceDown\n\n- FIRING BusinessLogicServiceDown"
            " · critical · api-1:8000 — bizlogic API api-1:8000 is down",
        },
    }


def test_the_signing_matches_a_published_dingtalk_vector() -> None:
    # The vector a third-party DingTalk client publishes with its tests (secret "secret",
    # timestamp 1700000000000): the same algorithm, computed elsewhere.
    vector = "OuzzJR5%2BxZ4%2FEYwqtNt6sMYZQMTa%2FHEGvc9miJe7XzY%3D"
    assert quote_plus(dingtalk_by_hand("secret", "1700000000000")) == vector
    assert quote_plus(dingtalk_sign("secret", 1_700_000_000_000)) == vector


def test_dingtalk_without_a_secret_is_not_signed(config) -> None:
    (request,) = send(config, "ding-plain", ONE).requests
    assert urlsplit(str(request.url)).query == f"access_token={DING_TOKEN}"


def test_feishu_signature_is_the_documented_one(config) -> None:
    (body,) = send(config, "feishu", ONE).bodies()
    assert body == {
        "timestamp": "1767225600",  # seconds
        "sign": feishu_by_hand(FEISHU_SECRET, "1767225600"),
        "msg_type": "text",
        "content": {"text": ONE.plain()},
    }


def test_feishu_post_without_a_secret(config) -> None:
    (request,) = send(config, "feishu-post", ONE).requests
    assert str(request.url) == f"https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_HOOK}"
    assert json.loads(request.content) == {
        "msg_type": "post",
        "content": {
            "post": {
                "zh_cn": {
                    "title": "[FIRING:1] BusinessLogicServiceDown",
                    "content": [[{"tag": "text", "text": ONE.describe(ONE.lines[0])}]],
                }
            }
        },
    }


def test_slack_incoming_webhook(config) -> None:
    notice = Notice.from_payload(payload(alert(summary="p95 > 60 s & <rising>")))
    (body,) = send(config, "slack", notice).bodies()
    assert body == {
        "text": "*[FIRING:1] BusinessLogicServiceDown*\n"
        "• FIRING BusinessLogicServiceDown · critical · api-1:8000 — p95 &gt; 60 s &amp; "
        "&lt;rising&gt;",
        "channel": "#ops",
        "username": "bizlogic",
    }


def test_sms_gateway_body_headers_and_length(config) -> None:
    notice = Notice.from_payload(payload(alert(), alert(instance="api-2:8000")))
    (request,) = send(config, "sms", notice).requests
    assert str(request.url) == "https://sms.example.org/v1/send" and request.method == "POST"
    assert request.headers["x-api-key"] == SMS_KEY  # from headers_file
    body = json.loads(request.content)
    full = notice.short(10_000)
    assert full == (
        "[FIRING:2] BusinessLogicServiceDown: critical api-1:8000: bizlogic API api-1:8000 is "
        "down; critical api-2:8000: bizlogic API api-1:8000 is down"
    )
    message = full[:69] + "…"  # max_length: 70 characters, the cut marked
    assert body == {
        "to": ["+8613800000001", "+8613800000002"],  # exactly "{recipients}": a list
        "text": message,
        "meta": {"copy": "to +8613800000001,+8613800000002", "tags": ["alert", message]},
    }
    assert len(body["text"]) == 70


def test_sms_one_request_per_recipient(config) -> None:
    recorder = send(config, "sms-each", ONE)
    assert [r.method for r in recorder.requests] == ["PUT"] * 3
    assert [b["number"] for b in recorder.bodies()] == ["+111", "+222", "+333"]
    assert {b["content"] for b in recorder.bodies()} == {ONE.short(160)}  # default length


# --- delivery: retries, refusals, secrets ---------------------------------------------------


def test_a_5xx_is_retried_a_refusal_is_not(config) -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json={"errcode": 0})])
    recorder = send(config, "ding", ONE, Recorder(lambda _: next(answers)))
    assert len(recorder.requests) == 2
    stamps = {parse_qs(urlsplit(str(r.url)).query)["timestamp"][0] for r in recorder.requests}
    assert stamps == {"1767225600250"}  # signed again for each attempt (same clock here)

    refused = Recorder(lambda _: httpx.Response(200, json={"errcode": 310000, "errmsg": "sign"}))
    with pytest.raises(ChannelError) as caught:
        send(config, "ding", ONE, refused)
    assert len(refused.requests) == 1  # 200 with an errcode: refused, not retried
    assert caught.value.attempts == 1
    assert "dingtalk error 310000: sign" in str(caught.value)


def test_retries_are_bounded(config) -> None:
    recorder = Recorder(lambda _: httpx.Response(500))
    with pytest.raises(ChannelError) as caught:
        send(config, "slack", ONE, recorder)
    assert len(recorder.requests) == 3 and caught.value.attempts == 3


def test_a_recipient_served_is_not_texted_again_on_retry(config) -> None:
    answers = iter([200, 503, 200, 200])
    recorder = send(config, "sms-each", ONE, Recorder(lambda _: httpx.Response(next(answers))))
    assert [b["number"] for b in recorder.bodies()] == ["+111", "+222", "+222", "+333"]


@pytest.mark.parametrize("name", ["wecom", "ding", "feishu", "slack", "sms"])
def test_no_secret_in_errors_or_logs(config, name: str) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        # A gateway that echoes the request in its error, as some do: what holds a secret
        # first (the URL, the key header, the signature), the rest after.
        body = json.loads(request.content)
        echoed = f"{request.url} {request.headers.get('x-api-key')} {body.get('sign')}"
        return httpx.Response(400, text=f"bad request: {echoed} {request.content.decode()}")

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    signatures = (
        quote_plus(dingtalk_by_hand(DING_SECRET, "1767225600250")),
        feishu_by_hand(FEISHU_SECRET, "1767225600"),
    )
    for answer in (echo, unreachable):
        with capture_logs() as logs, pytest.raises(ChannelError) as caught:
            send(config, name, ONE, Recorder(answer))
        error = caught.value
        reported = [str(error), error.reason, repr(config.channels[name]), json.dumps(logs)]
        for text in reported:
            for secret in (*SECRETS, quote_plus(DING_SECRET), *signatures):
                assert secret not in text, (name, text)
        assert "[REDACTED]" in error.reason, error.reason  # there was something to hide
        assert error.channel == name and f"channel {name!r}" in str(error)
        assert error.destination.startswith("https://") and error.destination.count("/") == 2
        (logged,) = [e for e in logs if e["event"] == "notify_failed"]
        assert logged["channel"] == name and logged["log_level"] == "warning"


def test_scrubbing_comes_before_the_cut() -> None:
    secret = "k" * 40
    text = "x" * (MAX_REASON - 10) + secret  # a cut first would leave 10 of its characters
    assert scrub(text, [secret]) == cut("x" * (MAX_REASON - 10) + "[REDACTED]", MAX_REASON)
    assert "kkkk" not in scrub(text, [secret])
    assert scrub(f"a={quote_plus('a+b/c=' * 3)}", ["a+b/c=" * 3]) == "a=[REDACTED]"


def test_a_delivery_is_logged_by_channel_and_host(config) -> None:
    with capture_logs() as logs:
        send(config, "wecom", ONE)
    (sent,) = [e for e in logs if e["event"] == "notify_sent"]
    assert sent["destination"] == "https://qyapi.weixin.qq.com"
    assert sent["alerts"] == 1 and sent["attempts"] == 1
    assert WECOM_KEY not in json.dumps(logs)


# --- the config file -------------------------------------------------------------------------


def test_the_full_example_loads(config) -> None:
    assert set(config.channels) == {
        "wecom", "ding", "ding-plain", "feishu", "feishu-post", "slack", "sms", "sms-each",
    }  # fmt: skip
    wecom = config.channels["wecom"]
    assert wecom.kind == "wecom" and wecom.url.endswith(WECOM_KEY)  # read from url_file
    assert config.channels["ding"].secret == DING_SECRET
    assert config.channels["sms"].headers == {
        "Content-Type": "application/json",
        "X-Api-Key": SMS_KEY,
    }


BAD = [
    ("channels: {a: {kind: teams, url: 'https://x.org/h'}}", "channels.a.kind: unknown kind"),
    ("channels: {a: {url: 'https://x.org/h'}}", "channels.a.kind: missing"),
    ("channels: {a: {kind: wecom}}", "channels.a.url: set exactly one of url, url_file"),
    (
        "channels: {a: {kind: wecom, url: 'https://x.org/h', url_file: wecom-url}}",
        "channels.a.url: set exactly one of url, url_file",
    ),
    ("channels: {a: {kind: slack, url: 'ftp://x.org/h'}}", "channels.a.url: expected an http(s)"),
    (
        f"channels: {{a: {{kind: slack, url: 'https://x.org:port/{SMS_KEY}'}}}}",
        "channels.a.url: not a valid URL",
    ),
    (
        f"channels: {{a: {{kind: slack, url: 'https://x.org:99999/{SMS_KEY}'}}}}",
        "channels.a.url: port 99999 is not between 1 and 65535",
    ),
    ("channels: {a: {kind: slack, url: 'https://x.org/h', chanel: x}}", "channels.a.chanel: Extra"),
    (
        "channels: {a: {kind: feishu, url: 'https://x.org/h', format: card}}",
        "channels.a.format: Input should be 'text' or 'post'",
    ),
    (
        "channels: {a: {kind: dingtalk, url: 'https://x.org/h', secret_file: nothing-here}}",
        "channels.a.secret_file: cannot read",
    ),
    (
        "channels: {a: {kind: wecom, url: 'https://x.org/h', timeout_s: 0}}",
        "channels.a.timeout_s: Input should be greater than 0",
    ),
    (
        "channels: {s: {kind: sms, url: 'https://x.org/h', recipients: ['+1'], max_length: 5,"
        " body: {t: '{message}', to: '{recipients}'}}}",
        "channels.s.max_length: Input should be greater than or equal to 20",
    ),
    (
        "channels: {s: {kind: sms, url: 'https://x.org/h', recipients: [],"
        " body: {t: '{message}', to: '{recipients}'}}}",
        "channels.s.recipients: List should have at least 1 item",
    ),
    (
        "channels: {s: {kind: sms, url: 'https://x.org/h', recipients: ['+1'],"
        " body: {to: '{recipients}'}}}",
        "channels.s.body: no {message} placeholder",
    ),
    (
        "channels: {s: {kind: sms, url: 'https://x.org/h', recipients: ['+1'],"
        " body: {t: '{message}', to: ['{phone}']}}}",
        "channels.s.body.to[0]: unknown placeholder {phone}",
    ),
    (
        "channels: {s: {kind: sms, url: 'https://x.org/h', recipients: ['+1'],"
        " body: {t: '{message}', to: '{recipient}'}}}",
        "channels.s.body: no {recipients} placeholder",
    ),
    (
        "channels: {s: {kind: sms, url: 'https://x.org/h', recipients: ['+1'], per_recipient: true,"
        " body: {t: '{message}', to: '{recipients}'}}}",
        "channels.s.body: per_recipient: true needs a {recipient} placeholder",
    ),
    (
        "channels: {s: {kind: sms, url: 'https://x.org/h', recipients: ['+1'],"
        " headers_file: bad-headers, body: {t: '{message}', to: '{recipients}'}}}",
        "channels.s.headers_file: bad-headers line 2: expected 'Name: value'",
    ),
    ("channels: {'a b': {kind: wecom, url: 'https://x.org/h'}}", "channels.a b: a channel name"),
    ("channels: {}", "channels: expected a mapping of channel names"),
    ("chanels: {}", "chanels: unknown field"),
    ("channels: [a", "not valid YAML at line 1"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m for _, m in BAD])
def test_a_bad_config_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad-headers").write_text(f"X-Api-Key: {SMS_KEY}\nX-Api-Secret {SMS_KEY}\n")
    path = write_config(tmp_path, text)
    with pytest.raises(NotifyConfigError) as caught:
        load_notify_config(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert SMS_KEY not in str(caught.value)  # a bad header line is named, not shown


def test_a_secret_given_inline_is_not_echoed_by_a_type_error(tmp_path: Path) -> None:
    path = write_config(tmp_path, f"channels: {{a: {{kind: wecom, url: [{WECOM_KEY}]}}}}")
    with pytest.raises(NotifyConfigError) as caught:
        load_notify_config(path)
    assert "channels.a.url:" in str(caught.value) and WECOM_KEY not in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NotifyConfigError, match=r"notify\.yml: cannot read it"):
        load_notify_config(tmp_path / "notify.yml")


def test_an_empty_setting_means_no_config(tmp_path: Path) -> None:
    """`BL_NOTIFY_CONFIG=` in bizlogic.env (as shipped) is unset, not the current directory."""
    assert Settings(data_dir=tmp_path, notify_config="").notify_config is None
    assert Relay.from_settings(Settings(data_dir=tmp_path)).channel("chat") is None
