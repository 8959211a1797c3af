"""Benchmark `bizlogic logs analyze` on a generated log against a reference implementation.

The reference is the straightforward analyzer of the operators' guide done
right: one ``json.loads`` per line, ``datetime.fromisoformat`` for the window,
the same counters. Both run in their own subprocess (peak RSS is theirs) on
the same file; their figures must be identical. Targets (issue 6): ≥ 10× the
reference's speed, ≥ 150 MB/s, peak RSS ≤ 300 MB on a 1 GB log.

    .venv/bin/python benchmarks/logs.py                  # 1 GB, 3 repeats
    .venv/bin/python benchmarks/logs.py --size-mb 100 --repeat 1 --out /tmp/logs.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 1, tzinfo=UTC)
SINCE = "2026-11-01T06:00:00Z"
UNTIL = "2026-11-20T00:00:00Z"
TARGET_RATIO, TARGET_MBPS, TARGET_RSS_MB = 10.0, 150.0, 300.0


def generate(path: Path, size_mb: int, seed: int) -> None:
    """A service log: mostly access lines, analysis and user events, a few broken lines."""
    rng = random.Random(seed)
    algorithms = ["sentiment_correlation", "keyword_cooccurrence", "temporal_trends"]
    errors = ["timeout: ran past 1800 s", "OperationalError: server closed the connection"]
    limit, written, second = size_mb * 1024 * 1024, 0, 0.0
    with path.open("w") as out:
        while written < limit:
            second += rng.expovariate(1 / 0.4)
            when = (START + timedelta(seconds=second)).isoformat(timespec="microseconds")
            stamp = when.replace("+00:00", "Z")
            roll = rng.random()
            if roll < 0.85:
                record = {"timestamp": stamp, "level": "INFO", "logger": "uvicorn.access",
                          "event": "GET /api/business-logic/rules/demo HTTP/1.1 200",
                          "message": '127.0.0.1:51234 - "GET /api/business-logic/rules/demo '
                                     'HTTP/1.1" 200', "module": "h11_impl",
                          "function": "send", "line": 473,
                          "request_id": f"{rng.getrandbits(128):032x}"}  # fmt: skip
            elif roll < 0.95:
                kind = rng.choice(["analysis_start", "analysis_complete", "analysis_complete",
                                   "analysis_error"])  # fmt: skip
                record = {"timestamp": stamp, "level": "ERROR" if kind == "analysis_error"
                          else "INFO", "logger": "bizlogic.analysis", "event": kind,
                          "algorithm": rng.choice(algorithms), "project_id": "p",
                          "job_id": f"{rng.getrandbits(64):016x}"}  # fmt: skip
                if kind == "analysis_complete":
                    record["duration"] = round(rng.lognormvariate(1, 1), 4)
                if kind == "analysis_error":
                    record["error"] = rng.choice(errors)
            else:
                record = {"timestamp": stamp, "level": "INFO", "logger": "bizlogic.api",
                          "event": "user_action", "user_id": f"user{rng.randrange(40)}",
                          "action": rng.choice(["analyze", "import_records", "toggle_rule"]),
                          "resource": "project:p", "details": {}}  # fmt: skip
            line = json.dumps(record, separators=(",", ":"))
            if rng.random() < 0.0001:  # a write cut short by a crash
                line = line[: rng.randrange(10, len(line) - 1)]
            out.write(line + "\n")
            written += len(line) + 1


def reference(path: Path, since: datetime, until: datetime) -> dict[str, Any]:
    """One json.loads per line, as the guide's analyzer, with its counting done correctly."""
    malformed = lines = 0
    per: dict[str, dict[str, Any]] = {}
    by_type: dict[str, int] = {}
    actions: dict[str, int] = {}
    users: set[str] = set()
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            lines += 1
            try:
                record = json.loads(raw)
                when = datetime.fromisoformat(record["timestamp"])
            except (ValueError, KeyError, TypeError):
                malformed += 1
                continue
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            if not since <= when < until:
                continue
            event = record.get("event")
            if event in ("analysis_start", "analysis_complete", "analysis_error"):
                stats = per.setdefault(
                    record["algorithm"], {"started": 0, "completed": 0, "failed": 0, "d": []}
                )
                if event == "analysis_start":
                    stats["started"] += 1
                elif event == "analysis_complete":
                    stats["completed"] += 1
                    stats["d"].append(record["duration"])
                else:
                    stats["failed"] += 1
                    kind = record["error"].split(":", 1)[0].strip()
                    by_type[kind] = by_type.get(kind, 0) + 1
            elif event == "user_action":
                actions[record["action"]] = actions.get(record["action"], 0) + 1
                users.add(record["user_id"])
    summary = {}
    for name, stats in sorted(per.items()):
        d = sorted(stats["d"])
        summary[name] = {
            "started": stats["started"], "completed": stats["completed"],
            "failed": stats["failed"], "p50": d[math.ceil(len(d) * 0.5) - 1],
            "p95": d[math.ceil(len(d) * 0.95) - 1], "max": d[-1], "sum": round(sum(d), 6),
        }  # fmt: skip
    return {"lines": lines, "malformed": malformed, "per": summary, "by_type": by_type,
            "actions": actions, "users": len(users)}  # fmt: skip


