"""One batch's parse results, in order, to where each goes: books to the `BookFeed`, other
market data to the publisher, control frames to `ControlFrames`.

A delta feed's batch is mostly deltas of one or a few books. Consecutive deltas of one
book are applied as a run (`BookFeed.take_run`): checked and applied one by one, every
sequence check kept, but the book is marked fresh once and published at most once per
batch: only the book's last delta in the batch builds a Book event, because the
publisher would replace any earlier one before a consumer could read it.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence

from venuefeed.core.adapter import BookDelta, BookSnapshot, Parsed
from venuefeed.core.connection.bookfeed import BookFeed
from venuefeed.core.connection.control import ControlFrames
from venuefeed.core.events import Event


class BatchDispatch:
    """A session's way from parse results to their destinations."""

    def __init__(
        self,
        feed: BookFeed,
        control: ControlFrames,
        marks: MutableMapping[tuple[str, str], float],
        deliver: Callable[[Event, int, float], None],
    ) -> None:
        self._feed = feed
        self._control = control
        self._marks = marks
        self._deliver = deliver

    async def __call__(self, batch: Sequence[Sequence[Parsed]], recv_ms: int, now: float) -> None:
        """Dispatch one batch's results, each frame's in order, frames in order."""
        feed, marks, deliver = self._feed, self._marks, self._deliver
        last = last_deltas(batch)
        run: list[BookDelta] = []
        for results in batch:
            for item in results:
                if type(item) is BookDelta:  # every frame of a delta feed
                    if run and run[0].instrument != item.instrument:
                        await self._take_run(run, last, recv_ms, now)
                        run = []
                    run.append(item)
                    continue
                if run:
                    await self._take_run(run, last, recv_ms, now)
                    run = []
                if isinstance(item, BookDelta | BookSnapshot):
                    broken = feed.take(item, recv_ms, now)
                    if broken is not None:
                        await feed.repair(item, broken)
                elif isinstance(item, Event):
                    marks[(item.kind, item.instrument)] = now
                    deliver(item, recv_ms, now)
                else:
                    await self._control.handle(item)
        if run:
            await self._take_run(run, last, recv_ms, now)

    async def _take_run(
        self, run: list[BookDelta], last: dict[str, BookDelta], recv_ms: int, now: float
    ) -> None:
        final = run[-1]
        emit = last.get(final.instrument, final) is final
        broken = self._feed.take_run(run, recv_ms, now, emit=emit)
        if broken is not None:
            await self._feed.repair(final, broken)


def last_deltas(batch: Sequence[Sequence[Parsed]]) -> dict[str, BookDelta]:
    """The last delta of each book in a batch: only it builds a Book event, the ones
    before it are applied and checked (a consumer could never see their books: the
    publisher conflates books per key before anybody reads them)."""
    last: dict[str, BookDelta] = {}
    if len(batch) > 1:
        for results in batch:
            for item in results:
                if type(item) is BookDelta:
                    last[item.instrument] = item
    return last
