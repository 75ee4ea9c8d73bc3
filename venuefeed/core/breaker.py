"""Circuit breaker: a venue failing over and over is left alone for a cooldown.

`breaker_failures` failures within `breaker_window_s` open it for `breaker_cooldown_s`;
then it is half-open: one attempt is let through, and its success closes the breaker
while its failure opens it again. Time comes from an injected monotonic clock.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        failures: int,
        window_s: float,
        cooldown_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._threshold = failures
        self._window_s = window_s
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._half_open = False
        self.opened_count = 0

    @property
    def state(self) -> BreakerState:
        if self._opened_at is not None:
            if self._clock() - self._opened_at < self._cooldown_s:
                return BreakerState.OPEN
            return BreakerState.HALF_OPEN
        return BreakerState.HALF_OPEN if self._half_open else BreakerState.CLOSED

    def remaining_s(self) -> float:
        """Seconds until an open breaker turns half-open (0 if not open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._cooldown_s - (self._clock() - self._opened_at))

    def record_failure(self) -> BreakerState:
        now = self._clock()
        if self.state is BreakerState.HALF_OPEN:
            self._open(now)
            return BreakerState.OPEN
        self._failures.append(now)
        while self._failures and now - self._failures[0] > self._window_s:
            self._failures.popleft()
        if len(self._failures) >= self._threshold:
            self._open(now)
        return self.state

    def record_success(self) -> None:
        self._failures.clear()
        self._opened_at = None
        self._half_open = False

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._half_open = False
        self._failures.clear()
        self.opened_count += 1

    def allow_attempt(self) -> bool:
        """True unless open; moving from open to half-open happens here."""
        state = self.state
        if state is BreakerState.HALF_OPEN and self._opened_at is not None:
            self._opened_at = None
            self._half_open = True
        return state is not BreakerState.OPEN
