"""The whole alert loop with the real binaries: a `bizlogic serve` scraped by Prometheus
with the shipped rules, Prometheus → Alertmanager with the shipped routing → the webhook
(`POST /api/business-logic/alerts`) of another `bizlogic serve` → `recovery_events`.

Two servers, because the alert is the shipped BusinessLogicServiceDown: the *target* is
scraped and stopped by the test, the *receiver* (BL_WEBHOOK_TOKEN set, BL_RECOVERY_MODE
dry-run, SQLite) keeps taking the webhook. Bent for speed, nothing else:

* the rules are a copy of deploy/prometheus/rules/business-logic.rules.yml with the
  `for:` of BusinessLogicServiceDown shortened from 1m to 1s;
* the Alertmanager config is deploy/alertmanager/alertmanager.yml with its route tree,
  matchers, receivers and inhibition kept, the timings in seconds (repeat_interval 2s), no
  SMTP, chat or SMS (those receivers send nothing here: tests/e2e/test_alert_email.py and
  test_alert_chat_sms.py deliver them), the webhook URL the receiver's, and the token
  file a *relative* `credentials_file` beside the config, Alertmanager running from
  another directory: it proves Alertmanager reads it from the config file's directory
  (what deploy/alertmanager/alertmanager-local.yml relies on, docs/operations.md).

Proven: the firing alert is recorded once (its alertname and Alertmanager's fingerprint);
Alertmanager's repeated deliveries, and the same payload posted again, are duplicates and
add no row and no action; when the target is back, the resolved notification is recorded.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.polling import poll
from tests.servers import EXE, admin_headers, clean_env, free_port, system_tool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "business-logic.rules.yml"
ALERTMANAGER = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
BASE = "/api/business-logic"
TOKEN = "alert-loop-" + "w" * 40
ALERT = "BusinessLogicServiceDown"


def rules_copy() -> dict[str, Any]:
    """The shipped rules, BusinessLogicServiceDown firing after 1 s instead of 1 min."""
    rules = yaml.safe_load(RULES.read_text())
    found = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == ALERT]
    assert len(found) == 1 and found[0]["for"] == "1m"
    found[0]["for"] = "1s"
    return rules


def alertmanager_copy(webhook: str) -> dict[str, Any]:
    """The shipped routing with demo timings, no e-mail, chat or SMS, the webhook at
    ``webhook`` and its token file relative to the config file."""
    config = yaml.safe_load(ALERTMANAGER.read_text())
    config["global"] = {"resolve_timeout": config["global"]["resolve_timeout"]}
    route = config["route"]
    route.update(group_wait="1s", group_interval="1s", repeat_interval="2s")
    for sub in route["routes"]:
        for key in ("group_wait", "group_interval", "repeat_interval"):
            sub.pop(key, None)  # inherit the parent's
    receivers = {r["name"]: r for r in config["receivers"]}
    assert set(receivers) == {"admin", "chat", "sms", "bizlogic-recovery"}
    del receivers["admin"]["email_configs"]  # no SMTP here: the admin receiver sends nothing
    del receivers["chat"]["slack_configs"], receivers["chat"]["webhook_configs"]
    del receivers["sms"]["webhook_configs"]  # nor chat or SMS: their own e2e tests do them
    (hook,) = receivers["bizlogic-recovery"]["webhook_configs"]
    assert hook["send_resolved"] is True
    assert hook["http_config"]["authorization"]["type"] == "Bearer"
    hook["url"] = webhook
    hook["http_config"]["authorization"]["credentials_file"] = "webhook-token"  # relative
    return config


class Loop:
    def __init__(self, tmp: Path, prometheus: str, alertmanager: str) -> None:
        self.tmp = tmp
        self.processes: list[subprocess.Popen[bytes]] = []
        self.receiver_env = clean_env(
            tmp / "receiver", BL_WEBHOOK_TOKEN=TOKEN, BL_RECOVERY_MODE="dry-run", BL_LOG_FILE=""
        )
        self.target_env = clean_env(tmp / "target", BL_LOG_FILE="")
        self.receiver = f"http://127.0.0.1:{free_port()}"
        self.target_port = free_port()
        self.prom = f"http://127.0.0.1:{free_port()}"
        self.am = f"http://127.0.0.1:{free_port()}"

        self.serve(self.receiver_env, int(self.receiver.rsplit(":", 1)[1]), "receiver")
        self.target = self.serve(self.target_env, self.target_port, "target")

        am_dir = tmp / "alertmanager"
        am_dir.mkdir()
        (am_dir / "webhook-token").write_text(TOKEN + "\n")
        config = alertmanager_copy(f"{self.receiver}{BASE}/alerts")
        (am_dir / "alertmanager.yml").write_text(yaml.safe_dump(config))
        elsewhere = tmp / "cwd"  # not the config's directory: no webhook-token here
        elsewhere.mkdir()
        self.start(
            [alertmanager, f"--config.file={am_dir / 'alertmanager.yml'}",
             f"--storage.path={am_dir / 'data'}", f"--web.listen-address={self.am[7:]}",
             "--cluster.listen-address="],
            "alertmanager", cwd=elsewhere,
        )  # fmt: skip

        (tmp / "rules.yml").write_text(yaml.safe_dump(rules_copy()))
        prom_config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(tmp / "rules.yml")],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [self.am[7:]]}]}]},
            "scrape_configs": [
                {
                    "job_name": "business_logic",
                    "static_configs": [{"targets": [f"127.0.0.1:{self.target_port}"]}],
                }
            ],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prom_config))
        self.start(
            [prometheus, f"--config.file={tmp / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address={self.prom[7:]}"],
            "prometheus",
        )  # fmt: skip

    def start(self, args: list[str], name: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("ab")
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **kwargs)
        log.close()
        self.processes.append(process)
        return process

    def serve(self, env: dict[str, str], port: int, name: str) -> subprocess.Popen[bytes]:
        server = self.start([EXE, "serve", "--port", str(port)], name, env=env)

        def up() -> bool:
            assert server.poll() is None, (self.tmp / f"{name}.log").read_text()[-2000:]
            return httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1).status_code == 200

        poll(up, 60, f"the {name} server")
        return server

    def logs(self) -> str:
        return "".join(
            f"--- {log.name} ---\n{log.read_text(errors='replace')[-2500:]}\n"
            for log in sorted(self.tmp.glob("*.log"))
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    prometheus = system_tool("prometheus", "prometheus")
    alertmanager = system_tool("prometheus-alertmanager", "prometheus-alertmanager")
    running: Loop | None = None
    try:
        running = Loop(tmp_path, prometheus, alertmanager)
        poll(lambda: httpx.get(f"{running.prom}/-/ready").status_code == 200, 60, "Prometheus")
        poll(lambda: httpx.get(f"{running.am}/-/ready").status_code == 200, 60, "Alertmanager")
        yield running
    finally:
        if running is not None:
            running.stop()


def webhook_notifications(loop: Loop) -> tuple[float, float]:
    """(sent, failed) notifications of Alertmanager's webhook integration, from its metrics."""
    sent, failed = "alertmanager_notifications_total", "alertmanager_notifications_failed_total"
    found = {sent: 0.0, failed: 0.0}
    for line in httpx.get(f"{loop.am}/metrics").text.splitlines():
        name, _, rest = line.partition("{")
        if name in found and 'integration="webhook"' in rest:
            found[name] += float(line.rsplit(" ", 1)[1])
    return found[sent], found[failed]


