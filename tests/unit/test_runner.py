import os
import sys
import threading

import pytest

from bizlogic.jobs.runner import (
    GIL_SWITCH_INTERVAL_S,
    JOB_THREAD_NICE,
    CancelToken,
    InProcessRunner,
    JobCancelled,
)


def test_runs_jobs_with_bounded_concurrency():
    running, peak, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def execute(job_id, token):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(timeout=10)
        with lock:
            running[0] -= 1

    runner = InProcessRunner(execute, max_workers=2)
    futures = [runner.submit(f"j{i}") for i in range(5)]
    release.set()
    for future in futures:
        future.result(timeout=10)
    assert peak[0] <= 2
    assert runner.pending == 0
    runner.shutdown()


def test_cancel_stops_a_running_job_at_its_next_check():
    started, outcome = threading.Event(), {}

    def execute(job_id, token):
        started.set()
        try:
            while True:
                token.check()
                sum(range(1000))  # a unit of work
        except JobCancelled:
            outcome[job_id] = "cancelled"

    runner = InProcessRunner(execute, max_workers=1)
    future = runner.submit("j1")
    assert started.wait(timeout=10)
    assert runner.cancel("j1") is True
    future.result(timeout=10)
    assert outcome == {"j1": "cancelled"}
    assert runner.cancel("j1") is False  # no longer held
    runner.shutdown()


def test_queued_job_cancelled_before_start_never_executes():
    gate, executed = threading.Event(), []

    def execute(job_id, token):
        if job_id == "first":
            gate.wait(timeout=10)
        executed.append(job_id)

    runner = InProcessRunner(execute, max_workers=1)
    first = runner.submit("first")
    second = runner.submit("second")
    assert runner.cancel("second")
    gate.set()
    first.result(timeout=10)
    second.result(timeout=10)
    assert executed == ["first"]
    runner.shutdown()


def test_token():
    token = CancelToken()
    token.check()
    token.cancel()
    with pytest.raises(JobCancelled):
        token.check()


def test_job_threads_run_below_the_event_loop_priority() -> None:
    """Linux gives each thread its own nice value; the job threads raise theirs."""

    def own_nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    seen: list[int] = []
    runner = InProcessRunner(lambda job_id, token: seen.append(own_nice()), max_workers=1)
    runner.submit("j").result(timeout=10)
    runner.shutdown()
    assert seen == [min(own_nice() + JOB_THREAD_NICE, 19)]
    assert sys.getswitchinterval() <= GIL_SWITCH_INTERVAL_S
