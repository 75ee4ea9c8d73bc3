"""Reconnect delays: exponential, capped, jittered, and reset after a stable connection.

`backoff_delay` is a pure function of the attempt number so it can be unit-tested
exhaustively; `Backoff` only counts attempts. The audit found every connector's delay
grew forever; here `reset()` is called once a connection has delivered data and stayed
healthy for `stable_after_s`.

Every retrying place (connection, start-up, book snapshot, poll, supervisor) asks
`Backoff.next_delay(retry_after_s)` for its wait, so a venue's `Retry-After` is honoured
everywhere: the wait is never shorter than what the venue asked for (capped at
`RETRY_AFTER_MAX_S`, so a garbage header cannot park a venue for a day).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from venuefeed.core.settings import Policy

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


class Backoff:
    """Attempt counter for one reconnect loop."""

    def __init__(self, policy: Policy, rand: Callable[[], float] = random.random) -> None:
        self._policy = policy
        self._rand = rand
        self.attempt = 0

    def next_delay(self, retry_after_s: float | None = None) -> float:
        """The delay for the current attempt (at least the venue's `Retry-After`), then
        count one more attempt."""
        p = self._policy
        delay = backoff_delay(
            self.attempt,
            initial_s=p.backoff_initial_s,
            max_s=p.backoff_max_s,
            multiplier=p.backoff_multiplier,
            jitter=p.backoff_jitter,
            rand=self._rand,
        )
        self.attempt += 1
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, RETRY_AFTER_MAX_S))
        return delay

    def reset(self) -> None:
        self.attempt = 0
