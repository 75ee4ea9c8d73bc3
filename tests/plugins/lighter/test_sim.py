"""The Lighter simulator's replay on subscribe and its REST trades and book."""

from __future__ import annotations

from decimal import Decimal

from loopback import loopback

from venuefeed.plugins.lighter.adapter import LighterAdapter
from venuefeed.plugins.lighter.sim import RECENT_TRADES
from venuefeed.sim.protocol import SimRequest


def test_a_resubscribe_replays_trades_made_while_disconnected():
    rig = loopback(LighterAdapter, ("ETH",))
    rig.step(100)
    rig.disconnect()
    made_from = rig.markets["ETH"].trade_id + 1
    rig.step(20)
    replayed = rig.trades(rig.connect())
    last = rig.markets["ETH"].trade_id
    assert last >= made_from
    assert [int(t.trade_id) for t in replayed] == list(
        range(max(1, last - RECENT_TRADES + 1), last + 1)
    )


def test_recent_trades_newest_first_within_the_limit():
    rig = loopback(LighterAdapter, ("ETH",))
    rig.step(100)
    last = rig.markets["ETH"].trade_id
    query = {"market_id": "0", "limit": "3"}
    body = rig.sim.rest(SimRequest("GET", "/api/v1/recentTrades", query)).body
    assert [row["trade_id"] for row in body["trades"]] == [last, last - 1, last - 2]
    for bad in ({"market_id": "0", "limit": "101"}, {"market_id": "0"}, {"limit": "5"}):
        assert rig.sim.rest(SimRequest("GET", "/api/v1/recentTrades", bad)).status == 400


def test_order_book_orders_add_up_to_the_true_book():
    rig = loopback(LighterAdapter, ("ETH",))
    rig.step(50)
    market = rig.markets["ETH"]
    query = {"market_id": "0", "limit": "250"}
    body = rig.sim.rest(SimRequest("GET", "/api/v1/orderBookOrders", query)).body
    assert len(body["bids"]) > len(market.bids)  # some levels are two orders
    sums: dict[str, Decimal] = {}
    for order in body["bids"]:
        sums[order["price"]] = sums.get(order["price"], Decimal(0)) + Decimal(
            order["remaining_base_amount"]
        )
    assert {float(p): float(s) for p, s in sums.items()} == dict(market.bids)
