"""Which host an alert is about, and whether it is this one."""

from __future__ import annotations

import socket

import pytest

from bizlogic.ops.recovery.hosts import alert_host, is_this_host


@pytest.mark.parametrize(
    ("labels", "host"),
    [
        ({"instance": "worker-1:9101"}, "worker-1"),
        ({"instance": "worker-1.example.net:9101"}, "worker-1.example.net"),
        ({"instance": "10.0.0.7:8000"}, "10.0.0.7"),
        ({"instance": "[fe80::1]:9101"}, "fe80::1"),
        ({"instance": "fe80::1"}, "fe80::1"),  # no port, unbracketed IPv6
        ({"instance": "worker-2"}, "worker-2"),
        ({"host": "db-1", "instance": "exporter:9187"}, "db-1"),  # an explicit host wins
        ({"job": "business_logic"}, None),
        ({"instance": ""}, None),
    ],
)
def test_the_host_of_an_alert(labels, host):
    assert alert_host(labels) == host


def test_this_host_by_name_and_loopback():
    assert is_this_host(socket.gethostname())
    assert is_this_host(socket.gethostname().upper())
    assert is_this_host("127.0.0.1") and is_this_host("localhost")
    assert not is_this_host("worker-9.example.net")
