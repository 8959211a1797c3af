"""Turn vectors of counts into :class:`Rule` objects with every measure filled in."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bizlogic.mining.measures import rule_measures
from bizlogic.mining.model import Condition, Rule


def build_rules(
    algorithm: str,
    rule_type: str,
    antecedents: Sequence[tuple[Condition, ...]],
    consequents: Sequence[Condition],
    n: int,
    n_a: np.ndarray,
    n_c: np.ndarray,
    n_ac: np.ndarray,
    p_values: np.ndarray,
    q_values: np.ndarray,
) -> list[Rule]:
    m = rule_measures(n, n_a, n_c, n_ac)
    rules = []
    for i, (antecedent, consequent) in enumerate(zip(antecedents, consequents, strict=True)):
        rules.append(
            Rule(
                algorithm=algorithm,
                rule_type=rule_type,
                conditions=tuple(antecedent),
                consequent=consequent,
                support_count=int(n_ac[i]),
                support=float(m.support[i]),
                antecedent_count=int(n_a[i]),
                consequent_count=int(n_c[i]),
                n_records=int(n),
                confidence=float(m.confidence[i]),
                lift=float(m.lift[i]),
                leverage=float(m.leverage[i]),
                conviction=float(m.conviction[i]),
                p_value=float(p_values[i]),
                q_value=float(q_values[i]),
                pmi=float(m.pmi[i]),
                npmi=float(m.npmi[i]),
            )
        )
    return rules


def rank_rules(rules: list[Rule]) -> list[Rule]:
    """Deterministic order: most confident, then best supported, then by key."""
    return sorted(rules, key=lambda r: (-r.confidence, -r.support_count, r.key))
