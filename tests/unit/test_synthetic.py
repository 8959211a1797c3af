"""The demo-data generator: determinism, schema validity and every planted regularity.

The statistics are measured through the real import path (record_from_mapping →
Tokenizer → Dataset), so a planted keyword that the tokenizer would split or drop
fails here, not in a mining test far away.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from bizlogic.records import synthetic
from bizlogic.records.dataset import Dataset, build_dataset
from bizlogic.records.schema import record_from_mapping
from bizlogic.records.synthetic import (
    BACKGROUND_EN,
    BACKGROUND_ZH,
    BLOCK_RECORDS,
    DEFAULT_START,
    LABEL_KEYWORDS,
    LABELS,
    NULL_KEYWORDS,
    SENTIMENT_KEYWORDS,
    SENTIMENTS,
    GroundTruth,
    generate,
    iter_record_chunks,
    iter_records,
    load_truth,
    truth_path,
)
from bizlogic.records.tokenizer import Tokenizer

N = 20_000


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    path = tmp_path_factory.mktemp("demo") / "demo.jsonl"
    return path, generate(path, N, seed=7)


@pytest.fixture(scope="module")
def raw(generated: tuple[Path, GroundTruth]) -> list[dict]:
    return [orjson.loads(line) for line in generated[0].read_bytes().splitlines()]


@pytest.fixture(scope="module")
def dataset(raw: list[dict]) -> Dataset:
    return build_dataset(record_from_mapping(r) for r in raw)


def _tolerance(share: np.ndarray, n: int) -> np.ndarray:
    """4.5 standard errors of a share, inflated for tasks that repeat one text 1–3 times."""
    return np.maximum(0.02, 4.5 * np.sqrt(share * (1 - share) * 1.35 / n))


def _confidence(data: Dataset, keyword: str, column: str, value: str) -> tuple[float, int]:
    """P(column = value | keyword present) and the keyword's support."""
    index = data.vocab.index(keyword)
    rows = data.tokens[:, index].nonzero()[0]
    codes = getattr(data, column).codes[rows]
    hits = int(np.count_nonzero(codes == getattr(data, column).code_of(value)))
    return hits / rows.shape[0], int(rows.shape[0])


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    generate(a / "demo.jsonl", 3_000, seed=11)
    generate(b / "demo.jsonl", 3_000, seed=11)
    generate(c / "demo.jsonl", 3_000, seed=12)
    assert (a / "demo.jsonl").read_bytes() == (b / "demo.jsonl").read_bytes()
    assert (a / "demo.truth.json").read_bytes() == (b / "demo.truth.json").read_bytes()
    assert (a / "demo.jsonl").read_bytes() != (c / "demo.jsonl").read_bytes()


def test_iterators_yield_what_the_file_holds(generated: tuple[Path, GroundTruth]) -> None:
    path, _ = generated
    lines = path.read_bytes().splitlines()
    from_iter = [orjson.dumps(r) for r in iter_records(N, seed=7)]
    assert from_iter == lines
    chunks = list(iter_record_chunks(N, seed=7))
    assert sum(len(c) for c in chunks) == N
    assert all(len(c) <= BLOCK_RECORDS for c in chunks)


def test_no_temporary_files_left(generated: tuple[Path, GroundTruth]) -> None:
    path, _ = generated
    assert sorted(p.name for p in path.parent.iterdir()) == ["demo.jsonl", "demo.truth.json"]


# --------------------------------------------------------------------------- schema


def test_every_line_is_a_valid_canonical_record(raw: list[dict]) -> None:
    start = DEFAULT_START
    end = start + timedelta(days=120)
    ids = set()
    for i, data in enumerate(raw, start=1):
        assert list(data) == [
            "id", "project_id", "text", "sentiment", "rating", "label", "annotator",
            "task_id", "lead_time", "status", "created_at",
        ]  # fmt: skip
        record = record_from_mapping(data)
        assert record.id == f"demo-{i:09d}"
        ids.add(record.id)
        assert record.project_id == "demo"
        assert record.status == "completed"
        assert record.sentiment in SENTIMENTS
        assert record.label in LABELS
        assert record.rating is None or record.rating in (1.0, 2.0, 3.0, 4.0, 5.0)
        assert record.lead_time is not None and record.lead_time > 0
        assert record.annotator is not None and record.annotator.startswith("ann")
        assert data["created_at"].endswith("Z")
        assert record.created_at is not None and start <= record.created_at < end
        assert 1 <= len(record.text.split()) <= 400
    assert len(ids) == N