def test_an_alert_goes_round_the_loop_once_and_resolves(loop: Loop) -> None:
    headers = admin_headers(loop.receiver_env)
    client = httpx.Client(base_url=loop.receiver + BASE, headers=headers, timeout=10)

    def ours() -> list[dict[str, Any]]:
        events = client.get("/recovery/history").json()["events"]
        return [e for e in events if e["alert_name"] == ALERT]

    def up() -> list[dict[str, Any]]:
        query = {"query": 'up{job="business_logic"}'}
        return httpx.get(f"{loop.prom}/api/v1/query", params=query).json()["data"]["result"]

    try:
        poll(lambda: [r for r in up() if r["value"][1] == "1"], 30, "the target scraped")
        assert ours() == []

        loop.target.terminate()
        loop.target.wait(30)
        (fired,) = poll(ours, 60, f"{ALERT} recorded by the receiver")
        assert fired["trigger"] == "alertmanager"
        assert fired["outcome"] == "ignored"  # it maps to no failure type: recorded only
        assert fired["action"] is None and fired["dry_run"] is True
        labels = fired["context"]["labels"]
        assert labels["service"] == "business_logic" and labels["severity"] == "critical"
        assert labels["instance"] == f"127.0.0.1:{loop.target_port}"
        in_am = httpx.get(f"{loop.am}/api/v2/alerts").json()
        (am_alert,) = [a for a in in_am if a["labels"]["alertname"] == ALERT]
        assert fired["fingerprint"] == am_alert["fingerprint"]
        receivers = {r["name"] for r in am_alert["receivers"]}
        assert receivers == {"admin", "chat", "sms", "bizlogic-recovery"}  # critical: SMS too

        # Alertmanager delivers the same firing alert again every repeat_interval (2 s):
        # wait for two more deliveries, all accepted, none a new row.
        sent, _ = webhook_notifications(loop)
        poll(lambda: webhook_notifications(loop)[0] >= sent + 2, 60, "repeated deliveries")
        assert webhook_notifications(loop)[1] == 0, loop.logs()  # every one got a 2xx
        assert ours() == [fired]

        # The same payload posted by hand: acknowledged as a duplicate, nothing recorded.
        again = {
            "version": "4", "status": "firing", "receiver": "bizlogic-recovery",
            "alerts": [{
                "status": "firing", "labels": labels, "startsAt": fired["context"]["startsAt"],
                "fingerprint": fired["fingerprint"],
            }],
        }  # fmt: skip
        posted = httpx.post(
            f"{loop.receiver}{BASE}/alerts", json=again,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )  # fmt: skip
        assert posted.status_code == 200, posted.text
        assert posted.json()["duplicates"] == 1 and posted.json()["ignored"] == 0
        assert ours() == [fired]

        # The target is back on its port: Prometheus resolves, Alertmanager says so.
        loop.target = loop.serve(loop.target_env, loop.target_port, "target")
        poll(lambda: len(ours()) == 2, 60, f"{ALERT} resolved at the receiver")
        resolved, first = ours()  # newest first
        assert first == fired
        assert resolved["outcome"] == "resolved" and resolved["action"] is None
        assert resolved["fingerprint"] == fired["fingerprint"]
        assert resolved["context"]["startsAt"] == fired["context"]["startsAt"]
        every = client.get("/recovery/history").json()["events"]
        assert [e for e in every if e["action"] is not None] == []  # no action, ever
        assert webhook_notifications(loop)[1] == 0
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{loop.logs()}") from exc
    finally:
        client.close()
