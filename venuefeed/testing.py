"""Conformance kit for venue plugin authors: prove an adapter and its simulator encoder
survive the fault matrix, with one test command.

In your package's tests::

    import pytest
    from venuefeed.testing import FAULTS, check_fault
    from my_venue.adapter import MyVenueAdapter

    @pytest.mark.parametrize("fault", FAULTS)
    async def test_conformance(fault):
        await check_fault(MyVenueAdapter, fault)

Each case runs the real engine against the adapter's simulator (`simulator = "pkg.sim:Cls"`)
with short thresholds and requires, for every symbol:

- books and trades flowing before the fault (at least `TRADES_AROUND` trades each), and
  again after it: a case cannot pass by seeing nothing;
- the published book equal to the simulator's true book at a frozen checkpoint, and no
  crossed book;
- every trade the simulator sent received exactly once, in the venue's order, with the
  simulator's price, size and side (only trades in flight on a connection that the fault
  reset may be missing);
- no reconnect after a fault the venue must stay live through (a stuck consumer).

The kit's own tests run deliberately broken adapters (one drops a trade, one swaps the
side, one reorders) and require each to fail.

A connection that declares a `snapshot_key` (frames the core may skip unread) proves it
with `check_frame_key(adapter, rule, frames)` on the frames its simulator sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from venuefeed.core.adapter import BookSnapshot, FrameKey, VenueAdapter
from venuefeed.core.connection.framebatch import SnapshotConflation
from venuefeed.core.connection.link import Frame
from venuefeed.core.engine import Engine
from venuefeed.core.errors import ParseError
from venuefeed.core.events import Book, Event, Level, Status, Trade
from venuefeed.core.hookspecs import hookimpl
from venuefeed.core.plugins import PluginHost
from venuefeed.core.publishing.publisher import Subscription
from venuefeed.core.settings import Settings
from venuefeed.sim.chaos import ALL_FAULTS, MUST_STAY_LIVE, ChaosInjector, ChaosProfile
from venuefeed.sim.cluster import SimCluster
from venuefeed.sim.market import SyntheticMarket
from venuefeed.sim.report import CHECK_LEVELS, in_flight_at
from venuefeed.sim.server import SimServer

#: the fault matrix: a clean run, then every fault the chaos injector knows.
FAULTS: tuple[str, ...] = ("none", *ALL_FAULTS)

#: thresholds short enough for a CI-sized run, long enough for a loaded 2-core machine.
POLICY = {
    "stale_after_s": 0.6,
    "connect_timeout_s": 0.5,
    "request_timeout_s": 0.5,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.3,
    "backoff_jitter": 0.0,
    "stable_after_s": 0.5,
    "heartbeat_interval_s": 0.2,
    "funding_poll_s": 0.5,
    "init_retry_max_s": 0.2,
    "breaker_failures": 50,
    "max_frame_bytes": 256 * 1024,
}
TRADE_SETTLE_S = 3.0
#: trades per symbol the case must see before the fault, and again after it
TRADES_AROUND = 3
#: markets step every 20 ms: about 15 trades a second per symbol, so a case sees trades
#: flowing within a fraction of a second
TICK_S = 0.02
#: the venues' mark and funding cadence (a second on the real ones), compressed like the
#: thresholds above: a stream must be able to stay fresh within `stale_after_s`
SLOW_TICK_S = 0.2
PROFILE = ChaosProfile(
    "conformance", stall_s=1.0, latency_s=0.5, ws_down_s=1.0, oversized_bytes=512 * 1024
)


@dataclass
class CaseResult:
    fault: str
    books: int = 0
    trades: set[tuple[str, int]] = field(default_factory=set)  # (symbol, trade id)
    #: every trade received, in delivery order
    received: list[Trade] = field(default_factory=list)
    crossed: int = 0
    latest: dict[str, Book] = field(default_factory=dict)

    def note(self, event: Event) -> None:
        if isinstance(event, Book):
            self.books += 1
            self.latest[event.symbol] = event
            if event.bids and event.asks and event.bids[0][0] >= event.asks[0][0]:
                self.crossed += 1
        elif isinstance(event, Trade):
            self.trades.add((event.symbol, int(event.trade_id)))
            self.received.append(event)

    def trades_of(self, symbol: str, after: int = 0) -> int:
        return sum(1 for t in self.received if t.symbol == symbol and int(t.trade_id) > after)


class _SinglePlugin:
    """Registers one adapter class, so the kit needs no installed entry point."""

    def __init__(self, adapter: type[VenueAdapter]) -> None:
        self.adapter = adapter

    @hookimpl
    def venuefeed_register_venues(self) -> list[type[VenueAdapter]]:
        return [self.adapter]


async def _until(
    sub: Subscription, result: CaseResult, pred: Callable[[Event], bool], within: float
) -> Event:
    async with asyncio.timeout(within):
        async for event in sub:
            result.note(event)
            if pred(event):
                return event
    raise AssertionError("event stream ended")


async def next_event(
    events: Subscription,
    match: Callable[[Event], bool],
    within: float = 5.0,
    log: list[Event] | None = None,
) -> Any:
    """The next event that `match`es (every event seen is appended to `log`); fails the
    test with TimeoutError after `within` seconds instead of hanging it."""
    async with asyncio.timeout(within):
        async for event in events:
            if log is not None:
                log.append(event)
            if match(event):
                return event
    raise AssertionError("event stream ended")


def _book_of(symbol: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, Book) and e.symbol == symbol


def _matches_truth(symbol: str, bids: list[Level], asks: list[Level]) -> Callable[[Event], bool]:
    def check(event: Event) -> bool:
        if not (isinstance(event, Book) and event.symbol == symbol):
            return False
        n = min(CHECK_LEVELS, len(event.bids), len(event.asks))
        return n > 0 and event.bids[:n] == bids[:n] and event.asks[:n] == asks[:n]

    return check


async def check_fault(
    adapter: type[VenueAdapter],
    fault: str,
    *,
    symbols: Sequence[str] = ("BTC", "ETH"),
    within: float = 15.0,
) -> CaseResult:
    """Run one conformance case; raises AssertionError naming what failed."""
    name = adapter.name
    host = PluginHost(
        builtin_modules=(), extra_plugins=[_SinglePlugin(adapter)], load_entry_points=False
    )
    settings = Settings.model_validate(
        {"defaults": {**POLICY, "symbols": list(symbols)}, "venues": {name: {}}}
    )
    cluster = SimCluster({name: adapter}, {name: symbols}, tick_s=TICK_S, slow_tick_s=SLOW_TICK_S)
    result = CaseResult(fault)
    async with cluster:
        server = cluster.servers[name]
        async with Engine(cluster.apply(settings), plugins=host) as engine:
            sub = engine.events(queue_max=100_000)
            markets = server.venue.markets
            for symbol in markets:
                await _until(sub, result, _book_of(symbol), within)
            await _trades_flowing(sub, result, markets, {s: 0 for s in markets}, within)
            fault_ms = time.time_ns() // 1_000_000
            before = {s: m.trade_id for s, m in markets.items()}  # last id sent so far
            if fault != "none":
                reconnects = engine.metrics.value("reconnects", venue=name)
                injector = ChaosInjector({name: server}, PROFILE, engine=engine)
                await injector.inject(server, fault)
                if fault in RECONNECTING:
                    await _until(sub, result, _recovered, within)
                if fault in MUST_STAY_LIVE:  # e.g. a stuck consumer: no one else may suffer
                    assert injector.log.windows.get(name), f"{name}/{fault}: venue never settled"
                    reconnected = engine.metrics.value("reconnects", venue=name) - reconnects
                    assert not reconnected, f"{name}/{fault}: {reconnected:g} reconnects"
            for symbol in markets:  # fresh data for every symbol after the fault
                await _until(sub, result, _book_of(symbol), within)
            await _trades_flowing(sub, result, markets, before, within)
            server.faults.frozen = True  # checkpoint: the truth stops moving
            for symbol, market in server.venue.markets.items():
                check = _matches_truth(symbol, *market.book_top(CHECK_LEVELS))
                latest = result.latest.get(symbol)
                if latest is None or not check(latest):
                    try:
                        await _until(sub, result, check, within)
                    except TimeoutError:
                        raise AssertionError(
                            f"{name}/{fault}: published {symbol} book never matched the "
                            f"simulator's true book after the checkpoint"
                        ) from None
            assert result.crossed == 0, f"{name}/{fault}: {result.crossed} crossed books published"
            _check_trades(f"{name}/{fault}", server, result)  # order and content first
            # trades sent before the freeze may still be in the socket or queue: read on
            # until every one has arrived, or the bound says they never will
            lost = _lost(server, result, fault, fault_ms)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TRADE_SETTLE_S):
                    while lost:
                        result.note(await anext(sub))
                        lost = _lost(server, result, fault, fault_ms)
            assert not lost, f"{name}/{fault}: trades lost: {sorted(lost)[:10]}"
            _check_trades(f"{name}/{fault}", server, result)
    return result


async def _trades_flowing(
    sub: Subscription,
    result: CaseResult,
    markets: Mapping[str, SyntheticMarket],
    after: Mapping[str, int],
    within: float,
) -> None:
    """Until every symbol delivered `TRADES_AROUND` trades newer than `after`."""

    def enough() -> bool:
        return all(result.trades_of(s, after[s]) >= TRADES_AROUND for s in markets)

    try:
        async with asyncio.timeout(within):
            while not enough():
                result.note(await anext(sub))
    except TimeoutError:
        counts = {s: result.trades_of(s, after[s]) for s in markets}
        raise AssertionError(
            f"trades are not flowing: {counts} newer than {dict(after)} within {within}s "
            f"(each symbol needs {TRADES_AROUND})"
        ) from None


def _check_trades(case: str, server: SimServer, result: CaseResult) -> None:
    """Each trade once, in the venue's order, exactly as the simulator made it."""
    last: dict[str, int] = {}
    for trade in result.received:
        trade_id = int(trade.trade_id)
        previous = last.get(trade.symbol, 0)
        assert trade_id > previous, (
            f"{case}: {trade.symbol} trade {trade_id} delivered after trade {previous} "
            f"(out of order or twice)"
        )
        last[trade.symbol] = trade_id
        truth = server.venue.markets[trade.symbol].trades.get(trade_id)
        assert truth is not None, f"{case}: {trade.symbol} trade {trade_id} was never sent"
        got = (trade.price, trade.size, trade.side)
        want = (truth.price, truth.size, truth.side)
        assert (
            math.isclose(got[0], want[0], rel_tol=1e-12)
            and math.isclose(got[1], want[1], rel_tol=1e-12)
            and got[2] == want[2]
        ), f"{case}: {trade.symbol} trade {trade_id} is {got}, the venue sent {want}"


