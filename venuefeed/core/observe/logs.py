"""Rate-limited logging: one line per problem per window, with a count of repeats.

A venue that sends a thousand malformed frames a second must not flood the log, and a
problem must never be silent: the first occurrence logs at once, later ones are folded
into the next line for the same key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    def __init__(
        self,
        logger: logging.Logger,
        *,
        window_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._window_s = window_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, key: str, msg: str, *args: object, exc_info: bool = False) -> bool:
        """Log unless `key` was logged within the window; returns whether it logged."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._window_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = now
        repeats = self._suppressed.pop(key, 0)
        if repeats:
            msg = f"{msg} (+%d similar in the last %.0fs)"
            args = (*args, repeats, self._window_s)
        self._logger.log(level, msg, *args, exc_info=exc_info)
        return True

    def forget(self, key: str) -> None:
        """Drop what is remembered about `key` (its owner went away)."""
        self._last.pop(key, None)
        self._suppressed.pop(key, None)
