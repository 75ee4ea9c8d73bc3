"""What happened to one simulated venue, and when: the soak report's timeline.

The soak observer feeds it the venue's status events; `to_report()` joins them with the
faults the injector logged into plain lists of wall-clock milliseconds, which the JSON
report carries and the HTML page (`html_report.py`) draws: faults, intervals the venue
was not live, stale streams and failed connections, one lane each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from venuefeed.core.events import Status
from venuefeed.sim.chaos import FaultSpan

#: at most this many marks per lane are kept (a pathological run stays a small report)
MAX_MARKS = 5_000


@dataclass
class Timeline:
    #: [from_ms, to_ms] while the venue was not fully live (to_ms None: still not live)
    not_live: list[list[int | None]] = field(default_factory=list)
    #: ms of each stale status (one per stale stream)
    stale: list[int] = field(default_factory=list)
    #: ms of each failed connection attempt (backoff or breaker open)
    reconnects: list[int] = field(default_factory=list)

    def status(self, event: Status) -> None:
        if event.state == "stale":
            _add(self.stale, event.ts_recv)
        elif event.state in ("backoff", "breaker_open") and event.stream.startswith("ws:"):
            _add(self.reconnects, event.ts_recv)

    def down(self, at_ms: int) -> None:
        if len(self.not_live) < MAX_MARKS:
            self.not_live.append([at_ms, None])

    def up(self, at_ms: int) -> None:
        if self.not_live and self.not_live[-1][1] is None:
            self.not_live[-1][1] = at_ms

    def to_report(
        self,
        faults: Sequence[FaultSpan],
        windows: Sequence[tuple[str, int, int]],
        start_ms: int,
        end_ms: int,
    ) -> dict[str, object]:
        """Plain lists for the JSON report; an interval still open ends at `end_ms`."""
        return {
            "start_ms": start_ms,
            "end_ms": end_ms,
            "faults": [[f.kind, f.started_ms, f.at_ms] for f in faults[:MAX_MARKS]],
            "stay_live_windows": [list(w) for w in windows[:MAX_MARKS]],
            "not_live": [[a, end_ms if b is None else b] for a, b in self.not_live],
            "stale": list(self.stale),
            "reconnects": list(self.reconnects),
        }


def _add(marks: list[int], at_ms: int) -> None:
    if len(marks) < MAX_MARKS:
        marks.append(at_ms)
