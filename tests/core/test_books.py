from __future__ import annotations

import math

import pytest

from venuefeed.core.adapter import BookDelta, BookSnapshot, Continuity
from venuefeed.core.books import IMPOSSIBLE, MAX_BUFFERED_DELTAS, BookKeeper
from venuefeed.core.events import Bbo, Book


def keeper(
    continuity: Continuity = Continuity.SEQ_INCREMENT, rest: bool = False, depth: int = 2
) -> BookKeeper:
    return BookKeeper(
        venue="v",
        continuity=continuity,
        rest_snapshots=rest,
        depth=depth,
        symbols={"X-1": "X"},
        bbo_from_book=True,
    )


SNAP = BookSnapshot(
    "X-1", [(100.0, 1.0), (99.0, 2.0), (98.0, 3.0)], [(101.0, 1.5), (102.0, 2.5)], seq=10
)


def book_of(update) -> Book:
    return next(e for e in update.events if isinstance(e, Book))


def test_snapshot_publishes_top_n_and_bbo():
    k = keeper()
    update = k.on_snapshot(SNAP, 5)
    book = book_of(update)
    assert book.bids == [(100.0, 1.0), (99.0, 2.0)] and book.asks == [(101.0, 1.5), (102.0, 2.5)]
    assert (book.symbol, book.seq, book.ts_recv) == ("X", 10, 5)
    bbo = next(e for e in update.events if isinstance(e, Bbo))
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (100.0, 1.0, 101.0, 1.5)


def test_deltas_set_and_remove_levels():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    update = k.on_delta(BookDelta("X-1", [(100.0, 0.0), (99.5, 4.0)], [(101.0, 0.5)], seq=11), 1)
    book = book_of(update)
    assert book.bids == [(99.5, 4.0), (99.0, 2.0)] and book.asks[0] == (101.0, 0.5)


def test_seq_gap_breaks_the_book_until_a_new_snapshot():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    update = k.on_delta(BookDelta("X-1", [(99.0, 9.0)], [], seq=13), 1)
    assert update.resync is not None and "expected seq 11, got 13" in update.resync
    assert not update.events
    # further deltas publish nothing and do not ask again
    assert k.on_delta(BookDelta("X-1", [(99.0, 9.0)], [], seq=14), 2).events == ()
    fresh = k.on_snapshot(BookSnapshot("X-1", [(90.0, 1.0)], [(91.0, 1.0)], seq=20), 3)
    assert book_of(fresh).bids == [(90.0, 1.0)]  # no ghost levels from before


def test_duplicate_delta_is_ignored():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    k.on_delta(BookDelta("X-1", [(99.0, 5.0)], [], seq=11), 1)
    update = k.on_delta(BookDelta("X-1", [(99.0, 7.0)], [], seq=11), 2)
    assert update.resync is None and not update.events and k.duplicates == 1
    older = k.on_delta(BookDelta("X-1", [(99.0, 8.0)], [], seq=10), 3)
    assert older.resync is None and not older.events and k.duplicates == 2


def test_prev_link_rule():
    k = keeper(Continuity.PREV_LINK)
    k.on_snapshot(SNAP, 0)
    assert k.on_delta(BookDelta("X-1", [], [(103.0, 1.0)], seq=15, prev_seq=10), 1).applied
    bad = k.on_delta(BookDelta("X-1", [], [(103.0, 1.0)], seq=20, prev_seq=16), 2)
    assert bad.resync is not None and "previous seq 15" in bad.resync


def test_delta_before_any_snapshot_asks_for_resync_once():
    k = keeper()
    first = k.on_delta(BookDelta("X-1", [(1.0, 1.0)], [], seq=1), 0)
    assert first.resync == "delta before any snapshot"
    assert k.on_delta(BookDelta("X-1", [(1.0, 1.0)], [], seq=2), 0).resync is None


