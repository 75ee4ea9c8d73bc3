"""Aster through the real engine against its loopback simulator (`venuefeed.plugins.aster.sim`).

Every wait is bounded by `asyncio.timeout`; nothing sleeps on the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp import web

from venuefeed.core.engine import Engine
from venuefeed.core.events import Bbo, Book, Event, Funding, Mark, Status, Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings
from venuefeed.plugins.aster import sim as aster_sim
from venuefeed.sim.cluster import SimCluster
from venuefeed.testing import next_event as first

FAST = {
    # markPrice@1s feeds the watched mark and funding streams about once a second
    "stale_after_s": 2.5,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.2,
    "backoff_jitter": 0.0,
    "stable_after_s": 0.3,
    "heartbeat_interval_s": 0.1,
    "funding_poll_s": 0.3,
}
DEPTH = "/fapi/v3/depth"


def is_book(symbol: str):
    return lambda e: isinstance(e, Book) and e.symbol == symbol


def run(symbols=("BTC", "ETH"), options=None, config_symbols=None, policy=None):
    """(cluster, engine) for the aster simulator; use both as async context managers."""
    host = PluginHost(builtin_modules=("venuefeed.plugins.aster",), load_entry_points=False)
    venue: dict[str, Any] = {"options": options} if options else {}
    settings = Settings.model_validate(
        {
            "defaults": {**FAST, **(policy or {}), "symbols": list(config_symbols or symbols)},
            "venues": {"aster": venue},
        }
    )
    cluster = SimCluster({"aster": host.adapter("aster")}, {"aster": list(symbols)})
    return cluster, lambda: Engine(cluster.apply(settings), plugins=host)


async def test_init_subscribe_books_and_every_event_kind():
    cluster, engine_for = run(config_symbols=("BTC", "ETH", "NOPE"))
    async with cluster:
        server = cluster.servers["aster"]
        venue = server.venue
        assert isinstance(venue, aster_sim.AsterSim)
        async with engine_for() as engine:
            sub = engine.events()
            seen: list[Event] = []
            # init: exchangeInfo validates the symbols (NOPE is not listed), fundingInfo
            # gives the intervals
            nope = await first(
                sub, lambda e: isinstance(e, Status) and e.stream == "symbol:NOPE", log=seen
            )
            assert nope.state == "error" and "BTC, ETH" in nope.reason
            book = await first(sub, is_book("BTC"), log=seen)
            assert [r.path for r in venue.requests[:2]] == [
                "/fapi/v3/exchangeInfo",
                "/fapi/v3/fundingInfo",
            ]
            # one SUBSCRIBE on /stream carrying the four streams of each instrument
            sent = json.loads(server.received[0])
            assert sent == {
                "method": "SUBSCRIBE",
                "params": [
                    f"{s}usdt{c}"
                    for s in ("btc", "eth")
                    for c in ("@depth@100ms", "@bookTicker", "@aggTrade", "@markPrice@1s")
                ],
                "id": 1,
            }
            assert len(server.received) == 1 and server.connections == 1
            # the book comes from one REST snapshot (limit 1000), then diff deltas only
            assert book.instrument == "BTCUSDT" and book.venue == "aster"
            assert len(book.bids) == len(book.asks) == 20
            assert book.bids[0][0] < book.asks[0][0]
            assert book.bids == sorted(book.bids, reverse=True) and book.asks == sorted(book.asks)
            snap = next(r for r in venue.requests if r.path == DEPTH)
            assert snap.query == {"symbol": "BTCUSDT", "limit": "1000"}
            seqs = [book.seq]
            for _ in range(5):
                seqs.append((await first(sub, is_book("BTC"), log=seen)).seq)
            assert seqs == sorted(set(seqs)), seqs  # u of the deltas, increasing
            assert venue.requested(DEPTH, "BTCUSDT") == 1
            # bookTicker, aggTrade, markPrice (WS) and premiumIndex (poll)
            bbo = await first(sub, lambda e: isinstance(e, Bbo), log=seen)
            assert bbo.bid_px is not None and bbo.ask_px is not None
            assert bbo.bid_px < bbo.ask_px and bbo.bid_sz and bbo.ask_sz
            trade = await first(sub, lambda e: isinstance(e, Trade), log=seen)
            assert trade.side in ("buy", "sell") and int(trade.trade_id) >= 1
            market = venue.markets[trade.symbol]
            assert 1 <= int(trade.trade_id) <= market.trade_id
            mark = await first(sub, lambda e: isinstance(e, Mark), log=seen)
            assert mark.index_px is not None and mark.mark_px > 0
            # funding: r per interval, normalised by the per-symbol interval (ETH 4 h)
            for symbol, hours in (("BTC", 8.0), ("ETH", 4.0)):
                funding = await first(
                    sub, lambda e, s=symbol: isinstance(e, Funding) and e.symbol == s, log=seen
                )
                assert funding.interval_h == hours
                assert funding.rate_per_hour == pytest.approx(funding.rate / hours, rel=1e-12)
                # the market's rate is per hour and drifts by ~1e-6 now and then
                truth = venue.markets[symbol].funding_rate_1h
                assert abs(funding.rate_per_hour - truth) < 3e-6, (funding, truth)
                assert funding.next_funding_ms is not None
                assert funding.next_funding_ms % int(hours * 3_600_000) == 0
                assert funding.next_funding_ms > time.time() * 1000
            assert venue.requested("/fapi/v3/premiumIndex", "ETHUSDT") >= 1
            kinds = {e.kind for e in seen}
            assert {"book", "bbo", "trade", "mark", "funding", "status"} <= kinds
            assert server.connections == 1


async def test_sequence_gap_resyncs_that_book_from_a_rest_snapshot():
    cluster, engine_for = run()
    async with cluster:
        server = cluster.servers["aster"]
        venue = server.venue
        assert isinstance(venue, aster_sim.AsterSim)
        async with engine_for() as engine:
            sub = engine.events()
            btc = await first(sub, is_book("BTC"))
            # a later BTC book proves a delta bridged the snapshot, so the gap below breaks
            # the delta chain (pu) rather than the bridge
            await first(sub, lambda e: is_book("BTC")(e) and e.seq > btc.seq)
            eth = await first(sub, is_book("ETH"))
            btc_snapshots = venue.requested(DEPTH, "BTCUSDT")
            eth_snapshots = venue.requested(DEPTH, "ETHUSDT")
            books = engine.runners["aster"].services.books
            assert books is not None
            # a duplicated delta is skipped (u <= last u), no resync
            server.faults.duplicate.add("ETH")
            server.faults.gap.add("BTC")  # the next BTC depthUpdate is lost: pu breaks
            seen: list[Event] = []
            resync = await first(sub, lambda e: isinstance(e, Status), log=seen)
            assert resync.state == "resync"
            assert resync.stream == "book:BTCUSDT" and resync.symbol == "BTC"
            assert resync.reason.startswith("gap: previous seq"), resync.reason
            assert "rest_snapshot" in resync.reason
            fresh = await first(sub, is_book("BTC"), log=seen)
            assert venue.requested(DEPTH, "BTCUSDT") == btc_snapshots + 1
            assert fresh.bids[0][0] < fresh.asks[0][0] and len(fresh.bids) == 20
            # ETH never lost its book: more deltas, no snapshot, no resync
            async with asyncio.timeout(3):
                while server.faults.duplicate or books.duplicates == 0:
                    eth = await first(sub, is_book("ETH"), log=seen)
            await first(sub, lambda e: is_book("ETH")(e) and e.seq > eth.seq + 2, log=seen)
            assert books.duplicates == 1
            assert venue.requested(DEPTH, "ETHUSDT") == eth_snapshots
            statuses = [e for e in seen if isinstance(e, Status)]
            assert not [s for s in statuses if s.stream == "book:ETHUSDT"]
            # the connection was not reopened for it
            assert server.connections == 1
            assert not [s for s in statuses if s.state in ("connecting", "backoff")]


class _PingingResponse(web.WebSocketResponse):
    """The venue's keep-alive at test speed: Aster sends a websocket ping frame every
    5 min and drops a connection that sends no pong within 15 min; here it is every
    0.2 s with 0.1 s to answer. Also counts pongs it gives to the client's pings."""

    live: list[_PingingResponse] = []  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(heartbeat=0.2, **kwargs)
        self.pings = 0
        self.missed = 0
        self.pongs = 0
        self._armed: object = None
        _PingingResponse.live.append(self)

    def _send_heartbeat(self) -> None:
        super()._send_heartbeat()
        if self._pong_response_cb is not None and self._pong_response_cb is not self._armed:
            self._armed = self._pong_response_cb
            self.pings += 1

    def _pong_not_received(self) -> None:
        self.missed += 1
        super()._pong_not_received()

    async def pong(self, message: bytes = b"") -> None:
        self.pongs += 1
        await super().pong(message)


