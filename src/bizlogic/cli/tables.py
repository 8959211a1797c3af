"""Human-readable summaries of analysis results and changes (Rich tables), for
`bizlogic analyze` and `bizlogic detect-changes`.

Only these summaries are truncated; the JSON output always holds everything.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from bizlogic.mining.changes import Changes
    from bizlogic.mining.engine import AnalysisResult


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def _conviction(rule) -> str:
    return "∞" if rule.conviction == float("inf") else _fmt(rule.conviction, 2)


def print_summary(result: AnalysisResult, console: Console, top: int = 10) -> None:
    meta = result.meta
    accuracy = meta.get("pattern_accuracy")
    console.print(
        f"[bold]{meta['n_records']:,} records[/] analysed "
        f"({meta['n_train']:,} train / {meta['n_holdout']:,} hold-out) "
        f"in {meta['duration_s']:.1f}s; {len(result.rules)} rules, "
        f"{len(result.patterns)} patterns, {len(result.insights)} insights; "
        f"pattern accuracy {_fmt(accuracy, 2) if accuracy is not None else 'n/a'}"
    )
    dedup = meta.get("dedup")
    if dedup:
        params = meta.get("params", {})
        console.print(
            f"{dedup['units']:,} distinct texts counted ({dedup['distinct_texts']:,} after exact "
            f"matching, {dedup['same_keywords_merged']:,} same-keyword and "
            f"{dedup['near_duplicates_merged']:,} near duplicates merged); min support "
            f"{params.get('min_support')} ({params.get('min_support_source', 'given')})"
        )
    not_kept = meta.get("rules_not_kept")
    if not_kept:
        reasons = {
            "confidence_bound_below_bar": "confidence too uncertain",
            "failed_validation": "failed validation",
            "beyond_max_rules": "beyond --max-rules (--all-rules keeps them)",
        }
        parts = [
            f"{sum(counts.values()):,} {reasons.get(reason, reason)}"
            for reason, counts in not_kept.items()
            if counts
        ]
        console.print(
            f"{meta.get('rules_found', len(result.rules)):,} rules found, "
            f"{len(result.rules):,} kept" + (f"; not kept: {', '.join(parts)}" if parts else "")
        )
    by_type = Counter(r.rule_type for r in result.rules)
    if by_type:
        console.print("rules by type: " + ", ".join(f"{k} {v}" for k, v in sorted(by_type.items())))

    if result.rules:
        table = Table(title=f"Top rules (of {len(result.rules)})", show_lines=False)
        for column in ("rule", "support", "conf", "lift", "conv.", "q", "score", "hold-out"):
            table.add_column(column, justify="left" if column == "rule" else "right")
        # Results arrive ranked by interestingness score (docs/mining.md).
        for rule in _diverse(result.rules, top):
            table.add_row(
                _compact(rule),
                f"{rule.support_count:,}",
                _fmt(rule.confidence),
                _fmt(rule.lift, 2),
                _conviction(rule),
                f"{rule.q_value:.1e}" if rule.q_value > 0 else "<1e-300",
                _fmt(rule.score, 2),
                _fmt(rule.holdout_confidence),
            )
        console.print(table)

    if result.patterns:
        table = Table(title=f"Patterns (of {len(result.patterns)})")
        table.add_column("type")
        table.add_column("strength", justify="right")
        table.add_column("description")
        shown: Counter[str] = Counter()
        for pattern in sorted(result.patterns, key=lambda p: (p.pattern_type, -p.strength)):
            if shown[pattern.pattern_type] >= 3:
                continue
            shown[pattern.pattern_type] += 1
            table.add_row(pattern.pattern_type, _fmt(pattern.strength, 2), pattern.description)
        console.print(table)

    if result.insights:
        console.print(
            f"[bold]Insights[/] (top {min(top, len(result.insights))} of {len(result.insights)})"
        )
        for insight in result.insights[:top]:
            console.print(
                f"• [bold]{insight.title}[/] [dim]({insight.insight_type}, impact "
                f"{insight.impact_score:.2f})[/]\n  {insight.description}"
            )
            for recommendation in insight.recommendations[:2]:
                console.print(f"    → {recommendation}")


def _compact(rule) -> str:
    """`'refund' & 'late' → sentiment=negative`: the table's rule column stays narrow."""

    def part(c) -> str:
        value = c.to_dict()["value"]
        if c.operator == "contains":
            return repr(value)
        symbol = {"eq": "=", "gte": "≥", "lt": "<"}.get(c.operator, c.operator)
        return f"{c.field}{symbol}{value}"

    return " & ".join(part(c) for c in rule.conditions) + " → " + part(rule.consequent)


def _diverse(rules: list, limit: int) -> list:
    """Top rules, at most half of the table from one rule type so every algorithm is visible."""
    cap = max(1, limit // 2)
    taken: Counter[str] = Counter()
    seen: set[str] = set()
    out = []
    for rule in rules:
        if rule.key in seen:
            continue
        seen.add(rule.key)
        if taken[rule.rule_type] < cap:
            out.append(rule)
            taken[rule.rule_type] += 1
        if len(out) == limit:
            break
    return out


def print_changes(changes: Changes, console: Console) -> None:
    console.print(
        f"[bold]{len(changes.new_rules)}[/] new rules, [bold]{len(changes.vanished_rules)}[/] "
        f"vanished, [bold]{len(changes.confidence_shifts)}[/] confidence shifts ≥ "
        f"{changes.threshold:.2f}, [bold]{len(changes.new_change_points)}[/] new change points"
    )
    for title, rules in (
        ("New rules", changes.new_rules),
        ("Vanished rules", changes.vanished_rules),
    ):
        if rules:
            table = Table(title=title)
            table.add_column("rule")
            table.add_column("conf", justify="right")
            table.add_column("support", justify="right")
            for rule in rules[:20]:
                table.add_row(rule["pattern"], _fmt(rule["confidence"]), str(rule["support_count"]))
            console.print(table)
    if changes.confidence_shifts:
        table = Table(title="Confidence shifts")
        for column in ("rule", "before", "after", "Δ"):
            table.add_column(column, justify="left" if column == "rule" else "right")
        for shift in changes.confidence_shifts[:20]:
            table.add_row(
                shift.pattern, _fmt(shift.before), _fmt(shift.after), f"{shift.delta:+.3f}"
            )
        console.print(table)
    for point in changes.new_change_points:
        console.print(f"• new change point: {point['description']}")
