"""Chat and SMS, delivered: bizlogic's own notice (a recovery escalation, as ops/notify.py
sends it to BL_ALERT_WEBHOOK_URL=<alertmanager>/api/v2/alerts) is routed by a real
Alertmanager with the shipped deploy/alertmanager/alertmanager.yml and arrives

* Slack-format, from Alertmanager's own slack_configs (api_url_file), at a local receiver;
* through a live `bizlogic serve` relay (POST /alerts/notify/{channel}, BL_NOTIFY_CONFIG)
  as a WeCom group robot's markdown, a DingTalk robot's markdown with a valid signature, a
  Feishu bot's post with a valid signature, and an SMS gateway's JSON with its API key;

the receivers check the signatures by hand with the vendors' documented algorithms and
refuse a bad one as the vendors do. Then the alert is resolved and arrives as resolved
everywhere; a warning takes the chat but not SMS. Bent for speed and locality only: the
timings in seconds, no SMTP (tests/e2e/test_alert_email.py covers e-mail), the URLs and
files pointed at local receivers; routes, matchers and receivers are the shipped ones.

The command of docs/operations.md that tries a channel through the relay runs here too,
as written but for the relay's address.
"""

from __future__ import annotations

import base64
import hmac
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from bizlogic.ops.notify import alert_payload, send_alert
from tests.polling import poll
from tests.servers import Server, clean_env, free_port, system_tool

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
DOC = ROOT / "docs" / "operations.md"  # its "try a channel" command runs here
DOC_MARKER = "<!-- doc-test: run by tests/e2e/test_alert_chat_sms.py -->"
TOKEN = "relay-loop-" + "w" * 40  # BL_WEBHOOK_TOKEN, Alertmanager's credentials_file
WECOM_KEY = "wecom-" + "a1b2c3d4" * 4
DING_TOKEN = "ding-" + "e5f6" * 12
DING_SECRET = "SEC" + "0f1e2d3c" * 8
FEISHU_HOOK = "feishu-" + "9a8b7c6d" * 4
FEISHU_SECRET = "feishu-" + "s3cr3t" * 4
SMS_KEY = "sms-" + "k3y" * 10
SECRETS = (TOKEN, WECOM_KEY, DING_TOKEN, DING_SECRET, FEISHU_HOOK, FEISHU_SECRET, SMS_KEY)
ESCALATION = "BusinessLogicRecoveryNeedsAttention"


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """DingTalk's documented signing: HmacSHA256(key=secret, timestamp + "\\n" + secret)."""
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), "sha256")
    return base64.b64encode(mac.digest()).decode()


def feishu_sign(secret: str, timestamp: str) -> str:
    """Feishu's documented signing: HmacSHA256(key=timestamp + "\\n" + secret, "")."""
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", "sha256")
    return base64.b64encode(mac.digest()).decode()