async def test_websocket_pings_are_answered_both_ways(monkeypatch):
    monkeypatch.setattr(web, "WebSocketResponse", _PingingResponse)
    _PingingResponse.live.clear()
    cluster, engine_for = run(symbols=("BTC",))
    async with cluster:
        server = cluster.servers["aster"]
        async with engine_for() as engine:
            sub = engine.events()
            await first(sub, is_book("BTC"))
            (ws,) = _PingingResponse.live
            # the venue pings (the client sends nothing after SUBSCRIBE); aiohttp's autoping
            # in the core answers, so the venue never drops the connection
            async with asyncio.timeout(5):
                while ws.pings < 5:
                    await first(sub, is_book("BTC"))
            # a quiet market: the core's own websocket pings, answered by the venue
            server.faults.frozen = True
            async with asyncio.timeout(5):
                while ws.pongs < 2:
                    await first(sub, lambda e: isinstance(e, Mark | Funding | Status))
            server.faults.frozen = False
            await first(sub, is_book("BTC"))
            assert ws.missed == 0 and not ws.closed
            assert server.connections == 1
            assert engine.metrics.value("reconnects") == 0


async def test_reconnects_after_the_connection_drops():
    cluster, engine_for = run()
    async with cluster:
        server = cluster.servers["aster"]
        venue = server.venue
        assert isinstance(venue, aster_sim.AsterSim)
        async with engine_for() as engine:
            sub = engine.events()
            await first(sub, is_book("BTC"))
            await first(sub, is_book("ETH"))
            server.drop_all()
            recovered = await first(sub, lambda e: isinstance(e, Status) and e.state == "recovered")
            assert recovered.stream == "ws:main"
            assert recovered.gap_start_ms <= recovered.gap_end_ms
            for symbol in ("BTC", "ETH"):
                book = await first(
                    sub, lambda e, s=symbol: is_book(s)(e) and e.ts_recv >= recovered.gap_end_ms
                )
                assert book.bids[0][0] < book.asks[0][0]
            assert server.connections == 2
            # a new connection starts from an empty book: subscribe again, snapshot again
            assert len(server.received) == 2 and server.received[0] == server.received[1]
            assert venue.requested(DEPTH, "BTCUSDT") == venue.requested(DEPTH, "ETHUSDT") == 2


