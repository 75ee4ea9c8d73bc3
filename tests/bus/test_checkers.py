"""The bus tests' checkers catch what they claim to (deliberately broken inputs)."""

from __future__ import annotations

from buscheck import duplicate_trades, missing_trades, older_states

from venuefeed.core.events import Book, Trade


def trade(i: int, symbol: str = "BTC") -> Trade:
    return Trade(
        venue="v",
        symbol=symbol,
        instrument=symbol,
        ts_recv=i,
        price=1.0,
        size=1.0,
        side="buy",
        trade_id=str(i),
    )


def book(ts: int, seq: int | None = None) -> Book:
    return Book(
        venue="v",
        symbol="BTC",
        instrument="BTC",
        ts_venue=ts,
        ts_recv=ts,
        bids=[(1.0, 1.0)],
        asks=[(2.0, 1.0)],
        seq=seq,
    )


SENT = {("v", "BTC"): set(range(1, 11))}


def test_clean_flow_passes():
    trades = [trade(i) for i in range(3, 9)]
    assert duplicate_trades(trades) == [] and missing_trades(trades, SENT) == []
    assert older_states([book(1), book(2), book(2, 5), book(3)]) == []


def test_a_trade_seen_twice_is_caught():
    assert duplicate_trades([trade(1), trade(2), trade(2)]) == [("v", "BTC", 2)]


def test_a_hole_is_caught():
    assert missing_trades([trade(3), trade(5)], SENT) == [("v", "BTC", 4)]


def test_an_older_book_is_caught():
    older = book(1)
    assert older_states([book(2), older, book(3)]) == [older]
    assert older_states([book(2, seq=7), book(2, seq=6)]) != []