def ours(path: Path, since: datetime, until: datetime) -> dict[str, Any]:
    from bizlogic.ops.logs import LogAnalyzer

    report = LogAnalyzer(since, until).feed_files([path]).report()
    per = {}
    for name, stats in report["performance"]["by_algorithm"].items():
        d = stats["duration_s"]
        per[name] = {
            "started": stats["started"], "completed": stats["completed"],
            "failed": stats["failed"], "p50": d["p50"], "p95": d["p95"], "max": d["max"],
            "sum": round(d["avg"] * d["count"], 6),
        }  # fmt: skip
    return {"lines": report["lines"], "malformed": report["malformed"]["count"], "per": per,
            "by_type": report["errors"]["by_type"], "actions": report["users"]["by_action"],
            "users": report["users"]["active_users"]}  # fmt: skip


def worker(which: str, path: Path) -> None:
    since = datetime.fromisoformat(SINCE)
    until = datetime.fromisoformat(UNTIL)
    started = time.perf_counter()
    result = (reference if which == "reference" else ours)(path, since, until)
    elapsed = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    workers = min(os.cpu_count() or 1, 8) if which == "ours" and child else 0
    # Worker processes run at the same time: the bound is this process + each of them.
    rss_mb = own + workers * child
    print(json.dumps({"seconds": elapsed, "peak_rss_mb": rss_mb, "own_rss_mb": own,
                      "largest_child_rss_mb": child, "result": result}))  # fmt: skip


def measure(which: str, path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", which, "--log", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bl-logs-bench"))
    parser.add_argument("--out", type=Path)
    parser.add_argument("--worker", choices=["reference", "ours"])
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.log)
        return
    out = args.out or ROOT / "benchmarks" / "results" / f"logs-{datetime.now(UTC):%Y-%m-%d}.json"
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"bizlogic-{args.size_mb}mb-seed{args.seed}.log"
    if not path.exists():
        started = time.perf_counter()
        generate(path.with_suffix(".tmp"), args.size_mb, args.seed)
        path.with_suffix(".tmp").rename(path)
        print(f"generated {path} in {time.perf_counter() - started:.0f} s", flush=True)
    size_mb = path.stat().st_size / 1e6
    runs: dict[str, list[dict[str, Any]]] = {"reference": [], "ours": []}
    for _ in range(args.repeat):
        for which in runs:
            runs[which].append(measure(which, path))
            last = runs[which][-1]
            print(f"{which:>9}: {last['seconds']:.2f} s = {size_mb / last['seconds']:.0f} MB/s, "
                  f"peak RSS {last['peak_rss_mb']:.0f} MB", flush=True)  # fmt: skip
    identical = all(r["result"] == runs["reference"][0]["result"] for r in runs["ours"])
    ref_s = statistics.median(r["seconds"] for r in runs["reference"])
    our_s = statistics.median(r["seconds"] for r in runs["ours"])
    rss = max(r["peak_rss_mb"] for r in runs["ours"])
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "log": {"path": str(path), "size_mb": round(size_mb, 1), "seed": args.seed},
        "window": [SINCE, UNTIL],
        "identical_results": identical,
        "median_seconds": {"reference": round(ref_s, 3), "ours": round(our_s, 3)},
        "throughput_mb_s": {
            "reference": round(size_mb / ref_s, 1),
            "ours": round(size_mb / our_s, 1),
        },
        "speedup": round(ref_s / our_s, 2),
        "peak_rss_mb": round(rss, 1),
        "targets": {
            "speedup_ge_10": ref_s / our_s >= TARGET_RATIO,
            "throughput_ge_150_mb_s": size_mb / our_s >= TARGET_MBPS,
            "peak_rss_le_300_mb": rss <= TARGET_RSS_MB,
        },
        "runs": runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: summary[k] for k in ("identical_results", "speedup",
                      "throughput_mb_s", "peak_rss_mb", "targets")}, indent=2))  # fmt: skip
    print(f"saved {out}")
    if not identical:
        sys.exit("error: the results differ from the reference")


if __name__ == "__main__":
    main()
