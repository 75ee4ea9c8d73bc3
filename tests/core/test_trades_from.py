"""`VenueAdapter.trades_from`: how every plugin's backfill answer is ordered and cut."""

from __future__ import annotations

from fakex import FakeAdapter

from venuefeed.core.adapter import VenueContext
from venuefeed.core.events import Trade


def trade(tid: str, ts: int) -> Trade:
    return Trade(
        venue="fakex",
        symbol="BTC",
        instrument="BTC-PERP",
        ts_venue=ts,
        ts_recv=ts,
        price=1.0,
        size=1.0,
        side="buy",
        trade_id=tid,
        source="rest",
    )


ADAPTER = FakeAdapter(VenueContext("fakex", ("BTC",), "ws://x", "http://x"))
# newest first on the wire, a time shared by two trades, and an id that is not a number
ROWS = [trade("12", 30), trade("x", 20), trade("11", 20), trade("10", 20), trade("9", 10)]


def test_a_backfill_comes_in_venue_order_time_then_id():
    ordered = ADAPTER.trades_from(ROWS, None)
    assert [t.trade_id for t in ordered] == ["9", "x", "10", "11", "12"]


def test_a_backfill_keeps_after_itself_and_what_follows_it():
    """`after` proves the answer reaches back; what is older was published before it."""
    got = ADAPTER.trades_from(ROWS, trade("10", 20))
    assert [t.trade_id for t in got] == ["10", "11", "12"]
    # an `after` the answer does not reach back to: everything newer, and no proof
    assert [t.trade_id for t in ADAPTER.trades_from(ROWS[:2], trade("10", 20))] == ["12"]
