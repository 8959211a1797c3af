"""Benchmark the mining pipeline against reference tools; print a table and save JSON.

Sections (``--only``):

* ``e2e``      import + tokenize (DatasetBuilder over iter_import) and ``run_analysis``
               (all four algorithms together, then each alone) on the largest size;
               every run in a fresh subprocess so its peak RSS is its own.
* ``itemsets`` ``frequent_itemsets`` vs pyfim (Borgelt's C fpgrowth / eclat) vs mlxtend
               (fpgrowth + association_rules) on the same transactions; results must
               have identical digests.
* ``tokenize`` bizlogic ``Tokenizer`` vs ``jieba.lcut`` (+ the same filtering) on demo texts.
* ``scaling``  e2e time at every size; time per record and time growth / size growth.

The orchestrating process stays small: data generation and every measurement run
in child processes of this same script (``--worker``), which print one JSON result.
See benchmarks/README.md and docs/performance.md.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import itertools
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("e2e", "itemsets", "tokenize", "scaling")
RESULT_MARK = "@@BENCH-RESULT@@ "
LOAD_SLACK_S = 120.0  # mlxtend worker: interpreter start + loading tokens, beyond its budget
TARGET_RECORDS = 1_000_000
TARGET_TOTAL_S = 90.0  # on the realistic generator (real-text calibration, issue 15)
TARGET_PEAK_RSS_MB = 3 * 1024
TARGET_OURS_OVER_PYFIM = 2.0
TARGET_MLXTEND_OVER_OURS = 10.0
MIN_CONFIDENCE = (7, 10)  # 0.7 as a fraction: rule counts compare integers exactly
# Reference tools: import name -> distribution name in the `bench` extra.
BENCH_MODULES = {"fim": "pyfim", "mlxtend": "mlxtend", "pandas": "pandas", "jieba": "jieba"}
PYFIM_SDIST = "pyfim==6.28"


# --------------------------------------------------------------------------- helpers


def median(values: list[float]) -> float:
    return statistics.median(values)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def peak_rss_mb() -> dict[str, float]:
    """ru_maxrss (KiB on Linux) and VmHWM, the high-water mark of this process's memory."""
    out = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                out["vm_hwm_mb"] = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return out