def test_crossed_book_is_a_resync():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    update = k.on_delta(BookDelta("X-1", [(101.5, 1.0)], [], seq=11), 1)
    assert update.resync == "crossed book" and not update.events


def test_rest_snapshot_bridge_rule():
    k = keeper(Continuity.PREV_LINK, rest=True)
    # deltas arrive before the snapshot: buffered, one resync request
    first = k.on_delta(BookDelta("X-1", [(99.0, 7.0)], [], first_seq=5, seq=8, prev_seq=4), 0)
    assert first.resync == "initial snapshot"
    k.on_delta(BookDelta("X-1", [(98.0, 6.0)], [], first_seq=9, seq=12, prev_seq=8), 0)
    k.on_delta(BookDelta("X-1", [(97.0, 5.0)], [], first_seq=13, seq=15, prev_seq=12), 0)
    snap = BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=10, from_rest=True)
    update = k.on_snapshot(snap, 1)
    # delta 8 (< 10) dropped, delta 9..12 spans 10 and applies, delta 13..15 links by pu=12
    book = book_of(update)
    assert book.seq == 15
    assert book.bids == [(100.0, 1.0), (98.0, 6.0)]
    assert 99.0 not in dict(k._books["X-1"].bids)  # the pre-snapshot delta was dropped


def test_rest_snapshot_older_than_buffer_is_a_gap():
    k = keeper(Continuity.PREV_LINK, rest=True)
    k.on_delta(BookDelta("X-1", [(99.0, 7.0)], [], first_seq=50, seq=55, prev_seq=49), 0)
    update = k.on_snapshot(
        BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=10, from_rest=True), 1
    )
    assert update.resync is not None and "gap" in update.resync


def test_rest_buffer_is_bounded():
    k = keeper(Continuity.PREV_LINK, rest=True)
    for n in range(MAX_BUFFERED_DELTAS + 10):
        k.on_delta(BookDelta("X-1", [], [], seq=n, prev_seq=n - 1), 0)
    assert len(k._books["X-1"].buffer) <= MAX_BUFFERED_DELTAS


def test_sizes_as_changes():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    update = k.on_delta(
        BookDelta("X-1", [(100.0, 0.5), (99.0, -2.0)], [], seq=11, sizes_are_changes=True), 1
    )
    assert book_of(update).bids == [(100.0, 1.5), (98.0, 3.0)]


def test_full_snapshot_venues_sort_cut_and_drop_empty_levels():
    k = keeper(Continuity.SNAPSHOTS, depth=2)
    snap = BookSnapshot(
        "X-1", [(98.0, 3.0), (100.0, 0.0), (99.0, 2.0), (97.0, 1.0)], [(102.0, 2.5), (101.0, 1.5)]
    )
    book = book_of(k.on_snapshot(snap, 0))
    assert book.bids == [(99.0, 2.0), (98.0, 3.0)]
    assert book.asks == [(101.0, 1.5), (102.0, 2.5)]
    crossed = BookSnapshot("X-1", [(102.0, 1.0)], [(101.0, 1.0)])
    update = k.on_snapshot(crossed, 1)
    assert update.resync == "crossed book in snapshot" and not update.events


def test_full_snapshot_older_than_the_current_one_is_ignored():
    k = keeper(Continuity.SNAPSHOTS)
    k.on_snapshot(BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=7), 0)
    late = k.on_snapshot(BookSnapshot("X-1", [(99.0, 1.0)], [(100.5, 1.0)], seq=6), 1)
    assert not late.events and late.resync is None and k.duplicates == 1
    newer = k.on_snapshot(BookSnapshot("X-1", [(98.0, 1.0)], [(99.5, 1.0)], seq=8), 2)
    assert book_of(newer).bids == [(98.0, 1.0)]