def test_small_and_block_spanning_sizes() -> None:
    assert [r["id"] for r in iter_records(1)] == ["demo-000000001"]
    records = list(iter_records(BLOCK_RECORDS + 7, seed=3))
    assert len(records) == BLOCK_RECORDS + 7
    assert records[-1]["id"] == f"demo-{BLOCK_RECORDS + 7:09d}"
    # Task ids keep counting across the block boundary and no task straddles it.
    tasks_per_block = [
        {r["task_id"] for r in records[:BLOCK_RECORDS]},
        {r["task_id"] for r in records[BLOCK_RECORDS:]},
    ]
    assert not tasks_per_block[0] & tasks_per_block[1]
    last_first_block = max(tasks_per_block[0])
    assert min(tasks_per_block[1]) > last_first_block


def test_start_and_project_are_respected() -> None:
    naive = datetime(2025, 6, 2)
    records = list(iter_records(500, start=naive, days=30, project_id="p1"))
    assert all(r["id"].startswith("p1-") and r["project_id"] == "p1" for r in records)
    lo = datetime(2025, 6, 2, tzinfo=UTC)
    for r in records:
        created = record_from_mapping(r).created_at
        assert created is not None and lo <= created < lo + timedelta(days=30)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_records": 0},
        {"n_records": 10, "seed": -1},
        {"n_records": 10, "days": 1},
        {"n_records": 10, "lang_mix": 1.5},
        {"n_records": 10, "project_id": ""},
    ],
)
def test_invalid_arguments_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        synthetic.SyntheticData(**kwargs)


def test_progress_reports_records_written(tmp_path: Path) -> None:
    seen: list[int] = []
    generate(tmp_path / "p.jsonl", BLOCK_RECORDS + 10, progress=seen.append)
    assert seen == [BLOCK_RECORDS, BLOCK_RECORDS + 10]


# --------------------------------------------------------------------------- vocabulary


def test_vocabulary_survives_tokenization_as_single_tokens() -> None:
    tokenizer = Tokenizer()
    planted = [k for k, _, _ in SENTIMENT_KEYWORDS]
    labelled = [k for k, _, _ in LABEL_KEYWORDS]
    groups = [BACKGROUND_EN, BACKGROUND_ZH, planted, list(NULL_KEYWORDS), labelled]
    every = [w for group in groups for w in group]
    assert len(every) == len(set(every)), "a word is in two vocabularies"
    assert len(BACKGROUND_EN) + len(BACKGROUND_ZH) >= 300
    for word in every:
        assert tokenizer.tokenize(word) == [word], word
    assert not set(every) & tokenizer.stopwords
    assert len(planted) == 12 and {s for _, s, _ in SENTIMENT_KEYWORDS} == set(SENTIMENTS)
    assert len(NULL_KEYWORDS) == 15


def test_generated_texts_tokenize_to_their_words(raw: list[dict]) -> None:
    """Named words survive whole; stop words and numbers never become keywords."""
    tokenizer = Tokenizer()
    named = (
        set(BACKGROUND_EN)
        | set(BACKGROUND_ZH)
        | {k for k, _, _ in SENTIMENT_KEYWORDS}
        | set(NULL_KEYWORDS)
        | {k for k, _, _ in LABEL_KEYWORDS}
    )
    stop = set(synthetic.STOP_WORDS["en"]) | set(synthetic.STOP_WORDS["zh"])
    for data in raw[:3_000]:
        words = data["text"].split()
        tokens = tokenizer.tokenize(data["text"])
        assert [w for w in dict.fromkeys(words) if w in named] == [t for t in tokens if t in named]
        assert not set(tokens) & stop
        assert not any(any(ch.isdigit() for ch in t) for t in tokens)


def test_text_statistics_follow_the_calibration(raw: list[dict]) -> None:
    texts = [d["text"] for d in raw]
    distinct = set(texts)
    repeated = 1 - len(distinct) / len(texts)
    # Reposts and multi-annotator tasks: about half the records repeat an earlier text.
    assert 0.35 < repeated < 0.65
    han = [t for t in distinct if any("\u4e00" <= c <= "\u9fff" for c in t)]
    assert 0.2 < len(han) / len(distinct) < 0.4  # lang_mix 0.3, one language per text
    with_number = sum(any(c.isdigit() for c in t) for t in distinct) / len(distinct)
    assert 0.45 < with_number < 0.7
    stop = set(synthetic.STOP_WORDS["en"]) | set(synthetic.STOP_WORDS["zh"])
    words = [w for t in distinct for w in t.split()]
    assert 0.4 < sum(w in stop for w in words) / len(words) < 0.65


