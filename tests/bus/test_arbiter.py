"""Book arbitration between redundant engines: never older than what was handed out."""

from __future__ import annotations

from buscheck import older_states

from venuefeed.bus.arbiter import StateArbiter
from venuefeed.core.events import Book, Mark, Trade


def book(ts_venue: int | None, seq: int | None, ts_recv: int = 0, inst: str = "BTC") -> Book:
    return Book(
        venue="x",
        symbol=inst,
        instrument=inst,
        ts_venue=ts_venue,
        ts_recv=ts_recv,
        bids=[(1.0, 1.0)],
        asks=[(2.0, 1.0)],
        seq=seq,
    )


def admitted(events):
    arbiter = StateArbiter()
    return [e for e in events if arbiter.admit(e)]


def test_two_engines_interleaved_give_each_book_once_in_order():
    # engine B lags engine A by one book; both carry the venue's time and sequence
    a = [book(100 + i, 1000 + i) for i in range(5)]
    b = [book(100 + i, 1000 + i) for i in range(5)]
    arrivals = [a[0], a[1], b[0], a[2], b[1], b[2], a[3], b[3], b[4], a[4]]
    out = admitted(arrivals)
    assert out == a and older_states(out) == []


def test_per_connection_sequences_are_ordered_by_the_venues_time():
    # Extended numbers messages per connection: engine B's seq is far lower for the same book
    a = [book(100, 500), book(101, 501)]
    b = [book(100, 20), book(101, 21), book(102, 22)]
    out = admitted([a[0], b[0], b[1], a[1], b[2]])
    # B's copy of the first book (lower seq, same instant) is dropped; A dies after 101 and
    # B carries on; a same-instant copy may pass twice, never an older book
    assert [e.ts_venue for e in out] == [100, 101, 101, 102] and older_states(out) == []


def test_a_sequence_restart_with_a_later_time_is_accepted():
    out = admitted([book(100, 900), book(105, 1), book(104, 2)])
    assert [(e.ts_venue, e.seq) for e in out] == [(100, 900), (105, 1)]


def test_sequence_alone_then_receive_time_alone():
    assert [e.seq for e in admitted([book(None, 5), book(None, 4), book(None, 6)])] == [5, 6]
    marks = [Mark(venue="x", symbol="B", instrument="B", ts_recv=t, mark_px=1.0) for t in (5, 4, 5)]
    assert [m.ts_recv for m in admitted(marks)] == [5, 5]  # equal, unsequenced: both current


def test_instruments_are_independent_and_history_always_passes():
    trade = Trade(
        venue="x",
        symbol="B",
        instrument="B",
        ts_recv=0,
        price=1.0,
        size=1.0,
        side="buy",
        trade_id="1",
    )
    out = admitted([book(10, 1), book(5, 1, inst="ETH"), trade, trade])
    assert len(out) == 4


def test_without_arbitration_the_checker_sees_older_books():
    arrivals = [book(101, 2), book(100, 1)]  # the lagging engine's older book arrives last
    assert older_states(arrivals) != []
    assert older_states(admitted(arrivals)) == []
