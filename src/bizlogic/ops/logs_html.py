"""The log analyzer's report as one self-contained HTML file (inline CSS and SVG charts).

Nothing is loaded from elsewhere, so the file can be mailed or archived as is.
Every value that comes from the logs is escaped: user ids and actions are input.
"""

from __future__ import annotations

from html import escape
from typing import Any

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1d2430}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.6em 0}
td,th{padding:.25em .7em;border-bottom:1px solid #eaeef2}
th{text-align:left;background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#57606a}svg text{font:11px system-ui,sans-serif;fill:#57606a}
"""


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _text(value: str | None) -> str:
    return "–" if value is None else value


def _time(entry: dict[str, Any]) -> str:
    return str(entry["timestamp"])[:19].replace("T", " ")


def _top_user_rows(top_users: list[dict[str, Any]]) -> list[list[str]]:
    """A row per (user, action, resource); the user and their total on their first row."""
    rows = []
    for user in top_users:
        for index, act in enumerate(user["top_actions"]):
            first = index == 0
            rows.append(
                [user["user_id"] if first else "", str(user["actions"]) if first else "",
                 act["action"], _text(act["resource"]), str(act["count"])]
            )  # fmt: skip
    return rows


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _table(headers: list[str], rows: list[list[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(c)}</td>' if i >= numeric_from else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bar_chart(points: list[tuple[str, float]], title: str, unit: str = "") -> str:
    """Vertical bars with labels; an empty series says so instead of drawing nothing."""
    if not points:
        return f'<p class="note">{escape(title)}: nothing in this window.</p>'
    width, height, pad = 1000, 220, 30
    top = max(value for _, value in points) or 1
    step = (width - 2 * pad) / len(points)
    bars = []
    for index, (label, value) in enumerate(points):
        bar_height = (height - 2 * pad) * value / top
        x = pad + index * step
        y = height - pad - bar_height
        bars.append(
            f'<rect x="{x + step * 0.1:.1f}" y="{y:.1f}" width="{step * 0.8:.1f}" '
            f'height="{bar_height:.1f}" fill="#3b82c4"><title>{escape(label)}: '
            f"{value:g}{escape(unit)}</title></rect>"
        )
        if len(points) <= 24 or index % max(1, len(points) // 12) == 0:
            bars.append(
                f'<text x="{x + step / 2:.1f}" y="{height - pad + 14}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    return (
        f"<h3>{escape(title)}</h3>"
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}">'
        f'<text x="{pad}" y="{pad - 10}">max {top:g}{escape(unit)}</text>'
        + "".join(bars)
        + "</svg>"
    )


def _timeline_points(timeline: list[dict[str, Any]]) -> list[tuple[str, float]]:
    return [(item["start"][5:16].replace("T", " "), float(item["count"])) for item in timeline]


def render_html(report: dict[str, Any]) -> str:
    window = report["window"]
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        "<title>bizlogic log report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>bizlogic log report</h1>",
        f"<p>Window [{escape(str(window['since']))}, {escape(str(window['until']))}); "
        f"{report['lines_in_window']:,} of {report['lines']:,} lines; "
        f"malformed lines: {report['malformed']['count']:,}.</p>",
        f'<p class="note">Files: {escape(", ".join(report["files"]))}</p>',
    ]
    if report["malformed"]["examples"]:
        rows = [
            [str(m["file"]), str(m["line"]), m["reason"]] for m in report["malformed"]["examples"]
        ]
        parts.append(_table(["file", "line", "reason"], rows, numeric_from=3))
    if "performance" in report:
        perf = report["performance"]
        rows = []
        for name, stats in [*perf["by_algorithm"].items(), ("all", perf)]:
            d = stats["duration_s"]
            rows.append(
                [name, str(stats["started"]), str(stats["completed"]), str(stats["failed"]),
                 _pct(stats["success_rate"]), _num(d["avg"]), _num(d["min"]), _num(d["max"]),
                 _num(d["p50"]), _num(d["p95"])]
            )  # fmt: skip
        headers = ["algorithm", "started", "completed", "failed", "success rate"]
        headers += ["avg s", "min s", "max s", "p50 s", "p95 s"]
        parts += [
            "<h2>Analyses</h2>",
            _table(headers, rows),
            bar_chart(
                [(n, s["duration_s"]["p95"] or 0.0) for n, s in perf["by_algorithm"].items()],
                "p95 duration by algorithm",
                " s",
            ),
        ]
    if "errors" in report:
        errors = report["errors"]
        parts += [
            f"<h2>Errors ({errors['analysis_errors']:,} failed analyses)</h2>",
            _table(["error type", "count"], [[k, str(v)] for k, v in errors["by_type"].items()]),
            _table(
                ["algorithm", "errors"], [[k, str(v)] for k, v in errors["by_algorithm"].items()]
            ),
            bar_chart(_timeline_points(errors["timeline"]), "failed analyses over time"),
            _table(["project", "errors"], [[k, str(v)] for k, v in errors["by_project"].items()]),
            _table(
                ["logger", "ERROR lines"],
                [[k, str(v)] for k, v in errors["error_lines_by_logger"].items()],
            ),
            f"<h3>Newest errors (at most {report['top']})</h3>",
            _table(
                ["time (UTC)", "level", "logger", "project", "algorithm", "type", "error"],
                [
                    [_time(e)]
                    + [_text(e[k]) for k in ("level", "logger", "project_id", "algorithm")]
                    + [_text(e["error_type"]), _text(e["error"])]
                    for e in errors["recent"]
                ],
                numeric_from=7,
            ),
        ]
    if "users" in report:
        users = report["users"]
        parts += [
            f"<h2>User activity ({users['active_users']} users, {users['actions']:,} actions)</h2>",
            _table(["action", "count"], [[k, str(v)] for k, v in users["by_action"].items()]),
            _table(["user", "actions"], [[k, str(v)] for k, v in users["by_user"].items()]),
            bar_chart(_timeline_points(users["timeline"]), "user actions over time"),
            f"<h3>Top users and their top actions (at most {report['top']} each)</h3>",
            _table(
                ["user", "actions", "action", "resource", "count"],
                _top_user_rows(users["top_users"]),
                numeric_from=4,
            ),
            f"<h3>Newest user actions (at most {report['top']})</h3>",
            _table(
                ["time (UTC)", "user", "action", "resource"],
                [
                    [_time(e), e["user_id"], e["action"], _text(e["resource"])]
                    for e in users["recent"]
                ],
                numeric_from=4,
            ),
        ]
    parts.append("</body></html>\n")
    return "".join(parts)