# --------------------------------------------------------------------------- planted truth


def test_planted_rules_hold_against_annotated_sentiment(
    dataset: Dataset, generated: tuple[Path, GroundTruth]
) -> None:
    _, truth = generated
    for rule in truth.planted_rules:
        confidence, support = _confidence(dataset, rule.keyword, "sentiment", rule.sentiment)
        assert confidence >= 0.8, (rule.keyword, confidence)
        assert abs(confidence - rule.expected_confidence) <= 0.06, (rule.keyword, confidence)
        assert confidence == pytest.approx(rule.observed_confidence, abs=1e-4)
        assert support == rule.observed_support


def test_planted_rules_hold_in_both_periods(
    dataset: Dataset, generated: tuple[Path, GroundTruth]
) -> None:
    """The leak rate follows the base rates, so the change point does not dilute rules."""
    _, truth = generated
    change = int(datetime.fromisoformat(truth.change_point.date).timestamp())
    for before in (True, False):
        part = dataset.take((dataset.created_at < change) == before)
        for sentiment in SENTIMENTS:
            # Pool each sentiment's keywords: per-keyword support per period is small.
            words = [r.keyword for r in truth.planted_rules if r.sentiment == sentiment]
            columns = [part.vocab.index(w) for w in words]
            rows = np.unique(part.tokens[:, columns].nonzero()[0])
            codes = part.sentiment.codes[rows]
            share = np.count_nonzero(codes == part.sentiment.code_of(sentiment)) / rows.shape[0]
            assert share >= 0.8, (before, sentiment, share)


def test_null_keywords_follow_the_base_rate(
    dataset: Dataset, generated: tuple[Path, GroundTruth]
) -> None:
    _, truth = generated
    base = dataset.sentiment.counts() / dataset.n
    for null in truth.null_keywords:
        index = dataset.vocab.index(null.keyword)
        rows = dataset.tokens[:, index].nonzero()[0]
        assert abs(rows.shape[0] / dataset.n - null.rate) <= 0.01, null.keyword
        shares = np.bincount(dataset.sentiment.codes[rows], minlength=3) / rows.shape[0]
        within = np.abs(shares - base) <= _tolerance(base, rows.shape[0])
        assert within.all(), (null.keyword, shares, base)


def test_background_words_do_not_track_sentiment(dataset: Dataset) -> None:
    base = dataset.sentiment.counts() / dataset.n
    for word in [*BACKGROUND_EN[:10], *BACKGROUND_ZH[:10]]:
        rows = dataset.tokens[:, dataset.vocab.index(word)].nonzero()[0]
        shares = np.bincount(dataset.sentiment.codes[rows], minlength=3) / rows.shape[0]
        assert (np.abs(shares - base) <= _tolerance(base, rows.shape[0])).all(), (word, shares)


def test_label_rules(dataset: Dataset, generated: tuple[Path, GroundTruth]) -> None:
    _, truth = generated
    assert {r.label for r in truth.planted_label_rules} == set(LABELS)
    for rule in truth.planted_label_rules:
        confidence, support = _confidence(dataset, rule.keyword, "label", rule.label)
        assert confidence >= 0.8, (rule.keyword, confidence)
        assert support == rule.observed_support


def test_negative_share_steps_up_at_the_change_point(
    dataset: Dataset, generated: tuple[Path, GroundTruth]
) -> None:
    _, truth = generated
    cp = truth.change_point
    change = int(datetime.fromisoformat(cp.date).timestamp())
    negative = dataset.sentiment.codes == dataset.sentiment.code_of("negative")
    before = dataset.created_at < change
    share_before = negative[before].mean()
    share_after = negative[~before].mean()
    assert abs(share_before - cp.share_before) <= 0.04
    assert abs(share_after - cp.share_after) <= 0.04
    # A step, not a ramp: the two weeks either side already differ fully.
    week = 7 * 86_400
    near_before = (dataset.created_at >= change - 2 * week) & before
    near_after = (dataset.created_at < change + 2 * week) & ~before
    assert negative[near_after].mean() - negative[near_before].mean() >= 0.12