def test_rest_buffer_keeps_the_newest_deltas_and_asks_only_once():
    k = keeper(Continuity.PREV_LINK, rest=True)
    requests = 0
    for n in range(MAX_BUFFERED_DELTAS + 10):
        update = k.on_delta(BookDelta("X-1", [], [], seq=n, prev_seq=n - 1), 0)
        requests += update.resync is not None
        assert update.buffered  # the stream is alive while its snapshot is fetched
    buffer = k._books["X-1"].buffer
    assert buffer[0].seq == 10 and buffer[-1].seq == MAX_BUFFERED_DELTAS + 9
    assert requests == 1  # one snapshot request, not one per overflow


def test_a_rest_snapshot_older_than_the_held_book_is_discarded():
    k = keeper(Continuity.PREV_LINK, rest=True)
    k.on_delta(BookDelta("X-1", [], [], seq=3001, prev_seq=3000, first_seq=3001), 0)
    fresh = k.on_snapshot(
        BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=3000, from_rest=True), 1
    )
    assert book_of(fresh).seq == 3001
    k.on_delta(BookDelta("X-1", [(100.0, 2.0)], [], seq=3002, prev_seq=3001), 2)
    late = k.on_snapshot(
        BookSnapshot("X-1", [(90.0, 1.0)], [(91.0, 1.0)], seq=1500, from_rest=True), 3
    )
    assert late.events == () and not late.applied and late.resync is None
    assert k.stale_snapshots == 1
    k.on_snapshot(BookSnapshot("X-1", [(90.0, 1.0)], [(91.0, 1.0)], seq=3001, from_rest=True), 3)
    assert k.stale_snapshots == 2
    after = k.on_delta(BookDelta("X-1", [], [(101.0, 3.0)], seq=3003, prev_seq=3002), 4)
    assert book_of(after).bids == [(100.0, 2.0)] and book_of(after).seq == 3003


def test_seq_increment_bridge_needs_the_snapshots_next_delta():
    k = keeper(Continuity.SEQ_INCREMENT, rest=True)
    for seq in (20, 21):
        k.on_delta(BookDelta("X-1", [], [], seq=seq), 0)
    update = k.on_snapshot(
        BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=10, from_rest=True), 1
    )
    assert update.resync is not None and "first delta starts at 20" in update.resync


def test_size_changes_that_net_to_zero_remove_the_level():
    k = keeper()
    k.on_snapshot(BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=10), 0)
    for seq, change in ((11, 0.1), (12, 0.2), (13, -0.3)):
        update = k.on_delta(
            BookDelta("X-1", [(100.5, change)], [], seq=seq, sizes_are_changes=True), seq
        )
    assert book_of(update).bids == [(100.0, 1.0)]  # no 5.55e-17 level at 100.5
    update = k.on_delta(
        BookDelta("X-1", [(100.0, 0.1), (100.0, 0.2)], [], seq=14, sizes_are_changes=True), 14
    )
    assert book_of(update).bids == [(100.0, 1.3)]  # not 1.3000000000000003


def test_a_locked_or_crossed_incremental_snapshot_is_refused():
    for bids, asks in (([(101.0, 1.0)], [(101.0, 1.0)]), ([(102.0, 1.0)], [(101.0, 1.0)])):
        k = keeper(Continuity.PREV_LINK)
        update = k.on_snapshot(BookSnapshot("X-1", bids, asks, seq=5), 0)
        assert update.resync == "crossed book in snapshot" and update.events == ()


def test_zero_size_levels_of_an_incremental_snapshot_are_dropped():
    k = keeper(Continuity.PREV_LINK, depth=5)
    update = k.on_snapshot(
        BookSnapshot("X-1", [(100.0, 0.0), (99.0, 1.0)], [(101.0, 0.0), (102.0, 2.0)], seq=5), 0
    )
    assert book_of(update).bids == [(99.0, 1.0)] and book_of(update).asks == [(102.0, 2.0)]


