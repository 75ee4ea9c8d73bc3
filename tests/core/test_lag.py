"""The receive-lag histogram: per event on the hot path, per run of deltas in one call."""

from __future__ import annotations

import pytest

from venuefeed.core.observe.metrics import LagHistogram


def test_lag_of_a_run_is_the_lag_of_each_delta():
    one, run = LagHistogram(), LagHistogram()
    stamps = [1_000, 999, 1_003, 990, 400, 1_000 - 7_000]
    for ts in stamps:
        one.observe_ms(1_001 - ts)
    run.observe_all_ms(1_001, stamps)
    assert (run.counts, run.negative) == (one.counts, one.negative) == (run.counts, 1)
    assert run.sum_s == pytest.approx(one.sum_s)
    assert run.cumulative() == one.cumulative()


@pytest.mark.parametrize(
    ("lag_ms", "bucket"), [(0, "0.001"), (1, "0.001"), (2, "0.0025"), (3, "0.005"), (5001, "+Inf")]
)
def test_a_whole_millisecond_lag_lands_in_the_first_bucket_that_holds_it(lag_ms, bucket):
    hist = LagHistogram()
    hist.observe_ms(lag_ms)
    first = next(name for name, count in hist.cumulative() if count == 1)
    assert first == bucket
