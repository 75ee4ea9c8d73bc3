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
        steps = batch_steps(batch)
        emits = last_runs(steps) if len(batch) > 1 else None
        feed, marks, deliver = self._feed, self._marks, self._deliver
        for i, step in enumerate(steps):
            if isinstance(step, list):  # a run of one book's deltas
                broken = feed.take_run(step, recv_ms, now, emit=emits is None or i in emits)
                if broken is not None:
                    await feed.repair(step[-1], broken)
            elif isinstance(step, BookDelta | BookSnapshot):
                broken = feed.take(step, recv_ms, now)
                if broken is not None:
                    await feed.repair(step, broken)
            elif isinstance(step, Event):
                marks[(step.kind, step.instrument)] = now
                deliver(step, recv_ms, now)
            else:
                await self._control.handle(step)


#: a batch's results as dispatched: runs of one book's consecutive deltas, and the rest
Step = list[BookDelta] | Parsed


def batch_steps(batch: Sequence[Sequence[Parsed]]) -> list[Step]:
    """The batch's results in order, consecutive deltas of one book as one run."""
    steps: list[Step] = []
    run: list[BookDelta] | None = None
    for results in batch:
        for item in results:
            if type(item) is BookDelta:  # every frame of a delta feed
                if run is not None and run[0].instrument == item.instrument:
                    run.append(item)
                else:
                    run = [item]
                    steps.append(run)
            else:
                run = None
                steps.append(item)
    return steps


def last_runs(steps: list[Step]) -> set[int]:
    """The positions of each book's last run in the batch: only it builds a Book event, the runs
    before it are applied and checked (a consumer could never see their books: the
    publisher conflates books per key before anybody reads them). A walk over runs, not
    deltas: a one-book batch is one run."""
    seen: set[str] = set()
    last: set[int] = set()
    for i in range(len(steps) - 1, -1, -1):
        step = steps[i]
        if isinstance(step, list) and (instrument := step[0].instrument) not in seen:
            seen.add(instrument)
            last.add(i)
    return last
