"""`POST /api/business-logic/alerts/notify/{channel}` in the real app: authenticated with
BL_WEBHOOK_TOKEN like the recovery webhook, 404 for an unknown channel, 422 for a bad
payload, 502 naming the channel (and no secret) when it does not take the message, and a
bad BL_NOTIFY_CONFIG stopping `bizlogic serve` with one line naming the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bizlogic.api.app import create_app
from bizlogic.ops.relay import Relay, load_notify_config
from bizlogic.settings import Settings
from bizlogic.telemetry.metrics import Metrics
from tests.servers import bizlogic, clean_env, free_port

BASE = "/api/business-logic"
TOKEN = "relay-hook-" + "t" * 32
HOOK = {"Authorization": f"Bearer {TOKEN}"}
KEY = "wecom-key-" + "9" * 30


def firing() -> dict[str, Any]:
    """What Alertmanager 0.25 POSTs to a webhook receiver (payload version 4)."""
    labels = {
        "alertname": "BusinessLogicHighErrorRate",
        "severity": "critical",
        "instance": "api-1:8000",
        "service": "business_logic",
    }
    return {
        "receiver": "chat",
        "status": "firing",
        "version": "4",
        "groupKey": '{}/{service="business_logic"}:{alertname="BusinessLogicHighErrorRate"}',
        "truncatedAlerts": 0,
        "groupLabels": {"alertname": "BusinessLogicHighErrorRate"},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "12 % of analyses failed in 5 minutes"},
                "startsAt": "2026-11-28T10:00:00.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
                "fingerprint": "5e1f0c2d3b4a6978",
            }
        ],
    }


class Robot:
    """A WeCom group robot stand-in: answers each request with ``answer``."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.answer = httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(json.loads(request.content))
        return self.answer


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, Robot]]:
    (tmp_path / "notify.yml").write_text(
        f"channels:\n  chat:\n    kind: wecom\n"
        f"    url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}\n"
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'bizlogic.db'}",
        jwt_secret="s" * 40,
        webhook_token=TOKEN,
        notify_config=tmp_path / "notify.yml",
    )
    robot = Robot()
    with TestClient(create_app(settings, Metrics(5)), raise_server_exceptions=False) as client:
        assert isinstance(client.app.state.notify_relay, Relay)  # loaded at start-up
        config = load_notify_config(tmp_path / "notify.yml")
        client.app.state.notify_relay = Relay(
            config, transport=httpx.MockTransport(robot), max_wait_s=0
        )
        yield client, robot


def test_an_alert_is_relayed_to_the_channel(app) -> None:
    client, robot = app
    response = client.post(f"{BASE}/alerts/notify/chat", json=firing(), headers=HOOK)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok", "channel": "chat", "kind": "wecom", "alerts": 1, "attempts": 1,
    }  # fmt: skip
    (sent,) = robot.seen
    content = sent["markdown"]["content"]
    assert content.startswith("**[FIRING:1] BusinessLogicHighErrorRate**")
    assert "critical · api-1:8000" in content and "12 % of analyses failed" in content


def test_without_the_webhook_secret_it_is_401(app) -> None:
    client, robot = app
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = client.post(f"{BASE}/alerts/notify/chat", json=firing(), headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert robot.seen == []


def test_an_unknown_channel_is_404(app) -> None:
    client, _ = app
    response = client.post(f"{BASE}/alerts/notify/pager", json=firing(), headers=HOOK)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "NOT_FOUND" and error["details"] == {"channel": "pager"}
    assert "no notification channel 'pager' in " in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**firing(), "version": "3"}, "body.version"),
        ({**firing(), "alerts": [{"status": "burning"}]}, "body.alerts.0.status"),
        ({**firing(), "alerts": []}, "body.alerts"),
    ],
)
def test_a_bad_payload_is_422(app, body: dict[str, Any], field: str) -> None:
    client, robot = app
    response = client.post(f"{BASE}/alerts/notify/chat", json=body, headers=HOOK)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "INVALID_REQUEST" and error["details"][0]["field"] == field
    not_json = client.post(
        f"{BASE}/alerts/notify/chat", content=b"{", headers={**HOOK, "Content-Type": "text/plain"}
    )
    assert not_json.status_code == 422
    assert robot.seen == []


def test_a_channel_that_refuses_is_502_naming_it_without_its_key(app) -> None:
    client, robot = app
    robot.answer = httpx.Response(
        200, json={"errcode": 93000, "errmsg": f"invalid webhook url, key={KEY}"}
    )
    response = client.post(f"{BASE}/alerts/notify/chat", json=firing(), headers=HOOK)
    assert response.status_code == 502  # Alertmanager retries a 5xx
    error = response.json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert error["details"] == {"channel": "chat", "kind": "wecom", "attempts": 1}
    assert error["message"].startswith(
        "channel 'chat' (wecom, https://qyapi.weixin.qq.com) did not take the notification"
    )
    assert "wecom error 93000: invalid webhook url" in error["message"]
    assert KEY not in response.text


def test_a_channel_down_is_retried_then_502(app) -> None:
    client, robot = app
    robot.answer = httpx.Response(503, text="upstream unavailable")
    response = client.post(f"{BASE}/alerts/notify/chat", json=firing(), headers=HOOK)
    assert response.status_code == 502
    assert response.json()["error"]["details"]["attempts"] == 3 and len(robot.seen) == 3
    assert "HTTP 503: upstream unavailable" in response.json()["error"]["message"]


def test_without_a_notify_config_every_channel_is_unknown(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'bizlogic.db'}",
        jwt_secret="s" * 40,
        webhook_token=TOKEN,
    )
    with TestClient(create_app(settings, Metrics(5)), raise_server_exceptions=False) as client:
        response = client.post(f"{BASE}/alerts/notify/chat", json=firing(), headers=HOOK)
    assert response.status_code == 404
    assert "BL_NOTIFY_CONFIG is not set" in response.json()["error"]["message"]


def test_serve_refuses_a_bad_notify_config_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "notify.yml").write_text(
        f"channels:\n  chat:\n    kind: wecom\n    url: https://x.org/?key={KEY}\n    timeout: 5\n"
    )
    env = clean_env(tmp_path / "data", BL_NOTIFY_CONFIG=str(tmp_path / "notify.yml"))
    done = bizlogic(env, "serve", "--port", str(free_port()), timeout_s=60)
    assert done.returncode != 0
    assert f"BL_NOTIFY_CONFIG: {tmp_path / 'notify.yml'}: channels.chat.timeout: " in done.stderr
    assert "Traceback" not in done.stderr and KEY not in done.stderr
