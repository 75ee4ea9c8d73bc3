"""The Extended simulator's REST trades: the stream's last trades, oldest first."""

from __future__ import annotations

from loopback import loopback

from venuefeed.plugins.extended.adapter import ExtendedAdapter
from venuefeed.plugins.extended.sim import REST_TRADES
from venuefeed.sim.protocol import SimRequest


def test_rest_trades_are_the_last_ones_oldest_first():
    rig = loopback(ExtendedAdapter, ("BTC",))
    rig.step(400)
    last = rig.markets["BTC"].trade_id
    assert last > REST_TRADES
    answer = rig.sim.rest(SimRequest("GET", "/api/v1/info/markets/BTC-USD/trades"))
    assert answer.body["status"] == "OK"
    assert [r["i"] for r in answer.body["data"]] == list(range(last - REST_TRADES + 1, last + 1))
    missing = rig.sim.rest(SimRequest("GET", "/api/v1/info/markets/NOPE-USD/trades"))
    assert missing.status == 404
