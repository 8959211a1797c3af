"""Gathering the report: every section for one window, from its source, in one document.

A source that fails (Prometheus unreachable, a log file that cannot be read) does not
end the report: its error is listed in ``errors``, the service section falls back to the
log and the alerts to ``recovery_events`` (each section names the source it used), and
the report's ``status`` is ``partial``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from bizlogic.ops.capacity.project import projections
from bizlogic.ops.logs import LogReadError
from bizlogic.ops.report import analyses, changes, curation, documents, operations, service
from bizlogic.ops.report.logpass import ServiceLogPass, log_paths
from bizlogic.ops.report.prometheus import Prometheus, PrometheusError
from bizlogic.ops.report.window import Window
from bizlogic.store import ops_reports
from bizlogic.store.db import Database

if TYPE_CHECKING:
    from bizlogic.settings import Settings

SCHEMA = "bizlogic-report/1"


def gather(
    db: Database,
    settings: Settings,
    window: Window,
    *,
    prometheus_transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """The whole report for ``window`` (its end is "now")."""
    errors: list[str] = []
    paths = log_paths(settings.log_file)
    found: ServiceLogPass | None = None
    if paths:
        try:
            found = ServiceLogPass(window.start, window.end).read(paths)
        except LogReadError as exc:
            errors.append(str(exc))
    files = [str(path) for path in paths]
    body: dict[str, Any] = {
        "schema": SCHEMA,
        "generated_at": window.end.isoformat(),
        "window": window.as_dict(),
    }
    prom = (
        Prometheus(settings.prometheus_url, transport=prometheus_transport)
        if settings.prometheus_url
        else None
    )
    body["service"] = body["alerts"] = None
    if prom is not None:
        try:
            body["service"] = service.from_prometheus(prom, window)
            body["alerts"] = operations.alerts_from_prometheus(prom, window)
        except PrometheusError as exc:
            body["service"] = body["alerts"] = None
            errors.append(f"{exc}; the service from the log, alerts from recovery_events instead")
        finally:
            prom.close()
    if body["service"] is None:
        body["service"] = service.from_log(found, files, window)
        body["alerts"] = operations.alerts_from_recovery(db, window)
    body["analyses"] = analyses.analyses(db, window)
    body["curation"] = curation.curation(db, window)
    body["maintenance"] = operations.maintenance(db, window)
    body["recovery"] = operations.recovery(db, window)
    body["logs"] = service.log_figures(found) if found is not None else None
    body["tuner"] = documents.tuner(db, window)
    body["drills"] = documents.drills(db, window)
    body["capacity"] = projections(db, settings, now=window.end)
    body["headline"] = changes.headline(body)
    previous = ops_reports.latest(db, "report", name=window.name, before=window.end)
    body["changes"] = changes.changes(body["headline"], previous)
    body["errors"] = errors
    body["status"] = "partial" if errors else "ok"
    return body