async def test_rotates_at_max_lifetime_without_counting_a_failure():
    cluster, engine_for = run(symbols=("BTC",), options={"max_lifetime_s": 0.5})
    async with cluster:
        server = cluster.servers["aster"]
        async with engine_for() as engine:
            sub = engine.events()
            statuses: list[Status] = []

            def watch(e):
                if isinstance(e, Status):
                    statuses.append(e)
                return False

            async with asyncio.timeout(5):
                while server.connections < 3:
                    await first(sub, lambda e: watch(e) or is_book("BTC")(e))
            after = await first(sub, lambda e: watch(e) or is_book("BTC")(e))
            assert after.bids[0][0] < after.asks[0][0]
            states = [s.state for s in statuses if s.stream == "ws:main"]
            assert states.count("connecting") >= 3, states
            assert "backoff" not in states and "recovered" not in states, states
            assert engine.metrics.value("reconnects", reason="rotate") >= 2
            assert engine.metrics.value("reconnects") == engine.metrics.value(
                "reconnects", reason="rotate"
            )


@pytest.mark.parametrize("depth", [20, 1000])
async def test_published_book_and_bbo_equal_the_true_book_at_a_checkpoint(depth):
    # 1000: every level of the book, not only the top (the REST snapshot holds them all)
    cluster, engine_for = run(policy={"book_depth": depth})
    async with cluster:
        server = cluster.servers["aster"]
        markets = server.venue.markets
        async with engine_for() as engine:
            sub = engine.events()
            latest: dict[tuple[str, str], Event] = {}
            seqs: dict[str, list[int]] = {s: [] for s in markets}
            # let ~30 deltas per book (level changes, removals, trades) land first
            async with asyncio.timeout(5):
                while len(latest) < 4 or any(s[-1] < s[0] + 30 for s in seqs.values()):
                    e = await first(sub, lambda e: isinstance(e, Book | Bbo))
                    latest[(e.kind, e.symbol)] = e
                    if isinstance(e, Book) and e.seq is not None:
                        seqs[e.symbol].append(e.seq)
            server.faults.frozen = True
            frozen_at = {s: m.update_id for s, m in markets.items()}
            # every frame up to the freeze is on the wire: drain until the books go quiet
            async with asyncio.timeout(5):
                while True:
                    try:
                        e = await first(sub, lambda e: isinstance(e, Book | Bbo), within=0.4)
                    except TimeoutError:
                        break
                    latest[(e.kind, e.symbol)] = e
            for symbol, market in markets.items():
                bids, asks = market.book_top(depth)
                assert len(bids) == min(depth, len(market.bids))
                book = latest[("book", symbol)]
                assert isinstance(book, Book)
                assert book.bids == bids and book.asks == asks
                assert book.seq == market.update_id == frozen_at[symbol]
                bbo = latest[("bbo", symbol)]
                assert isinstance(bbo, Bbo)
                assert (bbo.bid_px, bbo.bid_sz) == bids[0]
                assert (bbo.ask_px, bbo.ask_sz) == asks[0]