class Vendors:
    """Local stand-ins for the robots, the SMS gateway and Slack: each request is kept
    (kind, body, headers, query) and answered as the vendor would, signatures checked."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        vendors = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = vendors.answer(self.path, dict(self.headers), raw)
                data = json.dumps(answer).encode() if not isinstance(answer, str) else answer
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data if isinstance(data, bytes) else data.encode())

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        split = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        body = json.loads(raw)
        kind, ok, status, answer = "?", False, 404, {"error": "no such hook"}
        if split.path == "/cgi-bin/webhook/send":
            kind = "wecom"
            ok = query.get("key") == WECOM_KEY
            status, answer = 200, {"errcode": 0 if ok else 93000, "errmsg": "ok" if ok else "bad"}
        elif split.path == "/robot/send":
            kind = "dingtalk"
            stamp = query.get("timestamp", "0")
            fresh = abs(time.time() * 1000 - int(stamp)) < 3_600_000
            ok = query.get("access_token") == DING_TOKEN and fresh
            ok = ok and query.get("sign") == dingtalk_sign(DING_SECRET, stamp)
            status, answer = 200, {"errcode": 0 if ok else 310000, "errmsg": "ok" if ok else "sign"}
        elif split.path == f"/open-apis/bot/v2/hook/{FEISHU_HOOK}":
            kind = "feishu"
            stamp = str(body.get("timestamp", "0"))
            fresh = abs(time.time() - int(stamp)) < 3600
            ok = fresh and body.get("sign") == feishu_sign(FEISHU_SECRET, stamp)
            status, answer = 200, {"code": 0 if ok else 19021, "msg": "success" if ok else "sign"}
        elif split.path == "/sms/send":
            kind = "sms"
            ok = headers.get("X-Api-Key") == SMS_KEY
            status, answer = (200, {"queued": len(body["to"])}) if ok else (401, {"error": "key"})
        elif split.path == "/slack/hook":
            kind, ok, status, answer = "slack", True, 200, "ok"
        with self.lock:
            self.received.append({"kind": kind, "ok": ok, "body": body, "query": query})
        return status, answer

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.received if r["kind"] == kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def notify_config(tmp: Path, vendors: str) -> Path:
    """The relay's channels, pointed at the local vendors; secrets in files beside it."""
    (tmp / "wecom-url").write_text(f"{vendors}/cgi-bin/webhook/send?key={WECOM_KEY}\n")
    (tmp / "dingtalk-secret").write_text(DING_SECRET + "\n")
    (tmp / "feishu-url").write_text(f"{vendors}/open-apis/bot/v2/hook/{FEISHU_HOOK}\n")
    (tmp / "sms-headers").write_text(f"X-Api-Key: {SMS_KEY}\n")
    config = {
        "channels": {
            "chat": {"kind": "wecom", "url_file": "wecom-url"},
            "dingtalk": {
                "kind": "dingtalk",
                "url": f"{vendors}/robot/send?access_token={DING_TOKEN}",
                "secret_file": "dingtalk-secret",
            },
            "feishu": {
                "kind": "feishu",
                "format": "post",
                "url_file": "feishu-url",
                "secret": FEISHU_SECRET,
            },
            "sms": {
                "kind": "sms",
                "url": f"{vendors}/sms/send",
                "headers_file": "sms-headers",
                "recipients": ["+8613800000001", "+8613800000002"],
                "max_length": 70,
                "body": {"to": "{recipients}", "text": "{message}", "sign": "bizlogic"},
            },
        }
    }
    path = tmp / "notify.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def alertmanager_copy(tmp: Path, relay: str, vendors: str) -> dict[str, Any]:
    """The shipped routing, timings in seconds, no SMTP, every URL and file local."""
    config = yaml.safe_load(SHIPPED.read_text())
    config["global"] = {"resolve_timeout": config["global"]["resolve_timeout"]}
    route = config["route"]
    route.update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    for sub in route["routes"]:
        for key in ("group_wait", "group_interval", "repeat_interval"):
            sub.pop(key, None)
    receivers = {r["name"]: r for r in config["receivers"]}
    assert set(receivers) == {"admin", "chat", "sms", "bizlogic-recovery"}
    del receivers["admin"]["email_configs"]  # no SMTP here: test_alert_email.py does e-mail
    token = tmp / "bizlogic-webhook-token"
    token.write_text(TOKEN + "\n")

    def local(hook: dict[str, Any], channel: str | None = None) -> dict[str, Any]:
        shipped = httpx.URL(hook["url"])
        assert shipped.path.startswith("/api/business-logic/alerts")
        path = shipped.path if channel is None else shipped.path.rsplit("/", 1)[0] + f"/{channel}"
        auth = hook["http_config"]["authorization"]
        assert auth["type"] == "Bearer" and auth["credentials_file"].startswith("/etc/")
        auth = {**auth, "credentials_file": str(token)}
        return {**hook, "url": f"{relay}{path}", "http_config": {"authorization": auth}}

    chat = receivers["chat"]
    (slack,) = chat["slack_configs"]
    assert slack["api_url_file"] == "/etc/alertmanager/chat-webhook-url"
    (tmp / "chat-webhook-url").write_text(f"{vendors}/slack/hook\n")
    slack["api_url_file"] = str(tmp / "chat-webhook-url")
    (relayed,) = chat["webhook_configs"]
    assert httpx.URL(relayed["url"]).path.endswith("/alerts/notify/chat")
    # The shipped relay entry, and the same entry for two more channels, as the comment
    # in alertmanager.yml tells an operator to add them.
    chat["webhook_configs"] = [local(relayed), local(relayed, "dingtalk"), local(relayed, "feishu")]
    (sms,) = receivers["sms"]["webhook_configs"]
    assert httpx.URL(sms["url"]).path.endswith("/alerts/notify/sms")
    receivers["sms"]["webhook_configs"] = [local(sms)]
    (hook,) = receivers["bizlogic-recovery"]["webhook_configs"]
    receivers["bizlogic-recovery"]["webhook_configs"] = [local(hook)]
    return config


