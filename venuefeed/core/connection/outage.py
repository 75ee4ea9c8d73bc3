"""Time a connection spent without data after a failure, for `recovered` and reports.

An outage starts at the last data before a failure (or at the failure, if there was no
data yet) and ends at the first data after it; `seconds_not_live` adds the closed
outages to the ongoing one. Wall-clock milliseconds: these are reported, not timed.
"""

from __future__ import annotations

from collections.abc import Callable

from venuefeed.core.clock import wall_ms


class Outage:
    def __init__(self, clock: Callable[[], int] = wall_ms) -> None:
        self._clock = clock
        self._started_ms: int | None = None
        self._closed_ms = 0

    def begin(self, last_data_ms: int | None) -> None:
        """A failure: the outage began at the last data (an ongoing one goes on)."""
        if self._started_ms is None:
            self._started_ms = last_data_ms if last_data_ms is not None else self._clock()

    def end(self, recv_ms: int) -> tuple[int, int] | None:
        """Data again: the outage's (start, end) in ms, or None if there was none."""
        start = self._started_ms
        if start is None:
            return None
        self._started_ms = None
        self._closed_ms += max(0, recv_ms - start)
        return start, recv_ms

    @property
    def ongoing(self) -> bool:
        """A failure happened and no data has arrived since."""
        return self._started_ms is not None

    def seconds_not_live(self) -> float:
        ongoing = 0 if self._started_ms is None else max(0, self._clock() - self._started_ms)
        return (self._closed_ms + ongoing) / 1000
