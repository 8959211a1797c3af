"""Which host a failure concerns, and whether that host is this one.

Memory and CPU are conditions of one machine: only a process on that machine
can see them and stop its workers, so each host's watcher acts on its own (a
lock per host) while the database, Redis and analyses' time limits have one
leader for the whole deployment. An Alertmanager alert names its host in the
``instance`` label (``worker-1:9101``) or a ``host`` label.
"""

from __future__ import annotations

import functools
import socket

import psutil

HOST_FAILURES = frozenset({"high_memory_usage", "high_cpu_usage"})
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_IP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def this_host() -> str:
    return socket.gethostname()


@functools.cache
def own_names() -> frozenset[str]:
    """Every name an alert may give this machine: host names and interface addresses."""
    name = socket.gethostname()
    names = {name, name.split(".")[0], socket.getfqdn(), *LOOPBACK}
    for addresses in psutil.net_if_addrs().values():
        names.update(a.address.split("%")[0] for a in addresses if a.family in _IP_FAMILIES)
    return frozenset(n.lower() for n in names if n)


def alert_host(labels: dict[str, str]) -> str | None:
    """The host an alert is about: its ``host`` label, else ``instance`` without the port."""
    if labels.get("host"):
        return labels["host"][:255]
    instance = labels.get("instance", "")
    if not instance:
        return None
    if instance.startswith("["):  # [::1]:9101
        return instance[1:].partition("]")[0][:255] or None
    host, sep, port = instance.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host[:255] or None
    return instance[:255]


def is_this_host(name: str) -> bool:
    return name.lower() in own_names()
