"""Lighter through the real engine against its loopback simulator."""

from __future__ import annotations

import asyncio

from venuefeed.core.adapter import Ack, Reply, VenueContext, VenueNotice
from venuefeed.core.engine import Engine
from venuefeed.core.events import Bbo, Book, Funding, Mark, Status, Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings
from venuefeed.plugins.lighter.adapter import LighterAdapter
from venuefeed.plugins.lighter.sim import NONCE_BASE, LighterSim, nonce
from venuefeed.sim import SimRequest
from venuefeed.sim.cluster import SimCluster
from venuefeed.sim.market import SyntheticMarket
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
DEPTH = 20  # the default book_depth
BTC, ETH = "1", "0"  # Lighter market ids


def setup(symbols: list[str]) -> tuple[PluginHost, Settings, SimCluster]:
    host = PluginHost(builtin_modules=("venuefeed.plugins.lighter",), load_entry_points=False)
    settings = Settings.model_validate(
        {"defaults": {**FAST, "symbols": symbols}, "venues": {"lighter": {}}}
    )
    cluster = SimCluster({"lighter": host.adapter("lighter")}, {"lighter": symbols})
    return host, settings, cluster


def is_book(instrument: str):
    return lambda e: isinstance(e, Book) and e.instrument == instrument


async def test_streams_every_kind_heartbeats_and_reconnects():
    host, settings, cluster = setup(["BTC", "ETH"])
    async with cluster:
        server = cluster.servers["lighter"]
        server.ping_s = 0.2  # venue pings often enough to see answers
        market = server.venue.markets["BTC"]
        async with Engine(cluster.apply(settings), plugins=host) as engine:
            sub = engine.events()
            funding_sub = engine.events()  # its own: a settled payment comes once
            # init (REST orderBooks) mapped BTC to Lighter's id 1; the first book is the
            # subscribed/order_book snapshot, the following ones are begin_nonce-chained deltas
            book = await first(sub, is_book(BTC))
            assert book.symbol == "BTC" and book.venue == "lighter"
            assert len(book.bids) == DEPTH and book.bids[0][0] < book.asks[0][0]
            seqs = [book.seq]
            while len(seqs) < 6:
                seqs.append((await first(sub, is_book(BTC))).seq)
            assert seqs == sorted(set(seqs)) and all(s > NONCE_BASE for s in seqs)
            assert seqs[-1] in {nonce(u) for u in range(market.update_id + 1)}
            assert server.received.count('{"type":"subscribe","channel":"order_book/1"}') == 1
            for channel in ("order_book", "ticker", "trade", "market_stats"):
                assert f'{{"type":"subscribe","channel":"{channel}/0"}}' in server.received

            bbo = await first(sub, lambda e: isinstance(e, Bbo) and e.instrument == BTC)
            assert bbo.bid_px is not None and bbo.ask_px is not None
            assert bbo.bid_px < bbo.ask_px
            trade = await first(sub, lambda e: isinstance(e, Trade) and e.instrument == BTC)
            assert trade.side in ("buy", "sell") and int(trade.trade_id) >= 1
            mark = await first(sub, lambda e: isinstance(e, Mark) and e.instrument == BTC)
            assert mark.index_px is not None
            assert abs(mark.mark_px - market.mark) < 200 * market.tick

            # funding three ways, one meaning: websocket market_stats (percent per hour: the
            # coming payment and the last one made, the latter once per payment) and the REST
            # poll of /api/v1/funding-rates (an 8-hour fraction), each a fraction of one
            # hourly payment
            kinds: dict[tuple[str, str], Funding] = {}
            while len(kinds) < 3:
                f = await first(
                    funding_sub, lambda e: isinstance(e, Funding) and e.instrument == BTC
                )
                assert isinstance(f, Funding)
                kinds.setdefault((f.feed, f.basis), f)
            assert set(kinds) == {
                ("market_stats", "predicted"),
                ("market_stats", "settled"),
                ("funding-rates", "predicted"),
            }
            settled = kinds["market_stats", "settled"]
            for (feed, _), f in kinds.items():
                source = "rest" if feed == "funding-rates" else "ws"
                assert (f.interval_h, f.rate_per_hour, f.source) == (1.0, f.rate, source)
                assert abs(f.rate - market.funding_rate_1h) < 1e-5
            assert settled.ts_venue is not None and settled.ts_venue % 3_600_000 == 0

            # heartbeats: our {"type":"ping"} gets a pong, the venue's ping gets our pong
            async with asyncio.timeout(5):
                while '{"type":"pong"}' not in server.received:
                    await first(sub, is_book(BTC))
            assert '{"type":"ping"}' in server.received
            assert engine.metrics.value("pongs", venue="lighter") >= 1

            server.drop_all()
            recovered = await first(sub, lambda e: isinstance(e, Status) and e.state == "recovered")
            assert recovered.stream == "ws:main"
            assert recovered.gap_start_ms <= recovered.gap_end_ms
            await first(sub, lambda e: is_book(BTC)(e) and e.ts_recv >= recovered.gap_end_ms)
            assert server.connections == 2
            assert server.received.count('{"type":"subscribe","channel":"order_book/1"}') == 2


