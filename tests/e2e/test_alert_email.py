"""bizlogic's own notices take Alertmanager's channels: a recovery escalation sent to
BL_ALERT_WEBHOOK_URL=<alertmanager>/api/v2/alerts is routed by a real Alertmanager with the
shipped e-mail receiver's settings and arrives as an e-mail at a local SMTP server."""

from __future__ import annotations

import email
import subprocess
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller

from bizlogic.ops.recovery.engine import Recovery
from bizlogic.settings import Settings
from bizlogic.store import migrations
from bizlogic.store.db import Database
from tests.polling import poll
from tests.servers import free_port, system_tool

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load((ROOT / "deploy" / "alertmanager" / "alertmanager.yml").read_text())


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def mail_loop(tmp_path: Path) -> Iterator[tuple[str, Inbox]]:
    """An SMTP server and an Alertmanager routing to it with the shipped admin receiver."""
    binary = system_tool("prometheus-alertmanager", "prometheus-alertmanager")
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    admin = next(r for r in SHIPPED["receivers"] if r["name"] == "admin")
    config = {
        "global": {
            **SHIPPED["global"],
            "smtp_smarthost": f"127.0.0.1:{smtp.port}",
            "smtp_require_tls": False,  # the test's SMTP server speaks plain SMTP
        },
        "route": {"receiver": "admin", "group_wait": "1s", "group_interval": "1s"},
        "receivers": [admin],
    }
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={tmp_path / 'am.yml'}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "am.log").open("wb"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        poll(ready, 30, "Alertmanager")
        yield base, inbox
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        smtp.stop()


def test_a_recovery_escalation_arrives_by_email(mail_loop, tmp_path: Path) -> None:
    alertmanager, inbox = mail_loop
    url = f"sqlite:///{tmp_path / 'bizlogic.db'}"
    migrations.upgrade(url)
    db = Database(url)
    settings = Settings(
        data_dir=tmp_path,
        database_url=url,
        redis_url="redis://127.0.0.1:1/0",  # nobody there: the chain cannot fix it
        recovery_mode="act",
        alert_webhook_url=f"{alertmanager}/api/v2/alerts",
    )
    try:
        outcome = Recovery(settings, db).handle("redis_connection", "manual")
    finally:
        db.dispose()
    assert outcome.status == "escalated", outcome

    [message] = poll(lambda: inbox.messages or None, 60, "the e-mail")
    assert message["To"] == "bizlogic-admins@example.org"
    assert message["From"] == "alertmanager@example.org"
    assert "BusinessLogicRecoveryNeedsAttention" in message["Subject"]
    body = "".join(
        part.get_payload(decode=True).decode("utf-8", "replace")
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    )
    assert "redis_connection" in body  # the summary and the failure_type label
    assert "business_logic" in body  # service label: the shipped routes take it

    alerts = httpx.get(f"{alertmanager}/api/v2/alerts").json()
    name = "BusinessLogicRecoveryNeedsAttention"
    [alert] = [a for a in alerts if a["labels"]["alertname"] == name]
    assert alert["labels"]["service"] == "business_logic"
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["failure_type"] == "redis_connection"