def test_a_gap_asks_for_one_resync_not_one_per_later_delta():
    k = keeper(Continuity.SEQ_INCREMENT)
    k.on_snapshot(SNAP, 0)
    first = k.on_delta(BookDelta("X-1", [(100.0, 2.0)], [], seq=13), 1)
    assert first.resync is not None and "expected seq 11, got 13" in first.resync
    later = [k.on_delta(BookDelta("X-1", [(100.0, 2.0)], [], seq=s), 2) for s in range(14, 20)]
    assert all(u.resync is None and u.events == () for u in later)
    recovered = k.on_snapshot(SNAP, 3)
    assert recovered.applied and book_of(recovered).seq == 10


# -- pinned behaviour (each test kills a mutation that survived `make mutate`) -------------


def test_a_rest_snapshot_without_seq_or_of_the_same_seq_is_applied():
    k = keeper(Continuity.PREV_LINK, rest=True)
    k.on_delta(BookDelta("X-1", [], [], seq=3001, prev_seq=3000, first_seq=3001), 0)
    k.on_snapshot(BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=3000, from_rest=True), 1)
    same = k.on_snapshot(
        BookSnapshot("X-1", [(99.0, 1.0)], [(101.0, 1.0)], seq=3001, from_rest=True), 2
    )
    assert same.applied and book_of(same).bids == [(99.0, 1.0)]
    unnumbered = k.on_snapshot(
        BookSnapshot("X-1", [(98.0, 1.0)], [(101.0, 1.0)], seq=None, from_rest=True), 3
    )
    assert unnumbered.applied and book_of(unnumbered).bids == [(98.0, 1.0)]


def test_book_events_carry_the_messages_times_and_sequence():
    k = keeper(Continuity.PREV_LINK)
    snap = k.on_snapshot(BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=5, ts_venue=77), 9)
    book = book_of(snap)
    assert (book.ts_venue, book.ts_recv, book.seq, book.symbol) == (77, 9, 5, "X")
    delta = k.on_delta(BookDelta("X-1", [(100.0, 2.0)], [], seq=6, prev_seq=5, ts_venue=78), 10)
    assert delta.applied is True
    assert (book_of(delta).ts_venue, book_of(delta).ts_recv, book_of(delta).seq) == (78, 10, 6)
    bbo = next(e for e in delta.events if isinstance(e, Bbo))
    assert (bbo.instrument, bbo.symbol, bbo.ts_venue, bbo.ts_recv) == ("X-1", "X", 78, 10)


def test_full_snapshots_keep_a_sequence_per_instrument_and_drop_repeats():
    k = BookKeeper(
        venue="v",
        continuity=Continuity.SNAPSHOTS,
        rest_snapshots=False,
        depth=2,
        symbols={},
        bbo_from_book=True,
    )
    first = k.on_snapshot(BookSnapshot("BTC", [(100.0, 1.0)], [(101.0, 1.0)], seq=5, ts_venue=1), 2)
    assert first.applied is True
    book = book_of(first)
    assert (book.instrument, book.symbol, book.seq, book.ts_venue, book.ts_recv) == (
        "BTC",
        "BTC",  # an instrument with no symbol mapped is its own symbol
        5,
        1,
        2,
    )
    other = k.on_snapshot(BookSnapshot("ETH", [(10.0, 1.0)], [(11.0, 1.0)], seq=3), 3)
    assert other.applied  # ETH's seq is its own, not BTC's
    for _ in range(2):
        again = k.on_snapshot(BookSnapshot("BTC", [(99.0, 1.0)], [(101.0, 1.0)], seq=5), 4)
        assert again.events == () and not again.applied
    assert k.duplicates == 2


def test_full_snapshots_drop_empty_levels_and_refuse_a_locked_book():
    k = keeper(Continuity.SNAPSHOTS, depth=5)
    update = k.on_snapshot(
        BookSnapshot("X-1", [(100.0, 1.0), (99.0, 0.0)], [(101.0, 0.0), (102.0, 2.0)], seq=1), 0
    )
    assert book_of(update).asks == [(102.0, 2.0)] and book_of(update).bids == [(100.0, 1.0)]
    locked = k.on_snapshot(BookSnapshot("X-1", [(101.0, 1.0)], [(101.0, 1.0)], seq=2), 0)
    assert locked.resync == "crossed book in snapshot"
    healthy = k.on_snapshot(BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=3), 0)
    assert healthy.applied  # after a break, the next snapshot is taken