async def test_nonce_gap_resubscribes_that_book_only():
    host, settings, cluster = setup(["BTC", "ETH"])
    async with cluster:
        server = cluster.servers["lighter"]
        async with Engine(cluster.apply(settings), plugins=host) as engine:
            sub = engine.events()
            await first(sub, is_book(BTC))
            await first(sub, is_book(ETH))
            books = engine.runners["lighter"].services.books
            server.faults.duplicate.add("ETH")  # a repeated nonce is ignored, not a gap
            server.faults.gap.add("BTC")  # a lost delta breaks the begin_nonce chain
            seen = []
            resync = fresh = None
            eth_during = False
            async with asyncio.timeout(5):
                async for event in sub:
                    seen.append(event)
                    if isinstance(event, Status) and event.state == "resync":
                        resync = event
                    elif resync is not None and is_book(ETH)(event):
                        eth_during = True
                    elif resync is not None and is_book(BTC)(event):
                        fresh = event
                    if fresh is not None and eth_during:
                        break
            assert resync.stream == f"book:{BTC}" and resync.symbol == "BTC"
            assert "gap" in resync.reason and "resubscribe" in resync.reason
            assert fresh.bids and fresh.asks and fresh.bids[0][0] < fresh.asks[0][0]
            # the fix was unsubscribe + subscribe on the same socket, a fresh snapshot
            unsub = server.received.index('{"type":"unsubscribe","channel":"order_book/1"}')
            resub = server.received.index('{"type":"subscribe","channel":"order_book/1"}', unsub)
            assert unsub < resub
            # the other book kept flowing while BTC resynced, and nothing reconnected
            assert [e.state for e in seen if isinstance(e, Status)] == ["resync"]
            assert server.connections == 1
            assert books is not None and books.duplicates >= 1


async def test_published_book_matches_the_true_book_at_a_checkpoint():
    host, settings, cluster = setup(["BTC"])
    async with cluster:
        server = cluster.servers["lighter"]
        async with Engine(cluster.apply(settings), plugins=host) as engine:
            sub = engine.events()
            await first(sub, is_book(BTC))
            latest = await first(sub, is_book(BTC))  # at least one delta applied on top
            server.faults.frozen = True
            market = server.venue.markets["BTC"]
            frozen_at = market.update_id
            # every frame for updates up to frozen_at is on the wire; the last book wins
            async with asyncio.timeout(5):
                while latest.seq != nonce(frozen_at):
                    latest = await first(sub, is_book(BTC))
            bids, asks = market.book_top(DEPTH)
            assert latest.bids == bids and latest.asks == asks
            assert market.update_id == frozen_at


def test_sim_control_frames_parse_as_the_venue_documents():
    """The sim's acks, pings and error frames, straight through the real parser."""
    markets = {"BTC": SyntheticMarket("BTC"), "ETH": SyntheticMarket("ETH")}
    sim = LighterSim(markets)
    session = sim.session("/stream", {})
    ctx = VenueContext("lighter", ("BTC", "ETH"), "ws://x/stream", "http://x")
    adapter = LighterAdapter(ctx)
    (init,) = adapter.init_requests()
    init.parse(sim.rest(SimRequest("GET", "/api/v1/orderBooks")).body, 0)
    assert adapter.resolve("BTC").instrument == BTC and adapter.resolve("ETH").instrument == ETH

    def parse(frames):
        return [r for f in frames for r in adapter.parse(f, 0)]

    assert isinstance(parse(session.on_open())[0], Ack)
    assert parse([session.ping()]) == [Reply({"type": "pong"})]
    assert session.on_message('{"type":"ping"}') == ('{"type":"pong"}',)
    sub = '{"type":"subscribe","channel":"order_book/1"}'
    assert len(parse(session.on_message(sub))) == 2  # the snapshot and the ack
    (again,) = parse(session.on_message(sub))
    assert isinstance(again, VenueNotice) and again.code == "30003" and not again.fatal
    (bad,) = parse(session.on_message('{"type":"subscribe","channel":"order_book/77"}'))
    assert isinstance(bad, VenueNotice) and bad.code == "30005" and bad.fatal
    unsub = '{"type":"unsubscribe","channel":"order_book/1"}'
    assert isinstance(parse(session.on_message(unsub))[0], Ack)
    (missing,) = parse(session.on_message(unsub))
    assert missing.code == "30002" and missing.stream == f"book:{BTC}"