def _recovered(event: Event) -> bool:
    return isinstance(event, Status) and event.state == "recovered"


#: faults after which the connection must have been re-established
RECONNECTING = frozenset(
    {"disconnect", "refuse_429", "refuse_503", "connect_hang", "poison", "delta_first", "ws_down"}
)
#: faults that reset a connection: trades written just before may die with it on the wire
RESETTING = RECONNECTING | {"close_silence", "oversized"}


def _lost(server: SimServer, result: CaseResult, fault: str, fault_ms: int) -> set[int]:
    lost: set[int] = set()
    for symbol, sent in server.trades_sent.items():
        times = server.venue.markets[symbol].trade_times
        got = {trade_id for sym, trade_id in result.trades if sym == symbol}
        for trade_id in sent - got:
            in_flight = fault in RESETTING and in_flight_at(fault, fault_ms, times.get(trade_id, 0))
            if not in_flight:
                lost.add(trade_id)
    return lost


def check_frame_key(
    adapter: VenueAdapter, rule: FrameKey, frames: Sequence[Frame], recv_ms: int = 0
) -> int:
    """Prove a `FrameKey` on real frames (recorded, or from the simulator) and return how
    many it matched; an `AssertionError` names the first frame that breaks it:

    - every frame it matches parses to exactly one `BookSnapshot` (a trade, delta or
      control frame skipped unread would be lost);
    - one key always means one instrument, and one instrument one key (a rule that maps
      two books to one key would skip one book's frames for the other's);
    - its `seq` group, if any, reads the snapshot's own `seq`, and a snapshot with a seq
      has one in its key (the core keeps the highest, as the book keeper would);
    - every frame that parses to a lone `BookSnapshot` matches (else the rule misses the
      feed it was written for, and the core decodes everything: slow, never wrong).
    """
    conflation = SnapshotConflation(rule)
    instrument_of: dict[Any, str] = {}
    key_of: dict[str, Any] = {}
    matched = 0
    for frame in frames:
        found = conflation.key(frame)
        try:
            results = adapter.parse(frame, recv_ms)
        except ParseError:
            assert found is None, f"key rule matches a frame the adapter refuses: {frame!r:.200}"
            continue
        whole = len(results) == 1 and isinstance(results[0], BookSnapshot)
        if found is None:
            assert not whole, f"key rule misses a snapshot frame: {frame!r:.200}"
            continue
        key, seq = found
        assert whole, f"key rule matches a frame that is not one book snapshot: {frame!r:.200}"
        snap = results[0]
        assert isinstance(snap, BookSnapshot)
        known = instrument_of.setdefault(key, snap.instrument)
        assert known == snap.instrument, (
            f"key {key!r} maps two instruments: {known!r} and {snap.instrument!r}"
        )
        other = key_of.setdefault(snap.instrument, key)
        assert other == key, f"instrument {snap.instrument!r} has two keys: {other!r}, {key!r}"
        assert seq == snap.seq, f"key rule reads seq {seq}, the snapshot has {snap.seq}"
        matched += 1
    return matched
