"""Extended through the real engine against its loopback simulator.

Each stream is its own socket (`/orderbooks/BTC-USD`, `/publicTrades/BTC-USD`, ...), so the
simulator's per-path connection counts show which sockets a fault reopened.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from venuefeed.core.adapter import BookDelta, BookSnapshot, VenueContext, VenueNotice
from venuefeed.core.engine import Engine
from venuefeed.core.events import Bbo, Book, Event, Funding, Mark, Status, Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.core.publishing.publisher import Subscription
from venuefeed.core.settings import Settings
from venuefeed.plugins.extended.adapter import ExtendedAdapter
from venuefeed.plugins.extended.sim import ExtendedSim, ExtendedStream
from venuefeed.sim import SimRequest, SyntheticMarket
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
KINDS = ("orderbooks", "publicTrades", "funding", "prices/mark")
DEPTH = 20  # the default book_depth: levels per side in published books


def book_of(symbol: str, min_seq: int = 0) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, Book) and e.symbol == symbol and (e.seq or 0) >= min_seq


def status(state: str, stream: str | None = None) -> Callable[[Event], bool]:
    return lambda e: (
        isinstance(e, Status) and e.state == state and (stream is None or e.stream == stream)
    )


@asynccontextmanager
async def running(
    symbols: Sequence[str], before_start: Callable[[SimServer], None] | None = None
) -> AsyncIterator[tuple[Engine, Subscription, SimServer, ExtendedSim]]:
    host = PluginHost(builtin_modules=("venuefeed.plugins.extended",), load_entry_points=False)
    settings = Settings.model_validate(
        {"defaults": {**FAST, "symbols": list(symbols)}, "venues": {"extended": {}}}
    )
    cluster = SimCluster({"extended": host.adapter("extended")}, {"extended": symbols})
    async with cluster:
        server = cluster.servers["extended"]
        sim = server.venue
        assert isinstance(sim, ExtendedSim)
        if before_start is not None:
            before_start(server)
        async with Engine(cluster.apply(settings), plugins=host) as engine:
            yield engine, engine.events(), server, sim


def paths(*markets: str) -> set[str]:
    return {f"/{kind}/{m}" for m in markets for kind in KINDS}


async def test_init_streams_every_kind_and_answers_heartbeats() -> None:
    def failing_init(server: SimServer) -> None:
        server.faults.rest_failures = 1  # the first /info/markets fails: init is retried

    async with running(["BTC", "ETH"], failing_init) as (_engine, sub, server, sim):
        assert (await first(sub, status("init_failed"))).stream == "init"
        book = await first(sub, book_of("BTC"))
        assert book.venue == "extended" and book.instrument == "BTC-USD"
        assert len(book.bids) == DEPTH and len(book.asks) == DEPTH
        assert book.bids[0][0] < book.asks[0][0]
        # the SNAPSHOT opened the book; DELTAs on the same socket keep it moving
        later = await first(sub, book_of("BTC", (book.seq or 0) + 5))
        assert later.bids != book.bids or later.asks != book.asks
        session = sim.sessions["/orderbooks/BTC-USD"][0]
        assert session.sent["SNAPSHOT"] == 1 and session.sent["DELTA"] >= 5
        bbo = await first(sub, lambda e: isinstance(e, Bbo) and e.symbol == "ETH")
        assert bbo.bid_px is not None and bbo.ask_px is not None and bbo.bid_px < bbo.ask_px
        trade = await first(sub, lambda e: isinstance(e, Trade))
        assert trade.side in ("buy", "sell") and int(trade.trade_id) >= 1
        assert trade.instrument == f"{trade.symbol}-USD" and trade.ts_venue is not None
        # WS funding carries the venue stamp; the REST stats poll brings the next funding time
        ws_funding = await first(sub, lambda e: isinstance(e, Funding) and e.ts_venue is not None)
        rest_funding = await first(sub, lambda e: isinstance(e, Funding) and e.ts_venue is None)
        for funding in (ws_funding, rest_funding):
            assert funding.interval_h == 1 and funding.rate_per_hour == funding.rate
            assert funding.next_funding_ms is not None and funding.next_funding_ms % 3_600_000 == 0
        # WS mark (`data.ts` 0: the envelope stamps it) and the REST poll's mark + index
        ws_mark = await first(sub, lambda e: isinstance(e, Mark) and e.index_px is None)
        assert ws_mark.ts_venue is not None and ws_mark.ts_venue > 0
        rest_mark = await first(sub, lambda e: isinstance(e, Mark) and e.index_px is not None)
        assert rest_mark.mark_px > 0
        assert sim.requests[0] == "/info/markets"  # the 503 never reached the encoder
        assert {"/info/markets/BTC-USD/stats", "/info/markets/ETH-USD/stats"} <= set(sim.requests)
        # v1: no subscribe message, one socket per stream and market, nothing sent by us;
        # > 1 s of 0.1 s client pings on the sparse funding/mark sockets were all answered
        # (aiohttp closes a socket whose ping goes unanswered for half the interval)
        await first(sub, book_of("BTC", (later.seq or 0) + 20))
        assert set(sim.opened) == paths("BTC-USD", "ETH-USD")
        assert set(sim.opened.values()) == {1} and server.connections == 8
        assert server.received == []


async def test_gap_reopens_only_that_books_socket() -> None:
    async with running(["BTC", "ETH"]) as (engine, sub, server, sim):
        await first(sub, book_of("BTC", 10))
        eth_before = await first(sub, book_of("ETH"))
        server.faults.gap.add("BTC")
        resync = await first(sub, status("resync", "book:BTC-USD"))
        assert resync.symbol == "BTC" and resync.instrument == "BTC-USD"
        assert "gap" in resync.reason and "reconnect" in resync.reason
        recovered = await first(sub, status("recovered", "ws:orderbooks/BTC-USD"))
        fresh = await first(
            sub, lambda e: book_of("BTC")(e) and e.ts_recv >= (recovered.gap_end_ms or 0)
        )
        assert (fresh.seq or 0) < 10  # a new connection: its SNAPSHOT restarted seq
        assert len(fresh.bids) == DEPTH and fresh.bids[0][0] < fresh.asks[0][0]
        # the ETH book kept its socket and its seq chain
        eth_after = await first(sub, book_of("ETH", (eth_before.seq or 0) + 1))
        assert eth_after.ts_recv >= resync.ts_recv
        assert sim.opened["/orderbooks/BTC-USD"] == 2
        assert all(n == 1 for p, n in sim.opened.items() if p != "/orderbooks/BTC-USD")
        assert server.connections == 9
        # a duplicated DELTA is dropped by seq, not applied twice, and is no reason to resync
        books = engine.runners["extended"].services.books
        assert books is not None
        server.faults.duplicate.add("ETH")
        await first(sub, book_of("ETH", (eth_after.seq or 0) + 5))
        assert books.duplicates == 1
        assert sim.opened["/orderbooks/ETH-USD"] == 1


async def test_reconnects_every_stream_after_drop_all() -> None:
    async with running(["BTC"]) as (_engine, sub, server, sim):
        await first(sub, book_of("BTC", 3))
        await first(sub, lambda e: isinstance(e, Mark) and e.index_px is None)
        server.drop_all()
        waiting = {f"ws:{p.lstrip('/')}" for p in paths("BTC-USD")}
        gap_end = 0
        async with asyncio.timeout(5):
            while waiting:
                event = await first(sub, status("recovered"))
                assert event.gap_start_ms <= event.gap_end_ms
                waiting.discard(event.stream)
                gap_end = max(gap_end, event.gap_end_ms)
        await first(sub, lambda e: book_of("BTC")(e) and e.ts_recv >= gap_end)
        assert dict(sim.opened) == {p: 2 for p in paths("BTC-USD")}


async def test_published_book_matches_the_true_book_at_a_checkpoint() -> None:
    async with running(["BTC"]) as (_engine, sub, server, sim):
        await first(sub, book_of("BTC", 5))
        server.faults.frozen = True
        market = server.venue.markets["BTC"]
        # wait until the book socket has encoded every step the market took, then the
        # Book carrying that last seq must be the true book
        async with asyncio.timeout(5):
            while True:
                latest = await first(sub, book_of("BTC"))
                session = sim.sessions["/orderbooks/BTC-USD"][-1]
                done = session.last_update.get("BTC") == market.update_id
                if done and latest.seq == session.seq:
                    break
        bids, asks = market.book_top(DEPTH)
        assert latest.bids == bids and latest.asks == asks
        bbo = await first(sub, lambda e: isinstance(e, Bbo) and e.symbol == "BTC")
        assert (bbo.bid_px, bbo.bid_sz) == bids[0] and (bbo.ask_px, bbo.ask_sz) == asks[0]


# ------------------------------------------------------------- encoder vs parser


def adapter() -> ExtendedAdapter:
    ctx = VenueContext(
        name="extended",
        symbols=("BTC",),
        ws_url="ws://x",
        rest_url="http://x",
        options={},
    )
    sim = ExtendedSim({"BTC": SyntheticMarket("BTC")})
    out = ExtendedAdapter(ctx)
    (init,) = out.init_requests()
    init.parse(sim.rest(SimRequest("GET", "/api/v1/info/markets")).body, 1)
    out.resolve("BTC")
    return out


def test_deltas_carry_consistent_change_and_absolute_sizes() -> None:
    market = SyntheticMarket("BTC")
    sim = ExtendedSim({"BTC": market})
    session = sim.session("/stream.extended.exchange/v1/orderbooks/BTC-USD", {})
    assert isinstance(session, ExtendedStream)
    parse = adapter().parse
    (snap,) = parse(str(session.on_open()[0]), 1)
    assert isinstance(snap, BookSnapshot) and snap.seq == 1
    by_q = {"b": dict(snap.bids), "a": dict(snap.asks)}
    for step in range(50):
        update = market.step(step)
        (data,) = session.on_update(market, update)
        (delta,) = parse(str(data.frame), 1)
        assert isinstance(delta, BookDelta) and delta.seq == step + 2
        assert not delta.sizes_are_changes  # every level has `c`: absolute sizes
        assert (delta.bids, delta.asks) == (update.bids, update.asks)
        for side in ("b", "a"):
            for row in json.loads(data.frame)["data"][side]:  # `q` adds up to `c`
                price = float(row["p"])
                by_q[side][price] = round(by_q[side].get(price, 0.0) + float(row["q"]), 8)
                if by_q[side][price] == 0:
                    del by_q[side][price]
    assert by_q == {"b": market.bids, "a": market.asks}


def test_unknown_market_gets_the_venue_error() -> None:
    sim = ExtendedSim({"BTC": SyntheticMarket("BTC")})
    (frame,) = sim.session("/orderbooks/DOGE-USD", {}).on_open()
    (notice,) = adapter().parse(str(frame), 1)
    assert isinstance(notice, VenueNotice) and notice.code == "1001" and notice.fatal
    response = sim.rest(SimRequest("GET", "/api/v1/info/markets/DOGE-USD/stats"))
    assert response.status == 404 and response.body["status"] == "ERROR"
