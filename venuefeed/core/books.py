"""Order-book integrity, owned by the core for every venue.

The BookKeeper holds one book per instrument, applies snapshots and deltas, checks that
sequence numbers chain by the adapter's `Continuity` rule, refuses crossed books, and
turns a healthy book into top-N `Book` (and optionally `Bbo`) events. On any break it
returns a resync reason and publishes nothing from that book until a new snapshot
arrives. A resubscribe or reconnect always starts from an empty book.

REST-snapshot venues (Binance style) buffer deltas until the snapshot arrives, then
apply the bridge rule: drop deltas older than the snapshot; the first applied delta
must span it (first_seq <= snapshot.seq <= seq); from then on `prev_seq` links. A REST
snapshot older than the book already held (a slow fetch overtaken by a newer one) is
discarded: a consumer never sees a book go back in time.

Sizes that arrive as changes (`sizes_are_changes`) are summed and rounded to
`SIZE_DECIMALS` places, so a level whose changes net to zero (0.1 + 0.2 - 0.3) is
removed instead of lingering as 5.55e-17 at the top of the book.
"""

from __future__ import annotations

import math
import sys
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from venuefeed.core.adapter import BookDelta, BookSnapshot, Continuity
from venuefeed.core.events import Bbo, Book, Event, Level, Source
from venuefeed.core.publishing.sanity import level_problem

#: deltas buffered per instrument while a REST snapshot is fetched; past this the oldest
#: are dropped (memory stays bounded) and the bridge rule judges what is left.
MAX_BUFFERED_DELTAS = 2_000
#: decimal places kept when sizes are summed from changes; venue size steps are far
#: coarser (1e-8 at the finest), while float noise from a few additions sits near 1e-17
SIZE_DECIMALS = 12
#: the resync reason's prefix for a delta carrying a number no market can have
IMPOSSIBLE = "impossible value"
_INF = math.inf
_LOWEST = -sys.float_info.max


@dataclass(slots=True)
class _Book:
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    #: the prices of `bids` and `asks`, ascending, kept in step with them: the top N and
    #: the crossed check are slices and ends, not a sort or a scan of the book per delta
    bid_px: list[float] = field(default_factory=list)
    ask_px: list[float] = field(default_factory=list)
    seq: int | None = None
    synced: bool = False
    bridging: bool = False  # a REST snapshot was applied; the next delta must span it
    awaiting: bool = False  # a resync was requested and not yet answered
    buffer: deque[BookDelta] = field(default_factory=deque)
    #: deltas applied without a Book event (`emit=False`); the next emit publishes them
    unpublished: bool = False
    ts_venue: int | None = None  # of the last delta applied without an event


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """What one snapshot or delta produced: events to publish and/or a resync reason."""

    events: Sequence[Event] = ()
    resync: str | None = None
    applied: bool = False
    #: held until a REST snapshot arrives: the stream is alive, the book not yet synced
    buffered: bool = False
    #: the resync is a REST-snapshot venue's routine first sync, not a break
    initial: bool = False


_NOTHING = BookUpdate()
_BUFFERED = BookUpdate(buffered=True)
_APPLIED = BookUpdate(applied=True)