class Stack:
    def __init__(self, tmp: Path, binary: str) -> None:
        self.tmp = tmp
        self.vendors = Vendors()
        self.relay: Server | None = None
        self.alertmanager: subprocess.Popen[bytes] | None = None
        env = clean_env(
            tmp / "relay",
            BL_WEBHOOK_TOKEN=TOKEN,
            BL_NOTIFY_CONFIG=str(notify_config(tmp, self.vendors.url)),
            BL_LOG_FILE="",
            BL_LOG_FORMAT="json",
        )
        self.relay = Server(env, tmp / "relay.log")
        config = alertmanager_copy(tmp, self.relay.url, self.vendors.url)
        (tmp / "alertmanager.yml").write_text(yaml.safe_dump(config))
        self.am = f"http://127.0.0.1:{free_port()}"
        self.alertmanager = subprocess.Popen(
            [binary, f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'am'}",
             f"--web.listen-address={self.am[7:]}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=(tmp / "alertmanager.log").open("wb"),
        )  # fmt: skip

        def ready() -> bool:
            assert self.alertmanager.poll() is None, self.logs()
            return httpx.get(f"{self.am}/-/ready", timeout=1).status_code == 200

        poll(ready, 60, "Alertmanager")

    def logs(self) -> str:
        return "".join(
            f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}\n"
            for log in sorted(self.tmp.glob("*.log"))
        )

    def receivers_of(self, alertname: str) -> set[str]:
        alerts = httpx.get(f"{self.am}/api/v2/alerts", timeout=5).json()
        (alert,) = [a for a in alerts if a["labels"]["alertname"] == alertname]
        return {r["name"] for r in alert["receivers"]}

    def failed_notifications(self) -> dict[str, float]:
        failed: dict[str, float] = {}
        for line in httpx.get(f"{self.am}/metrics", timeout=5).text.splitlines():
            if line.startswith("alertmanager_notifications_failed_total{"):
                integration = line.split('integration="', 1)[1].split('"', 1)[0]
                failed[integration] = failed.get(integration, 0) + float(line.rsplit(" ", 1)[1])
        return failed

    def stop(self) -> None:
        if self.alertmanager is not None and self.alertmanager.poll() is None:
            self.alertmanager.terminate()
            try:
                self.alertmanager.wait(10)
            except subprocess.TimeoutExpired:
                self.alertmanager.kill()
                self.alertmanager.wait(10)
        if self.relay is not None:
            self.relay.stop()
        self.vendors.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    binary = system_tool("prometheus-alertmanager", "prometheus-alertmanager")
    running: Stack | None = None
    try:
        running = Stack(tmp_path, binary)
        yield running
    finally:
        if running is not None:
            running.stop()


def with_status(messages: list[dict[str, Any]], marker: str, name: str) -> list[dict[str, Any]]:
    return [m for m in messages if marker in json.dumps(m["body"], ensure_ascii=False)
            and name in json.dumps(m["body"], ensure_ascii=False)]  # fmt: skip


