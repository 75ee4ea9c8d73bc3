"""Hyperliquid through the real engine against its loopback simulator."""

from __future__ import annotations

import asyncio

from venuefeed.core.engine import Engine
from venuefeed.core.events import Bbo, Book, Funding, Mark, Status, Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings
from venuefeed.sim.cluster import SimCluster
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


async def test_streams_every_kind_heartbeats_and_reconnects():
    host = PluginHost(builtin_modules=("venuefeed.plugins.hyperliquid",), load_entry_points=False)
    settings = Settings.model_validate(
        {"defaults": {**FAST, "symbols": ["BTC", "ETH"]}, "venues": {"hyperliquid": {}}}
    )
    cluster = SimCluster(
        {"hyperliquid": host.adapter("hyperliquid")}, {"hyperliquid": ["BTC", "ETH"]}
    )
    async with cluster:
        server = cluster.servers["hyperliquid"]
        async with Engine(cluster.apply(settings), plugins=host) as engine:
            sub = engine.events()
            book = await first(sub, lambda e: isinstance(e, Book) and e.symbol == "BTC")
            truth_bids, _truth_asks = server.venue.markets["BTC"].book_top(20)
            assert len(book.bids) == 20 and book.bids[0][0] < book.asks[0][0]
            assert book.instrument == "BTC" and book.venue == "hyperliquid"
            assert abs(book.bids[0][0] - truth_bids[0][0]) < 1000  # same market, moving
            await first(sub, lambda e: isinstance(e, Bbo))
            trade = await first(sub, lambda e: isinstance(e, Trade))
            assert trade.side in ("buy", "sell") and int(trade.trade_id) >= 1
            mark = await first(sub, lambda e: isinstance(e, Mark))
            assert mark.index_px is not None
            funding = await first(sub, lambda e: isinstance(e, Funding))
            assert funding.interval_h == 1 and funding.rate_per_hour == funding.rate
            async with asyncio.timeout(5):
                while '{"method":"ping"}' not in server.received:
                    await first(sub, lambda e: isinstance(e, Book))
            server.drop_all()
            recovered = await first(sub, lambda e: isinstance(e, Status) and e.state == "recovered")
            assert recovered.gap_start_ms <= recovered.gap_end_ms
            await first(sub, lambda e: isinstance(e, Book) and e.ts_recv >= recovered.gap_end_ms)
            assert server.connections == 2


async def test_published_book_matches_the_true_book_at_a_checkpoint():
    host = PluginHost(builtin_modules=("venuefeed.plugins.hyperliquid",), load_entry_points=False)
    settings = Settings.model_validate(
        {"defaults": {**FAST, "symbols": ["BTC"]}, "venues": {"hyperliquid": {}}}
    )
    cluster = SimCluster({"hyperliquid": host.adapter("hyperliquid")}, {"hyperliquid": ["BTC"]})
    async with cluster:
        server = cluster.servers["hyperliquid"]
        async with Engine(cluster.apply(settings), plugins=host) as engine:
            sub = engine.events()
            latest = await first(sub, lambda e: isinstance(e, Book))
            server.faults.frozen = True
            market = server.venue.markets["BTC"]
            frozen_at = market.update_id
            # every frame for updates up to frozen_at is on the wire; the last book wins.
            # Start from the last book seen, so a book consumed before the freeze counts.
            async with asyncio.timeout(5):
                while latest.bids != market.book_top(20)[0]:
                    latest = await first(sub, lambda e: isinstance(e, Book))
            bids, asks = market.book_top(20)
            assert latest.bids == bids and latest.asks == asks
            assert market.update_id == frozen_at
