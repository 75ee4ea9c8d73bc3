"""The Paradex simulator's `GET /trades` pages and `GET /orderbook`."""

from __future__ import annotations

from loopback import loopback

from venuefeed.plugins.paradex.adapter import ParadexAdapter
from venuefeed.sim.protocol import SimRequest


def _trades(rig, **query: str):
    return rig.sim.rest(SimRequest("GET", "/v1/trades", {"market": "BTC-USD-PERP", **query}))


def test_trades_come_newest_first_with_a_cursor_to_older_pages():
    rig = loopback(ParadexAdapter, ("BTC",))
    rig.step(200)
    last = rig.markets["BTC"].trade_id
    first = _trades(rig, page_size="5").body
    assert [int(r["id"]) for r in first["results"]] == list(range(last, last - 5, -1))
    second = _trades(rig, page_size="5", cursor=first["next"]).body
    assert [int(r["id"]) for r in second["results"]] == list(range(last - 5, last - 10, -1))
    every = _trades(rig, page_size="1000").body
    assert every["next"] is None and len(every["results"]) == last


def test_trades_by_time_are_inclusive():
    rig = loopback(ParadexAdapter, ("BTC",))
    rig.step(200)
    trades = rig.markets["BTC"].trades
    start, end = trades[3].ts_ms, trades[6].ts_ms
    body = _trades(rig, start_at=str(start), end_at=str(end)).body
    assert [int(r["id"]) for r in body["results"]] == [6, 5, 4, 3]


def test_bad_trades_and_book_requests_are_refused():
    rig = loopback(ParadexAdapter, ("BTC",))
    assert _trades(rig, page_size="1001").status == 400
    assert _trades(rig, market="NOPE-USD-PERP").status == 400
    answer = rig.sim.rest(SimRequest("GET", "/v1/orderbook/NOPE-USD-PERP", {}))
    assert answer.status == 400


def test_orderbook_is_the_true_book_at_the_asked_depth():
    rig = loopback(ParadexAdapter, ("BTC",))
    rig.step(30)
    market = rig.markets["BTC"]
    body = rig.sim.rest(SimRequest("GET", "/v1/orderbook/BTC-USD-PERP", {"depth": "5"})).body
    bids, asks = market.book_top(5)
    assert [[float(p), float(s)] for p, s in body["bids"]] == [[p, s] for p, s in bids]
    assert [[float(p), float(s)] for p, s in body["asks"]] == [[p, s] for p, s in asks]
    assert body["seq_no"] == market.update_id
