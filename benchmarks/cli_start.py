"""Start-up time of the command line: `bizlogic --help` and `bizlogic health --help`.

Each command runs N times in a fresh subprocess (wall time, median reported), against
`python -c pass` as the reference: the difference is what bizlogic and its CLI
dependencies cost before a command does any work. The import time of `bizlogic.cli`
(`-X importtime`, cumulative microseconds of the package) is measured the same way.

    .venv/bin/python benchmarks/cli_start.py                  # 20 runs each
    .venv/bin/python benchmarks/cli_start.py --repeat 5 --out /tmp/cli-start.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_IMPORT_S = 0.3  # imports of `bizlogic --help` and `bizlogic health --help`
# Imported only by the commands that need them, never to show help.
HEAVY = (
    "numpy",
    "scipy",
    "rjieba",
    "jieba",
    "pandas",
    "sqlalchemy",
    "fastapi",
    "uvicorn",
    "alembic",
    "bizlogic.records",
    "bizlogic.store",
)


# The console script's own code (`from bizlogic.cli import app; app()`), with arguments.
RUN = "from bizlogic.cli import app; app({args!r}, prog_name='bizlogic')"


def bizlogic_command() -> list[str]:
    """The console script beside this interpreter, else the package run as a module."""
    script = Path(sys.executable).with_name("bizlogic")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bizlogic.cli"]


def wall_times(argv: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def import_profile(argv: list[str]) -> tuple[float, list[str]]:
    """Seconds of imports (the sum of every top-level import's cumulative time, as
    `-X importtime` reports them) and the heavy modules among them."""
    done = subprocess.run(
        argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    total_us, heavy = 0, set()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, cumulative, name = line.split("|")
        module = name.strip()
        if not name.startswith("  "):  # a top-level import: its cumulative holds its children
            total_us += int(cumulative)
        heavy.update(h for h in HEAVY if module == h or module.startswith(h + "."))
    return total_us / 1e6, sorted(heavy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = (
        args.out or ROOT / "benchmarks" / "results" / f"cli-start-{datetime.now(UTC):%Y-%m-%d}.json"
    )
    command = bizlogic_command()
    python = [sys.executable, "-X", "importtime"]
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "bizlogic --help": [*command, "--help"],
        "bizlogic health --help": [*command, "health", "--help"],
    }
    profiles = {
        "import bizlogic.cli": [*python, "-c", "import bizlogic.cli"],
        "bizlogic --help": [*python, "-c", RUN.format(args=["--help"])],
        "bizlogic health --help": [*python, "-c", RUN.format(args=["health", "--help"])],
    }
    for argv in cases.values():  # warm the page cache and the bytecode
        wall_times(argv, 1)
    runs = {name: wall_times(argv, args.repeat) for name, argv in cases.items()}
    median = {name: statistics.median(times) for name, times in runs.items()}
    reference = median["python -c pass"]
    imports = {}
    for name, argv in profiles.items():
        seconds, heavy = import_profile(argv)
        imports[name] = {"seconds": round(seconds, 4), "heavy_modules": heavy}
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "command": command,
        "repeat": args.repeat,
        "median_seconds": {name: round(value, 4) for name, value in median.items()},
        "over_python_seconds": {
            name: round(value - reference, 4)
            for name, value in median.items()
            if name != "python -c pass"
        },
        "imports": imports,
        "targets": {
            "help_imports_lt_0_3_s": all(
                imports[name]["seconds"] < TARGET_IMPORT_S
                for name in ("bizlogic --help", "bizlogic health --help")
            ),
            "no_heavy_modules": not any(item["heavy_modules"] for item in imports.values()),
        },
        "runs": {name: [round(t, 4) for t in times] for name, times in runs.items()},
    }
    print(f"{'command':<26} {'median s':>9} {'over python':>12}")
    for name, value in median.items():
        print(f"{name:<26} {value:>9.3f} {value - reference:>12.3f}")
    print(f"{'imports':<26} {'s':>9}  heavy modules")
    for name, item in imports.items():
        print(f"{name:<26} {item['seconds']:>9.3f}  {', '.join(item['heavy_modules']) or '-'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"saved {out}")


if __name__ == "__main__":
    main()