def test_an_empty_side_gives_an_empty_bbo_side():
    k = keeper(Continuity.SNAPSHOTS)
    update = k.on_snapshot(BookSnapshot("X-1", [], [(101.0, 1.0)], seq=1), 0)
    bbo = next(e for e in update.events if isinstance(e, Bbo))
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (None, None, 101.0, 1.0)


def test_the_first_delta_of_a_rest_venue_asks_for_its_initial_snapshot():
    k = keeper(Continuity.PREV_LINK, rest=True)
    update = k.on_delta(BookDelta("X-1", [], [], seq=1, prev_seq=0), 0)
    assert (update.resync, update.initial, update.buffered) == ("initial snapshot", True, True)


def test_bridging_drops_what_the_snapshot_holds_and_then_checks_every_link():
    k = keeper(Continuity.PREV_LINK, rest=True)
    for seq in (9, 10, 11):
        k.on_delta(
            BookDelta("X-1", [(90.0 + seq, 1.0)], [], seq=seq, prev_seq=seq - 1, first_seq=seq), 0
        )
    update = k.on_snapshot(
        BookSnapshot("X-1", [(100.0, 1.0)], [(105.0, 1.0)], seq=10, from_rest=True), 0
    )
    # 9 and 10 are in the snapshot (10 == its seq: dropped too); 11 bridges it
    assert book_of(update).bids == [(101.0, 1.0), (100.0, 1.0)]
    gap = k.on_delta(BookDelta("X-1", [], [], seq=13, prev_seq=12), 0)
    assert gap.resync is not None and "previous seq 11" in gap.resync  # bridging is over


def test_a_bridge_delta_must_start_right_after_the_snapshot():
    k = keeper(Continuity.PREV_LINK, rest=True)
    k.on_delta(BookDelta("X-1", [], [], seq=12, prev_seq=11, first_seq=12), 0)
    update = k.on_snapshot(
        BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=10, from_rest=True), 0
    )
    assert update.resync == "gap: snapshot 10, first delta starts at 12"


def test_a_prev_link_bridge_without_first_seq_is_not_held_to_seq_plus_one():
    k = keeper(Continuity.PREV_LINK, rest=True)
    k.on_delta(BookDelta("X-1", [(99.0, 2.0)], [], seq=15, prev_seq=14), 0)
    update = k.on_snapshot(
        BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=10, from_rest=True), 0
    )
    assert update.applied and book_of(update).bids == [(100.0, 1.0), (99.0, 2.0)]


def test_deltas_without_sequence_numbers_are_applied():
    for continuity in (Continuity.SEQ_INCREMENT, Continuity.PREV_LINK):
        k = keeper(continuity)
        k.on_snapshot(SNAP, 0)
        update = k.on_delta(BookDelta("X-1", [(100.0, 5.0)], [], seq=None), 1)
        assert update.applied and book_of(update).bids[0] == (100.0, 5.0)


def test_a_prev_link_repeat_is_a_counted_duplicate_not_a_gap():
    k = keeper(Continuity.PREV_LINK)
    k.on_snapshot(BookSnapshot("X-1", [(100.0, 1.0)], [(101.0, 1.0)], seq=5), 0)
    k.on_delta(BookDelta("X-1", [], [], seq=6, prev_seq=5), 0)
    for _ in range(2):
        again = k.on_delta(BookDelta("X-1", [], [], seq=6, prev_seq=5), 0)
        assert again.resync is None and not again.applied
    assert k.duplicates == 2


