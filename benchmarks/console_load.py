"""The console's page weight and time to first render, in Debian's Chromium.

A `bizlogic serve` of its own (a fresh data directory, seeded demo records,
one analysis) is opened in headless Chromium through Playwright, each page N
times in a fresh browser context (empty cache, as a first visit):

- bytes: what the network carried (compressed), by resource type;
- first contentful paint, from the browser's own Paint Timing;
- drawn: navigation start to the page's heading and, on chart pages, every
  chart's SVG in place (the console marks a drawn chart ``data-drawn``).

The named reference, measured in the same run: the service's own API
reference page (`/docs`, Swagger UI served from the package), a page an
operator already opens on the same server. Medians and the ratio console/docs.

    .venv/bin/python benchmarks/console_load.py                # 5 runs per page
    .venv/bin/python benchmarks/console_load.py --repeat 3 --out /tmp/console.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
EXE = str(Path(sys.executable).parent / "bizlogic")
PAGES = {
    "projects": ("#/projects", []),
    "rules": ("#/projects/demo/rules", []),
    "insights": ("#/projects/demo/insights", ["chart-annotators", "chart-bias", "chart-trends"]),
    "charts": (
        "#/projects/demo/charts",
        ["chart-network", "chart-matrix", "chart-timeline", "chart-dashboard"],
    ),
}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([EXE, *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def _serve(home: Path, records: int) -> tuple[subprocess.Popen[bytes], str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BL_")}
    env["BL_DATA_DIR"] = str(home / "data")
    data = home / "records.jsonl"
    _run(env, "demo-data", str(data), "--records", str(records), "--seed", "7")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [EXE, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.2)
    token = _run(env, "token", "create", "--user", "bench", "--role", "system_admin")
    auth = {"Authorization": f"Bearer {token}"}
    sent = httpx.post(
        f"{url}/api/business-logic/projects/demo/records",
        content=data.read_bytes(),
        headers={**auth, "Content-Type": "application/x-ndjson"},
        timeout=300,
    )
    sent.raise_for_status()
    job = httpx.post(
        f"{url}/api/business-logic/analyze", json={"project_id": "demo"}, headers=auth
    ).json()
    while True:
        state = httpx.get(f"{url}/api/business-logic/jobs/{job['job_id']}", headers=auth).json()
        if state["status"] in ("completed", "failed"):
            break
        time.sleep(0.2)
    return server, url, token


def _measure(browser: Any, url: str, token: str | None, charts: list[str]) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    if token:  # signed in as the console keeps it: this tab's sessionStorage
        context.add_init_script(f"sessionStorage.setItem('bl-token', {json.dumps(token)})")
    page = context.new_page()
    sizes: dict[str, int] = {}

    def finished(request: Any) -> None:
        response = request.response()
        if response is None:
            return
        encoded = int(response.headers.get("content-length") or 0)
        if not encoded:
            encoded = request.sizes()["responseBodySize"]
        sizes[request.resource_type] = sizes.get(request.resource_type, 0) + encoded

    page.on("requestfinished", finished)
    started = time.perf_counter()
    page.goto(url)
    if token:
        page.locator("#main:not([aria-busy]) h1").wait_for(timeout=60_000)
        for chart in charts:
            page.locator(f"#{chart}[data-drawn]").wait_for(timeout=60_000)
    else:
        page.locator(".swagger-ui .info").wait_for(timeout=60_000)
    drawn = time.perf_counter() - started
    paints = page.evaluate(
        "JSON.stringify(performance.getEntriesByType('paint').map(p => [p.name, p.startTime]))"
    )
    fcp = dict(json.loads(paints)).get("first-contentful-paint")
    context.close()
    return {"bytes": sizes, "total_bytes": sum(sizes.values()), "fcp_ms": fcp, "drawn_s": drawn}


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs if r[key] is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / f"console-load-{stamp}.json"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, url, token = _serve(Path(tmp), args.records)
        try:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=args.chromium)
                results: dict[str, Any] = {}
                reference = [_measure(browser, f"{url}/docs", None, []) for _ in range(args.repeat)]
                results["reference_docs"] = {
                    "median_total_bytes": _median(reference, "total_bytes"),
                    "median_fcp_ms": _median(reference, "fcp_ms"),
                    "median_drawn_s": _median(reference, "drawn_s"),
                }
                for name, (hash_, charts) in PAGES.items():
                    runs = [
                        _measure(browser, f"{url}/console/{hash_}", token, charts)
                        for _ in range(args.repeat)
                    ]
                    results[name] = {
                        "median_total_bytes": _median(runs, "total_bytes"),
                        "bytes_by_type": runs[-1]["bytes"],
                        "median_fcp_ms": _median(runs, "fcp_ms"),
                        "median_drawn_s": _median(runs, "drawn_s"),
                        "drawn_vs_docs": _median(runs, "drawn_s")
                        / results["reference_docs"]["median_drawn_s"],
                        "bytes_vs_docs": _median(runs, "total_bytes")
                        / results["reference_docs"]["median_total_bytes"],
                    }
                browser.close()
        finally:
            server.terminate()
            server.wait(30)
    report = {
        "benchmark": "console_load",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "repeat": args.repeat,
        "records": args.records,
        "pages": results,
    }
    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
