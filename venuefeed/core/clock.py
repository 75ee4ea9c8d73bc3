"""Time sources. Intervals use the event loop's monotonic clock (so a fake loop clock
can drive them); wall time only stamps events."""

from __future__ import annotations

import time


def wall_ms() -> int:
    """Milliseconds since the epoch, for `ts_recv` and gap boundaries."""
    return time.time_ns() // 1_000_000
