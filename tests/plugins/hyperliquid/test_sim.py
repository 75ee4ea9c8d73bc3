"""The Hyperliquid simulator serves what the venue serves: replays on subscribe, REST."""

from __future__ import annotations

from loopback import loopback

from venuefeed.core.adapter import Ack, BookSnapshot
from venuefeed.core.events import Trade
from venuefeed.plugins.hyperliquid.adapter import HyperliquidAdapter
from venuefeed.plugins.hyperliquid.sim import REPLAY_TRADES, REST_TRADES
from venuefeed.sim.protocol import SimRequest


def test_every_trades_subscribe_replays_the_last_trades():
    rig = loopback(HyperliquidAdapter, ("BTC",))
    live = rig.trades(rig.step(400))
    assert len(live) > REPLAY_TRADES
    rig.disconnect()
    replayed = rig.connect()
    trades = rig.trades(replayed)
    # the same trades, re-sent: the last REPLAY_TRADES, oldest first, after the acks
    assert [t.trade_id for t in trades] == [t.trade_id for t in live[-REPLAY_TRADES:]]
    assert [(t.price, t.size, t.side) for t in trades] == [
        (t.price, t.size, t.side) for t in live[-REPLAY_TRADES:]
    ]
    first_trade = next(i for i, r in enumerate(replayed) if isinstance(r, Trade))
    assert any(isinstance(r, Ack) and r.subscribed for r in replayed[:first_trade])


def test_a_market_without_trades_replays_nothing():
    rig = loopback(HyperliquidAdapter, ("BTC",), connect=False)
    assert rig.trades(rig.connect()) == []


def test_recent_trades_are_the_last_few_newest_first():
    rig = loopback(HyperliquidAdapter, ("BTC",))
    rig.step(200)
    market = rig.markets["BTC"]
    answer = rig.sim.rest(SimRequest("POST", "/info", {}, {"type": "recentTrades", "coin": "BTC"}))
    tids = [row["tid"] for row in answer.body]
    assert tids == list(range(market.trade_id, market.trade_id - REST_TRADES, -1))


def test_l2book_is_the_true_top_20():
    rig = loopback(HyperliquidAdapter, ("BTC",))
    rig.step(50)
    (request,) = rig.adapter.fallback_requests("BTC")
    (snap,) = rig.fetch(request)
    assert isinstance(snap, BookSnapshot)
    assert (list(snap.bids), list(snap.asks)) == rig.markets["BTC"].book_top(20)


def test_unknown_coin_is_refused():
    rig = loopback(HyperliquidAdapter, ("BTC",))
    answer = rig.sim.rest(SimRequest("POST", "/info", {}, {"type": "l2Book", "coin": "NOPE"}))
    assert answer.status == 422
