"""The statistics that make a record set look like real review text, for any JSONL file.

Used to calibrate `bizlogic demo-data` against the real corpora
(docs/demo-data.md shows both side by side):

    .venv/bin/python benchmarks/textstats.py zh-reviews en-drugs demo/records.jsonl

A name from benchmarks/corpora.py is fetched and cached first; anything else is a path.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpora import CORPORA, corpus_path
from bizlogic.mining.dedup import deduplicate
from bizlogic.records.dataset import build_dataset
from bizlogic.records.schema import record_from_mapping
from bizlogic.records.tokenizer import Tokenizer, load_stopwords

_HAN = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_DIGIT = re.compile(r"\d")
_WORD = re.compile(r"[\u3400-\u9fff]+|[^\W\d_]+|\d+")


def zipf_exponent(counts: np.ndarray, top: int = 1000) -> float:
    """Slope of log frequency against log rank over the `top` most frequent keywords."""
    ranked = np.sort(counts)[::-1][:top]
    ranks = np.arange(1, ranked.size + 1)
    slope, _ = np.polyfit(np.log(ranks), np.log(ranked), 1)
    return round(float(-slope), 3)


def raw_pieces(text: str, tokenizer: Tokenizer) -> list[str]:
    """Words before any filtering: jieba's segmentation of Han runs, Latin words, numbers."""
    pieces = []
    for piece in _WORD.findall(text):
        if _HAN.match(piece):
            pieces.extend(tokenizer._segment_han([piece])[0])
        else:
            pieces.append(piece.lower())
    return pieces


def text_stats(path: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    texts = [r["text"] for r in rows]
    tokenizer = Tokenizer()
    stop = load_stopwords("en") | load_stopwords("zh")
    data = build_dataset(record_from_mapping(r) for r in rows)
    _, dedup = deduplicate(data)
    keywords = np.diff(data.tokens.indptr)
    distinct = list(dict.fromkeys(texts))
    pieces = [raw_pieces(t, tokenizer) for t in distinct]
    flat = [p for ps in pieces for p in ps]
    seen: Counter[str] = Counter(texts)

    def share_of_texts(pattern: re.Pattern[str]) -> float:
        return round(sum(bool(pattern.search(t)) for t in distinct) / len(distinct), 4)

    return {
        "records": len(rows),
        "distinct_texts": dedup.distinct_texts,
        "repeated_record_share": round(1 - dedup.distinct_texts / len(rows), 4),
        "texts_repeated_share": round(sum(1 for c in seen.values() if c > 1) / len(seen), 4),
        "near_duplicate_share": round(
            (dedup.same_keywords_merged + dedup.near_duplicates_merged) / dedup.distinct_texts, 4
        ),
        "chars_per_text": round(float(np.mean([len(t) for t in distinct])), 1),
        "words_per_text": round(float(np.mean([len(p) for p in pieces])), 1),
        "keywords_per_record": round(float(keywords.mean()), 2),
        "keywords_per_record_p10_p50_p90": [int(v) for v in np.percentile(keywords, [10, 50, 90])],
        "vocabulary": len(data.vocab),
        "zipf_exponent": zipf_exponent(np.asarray(data.tokens.sum(axis=0)).ravel()),
        "hapax_share": round(float((np.asarray(data.tokens.sum(axis=0)).ravel() == 1).mean()), 4),
        "stop_word_share": round(sum(p in stop for p in flat) / max(len(flat), 1), 4),
        "texts_with_number": share_of_texts(_DIGIT),
        "texts_with_han": share_of_texts(_HAN),
        "texts_with_latin": share_of_texts(_LATIN),
        "texts_mixing_han_and_latin": round(
            sum(bool(_HAN.search(t) and _LATIN.search(t)) for t in distinct) / len(distinct), 4
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sources", nargs="+", help="corpus name or JSONL path")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    report = {}
    for source in args.sources:
        path = corpus_path(source) if source in CORPORA else Path(source)
        report[source] = text_stats(path)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
