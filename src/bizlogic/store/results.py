"""Saving an analysis run: replace-on-rerun for rules, patterns and insights.

The rule (docs/storage.md): a run of algorithms A replaces everything the
project holds *from A* — rules, patterns and insights of other algorithms are
untouched. Within A,

- a rule whose ``(algorithm, key)`` was stored before is updated in place:
  it keeps its id, ``created_at`` and ``is_active``; its measures are the new
  run's — except for a rule an expert curated (``curated_at`` set), which
  also keeps its confidence: only its measured figures are refreshed;
- an insight whose ``(algorithm, insight_key)`` survives keeps its id and its
  acknowledgement (who and when); the key hashes ``insight_type`` and
  ``title``, so a finding whose title changes (other keywords, another share)
  is a new finding that needs acknowledging again;
- patterns carry no curated state and are replaced wholesale;
- stored rules and insights of A that the run did not produce are deleted,
  except curated rules and acknowledged insights: a run never deletes
  an expert's work.

With ``replace=False`` (a scoped run nobody allowed to replace, see
jobs/execute.py) nothing of the project changes: the result is only kept as
the job's snapshot.

Everything goes through the caller's session and nothing is committed here,
so the run lands all together or — if anything raises and the unit of work
rolls back — not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from bizlogic.mining.engine import AnalysisResult
from bizlogic.mining.model import Insight, Pattern, Rule
from bizlogic.store import clock
from bizlogic.store.errors import NotFoundError
from bizlogic.store.locks import hold_advisory_lock
from bizlogic.store.projects import get_or_create_project, touch_project
from bizlogic.store.tables import AnalysisJob, InsightRow, PatternRow, RuleRow

_DELETE_CHUNK = 500
INT_MEASURES = (  # the rule counts stored as INTEGER columns
    "support_count",
    "antecedent_count",
    "consequent_count",
    "n_records",
    "holdout_support_count",
    "holdout_antecedent_count",
    "validation_antecedent_count",
)
_FLOAT_MEASURES = (
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "p_value",
    "q_value",
    "pmi",
    "npmi",
    "holdout_confidence",
    "validation_confidence",
    "score",
)


@dataclass
class SaveCounts:
    rules_inserted: int = 0
    rules_updated: int = 0
    rules_deleted: int = 0
    patterns_inserted: int = 0
    patterns_deleted: int = 0
    insights_inserted: int = 0
    insights_updated: int = 0
    insights_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def insight_key(insight: Insight, occurrence: int = 0) -> str:
    """Identity of an insight across runs: its type and title (see the module docstring)."""
    raw = f"{insight.insight_type}\x1f{insight.title}\x1f{occurrence}"
    return hashlib.blake2b(raw.encode("utf-8"), digest_size=16).hexdigest()


def results_summary(result: AnalysisResult) -> dict[str, Any]:
    """What the job record keeps about a run (``finish_job``'s ``results``)."""
    meta = result.meta
    by_algorithm: dict[str, int] = {}
    for rule in result.rules:
        by_algorithm[rule.algorithm] = by_algorithm.get(rule.algorithm, 0) + 1
    return {
        "rules": len(result.rules),
        "patterns": len(result.patterns),
        "insights": len(result.insights),
        "rules_by_algorithm": by_algorithm,
        "pattern_accuracy": meta.get("pattern_accuracy"),
        "pattern_accuracy_by_algorithm": meta.get("pattern_accuracy_by_algorithm"),
        "n_records": meta.get("n_records"),
        "duration_s": meta.get("duration_s"),
    }


def _algorithms(result: AnalysisResult) -> tuple[str, ...]:
    names = result.meta.get("algorithms")
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ValueError("result.meta.algorithms: expected the list of algorithms that ran")
    produced = (
        {r.algorithm for r in result.rules}
        | {p.algorithm for p in result.patterns}
        | {i.algorithm for i in result.insights}
    )
    strays = sorted(produced - set(names))
    if strays:
        raise ValueError(f"result holds output of algorithms that did not run: {strays}")
    return tuple(names)


def _rule_values(rule: Rule) -> dict[str, Any]:
    data = rule.to_dict()
    values = {name: data[name] for name in ("algorithm", "rule_type", "pattern")}
    values["rule_key"] = data["key"]
    values["conditions"] = data["conditions"]
    values["consequent"] = data["consequent"]
    values["conviction_infinite"] = bool(data["conviction_infinite"])
    values["examples"] = [str(e) for e in data["examples"]]
    values["algorithms"] = [str(a) for a in data["algorithms"]]
    # Mining hands out numpy scalars; database drivers want plain Python numbers.
    for name in INT_MEASURES:
        values[name] = None if data[name] is None else int(data[name])
    for name in _FLOAT_MEASURES:
        values[name] = None if data[name] is None else float(data[name])
    return values


def _delete_ids(session: Session, model: type[RuleRow] | type[InsightRow], ids: list[int]) -> None:
    for start in range(0, len(ids), _DELETE_CHUNK):
        chunk = ids[start : start + _DELETE_CHUNK]
        session.execute(
            delete(model).where(model.id.in_(chunk)).execution_options(synchronize_session=False)
        )


def _write_changes(
    session: Session,
    model: type[RuleRow] | type[InsightRow],
    stored: dict[tuple[str, str], tuple[int, bool]],
    seen: set[tuple[str, str]],
    inserts: list[dict[str, Any]],
    *updates: list[dict[str, Any]],
) -> tuple[int, int, int]:
    """Delete stored rows the run no longer produced, then bulk update and insert.

    ``stored`` maps identity → (id, kept): a kept row (curated rule, acknowledged
    insight) is never deleted. Each update batch shares one set of columns.
    Returns (inserted, updated, deleted).
    """
    stale = [
        row_id for identity, (row_id, kept) in stored.items() if identity not in seen and not kept
    ]
    _delete_ids(session, model, stale)
    for batch in updates:
        if batch:
            session.execute(update(model), batch)
    if inserts:
        session.execute(insert(model), inserts)
    return len(inserts), sum(len(batch) for batch in updates), len(stale)


def _replace_rules(
    session: Session,
    project_id: str,
    job_id: str | None,
    algorithms: Sequence[str],
    rules: Iterable[Rule],
    now: datetime,
    counts: SaveCounts,
) -> None:
    stored = {
        (algorithm, key): (rule_id, curated_at is not None)
        for rule_id, algorithm, key, curated_at in session.execute(
            select(RuleRow.id, RuleRow.algorithm, RuleRow.rule_key, RuleRow.curated_at).where(
                RuleRow.project_id == project_id, RuleRow.algorithm.in_(algorithms)
            )
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    curated_updates: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        values = _rule_values(rule)
        identity = (values["algorithm"], values["rule_key"])
        if identity in seen:
            raise ValueError(f"duplicate rule in one result: {identity[0]} {identity[1]!r}")
        seen.add(identity)
        values.update(job_id=job_id, updated_at=now)
        if identity not in stored:
            values.update(project_id=project_id, is_active=True, created_at=now)
            inserts.append(values)
            continue
        values["id"], curated = stored[identity]
        if curated:  # the expert's confidence stands; the measured figures are refreshed
            del values["confidence"]
            curated_updates.append(values)
        else:
            updates.append(values)
    counts.rules_inserted, counts.rules_updated, counts.rules_deleted = _write_changes(
        session, RuleRow, stored, seen, inserts, updates, curated_updates
    )


def _replace_patterns(
    session: Session,
    project_id: str,
    job_id: str | None,
    algorithms: Sequence[str],
    patterns: Iterable[Pattern],
    now: datetime,
    counts: SaveCounts,
) -> None:
    removed = session.execute(
        delete(PatternRow)
        .where(PatternRow.project_id == project_id, PatternRow.algorithm.in_(algorithms))
        .execution_options(synchronize_session=False)
    )
    rows = [
        {
            "project_id": project_id,
            "job_id": job_id,
            "algorithm": p.algorithm,
            "pattern_type": p.pattern_type,
            "description": p.description,
            "strength": float(p.strength),
            "data": p.data,
            "created_at": now,
        }
        for p in patterns
    ]
    if rows:
        session.execute(insert(PatternRow), rows)
    counts.patterns_inserted, counts.patterns_deleted = len(rows), removed.rowcount


def _replace_insights(
    session: Session,
    project_id: str,
    job_id: str | None,
    algorithms: Sequence[str],
    insights: Iterable[Insight],
    now: datetime,
    counts: SaveCounts,
) -> None:
    stored = {
        (algorithm, key): (insight_id, bool(acknowledged))
        for insight_id, algorithm, key, acknowledged in session.execute(
            select(
                InsightRow.id, InsightRow.algorithm, InsightRow.insight_key, InsightRow.acknowledged
            ).where(InsightRow.project_id == project_id, InsightRow.algorithm.in_(algorithms))
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for insight in insights:
        occurrence = 0
        while (insight.algorithm, key := insight_key(insight, occurrence)) in seen:
            occurrence += 1  # same type and title twice in one run: keep both, stably keyed
        identity = (insight.algorithm, key)
        seen.add(identity)
        values = {
            "algorithm": insight.algorithm,
            "insight_key": key,
            "insight_type": insight.insight_type,
            "title": insight.title,
            "description": insight.description,
            "impact_score": float(insight.impact_score),
            "recommendations": list(insight.recommendations),
            "evidence": insight.evidence,
            "lang": insight.lang,
            "translations": insight.texts(),
            "job_id": job_id,
            "updated_at": now,
        }
        if identity not in stored:
            values.update(project_id=project_id, acknowledged=False, created_at=now)
            inserts.append(values)
        else:
            values["id"] = stored[identity][0]  # the acknowledgement is not among the values
            updates.append(values)
    counts.insights_inserted, counts.insights_updated, counts.insights_deleted = _write_changes(
        session, InsightRow, stored, seen, inserts, updates
    )


def save_results(
    session: Session,
    project_id: str,
    job_id: str | None,
    result: AnalysisResult,
    *,
    replace: bool = True,
) -> SaveCounts:
    """Replace the project's results from ``result``'s algorithms (module docstring).

    With a ``job_id`` the rows point at that job and the full result is kept
    as the job's snapshot (for detect-changes and exports of past runs). With
    ``replace=False`` only that snapshot is written (all counts 0): the run
    must not change what the project holds.
    """
    algorithms = _algorithms(result)
    if not replace and job_id is None:
        raise ValueError("replace=False keeps the result only as a job snapshot: job_id needed")
    get_or_create_project(session, project_id)
    if job_id is not None:
        job = session.get(AnalysisJob, job_id)
        if job is None:
            raise NotFoundError("job", job_id)
        if job.project_id != project_id:
            raise ValueError(f"job {job_id} belongs to project {job.project_id!r}")
        if not replace:
            _save_snapshot(session, job_id, result)
            return SaveCounts()
    now = clock.utcnow()
    counts = SaveCounts()
    _replace_rules(session, project_id, job_id, algorithms, result.rules, now, counts)
    _replace_patterns(session, project_id, job_id, algorithms, result.patterns, now, counts)
    _replace_insights(session, project_id, job_id, algorithms, result.insights, now, counts)
    if job_id is not None:
        _save_snapshot(session, job_id, result)
    touch_project(session, project_id)
    return counts


def _save_snapshot(session: Session, job_id: str, result: AnalysisResult) -> None:
    session.execute(
        update(AnalysisJob)
        .where(AnalysisJob.job_id == job_id)
        .values(result_snapshot=result.to_dict())
        .execution_options(synchronize_session=False)
    )


def load_job_result(session: Session, job_id: str) -> AnalysisResult | None:
    """The full result a job saved, or None if it saved none (or was pruned)."""
    snapshot = session.scalar(
        select(AnalysisJob.result_snapshot).where(AnalysisJob.job_id == job_id)
    )
    return None if snapshot is None else AnalysisResult.from_dict(snapshot)


def upsert_rule(session: Session, project_id: str, rule: Rule) -> RuleRow:
    """Store one rule in ``project_id`` (used by ``apply``): same (algorithm, key) is updated.

    An updated rule keeps its id, ``created_at`` and ``is_active``, as on a re-run.
    """
    get_or_create_project(session, project_id)
    values = _rule_values(rule)
    row = session.scalar(
        select(RuleRow).where(
            RuleRow.project_id == project_id,
            RuleRow.algorithm == values["algorithm"],
            RuleRow.rule_key == values["rule_key"],
        )
    )
    now = clock.utcnow()
    if row is None:
        row = RuleRow(
            project_id=project_id,
            job_id=None,
            is_active=True,
            created_at=now,
            updated_at=now,
            **values,
        )
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = now
    session.flush()
    return row


@dataclass
class ImportCounts:
    imported: int = 0
    replaced: int = 0
    skipped: int = 0


def import_rules(
    session: Session, project_id: str, rules: Sequence[Rule], conflict: str
) -> ImportCounts:
    """Add ``rules`` to the project; an existing (algorithm, key) is skipped or overridden.

    One import per project at a time (store/locks.py): two imports checking
    "does it exist?" at once would both insert. The project row is written
    first, which on SQLite takes the write lock. Existing keys are read in one
    query and new rules inserted in bulk, so a large import does not hold a
    thread (and the interpreter lock) for one statement per rule.
    """
    if conflict not in ("skip", "override"):
        raise ValueError(f"conflict: expected skip or override, got {conflict!r}")
    get_or_create_project(session, project_id)
    touch_project(session, project_id)
    session.flush()
    hold_advisory_lock(session, "rules-import", project_id)
    stored = {
        (algorithm, key): rule_id
        for rule_id, algorithm, key in session.execute(
            select(RuleRow.id, RuleRow.algorithm, RuleRow.rule_key).where(
                RuleRow.project_id == project_id
            )
        )
    }
    counts = ImportCounts()
    now = clock.utcnow()
    inserts: dict[tuple[str, str], dict[str, Any]] = {}
    updates: dict[int, dict[str, Any]] = {}
    for rule in rules:
        values = _rule_values(rule)
        identity = (values["algorithm"], values["rule_key"])
        rule_id = stored.get(identity)
        known = rule_id is not None or identity in inserts
        if known and conflict == "skip":
            counts.skipped += 1
            continue
        values.update(job_id=None, updated_at=now)
        if rule_id is not None:
            counts.replaced += rule_id not in updates
            updates[rule_id] = {**values, "id": rule_id}
        else:
            counts.imported += identity not in inserts
            inserts[identity] = {
                **values, "project_id": project_id, "is_active": True, "created_at": now
            }
    if updates:
        session.execute(update(RuleRow), list(updates.values()))
    if inserts:
        session.execute(insert(RuleRow), list(inserts.values()))
    return counts