def test_size_changes_apply_on_the_ask_side_too():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    update = k.on_delta(
        BookDelta("X-1", [], [(101.0, 0.5), (102.0, -2.5)], seq=11, sizes_are_changes=True), 1
    )
    assert book_of(update).asks == [(101.0, 2.0)]


def test_removing_a_level_that_is_not_there_is_harmless():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    update = k.on_delta(BookDelta("X-1", [(97.0, 0.0)], [(150.0, 0.0)], seq=11), 1)
    assert update.applied


def test_a_polled_book_is_sorted_cut_to_depth_and_marked_rest():
    """A REST body's levels come in any order and may list empty levels: the polled book
    is the venue's top `depth` on each side, best first, with the poll's seq and time."""
    k = keeper(depth=2)
    poll = BookSnapshot(
        "X-1",
        [(98.0, 3.0), (100.0, 1.0), (99.5, 0.0), (99.0, 2.0)],
        [(102.0, 2.5), (101.5, 0.0), (101.0, 1.5), (103.0, 1.0)],
        seq=7,
        ts_venue=40,
    )
    events = k.polled(poll, 50)
    book = next(e for e in events if isinstance(e, Book))
    assert book.bids == [(100.0, 1.0), (99.0, 2.0)]
    assert book.asks == [(101.0, 1.5), (102.0, 2.5)]
    assert (book.symbol, book.seq, book.ts_venue, book.ts_recv) == ("X", 7, 40, 50)
    assert book.source == "rest"
    bbo = next(e for e in events if isinstance(e, Bbo))
    assert (bbo.bid_px, bbo.ask_px, bbo.source) == (100.0, 101.0, "rest")


def test_a_crossed_poll_is_not_published_and_the_socket_book_is_untouched():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    assert k.polled(BookSnapshot("X-1", [(101.0, 1.0)], [(101.0, 1.0)], seq=3), 1) == []
    assert k.polled(BookSnapshot("X-1", [(102.0, 1.0)], [(101.0, 1.0)], seq=3), 1) == []
    # the websocket's book still chains from its own snapshot (seq 10), not from the poll
    update = k.on_delta(BookDelta("X-1", [(99.5, 4.0)], [], seq=11), 2)
    assert book_of(update).bids == [(100.0, 1.0), (99.5, 4.0)]
    # a poll whose one side is empty is still published: it is not crossed
    assert k.polled(BookSnapshot("X-1", [(1.0, 2.0)], [], seq=None), 3)


def test_a_delta_applied_quietly_is_checked_and_published_by_the_next_that_emits():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    quiet = k.on_delta(BookDelta("X-1", [(99.5, 4.0)], [], seq=11, ts_venue=7), 1, emit=False)
    assert quiet.applied and quiet.events == () and quiet.resync is None
    update = k.on_delta(BookDelta("X-1", [], [(101.0, 0.5)], seq=12, ts_venue=8), 2)
    book = book_of(update)
    assert book.bids == [(100.0, 1.0), (99.5, 4.0)] and book.asks[0] == (101.0, 0.5)
    assert (book.seq, book.ts_venue) == (12, 8)
    # a quiet delta still keeps the chain: a gap after it is a gap
    assert k.on_delta(BookDelta("X-1", [], [], seq=14), 3, emit=False).resync is not None


def test_an_emitting_duplicate_publishes_what_quiet_deltas_changed():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    k.on_delta(BookDelta("X-1", [(99.5, 4.0)], [], seq=11, ts_venue=7), 1, emit=False)
    update = k.on_delta(BookDelta("X-1", [(99.5, 9.0)], [], seq=11, ts_venue=9), 2)
    book = book_of(update)
    assert not update.applied  # the repeat itself changed nothing
    assert book.bids[1] == (99.5, 4.0) and (book.seq, book.ts_venue) == (11, 7)
    # published once: a second repeat publishes nothing
    assert k.on_delta(BookDelta("X-1", [], [], seq=11), 3).events == ()


