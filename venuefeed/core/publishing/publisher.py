"""Fan-out of normalized events to consumers: one bounded queue each, never a wait.

The producer side (`Publisher.offer`) is synchronous: a socket reader hands an event to
every consumer's queue and goes back to the socket. Nothing a consumer does, or fails to
do, can make a reader wait, a venue go stale or another consumer lose anything: each
consumer's lag is that consumer's problem, handled by its own overflow policy and
reported to it in-band.

One queue per consumer, in publish order:

- **state** events (book, bbo, mark) are conflated per (venue, instrument, kind): a new
  value replaces the pending one *and moves to the end of the queue*, to the position of
  its newest value. So no trade is ever delivered after a book that was published later
  than it, and a `stale` status is never delivered after the book that followed it.
- **history** events (trade, funding, status, gap) are queued in order, up to
  `queue_max` per consumer. What happens past that is the consumer's policy:

  ``gap`` (default)
      the oldest undelivered history events are dropped, counted and logged, and the
      consumer receives, at the position of the first one lost, a `Gap` event naming the
      venue, instrument and kind, how many, and the trade ids and times at both ends.
  ``evict``
      a consumer whose queue fills up, or that has not read for `slow_consumer_s` while
      events wait, is closed with `ConsumerTooSlowError`; its queue, metric series and
      log keys are freed at once.
  ``lossless``
      never drops: its queue may grow to `lossless_max` events (its own delivery falls
      behind, nobody else's); past that it is closed with `ConsumerTooSlowError`, because
      it can no longer see everything.

Gap events are keyed per (venue, instrument, kind) while pending, so a consumer that
stops reading for good holds at most `queue_max` history events, one value per state key
and one gap per key: memory is bounded whatever the feed does.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Hashable
from typing import cast

import msgspec

from venuefeed.core.errors import ConsumerClosedError, ConsumerTooSlowError
from venuefeed.core.events import AnyEvent, Event, Gap, Trade
from venuefeed.core.observe.logs import RateLimitedLog
from venuefeed.core.observe.metrics import Labels, Metrics
from venuefeed.core.settings import ConsumerPolicy, EngineSettings

logger = logging.getLogger(__name__)

StateKey = tuple[str, str, str]
_GapKey = tuple[str, str, str]  # (venue, instrument, lost kind)


class Subscription(AsyncIterator[AnyEvent]):
    """One consumer's bounded, ordered view of the event stream (`engine.events()`).

    It yields `AnyEvent`, the union of the concrete event types, so that a consumer's
    `if event.kind == "status":` narrows the event for a type checker."""

    def __init__(
        self,
        publisher: Publisher,
        name: str,
        *,
        policy: ConsumerPolicy,
        queue_max: int,
        slow_consumer_s: float,
        lossless_max: int,
    ) -> None:
        self.name = name
        self.policy: ConsumerPolicy = policy
        self._publisher = publisher
        self._limit = lossless_max if policy == "lossless" else queue_max
        self._slow_s = slow_consumer_s if policy == "evict" else None
        #: state keys, history sequence numbers and gap keys, in delivery order
        self._queue: OrderedDict[Hashable, Event] = OrderedDict()
        self._history: deque[int] = deque()  # history sequence numbers, oldest first
        self._seq = itertools.count()
        #: pending gap per (venue, instrument, kind) -> the history slot it occupies
        self._gaps: dict[_GapKey, int] = {}
        self._gap_at: dict[int, _GapKey] = {}
        self._behind_since = time.monotonic()  # last read, or when the queue last filled
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._error: BaseException | None = None
        self.dropped = 0

    @property
    def depth(self) -> int:
        return len(self._queue)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- producer side (called by the Publisher only) ---------------------------------

    def _put(self, event: Event, state_key: StateKey | None) -> None:
        queue = self._queue
        if not queue:
            self._behind_since = time.monotonic()
        elif self._slow_s is not None and time.monotonic() - self._behind_since > self._slow_s:
            self._evict(f"has not read for {self._slow_s:g}s while events waited")
            return
        if state_key is not None:
            if state_key in queue:
                del queue[state_key]  # conflate: the newest value takes the newest position
                self._publisher.count_conflated(event)
            queue[state_key] = event
        else:
            if len(self._history) >= self._limit:
                if self.policy != "gap":
                    self._evict(f"fell {self._limit} history events behind")
                    return
                self._drop_oldest()
            seq = next(self._seq)
            queue[seq] = event
            self._history.append(seq)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _drop_oldest(self) -> None:
        """The gap policy: the oldest history event makes way, and a Gap takes its slot
        (or, if one for the same key is already pending, that Gap counts one more)."""
        seq = self._history.popleft()
        queue = self._queue
        lost = queue[seq]
        self.dropped += 1
        self._publisher.count_dropped(self, lost)
        key: _GapKey = (lost.venue, lost.instrument, lost.kind)
        trade_id = lost.trade_id if isinstance(lost, Trade) else None
        at = self._gaps.get(key)
        if at is None:
            # the slot keeps its queue position: the gap stands exactly where it happened
            self._gaps[key] = seq
            self._gap_at[seq] = key
            queue[seq] = Gap(
                venue=lost.venue,
                symbol=lost.symbol,
                instrument=lost.instrument,
                ts_recv=lost.ts_recv,
                reason="consumer_behind",
                lost_kind=lost.kind,
                count=1,
                first_id=trade_id,
                last_id=trade_id,
                from_ms=lost.ts_recv,
                to_ms=lost.ts_recv,
            )
            return
        del queue[seq]
        pending = queue[at]
        assert isinstance(pending, Gap)
        queue[at] = msgspec.structs.replace(  # an existing key keeps its position
            pending,
            count=(pending.count or 0) + 1,
            last_id=trade_id if trade_id is not None else pending.last_id,
            to_ms=lost.ts_recv,
        )

    def _evict(self, why: str) -> None:
        error = ConsumerTooSlowError(
            f"consumer {self.name!r} ({self.policy} policy) {why}; it was closed and its "
            f"{len(self._queue)} pending events discarded"
        )
        self._publisher.log_evicted(self, error)
        self.close(error)

    # -- consumer side -----------------------------------------------------------------

    def _pop(self) -> AnyEvent:
        entry, event = self._queue.popitem(last=False)
        if type(entry) is int:
            gap = self._gap_at.pop(entry, None) if self._gap_at else None
            if gap is None:
                self._history.popleft()
            else:
                del self._gaps[gap]
        self._behind_since = time.monotonic()
        return cast(AnyEvent, event)  # producers offer only the concrete event types

    def get_nowait(self) -> AnyEvent | None:
        """The next event if one waits, else None (for sinks that write in batches)."""
        return self._pop() if self._queue else None

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> AnyEvent:
        while not self._queue:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._pop()

    async def aclose(self) -> None:
        self.close()

    def close(self, error: BaseException | None = None, *, drain: bool = False) -> None:
        """End this consumer. Pending events are discarded, unless `drain` (engine
        shutdown): then iteration delivers them before it stops (or raises `error`)."""
        if self._closed:
            return
        self._closed = True
        self._error = error
        self._publisher._remove(self, discarded=0 if drain else len(self._queue))
        if not drain:
            self._queue.clear()
            self._history.clear()
            self._gaps.clear()
            self._gap_at.clear()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Publisher:
    """Owns the consumers; producers call `offer` from any task on the loop."""

    def __init__(self, settings: EngineSettings, metrics: Metrics) -> None:
        self._settings = settings
        self.metrics = metrics
        self._subs: list[Subscription] = []
        self._count = 0
        self._stopped = False
        self._log = RateLimitedLog(logger, window_s=settings.log_repeat_s)
        self._conflated_keys: dict[tuple[str, str], tuple[str, Labels]] = {}
        self._event_keys: dict[tuple[str, str], tuple[str, Labels]] = {}

    @property
    def consumers(self) -> tuple[Subscription, ...]:
        return tuple(self._subs)

    def subscribe(
        self,
        name: str | None = None,
        queue_max: int | None = None,
        *,
        policy: ConsumerPolicy | None = None,
    ) -> Subscription:
        """A new consumer, registered at once: nothing offered after this call is missed."""
        if self._stopped:
            raise ConsumerClosedError(
                "the engine is stopped: call events() before or while it runs"
            )
        self._count += 1
        settings = self._settings
        sub = Subscription(
            self,
            name or f"consumer-{self._count}",
            policy=policy or settings.consumer_policy,
            queue_max=queue_max or settings.queue_max,
            slow_consumer_s=settings.slow_consumer_s,
            lossless_max=max(settings.lossless_max, queue_max or 0),
        )
        self._subs = [*self._subs, sub]
        return sub

    def offer(self, event: Event) -> None:
        """Hot path: hand the event to every consumer's queue; never waits, never raises."""
        key = self._event_keys.get((event.venue, event.kind))
        if key is None:
            key = self.metrics.key("events", venue=event.venue, kind=event.kind)
            self._event_keys[(event.venue, event.kind)] = key
        self.metrics.bump(key)
        state_key = (event.venue, event.instrument, event.kind) if event.is_state else None
        for sub in self._subs:
            sub._put(event, state_key)

    # -- accounting, called by subscriptions ------------------------------------------

    def count_conflated(self, event: Event) -> None:
        key = self._conflated_keys.get((event.venue, event.kind))
        if key is None:
            key = self.metrics.key("events_conflated", venue=event.venue, kind=event.kind)
            self._conflated_keys[(event.venue, event.kind)] = key
        self.metrics.bump(key)

    def count_dropped(self, sub: Subscription, event: Event) -> None:
        self.metrics.inc("events_dropped", venue=event.venue, kind=event.kind)
        self.metrics.inc("consumer_dropped", consumer=sub.name)
        self._log.log(
            logging.ERROR,
            f"drop:{sub.name}",
            "consumer %s is full (%d history events waiting); dropping its oldest (%s %s %s) "
            "and telling it with a gap event",
            sub.name,
            len(sub._history) + 1,
            event.venue,
            event.kind,
            event.instrument,
        )

    def log_evicted(self, sub: Subscription, error: ConsumerTooSlowError) -> None:
        self.metrics.inc("consumers_evicted", policy=sub.policy)
        logger.error("%s", error)

    def _remove(self, sub: Subscription, *, discarded: int) -> None:
        if sub not in self._subs:
            return
        # a new list, never a change in place: `offer` may be iterating the old one
        self._subs = [other for other in self._subs if other is not sub]
        self.metrics.forget(consumer=sub.name)
        self._log.forget(f"drop:{sub.name}")
        if discarded and not self._stopped:
            self.metrics.inc("events_discarded", discarded)
            logger.warning(
                "consumer %s closed while the engine runs; %d pending events discarded",
                sub.name,
                discarded,
            )

    def close(self, error: BaseException | None = None) -> None:
        """Engine shutdown: every consumer delivers what it holds, then ends (or raises
        `error`); later `subscribe` calls fail instead of waiting forever."""
        self._stopped = True
        for sub in list(self._subs):
            sub.close(error, drain=True)
