"""What every task of one venue uses: its adapter, policy, publisher, metrics, I/O (the
venue's sockets, or a recording's), REST client, wall clock, books, and the status of each
of its streams.

Wall time outside a frame (REST results, statuses, gap bounds) comes from `clock`, the
I/O's: live it is `wall_ms`, in a replay the recorded time, so replayed events carry the
times the live run gave them.

Status changes go through `status()`, which offers a `Status` event to the publisher
(never waiting), hands the change to the `StatusLog` (which folds a failing stream's
retries into a few lines) and records the latest state per stream for the health read
model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from venuefeed.core.adapter import Instrument, VenueAdapter
from venuefeed.core.books import BookKeeper
from venuefeed.core.clock import wall_ms
from venuefeed.core.events import Status, StatusState
from venuefeed.core.observe.health import StreamHealth
from venuefeed.core.observe.logs import RateLimitedLog
from venuefeed.core.observe.metrics import LagHistogram, Metrics
from venuefeed.core.observe.statuslog import StatusLog
from venuefeed.core.publishing.publisher import Publisher
from venuefeed.core.settings import Policy
from venuefeed.core.trades import TradeMemory
from venuefeed.core.transport.network import VenueIO
from venuefeed.core.transport.rest import RestClient

logger = logging.getLogger("venuefeed.venue")


@dataclass
class VenueServices:
    name: str
    adapter: VenueAdapter
    policy: Policy
    publisher: Publisher
    metrics: Metrics
    io: VenueIO
    rest: RestClient
    log: RateLimitedLog
    clock: Callable[[], int] = wall_ms
    instruments: list[Instrument] = field(default_factory=list)
    symbols: dict[str, str] = field(default_factory=dict)  # instrument -> symbol
    books: BookKeeper | None = None
    trades: TradeMemory | None = None
    states: dict[str, StreamHealth] = field(default_factory=dict)
    lag: LagHistogram = field(default_factory=LagHistogram)
    status_log: StatusLog = field(default_factory=lambda: StatusLog(logger))

    def status(
        self,
        stream: str,
        state: StatusState,
        reason: str = "",
        *,
        symbol: str = "*",
        instrument: str = "*",
        delay_s: float | None = None,
        gap_start_ms: int | None = None,
        gap_end_ms: int | None = None,
    ) -> None:
        now = self.clock()
        self.states[stream] = StreamHealth(state, reason, now, delay_s)
        self.metrics.inc("status_changes", venue=self.name, state=state)
        gap_s = None
        if gap_start_ms is not None and gap_end_ms is not None:
            gap_s = (gap_end_ms - gap_start_ms) / 1000
        self.status_log.record(self.name, stream, state, reason, delay_s=delay_s, gap_s=gap_s)
        self.publisher.offer(
            Status(
                venue=self.name,
                symbol=symbol,
                instrument=instrument,
                ts_recv=now,
                stream=stream,
                state=state,
                reason=reason,
                delay_s=delay_s,
                gap_start_ms=gap_start_ms,
                gap_end_ms=gap_end_ms,
            )
        )

    def succeeded(self, stream: str, detail: str = "") -> None:
        """A step that has no `live` status of its own (start-up) worked: ends its
        failing episode in the log."""
        self.status_log.succeeded(self.name, stream, detail)
