"""BatchDispatch: a batch's results in order, consecutive deltas of one book as a run,
and only each book's last run in the batch publishing it."""

from __future__ import annotations

from typing import Any

from venuefeed.core.adapter import BookDelta, BookSnapshot, Pong
from venuefeed.core.connection.dispatch import BatchDispatch
from venuefeed.core.events import Trade


class Feed:
    """Records what the dispatcher hands a BookFeed; `broken` names deltas that break."""

    def __init__(self, broken: tuple[BookDelta, ...] = ()) -> None:
        self.calls: list[Any] = []
        self.broken = broken

    def take_run(self, run, recv_ms, now, *, emit):
        self.calls.append(("run", [d.seq for d in run], emit))
        return "update" if any(d in self.broken for d in run) else None

    def take(self, item, recv_ms, now, *, emit=True):
        self.calls.append(("take", item.instrument, item.seq))

    async def repair(self, item, update):
        self.calls.append(("repair", item.instrument, item.seq))


class Control:
    def __init__(self, calls: list[Any]) -> None:
        self.calls = calls

    async def handle(self, item):
        self.calls.append(("control", type(item).__name__))


def delta(instrument: str, seq: int) -> BookDelta:
    return BookDelta(instrument, [], [], seq=seq)


def trade(trade_id: str) -> Trade:
    where = {"venue": "v", "symbol": "A", "instrument": "A", "ts_recv": 1}
    return Trade(**where, price=1.0, size=1.0, side="buy", trade_id=trade_id)  # type: ignore[arg-type]


async def dispatched(batch, feed: Feed) -> list[Any]:
    marks: dict[tuple[str, str], float] = {}

    def deliver(event, recv_ms, now):
        feed.calls.append(("deliver", event.trade_id))

    dispatch = BatchDispatch(feed, Control(feed.calls), marks, deliver)  # type: ignore[arg-type]
    await dispatch(batch, 7, 1.5)
    return feed.calls


async def test_runs_keep_the_batch_order_and_only_each_books_last_run_publishes():
    a1, b1, a2, a3, a4 = delta("A", 1), delta("B", 1), delta("A", 2), delta("A", 3), delta("A", 4)
    batch = [[a1], [b1], [a2], [trade("t1")], [a3, a4], [Pong()]]
    assert await dispatched(batch, Feed()) == [
        ("run", [1], False),  # A's later deltas in this batch will publish it
        ("run", [1], True),  # B's only run
        ("run", [2], False),
        ("deliver", "t1"),  # the trade keeps its place between A's deltas
        ("run", [3, 4], True),  # one frame's deltas join the run
        ("control", "Pong"),
    ]


async def test_a_snapshot_ends_a_run_and_a_break_is_repaired_at_the_runs_end():
    a1, a2, a3 = delta("A", 1), delta("A", 2), delta("A", 3)
    snap = BookSnapshot("A", [], [], seq=9)
    assert await dispatched([[a1], [a2], [snap], [a3]], Feed(broken=(a2,))) == [
        ("run", [1, 2], False),
        ("repair", "A", 2),
        ("take", "A", 9),
        ("run", [3], True),
    ]


async def test_a_single_frame_publishes_its_book():
    assert await dispatched([[delta("A", 1)]], Feed()) == [("run", [1], True)]
