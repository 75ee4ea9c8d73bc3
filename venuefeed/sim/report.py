"""The soak report: what the engine delivered versus what the simulator sent.

`SoakObserver` consumes the engine's events (its own bounded consumer) and tracks, per
venue: recoveries, seconds not live, time from each disruptive fault to the next fresh
data, trades received. `checkpoint()` freezes the markets and compares each published book
with the simulator's true book. `build()` assembles the JSON report.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import resource
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from venuefeed.core.engine import Engine
from venuefeed.core.events import Book, Event, Status, Trade
from venuefeed.core.publishing.publisher import Subscription
from venuefeed.sim.chaos import DISRUPTIVE, FaultLog
from venuefeed.sim.cluster import SimCluster

CHECK_LEVELS = 10
#: the bound every recovery must meet: stale_after_s + backoff_initial_s * (1 + jitter) +
#: this allowance for the handshake and the first data
CONNECT_ALLOWANCE_S = 1.0
#: faults that take a connection down with the frames right after them (the engine drops
#: the connection on an oversized or poisoned frame; what was queued behind it is gone)
AFTER_FAULT = frozenset({"poison", "oversized"})
#: faults whose recovery includes a wait the venue imposes (Retry-After, a handshake that
#: only the connect timeout ends): reported, not held to the bound
VENUE_IMPOSED_WAITS = frozenset({"refuse_429", "connect_hang"})
#: trades sent this close to a connection-resetting fault may be lost on the wire (a reset
#: connection discards unread bytes; a poisoned frame takes its connection down with it);
#: they are reported apart from engine losses.
IN_FLIGHT_MS = 500


@dataclass
class VenueObservation:
    recoveries: int = 0
    down_since: float | None = None  # wall s when the venue stopped being fully live
    seconds_not_live: float = 0.0
    trades: dict[str, set[int]] = field(default_factory=dict)
    data_times_ms: list[int] = field(default_factory=list)
    books: dict[str, Book] = field(default_factory=dict)
    book_checks: int = 0
    book_mismatches: int = 0
    crossed: int = 0
    states: dict[str, str] = field(default_factory=dict)


class SoakObserver:
    def __init__(self, engine: Engine, cluster: SimCluster) -> None:
        self.engine = engine
        self.cluster = cluster
        self.venues: dict[str, VenueObservation] = {
            name: VenueObservation() for name in cluster.servers
        }
        self.events: Subscription = engine.events("soak-report", queue_max=100_000)
        self._changed = asyncio.Event()  # set on every connection state change and book

    async def run(self) -> None:
        async for event in self.events:
            self.observe(event)

    def observe(self, event: Event) -> None:
        obs = self.venues.get(event.venue)
        if obs is None:
            return
        if isinstance(event, Status):
            self._status(obs, event)
            return
        if len(obs.data_times_ms) < 2_000_000:
            obs.data_times_ms.append(event.ts_recv)
        if isinstance(event, Trade):
            try:
                obs.trades.setdefault(event.symbol, set()).add(int(event.trade_id))
            except ValueError:
                obs.trades.setdefault(event.symbol, set())
        elif isinstance(event, Book):
            obs.books[event.symbol] = event
            self._changed.set()
            if event.bids and event.asks and event.bids[0][0] >= event.asks[0][0]:
                obs.crossed += 1

    def _status(self, obs: VenueObservation, event: Status) -> None:
        now = time.time()
        stream = event.stream
        if not stream.startswith("ws:"):
            return
        was_live = bool(obs.states) and all(s == "live" for s in obs.states.values())
        obs.states[stream] = event.state
        self._changed.set()
        is_live = all(s == "live" for s in obs.states.values())
        if was_live and not is_live:
            obs.down_since = now
        elif is_live and obs.down_since is not None:
            obs.seconds_not_live += now - obs.down_since
            obs.down_since = None
        if event.state == "recovered":
            obs.recoveries += 1

    def all_live(self) -> bool:
        return all(
            obs.states and all(state == "live" for state in obs.states.values())
            for obs in self.venues.values()
        )

    async def wait_all_live(self, bound_s: float) -> bool:
        """Wait (at most `bound_s`) until every connection of every venue is live."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(bound_s):
                while not self.all_live():
                    self._changed.clear()
                    await self._changed.wait()
        return self.all_live()

    async def checkpoint(self, bound_s: float) -> None:
        """Freeze every market and require each published book to converge on the true
        book within `bound_s` (a resync or reconnect in progress gets that long to finish).
        """
        for server in self.cluster.servers.values():
            server.faults.frozen = True
        try:
            pending = {
                (name, symbol)
                for name, server in self.cluster.servers.items()
                for symbol in server.venue.markets
            }
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(bound_s):
                    while pending:
                        pending = {key for key in pending if not self._book_matches(*key)}
                        if pending:
                            self._changed.clear()
                            await self._changed.wait()
            for name, server in self.cluster.servers.items():
                for symbol in server.venue.markets:
                    obs = self.venues[name]
                    obs.book_checks += 1
                    if (name, symbol) in pending:
                        obs.book_mismatches += 1
        finally:
            for server in self.cluster.servers.values():
                server.faults.frozen = False

    def _book_matches(self, venue: str, symbol: str) -> bool:
        book = self.venues[venue].books.get(symbol)
        if book is None:
            return False
        bids, asks = self.cluster.servers[venue].venue.markets[symbol].book_top(CHECK_LEVELS)
        n = min(CHECK_LEVELS, len(book.bids), len(book.asks))
        return n > 0 and book.bids[:n] == bids[:n] and book.asks[:n] == asks[:n]

    def build(self, faults: FaultLog, duration_s: float) -> dict[str, Any]:
        report: dict[str, Any] = {
            "duration_s": round(duration_s, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "venues": {},
        }
        ok = True
        metrics = self.engine.metrics
        for name, server in self.cluster.servers.items():
            obs = self.venues[name]
            now = time.time()
            not_live = obs.seconds_not_live + (
                0.0 if obs.down_since is None else now - obs.down_since
            )
            policy = self.engine.policies[name]
            bound = (
                policy.stale_after_s
                + policy.backoff_initial_s * (1 + policy.backoff_jitter)
                + CONNECT_ALLOWANCE_S
            )
            recovery = self._recovery_times(obs, faults.times.get(name, []), bound)
            lost, in_flight = self._lost_trades(name, obs, faults.times.get(name, []))
            ended_stale = any(state != "live" for state in obs.states.values())
            venue_ok = (
                not ended_stale and lost == 0 and obs.book_mismatches == 0 and obs.crossed == 0
            )
            ok = ok and venue_ok
            report["venues"][name] = {
                "ok": venue_ok,
                "faults_injected": dict(faults.injected.get(name, Counter())),
                "recoveries": obs.recoveries,
                "fault_to_fresh_data_s": recovery,
                "seconds_not_live": round(not_live, 2),
                "trades_sent": sum(len(v) for v in server.trades_sent.values()),
                "trades_received": sum(len(v) for v in obs.trades.values()),
                "trades_lost": lost,
                "trades_lost_in_flight_at_disconnect": in_flight,
                "book_checks": obs.book_checks,
                "book_mismatches": obs.book_mismatches,
                "crossed_books": obs.crossed,
                "task_restarts": metrics.value("task_restarts", venue=name),
                "reconnects": metrics.value("reconnects", venue=name),
                "parse_errors": metrics.value("parse_errors", venue=name),
                "book_resyncs": metrics.value("book_resyncs", venue=name),
                "final_states": dict(obs.states),
            }
        report["ok"] = ok
        return report

    @staticmethod
    def _recovery_times(
        obs: VenueObservation, faults: list[tuple[str, int]], bound_s: float
    ) -> dict[str, Any]:
        waits: list[tuple[str, float]] = []
        times = obs.data_times_ms
        for kind, at_ms in faults:
            if kind not in DISRUPTIVE:
                continue
            i = bisect.bisect_right(times, at_ms)  # the first data event after the fault
            if i < len(times):
                waits.append((kind, (times[i] - at_ms) / 1000))
        if not waits:
            return {"count": 0, "median": None, "max": None, "bound_s": round(bound_s, 3)}
        values = [w for _, w in waits]
        by_kind: dict[str, float] = {}
        for kind, wait in waits:
            by_kind[kind] = max(by_kind.get(kind, 0.0), round(wait, 3))
        over = sorted(
            {kind for kind, wait in waits if wait > bound_s and kind not in VENUE_IMPOSED_WAITS}
        )
        return {
            "count": len(waits),
            "median": round(statistics.median(values), 3),
            "max": round(max(values), 3),
            "max_by_fault": by_kind,
            "bound_s": round(bound_s, 3),
            "over_bound": over,
        }

    def _lost_trades(
        self, name: str, obs: VenueObservation, faults: list[tuple[str, int]]
    ) -> tuple[int, int]:
        server = self.cluster.servers[name]
        drops = [(kind, at) for kind, at in faults if kind in DISRUPTIVE]
        lost = in_flight = 0
        for symbol, sent in server.trades_sent.items():
            got = obs.trades.get(symbol, set())
            market = server.venue.markets[symbol]
            for trade_id in sent - got:
                ts = market.trade_times.get(trade_id, 0)
                if any(in_flight_at(kind, at, ts) for kind, at in drops):
                    in_flight += 1
                else:
                    lost += 1
        return lost, in_flight


def in_flight_at(fault: str, fault_ms: int, trade_ms: int) -> bool:
    """Whether a trade may have died with the connection a fault reset: sent just before a
    reset, or (a poisoned frame) just after the fault."""
    if fault in AFTER_FAULT:
        return 0 <= trade_ms - fault_ms <= IN_FLIGHT_MS
    return 0 <= fault_ms - trade_ms <= IN_FLIGHT_MS
