from __future__ import annotations

import pytest

from venuefeed.core.retry import Retry, backoff_delay
from venuefeed.core.settings import Policy


def delays(n: int, **kw: float) -> list[float]:
    params = {"initial_s": 0.5, "max_s": 30.0, "multiplier": 2.0, "jitter": 0.0, **kw}
    return [backoff_delay(a, **params) for a in range(n)]  # type: ignore[arg-type]


def test_grows_exponentially_then_caps():
    assert delays(8) == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_jitter_stays_within_bounds_and_cap():
    lo = backoff_delay(2, initial_s=1, max_s=30, multiplier=2, jitter=0.25, rand=lambda: 0.0)
    hi = backoff_delay(2, initial_s=1, max_s=30, multiplier=2, jitter=0.25, rand=lambda: 1.0)
    assert (lo, hi) == (3.0, 5.0)
    capped = backoff_delay(10, initial_s=1, max_s=30, multiplier=2, jitter=0.5, rand=lambda: 1.0)
    assert capped == 30.0


def test_huge_attempt_does_not_overflow():
    assert backoff_delay(100_000, initial_s=1, max_s=7, multiplier=10, jitter=0) == 7


def test_negative_attempt_rejected():
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(-1, initial_s=1, max_s=2, multiplier=2, jitter=0)


def test_counter_resets_to_initial_delay():
    b = Retry(Policy(backoff_initial_s=0.5, backoff_max_s=4, backoff_jitter=0))
    assert [b.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    b.reset()
    assert b.next_delay() == 0.5


def test_retry_after_is_a_floor_capped_at_five_minutes():
    policy = Policy(backoff_initial_s=0.5, backoff_jitter=0.0)
    backoff = Retry(policy)
    assert backoff.next_delay(retry_after_s=7.0) == 7.0
    assert backoff.next_delay(retry_after_s=0.1) == 1.0  # never shorter than the backoff
    assert backoff.next_delay(retry_after_s=86_400) == 300.0
    assert backoff.attempt == 3


def test_an_overflowing_exponent_gives_the_cap():
    assert backoff_delay(10_000, initial_s=1, max_s=30, multiplier=10, jitter=0.0) == 30.0


def test_jitter_scales_the_base_by_a_factor_around_one():
    delay = backoff_delay(1, initial_s=1, max_s=30, multiplier=2, jitter=0.5, rand=lambda: 0.25)
    assert delay == 2.0 * 0.75


def test_a_retry_uses_its_own_randomness():
    policy = Policy(backoff_initial_s=1.0, backoff_jitter=0.5)
    assert Retry(policy, rand=lambda: 1.0).next_delay() == 1.5
    assert Retry(policy, rand=lambda: 0.0).next_delay() == 0.5
    assert Retry(policy, max_s=0.2, rand=lambda: 0.5).next_delay() == 0.2


def test_only_errors_that_say_so_are_retriable():
    from venuefeed.core.errors import ConfigError, RestError
    from venuefeed.core.retry import retriable, retry_after_of

    assert retriable(RestError("x"))
    assert not retriable(ConfigError("x"))
    assert not retriable(ValueError("not ours"))
    assert retry_after_of(RestError("x", retry_after_s=3.0)) == 3.0
    assert retry_after_of(ValueError("x")) is None and retry_after_of(None) is None


async def test_retry_until_done_reports_each_failure_and_returns_the_result():
    from venuefeed.core.errors import RestError
    from venuefeed.core.retry import retry_until_done

    calls = 0
    failures: list[tuple[str, float, int]] = []

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise RestError(f"fail {calls}", retry_after_s=0.02 if calls == 2 else None)
        return "done"

    policy = Policy(backoff_initial_s=0.01, backoff_jitter=0.0)
    result = await retry_until_done(
        flaky, Retry(policy), on_failure=lambda e, w, n: failures.append((str(e), w, n))
    )
    assert result == "done" and calls == 3
    assert failures == [("fail 1", 0.01, 1), ("fail 2", 0.02, 2)]


async def test_retry_until_done_lets_what_is_not_retriable_through_at_once():
    from venuefeed.core.errors import ConfigError
    from venuefeed.core.retry import retry_until_done

    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ConfigError("config error: no")

    with pytest.raises(ConfigError):
        await retry_until_done(broken, Retry(Policy()), on_failure=lambda *a: None)
    assert calls == 1
