"""Paradex through the real engine against its loopback simulator, in SBE and in JSON."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from aiohttp import web

from venuefeed.core.clock import wall_ms
from venuefeed.core.engine import Engine
from venuefeed.core.events import Bbo, Book, Event, Funding, Mark, Status, Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings
from venuefeed.plugins.paradex.sim import ParadexSim
from venuefeed.sim.cluster import SimCluster
from venuefeed.sim.server import SimServer
from venuefeed.testing import next_event as first

FAST = {
    "stale_after_s": 1.0,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.2,
    "backoff_jitter": 0.0,
    "stable_after_s": 0.3,
    "heartbeat_interval_s": 0.1,
    "funding_poll_s": 0.3,
}
SBE: dict[str, Any] = {}  # the adapter's default: SBE schema 1, version 2
SBE_V0 = {"encoding": "sbe", "sbe_schema_version": 0}
JSON = {"encoding": "json"}
CHANNELS = {
    "order_book.{m}.snapshot@15@100ms",
    "bbo.{m}",
    "trades.{m}",
    "funding_data.{m}",
    "markets_summary.{m}",
}


def book_of(symbol: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, Book) and e.symbol == symbol


def status(state: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, Status) and e.state == state


def setup(
    options: dict[str, Any], symbols: tuple[str, ...] = ("BTC", "ETH"), **policy: Any
) -> tuple[PluginHost, Settings, SimCluster, SimServer, ParadexSim]:
    host = PluginHost(builtin_modules=("venuefeed.plugins.paradex",), load_entry_points=False)
    settings = Settings.model_validate(
        {
            "defaults": {**FAST, **policy, "symbols": list(symbols)},
            "venues": {"paradex": {"options": options}},
        }
    )
    cluster = SimCluster({"paradex": host.adapter("paradex")}, {"paradex": list(symbols)})
    server = cluster.servers["paradex"]
    server.slow_tick_s = 0.2  # funding and mark pushes
    server.ping_s = 0.1  # SBE heartbeats
    assert isinstance(server.venue, ParadexSim)
    return host, settings, cluster, server, server.venue


class PongCounter:
    """Counts the websocket pongs one side sends (autoping answering the other's pings)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, cls: Any) -> None:
        self.count = 0
        self._changed = asyncio.Event()
        original = cls.pong

        async def pong(ws: Any, message: bytes = b"") -> None:
            self.count += 1
            self._changed.set()
            await original(ws, message)

        monkeypatch.setattr(cls, "pong", pong)

    async def reach(self, n: int, within: float = 2.0) -> None:
        async with asyncio.timeout(within):
            while self.count < n:
                self._changed.clear()
                await self._changed.wait()


@pytest.mark.parametrize("options", [SBE, SBE_V0, JSON], ids=["sbe", "sbe-v0", "json"])
async def test_snapshot_feed_streams_every_kind_and_reconnects(options: dict[str, Any]) -> None:
    host, settings, cluster, server, venue = setup(options, funding_poll_s=60.0)
    server.faults.rest_failures = 1  # the first GET /markets fails: init is retried
    async with cluster, Engine(cluster.apply(settings), plugins=host) as engine:
        sub = engine.events()
        failed = await first(sub, status("init_failed"))
        assert "503" in failed.reason
        book = await first(sub, book_of("BTC"))
        # init and subscribe: GET /v1/markets, one socket, 5 channels per market
        assert venue.requests[0].path == "/v1/markets"
        (session,) = venue.sessions
        expected_version = None if options is JSON else options.get("sbe_schema_version", 2)
        assert session.sbe_version == expected_version
        assert session.channels == {
            c.format(m=f"{s}-USD-PERP") for c in CHANNELS for s in ("BTC", "ETH")
        }
        # the top-15 snapshot, the same market as the simulator's
        assert (book.venue, book.instrument) == ("paradex", "BTC-USD-PERP")
        assert len(book.bids) == len(book.asks) == 15 and book.bids[0][0] < book.asks[0][0]
        market = venue.markets["BTC"]
        assert book.seq is not None and 0 < book.seq <= market.update_id
        assert abs(book.bids[0][0] - market.best_bid()) < 1000
        bbo = await first(sub, lambda e: isinstance(e, Bbo) and e.symbol == "ETH")
        assert bbo.bid_px is not None and bbo.ask_px is not None and bbo.bid_px < bbo.ask_px
        trade = await first(sub, lambda e: isinstance(e, Trade))
        # the full id from JSON and SBE 1:2; version 0 has only the int64's low 64 bits
        truncated = session.sbe_version is not None and session.sbe_version < 2
        assert trade.trade_id.startswith("low64:") is truncated
        trade_no = int(trade.trade_id.removeprefix("low64:"))
        assert trade.side in ("buy", "sell") and trade_no >= 1
        assert trade_no <= venue.markets[trade.symbol].trade_id
        # funding and mark pushed on the socket: more than the one REST poll gave
        polls = [r for r in venue.requests if r.path == "/v1/markets/summary"]
        assert [r.query for r in polls] == [
            {"market": "BTC-USD-PERP"},
            {"market": "ETH-USD-PERP"},
        ]
        for _ in range(2):
            funding = await first(sub, lambda e: isinstance(e, Funding) and e.symbol == "BTC")
        assert funding.interval_h == 8.0 and funding.next_funding_ms is None
        assert abs(funding.rate_per_hour - market.funding_rate_1h) < 1e-5  # it drifts
        for _ in range(2):
            mark = await first(sub, lambda e: isinstance(e, Mark) and e.symbol == "BTC")
        assert mark.index_px is not None and abs(mark.mark_px - mark.index_px) < 10
        assert len([r for r in venue.requests if r.path == "/v1/markets/summary"]) == 2
        if session.sbe_version is not None:  # SBE heartbeats parse as acks, nothing else
            async with asyncio.timeout(2):
                while session.heartbeats < 2:
                    await first(sub, lambda e: isinstance(e, Book))
        # every book message is a snapshot: a lost one is no gap, nothing to resync
        server.faults.gap.add("BTC")
        async with asyncio.timeout(2):
            while "BTC" in server.faults.gap:
                event = await first(sub, lambda e: isinstance(e, Book | Status))
                assert not isinstance(event, Status), event
        after = await first(sub, lambda e: isinstance(e, Book | Status) and e.symbol != "ETH")
        assert isinstance(after, Book) and after.seq is not None and after.seq > book.seq
        assert engine.metrics.value("parse_errors", venue="paradex") == 0
        # reconnect: the socket dies without a close frame
        server.drop_all()
        recovered = await first(sub, status("recovered"))
        assert recovered.gap_start_ms <= recovered.gap_end_ms
        await first(sub, lambda e: book_of("BTC")(e) and e.ts_recv >= recovered.gap_end_ms)
        assert server.connections == 2 and len(venue.sessions) == 2
        assert venue.sessions[1].channels == session.channels


@pytest.mark.parametrize("options", [SBE, JSON], ids=["sbe", "json"])
async def test_deltas_feed_resyncs_a_gapped_book_by_resubscribing(options: dict[str, Any]) -> None:
    host, settings, cluster, server, venue = setup({**options, "book_feed": "deltas"})
    async with cluster, Engine(cluster.apply(settings), plugins=host) as engine:
        sub = engine.events()
        snapshot = await first(sub, book_of("BTC"))
        (session,) = venue.sessions
        assert "order_book.BTC-USD-PERP.deltas" in session.channels
        assert len(snapshot.bids) == 20  # the whole book came first, published top 20
        later = await first(sub, book_of("BTC"))
        assert later.seq is not None and snapshot.seq is not None and later.seq > snapshot.seq
        books = engine.runners["paradex"].services.books
        assert books is not None
        # a duplicated delta is skipped, not a gap
        server.faults.duplicate.add("ETH")
        async with asyncio.timeout(2):
            while "ETH" in server.faults.duplicate or books.duplicates == 0:
                event = await first(sub, lambda e: isinstance(e, Book | Status))
                assert not isinstance(event, Status), event
        # a lost delta: resync of that book alone, by unsubscribe + subscribe
        sent_before = len(server.received)
        server.faults.gap.add("BTC")
        resync = await first(sub, status("resync"))
        assert (resync.stream, resync.symbol) == ("book:BTC-USD-PERP", "BTC")
        assert "gap: expected seq" in resync.reason and "resubscribe" in resync.reason
        eth_books = 0
        fresh: Book | None = None
        async with asyncio.timeout(3):
            async for event in sub:
                assert not isinstance(event, Status), event
                if isinstance(event, Book) and event.symbol == "ETH":
                    eth_books += 1
                elif isinstance(event, Book):
                    fresh = event
                    break
        assert eth_books >= 1  # the other book kept flowing meanwhile
        assert (
            fresh is not None
            and fresh.seq is not None
            and fresh.seq > later.seq
            and len(fresh.bids) == 20
        )
        resent = [msgspec.json.decode(m) for m in server.received[sent_before:]]
        assert [(m["method"], m["params"]["channel"]) for m in resent] == [
            ("unsubscribe", "order_book.BTC-USD-PERP.deltas"),
            ("subscribe", "order_book.BTC-USD-PERP.deltas"),
        ]
        # deltas chain again on the fresh snapshot; the socket was never reopened
        for _ in range(3):
            event = await first(sub, lambda e: isinstance(e, Status) or book_of("BTC")(e))
            assert isinstance(event, Book) and event.seq is not None
            assert event.seq > fresh.seq
        assert server.connections == 1
        assert engine.metrics.value("parse_errors", venue="paradex") == 0
        assert engine.metrics.value("venue_errors", venue="paradex") == 0


async def test_websocket_pings_are_answered_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    server_pongs = PongCounter(monkeypatch, web.WebSocketResponse)
    host, settings, cluster, server, _venue = setup(JSON, ("BTC",))
    async with cluster, Engine(cluster.apply(settings), plugins=host) as engine:
        sub = engine.events()
        await first(sub, book_of("BTC"))
        # the venue goes quiet: the client pings after heartbeat_interval_s idle and
        # drops the socket unless the venue answers within half of it
        server.faults.stalled = True
        await server_pongs.reach(3)
        server.faults.stalled = False
        # the venue's own keep-alive is a websocket ping (every 55 s on Paradex): the
        # client answers it, whichever websocket library it runs on
        pongs = server.pongs_received
        server.pong_heard.clear()
        await server.ws_ping_all(b"paradex")
        async with asyncio.timeout(2):
            await server.pong_heard.wait()
        assert server.pongs_received == pongs + 1
        event = await first(sub, lambda e: isinstance(e, Book | Status))
        assert isinstance(event, Book)
        assert server.connections == 1
        assert engine.metrics.value("reconnects", venue="paradex") == 0


@pytest.mark.parametrize(
    ("options", "depth"),
    [
        (SBE, 15),
        (JSON, 15),
        ({**SBE, "book_feed": "deltas"}, 20),
        ({**JSON, "book_feed": "deltas"}, 20),
    ],
    ids=["sbe-snapshot", "json-snapshot", "sbe-deltas", "json-deltas"],
)
async def test_published_book_matches_the_true_book_at_a_checkpoint(
    options: dict[str, Any], depth: int
) -> None:
    host, settings, cluster, server, venue = setup(options, ("BTC",))
    async with cluster, Engine(cluster.apply(settings), plugins=host) as engine:
        sub = engine.events()
        await first(sub, book_of("BTC"))
        latest = await first(sub, book_of("BTC"))  # deltas: one applied on the snapshot
        server.faults.frozen = True
        frozen_ms = wall_ms()
        market = venue.markets["BTC"]
        frozen_at = market.update_id
        # every frame up to the last update is on the wire; the book of that update wins
        async with asyncio.timeout(5):
            while latest.seq != market.update_id:
                latest = await first(sub, lambda e: isinstance(e, Book | Status))
                assert isinstance(latest, Book), latest
        bids, asks = market.book_top(depth)
        assert (latest.bids, latest.asks) == (bids, asks)
        # funding and mark of the frozen market, exact (SBE truncates rates to 1e-8)
        funding = await first(sub, lambda e: isinstance(e, Funding) and e.ts_recv > frozen_ms)
        assert funding.rate_per_hour == pytest.approx(market.funding_rate_1h, abs=2e-9)
        mark = await first(sub, lambda e: isinstance(e, Mark) and e.ts_recv > frozen_ms)
        assert (mark.mark_px, mark.index_px) == (market.mark, market.index)
        assert market.update_id == frozen_at
