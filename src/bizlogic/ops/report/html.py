"""The report as one self-contained HTML file: CSS in a ``<style>``, charts as inline
SVG, no script, no external reference; every text escaped."""

from __future__ import annotations

from html import escape
from typing import Any

from bizlogic.ops.capacity.resources import human
from bizlogic.ops.report import svg
from bizlogic.ops.report.changes import FIGURES, ITEMS
from bizlogic.ops.report.i18n import translator
from bizlogic.ops.report.text import (
    FIGURE_KINDS,
    Translate,
    count,
    figure,
    figure_label,
    percent,
    seconds,
    signed,
    source_label,
    title,
    window_text,
)

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
margin:2rem auto;max-width:1000px;color:#1f2937;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #e5e7eb;padding-bottom:.3rem}
.source{color:#6b7280;font-size:.85rem;margin:.2rem 0 .6rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #e5e7eb;padding:.3rem .6rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.tiles{display:flex;flex-wrap:wrap;gap:.6rem}.tile{border:1px solid #e5e7eb;border-radius:6px;
padding:.5rem .8rem;min-width:9rem}.tile b{display:block;font-size:1.2rem}
.note{color:#92400e}.error{color:#b91c1c}.chart{max-width:100%;height:auto}
"""


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(str(c))}</td>' if i in numeric else f"<td>{escape(str(c))}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(heading: str, source: str, content: str, _: Translate) -> str:
    return (
        f"<section><h2>{escape(heading)}</h2>"
        f'<p class="source">{escape(_("Source"))}: {escape(source)}</p>{content}</section>'
    )


def _tiles(pairs: list[tuple[str, str]]) -> str:
    return (
        '<div class="tiles">'
        + "".join(f'<div class="tile">{escape(k)}<b>{escape(v)}</b></div>' for k, v in pairs)
        + "</div>"
    )


def _p(text: str, css: str = "") -> str:
    return f'<p class="{css}">{escape(text)}</p>' if css else f"<p>{escape(text)}</p>"


def _or_none(items: list[Any], content: str, _: Translate) -> str:
    return content if items else _p(_("none in this window"))


def _service(body: dict[str, Any], _: Translate) -> str:
    s = body["service"]
    latency = s["latency_s"] or {}
    tiles = [
        (_("HTTP requests"), count(s["requests"], _)),
        (_("5xx error rate"), percent(s["error_rate"], _)),
        (_("availability"), percent(s["availability"], _)),
        ("p50", seconds(latency.get("p50"), _)),
        ("p95", seconds(latency.get("p95"), _)),
        ("p99", seconds(latency.get("p99"), _)),
    ]
    parts = [_tiles(tiles)]
    if s.get("availability_basis") == "non_5xx_share":
        parts.append(
            _p(
                _("Availability from the log: the share of requests answered without a 5xx."),
                "note",
            )
        )
    if s["latency_note"]:
        note = _("Latency: no data — the access log records no request durations.")
        parts.append(_p(f"{note} {_('Set BL_PROMETHEUS_URL for latency.')}", "note"))
    rows = [
        [
            e["endpoint"],
            count(e["requests"], _),
            count(e["errors_5xx"], _),
            percent(e["error_rate"], _),
            seconds(e["p95_s"], _),
        ]
        for e in s["endpoints"]
    ]
    if rows:
        parts.append(
            _table(
                [_("endpoint"), _("requests"), "5xx", _("error rate"), "p95"], rows, {1, 2, 3, 4}
            )
        )
    days = s["per_day"]
    parts.append(
        svg.bars(
            [(d["day"][5:], d["requests"]) for d in days],
            _("Requests per day"),
            [count(d["requests"], _) for d in days],
        )
    )
    if any(d["p95_s"] is not None for d in days):
        parts.append(
            svg.bars(
                [(d["day"][5:], d["p95_s"]) for d in days],
                _("p95 latency per day"),
                [seconds(d["p95_s"], _) for d in days],
            )
        )
    source = source_label(s["source"], _) + (
        f" ({s['source_detail']})" if s["source_detail"] else ""
    )
    return _section(_("Service availability and latency"), source, "".join(parts), _)


def _alerts(body: dict[str, Any], _: Translate) -> str:
    a = body["alerts"]
    rows = [[x["alert_name"], x["severity"], x["fired"], x["resolved"]] for x in a["by_alert"]]
    content = _tiles([(_("fired"), str(a["fired"])), (_("resolved"), str(a["resolved"]))])
    content += _or_none(
        rows, _table([_("alert"), _("severity"), _("fired"), _("resolved")], rows, {2, 3}), _
    )
    source = (
        _("Prometheus ALERTS series")
        if a["source"] == "prometheus"
        else _("alerts received by auto-recovery (recovery_events)")
    )
    return _section(_("Alerts fired and resolved"), source, content, _)


def _analyses(body: dict[str, Any], _: Translate) -> str:
    a = body["analyses"]
    tiles = [(_("analyses"), str(a["total"]))] + [(k, str(v)) for k, v in a["by_status"].items()]
    tiles.append((_("success rate"), percent(a["success_rate"], _)))
    parts = [_tiles(tiles)]
    rows = [
        [
            x["algorithms"],
            x["runs"],
            x["completed"],
            x["failed"],
            seconds(x["duration_p50_s"], _),
            seconds(x["duration_p95_s"], _),
        ]
        for x in a["by_algorithm"]
    ]
    if rows:
        parts.append(
            _table(
                [
                    _("algorithms"),
                    _("runs"),
                    _("completed"),
                    _("failed"),
                    _("duration p50"),
                    _("duration p95"),
                ],
                rows,
                {1, 2, 3, 4, 5},
            )
        )
    if a["largest_projects"]:
        parts.append(f"<h3>{escape(_('Largest projects'))}</h3>")
        parts.append(
            _table(
                [_("project"), _("records analysed"), _("analyses")],
                [
                    [p["project_id"], f"{p['records']:,}", p["analyses"]]
                    for p in a["largest_projects"]
                ],
                {1, 2},
            )
        )
    if a["failures"]:
        parts.append(f"<h3>{escape(_('Failures'))}</h3>")
        parts.append(
            _table(
                [_("finished"), _("project"), _("algorithms"), _("error")],
                [
                    [
                        (f["finished_at"] or "")[:19].replace("T", " "),
                        f["project_id"],
                        f["algorithms"],
                        f["error"] or "",
                    ]
                    for f in a["failures"]
                ],
            )
        )
    parts.append(
        svg.bars(
            [(d["day"][5:], d["count"]) for d in a["per_day"]],
            _("Analyses per day"),
            [str(d["count"]) for d in a["per_day"]],
        )
    )
    return _section(_("Analyses"), a["source"], "".join(parts), _)


def _curation(body: dict[str, Any], _: Translate) -> str:
    c = body["curation"]
    cur = c["curation"]
    parts = [
        _tiles(
            [
                (_("rules created"), str(c["rules"]["created"])),
                (_("rules updated"), str(c["rules"]["updated"])),
                (_("insights created"), str(c["insights"]["created"])),
                (_("insights acknowledged"), str(c["insights"]["acknowledged"])),
                (_("curation actions"), str(cur["total"])),
            ]
        )
    ]
    if cur["by_action"]:
        parts.append(
            _table([_("action"), _("count")], [[k, v] for k, v in cur["by_action"].items()], {1})
        )
        parts.append(
            _table([_("user"), _("actions")], [[k, v] for k, v in cur["by_user"].items()], {1})
        )
    return _section(_("Rules and insights produced and curated"), c["source"], "".join(parts), _)


def _maintenance(body: dict[str, Any], _: Translate) -> str:
    m = body["maintenance"]
    tiles = [(_("runs"), str(m["runs"])), (_("dry runs"), str(m["dry_runs"]))]
    tiles += [(k, str(v)) for k, v in m["by_status"].items()]
    parts = [_tiles(tiles)]
    rows = [
        [
            s["name"],
            s["runs"],
            ", ".join(f"{k} {v}" for k, v in s["by_status"].items()),
            seconds(s["duration_p50_s"], _),
            seconds(s["duration_max_s"], _),
            s["last_error"] or "",
        ]
        for s in m["steps"]
    ]
    parts.append(
        _or_none(
            rows,
            _table(
                [
                    _("step"),
                    _("runs"),
                    _("results"),
                    _("duration p50"),
                    _("duration max"),
                    _("last error"),
                ],
                rows,
                {1, 3, 4},
            ),
            _,
        )
    )
    if m["failed_runs"]:
        parts.append(
            _table(
                [_("run"), _("started"), _("error")],
                [
                    [r["run_id"], r["started_at"][:19].replace("T", " "), r["error"] or ""]
                    for r in m["failed_runs"]
                ],
            )
        )
    return _section(_("Maintenance runs and their steps"), m["source"], "".join(parts), _)


def _recovery(body: dict[str, Any], _: Translate) -> str:
    r = body["recovery"]
    parts = [
        _tiles(
            [
                (_("actions"), str(r["actions"])),
                (_("acted"), str(r["acted"])),
                (_("dry run"), str(r["dry_run"])),
                (_("escalations"), str(r["escalations"])),
                (_("detections"), str(r["detections"])),
            ]
        )
    ]
    rows = [[x["action"], x["status"], x["count"]] for x in r["by_action_status"]]
    parts.append(_or_none(rows, _table([_("action"), _("status"), _("count")], rows, {2}), _))
    return _section(_("Recovery actions and outcomes"), r["source"], "".join(parts), _)


def _logs(body: dict[str, Any], _: Translate) -> str:
    lg = body["logs"]
    if lg is None:
        return _section(
            _("Log analyzer figures"),
            _("the service's JSON log"),
            _p(_("no data: BL_LOG_FILE is not set or has no files")),
            _,
        )
    levels = ", ".join(f"{k} {v:,}" for k, v in lg["levels"].items()) or _("no data")
    d = lg["analysis_duration_s"]
    parts = [
        _tiles(
            [
                (_("lines in window"), f"{lg['lines_in_window']:,}"),
                (_("malformed lines"), str(lg["malformed"])),
                (_("analysis errors"), str(lg["analysis_errors"])),
                (_("active users"), str(lg["active_users"])),
            ]
        ),
        _p(f"{_('Lines by level')}: {levels}"),
        _p(
            f"{_('Analyses in the log')}: {lg['analyses']['started']} / "
            f"{lg['analyses']['completed']} / {lg['analyses']['failed']} "
            f"({_('started / completed / failed')}); p50 "
            f"{seconds(d['p50'], _)}, p95 {seconds(d['p95'], _)}, max {seconds(d['max'], _)}"
        ),
    ]
    if lg["slowest_algorithms"]:
        parts.append(
            _table(
                [_("slowest algorithms"), "p95", "max"],
                [
                    [x["algorithm"], seconds(x["p95_s"], _), seconds(x["max_s"], _)]
                    for x in lg["slowest_algorithms"]
                ],
                {1, 2},
            )
        )
    if lg["errors_by_type"]:
        parts.append(
            _table(
                [_("error type"), _("count")],
                [[k, v] for k, v in lg["errors_by_type"].items()],
                {1},
            )
        )
    if lg["recent_errors"]:
        parts.append(
            _table(
                [_("time"), _("level"), _("logger"), _("error")],
                [
                    [
                        e["timestamp"][:19].replace("T", " "),
                        e["level"] or "",
                        e["logger"] or "",
                        e["error"] or "",
                    ]
                    for e in lg["recent_errors"]
                ],
            )
        )
    return _section(_("Log analyzer figures"), ", ".join(lg["files"]), "".join(parts), _)


def _tuner(body: dict[str, Any], _: Translate) -> str:
    t = body["tuner"]
    if t["run"] is None:
        return _section(_("Tuner recommendations open"), t["source"], _p(_("no tuner run yet")), _)
    parts = [
        _p(
            f"{_('Newest tuner run')}: {t['run']['created_at'][:19].replace('T', ' ')} "
            f"({t['run']['host']}); {_('open')}: {t['open']}"
        )
    ]
    rows = [[r["priority"], r["area"], r["title"], r["why"] or ""] for r in t["recommendations"]]
    parts.append(
        _or_none(rows, _table([_("priority"), _("area"), _("recommendation"), _("why")], rows), _)
    )
    return _section(_("Tuner recommendations open"), t["source"], "".join(parts), _)


def _drills(body: dict[str, Any], _: Translate) -> str:
    d = body["drills"]
    yes, no = _("yes"), _("no")

    def flag(value: Any) -> str:
        return "–" if value is None else (yes if value else no)

    rows = [
        [
            x["created_at"][:16].replace("T", " "),
            x["drill"],
            x["target"],
            flag(x["passed"]),
            seconds(x["detect_s"], _),
            seconds(x["recover_s"], _),
            flag(x["recovery_acted"]),
            x["lost_jobs"],
            x["lost_records"],
        ]
        for x in d["drills"]
    ]
    content = _tiles(
        [
            (_("drills"), str(d["total"])),
            (_("passed"), str(d["passed"])),
            (_("failed"), str(d["failed"])),
        ]
    )
    content += _or_none(
        rows,
        _table(
            [
                _("when"),
                _("drill"),
                _("target"),
                _("passed"),
                _("detected in"),
                _("recovered in"),
                _("recovery acted"),
                _("lost jobs"),
                _("lost records"),
            ],
            rows,
            {4, 5, 7, 8},
        ),
        _,
    )
    return _section(_("Drills"), d["source"], content, _)


def capacity_rows(cap: dict[str, Any]) -> list[dict[str, Any]]:
    """The series nearest to their limit first (no projected date: last)."""
    return sorted(
        cap.get("series", []),
        key=lambda s: (
            s.get("days_left") is None,
            s.get("days_left") or 0,
            s.get("limit") is None,
            str(s.get("resource")),
            str(s.get("item")),
        ),
    )


def _capacity(body: dict[str, Any], _: Translate) -> str:
    cap = body["capacity"]

    def number(value: Any, unit: str, *, sign: bool = False) -> str:
        return "–" if value is None else human(float(value), unit, sign=sign).strip()

    rows = [
        [
            s.get("resource"),
            s.get("item") or "",
            number(s.get("current"), s.get("unit") or ""),
            number(s.get("limit"), s.get("unit") or "")
            + (f" ({s['limit_label']})" if s.get("limit_label") else ""),
            number(s.get("growth_per_day"), s.get("unit") or "", sign=True),
            (s.get("reaches_at") or "–")[:10],
            "–" if s.get("days_left") is None else f"{s['days_left']:.0f}",
            s.get("status"),
        ]
        for s in capacity_rows(cap)[:10]
    ]
    parts = [_p(f"{_('Horizon')}: {cap.get('horizon_days')} {_('days')}")]
    headers = [
        _("resource"),
        _("item"),
        _("current"),
        _("limit"),
        _("growth per day"),
        _("reaches limit"),
        _("days left"),
        _("status"),
    ]
    parts.append(_or_none(rows, _table(headers, rows, {2, 4, 6}), _))
    recs = [
        f"[{r.get('priority')}] {r.get('message')}"
        + (f" — {r['action']}" if r.get("action") else "")
        if isinstance(r, dict)
        else str(r)
        for r in cap.get("recommendations", [])
    ]
    if recs:
        parts.append("<ul>" + "".join(f"<li>{escape(r)}</li>" for r in recs) + "</ul>")
    return _section(_("Capacity"), "capacity_samples", "".join(parts), _)


def _changes(body: dict[str, Any], _: Translate) -> str:
    ch = body["changes"]
    if ch["previous"] is None:
        return _section(
            _("What changed since the previous report"),
            "ops_reports (report)",
            _p(_("no previous report to compare with")),
            _,
        )
    prev = ch["previous"]
    rows = [
        [
            figure_label(name, _),
            figure(name, f["before"], _),
            figure(name, f["now"], _),
            signed(f["delta"], FIGURE_KINDS.get(name, "count"), _),
        ]
        for name in FIGURES
        if (f := ch["figures"][name])["now"] is not None or f["before"] is not None
    ]
    parts = [_p(f"{_('Previous report')}: {prev['created_at'][:16].replace('T', ' ')}")]
    parts.append(_table([_("figure"), _("before"), _("now"), _("change")], rows, {1, 2, 3}))
    items = []
    for name in ITEMS:
        for key, word in (("new", _("new")), ("cleared", _("cleared"))):
            if ch[key][name]:
                items.append(f"{figure_label(name, _)} — {word}: {', '.join(ch[key][name])}")
    if items:
        parts.append("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>")
    return _section(
        _("What changed since the previous report"), "ops_reports (report)", "".join(parts), _
    )


def render_html(body: dict[str, Any], lang: str) -> str:
    _ = translator(lang)
    sections = [
        _service,
        _alerts,
        _analyses,
        _curation,
        _maintenance,
        _recovery,
        _logs,
        _tuner,
        _drills,
    ]
    if body.get("capacity") is not None:
        sections.append(_capacity)
    sections.append(_changes)
    errors = "".join(_p(f"{_('Source error')}: {e}", "error") for e in body["errors"])
    heading = title(body, _)
    html_lang = "zh-CN" if lang == "zh" else "en"
    return (
        f'<!DOCTYPE html><html lang="{html_lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(heading)} {escape(window_text(body))}</title><style>{STYLE}</style>"
        f"</head><body><h1>{escape(heading)}</h1>"
        f'<p class="source">{escape(window_text(body))} · {escape(_("generated"))} '
        f"{escape(body['generated_at'][:19].replace('T', ' '))} UTC</p>{errors}"
        + "".join(section(body, _) for section in sections)
        + "</body></html>"
    )
