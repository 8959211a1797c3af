from datetime import UTC, datetime

import numpy as np

from bizlogic.mining.evaluate import RuleEvaluator
from bizlogic.mining.model import Condition
from bizlogic.records.dataset import NAT, DatasetBuilder, build_dataset
from bizlogic.records.schema import Record


def _records():
    return [
        Record(
            id="a",
            text="refund late",
            sentiment="negative",
            annotator="u2",
            rating=1,
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            task_id="t1",
        ),
        Record(id="b", text="great phone", sentiment="positive", annotator="u1", lead_time=5),
        Record(
            id="c",
            text="refund fine",
            sentiment="positive",
            annotator="u1",
            task_id="t1",
            created_at=datetime(2026, 1, 3, tzinfo=UTC),
        ),
        Record(id="d", text="late late box", keywords=["box"], label="logistics"),
    ]


def test_columns_are_sorted_and_missing_values_marked():
    data = build_dataset(_records())
    assert data.vocab == ("box", "fine", "great", "late", "phone", "refund")
    assert data.sentiment.categories == ("negative", "positive")
    assert data.sentiment.codes.tolist() == [0, 1, 1, -1]
    assert data.annotator.values() == ["u2", "u1", "u1", None]
    assert np.isnan(data.rating[1]) and data.rating[0] == 1.0
    assert data.created_at[1] == NAT
    assert data.created_datetime(2) == datetime(2026, 1, 3, tzinfo=UTC)
    dense = data.tokens.toarray()
    assert dense.tolist() == [
        [0, 0, 0, 1, 0, 1],
        [0, 0, 1, 0, 1, 0],
        [0, 1, 0, 0, 0, 1],
        [1, 0, 0, 0, 0, 0],  # explicit keywords replace the text
    ]


def test_duplicate_ids_keep_the_last_record():
    builder = DatasetBuilder()
    builder.extend(_records())
    builder.add(Record(id="a", text="changed", sentiment="positive"))
    assert len(builder) == 4
    data = builder.build()
    assert data.ids.tolist() == ["b", "c", "d", "a"]
    assert data.sentiment.values()[-1] == "positive"


def test_result_does_not_depend_on_record_order():
    forward = build_dataset(_records())
    backward = build_dataset(list(reversed(_records())))
    assert forward.vocab == backward.vocab
    assert forward.sentiment.categories == backward.sentiment.categories
    order = np.argsort(backward.ids)
    assert (backward.tokens[order].toarray() == forward.tokens.toarray()).all()
    assert (backward.id_hash[order] == forward.id_hash).all()


def test_evaluator_counts_every_condition_kind():
    data = build_dataset(_records())
    ev = RuleEvaluator(data)
    assert ev.rows([Condition("text", "contains", "refund")]).tolist() == [0, 2]
    assert ev.rows([Condition("text", "contains", "missing")]).tolist() == []
    assert ev.rows([Condition("sentiment", "eq", "positive")]).tolist() == [1, 2]
    assert ev.rows([Condition("annotator", "eq", "nobody")]).tolist() == []
    since = datetime(2026, 1, 2, tzinfo=UTC)
    assert ev.rows([Condition("created_at", "gte", since)]).tolist() == [2]
    assert ev.rows([Condition("created_at", "lt", since)]).tolist() == [0]
    assert ev.rows([Condition("rating", "lt", 3)]).tolist() == [0]
    both = [Condition("sentiment", "eq", "positive"), Condition("text", "contains", "refund")]
    assert ev.rows(both).tolist() == [2]
