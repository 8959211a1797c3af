from bizlogic.mining.texts import collapse_texts
from bizlogic.records.dataset import build_dataset
from bizlogic.records.schema import Record


def _record(i, task, sentiment, words):
    return Record(
        id=f"r{i}", text=" ".join(words), task_id=task, sentiment=sentiment, keywords=words
    )


def test_equal_texts_collapse_to_majority_and_ties_lose_their_class():
    data = build_dataset(
        [
            _record(1, "t1", "negative", ["refund"]),
            _record(2, "t2", "positive", ["great"]),
            _record(3, "t1", "negative", ["refund"]),
            _record(4, "t1", "positive", ["refund"]),
            _record(5, None, "neutral", ["ok"]),
            _record(6, "t2", "negative", ["great"]),  # 1:1 tie -> no sentiment
            _record(7, None, "neutral", ["ok"]),  # same text without a task: one text
            _record(8, None, "neutral", ["OK"]),  # the same text, whatever its keywords
            _record(9, None, "neutral", ["fine"]),
        ]
    )
    collapsed = collapse_texts(data)
    assert collapsed.ids.tolist() == ["r1", "r2", "r5", "r9"]
    assert collapsed.sentiment.values() == ["negative", None, "neutral", "neutral"]
    assert collapsed.tokens.toarray().sum(axis=1).tolist() == [1, 1, 1, 1]


def test_datasets_without_repeated_texts_are_returned_unchanged():
    data = build_dataset([_record(1, "a", "x", ["w"]), _record(2, None, "y", ["v"])])
    assert collapse_texts(data) is data
