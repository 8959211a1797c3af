"""Dramatiq on Redis, the job engine of Redis mode: broker set-up and messages by job id.

Every analysis message carries the job id as its Dramatiq message id, so the
reconciler can ask Redis which jobs the broker still holds (queued, delayed
for a retry, or fetched by a worker and not yet acknowledged: all of them stay
in the queue's message hash until acknowledged) before sending one again.
A job delivered twice anyway is harmless: only one delivery can claim it.
"""

from __future__ import annotations

from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name
from dramatiq.middleware import Retries, TimeLimit
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from bizlogic.settings import Settings

QUEUE = "analyses"
ACTOR = "run_analysis_job"
NAMESPACE = "dramatiq"
# Share (per million broker commands) that also requeue the messages of workers whose
# heartbeat is older than job_stale_s. Dramatiq's default (0.1 %) can leave a dead
# worker's job unnoticed for many minutes on an idle queue; 5 % of the ~1 fetch/s of an
# idle worker finds it within seconds, and each pass is one Lua call.
MAINTENANCE_CHANCE = 50_000
# Backoff between retries after a transient error (Dramatiq adds jitter).
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60_000
# Dramatiq's own time limit is only the backstop: the job's token enforces
# BL_ANALYSIS_TIMEOUT_S at every progress report and records the reason.
TIME_LIMIT_GRACE_S = 120


def _retry_when(retries: int, exc: BaseException) -> bool:
    from bizlogic.jobs.execute import TransientJobError

    # The job record's attempt count bounds retries (execute_job fails the job when it
    # is exhausted); this cap only guards against a loop if the database is unreachable.
    return isinstance(exc, TransientJobError) and retries < 50


def make_broker(settings: Settings) -> RedisBroker:
    if not settings.redis_url:
        raise ValueError("redis_url: Redis mode needs BL_REDIS_URL")
    broker = RedisBroker(
        url=settings.redis_url,
        namespace=NAMESPACE,
        heartbeat_timeout=int(settings.job_stale_s * 1000),
        maintenance_chance=MAINTENANCE_CHANCE,
        middleware=[
            TimeLimit(time_limit=int((settings.analysis_timeout_s + TIME_LIMIT_GRACE_S) * 1000)),
            Retries(
                max_retries=50,
                min_backoff=MIN_BACKOFF_MS,
                max_backoff=MAX_BACKOFF_MS,
                retry_when=_retry_when,
            ),
        ],
    )
    broker.declare_queue(QUEUE)
    broker.declare_queue(dq_name(QUEUE))
    return broker


def enqueue_job(broker: RedisBroker, job_id: str) -> None:
    """Send the job to the workers (raises redis.RedisError when Redis is unreachable)."""
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=QUEUE,
        actor_name=ACTOR,
        args=(job_id,),
        kwargs={},
        options={},
        message_id=job_id,
    )
    broker.enqueue(message)


def held_job_ids(broker: RedisBroker) -> set[str]:
    """Ids of the jobs that have a message in Redis, read with HSCAN (never KEYS)."""
    held: set[str] = set()
    for queue in (QUEUE, dq_name(QUEUE)):
        for _, data in broker.client.hscan_iter(f"{NAMESPACE}:{queue}.msgs", count=500):
            held.add(dramatiq.Message.decode(data).message_id)
    return held


def queue_depth(broker: RedisBroker) -> int:
    """Messages waiting to be picked up (ready now or delayed for a retry)."""
    client = broker.client
    with client.pipeline(transaction=False) as pipe:
        pipe.llen(f"{NAMESPACE}:{QUEUE}")
        pipe.llen(f"{NAMESPACE}:{dq_name(QUEUE)}")
        ready, delayed = pipe.execute()
    return int(ready) + int(delayed)


def queue_depth_family(broker: RedisBroker) -> list[Metric]:
    """``bl_queue_depth`` read at scrape time; absent (not 0) when Redis does not answer."""
    try:
        depth = queue_depth(broker)
    except redis.RedisError:
        return []
    return [
        GaugeMetricFamily(
            "bl_queue_depth",
            "Analysis jobs waiting in the broker (ready now or delayed for a retry).",
            value=depth,
        )
    ]
