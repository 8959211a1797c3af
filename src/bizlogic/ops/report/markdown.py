"""The report in a few lines of Markdown for a chat group: the headline figures and the
top items of each section, within MAX_BYTES (WeCom's robots take 4096 bytes)."""

from __future__ import annotations

from typing import Any

from bizlogic.ops.relay.message import cut
from bizlogic.ops.report.changes import FIGURES, ITEMS
from bizlogic.ops.report.i18n import translator
from bizlogic.ops.report.text import (
    FIGURE_KINDS,
    count,
    figure_label,
    percent,
    seconds,
    signed,
    source_label,
    title,
    window_text,
)

MAX_BYTES = 4000
ITEM = 80  # characters of one listed item (an error, a title)
SEP = " · "


def _within(lines: list[str], limit: int) -> str:
    """The lines that fit in ``limit`` UTF-8 bytes, whole; a last line says some were left."""
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line.encode()) + 1 > limit - 8:
            kept.append("…")
            break
        kept.append(line)
        size += len(line.encode()) + 1
    return "\n".join(kept)


def render_markdown(body: dict[str, Any], lang: str) -> str:
    _ = translator(lang)
    s, a, an = body["service"], body["alerts"], body["analyses"]
    cur, m, r = body["curation"], body["maintenance"], body["recovery"]
    t, d = body["tuner"], body["drills"]
    latency = s["latency_s"] or {}
    lines = [f"## {title(body, _)}", f"{window_text(body)}", ""]
    lines.append(
        f"- **{_('Service')}** ({source_label(s['source'], _)}): {_('requests')} "
        f"{count(s['requests'], _)}{SEP}5xx {percent(s['error_rate'], _)}{SEP}p95 "
        f"{seconds(latency.get('p95'), _)}{SEP}{_('availability')} {percent(s['availability'], _)}"
    )
    if s["endpoints"]:
        top = s["endpoints"][0]
        lines.append(
            f"  - {_('busiest endpoint')}: {cut(top['endpoint'], ITEM)} "
            f"({count(top['requests'], _)})"
        )
    names = ", ".join(f"{x['alert_name']} ×{x['fired']}" for x in a["by_alert"][:3])
    lines.append(
        f"- **{_('Alerts')}**: {_('fired')} {a['fired']}{SEP}{_('resolved')} "
        f"{a['resolved']}" + (f" — {names}" if names else "")
    )
    lines.append(
        f"- **{_('Analyses')}**: {an['total']}{SEP}{_('success rate')} "
        f"{percent(an['success_rate'], _)}{SEP}{_('failed')} {an['failed_total']}"
    )
    for failure in an["failures"][:2]:
        lines.append(f"  - {failure['project_id']}: {cut(failure['error'] or '', ITEM)}")
    lines.append(
        f"- **{_('Rules and insights')}**: {_('rules created')} {cur['rules']['created']}{SEP}"
        f"{_('insights created')} {cur['insights']['created']}{SEP}{_('curation actions')} "
        f"{cur['curation']['total']}"
    )
    lines.append(
        f"- **{_('Maintenance')}**: {_('runs')} {m['runs']}{SEP}{_('failed')} "
        f"{len(m['failed_runs'])}"
        + (
            f"{SEP}{_('failing steps')}: {', '.join(m['failing_steps'])}"
            if m["failing_steps"]
            else ""
        )
    )
    lines.append(
        f"- **{_('Recovery')}**: {_('actions')} {r['actions']} ({_('acted')} {r['acted']}, "
        f"{_('dry run')} {r['dry_run']}){SEP}{_('escalations')} {r['escalations']}"
    )
    if body["logs"] is not None:
        lg = body["logs"]
        lines.append(
            f"- **{_('Logs')}**: ERROR {lg['levels'].get('ERROR', 0)}{SEP}CRITICAL "
            f"{lg['levels'].get('CRITICAL', 0)}{SEP}{_('analysis errors')} "
            f"{lg['analysis_errors']}"
        )
    if t["run"] is None:
        lines.append(f"- **{_('Tuner')}**: {_('no tuner run yet')}")
    else:
        by = ", ".join(f"{k} {v}" for k, v in t["by_priority"].items())
        lines.append(f"- **{_('Tuner')}**: {_('open')} {t['open']}" + (f" ({by})" if by else ""))
        for rec in t["recommendations"][:2]:
            lines.append(f"  - [{rec['priority']}] {cut(str(rec['title']), ITEM)}")
    lines.append(
        f"- **{_('Drills')}**: {d['total']}{SEP}{_('passed')} {d['passed']}{SEP}"
        f"{_('failed')} {d['failed']}"
    )
    if body.get("capacity") is not None:
        from bizlogic.ops.report.html import capacity_rows

        near = [x for x in capacity_rows(body["capacity"]) if x.get("days_left") is not None][:2]
        lines.append(
            f"- **{_('Capacity')}**: "
            + (
                ", ".join(
                    f"{x.get('resource')} {x.get('item') or ''} {x['days_left']:.0f} "
                    f"{_('days left')}"
                    for x in near
                )
                or (
                    _("no limit in sight")
                    if capacity_rows(body["capacity"])
                    else _("no capacity samples yet")
                )
            )
        )
    ch = body["changes"]
    if ch["previous"] is not None:
        moved = [
            f"{figure_label(name, _)} {signed(f['delta'], FIGURE_KINDS.get(name, 'count'), _)}"
            for name in FIGURES
            if (f := ch["figures"][name])["delta"] not in (None, 0)
        ]
        lines.append(f"- **{_('Since the previous report')}**: " + ("; ".join(moved[:8]) or "–"))
        for name in ITEMS:
            if ch["new"][name]:
                lines.append(
                    f"  - {_('new')} {figure_label(name, _)}: "
                    f"{cut(', '.join(ch['new'][name]), ITEM)}"
                )
            if ch["cleared"][name]:
                lines.append(
                    f"  - {_('cleared')} {figure_label(name, _)}: "
                    f"{cut(', '.join(ch['cleared'][name]), ITEM)}"
                )
    for error in body["errors"][:2]:
        lines.append(f"- ⚠ {cut(error, ITEM * 2)}")
    return _within(lines, MAX_BYTES)
