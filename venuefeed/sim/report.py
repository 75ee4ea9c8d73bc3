"""The soak report: what the engine delivered versus what the simulator sent.

`SoakObserver` consumes the engine's events (its own bounded consumer) and tracks, per
venue: recoveries, seconds not live, time from each disruptive fault to the next fresh
data, trades received. `checkpoint()` freezes the markets and compares each published book
with the simulator's true book. `build()` assembles the JSON report.

The report is a verdict: a venue is ok only if nothing it is held to went wrong
(`venue_problems`). Every disruptive fault's recovery is held to the bound its policy
gives (`bounds.py`: stale_after_s + the reconnect waits the policy allowed + 1 s), except
faults whose recovery includes a wait the venue imposes (`VENUE_IMPOSED_WAITS`). A
recovery the venue's next disruptive fault interrupts is judged only if it had already run
past its bound; otherwise it is counted as interrupted. After a `stuck_consumer` the venue
must have stayed live for the whole window the injector recorded, and the report's own
consumer must not have lost anything (a gap event) meanwhile or ever.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import resource
import statistics
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from venuefeed.core.engine import Engine
from venuefeed.core.events import Book, Event, Gap, Status, Trade
from venuefeed.core.publishing.publisher import Subscription
from venuefeed.core.settings import Policy
from venuefeed.sim.bounds import (
    AllowedWaits,
    first_attempt_bound_s,
    recovery_bound_s,
)
from venuefeed.sim.chaos import DISRUPTIVE, FaultLog, FaultSpan
from venuefeed.sim.cluster import SimCluster
from venuefeed.sim.timeline import Timeline

logger = logging.getLogger(__name__)

CHECK_LEVELS = 10
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
    #: trades that came over the websocket (the rest came from a REST backfill)
    trades_ws: dict[str, set[int]] = field(default_factory=dict)
    #: outage gap events: what the venue's backfill could not prove complete
    outage_gaps: int = 0
    #: longest time between two books of one symbol: from any source, and from the
    #: websocket alone (the difference is what the REST fallback covered)
    last_book_ms: dict[str, int] = field(default_factory=dict)
    last_ws_book_ms: dict[str, int] = field(default_factory=dict)
    longest_without_book_ms: int = 0
    longest_without_ws_book_ms: int = 0
    data_times_ms: list[int] = field(default_factory=list)
    books: dict[str, Book] = field(default_factory=dict)
    #: wall ms of each moment the venue stopped being fully live
    down_ms: list[int] = field(default_factory=list)
    #: consumer_behind gaps this observer received: it lost events, so its counts cannot be
    #: trusted
    gaps: int = 0
    #: the reconnect waits the venue's policy allowed, from its connections' statuses
    waits: AllowedWaits | None = None
    book_checks: int = 0
    book_mismatches: int = 0
    crossed: int = 0
    states: dict[str, str] = field(default_factory=dict)
    #: faults, not-live intervals, stale streams and reconnects over time (the HTML page)
    timeline: Timeline = field(default_factory=Timeline)


class SoakObserver:
    def __init__(self, engine: Engine, cluster: SimCluster) -> None:
        self.engine = engine
        self.cluster = cluster
        self.venues: dict[str, VenueObservation] = {
            name: VenueObservation(waits=AllowedWaits(engine.policies[name]))
            for name in cluster.servers
        }
        self.events: Subscription = engine.events("soak-report", queue_max=100_000)
        self.started_ms = time.time_ns() // 1_000_000
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
        if isinstance(event, Gap):
            if event.reason == "outage":
                obs.outage_gaps += 1
            else:
                obs.gaps += 1
            return
        if len(obs.data_times_ms) < 2_000_000:
            obs.data_times_ms.append(event.ts_recv)
        if isinstance(event, Trade):
            try:
                trade_id = int(event.trade_id)
            except ValueError:
                obs.trades.setdefault(event.symbol, set())
                return
            obs.trades.setdefault(event.symbol, set()).add(trade_id)
            if event.source == "ws":
                obs.trades_ws.setdefault(event.symbol, set()).add(trade_id)
        elif isinstance(event, Book):
            obs.books[event.symbol] = event
            self._book_seen(obs, event)
            self._changed.set()
            if event.bids and event.asks and event.bids[0][0] >= event.asks[0][0]:
                obs.crossed += 1

    @staticmethod
    def _book_seen(obs: VenueObservation, book: Book) -> None:
        """The longest wait between two books of a symbol, from any source and from the
        websocket alone."""
        now = book.ts_recv
        last = obs.last_book_ms.get(book.symbol)
        if last is not None:
            obs.longest_without_book_ms = max(obs.longest_without_book_ms, now - last)
        obs.last_book_ms[book.symbol] = now
        if book.source == "ws":
            last_ws = obs.last_ws_book_ms.get(book.symbol)
            if last_ws is not None:
                obs.longest_without_ws_book_ms = max(obs.longest_without_ws_book_ms, now - last_ws)
            obs.last_ws_book_ms[book.symbol] = now

    def _missed_by_ws(self, name: str, obs: VenueObservation) -> int:
        """Trades sent that never came over the websocket: what outages cost before any
        backfill (`trades_lost` is what is left after it)."""
        sent = self.cluster.servers[name].trades_sent
        return sum(len(ids - obs.trades_ws.get(symbol, set())) for symbol, ids in sent.items())

    def _status(self, obs: VenueObservation, event: Status) -> None:
        now = time.time()
        stream = event.stream
        obs.timeline.status(event)
        if not stream.startswith("ws:"):
            self._changed.set()  # a backfill done (`settled`), a book resynced
            return
        was_live = bool(obs.states) and all(s == "live" for s in obs.states.values())
        obs.states[stream] = event.state
        if obs.waits is not None:
            obs.waits.note(stream, event.state, event.ts_recv)
        self._changed.set()
        is_live = all(s == "live" for s in obs.states.values())
        if was_live and not is_live:
            obs.down_since = now
            obs.down_ms.append(event.ts_recv)
            obs.timeline.down(event.ts_recv)
        elif is_live and obs.down_since is not None:
            obs.seconds_not_live += now - obs.down_since
            obs.down_since = None
            obs.timeline.up(event.ts_recv)
        if event.state == "recovered":
            obs.recoveries += 1

    def all_live(self) -> bool:
        return all(
            obs.states and all(state == "live" for state in obs.states.values())
            for obs in self.venues.values()
        )

    def settled(self) -> bool:
        """Every connection live, no live trades held back for an outage's backfill, and
        every event published so far observed: only then do the trade counts compare (a
        run that ends as a venue recovers would otherwise count the trades its engine
        holds for the backfill as lost)."""
        if not self.all_live() or self.events.depth:
            return False
        return not any(
            conn.holding_trades
            for runner in self.engine.runners.values()
            for conn in runner.connections
        )

    async def wait_all_live(self, bound_s: float) -> bool:
        """Wait (at most `bound_s`) until every connection of every venue is live and
        the trades are settled (`settled`)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(bound_s):
                while not self.settled():
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
                        logger.warning("checkpoint: %s", self._mismatch(name, symbol))
        finally:
            for server in self.cluster.servers.values():
                server.faults.frozen = False

    def _mismatch(self, venue: str, symbol: str) -> str:
        """What a book that never matched looked like, so that the failure can be traced."""
        book = self.venues[venue].books.get(symbol)
        if book is None:
            return f"{venue} {symbol}: no book was ever published"
        bids, asks = self.cluster.servers[venue].venue.markets[symbol].book_top(1)
        age_s = (time.time() * 1000 - book.ts_recv) / 1000
        return (
            f"{venue} {symbol}: last book from {book.source}, seq {book.seq}, {age_s:.1f}s old,"
            f" top {book.bids[:1]} / {book.asks[:1]}; the venue's top {bids[:1]} / {asks[:1]}"
        )

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
        end_ms = time.time_ns() // 1_000_000

        def count(counter: str, venue: str) -> int:
            return int(metrics.value(counter, venue=venue))

        for name, server in self.cluster.servers.items():
            obs = self.venues[name]
            now = time.time()
            not_live = obs.seconds_not_live + (
                0.0 if obs.down_since is None else now - obs.down_since
            )
            policy = self.engine.policies[name]
            recovery = self._recovery_times(obs, faults.times.get(name, []), policy)
            lost, in_flight = self._lost_trades(name, obs, faults.times.get(name, []))
            windows = faults.windows.get(name, [])
            broken = [kind for kind, start, end in windows if went_down(obs, start, end)]
            problems = venue_problems(
                ended_stale=any(state != "live" for state in obs.states.values()),
                lost=lost,
                obs=obs,
                over_bound=recovery.get("over_bound", []),
                broken_windows=broken,
                client_drops=server.client_drops,
                refused=server.refused,
            )
            venue_ok = not problems
            ok = ok and venue_ok
            report["venues"][name] = {
                "ok": venue_ok,
                "problems": problems,
                "faults_injected": dict(faults.injected.get(name, Counter())),
                "recoveries": obs.recoveries,
                "fault_to_fresh_data_s": recovery,
                "seconds_not_live": round(not_live, 2),
                "trades_sent": sum(len(v) for v in server.trades_sent.values()),
                "trades_received": sum(len(v) for v in obs.trades.values()),
                "trades_lost": lost,
                "trades_lost_in_flight_at_disconnect": in_flight,
                "trades_missed_by_websocket": self._missed_by_ws(name, obs),
                "trades_backfilled": count("trades_backfilled", name),
                "trades_duplicate_dropped": count("trades_duplicate", name),
                "outage_gaps": obs.outage_gaps,
                "longest_without_book_s": round(obs.longest_without_book_ms / 1000, 3),
                "longest_without_ws_book_s": round(obs.longest_without_ws_book_ms / 1000, 3),
                "fallback_polls": count("fallback_polls", name),
                "book_checks": obs.book_checks,
                "book_mismatches": obs.book_mismatches,
                "crossed_books": obs.crossed,
                "stay_live_windows": len(windows),
                "stay_live_broken": broken,
                "stay_live_unjudged": dict(faults.unjudged.get(name, Counter())),
                "report_consumer_gaps": obs.gaps,
                "client_drops": dict(server.client_drops),
                "requests_refused": dict(server.refused),
                "task_restarts": count("task_restarts", name),
                "reconnects": count("reconnects", name),
                "parse_errors": count("parse_errors", name),
                "book_resyncs": count("book_resyncs", name),
                "final_states": dict(obs.states),
                "timeline": obs.timeline.to_report(
                    faults.times.get(name, []), windows, self.started_ms, end_ms
                ),
            }
        report["ok"] = ok
        return report

    @staticmethod
    def _recovery_times(
        obs: VenueObservation, faults: Sequence[FaultSpan], policy: Policy
    ) -> dict[str, Any]:
        """Time from each disruptive fault to the venue's next fresh data, against the
        bound its policy gives that recovery (see bounds.py)."""
        waits: list[tuple[str, float, float]] = []  # (kind, seconds, bound)
        interrupted: Counter[str] = Counter()
        times = obs.data_times_ms
        disruptive = [span for span in faults if span.kind in DISRUPTIVE]

        def bound(start_ms: int, end_ms: int) -> float:
            allowed = 0.0 if obs.waits is None else obs.waits.within_s(start_ms, end_ms)
            return recovery_bound_s(policy, allowed)

        for n, span in enumerate(disruptive):
            nxt = disruptive[n + 1].started_ms if n + 1 < len(disruptive) else None
            i = bisect.bisect_right(times, span.at_ms)  # the first data event after the fault
            if i < len(times) and (nxt is None or times[i] <= nxt):
                end = times[i]
            elif nxt is not None and (nxt - span.at_ms) / 1000 > bound(span.at_ms, nxt):
                end = nxt  # interrupted, but already past its bound: at least this long
            else:
                if nxt is not None:
                    interrupted[span.kind] += 1
                continue
            waits.append((span.kind, (end - span.at_ms) / 1000, bound(span.at_ms, end)))
        summary: dict[str, Any] = {
            "count": len(waits),
            "median": None,
            "max": None,
            "first_attempt_bound_s": round(first_attempt_bound_s(policy), 3),
            "interrupted": dict(interrupted),
        }
        if not waits:
            return summary
        values = [w for _, w, _ in waits]
        by_kind: dict[str, float] = {}
        for kind, wait, _ in waits:
            by_kind[kind] = max(by_kind.get(kind, 0.0), round(wait, 3))
        over = [
            (kind, wait, limit)
            for kind, wait, limit in waits
            if wait > limit and kind not in VENUE_IMPOSED_WAITS
        ]
        return {
            **summary,
            "median": round(statistics.median(values), 3),
            "max": round(max(values), 3),
            "max_by_fault": by_kind,
            "over_bound": sorted({kind for kind, _, _ in over}),
            "over_bound_s": [[kind, round(w, 3), round(b, 3)] for kind, w, b in over],
            #: every recovery as [fault kind, seconds, its bound]: the distribution
            "samples": [[kind, round(w, 3), round(b, 3)] for kind, w, b in waits],
        }

    def _lost_trades(
        self, name: str, obs: VenueObservation, faults: Sequence[FaultSpan]
    ) -> tuple[int, int]:
        server = self.cluster.servers[name]
        # a fault resets connections when it starts (close_silence closes, then stays silent)
        drops = [(span.kind, span.started_ms) for span in faults if span.kind in DISRUPTIVE]
        lost = in_flight = 0
        for symbol, sent in server.trades_sent.items():
            got = obs.trades.get(symbol, set())
            written = server.trades_written_ms.get(symbol, {})
            made = server.venue.markets[symbol].trade_times
            for trade_id in sent - got:
                # when its frame went on the wire (a latency fault holds frames back)
                ts = written.get(trade_id, made.get(trade_id, 0))
                if any(in_flight_at(kind, at, ts) for kind, at in drops):
                    in_flight += 1
                else:
                    lost += 1
        return lost, in_flight


