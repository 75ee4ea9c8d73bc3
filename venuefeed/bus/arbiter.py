"""Arbitration of state events (book, bbo, mark) arriving from redundant engines.

Two engines on the same shard both publish every book; a consumer must never be handed
a book older than one it already has for the same (venue, instrument). The arbiter keeps,
per (venue, instrument, kind), the order key of the last event it passed, and passes a new
one only if it is not older:

1. the venue's time (`ts_venue`), then the venue's sequence (`Book.seq`) between books of
   the same millisecond, when the venue gives a time;
2. the venue's sequence alone when it gives a sequence but no time;
3. else our receive time (`ts_recv`), which depends on the engines' clocks agreeing.

Time comes before the sequence because a venue's sequence is not always comparable
between engines: Extended numbers messages per connection, so two engines' books of the
same instant carry unrelated `seq`, and a reconnect restarts it; the venue's clock is the
same for every engine. Among events of equal key, a book with a sequence is a copy of one
already passed and is dropped; events without a sequence are passed (two values of the
same millisecond are both current, and the later one must not be lost). Keys of different
kinds (a venue that sometimes omits its time) are not compared: the new one is passed.
"""

from __future__ import annotations

from venuefeed.core.events import Book, Event

_Key = tuple[int, int, int]  # (rank, primary, secondary); rank says what the numbers are

_BY_VENUE_TIME = 2
_BY_SEQUENCE = 1
_BY_RECEIVE_TIME = 0


def order_key(event: Event) -> _Key:
    seq = event.seq if isinstance(event, Book) else None
    if event.ts_venue is not None:
        return (_BY_VENUE_TIME, event.ts_venue, -1 if seq is None else seq)
    if seq is not None:
        return (_BY_SEQUENCE, seq, 0)
    return (_BY_RECEIVE_TIME, event.ts_recv, 0)


class StateArbiter:
    """`admit(event)`: whether a consumer should see it. History events always pass."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str, str], _Key] = {}
        self.suppressed = 0

    def admit(self, event: Event) -> bool:
        if not event.is_state:
            return True
        slot = (event.venue, event.instrument, event.kind)
        key = order_key(event)
        last = self._last.get(slot)
        if last is not None and last[0] == key[0]:
            has_seq = isinstance(event, Book) and event.seq is not None
            if key < last or (key == last and has_seq):
                self.suppressed += 1
                return False
        self._last[slot] = key
        return True
