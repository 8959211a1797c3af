"""Record upsert speed on SQLite and PostgreSQL: first import, re-import, small change.

Generates ``--records`` demo records once, tokenizes them once (not timed),
then per backend on a fresh schema times one transaction each for: the first
import, re-importing the same records (nothing changes), re-importing with 1 %
of the texts changed, and building the project's Dataset from the stored
tokens. PostgreSQL runs in a scratch database created through ``--pg-admin``
and dropped afterwards; without a reachable server that backend is recorded
as skipped.

    python benchmarks/store_upsert.py --records 100000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bizlogic.records.schema import Record, record_from_mapping
from bizlogic.records.synthetic import iter_record_chunks
from bizlogic.records.tokenizer import Tokenizer
from bizlogic.store import migrations
from bizlogic.store.annotations import build_project_dataset, upsert_records
from bizlogic.store.db import Database


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = action()
    return value, round(time.perf_counter() - started, 3)


def run(url: str, records: list[Record], tokens: list[list[str]]) -> dict[str, Any]:
    migrations.downgrade(url, "base")
    migrations.upgrade(url)
    database = Database(url)
    tokenizer = Tokenizer()
    changed = list(records)
    changed_tokens = list(tokens)
    for i in range(0, len(records), 100):  # 1 %
        changed[i] = replace(records[i], text=records[i].text + " (edited)")
        changed_tokens[i] = tokenizer.record_tokens(changed[i].text, changed[i].keywords)

    def upsert(batch: list[Record], batch_tokens: list[list[str]]) -> Callable[[], Any]:
        def action() -> Any:
            with database.scope() as session:
                return upsert_records(session, "bench", batch, batch_tokens)

        return action

    def dataset() -> int:
        with database.scope() as session:
            return len(build_project_dataset(session, "bench"))

    out: dict[str, Any] = {}
    try:
        for name, action in (
            ("first_import", upsert(records, tokens)),
            ("reimport_unchanged", upsert(records, tokens)),
            ("reimport_1pct_changed", upsert(changed, changed_tokens)),
        ):
            counts, seconds = timed(action)
            out[name] = {
                "seconds": seconds,
                "records_per_s": round(len(records) / seconds),
                "inserted": counts.inserted,
                "updated": counts.updated,
            }
        size, seconds = timed(dataset)
        out["build_dataset"] = {"seconds": seconds, "records": size}
    finally:
        database.dispose()
    return out


def postgres(admin_url: str, action: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    import psycopg

    name = f"bl_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        return {"skipped": f"PostgreSQL not reachable: {exc}"}
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            return action(f"{base}/{name}")
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    records = [
        record_from_mapping(row)
        for chunk in iter_record_chunks(args.records, seed=args.seed)
        for row in chunk
    ]
    tokenizer = Tokenizer()
    tokens = [tokenizer.record_tokens(r.text, r.keywords) for r in records]
    result: dict[str, Any] = {
        "date": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "records": len(records),
    }
    with tempfile.TemporaryDirectory() as tmp:
        result["sqlite"] = run(f"sqlite:///{tmp}/bench.db", records, tokens)
    result["postgresql"] = postgres(args.pg_admin, lambda url: run(url, records, tokens))
    for backend in ("sqlite", "postgresql"):
        figures = result[backend]
        if "skipped" in figures:
            print(f"{backend:<10} skipped: {figures['skipped']}")
            continue
        print(
            f"{backend:<10} "
            + "  ".join(
                f"{name} {figures[name]['seconds']:.2f} s"
                for name in ("first_import", "reimport_unchanged", "reimport_1pct_changed")
            )
            + f"  dataset {figures['build_dataset']['seconds']:.2f} s"
        )
    stamp = f"{datetime.now(tz=UTC):%Y-%m-%d}"
    out = args.out or Path("benchmarks/results") / f"store-upsert-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
