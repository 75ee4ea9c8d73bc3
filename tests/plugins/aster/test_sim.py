"""The Aster simulator's `aggTrades`: the documented paging, from the stream's trades."""

from __future__ import annotations

from loopback import loopback

from venuefeed.plugins.aster.adapter import AsterAdapter
from venuefeed.sim.protocol import SimRequest


def _agg(rig, **query: str):
    return rig.sim.rest(SimRequest("GET", "/fapi/v3/aggTrades", {"symbol": "BTCUSDT", **query}))


def test_agg_trades_pages_oldest_first_from_an_inclusive_id():
    rig = loopback(AsterAdapter, ("BTC",))
    rig.step(300)
    last = rig.markets["BTC"].trade_id
    assert last > 20
    rows = _agg(rig, fromId="5", limit="3").body
    assert [r["a"] for r in rows] == [5, 6, 7]
    assert [r["a"] for r in _agg(rig).body] == list(range(1, last + 1))  # <= 500: all
    assert [r["a"] for r in _agg(rig, limit="4").body] == list(range(last - 3, last + 1))


def test_agg_trades_by_time_is_inclusive_and_under_an_hour():
    rig = loopback(AsterAdapter, ("BTC",))
    rig.step(300)
    trades = rig.markets["BTC"].trades
    t5, t9 = trades[5].ts_ms, trades[9].ts_ms
    rows = _agg(rig, startTime=str(t5), endTime=str(t9)).body
    assert [r["a"] for r in rows] == [5, 6, 7, 8, 9]
    assert _agg(rig, startTime="0", endTime=str(3_600_000)).status == 400


def test_agg_trades_refuses_what_the_venue_refuses():
    rig = loopback(AsterAdapter, ("BTC",))
    assert _agg(rig, limit="1001").status == 400
    assert _agg(rig, limit="0").status == 400
    assert _agg(rig, fromId="x").status == 400
    answer = rig.sim.rest(SimRequest("GET", "/fapi/v3/aggTrades", {"symbol": "NOPEUSDT"}))
    assert answer.body == {"code": -1121, "msg": "Invalid symbol."}