def digest(itemsets: list[tuple[tuple[str, ...], int]]) -> str:
    """Order-independent sha256 over sorted lines of (sorted keyword tuple, count)."""
    lines = sorted(
        json.dumps([sorted(items), int(count)], ensure_ascii=False) for items, count in itemsets
    )
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def version_of(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def bench_requirements() -> dict[str, str]:
    """Distribution name -> requirement spec, from pyproject's `bench` extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    specs = project["optional-dependencies"]["bench"]
    return {re.match(r"[A-Za-z0-9_.\-]+", spec).group().lower(): spec for spec in specs}


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    print("  $ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=False, **kwargs)


# --------------------------------------------------------------------------- reference tools


def ensure_tools() -> dict[str, Any]:
    """Install the `bench` extra's missing packages; pyfim is always built from its sdist."""
    missing = [mod for mod in BENCH_MODULES if importlib.util.find_spec(mod) is None]
    log: list[str] = []
    if missing:
        specs = bench_requirements()
        wanted = [specs.get(BENCH_MODULES[mod], BENCH_MODULES[mod]) for mod in missing]
        print(f"reference tools missing: {', '.join(missing)}; installing {', '.join(wanted)}")
        print("  (the `bench` extra's requirements, as `pip install -e '.[bench]'` would;")
        print("   pyfim from its sdist, compiled with the system C compiler)")
        pip = [sys.executable, "-m", "pip", "install", "--no-binary", "pyfim"]
        done = run([*pip, *wanted])
        log.append(f"pip install --no-binary pyfim {' '.join(wanted)}: rc={done.returncode}")
        if done.returncode != 0 and "fim" in missing:
            others = [w for mod, w in zip(missing, wanted, strict=True) if mod != "fim"]
            if others:
                done = run([*pip, *others])
                log.append(f"pip install {' '.join(others)}: rc={done.returncode}")
            log.extend(build_pyfim_patched())
        importlib.invalidate_caches()
    still = [mod for mod in BENCH_MODULES if importlib.util.find_spec(mod) is None]
    if still:
        raise SystemExit(f"reference tools still missing after install: {', '.join(still)}")
    versions = {dist: version_of(dist) for dist in BENCH_MODULES.values()}
    versions["rjieba"] = version_of("rjieba")
    return {"versions": versions, "installed_now": missing, "install_log": log}


def build_pyfim_patched() -> list[str]:
    """Fallback: build pyfim's sdist with setup.py importing setuptools, in a temp dir."""
    log = []
    with tempfile.TemporaryDirectory(prefix="pyfim-build-") as tmp:
        pip = [sys.executable, "-m", "pip"]
        got = run([*pip, "download", PYFIM_SDIST, "--no-binary", ":all:", "--no-deps", "-d", tmp])
        log.append(f"pip download {PYFIM_SDIST} --no-binary :all:: rc={got.returncode}")
        archives = sorted(Path(tmp).glob("pyfim-*.tar.gz"))
        if not archives:
            return log
        with tarfile.open(archives[0]) as tar:
            tar.extractall(tmp, filter="data")
        source = next(p for p in Path(tmp).iterdir() if p.is_dir())
        setup = source / "setup.py"
        text = setup.read_text("utf-8")
        # distutils is deprecated; setuptools provides the same setup()/Extension.
        text = text.replace(
            "from distutils.core import setup, Extension", "from setuptools import setup, Extension"
        )
        setup.write_text(text, "utf-8")
        print("  patched setup.py: distutils -> setuptools")
        done = run([*pip, "install", str(source)])
        log.append(f"patched pyfim sdist install: rc={done.returncode}")
    return log


# --------------------------------------------------------------------------- workers
# Each runs in its own process: python benchmarks/mining.py --worker '<json spec>'.


def _records_file(spec: dict[str, Any]) -> Path:
    return Path(spec["path"])


def work_generate(spec: dict[str, Any]) -> dict[str, Any]:
    from bizlogic.records.synthetic import generate

    t0 = time.perf_counter()
    generate(_records_file(spec), spec["n"], seed=spec["seed"])
    return {"generate_s": round(time.perf_counter() - t0, 3)}


def _import_dataset(path: Path) -> tuple[Any, int]:
    from bizlogic.records.dataset import DatasetBuilder
    from bizlogic.records.importers import ImportOptions, Reject, iter_import

    builder = DatasetBuilder()
    rejects = 0
    with iter_import(path, ImportOptions()) as stream:
        for item in stream:
            if isinstance(item, Reject):
                rejects += 1
            else:
                builder.add(item)
    return builder.build(), rejects


def work_e2e(spec: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    from bizlogic.mining.engine import run_analysis
    from bizlogic.mining.registry import ALGORITHM_NAMES, get_algorithm

    algorithms = spec["algorithms"] or list(ALGORITHM_NAMES)
    for name in algorithms:  # the registry imports the algorithm modules on first use
        get_algorithm(name)
    modules_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    data, rejects = _import_dataset(_records_file(spec))
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = run_analysis(data, algorithms)
    analysis_s = time.perf_counter() - t0
    return {
        "algorithms": algorithms,
        "n_records": len(data),
        "rejects": rejects,
        "vocabulary": len(data.vocab),
        "token_nnz": int(data.tokens.nnz),
        "modules_s": round(modules_s, 3),
        "import_s": round(import_s, 3),
        "analysis_s": round(analysis_s, 3),
        "total_s": round(import_s + analysis_s, 3),
        "analysis_timings_s": result.meta["timings_s"],
        "rules": len(result.rules),
        "patterns": len(result.patterns),
        "insights": len(result.insights),
        **peak_rss_mb(),
    }


def work_prepare(spec: dict[str, Any]) -> dict[str, Any]:
    """Import the records and save Dataset.tokens (CSR) + vocabulary for the itemset tools."""
    import numpy as np

    data, _ = _import_dataset(_records_file(spec))
    tokens = data.tokens
    np.savez(spec["npz"], indptr=tokens.indptr, indices=tokens.indices, shape=tokens.shape)
    Path(spec["vocab"]).write_text(json.dumps(list(data.vocab), ensure_ascii=False), "utf-8")
    return {"n_records": len(data), "vocabulary": len(data.vocab), "nnz": int(tokens.nnz)}


def _load_tokens(spec: dict[str, Any]) -> tuple[Any, list[str]]:
    import numpy as np
    import scipy.sparse as sp

    stored = np.load(spec["npz"])
    indptr, indices = stored["indptr"], stored["indices"]
    data = np.ones(indices.shape[0], dtype=np.int32)
    tokens = sp.csr_matrix((data, indices, indptr), shape=tuple(stored["shape"]))
    vocab = json.loads(Path(spec["vocab"]).read_text("utf-8"))
    return tokens, vocab


def _itemsets_ours(tokens: Any, vocab: list[str], min_count: int, max_len: int) -> dict[str, Any]:
    import numpy as np

    from bizlogic.mining.itemsets import frequent_itemsets, single_consequent_rules

    t0 = time.perf_counter()
    # Encoding: the frequent keyword columns of Dataset.tokens, as keyword_cooccurrence does.
    counts = np.asarray(tokens.sum(axis=0)).ravel()
    columns = np.flatnonzero(counts >= min_count)
    matrix = tokens[:, columns]
    found = frequent_itemsets(matrix, min_count, max_len)
    itemsets_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rules = single_consequent_rules(found)
    num, den = MIN_CONFIDENCE
    confident = int(np.count_nonzero(rules.n_ac * den >= rules.n_a * num))
    rules_s = time.perf_counter() - t0
    names = [vocab[c] for c in columns.tolist()]
    # frequent_itemsets returns a dict or an object with to_dict() (API in flux); not timed.
    mapping = found if isinstance(found, dict) else found.to_dict()
    pairs = [(tuple(names[i] for i in itemset), count) for itemset, count in mapping.items()]
    return {"itemsets_s": itemsets_s, "rules_s": rules_s, "pairs": pairs, "rules": confident}


def _itemsets_pyfim(
    tokens: Any, vocab: list[str], min_count: int, max_len: int, algorithm: str
) -> dict[str, Any]:
    import fim

    t0 = time.perf_counter()
    flat, bounds = tokens.indices.tolist(), tokens.indptr.tolist()
    transactions = [flat[a:b] for a, b in itertools.pairwise(bounds)]
    mine = fim.fpgrowth if algorithm == "fpgrowth" else fim.eclat
    # supp < 0: absolute minimum count; report 'a': absolute support; target 's': all sets.
    found = mine(transactions, target="s", supp=-min_count, zmin=1, zmax=max_len, report="a")
    itemsets_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    # Rules I∖{c} → c with body ≥ 1 item (zmin=2); mode 'o': rule support = |body ∪ head|.
    # conf in percent, a hair below 70 so exact ties count as in our integer comparison.
    rules = mine(
        transactions,
        target="r",
        supp=-min_count,
        zmin=2,
        zmax=max_len,
        conf=100.0 * MIN_CONFIDENCE[0] / MIN_CONFIDENCE[1] - 1e-6,
        mode="o",
        report="a",
    )
    rules_s = time.perf_counter() - t0
    pairs = [(tuple(vocab[i] for i in itemset), count) for itemset, count in found]
    return {"itemsets_s": itemsets_s, "rules_s": rules_s, "pairs": pairs, "rules": len(rules)}


def _itemsets_mlxtend(
    tokens: Any, vocab: list[str], min_count: int, max_len: int
) -> dict[str, Any]:
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    n = tokens.shape[0]
    t0 = time.perf_counter()
    frame = pd.DataFrame(tokens.astype(bool).toarray(), columns=vocab)
    onehot_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    # support ≥ (min_count − ½)/n  ⇔  count ≥ min_count, without float ties.
    found = fpgrowth(frame, min_support=(min_count - 0.5) / n, use_colnames=True, max_len=max_len)
    fpgrowth_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    threshold = MIN_CONFIDENCE[0] / MIN_CONFIDENCE[1] - 1e-9
    rules = association_rules(
        found,
        num_itemsets=n,
        metric="confidence",
        min_threshold=threshold,
        return_metrics=["support", "confidence"],
    )
    single = int((rules["consequents"].map(len) == 1).sum())
    rules_s = time.perf_counter() - t0
    pairs = [
        (tuple(items), round(support * n))
        for items, support in zip(found["itemsets"], found["support"], strict=True)
    ]
    return {
        "itemsets_s": onehot_s + fpgrowth_s,
        "onehot_s": onehot_s,
        "fpgrowth_s": fpgrowth_s,
        "rules_s": rules_s,
        "pairs": pairs,
        "rules": single,
    }


def work_itemsets(spec: dict[str, Any]) -> dict[str, Any]:
    tokens, vocab = _load_tokens(spec)
    tool, min_count, max_len = spec["tool"], spec["min_count"], spec["max_len"]
    budget = spec.get("budget_s")
    runs: list[dict[str, Any]] = []
    started = time.perf_counter()
    for _ in range(spec["repeat"]):
        if tool == "ours":
            out = _itemsets_ours(tokens, vocab, min_count, max_len)
        elif tool.startswith("pyfim_"):
            out = _itemsets_pyfim(tokens, vocab, min_count, max_len, tool.removeprefix("pyfim_"))
        else:
            out = _itemsets_mlxtend(tokens, vocab, min_count, max_len)
        runs.append(out)
        last = out["itemsets_s"] + out["rules_s"]
        if budget is not None and time.perf_counter() - started + last > budget:
            break  # another repeat would not fit in the time budget
    first = runs[0]
    sizes: dict[str, int] = {}
    for items, _count in first["pairs"]:
        sizes[str(len(items))] = sizes.get(str(len(items)), 0) + 1
    result = {
        "repeats_done": len(runs),
        "itemsets_s": [round(r["itemsets_s"], 4) for r in runs],
        "rules_s": [round(r["rules_s"], 4) for r in runs],
        "total_s": [round(r["itemsets_s"] + r["rules_s"], 4) for r in runs],
        "itemsets": len(first["pairs"]),
        "itemsets_by_size": dict(sorted(sizes.items())),
        "digest": digest(first["pairs"]),
        "confident_rules": first["rules"],
        **peak_rss_mb(),
    }
    for key in ("onehot_s", "fpgrowth_s"):
        if key in first:
            result[key] = [round(r[key], 4) for r in runs]
    return result


def _load_texts(path: Path, limit: int) -> list[str]:
    import orjson

    texts = []
    with path.open("rb") as handle:
        for line in handle:
            if len(texts) >= limit:
                break
            if line.strip():
                texts.append(orjson.loads(line)["text"])
    return texts


def work_tokenize(spec: dict[str, Any]) -> dict[str, Any]:
    import logging

    import jieba

    from bizlogic.records.tokenizer import Tokenizer

    jieba.setLogLevel(logging.WARNING)
    texts = _load_texts(_records_file(spec), spec["limit"])
    ours = Tokenizer()
    stop, min_length, min_han = ours.stopwords, ours.min_length, ours.min_han_length

    def is_han(word: str) -> bool:
        return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in word)

    def jieba_filtered(text: str) -> list[str]:
        # The same post-processing as Tokenizer: lowercase, words only, length, stop
        # words, distinct in order of appearance. No NFKC (the demo texts need none).
        seen: dict[str, None] = {}
        for piece in jieba.lcut(text):
            word = piece.strip().lower()
            if not word or not any(ch.isalnum() for ch in word) or word in stop:
                continue
            if len(word) >= (min_han if is_han(word) else min_length):
                seen.setdefault(word, None)
        return list(seen)

    variants = {
        "bizlogic": ours.tokenize,
        "jieba_filtered": jieba_filtered,
        "jieba_lcut_raw": jieba.lcut,
    }
    for fn in variants.values():  # warm-up: dictionaries, regex caches
        for text in texts[:200]:
            fn(text)
    times: dict[str, list[float]] = {name: [] for name in variants}
    outputs: dict[str, list[list[str]]] = {}
    for _ in range(spec["repeat"]):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            out = [fn(text) for text in texts]
            times[name].append(time.perf_counter() - t0)
            outputs[name] = out
    same = sum(
        set(a) == set(b)
        for a, b in zip(outputs["bizlogic"], outputs["jieba_filtered"], strict=True)
    )
    n = len(texts)
    result: dict[str, Any] = {"texts": n, "chars": sum(map(len, texts)), "tools": {}}
    for name, values in times.items():
        result["tools"][name] = {
            "seconds": [round(v, 4) for v in values],
            "median_s": round(median(values), 4),
            "records_per_s": round(n / median(values)),
            "tokens": sum(map(len, outputs[name])),
        }
    result["same_keyword_sets_share"] = round(same / n, 4) if n else None
    return result


WORKERS = {
    "generate": work_generate,
    "e2e": work_e2e,
    "prepare": work_prepare,
    "itemsets": work_itemsets,
    "tokenize": work_tokenize,
}


def worker_main(raw: str) -> None:
    spec = json.loads(raw)
    limit = spec.get("memory_limit_bytes")
    if limit:
        # Keep a runaway measurement from taking the machine (MemoryError instead).
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    result = WORKERS[spec["task"]](spec)
    print(RESULT_MARK + json.dumps(result, ensure_ascii=False), flush=True)


class WorkerFailed(RuntimeError):
    pass


def call_worker(
    spec: dict[str, Any], timeout: float | None, memory_limit_gb: float | None = None
) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; returns its JSON result."""
    if memory_limit_gb:
        spec = {**spec, "memory_limit_bytes": int(memory_limit_gb * 1024**3)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    try:
        done = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"{spec['task']} worker exceeded {timeout:.0f} s") from exc
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    tail = "\n".join((done.stderr or done.stdout).splitlines()[-15:])
    raise WorkerFailed(f"{spec['task']} worker failed (rc={done.returncode}):\n{tail}")


# --------------------------------------------------------------------------- orchestration


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(args.workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.largest = max(args.sizes)
        self.e2e_runs: dict[int, dict[str, Any]] = {}
        self.failures: list[str] = []

    def worker(self, spec: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        return call_worker(spec, timeout or self.args.timeout, self.args.memory_limit_gb)

    # -- data

    def records_file(self, n: int) -> Path:
        """The demo set of n records, generated once per (size, seed) and cached in workdir."""
        path = self.workdir / f"demo-{n}-seed{self.args.seed}.jsonl"
        if path.exists():
            return path
        print(f"generating {n:,} demo records -> {path}", flush=True)
        spec = {"task": "generate", "path": str(path), "n": n, "seed": self.args.seed}
        out = self.worker(spec)
        print(f"  generated in {out['generate_s']:.1f} s")
        return path

    def tokens_file(self, n: int) -> dict[str, Any]:
        """Dataset.tokens of the n-record set; rebuilt each run (the code under test changes)."""
        base = self.workdir / f"tokens-{n}-seed{self.args.seed}"
        spec = {
            "task": "prepare",
            "path": str(self.records_file(n)),
            "npz": f"{base}.npz",
            "vocab": f"{base}.vocab.json",
        }
        info = self.worker(spec)
        return {"npz": spec["npz"], "vocab": spec["vocab"], **info}

    # -- e2e

    def e2e(self, n: int, algorithms: list[str] | None) -> dict[str, Any]:
        path = self.records_file(n)
        runs, errors = [], []
        for _ in range(self.args.repeat):
            spec = {"task": "e2e", "path": str(path), "algorithms": algorithms}
            try:
                runs.append(self.worker(spec))
            except (TimeoutError, WorkerFailed) as exc:
                errors.append(str(exc))
                break
        return summarise_e2e(runs, errors)

    def all_algorithms(self, n: int) -> dict[str, Any]:
        if n not in self.e2e_runs:
            label = f"e2e n={n:,}: import + run_analysis(all algorithms) x{self.args.repeat}"
            print(label, flush=True)
            self.e2e_runs[n] = self.e2e(n, None)
        return self.e2e_runs[n]

    def section_e2e(self) -> dict[str, Any]:
        n = self.largest
        combined = self.all_algorithms(n)
        separate = {}
        # The registry's names, as the combined run reported them.
        names = combined["runs"][0]["algorithms"] if combined["runs"] else ALGORITHMS
        for name in names:
            print(f"e2e n={n:,}: import + run_analysis([{name}]) x{self.args.repeat}", flush=True)
            separate[name] = self.e2e(n, [name])
        total, rss = combined.get("total_s_median"), combined.get("peak_rss_mb_max")
        evaluated = n == TARGET_RECORDS
        targets = {
            "records": TARGET_RECORDS,
            "total_s_max": TARGET_TOTAL_S,
            "peak_rss_mb_max": TARGET_PEAK_RSS_MB,
            "evaluated": evaluated,
            "total_pass": (total is not None and total <= TARGET_TOTAL_S) if evaluated else None,
            "peak_rss_pass": (rss is not None and rss <= TARGET_PEAK_RSS_MB) if evaluated else None,
        }
        if not evaluated:
            targets["note"] = f"targets are defined for {TARGET_RECORDS:,} records; n={n:,}"
        return {
            "n_records": n,
            "all_algorithms": combined,
            "per_algorithm": separate,
            "targets": targets,
        }

    # -- itemsets

    def itemsets_at(self, n: int, tools: list[str]) -> dict[str, Any]:
        args = self.args
        prepared = self.tokens_file(n)
        min_count = max(1, round(args.support_pct / 100 * prepared["n_records"]))
        out: dict[str, Any] = {
            "n_records": prepared["n_records"],
            "vocabulary": prepared["vocabulary"],
            "min_count": min_count,
            "tools": {},
        }
        for tool in tools:
            print(f"itemsets n={n:,} min_count={min_count}: {tool} x{args.repeat}", flush=True)
            spec = {
                "task": "itemsets",
                "tool": tool,
                "npz": prepared["npz"],
                "vocab": prepared["vocab"],
                "min_count": min_count,
                "max_len": args.max_len,
                "repeat": args.repeat,
            }
            timeout = args.timeout
            if tool == "mlxtend":
                spec["budget_s"] = args.mlxtend_timeout
                timeout = args.mlxtend_timeout + LOAD_SLACK_S
            try:
                result = self.worker(spec, timeout)
            except (TimeoutError, WorkerFailed) as exc:
                out["tools"][tool] = {"error": str(exc), "timed_out": isinstance(exc, TimeoutError)}
                continue
            for key in ("itemsets_s", "rules_s", "total_s", "onehot_s", "fpgrowth_s"):
                if key in result:
                    result[key + "_median"] = round(median(result[key]), 4)
            out["tools"][tool] = result
        compare_itemsets(out)
        return out

    def section_itemsets(self) -> dict[str, Any]:
        args = self.args
        base_tools = ["ours", "pyfim_fpgrowth", "pyfim_eclat"]
        n = self.largest
        mlx_n = n if n <= args.mlxtend_max_records else args.mlxtend_max_records
        runs = [self.itemsets_at(n, [*base_tools, "mlxtend"] if mlx_n == n else base_tools)]
        attempts = []
        while True:
            if mlx_n != n:
                runs.append(self.itemsets_at(mlx_n, [*base_tools, "mlxtend"]))
            mlx = runs[-1]["tools"].get("mlxtend", {})
            attempts.append(
                {
                    "n_records": mlx_n,
                    "ok": "error" not in mlx,
                    "timed_out": bool(mlx.get("timed_out")),
                }
            )
            if "error" not in mlx or mlx_n // 10 < 1000:
                break
            n, mlx_n = mlx_n, mlx_n // 10
        note = (
            f"mlxtend runs on at most {args.mlxtend_max_records:,} records and "
            f"{args.mlxtend_timeout:.0f} s per worker (dense one-hot DataFrame); on a timeout "
            "it is retried on a 10x smaller generated set, and the mlxtend/ours ratio always "
            "compares runs on the same set"
        )
        for failure in (r for r in runs if not r["digests_identical"]):
            self.failures.append(f"itemset digests differ at n={failure['n_records']:,}")
        return {
            "min_support_pct": args.support_pct,
            "max_len": args.max_len,
            "min_confidence": MIN_CONFIDENCE[0] / MIN_CONFIDENCE[1],
            "targets": {
                "ours_over_pyfim_max": TARGET_OURS_OVER_PYFIM,
                "mlxtend_over_ours_min": TARGET_MLXTEND_OVER_OURS,
            },
            "mlxtend": {
                "max_records": args.mlxtend_max_records,
                "timeout_s": args.mlxtend_timeout,
                "attempts": attempts,
                "note": note,
            },
            "runs": runs,
        }

    # -- tokenize

    def section_tokenize(self) -> dict[str, Any]:
        n = self.largest
        limit = min(n, self.args.tokenize_records)
        print(f"tokenize: {limit:,} texts of the n={n:,} set x{self.args.repeat}", flush=True)
        spec = {
            "task": "tokenize",
            "path": str(self.records_file(n)),
            "limit": limit,
            "repeat": self.args.repeat,
        }
        out = self.worker(spec)
        tools = out["tools"]
        out["source_records"] = n
        out["ratios"] = {
            "bizlogic_over_jieba_filtered_speed": ratio(
                tools["bizlogic"]["records_per_s"], tools["jieba_filtered"]["records_per_s"]
            ),
            "bizlogic_over_jieba_raw_speed": ratio(
                tools["bizlogic"]["records_per_s"], tools["jieba_lcut_raw"]["records_per_s"]
            ),
        }
        return out

    # -- scaling

    def section_scaling(self) -> dict[str, Any]:
        points = []
        for n in sorted(self.args.sizes):
            e2e = self.all_algorithms(n)
            points.append(
                {
                    "n_records": n,
                    "import_s": e2e.get("import_s_median"),
                    "analysis_s": e2e.get("analysis_s_median"),
                    "total_s": e2e.get("total_s_median"),
                    "peak_rss_mb": e2e.get("peak_rss_mb_max"),
                    "us_per_record_total": per_record(e2e.get("total_s_median"), n),
                    "us_per_record_analysis": per_record(e2e.get("analysis_s_median"), n),
                    "errors": e2e.get("errors", []),
                }
            )
        steps = [growth_step(a, b) for a, b in itertools.pairwise(points)]
        return {
            "points": points,
            "steps": steps,
            "overall": growth_step(points[0], points[-1]) if len(points) > 2 else None,
            "note": "growth_ratio = time growth / size growth (1 = linear, > 1 = super-linear); "
            "exponent = log(time growth) / log(size growth) (t ∝ n^exponent: 1 = linear, "
            "2 = quadratic); steps are between consecutive sizes; times are medians",
        }


def growth_step(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    size_growth = round(b["n_records"] / a["n_records"], 3)
    step: dict[str, Any] = {
        "from": a["n_records"],
        "to": b["n_records"],
        "size_growth": size_growth,
    }
    for key in ("import_s", "analysis_s", "total_s"):
        name = key.removesuffix("_s")
        growth = ratio(b[key], a[key])
        step[name + "_time_growth"] = growth
        step[name + "_growth_ratio"] = ratio(growth, size_growth)
        step[name + "_exponent"] = (
            round(math.log(growth) / math.log(size_growth), 3)
            if growth and size_growth > 1
            else None
        )
    return step


# Fallback only: the orchestrator does not import bizlogic (it stays small).
ALGORITHMS = ("sentiment_correlation", "keyword_cooccurrence", "temporal_trends", "user_behavior")


def per_record(seconds: float | None, n: int) -> float | None:
    return None if seconds is None else round(seconds / n * 1e6, 3)


def summarise_e2e(runs: list[dict[str, Any]], errors: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"runs": runs, "repeats_done": len(runs)}
    if errors:
        out["errors"] = errors
    if not runs:
        return out
    for key in ("import_s", "analysis_s", "total_s"):
        out[key + "_median"] = round(median([r[key] for r in runs]), 3)
    out["peak_rss_mb_max"] = max(r["peak_rss_mb"] for r in runs)
    if all("vm_hwm_mb" in r for r in runs):
        out["vm_hwm_mb_max"] = max(r["vm_hwm_mb"] for r in runs)
    names = runs[0]["analysis_timings_s"].keys()
    out["analysis_timings_s_median"] = {
        name: round(median([r["analysis_timings_s"][name] for r in runs]), 4) for name in names
    }
    return out


def compare_itemsets(out: dict[str, Any]) -> None:
    """Digest agreement, rule counts and time ratios for one itemsets run (in place)."""
    tools = {name: t for name, t in out["tools"].items() if "error" not in t}
    digests = {name: t["digest"] for name, t in tools.items()}
    out["digests_identical"] = len(set(digests.values())) <= 1
    out["confident_rules"] = {name: t["confident_rules"] for name, t in tools.items()}
    ours = tools.get("ours", {})
    if "mlxtend" in tools and ours:
        out["rules_match_mlxtend"] = ours["confident_rules"] == tools["mlxtend"]["confident_rules"]

    def med(tool: str, key: str) -> float | None:
        return tools.get(tool, {}).get(key + "_median")

    pyfim_best = min(
        (v for v in (med("pyfim_fpgrowth", "itemsets_s"), med("pyfim_eclat", "itemsets_s")) if v),
        default=None,
    )
    ours_sets, ours_total = med("ours", "itemsets_s"), med("ours", "total_s")
    ratios = {
        "ours_over_pyfim_fpgrowth": ratio(ours_sets, med("pyfim_fpgrowth", "itemsets_s")),
        "ours_over_pyfim_eclat": ratio(ours_sets, med("pyfim_eclat", "itemsets_s")),
        "ours_over_pyfim_best": ratio(ours_sets, pyfim_best),
        "mlxtend_over_ours_itemsets": ratio(med("mlxtend", "itemsets_s"), ours_sets),
        "mlxtend_over_ours_with_rules": ratio(med("mlxtend", "total_s"), ours_total),
    }
    out["ratios"] = ratios
    best = ratios["ours_over_pyfim_best"]
    mlx = ratios["mlxtend_over_ours_with_rules"]
    out["targets_pass"] = {
        "ours_over_pyfim": None if best is None else best <= TARGET_OURS_OVER_PYFIM,
        "mlxtend_over_ours": None if mlx is None else mlx >= TARGET_MLXTEND_OVER_OURS,
    }


# --------------------------------------------------------------------------- report


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": version_of("numpy"),
        "scipy": version_of("scipy"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "bizlogic": version_of("superinsight-bizlogic"),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()
        info["memory_gb"] = round(int(mem[1]) / 1024**2, 1)
    except (OSError, IndexError, ValueError):
        pass
    return info


def fmt(value: Any, spec: str = ".3f") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return format(value, ".1f" if abs(value) >= 100 and spec == ".3f" else spec)
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def short(error: str) -> str:
    """First and last line of an error (the worker's traceback tail is in the JSON)."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    return " … ".join(dict.fromkeys([lines[0], lines[-1]])) if lines else ""


def table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        first = row[0].ljust(widths[0])
        print("  ".join([first, *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]))


def print_report(results: dict[str, Any]) -> None:
    if "e2e" in results:
        e2e = results["e2e"]
        rows = []
        for name, run_ in [("all four", e2e["all_algorithms"]), *e2e["per_algorithm"].items()]:
            rows.append(
                [
                    name,
                    run_.get("import_s_median"),
                    run_.get("analysis_s_median"),
                    run_.get("total_s_median"),
                    fmt(run_.get("peak_rss_mb_max"), ".1f"),
                    run_.get("repeats_done"),
                    short("; ".join(run_.get("errors", []))),
                ]
            )
        table(
            f"e2e, n={e2e['n_records']:,} (medians, s; peak RSS = max over runs, MB)",
            ["algorithms", "import", "analysis", "total", "peak RSS", "runs", "errors"],
            rows,
        )
        inner = e2e["all_algorithms"].get("analysis_timings_s_median", {})
        if inner:
            print(
                "  inside run_analysis (all four): "
                + ", ".join(f"{k} {v:.3f}s" for k, v in inner.items())
            )
        t = e2e["targets"]
        if t["evaluated"]:
            print(
                f"  targets: total ≤ {t['total_s_max']:.0f} s: {fmt(t['total_pass'])}; "
                f"peak RSS ≤ {t['peak_rss_mb_max']} MB: {fmt(t['peak_rss_pass'])}"
            )
        else:
            print(f"  targets not evaluated ({t['note']})")
    if "itemsets" in results:
        sec = results["itemsets"]
        for run_ in sec["runs"]:
            rows = []
            for name, tool in run_["tools"].items():
                if "error" in tool:
                    rows.append([name, None, None, None, None, None, None, short(tool["error"])])
                    continue
                rows.append(
                    [
                        name,
                        tool["itemsets_s_median"],
                        tool["rules_s_median"],
                        tool["total_s_median"],
                        tool["itemsets"],
                        tool["confident_rules"],
                        fmt(tool["peak_rss_mb"], ".1f"),
                        tool["digest"][:12],
                    ]
                )
            table(
                f"itemsets, n={run_['n_records']:,}, min_count={run_['min_count']} "
                f"({sec['min_support_pct']}%), max_len={sec['max_len']} (medians, s)",
                ["tool", "itemsets", "rules", "total", "n sets", "rules≥0.7", "RSS MB", "digest"],
                rows,
            )
            r, passed = run_["ratios"], run_["targets_pass"]
            print(
                f"  digests identical: {fmt(run_['digests_identical'])}; rule counts "
                f"{run_['confident_rules']}"
            )
            print(
                f"  ours/pyfim: fpgrowth {fmt(r['ours_over_pyfim_fpgrowth'], '.2f')}, "
                f"eclat {fmt(r['ours_over_pyfim_eclat'], '.2f')} (target ≤ "
                f"{TARGET_OURS_OVER_PYFIM:g} vs the faster: {fmt(passed['ours_over_pyfim'])})"
            )
            print(
                f"  mlxtend/ours: itemsets {fmt(r['mlxtend_over_ours_itemsets'], '.1f')}, "
                f"with rules {fmt(r['mlxtend_over_ours_with_rules'], '.1f')} (target ≥ "
                f"{TARGET_MLXTEND_OVER_OURS:g}: {fmt(passed['mlxtend_over_ours'])})"
            )
    if "tokenize" in results:
        tok = results["tokenize"]
        rows = [
            [name, t["median_s"], t["records_per_s"], t["tokens"]]
            for name, t in tok["tools"].items()
        ]
        repeats = len(tok["tools"]["bizlogic"]["seconds"])
        table(
            f"tokenize, {tok['texts']:,} demo texts (median of {repeats})",
            ["tokenizer", "seconds", "records/s", "tokens"],
            rows,
        )
        speed = tok["ratios"]["bizlogic_over_jieba_filtered_speed"]
        print(
            f"  bizlogic/jieba(filtered) speed: {fmt(speed, '.2f')}; same keyword sets on "
            f"{tok['same_keyword_sets_share']:.1%} of texts"
        )
    if "scaling" in results:
        sc = results["scaling"]
        rows = [
            [
                p["n_records"],
                p["import_s"],
                p["analysis_s"],
                p["total_s"],
                fmt(p["us_per_record_total"], ".1f"),
                fmt(p["peak_rss_mb"], ".1f"),
            ]
            for p in sc["points"]
        ]
        table(
            "scaling: e2e, all four algorithms (medians)",
            ["records", "import s", "analysis s", "total s", "µs/record", "peak RSS MB"],
            rows,
        )
        for s in [*sc["steps"], *([sc["overall"]] if sc["overall"] else [])]:
            print(
                f"  {s['from']:,} -> {s['to']:,} (x{s['size_growth']:g}): total time "
                f"x{fmt(s['total_time_growth'], '.2f')}, growth ratio "
                f"{fmt(s['total_growth_ratio'], '.2f')} (exponent "
                f"{fmt(s['total_exponent'], '.2f')}); analysis growth ratio "
                f"{fmt(s['analysis_growth_ratio'], '.2f')}"
            )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        help="comma-separated record counts (default: %(default)s)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"sections to run, comma-separated from {', '.join(SECTIONS)}",
    )
    default_out = ROOT / "benchmarks" / "results" / f"mining-{today}.json"
    parser.add_argument("--out", default=str(default_out))
    parser.add_argument("--workdir", default="/tmp/bl-bench", help="generated data cache")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--support-pct",
        type=float,
        default=0.5,
        help="itemsets: min support in %% of records (default: %(default)s)",
    )
    parser.add_argument("--max-len", type=int, default=3)
    parser.add_argument(
        "--mlxtend-max-records",
        type=int,
        default=1_000_000,
        help="largest set given to mlxtend (default: %(default)s)",
    )
    parser.add_argument(
        "--mlxtend-timeout",
        type=float,
        default=900.0,
        help="seconds for all repeats of one mlxtend measurement",
    )
    parser.add_argument(
        "--tokenize-records", type=int, default=50_000, help="texts timed in the tokenize section"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1200.0,
        help="seconds per measurement subprocess (default: %(default)s)",
    )
    parser.add_argument(
        "--memory-limit-gb",
        type=float,
        default=16.0,
        help="address-space limit of each measurement subprocess",
    )
    parser.add_argument(
        "--skip-install", action="store_true", help="do not pip-install missing reference tools"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is None:
        args.sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
        args.only = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = set(args.only) - set(SECTIONS)
        if unknown or not args.sizes or args.repeat < 1:
            parser.error(f"bad --only {sorted(unknown)} / --sizes / --repeat")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        worker_main(args.worker)
        return 0
    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine_info(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "sizes": args.sizes,
        "repeat": args.repeat,
        "seed": args.seed,
        "sections_run": args.only,
        "load_average_start": list(os.getloadavg()),
    }
    needs_tools = {"itemsets", "tokenize"} & set(args.only)
    if needs_tools and not args.skip_install:
        results["reference_tools"] = ensure_tools()
    elif needs_tools:
        results["reference_tools"] = {
            "versions": {d: version_of(d) for d in [*BENCH_MODULES.values(), "rjieba"]}
        }
    print(
        f"sizes {args.sizes}, repeat {args.repeat}, sections {args.only}, workdir {args.workdir}",
        flush=True,
    )
    bench = Bench(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for section in SECTIONS:
        if section in args.only:
            try:
                results[section] = getattr(bench, f"section_{section}")()
            except (TimeoutError, WorkerFailed) as exc:
                bench.failures.append(f"{section}: {exc}")
                results[section] = {"error": str(exc)}
                print(f"section {section} failed: {exc}", file=sys.stderr)
            # Saved after every section: a long run keeps what it measured.
            out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    results["load_average_end"] = list(os.getloadavg())
    results["wall_s"] = round(time.perf_counter() - started, 1)
    results["failures"] = bench.failures
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print_report({k: v for k, v in results.items() if isinstance(v, dict) and "error" not in v})
    print(f"\nresults: {out} ({results['wall_s']:.0f} s)")
    for failure in bench.failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
