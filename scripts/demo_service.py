"""`make demo`, service part: start `bizlogic serve`, feed it over HTTP, print where to look.

Starts the server in the background on the embedded default (SQLite and a
generated secret under demo/data), imports the demo records through the API,
runs an analysis, prints a summary, the URLs and an admin token, and leaves
the server running (`make demo-stop` stops it).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

BASE = "/api/business-logic"


def _stop_previous(pid_file: Path) -> None:
    if not pid_file.exists():
        return
    try:
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        print(f"stopped the previous demo server (pid {pid_file.read_text().strip()})")
    except (ProcessLookupError, ValueError):
        pass  # already gone: nothing to stop
    pid_file.unlink()


def _wait(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    sys.exit(f"error: timed out waiting for {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path)
    parser.add_argument("--dir", type=Path, default=Path("demo"))
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--project", default="demo")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    data_dir = (args.dir / "data").resolve()
    pid_file = args.dir / "serve.pid"
    env = {
        **os.environ,
        "BL_DATA_DIR": str(data_dir),
        "BL_LOG_FILE": str((args.dir / "serve.log").resolve()),
    }
    _stop_previous(pid_file)
    url = f"http://127.0.0.1:{args.port}"
    try:
        httpx.get(f"{url}/livez", timeout=1)
        sys.exit(f"error: port {args.port} is in use; run `make demo DEMO_PORT=<free port>`")
    except httpx.TransportError:
        pass  # free, as it should be
    server = subprocess.Popen(
        [str(bin_dir / "bizlogic"), "serve", "--port", str(args.port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    pid_file.write_text(str(server.pid))

    def alive() -> bool:
        if server.poll() is not None:
            sys.exit(f"error: the server exited; see {args.dir / 'serve.log'}")
        try:
            return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    _wait(alive, 60, "the server")

    def token(*extra: str) -> str:
        """An admin token (or, with --open, a one-time sign-in link) for 7 days."""
        made = subprocess.run(
            [
                *(str(bin_dir / "bizlogic"), "token", "create", "--user", "demo-admin"),
                *("--role", "system_admin", "--ttl", "7d", *extra),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return made.stdout.strip().splitlines()[-1]

    admin_token = token()
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=120
    ) as client:
        imported = client.post(
            f"{BASE}/projects/{args.project}/records",
            content=args.records.read_bytes(),
            headers={"Content-Type": "application/x-ndjson"},
        ).json()
        print(
            f"imported over HTTP: {imported['imported']} new, {imported['updated']} updated, "
            f"{imported['unchanged']} unchanged, {imported['rejected']} rejected"
        )
        job = client.post(f"{BASE}/analyze", json={"project_id": args.project}).json()

        def finished():
            state = client.get(job["status_url"]).json()
            return state if state["status"] in ("completed", "failed", "cancelled") else None

        state = _wait(finished, 300, "the analysis")
        if state["status"] != "completed":
            sys.exit(f"error: analysis {state['status']}: {state['error']}")
        results = state["results"]
        print(
            f"analysis {job['job_id']}: {results['rules']} rules, {results['patterns']} "
            f"patterns, {results['insights']} insights, pattern accuracy "
            f"{results['pattern_accuracy']:.2f}"
        )
        top = client.get(f"{BASE}/rules/{args.project}", params={"limit": 5}).json()["rules"]
        for rule in top:
            print(
                f"  {rule['pattern']}  (confidence {rule['confidence']:.2f}, "
                f"support {rule['support_count']})"
            )
    link = token("--open", "--url", url)
    print(f"""
The service is running (pid {server.pid}, data in {data_dir}):
  console    {url}/console/  (sign in with the token below, or open this link
             once, within 10 minutes: {link} )
  API docs   {url}/docs
  health     {url}{BASE}/health
  metrics    {url}/metrics
  rules      curl -H "Authorization: Bearer $TOKEN" {url}{BASE}/rules/{args.project}
  report     BL_DATA_DIR={data_dir} BL_LOG_FILE={env["BL_LOG_FILE"]} \\
               {bin_dir / "bizlogic"} report --hours 1 --html report.html
Admin token (7 days):
TOKEN={admin_token}
Stop it with: make demo-stop""")


if __name__ == "__main__":
    main()