def test_a_quiet_duplicate_publishes_nothing_and_a_break_forgets_unpublished_deltas():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    assert k.on_delta(BookDelta("X-1", [], [], seq=10), 1, emit=False).events == ()
    k.on_delta(BookDelta("X-1", [(99.5, 4.0)], [], seq=11), 1, emit=False)
    assert k.on_delta(BookDelta("X-1", [], [], seq=13), 2, emit=False).resync is not None
    k.on_snapshot(BookSnapshot("X-1", [(90.0, 1.0)], [(91.0, 1.0)], seq=20), 3)
    assert k.on_delta(BookDelta("X-1", [], [], seq=20), 4).events == ()  # nothing pending


def test_a_snapshot_publishes_and_clears_what_quiet_deltas_left():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    k.on_delta(BookDelta("X-1", [(99.5, 4.0)], [], seq=11), 1, emit=False)
    assert book_of(k.on_snapshot(SNAP, 2)).seq == 10
    assert k.on_delta(BookDelta("X-1", [], [], seq=10), 3).events == ()


def _level_lists():
    from hypothesis import strategies as st

    price = st.integers(90, 110).map(float)
    size = st.sampled_from([0.0, 0.5, 1.0, 2.0])
    return st.lists(st.tuples(price, size), max_size=6)