def test_volume_trend_and_weekly_seasonality(
    dataset: Dataset, generated: tuple[Path, GroundTruth]
) -> None:
    _, truth = generated
    start = int(DEFAULT_START.timestamp())
    day = (dataset.created_at - start) // 86_400
    per_day = np.bincount(day, minlength=truth.days)[: truth.days]
    weekday = (DEFAULT_START.weekday() + np.arange(truth.days)) % 7
    weekend = per_day[weekday >= 5].mean() / per_day[weekday < 5].mean()
    assert abs(weekend - truth.seasonality.weekend_ratio) <= 0.06
    half = truth.days // 2
    growth = per_day[half:].sum() / per_day[:half].sum()
    assert 1.12 <= growth <= 1.32  # linear 1.0 → 1.5 gives 1.22
    assert truth.trend.direction == "increasing" and truth.trend.metric == "volume"


def test_biased_and_fast_annotators(dataset: Dataset, generated: tuple[Path, GroundTruth]) -> None:
    _, truth = generated
    biased = truth.biased_annotators[0].annotator
    fast = truth.fast_annotators[0].annotator
    ann = dataset.annotator
    negative = dataset.sentiment.codes == dataset.sentiment.code_of("negative")
    is_biased = ann.codes == ann.code_of(biased)
    assert negative[is_biased].mean() - negative[~is_biased].mean() >= 0.2
    is_fast = ann.codes == ann.code_of(fast)
    ratio = np.median(dataset.lead_time[~is_fast]) / np.median(dataset.lead_time[is_fast])
    assert 4.5 <= ratio <= 7.5
    assert np.median(dataset.lead_time[~is_fast]) == pytest.approx(45.0, rel=0.1)
    counts = ann.counts()
    assert len(ann.categories) == 20 and counts.max() >= 2 * counts.min()


def test_multi_annotated_tasks(raw: list[dict]) -> None:
    tasks: dict[str, list[dict]] = defaultdict(list)
    for data in raw:
        tasks[data["task_id"]].append(data)
    sizes = np.array([len(v) for v in tasks.values()])
    assert sizes.max() == 3
    assert abs((sizes >= 2).mean() - 0.25) <= 0.03
    for records in tasks.values():
        if len(records) < 2:
            continue
        assert len({r["text"] for r in records}) == 1
        assert len({r["annotator"] for r in records}) == len(records)
        times = [record_from_mapping(r).created_at for r in records]
        assert max(times) - min(times) <= timedelta(days=1)  # type: ignore[operator]


def test_ratings_follow_sentiment(raw: list[dict]) -> None:
    bands = {"negative": (1.0, 2.0), "neutral": (3.0,), "positive": (4.0, 5.0)}
    rated = [r for r in raw if r["rating"] is not None]
    assert abs(len(rated) / len(raw) - 0.7) <= 0.02
    agree = np.mean([r["rating"] in bands[r["sentiment"]] for r in rated])
    # 90 % agree with the true sentiment; annotator noise and bias lower it a little.
    assert 0.7 <= agree <= 0.9


def test_ground_truth_file(generated: tuple[Path, GroundTruth], raw: list[dict]) -> None:
    path, truth = generated
    assert truth_path(path) == path.with_name("demo.truth.json")
    assert load_truth(path) == truth
    assert load_truth(truth_path(path)) == truth
    assert GroundTruth.from_dict(orjson.loads(orjson.dumps(truth.to_dict()))) == truth
    assert truth.n_records == N and truth.records_file == "demo.jsonl" and truth.seed == 7
    assert truth.period_start == "2026-01-05T00:00:00Z"
    assert truth.period_end == "2026-05-05T00:00:00Z"
    cp = truth.change_point
    assert (cp.date, cp.day, cp.sentiment, cp.kind) == (
        "2026-03-16T00:00:00Z",
        70,
        "negative",
        "step",
    )
    assert (cp.true_share_before, cp.true_share_after) == (0.18, 0.41)
    assert cp.share_after - cp.share_before >= 0.15
    assert [r.keyword for r in truth.planted_rules] == [k for k, _, _ in SENTIMENT_KEYWORDS]
    assert all(0.85 <= r.expected_confidence <= 0.95 for r in truth.planted_rules)
    assert all(r.true_confidence >= 0.9 for r in truth.planted_rules)
    assert [n.keyword for n in truth.null_keywords] == list(NULL_KEYWORDS)
    assert {(b.annotator, b.bias_to) for b in truth.biased_annotators} == {("ann07", "negative")}
    assert [f.annotator for f in truth.fast_annotators] == ["ann13"]
    assert sum(a.observed_records for a in truth.annotators) == N
    assert sum(a.weight for a in truth.annotators) == pytest.approx(1.0, abs=1e-4)
    assert len(truth.seasonality.weekday_factors) == 7
    assert truth.seasonality.weekday_factors[5] < truth.seasonality.weekday_factors[0]
    assert truth.n_tasks == len({r["task_id"] for r in raw})
