"""Fan-out of normalized events to consumers, bounded, with two lanes.

State events (book, bbo, mark) are conflated per (venue, instrument, kind): a slow
consumer gets the latest value of every key, in the order keys last became pending, and
never loses one key's value to another's (the audit's single `pending_latest` slot did).
History events (trades, funding, status) are queued up to `queue_max` per consumer; when
full, the producer waits up to `history_put_timeout_s` and then drops, counts and logs.
Both lanes share one ordering deque so a consumer sees events in publish order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator

from venuefeed.core.errors import ConsumerClosedError
from venuefeed.core.events import Event
from venuefeed.core.logs import RateLimitedLog
from venuefeed.core.metrics import Labels, Metrics
from venuefeed.core.settings import EngineSettings

logger = logging.getLogger(__name__)

StateKey = tuple[str, str, str]


class Subscription(AsyncIterator[Event]):
    """One consumer's bounded view of the event stream (what `engine.events()` returns)."""

    def __init__(self, publisher: Publisher, name: str, queue_max: int) -> None:
        self.name = name
        self._publisher = publisher
        self._queue_max = queue_max
        self._order: deque[Event | StateKey] = deque()
        self._state: dict[StateKey, Event] = {}
        self._history = 0
        self._data_waiter: asyncio.Future[None] | None = None
        self._space_waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._error: BaseException | None = None

    @property
    def depth(self) -> int:
        return len(self._order)

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, event: Event) -> bool:
        """Enqueue without waiting; False only when the history lane is full."""
        if self._closed:
            raise ConsumerClosedError(f"consumer {self.name!r} is closed")
        if event.is_state:
            key = (event.venue, event.instrument, event.kind)
            if key in self._state:
                self._publisher.count_conflated(event)
            else:
                self._order.append(key)
            self._state[key] = event
        else:
            if self._history >= self._queue_max:
                return False
            self._history += 1
            self._order.append(event)
        waiter = self._data_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    async def wait_for_space(self, timeout_s: float) -> bool:
        """Wait until the history lane has room; False on timeout or close."""
        if self._history < self._queue_max:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._space_waiters.append(fut)
        try:
            async with asyncio.timeout(timeout_s):
                await fut
        except TimeoutError:
            return False
        finally:
            if fut in self._space_waiters:
                self._space_waiters.remove(fut)
        return not self._closed and self._history < self._queue_max

    def _pop(self) -> Event:
        item = self._order.popleft()
        if isinstance(item, tuple):
            return self._state.pop(item)
        self._history -= 1
        while self._space_waiters:
            fut = self._space_waiters.popleft()
            if not fut.done():
                fut.set_result(None)
                break
        return item

    def get_nowait(self) -> Event | None:
        return self._pop() if self._order else None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while not self._order:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._data_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._data_waiter
            finally:
                self._data_waiter = None
        return self._pop()

    async def aclose(self) -> None:
        self.close()

    def close(self, error: BaseException | None = None, *, drain: bool = False) -> None:
        """End this consumer. Pending events are discarded and counted, unless `drain`
        (engine shutdown): then iteration delivers them before it stops."""
        if self._closed:
            return
        self._closed = True
        self._error = error
        self._publisher._remove(self)
        if not drain:
            self._order.clear()
            self._state.clear()
            self._history = 0
        if self._data_waiter is not None and not self._data_waiter.done():
            self._data_waiter.set_result(None)
        for fut in self._space_waiters:
            if not fut.done():
                fut.set_result(None)


class Publisher:
    """Owns the consumers; producers call `publish` from any task on the loop."""

    def __init__(self, settings: EngineSettings, metrics: Metrics) -> None:
        self._settings = settings
        self.metrics = metrics
        self._subs: list[Subscription] = []
        self._count = 0
        self._shutting_down = False
        self._log = RateLimitedLog(logger, window_s=settings.log_repeat_s)
        self._conflated_keys: dict[tuple[str, str], tuple[str, Labels]] = {}
        self._event_keys: dict[tuple[str, str], tuple[str, Labels]] = {}

    def count_conflated(self, event: Event) -> None:
        key = self._conflated_keys.get((event.venue, event.kind))
        if key is None:
            key = self.metrics.key("events_conflated", venue=event.venue, kind=event.kind)
            self._conflated_keys[(event.venue, event.kind)] = key
        self.metrics.bump(key)

    @property
    def consumers(self) -> tuple[Subscription, ...]:
        return tuple(self._subs)

    def subscribe(self, name: str | None = None, queue_max: int | None = None) -> Subscription:
        self._count += 1
        sub = Subscription(
            self, name or f"consumer-{self._count}", queue_max or self._settings.queue_max
        )
        self._subs.append(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            if sub.depth and not self._shutting_down:
                self.metrics.inc("events_discarded", sub.depth, consumer=sub.name)
            if not self._shutting_down:
                logger.warning(
                    "consumer %s closed while the engine runs; %d pending events discarded",
                    sub.name,
                    sub.depth,
                )

    async def publish(self, event: Event) -> None:
        """Deliver to every consumer. Never silently drops: a drop is counted and logged."""
        full = self.offer(event)
        if full is not None:
            await self.deliver_waiting(event, full)

    def offer(self, event: Event) -> list[Subscription] | None:
        """Hot path: enqueue without waiting; returns the consumers that were full."""
        key = self._event_keys.get((event.venue, event.kind))
        if key is None:
            key = self.metrics.key("events", venue=event.venue, kind=event.kind)
            self._event_keys[(event.venue, event.kind)] = key
        self.metrics.bump(key)
        full: list[Subscription] | None = None
        for sub in self._subs:
            if not sub.offer(event):
                if full is None:
                    full = []
                full.append(sub)
        return full

    async def deliver_waiting(self, event: Event, full: list[Subscription]) -> None:
        """Wait up to `history_put_timeout_s` per full consumer, then count and log a drop."""
        for sub in full:
            if await sub.wait_for_space(self._settings.history_put_timeout_s) and sub.offer(event):
                continue
            if sub.closed:
                continue
            self.metrics.inc(
                "events_dropped", venue=event.venue, kind=event.kind, consumer=sub.name
            )
            self._log.log(
                logging.ERROR,
                f"drop:{sub.name}",
                "%s: consumer %s is full (%d queued) for %.1fs; dropped a %s event",
                event.venue,
                sub.name,
                sub.depth,
                self._settings.history_put_timeout_s,
                event.kind,
            )

    def close(self, error: BaseException | None = None) -> None:
        """End every consumer's iteration (engine shutdown)."""
        self._shutting_down = True
        for sub in list(self._subs):
            sub.close(error, drain=True)
