"""The drill's result: the headline (``summary``, its keys a contract), the whole
document (``body``), storage in ``ops_reports`` and the Markdown and HTML renderings."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bizlogic.store import ops_reports
from bizlogic.store.db import Database
from bizlogic.telemetry.redact import redact

SUMMARY_KEYS = ops_reports.DRILL_SUMMARY_KEYS


@dataclass
class DrillReport:
    drill: str
    target: str
    passed: bool
    detect_s: float | None
    recover_s: float | None
    recovery_acted: bool | None
    lost_jobs: int
    lost_records: int
    window_start: datetime
    window_end: datetime
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "passed" if self.passed else "failed"

    def summary(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in SUMMARY_KEYS}

    def document(self, report_id: int | None) -> dict[str, Any]:
        """What --json prints: the stored row's fields."""
        return {
            "id": report_id,
            "kind": "drill",
            "name": self.drill,
            "status": self.status,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "summary": self.summary(),
            "body": self.body,
        }

    def save(self, db: Database) -> int:
        return ops_reports.save(
            db,
            "drill",
            self.drill,
            self.status,
            self.summary(),
            self.body,
            window_start=self.window_start,
            window_end=self.window_end,
        )


def clean_body(body: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe and with every credential-looking value masked (URLs' passwords too)."""
    return redact(json.loads(json.dumps(body, default=str)))  # type: ignore[no-any-return]


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _acted(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "no events"}[value]


def headline_rows(report: DrillReport) -> list[tuple[str, str]]:
    return [
        ("drill", report.drill),
        ("target", report.target),
        ("result", report.status.upper()),
        ("time to detect", _seconds(report.detect_s)),
        ("time to recover", _seconds(report.recover_s)),
        ("auto-recovery acted", _acted(report.recovery_acted)),
        ("lost jobs", str(report.lost_jobs)),
        ("lost records", str(report.lost_records)),
        ("window", f"{report.window_start.isoformat()} – {report.window_end.isoformat()}"),
    ]


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(report: DrillReport) -> str:
    body = report.body
    lines = [f"# Drill {report.drill}: {report.status}", ""]
    lines += ["| | |", "|---|---|"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in headline_rows(report)]
    if body.get("failure"):
        lines += ["", f"**Why it failed:** {body['failure']}"]
    lines += ["", "## Definitions", ""]
    for key in ("injection", "detected", "recovered"):
        lines.append(f"* **{key}**: {body['definitions'][key]}")
    lines += ["", "## Timeline", "", "| t (s) | time | event | details |", "|---:|---|---|---|"]
    for event in body.get("timeline", []):
        details = {k: v for k, v in event.items() if k not in ("t_s", "at", "event")}
        lines.append(
            f"| {event['t_s']:.1f} | {event['at']} | {_cell(event['event'])} | "
            f"{_cell(json.dumps(details, default=str)) if details else ''} |"
        )
    lines += ["", "## Jobs of the drill window", "", "| job | status | attempts | lost |"]
    lines.append("|---|---|---:|---|")
    for job in body.get("jobs", []):
        lines.append(
            f"| {job['job_id']} | {job['status']} | {job['attempts']} | "
            f"{'yes' if job['lost'] else ''} |"
        )
    lines += ["", "## Recovery events", ""]
    events = body.get("recovery_events", [])
    if not events:
        lines.append("None in the drill window.")
    for event in events:
        lines.append(
            f"* {event['created_at']} {event['failure_type'] or ''} "
            f"{event['action'] or 'detection'}: {event['outcome']}"
            + (" (dry run)" if event["dry_run"] else "")
        )
    lines += ["", "## Settings", "", "```json", json.dumps(body.get("settings", {}), indent=2)]
    lines += ["```"]
    for name, text in (body.get("logs") or {}).items():
        lines += ["", f"### Log excerpt: {name}", "", "```", text, "```"]
    return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:70rem}
h1 .passed{color:#1a7f37}h1 .failed{color:#cf222e}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}
pre{background:#f6f8fa;padding:.8rem;overflow:auto;font-size:.85rem}
.num{text-align:right}.lost{color:#cf222e;font-weight:bold}
"""


def to_html(report: DrillReport) -> str:
    """A self-contained page: inline CSS, no script, no external reference."""
    e = html.escape
    body = report.body
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Drill {e(report.drill)}: {report.status}</title>",
        f"<style>{_CSS}</style></head><body>",
        f'<h1>Drill {e(report.drill)}: <span class="{report.status}">{report.status}</span></h1>',
        "<table>",
    ]
    parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in headline_rows(report)]
    parts.append("</table>")
    if body.get("failure"):
        parts.append(f"<p><strong>Why it failed:</strong> {e(body['failure'])}</p>")
    parts.append("<h2>Definitions</h2><ul>")
    for key in ("injection", "detected", "recovered"):
        parts.append(f"<li><strong>{key}</strong>: {e(body['definitions'][key])}</li>")
    parts.append("</ul><h2>Timeline</h2><table><tr><th>t (s)</th><th>time</th>")
    parts.append("<th>event</th><th>details</th></tr>")
    for event in body.get("timeline", []):
        details = {k: v for k, v in event.items() if k not in ("t_s", "at", "event")}
        parts.append(
            f'<tr><td class="num">{event["t_s"]:.1f}</td><td>{e(event["at"])}</td>'
            f"<td>{e(event['event'])}</td>"
            f"<td>{e(json.dumps(details, default=str)) if details else ''}</td></tr>"
        )
    parts.append("</table><h2>Jobs of the drill window</h2><table>")
    parts.append("<tr><th>job</th><th>status</th><th>attempts</th><th>lost</th></tr>")
    for job in body.get("jobs", []):
        lost = '<span class="lost">lost</span>' if job["lost"] else ""
        parts.append(
            f"<tr><td>{e(job['job_id'])}</td><td>{e(job['status'])}</td>"
            f'<td class="num">{job["attempts"]}</td><td>{lost}</td></tr>'
        )
    parts.append("</table><h2>Recovery events</h2>")
    events = body.get("recovery_events", [])
    if not events:
        parts.append("<p>None in the drill window.</p>")
    else:
        parts.append("<ul>")
        for event in events:
            dry = " (dry run)" if event["dry_run"] else ""
            parts.append(
                f"<li>{e(event['created_at'])} {e(event['failure_type'] or '')} "
                f"{e(event['action'] or 'detection')}: {e(event['outcome'])}{dry}</li>"
            )
        parts.append("</ul>")
    parts.append("<h2>Settings</h2>")
    parts.append(f"<pre>{e(json.dumps(body.get('settings', {}), indent=2))}</pre>")
    for name, text in (body.get("logs") or {}).items():
        parts.append(f"<h3>Log excerpt: {e(name)}</h3><pre>{e(text)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
