"""The one retry model: how long every retrying place waits, and which errors it retries.

Five places retry: the connection loop, the supervisor, start-up requests, REST book
snapshots and polls. They all ask a `Retry` for their wait, so they all behave alike:

- the wait grows exponentially from `backoff_initial_s` by `backoff_multiplier`, capped at
  `backoff_max_s`, scaled by a random factor in [1 - jitter, 1 + jitter] (`backoff_delay`,
  a pure function of the attempt number, unit-tested exhaustively);
- it is never shorter than the venue's `Retry-After` (capped at `RETRY_AFTER_MAX_S`, so a
  garbage header cannot park a venue for a day);
- `reset()` starts over once the retried thing has been healthy long enough (the audit's
  "backoff never resets" bug);
- an error is retried only when its class says so (`VenuefeedError.retriable`): network and
  venue trouble is, a configuration or plugin error never is.

`retry_until_done` runs an operation until it succeeds with these waits, on tenacity.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception

from venuefeed.core.errors import VenuefeedError
from venuefeed.core.settings import Policy

T = TypeVar("T")

#: the longest `Retry-After` honoured, in seconds
RETRY_AFTER_MAX_S = 300.0


def backoff_delay(
    attempt: int,
    *,
    initial_s: float,
    max_s: float,
    multiplier: float,
    jitter: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Delay before retry number `attempt` (0-based).

    The base is `initial_s * multiplier**attempt` capped at `max_s`; jitter scales it by a
    uniform factor in [1 - jitter, 1 + jitter], and the result never exceeds `max_s`.
    """
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    try:
        base = min(max_s, initial_s * multiplier**attempt)
    except OverflowError:
        base = max_s
    factor = 1.0 + jitter * (2.0 * rand() - 1.0)
    return max(0.0, min(max_s, base * factor))


def retry_after_of(exc: BaseException | None) -> float | None:
    """The wait the venue asked for with this error, if any."""
    return exc.retry_after_s if isinstance(exc, VenuefeedError) else None


def retriable(exc: BaseException) -> bool:
    """Whether waiting and trying again can help: the error's class says so."""
    return isinstance(exc, VenuefeedError) and exc.retriable


class Retry:
    """The attempts of one retrying place."""

    def __init__(
        self,
        policy: Policy,
        *,
        max_s: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._policy = policy
        self._max_s = policy.backoff_max_s if max_s is None else max(max_s, 0.0)
        self._rand = rand
        self.attempt = 0

    def next_delay(self, retry_after_s: float | None = None) -> float:
        """The wait before the next attempt (at least the venue's `Retry-After`); counts
        one more attempt."""
        p = self._policy
        delay = backoff_delay(
            self.attempt,
            initial_s=min(p.backoff_initial_s, self._max_s),
            max_s=self._max_s,
            multiplier=p.backoff_multiplier,
            jitter=p.backoff_jitter,
            rand=self._rand,
        )
        self.attempt += 1
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, RETRY_AFTER_MAX_S))
        return delay

    def delay_after(self, exc: BaseException | None) -> float:
        """`next_delay` for a failure, honouring what the error carries."""
        return self.next_delay(retry_after_of(exc))

    def reset(self) -> None:
        self.attempt = 0


async def retry_until_done(
    operation: Callable[[], Awaitable[T]],
    retry: Retry,
    *,
    on_failure: Callable[[BaseException, float, int], None],
) -> T:
    """Run `operation` until it succeeds. A retriable failure calls
    `on_failure(error, wait_s, attempt)` and waits `retry.delay_after(error)`; anything
    else propagates at once."""

    # tenacity calls `wait` and `before_sleep` only after a failed attempt, so the
    # outcome and the next action are there; with no stop condition it never gives up,
    # and an error `retriable` refuses propagates as itself.

    def wait(state: RetryCallState) -> float:
        assert state.outcome is not None
        return retry.delay_after(state.outcome.exception())

    def before_sleep(state: RetryCallState) -> None:
        assert state.outcome is not None and state.next_action is not None
        error = state.outcome.exception()
        assert error is not None
        on_failure(error, state.next_action.sleep, state.attempt_number)

    retrying = AsyncRetrying(
        wait=wait, retry=retry_if_exception(retriable), before_sleep=before_sleep
    )
    async for attempt in retrying:
        with attempt:
            return await operation()
    raise AssertionError("tenacity retries until the operation succeeds")  # pragma: no mutate


def retry_after_s(headers: Any) -> float | None:
    """A venue's `Retry-After` in seconds (the delay-seconds form), from any headers
    mapping (aiohttp's, picows'); None when absent or not a number."""
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
