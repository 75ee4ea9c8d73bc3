"""The books one connection carries: apply what the venue sends, publish healthy books,
and recover broken ones by the venue's means.

A `BookFeed` lives for one session. It is handed what it may do, as callables:
`send` a message on the session's socket, `spawn` a task the session owns and awaits,
`deliver` an event (the session's one path to the publisher), `mark` a book fresh. It
never sees the socket or the task group, so it cannot outlive or bypass the session.

Resync by `Resync`:
- RESUBSCRIBE: send the adapter's resubscribe messages;
- REST_SNAPSHOT: fetch the adapter's snapshot request, at most one fetch per instrument
  at a time, retried with the one retry model (Retry-After honoured); a break found
  while applying it asks for the next one;
- RECONNECT: raise `ResyncError`, which ends the session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Coroutine, Sequence
from typing import Any

from venuefeed.core.adapter import BookDelta, BookSnapshot, Resync
from venuefeed.core.books import IMPOSSIBLE, BookKeeper, BookUpdate
from venuefeed.core.connection.link import Send
from venuefeed.core.errors import ResyncError
from venuefeed.core.events import Event
from venuefeed.core.retry import Retry, retry_until_done
from venuefeed.core.venue.services import VenueServices

Deliver = Callable[[Event, int, float], None]
Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


def forget_books(services: VenueServices, instruments: Collection[str]) -> None:
    """No ghost levels survive a reconnect: the books start over from a snapshot."""
    books = services.books
    if books is not None:
        for instrument in instruments:
            books.reset(instrument)


class BookFeed:
    def __init__(
        self,
        services: VenueServices,
        instruments: Collection[str],
        *,
        send: Send,
        spawn: Spawn,
        deliver: Deliver,
        mark: Callable[[str, float], None],
        clock: Callable[[], float],
    ) -> None:
        assert services.books is not None, "books are built before connections start"
        self._services = services
        self._books: BookKeeper = services.books
        self._send = send
        self._spawn = spawn
        self._deliver = deliver
        self._mark = mark
        self._clock = clock
        self._fetching: dict[str, asyncio.Task[None]] = {}
        forget_books(services, instruments)

    async def apply(
        self, item: BookSnapshot | BookDelta, recv_ms: int, now: float, *, emit: bool = True
    ) -> None:
        """Apply one book message and act on a break (see `take`)."""
        broken = self.take(item, recv_ms, now, emit=emit)
        if broken is not None:
            await self.repair(item, broken)

    def take(
        self, item: BookSnapshot | BookDelta, recv_ms: int, now: float, *, emit: bool = True
    ) -> BookUpdate | None:
        """Apply one book message and publish what it produced, without suspending (the
        read loop's path); returns the update when the book needs `repair`. `emit=False`
        for a delta that a later one of the same book in this batch supersedes
        (`BookKeeper.on_delta`)."""
        if isinstance(item, BookDelta):
            return self.take_run((item,), recv_ms, now, emit=emit)
        update = self._books.on_snapshot(item, recv_ms)
        stamps = [item.ts_venue] if update.applied and item.ts_venue is not None else []
        return self._publish(item.instrument, update, stamps, recv_ms, now)

    def take_run(
        self, deltas: Sequence[BookDelta], recv_ms: int, now: float, *, emit: bool
    ) -> BookUpdate | None:
        """`take` for a run of deltas of one book (`BookKeeper.on_deltas`): the book is
        marked fresh once, every applied delta's lag observed, at most one book published
        (with `emit`), and the first break returned for `repair`."""
        update, stamps = self._books.on_deltas(deltas, recv_ms, emit=emit)
        return self._publish(deltas[0].instrument, update, stamps, recv_ms, now)

    def _publish(
        self, instrument: str, update: BookUpdate, stamps: list[int], recv_ms: int, now: float
    ) -> BookUpdate | None:
        if update.buffered or update.applied:
            # held for a REST snapshot or applied: either way the stream is alive
            self._mark(instrument, now)
        if stamps:
            self._services.lag.observe_all_ms(recv_ms, stamps)
        if update.events:
            deliver = self._deliver
            for event in update.events:
                deliver(event, recv_ms, now)
        if update.resync is None:
            return None
        if update.resync.startswith(IMPOSSIBLE):
            self._impossible(instrument, update.resync)
        return update

    def _impossible(self, instrument: str, reason: str) -> None:
        """A delta with a number no market can have: the parse error the core's gate
        would have counted (`core/publishing/sanity.py`), found as it was applied."""
        services = self._services
        services.metrics.inc("parse_errors", venue=services.name, kind="ImpossibleValue")
        services.log.log(
            logging.WARNING,
            f"parse:book:{instrument}:ImpossibleValue",
            "%s: book %s: %s; the book resyncs",
            services.name,
            instrument,
            reason,
        )

    async def repair(self, item: BookSnapshot | BookDelta, update: BookUpdate) -> None:
        """Resync a book `take` found broken, by the venue's means."""
        assert update.resync is not None
        await self._resync(item.instrument, update.resync, initial=update.initial)

    async def _resync(self, instrument: str, reason: str, *, initial: bool) -> None:
        services = self._services
        adapter = services.adapter
        if not initial:
            services.metrics.inc(
                "book_resyncs", venue=services.name, reason=reason.split(":", 1)[0]
            )
            services.status(
                f"book:{instrument}",
                "resync",
                f"{reason}; {adapter.resync.value}",
                symbol=services.symbols.get(instrument, instrument),
                instrument=instrument,
            )
        if adapter.resync is Resync.RESUBSCRIBE:
            for message in adapter.resubscribe_messages(instrument):
                await self._send(message)
        elif adapter.resync is Resync.REST_SNAPSHOT:
            running = self._fetching.get(instrument)
            if running is None or running.done():  # at most one fetch per instrument
                self._fetching[instrument] = self._spawn(self._fetch(instrument))
        else:
            raise ResyncError(f"book {instrument}: {reason}")

    async def _fetch(self, instrument: str) -> None:
        services = self._services
        request = services.adapter.book_snapshot_request(instrument)
        if request is None:
            raise ResyncError(f"book {instrument}: adapter gives no REST snapshot request")

        def failed(error: BaseException, wait_s: float, attempt: int) -> None:
            services.metrics.inc("rest_failures", venue=services.name, request=request.name)
            services.log.log(
                logging.WARNING,
                f"snapshot:{instrument}",
                "%s (attempt %d; next in %.2fs)",
                error,
                attempt,
                wait_s,
            )

        results = await retry_until_done(
            lambda: services.rest.fetch(request, "snapshot"),
            Retry(services.policy),
            on_failure=failed,
        )
        # done fetching: a break found while applying this snapshot may ask for the next
        self._fetching.pop(instrument, None)
        now, recv_ms = self._clock(), services.clock()
        for item in results:
            if isinstance(item, BookSnapshot | BookDelta):
                await self.apply(item, recv_ms, now)
