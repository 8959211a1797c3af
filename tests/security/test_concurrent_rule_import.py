"""Parallel rules imports into one project: each rule stored once, counts that add up.

Each import used to ask "does this rule exist?" and then insert, so parallel
imports with conflict=skip all saw "no" (43 reported imported for 34 rules).
The existence read is slowed down here so the race would happen on every run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bizlogic.mining.model import Condition, Rule
from bizlogic.store import migrations
from bizlogic.store import results as result_store
from bizlogic.store.db import Database
from bizlogic.store.tables import RuleRow
from tests.conftest import fresh_pg_database

PARALLEL = 8
RULES = 34


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rules.db'}"
        migrations.upgrade(url)
        database = Database(url)
        yield database
        database.dispose()
        return
    with fresh_pg_database("bl_rules_race") as (_, _, url):
        migrations.upgrade(url)
        database = Database(url, pool_size=PARALLEL)
        yield database
        database.dispose()


def _rules() -> list[Rule]:
    return [
        Rule(
            algorithm="sentiment_correlation",
            rule_type="keyword_sentiment",
            conditions=(Condition("keywords", "contains", f"word{i}"),),
            consequent=Condition("sentiment", "eq", "positive"),
            support_count=5, support=0.1, antecedent_count=6, consequent_count=20,
            n_records=50, confidence=0.8, lift=2.0, leverage=0.05, conviction=2.5,
            p_value=0.01, q_value=0.02,
        )
        for i in range(RULES)
    ]


@pytest.mark.parametrize("conflict", ["skip", "override"])
def test_parallel_imports_store_each_rule_once(db, monkeypatch, conflict):
    real_execute = result_store.Session.execute
    barrier = threading.Barrier(PARALLEL)

    def slow_execute(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = real_execute(self, statement, *args, **kwargs)
        if "business_rules.rule_key" in str(statement) and "SELECT" in str(statement):
            time.sleep(0.1)  # the window a racing import needs between check and write
        return result

    monkeypatch.setattr(result_store.Session, "execute", slow_execute)

    def run() -> result_store.ImportCounts:
        barrier.wait(timeout=30)
        with db.scope() as session:
            return result_store.import_rules(session, "p", _rules(), conflict)

    with ThreadPoolExecutor(PARALLEL) as pool:
        counts = [f.result(timeout=120) for f in [pool.submit(run) for _ in range(PARALLEL)]]
    with db.scope() as session:
        stored = session.scalar(select(func.count()).select_from(RuleRow))
    assert stored == RULES
    assert sum(c.imported for c in counts) == RULES
    if conflict == "skip":
        assert sum(c.skipped for c in counts) == (PARALLEL - 1) * RULES
    else:
        assert sum(c.replaced for c in counts) == (PARALLEL - 1) * RULES
