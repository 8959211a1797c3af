"""Run every query of the Grafana dashboard against a Prometheus and say what each returns.

Grafana is not needed: the script fills in ``$__rate_interval`` (4 × the scrape
interval, as Grafana does; default 1m) and prints, per panel, the number of
series each query returns. Exit code 1 when a query is rejected.

    .venv/bin/python scripts/check_dashboard.py --prometheus http://127.0.0.1:9090
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import httpx

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy/grafana/dashboards/business-logic.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prometheus", default="http://127.0.0.1:9090")
    parser.add_argument("--rate-interval", default="1m")
    args = parser.parse_args()
    rejected = 0
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", args.rate_interval)
            answer = httpx.get(f"{args.prometheus}/api/v1/query", params={"query": expr}).json()
            if answer["status"] != "success":
                rejected += 1
                print(f"REJECTED  {panel['title']}: {answer.get('error')}\n          {expr}")
                continue
            series = len(answer["data"]["result"])
            print(f"{series:>3} series  {panel['title']} [{target['refId']}]")
    return 1 if rejected else 0


if __name__ == "__main__":
    sys.exit(main())