def venue_problems(
    *,
    ended_stale: bool,
    lost: int,
    obs: VenueObservation,
    over_bound: Sequence[str],
    broken_windows: Sequence[str],
    client_drops: Mapping[str, int],
    refused: Mapping[str, int],
) -> list[str]:
    """Why a venue's run is not ok (empty: it is). Every item fails the report."""
    problems: list[str] = []
    if ended_stale:
        problems.append("ended not live")
    if lost:
        problems.append(f"{lost} trades lost")
    if obs.book_mismatches:
        problems.append(f"{obs.book_mismatches} books never matched the truth")
    if obs.crossed:
        problems.append(f"{obs.crossed} crossed books")
    if over_bound:
        problems.append(f"recovery over its bound after {', '.join(over_bound)}")
    if broken_windows:
        problems.append(f"not live during the window after {', '.join(broken_windows)}")
    if obs.gaps:
        problems.append(f"the report's own consumer got {obs.gaps} gap events")
    for reason, count in sorted(client_drops.items()):
        problems.append(f"the venue dropped the engine {count}x ({reason})")
    for header, count in sorted(refused.items()):
        problems.append(f"the venue refused {count} requests without {header}")
    return problems


def went_down(obs: VenueObservation, start_ms: int, end_ms: int) -> bool:
    """The venue stopped being fully live between these wall-clock moments."""
    i = bisect.bisect_left(obs.down_ms, start_ms)
    return i < len(obs.down_ms) and obs.down_ms[i] <= end_ms


def in_flight_at(fault: str, fault_ms: int, trade_ms: int) -> bool:
    """Whether a trade may have died with the connection a fault reset: sent just before a
    reset, or (a poisoned frame) just after the fault."""
    if fault in AFTER_FAULT:
        return 0 <= trade_ms - fault_ms <= IN_FLIGHT_MS
    return 0 <= fault_ms - trade_ms <= IN_FLIGHT_MS