def test_top_n_and_crossed_check_follow_every_delta():
    """The sorted price lists the keeper keeps beside its level maps give the same top N
    as sorting the maps would, after any sequence of sets and removals."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.tuples(_level_lists(), _level_lists()), max_size=12))
    def run(deltas):
        k = keeper(depth=3)
        k.on_snapshot(BookSnapshot("X-1", [(95.0, 1.0), (94.0, 1.0)], [(105.0, 1.0)], seq=0), 0)
        bids, asks = {95.0: 1.0, 94.0: 1.0}, {105.0: 1.0}
        for seq, (delta_bids, delta_asks) in enumerate(deltas, start=1):
            update = k.on_delta(BookDelta("X-1", delta_bids, delta_asks, seq=seq), seq)
            for side, levels in ((bids, delta_bids), (asks, delta_asks)):
                for p, s in levels:
                    if s <= 0:
                        side.pop(p, None)
                    else:
                        side[p] = s
            crossed = bool(bids and asks and max(bids) >= min(asks))
            if crossed:
                assert update.resync == "crossed book"
                return
            book = book_of(update)
            assert book.bids == sorted(bids.items(), reverse=True)[:3]
            assert book.asks == sorted(asks.items())[:3]

    run()


def _delta_runs():
    """Runs of deltas of one book as a venue may send them: in order, repeated, with
    gaps, crossing the book, with impossible numbers."""
    from hypothesis import strategies as st

    price = st.one_of(
        st.integers(90, 110).map(float), st.sampled_from([0.0, math.inf, math.nan, -1.0])
    )
    size = st.sampled_from([0.0, 0.5, 1.0, 2.0, -0.5, math.inf, math.nan])
    levels = st.lists(st.tuples(price, size), max_size=3)
    step = st.sampled_from([1, 1, 1, 1, 0, -1, 2])  # next, repeat, older, gap
    return st.lists(st.tuples(step, levels, levels, st.integers(0, 10**6)), max_size=10)


def _state(k: BookKeeper):
    b = k._book("X-1")
    return (b.bids, b.asks, b.bid_px, b.ask_px, b.seq, b.synced, b.awaiting, list(b.buffer))


def _same(a, b) -> bool:
    return repr(a) == repr(b)  # NaN compares unequal to itself; its repr does not


@pytest.mark.parametrize("continuity", [Continuity.SEQ_INCREMENT, Continuity.PREV_LINK])
@pytest.mark.parametrize("rest", [False, True])
@pytest.mark.parametrize("synced", [True, False])
def test_a_run_of_deltas_is_exactly_its_deltas_one_by_one(continuity, rest, synced):
    """`on_deltas` (the read loop's path) against `on_delta` per delta, the last with
    emit: the same book, the same published event, the first resync asked for, and the
    venue times of the deltas it applied."""
    from hypothesis import given, settings

    @settings(max_examples=150, deadline=None)
    @given(_delta_runs(), st_bool())
    def run(steps, emit):
        deltas, seq = [], 10
        for step, bids, asks, ts in steps:
            prev, seq = seq, seq + step
            deltas.append(BookDelta("X-1", bids, asks, seq=seq, prev_seq=prev, ts_venue=ts))
        if not deltas:
            return
        one, together = keeper(continuity, rest), keeper(continuity, rest)
        if synced:
            one.on_snapshot(SNAP, 0)
            together.on_snapshot(SNAP, 0)
        updates = [one.on_delta(d, 7, emit=False) for d in deltas[:-1]]
        updates.append(one.on_delta(deltas[-1], 7, emit=emit))
        update, stamps = together.on_deltas(deltas, 7, emit=emit)
        assert _same(_state(together), _state(one))
        assert _same(update.events, updates[-1].events)
        resyncs = [u.resync for u in updates if u.resync is not None]
        assert update.resync == (resyncs[0] if resyncs else None)
        assert update.buffered == any(u.buffered for u in updates)
        applied = [d.ts_venue for d, u in zip(deltas, updates, strict=True) if u.applied]
        assert update.applied == bool(applied)
        assert stamps == applied

    run()


def st_bool():
    from hypothesis import strategies as st

    return st.booleans()


@pytest.mark.parametrize(
    ("bids", "asks", "reason"),
    [
        ([(math.nan, 1.0)], [], "bid level price nan"),
        ([], [(0.0, 1.0)], "ask level price 0.0"),
        ([(99.5, math.inf)], [], "bid level size inf at 99.5"),
        ([(99.5, -1.0)], [], "bid level size -1.0 at 99.5"),
        ([], [(101.5, math.nan)], "ask level size nan at 101.5"),
    ],
)
def test_a_delta_with_an_impossible_level_breaks_the_book(bids, asks, reason):
    """The core's last gate leaves a delta's levels to the keeper (it reads each level
    anyway): an impossible one stops the delta, forgets the book, asks for a resync."""
    k = keeper()
    k.on_snapshot(SNAP, 0)
    update = k.on_delta(BookDelta("X-1", [(99.5, 4.0), *bids], asks, seq=11), 1)
    assert update.resync is not None and update.resync.startswith(IMPOSSIBLE)
    assert reason in update.resync and update.events == ()
    assert k.on_delta(BookDelta("X-1", [(99.0, 1.0)], [], seq=12), 2).events == ()
    assert book_of(k.on_snapshot(SNAP, 3)).bids == [(100.0, 1.0), (99.0, 2.0)]


def test_changes_may_be_negative_but_never_infinite():
    k = keeper()  # deltas without a seq: nothing to chain
    k.on_snapshot(SNAP, 0)
    changes = BookDelta("X-1", [(99.0, -1.5)], [], sizes_are_changes=True)
    assert book_of(k.on_delta(changes, 1)).bids == [(100.0, 1.0), (99.0, 0.5)]
    for bad in (-math.inf, math.inf, math.nan):
        k.on_snapshot(SNAP, 0)
        broken = BookDelta("X-1", [(99.0, bad)], [], sizes_are_changes=True)
        assert (k.on_delta(broken, 1).resync or "").startswith(IMPOSSIBLE)


def test_changes_that_overflow_when_summed_break_the_book():
    k = keeper()
    k.on_snapshot(SNAP, 0)
    huge = BookDelta("X-1", [(99.0, 1.7e308)], [], sizes_are_changes=True)
    assert k.on_delta(huge, 1).resync is None
    assert (k.on_delta(huge, 2).resync or "").startswith(IMPOSSIBLE)
