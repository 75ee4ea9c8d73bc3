from __future__ import annotations

from venuefeed.core.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failures=3, window_s=10.0, cooldown_s=5.0, clock=clock)


def test_opens_after_failures_within_window_then_half_opens():
    clock = Clock()
    b = make(clock)
    for _ in range(2):
        b.record_failure()
        assert b.state is BreakerState.CLOSED
    assert b.record_failure() is BreakerState.OPEN
    assert not b.allow_attempt()
    assert b.remaining_s() == 5.0
    clock.now = 5.0
    assert b.state is BreakerState.HALF_OPEN
    assert b.allow_attempt()
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.opened_count == 1


def test_failures_outside_the_window_do_not_count():
    clock = Clock()
    b = make(clock)
    for t in (0.0, 6.0, 12.0, 18.0):
        clock.now = t
        b.record_failure()
    assert b.state is BreakerState.CLOSED


def test_failure_while_half_open_reopens():
    clock = Clock()
    b = make(clock)
    for _ in range(3):
        b.record_failure()
    clock.now = 6.0
    assert b.allow_attempt()
    assert b.state is BreakerState.HALF_OPEN
    assert b.record_failure() is BreakerState.OPEN
    assert not b.allow_attempt()
    assert b.opened_count == 2


def test_nothing_to_wait_for_unless_open():
    clock = Clock()
    b = make(clock)
    assert b.remaining_s() == 0.0
    b.record_failure()
    assert b.remaining_s() == 0.0


def test_a_failure_exactly_window_old_still_counts():
    clock = Clock()
    b = make(clock)  # 3 failures within 10 s
    for t in (0.0, 5.0, 10.0):
        clock.now = t
        b.record_failure()
    assert b.state is BreakerState.OPEN  # the one at 0.0 is 10.0 old: inside the window