class BookKeeper:
    def __init__(
        self,
        *,
        venue: str,
        continuity: Continuity,
        rest_snapshots: bool,
        depth: int,
        symbols: Mapping[str, str],
        bbo_from_book: bool,
    ) -> None:
        self._venue = venue
        self._continuity = continuity
        # read per delta: an enum member lookup costs ~60 ns on Python 3.11, a flag ~7
        self._seq_increment = continuity is Continuity.SEQ_INCREMENT
        self._prev_link = continuity is Continuity.PREV_LINK
        self._rest = rest_snapshots
        self._depth = depth
        self._symbols = symbols
        self._bbo = bbo_from_book
        self._books: dict[str, _Book] = {}
        self.duplicates = 0
        self.stale_snapshots = 0

    def reset(self, instrument: str) -> None:
        """Forget the book (reconnect/resubscribe): no ghost levels survive."""
        self._books.pop(instrument, None)

    def _book(self, instrument: str) -> _Book:
        book = self._books.get(instrument)
        if book is None:
            book = self._books[instrument] = _Book()
        return book

    def on_snapshot(self, snap: BookSnapshot, recv_ms: int) -> BookUpdate:
        if self._continuity is Continuity.SNAPSHOTS and not snap.from_rest:
            return self._full_snapshot(snap, recv_ms)
        book = self._book(snap.instrument)
        if (
            snap.from_rest
            and book.synced
            and snap.seq is not None
            and book.seq is not None
            and snap.seq < book.seq
        ):  # (an equal seq is the same book: applying it again is harmless)
            self.stale_snapshots += 1  # overtaken while in flight: the held book is newer
            return _NOTHING
        book.bids = {p: s for p, s in snap.bids if s > 0}
        book.asks = {p: s for p, s in snap.asks if s > 0}
        book.bid_px = sorted(book.bids)
        book.ask_px = sorted(book.asks)
        book.seq = snap.seq
        book.synced = True
        book.unpublished = False
        book.bridging = snap.from_rest
        if snap.from_rest:
            pending = list(book.buffer)
            book.buffer.clear()
            for delta in pending:
                update = self._apply_delta(book, delta)
                if update.resync is not None:
                    return self._break(book, update.resync)
        elif self._crossed(book):
            return self._break(book, "crossed book in snapshot")
        return BookUpdate(self._emit(snap.instrument, book, snap.ts_venue, recv_ms), applied=True)

    def _full_snapshot(self, snap: BookSnapshot, recv_ms: int) -> BookUpdate:
        """Fast path for venues whose every book message is complete: no level maps to
        keep, only the top N of each side (venues usually send them sorted already)."""
        book = self._book(snap.instrument)
        if book.synced and snap.seq is not None and book.seq is not None and snap.seq <= book.seq:
            self.duplicates += 1  # an older or repeated snapshot arrived late: keep the newer
            return _NOTHING
        n = self._depth
        bids = [lvl for lvl in sorted(snap.bids, reverse=True) if lvl[1] > 0][:n]
        asks = [lvl for lvl in sorted(snap.asks) if lvl[1] > 0][:n]
        if bids and asks and bids[0][0] >= asks[0][0]:
            return self._break(book, "crossed book in snapshot")
        book.seq = snap.seq
        book.synced = True
        events = self._events(snap.instrument, bids, asks, snap.seq, snap.ts_venue, recv_ms)
        return BookUpdate(events, applied=True)

    def polled(self, snap: BookSnapshot, recv_ms: int) -> list[Event]:
        """Book (and BBO) events from a book polled over REST while the socket is down
        (`source="rest"`). The websocket's books are left alone: polls carry no sequence to
        chain from, and the socket's own snapshot restarts them when it is back."""
        n = self._depth
        bids = [lvl for lvl in sorted(snap.bids, reverse=True) if lvl[1] > 0][:n]
        asks = [lvl for lvl in sorted(snap.asks) if lvl[1] > 0][:n]
        if bids and asks and bids[0][0] >= asks[0][0]:
            return []  # a crossed poll is not published; the next one may be sound
        return self._events(
            snap.instrument, bids, asks, snap.seq, snap.ts_venue, recv_ms, source="rest"
        )

    def on_delta(self, delta: BookDelta, recv_ms: int, *, emit: bool = True) -> BookUpdate:
        """Apply one delta. `emit=False` (a later delta of this book is already waiting,
        `BookFeed` knows) applies and checks it without building a Book event nobody
        could see: the publisher would replace it with the next one before any consumer
        read it. The next `emit=True` delta publishes the book, even one it ignores as
        a duplicate."""
        book = self._book(delta.instrument)
        if not book.synced:
            if self._rest:
                # a ring: the newest deltas are the ones the snapshot will need; if the
                # oldest kept no longer bridges it, the bridge rule asks for another
                if len(book.buffer) >= MAX_BUFFERED_DELTAS:
                    book.buffer.popleft()
                book.buffer.append(delta)
                if not book.awaiting:
                    book.awaiting = True
                    return BookUpdate(resync="initial snapshot", initial=True, buffered=True)
                return _BUFFERED
            if book.awaiting:
                return _NOTHING
            book.awaiting = True
            return BookUpdate(resync="delta before any snapshot")
        update = self._apply_delta(book, delta)
        if update.resync is not None:
            return self._break(book, update.resync)
        if not emit:
            if update.applied:
                book.unpublished = True
                book.ts_venue = delta.ts_venue
                return _APPLIED
            return _NOTHING
        if not update.applied:
            if book.unpublished:  # ignored, but the deltas before it are not published yet
                book.unpublished = False
                return BookUpdate(self._emit(delta.instrument, book, book.ts_venue, recv_ms))
            return _NOTHING
        book.unpublished = False
        return BookUpdate(self._emit(delta.instrument, book, delta.ts_venue, recv_ms), applied=True)

    def on_deltas(
        self, deltas: Sequence[BookDelta], recv_ms: int, *, emit: bool = True
    ) -> tuple[BookUpdate, list[int]]:
        """A run of deltas of one book, in order: what `on_delta` would make of them one
        by one, the last with `emit`, the others without, in one update (its events and
        the first resync any of them asked for), and the venue times of those applied
        (for the lag histogram). The read loop's path: a delta feed's batch is one run
        per book, so the book is marked, timed and published once per run, not per
        delta."""
        book = self._book(deltas[0].instrument)
        apply = self._apply_delta
        stamps: list[int] = []
        first_resync: BookUpdate | None = None
        applied = buffered = False
        for delta in deltas:
            if book.synced:
                update = apply(book, delta)
                if update.applied:
                    applied = book.unpublished = True
                    book.ts_venue = ts = delta.ts_venue
                    if ts is not None:
                        stamps.append(ts)
                elif update.resync is not None:
                    broken = self._break(book, update.resync)
                    first_resync = first_resync or broken
            else:  # before a snapshot, or after a break: held, dropped or asked for
                update = self.on_delta(delta, recv_ms, emit=False)
                buffered = buffered or update.buffered
                if update.resync is not None and first_resync is None:
                    first_resync = update
        events: Sequence[Event] = ()
        if emit and book.unpublished:
            book.unpublished = False
            events = self._emit(deltas[0].instrument, book, book.ts_venue, recv_ms)
        if first_resync is None:
            if not events and not buffered:
                return (_APPLIED if applied else _NOTHING), stamps
            return BookUpdate(events, applied=applied, buffered=buffered), stamps
        return BookUpdate(
            events,
            resync=first_resync.resync,
            applied=applied,
            buffered=buffered or first_resync.buffered,
            initial=first_resync.initial,
        ), stamps

    def _apply_delta(self, book: _Book, delta: BookDelta) -> BookUpdate:
        last = book.seq
        seq = delta.seq
        if book.bridging:
            if seq is not None and last is not None:
                if seq <= last:
                    return _NOTHING  # not newer than the snapshot: already in it
                first = delta.first_seq
                if first is None and self._seq_increment:
                    first = seq  # one update per delta: it must be the snapshot's next
                if first is not None and first > last + 1:
                    return BookUpdate(resync=f"gap: snapshot {last}, first delta starts at {first}")
            book.bridging = False
        elif seq is not None and last is not None:
            if self._seq_increment:
                if seq <= last:
                    self.duplicates += 1
                    return _NOTHING
                if seq != last + 1:
                    return BookUpdate(resync=f"gap: expected seq {last + 1}, got {seq}")
            elif self._prev_link and delta.prev_seq is not None:
                if seq <= last:
                    self.duplicates += 1
                    return _NOTHING
                if delta.prev_seq != last:
                    return BookUpdate(
                        resync=f"gap: previous seq {last}, delta follows {delta.prev_seq}"
                    )
        changes = delta.sizes_are_changes
        bid_px, ask_px = book.bid_px, book.ask_px
        if delta.bids and (bad := _apply_side(book.bids, bid_px, delta.bids, changes)):
            return BookUpdate(resync=f"{IMPOSSIBLE}: bid {bad}")
        if delta.asks and (bad := _apply_side(book.asks, ask_px, delta.asks, changes)):
            return BookUpdate(resync=f"{IMPOSSIBLE}: ask {bad}")
        if seq is not None:
            book.seq = seq
        if bid_px and ask_px and bid_px[-1] >= ask_px[0]:  # `_crossed`, inlined: per delta
            return BookUpdate(resync="crossed book")
        return _APPLIED  # shared: an update is frozen, and this one is the common case

    def _break(self, book: _Book, reason: str) -> BookUpdate:
        """Forget the book until its next snapshot, which sets everything else anew."""
        book.bids.clear()
        book.asks.clear()
        book.bid_px.clear()
        book.ask_px.clear()
        book.buffer.clear()
        book.synced = False
        book.awaiting = True
        book.unpublished = False
        return BookUpdate(resync=reason)

    @staticmethod
    def _crossed(book: _Book) -> bool:
        return bool(book.bid_px and book.ask_px and book.bid_px[-1] >= book.ask_px[0])

    def _emit(
        self, instrument: str, book: _Book, ts_venue: int | None, recv_ms: int
    ) -> list[Event]:
        n = self._depth
        bid_sizes, ask_sizes = book.bids, book.asks
        bids: list[Level] = [(p, bid_sizes[p]) for p in reversed(book.bid_px[-n:])] if n else []
        asks: list[Level] = [(p, ask_sizes[p]) for p in book.ask_px[:n]]
        return self._events(instrument, bids, asks, book.seq, ts_venue, recv_ms)

    def _events(
        self,
        instrument: str,
        bids: list[Level],
        asks: list[Level],
        seq: int | None,
        ts_venue: int | None,
        recv_ms: int,
        source: Source = "ws",
    ) -> list[Event]:
        symbol = self._symbols.get(instrument, instrument)
        events: list[Event] = [
            Book(
                venue=self._venue,
                symbol=symbol,
                instrument=instrument,
                ts_venue=ts_venue,
                ts_recv=recv_ms,
                bids=bids,
                asks=asks,
                seq=seq,
                source=source,
            )
        ]
        if self._bbo:
            bid = bids[0] if bids else (None, None)
            ask = asks[0] if asks else (None, None)
            events.append(
                Bbo(
                    venue=self._venue,
                    symbol=symbol,
                    instrument=instrument,
                    ts_venue=ts_venue,
                    ts_recv=recv_ms,
                    bid_px=bid[0],
                    bid_sz=bid[1],
                    ask_px=ask[0],
                    ask_sz=ask[1],
                    source=source,
                )
            )
        return events


def _apply_side(
    side: dict[float, float], prices: list[float], levels: Sequence[Level], changes: bool
) -> str | None:
    """Set, change or remove levels in `side`, keeping `prices` (ascending) in step; the
    first impossible level (see `core/publishing/sanity.py`) stops it and is returned,
    described, with the book half applied: the caller breaks the book."""
    # chained comparisons, not isfinite() calls: NaN fails them all, and the bounds
    # exclude both infinities (`_LOWEST` is the lowest finite float)
    low = _LOWEST if changes else 0.0
    for price, size in levels:
        if not (0.0 < price < _INF and low <= size < _INF):
            return level_problem(price, size, changes)
        if changes:
            size = round(side.get(price, 0.0) + size, SIZE_DECIMALS)
            if size == _INF:  # two finite changes can overflow
                return level_problem(price, size, changes)
        if size <= 0:
            if side.pop(price, None) is not None:
                del prices[bisect_left(prices, price)]
        else:
            if price not in side:
                insort(prices, price)
            side[price] = size
    return None
