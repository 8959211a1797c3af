"""POST /apply: copy stored rules to another project, or re-measure them there (adapt).

The rules, their application records and the audit event are one transaction.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from bizlogic.api.auth import Permission, Principal, not_found, require, require_project_access
from bizlogic.api.errors import ApiError, ErrorCode
from bizlogic.api.state import AppState, app_state
from bizlogic.api.types import INT32_MAX, ProjectIdField
from bizlogic.mining.evaluate import RuleEvaluator
from bizlogic.mining.measures import association_p_values, benjamini_hochberg
from bizlogic.mining.model import Rule
from bizlogic.mining.rulebuild import build_rules
from bizlogic.store import audit
from bizlogic.store.annotations import build_project_dataset, has_records
from bizlogic.store.errors import NotFoundError
from bizlogic.store.results import upsert_rule
from bizlogic.store.rules import get_rule, record_rule_application
from bizlogic.telemetry.logging import log_user_action

router = APIRouter(prefix="/api/business-logic", tags=["rules"])


class ApplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule_ids: list[Annotated[int, Field(ge=1, le=INT32_MAX)]] = Field(min_length=1, max_length=1000)
    target_project_id: ProjectIdField
    mode: Literal["copy", "adapt"] = "copy"


def _adapted(rules: list[Rule], evaluator: RuleEvaluator, n: int) -> list[Rule]:
    """Each rule's measures recomputed on the target data; BH over the applied set."""
    counts = np.array([evaluator.counts(rule) for rule in rules], dtype=np.int64)
    n_a, n_c, n_ac = counts[:, 0], counts[:, 1], counts[:, 2]
    p = association_p_values(n, n_a, n_c, n_ac)
    q = benjamini_hochberg(p)
    adapted = []
    for i, rule in enumerate(rules):
        (fresh,) = build_rules(
            rule.algorithm,
            rule.rule_type,
            [rule.conditions],
            [rule.consequent],
            n,
            n_a[i : i + 1],
            n_c[i : i + 1],
            n_ac[i : i + 1],
            p[i : i + 1],
            q[i : i + 1],
        )
        fresh.examples = evaluator.examples(fresh, 5)
        adapted.append(fresh)
    return adapted


def _apply(state: AppState, body: ApplyRequest, principal: Principal) -> dict[str, Any]:
    with state.db.scope() as session:
        sources = []
        for rule_id in dict.fromkeys(body.rule_ids):
            missing = not_found(f"rule {rule_id} not found")
            try:
                row = get_rule(session, rule_id)
            except NotFoundError:
                raise missing from None
            require_project_access(principal, row.project_id, missing=missing)
            sources.append((row.id, Rule.from_dict(row.measures())))
        rules = [rule for _, rule in sources]
        if body.mode == "adapt":
            if not has_records(session, body.target_project_id):
                raise ApiError(
                    422,
                    ErrorCode.INVALID_REQUEST,
                    f"project {body.target_project_id!r} has no records to adapt to",
                )
            data = build_project_dataset(session, body.target_project_id)
            rules = _adapted(rules, RuleEvaluator(data), len(data))
        applied = []
        for (source_id, source), rule in zip(sources, rules, strict=True):
            stored = upsert_rule(session, body.target_project_id, rule)
            result = {
                "confidence": rule.confidence,
                "support_count": rule.support_count,
                "lift": rule.lift if np.isfinite(rule.lift) else None,
                "q_value": rule.q_value,
                "source_confidence": source.confidence,
            }
            record_rule_application(
                session,
                source_id,
                body.target_project_id,
                body.mode,
                result,
                applied_by=principal.user_id,
            )
            applied.append(
                {
                    "rule_id": source_id,
                    "target_rule_id": stored.id,
                    "pattern": rule.pattern,
                    **result,
                }
            )
        audit.record(
            session,
            principal,
            "rules.apply",
            project_id=body.target_project_id,
            details={
                "rule_ids": [source_id for source_id, _ in sources],
                "target_project_id": body.target_project_id,
                "mode": body.mode,
                "target_rule_ids": [item["target_rule_id"] for item in applied],
            },
        )
    state.cache.invalidate_project(body.target_project_id)
    return {"target_project_id": body.target_project_id, "mode": body.mode, "applied": applied}


@router.post("/apply")
async def apply_rules(
    body: ApplyRequest,
    state: Annotated[AppState, Depends(app_state)],
    principal: Annotated[Principal, Depends(require(Permission.EXTRACT_RULES))],
) -> dict[str, Any]:
    """Copy rules into another project, or (``adapt``) re-measure them on its records."""
    require_project_access(principal, body.target_project_id)
    result = await run_in_threadpool(_apply, state, body, principal)
    log_user_action(
        principal.user_id,
        "apply_rules",
        f"project:{body.target_project_id}",
        {"mode": body.mode, "rules": len(result["applied"])},
    )
    return result