def test_chat_and_sms_arrive_firing_then_resolved(stack: Stack) -> None:
    vendors = stack.vendors
    summary = "redis_connection: every action of the chain ran and it is still failing"
    notice = alert_payload(ESCALATION, "critical", summary, failure_type="redis_connection")
    try:
        send_alert(f"{stack.am}/api/v2/alerts", notice)  # bizlogic's own notice, as sent
        assert stack.receivers_of(ESCALATION) == {"admin", "chat", "sms", "bizlogic-recovery"}

        def all_firing() -> bool:
            return all(
                with_status(vendors.of(kind), "FIRING", ESCALATION)
                for kind in ("wecom", "dingtalk", "feishu", "sms", "slack")
            )

        poll(all_firing, 60, "the firing alert at every chat and SMS receiver")
        assert all(r["ok"] for r in vendors.received), vendors.received  # signatures valid
        host = notice["host"]

        (wecom,) = vendors.of("wecom")
        content = wecom["body"]["markdown"]["content"]
        assert content.splitlines()[0] == f"**[FIRING:1] {ESCALATION}**"
        assert f"**{ESCALATION}** · critical · {host}" in content and summary in content

        (ding,) = vendors.of("dingtalk")
        assert ding["query"]["sign"] == dingtalk_sign(DING_SECRET, ding["query"]["timestamp"])
        assert ding["body"]["msgtype"] == "markdown"
        assert ding["body"]["markdown"]["title"] == f"[FIRING:1] {ESCALATION}"
        assert summary in ding["body"]["markdown"]["text"]

        (feishu,) = vendors.of("feishu")
        body = feishu["body"]
        assert body["sign"] == feishu_sign(FEISHU_SECRET, body["timestamp"])
        post = body["content"]["post"]["zh_cn"]
        assert body["msg_type"] == "post" and post["title"] == f"[FIRING:1] {ESCALATION}"
        assert summary in post["content"][0][0]["text"]

        (sms,) = vendors.of("sms")
        assert sms["body"]["to"] == ["+8613800000001", "+8613800000002"]
        assert sms["body"]["sign"] == "bizlogic"
        text = sms["body"]["text"]
        assert text.startswith(f"[FIRING:1] {ESCALATION}: critical ")
        assert len(text) == 70 and text.endswith("…")  # cut to max_length

        (slack,) = vendors.of("slack")
        (attachment,) = slack["body"]["attachments"]
        assert attachment["title"] == f"[FIRING:1] {ESCALATION}"
        assert f"FIRING critical {host}: {summary}" in attachment["text"]
        assert slack["body"]["channel"] == "#bizlogic-alerts"

        # A warning: chat, not SMS (the shipped routes, as Alertmanager resolved them).
        warning = {
            "alertname": "BusinessLogicHighCPUUsage", "severity": "warning",
            "service": "business_logic", "instance": "worker-1:9191",
        }  # fmt: skip
        posted = httpx.post(
            f"{stack.am}/api/v2/alerts",
            json=[{"labels": warning, "annotations": {"summary": "CPU at 93 %"}}],
        )
        assert posted.status_code == 200, posted.text
        assert stack.receivers_of("BusinessLogicHighCPUUsage") == {
            "admin", "chat", "bizlogic-recovery",
        }  # fmt: skip
        poll(
            lambda: with_status(vendors.of("wecom"), "CPU at 93 %", "BusinessLogicHighCPUUsage"),
            60,
            "the warning in the chat",
        )
        assert not with_status(vendors.of("sms"), "", "BusinessLogicHighCPUUsage")

        # Resolved: the same labels, ended now.
        alerts = httpx.get(f"{stack.am}/api/v2/alerts").json()
        (firing,) = [a for a in alerts if a["labels"]["alertname"] == ESCALATION]
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        resolved = [
            {**{k: firing[k] for k in ("labels", "annotations", "startsAt")}, "endsAt": now}
        ]
        assert httpx.post(f"{stack.am}/api/v2/alerts", json=resolved).status_code == 200

        def all_resolved() -> bool:
            return all(
                with_status(vendors.of(kind), "RESOLVED", ESCALATION)
                for kind in ("wecom", "dingtalk", "feishu", "sms", "slack")
            )

        poll(all_resolved, 60, "the resolved alert at every chat and SMS receiver")
        assert all(r["ok"] for r in vendors.received), vendors.received
        (wecom,) = with_status(vendors.of("wecom"), "RESOLVED", ESCALATION)
        content = wecom["body"]["markdown"]["content"]
        assert content.startswith(f"**[RESOLVED:1] {ESCALATION}**")
        assert '<font color="info">RESOLVED</font>' in content
        (sms,) = with_status(vendors.of("sms"), "RESOLVED", ESCALATION)
        assert sms["body"]["text"].startswith(f"[RESOLVED:1] {ESCALATION}: critical ")
        (slack,) = with_status(vendors.of("slack"), "RESOLVED", ESCALATION)
        assert slack["body"]["attachments"][0]["title"] == f"[RESOLVED] {ESCALATION}"

        # Every delivery was taken (relay, Slack, recovery webhook), and no secret is in
        # the relay's log.
        assert not any(stack.failed_notifications().values()), stack.failed_notifications()
        relay_log = (stack.tmp / "relay.log").read_text(errors="replace")
        assert "notify_sent" in relay_log
        for secret in SECRETS:
            assert secret not in relay_log
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.logs()}") from exc


def doc_command() -> str:
    """The sh block after DOC_MARKER in docs/operations.md."""
    after = DOC.read_text(encoding="utf-8").split(DOC_MARKER + "\n", 1)[1]
    assert after.startswith("```sh\n"), after[:40]
    return after.removeprefix("```sh\n").split("\n```", 1)[0]


def test_the_docs_command_tries_a_channel(stack: Stack) -> None:
    assert stack.relay is not None
    script = doc_command()
    assert "http://127.0.0.1:8000/" in script
    done = subprocess.run(
        ["sh", "-c", script.replace("http://127.0.0.1:8000/", f"{stack.relay.url}/")],
        env={**clean_env(stack.tmp / "shell"), "BL_WEBHOOK_TOKEN": TOKEN},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer == {
        "status": "ok", "channel": "chat", "kind": "wecom", "alerts": 1, "attempts": 1,
    }  # fmt: skip
    assert json.loads(script.rsplit("# ", 1)[1]) == answer  # what the docs say it prints
    (message,) = stack.vendors.of("wecom")
    content = message["body"]["markdown"]["content"]
    assert content.startswith("**[FIRING:1] BlChannelTest**")
    assert "a test message from the bizlogic relay" in content and message["ok"]
