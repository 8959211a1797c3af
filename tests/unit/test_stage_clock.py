"""A failed or cancelled job times each algorithm by the stages it reached, not the whole
job's elapsed time for every algorithm."""

from __future__ import annotations

import itertools

import pytest

from bizlogic.jobs import execute


def test_each_stage_lasts_until_the_next_began(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = itertools.chain([10.0, 12.5, 20.0], itertools.repeat(26.0))
    monkeypatch.setattr(execute.time, "perf_counter", lambda: next(ticks))
    clock = execute.StageClock()
    clock.enter("sentiment_correlation")  # 10.0
    clock.enter("sentiment_correlation")  # a repeated report does not restart it
    clock.enter("keyword_cooccurrence")  # 12.5
    clock.enter("temporal_trends")  # 20.0; failed at 26.0
    assert clock.durations() == {
        "sentiment_correlation": 2.5,
        "keyword_cooccurrence": 7.5,
        "temporal_trends": 6.0,
    }  # user_behavior never started: no duration at all
