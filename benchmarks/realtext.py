"""`bizlogic analyze` with default settings on real labelled corpora: speed, size, quality.

For each corpus (see benchmarks/corpora.py) the CLI runs as a new user would
run it, `bizlogic analyze FILE --output OUT.json`, in a subprocess whose wall
time and peak RSS are measured. The result file is then read for: rule count
by type, JSON size, hold-out pattern accuracy, the 20 top-ranked business
rules, rules whose items are only numbers or stop words, duplicate rules, and
the coverage of a fixed list of unambiguous sentiment words (below).

``--src DIR`` runs another checkout's code (e.g. the previous release) with
the same corpora, so its figures can be recorded beside ours:

    git worktree add /tmp/prev <commit>
    .venv/bin/python benchmarks/realtext.py --src /tmp/prev/src --label previous

Results are printed and saved as JSON (``benchmarks/results/realtext-<label>-<date>.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpora import CORPORA, corpus_path

RESULTS = Path(__file__).resolve().parent / "results"
TOP_RULES = 20

# Unambiguous sentiment words, picked before any analysis of the corpora was looked
# at: words a native reader takes as clearly negative or positive in a review
# whatever their context, leaving out words that are often negated (喜欢/不喜欢,
# 满意/不满意, 舒服/不舒服, 好看/不好看, 推荐, 值得; "love", "recommend") or used
# as plain intensifiers ("great pain", "best to"). Only their frequency was
# checked: each occurs in at least 15 distinct Chinese / 10 distinct English
# texts of its corpus (counted with jieba's segmentation / a lower-case word regex).
SENTIMENT_WORDS: dict[str, dict[str, list[str]]] = {
    "zh-reviews": {
        "negative": [
            "失望",
            "后悔",
            "垃圾",
            "差劲",
            "恶劣",
            "上当",
            "糟糕",
            "退货",
            "郁闷",
            "骗人",
            "难看",
            "气愤",
            "无语",
            "投诉",
            "太差",
        ],
        "positive": [
            "物超所值",
            "不错",
            "精美",
            "漂亮",
            "实惠",
            "划算",
            "超值",
            "感动",
            "完美",
            "经典",
            "惊喜",
            "精致",
            "好评",
        ],
    },
    "en-drugs": {
        "negative": ["worst", "horrible", "terrible", "awful", "worse", "miserable", "unbearable"],
        "positive": ["miracle", "amazing", "wonderful", "happy"],
    },
    # Same rule; also left out: thank(s) (sarcastic complaints), happy ("not happy"), cool.
    "en-tweets": {
        "negative": [
            "hate", "worst", "terrible", "awful", "horrible", "sucks", "disappointed",
            "annoying", "stupid", "angry", "disgusting", "fail", "ridiculous", "useless",
            "pathetic", "rude", "unacceptable",
        ],
        "positive": [
            "awesome", "amazing", "excellent", "wonderful", "fantastic", "excited",
            "beautiful", "perfect", "brilliant", "glad", "impressive", "incredible",
        ],
    },
}
TARGETS = {
    "zh-reviews": {"seconds": 15.0, "peak_rss_mb": 1536.0, "json_mb": 20.0, "accuracy": 0.9},
    "en-drugs": {"seconds": 3.0, "peak_rss_mb": 1536.0, "json_mb": 20.0, "accuracy": 0.9},
    "en-tweets": {"seconds": 15.0, "peak_rss_mb": 1536.0, "json_mb": 20.0, "accuracy": 0.9},
}
SENTIMENT_COVERAGE_TARGET = 0.9
_NUMBER = re.compile(r"^[\d.,:/\-%+]+$")


def load_stopwords() -> set[str]:
    """The stop words as the product defines them (maintained lists + additions − keep list)."""
    from bizlogic.records.tokenizer import load_stopwords as product_stopwords

    return set(product_stopwords("en") | product_stopwords("zh"))


def run_analyze(src: Path | None, path: Path, out: Path) -> dict[str, Any]:
    """Wall time and peak RSS of one `bizlogic analyze` process."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    probe = (
        "import resource, subprocess, sys, time, json;"
        "t = time.perf_counter();"
        "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode;"
        "print(json.dumps({'rc': rc, 'seconds': time.perf_counter() - t,"
        " 'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"
    )
    cli = "from bizlogic.cli import app; app()"
    command = [
        sys.executable,
        "-c",
        probe,
        sys.executable,
        "-c",
        cli,
        "analyze",
        str(path),
        "--output",
        str(out),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["rc"] != 0:
        raise RuntimeError(f"bizlogic analyze exited {figures['rc']}")
    return figures


def _items(rule: dict[str, Any]) -> list[str]:
    return [str(c["value"]) for c in rule["conditions"]] + (
        [str(rule["consequent"]["value"])] if rule["consequent"]["operator"] == "contains" else []
    )


def noise_rules(rules: list[dict[str, Any]], stopwords: set[str]) -> list[str]:
    """Rules whose keyword items are all numbers or stop words."""
    noisy = []
    for rule in rules:
        words = [
            w
            for c in rule["conditions"]
            if c["operator"] == "contains"
            for w in [str(c["value"]).lower()]
        ]
        if words and all(_NUMBER.match(w) or w in stopwords for w in words):
            noisy.append(rule["pattern"])
    return noisy


def sentiment_coverage(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Share of the listed words found as `word → its sentiment` with no contradicting rule."""
    single: dict[str, set[str]] = {}
    for rule in rules:
        cons = rule["consequent"]
        if cons["field"] == "sentiment" and len(rule["conditions"]) == 1:
            cond = rule["conditions"][0]
            if cond["operator"] == "contains":
                single.setdefault(str(cond["value"]), set()).add(str(cons["value"]))
    found, missing, contradicted = [], [], []
    for sentiment, words in SENTIMENT_WORDS[name].items():
        for word in words:
            seen = single.get(word, set())
            if seen == {sentiment}:
                found.append(word)
            elif seen:
                contradicted.append(f"{word}: {sorted(seen)}")
            else:
                missing.append(word)
    total = len(found) + len(missing) + len(contradicted)
    return {
        "words": total,
        "found": len(found),
        "share": round(len(found) / total, 4),
        "missing": missing,
        "contradicted": contradicted,
    }


def measure(name: str, src: Path | None, workdir: Path) -> dict[str, Any]:
    path = corpus_path(name)
    records = [json.loads(line) for line in path.open(encoding="utf-8")]
    out = workdir / f"{name}.json"
    figures = run_analyze(src, path, out)
    result = json.loads(out.read_bytes())
    rules = result["rules"]
    keys = Counter(r["key"] for r in rules)
    business = [r for r in rules if r["consequent"]["operator"] != "contains"]
    stopwords = load_stopwords()
    noisy = noise_rules(rules, stopwords)
    meta = result["meta"]
    return {
        "corpus": name,
        "description": CORPORA[name].description,
        "records": len(records),
        "distinct_texts": len({r["text"] for r in records}),
        "seconds": round(figures["seconds"], 3),
        "peak_rss_mb": round(figures["peak_rss_mb"], 1),
        "json_mb": round(out.stat().st_size / 2**20, 3),
        "rules": len(rules),
        "rules_by_type": dict(sorted(Counter(r["rule_type"] for r in rules).items())),
        "patterns": len(result["patterns"]),
        "insights": len(result["insights"]),
        "pattern_accuracy": meta.get("pattern_accuracy"),
        "duplicate_rule_keys": sum(1 for c in keys.values() if c > 1),
        "noise_rules": len(noisy),
        "noise_examples": noisy[:10],
        "sentiment_words": sentiment_coverage(name, rules),
        "meta_dedup": meta.get("dedup"),
        "top_rules": [
            {
                "pattern": r["pattern"],
                "algorithm": r.get("algorithms", [r["algorithm"]]),
                "support_count": r["support_count"],
                "confidence": round(r["confidence"], 3),
                "lift": r["lift"] and round(r["lift"], 2),
                "holdout_confidence": r["holdout_confidence"] and round(r["holdout_confidence"], 3),
            }
            for r in business[:TOP_RULES]
        ],
    }


def check_targets(entry: dict[str, Any]) -> dict[str, bool]:
    target = TARGETS[entry["corpus"]]
    accuracy = entry["pattern_accuracy"]
    return {
        "seconds": entry["seconds"] <= target["seconds"],
        "peak_rss_mb": entry["peak_rss_mb"] <= target["peak_rss_mb"],
        "json_mb": entry["json_mb"] <= target["json_mb"],
        "accuracy": accuracy is not None and accuracy >= target["accuracy"],
        "no_noise_rules": entry["noise_rules"] == 0,
        "no_duplicates": entry["duplicate_rule_keys"] == 0,
        "sentiment_words": entry["sentiment_words"]["share"] >= SENTIMENT_COVERAGE_TARGET,
    }


def print_entry(entry: dict[str, Any]) -> None:
    print(
        f"\n== {entry['corpus']} ({entry['records']:,} records, "
        f"{entry['distinct_texts']:,} distinct texts)"
    )
    print(
        f"time {entry['seconds']:.2f} s (median of {entry['runs']})  peak RSS "
        f"{entry['peak_rss_mb']:.0f} MB  JSON {entry['json_mb']:.2f} MB  "
        f"rules {entry['rules']:,} {entry['rules_by_type']}"
    )
    words = entry["sentiment_words"]
    print(
        f"hold-out accuracy {entry['pattern_accuracy']}  noise rules {entry['noise_rules']}  "
        f"duplicate keys {entry['duplicate_rule_keys']}  sentiment words "
        f"{words['found']}/{words['words']} (missing {words['missing']}, "
        f"contradicted {words['contradicted']})"
    )
    print(
        "targets: "
        + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in entry["targets"].items())
    )
    for rule in entry["top_rules"]:
        print(
            f"  {rule['support_count']:>6}  {rule['confidence']:.3f}  "
            f"{rule['holdout_confidence']!s:>6}  {rule['pattern']}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", default=",".join(CORPORA))
    parser.add_argument("--repeat", type=int, default=3, help="runs per corpus (median time/RSS)")
    parser.add_argument("--src", type=Path, help="run this source tree instead (PYTHONPATH)")
    parser.add_argument("--label", default="current")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    out = args.out or RESULTS / f"realtext-{args.label}-{date}.json"
    document: dict[str, Any] = {
        "label": args.label,
        "source": str(args.src) if args.src else "this checkout",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "corpora": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.corpora.split(","):
            runs = [measure(name, args.src, Path(tmp)) for _ in range(max(1, args.repeat))]
            entry = runs[-1]
            entry["runs"] = len(runs)
            entry["seconds_runs"] = [r["seconds"] for r in runs]
            entry["seconds"] = round(statistics.median(entry["seconds_runs"]), 3)
            entry["peak_rss_mb"] = round(statistics.median(r["peak_rss_mb"] for r in runs), 1)
            entry["targets"] = check_targets(entry)
            document["corpora"].append(entry)
            print_entry(entry)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nsaved {out}")
    return 0


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
