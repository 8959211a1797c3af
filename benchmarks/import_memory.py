"""Peak memory of streaming import: the importer must not grow with the file.

Generates (or reuses) a demo JSONL file of ``--records`` records, streams it
through ``iter_import`` without keeping the records, and records the peak RSS
next to the same measurement on a file 1/17 of the size. Each measurement
runs in a fresh process so the peaks are independent.

With ``--cli`` the measured process is ``bizlogic import FILE --project bench``
into a fresh SQLite database (parse, tokenise, store in batches), the whole
command a user runs.

    python benchmarks/import_memory.py --records 3400000   # ~1.04 GB of JSONL
    python benchmarks/import_memory.py --cli --records 170000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bizlogic.records.importers import ImportOptions, Reject, iter_import
from bizlogic.records.synthetic import generate


def stream(path: Path) -> dict:
    started = time.perf_counter()
    records = rejects = 0
    for item in iter_import(path, ImportOptions()):
        if isinstance(item, Reject):
            rejects += 1
        else:
            records += 1
    return {
        "file": str(path),
        "bytes": path.stat().st_size,
        "records": records,
        "rejects": rejects,
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def cli_import(path: Path) -> dict:
    """`bizlogic import` in a child process; this process exists only to read its peak."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BL_")},
            "BL_DATA_DIR": scratch,
        }
        started = time.perf_counter()
        done = subprocess.run(
            [str(Path(sys.executable).with_name("bizlogic")), "import", str(path), "--project",
             "bench"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    seconds = time.perf_counter() - started
    return {
        "file": str(path),
        "bytes": path.stat().st_size,
        "summary": done.stdout.strip(),
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def measure(path: Path, cli: bool) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--measure-cli" if cli else "--measure", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3_400_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bl-bench"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--cli", action="store_true", help="measure `bizlogic import`")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure-cli", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(stream(args.measure)))
        return
    if args.measure_cli:
        print(json.dumps(cli_import(args.measure_cli)))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    runs = []
    for size in (args.records // 17, args.records):
        path = args.workdir / f"import-memory-{size}.jsonl"
        if not path.exists():
            generate(path, size)
        runs.append({"records": size, **measure(path, args.cli)})
        print(
            f"{runs[-1]['bytes'] / 1e9:6.2f} GB  {size:>10,} records  "
            f"{runs[-1]['seconds']:7.1f} s  peak RSS {runs[-1]['peak_rss_mb']:.0f} MB"
        )
    result = {
        "date": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "measured": "bizlogic import (SQLite)" if args.cli else "iter_import",
        "runs": runs,
        "rss_growth": round(runs[1]["peak_rss_mb"] / runs[0]["peak_rss_mb"], 3),
    }
    stamp = f"{datetime.now(tz=UTC):%Y-%m-%d}"
    name = "cli-import-memory" if args.cli else "import-memory"
    out = args.out or Path("benchmarks/results") / f"{name}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"peak RSS grows x{result['rss_growth']} for x17 the data; results: {out}")


if __name__ == "__main__":
    main()
