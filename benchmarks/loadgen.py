"""Open-loop HTTP load generator, run as its own process by ``benchmarks/api.py``.

Requests are scheduled at a fixed rate (request i at ``t0 + i / rate``) over a
pool of keep-alive connections, and each latency is measured from the
*scheduled* time, not from when a connection became free: a slow server
cannot hide its queueing by slowing the client down (coordinated omission).
With ``--rate 0`` it is closed-loop instead: every connection sends its next
request as soon as the previous answer arrived (maximum throughput).

Requests come from a JSONL file, one ``{"method", "path", "headers", "body"}``
per line, used in turn; the result is one JSON document on stdout.

    python benchmarks/loadgen.py --url http://127.0.0.1:8000 --requests reqs.jsonl \\
        --rate 500 --duration 15 --connections 8
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import h11

try:  # the service itself runs on uvloop; the client should not be the slower loop
    import uvloop
except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
    uvloop = None


@dataclass
class Prepared:
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    late: int = 0  # sent more than 1 ms after their scheduled time


def prepare(lines: list[dict], host: str) -> list[Prepared]:
    prepared = []
    for line in lines:
        body = line.get("body")
        raw = b"" if body is None else json.dumps(body).encode()
        headers = [(b"host", host.encode()), (b"content-length", str(len(raw)).encode())]
        if raw:
            headers.append((b"content-type", b"application/json"))
        headers += [(k.lower().encode(), v.encode()) for k, v in line.get("headers", {}).items()]
        prepared.append(
            Prepared(line.get("method", "GET").encode(), line["path"].encode(), headers, raw)
        )
    return prepared


async def exchange(reader, writer, conn: h11.Connection, request: Prepared) -> int:
    writer.write(
        conn.send(
            h11.Request(method=request.method, target=request.target, headers=request.headers)
        )
        + conn.send(h11.Data(data=request.body))
        + conn.send(h11.EndOfMessage())
    )
    status = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(262_144)
            if not data:
                raise ConnectionError("server closed the connection")
            conn.receive_data(data)
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.EndOfMessage):
            conn.start_next_cycle()
            return status


async def run(args: argparse.Namespace, requests: list[Prepared]) -> dict:
    parts = urlsplit(args.url)
    clock = time.perf_counter  # uvloop's loop.time() only has millisecond resolution
    total = int(args.rate * args.duration) if args.rate > 0 else None
    counter = itertools.count()
    tally = Tally()
    started = clock() + 0.2  # all connections open before the first slot
    deadline = started + args.duration

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        conn = h11.Connection(h11.CLIENT)
        try:
            while True:
                i = next(counter)
                if total is not None:
                    if i >= total:
                        return
                    scheduled = started + i / args.rate
                    delay = scheduled - clock()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    elif delay < -0.001:
                        tally.late += 1
                else:
                    scheduled = clock()
                    if scheduled >= deadline:
                        return
                    if scheduled < started:
                        await asyncio.sleep(started - scheduled)
                        scheduled = clock()
                try:
                    status = await exchange(reader, writer, conn, requests[i % len(requests)])
                except (ConnectionError, h11.ProtocolError, OSError) as exc:
                    name = type(exc).__name__
                    tally.errors[name] = tally.errors.get(name, 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                    conn = h11.Connection(h11.CLIENT)
                    continue
                tally.latencies.append(clock() - scheduled)
                tally.statuses[status] = tally.statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(args.connections)))
    elapsed = clock() - started
    return summarise(args, tally, elapsed)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: a reported p95 was really observed)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


def summarise(args: argparse.Namespace, tally: Tally, elapsed: float) -> dict:
    ms = sorted(value * 1000 for value in tally.latencies)
    return {
        "mode": "open-loop" if args.rate > 0 else "closed-loop",
        "target_rate": args.rate or None,
        "connections": args.connections,
        "duration_s": round(elapsed, 3),
        "completed": len(ms),
        "achieved_rate": round(len(ms) / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "errors": tally.errors,
        "late_sends": tally.late,
        "latency_ms": {
            "p50": round(percentile(ms, 50), 3),
            "p90": round(percentile(ms, 90), 3),
            "p95": round(percentile(ms, 95), 3),
            "p99": round(percentile(ms, 99), 3),
            "max": round(ms[-1], 3) if ms else None,
            "mean": round(statistics.fmean(ms), 3) if ms else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=Path, required=True, help="JSONL of requests")
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s; 0 = closed loop")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    lines = [json.loads(line) for line in args.requests.read_text("utf-8").splitlines() if line]
    requests = prepare(lines, urlsplit(args.url).netloc)
    began = time.perf_counter()
    result = (uvloop.run if uvloop is not None else asyncio.run)(run(args, requests))
    result["client_cpu_s"] = round(time.process_time(), 3)
    result["wall_s"] = round(time.perf_counter() - began, 3)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
