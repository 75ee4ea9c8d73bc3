"""One websocket kept alive forever: connect, subscribe, read, recover.

The loop (`ConnectionRunner.run`) is the same for every venue:

    breaker allows? -> connecting -> handshake (<= connect_timeout_s) -> subscribe
      -> session: read frames + heartbeat + watchdog (+ lifetime rotation)
      -> failure: wait (the one retry model: jittered exponential, Retry-After) -> again

A session is built from parts with one job each, wired here and nowhere else:
`Link` (the socket), `Freshness` + `watch` (deadlines), `BookFeed` (books, resync,
REST snapshots), `ControlFrames` (pings, acks, notices), `Outage` (time without data).
Every market-data event takes one path to the publisher, `_deliver`, which never waits.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from venuefeed.core.adapter import ConnectionSpec, Continuity, Parsed
from venuefeed.core.breaker import BreakerState, CircuitBreaker
from venuefeed.core.connection.bookfeed import BookFeed, forget_books
from venuefeed.core.connection.control import ControlFrames
from venuefeed.core.connection.dispatch import BatchDispatch
from venuefeed.core.connection.framebatch import FrameParser, SnapshotConflation
from venuefeed.core.connection.freshness import Freshness, Verdict, watch
from venuefeed.core.connection.link import Link, Rotation
from venuefeed.core.connection.outage import Outage
from venuefeed.core.connection.tradefill import TradeFill
from venuefeed.core.errors import (
    FrameTooLargeError,
    StaleError,
    SubscribeTimeoutError,
    VenueError,
)
from venuefeed.core.events import Event, Trade
from venuefeed.core.observe.health import ConnectionHealth, StreamHealth
from venuefeed.core.retry import Retry
from venuefeed.core.venue.services import VenueServices

logger = logging.getLogger(__name__)


class ConnectionRunner:
    def __init__(self, services: VenueServices, spec: ConnectionSpec) -> None:
        self.services = services
        self.spec = spec
        self.stream = f"ws:{spec.name}"
        policy = services.policy
        self._loop = asyncio.get_running_loop()
        self.retry = Retry(policy)
        self.breaker = CircuitBreaker(
            failures=policy.breaker_failures,
            window_s=policy.breaker_window_s,
            cooldown_s=policy.breaker_cooldown_s,
            clock=self._loop.time,
        )
        self.book_instruments = frozenset(s.instrument for s in spec.streams if s.kind == "book")
        self._trade_instruments = frozenset(s.instrument for s in spec.streams if s.kind == "trade")
        self._outage = Outage(services.clock)  # a replay's outages are the recorded ones
        self._last_data_ms: int | None = None  # across sessions
        self._reconnects = 0
        self._last_error = ""
        # the session's parts, rebuilt by _session()
        self._freshness = self._new_freshness()
        self._first_data = asyncio.Event()
        self._stop: BaseException | None = None
        self._trades = self._new_tradefill(recovering=False)
        self._spawn: Callable[[Coroutine[Any, Any, None]], object] | None = None

    # -- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        services = self.services
        while True:
            if not self.breaker.allow_attempt():
                await self._breaker_open()
                continue
            if self.breaker.state is BreakerState.HALF_OPEN:
                services.status(self.stream, "breaker_half_open", "trying one connection")
            services.status(self.stream, "connecting", self.spec.url)
            try:
                await self._session()
            except Rotation:
                _reraise_if_cancelling()
                self._count_reconnect("rotate")
                continue
            except VenueError as exc:
                _reraise_if_cancelling()
                await self._failed(exc)
            except Exception as exc:
                # a bug (a plugin's parse raising what it should not): the supervisor logs
                # and restarts this task; until then the socket is gone, so say it is not
                # live, or /readyz and the REST fallback would trust a dead connection
                self._down()
                if not _cancelling():
                    self._last_error = f"task crashed: {type(exc).__name__}: {exc}"
                    services.status(self.stream, "backoff", self._last_error)
                raise
            except BaseException:
                self._down()
                raise

    async def _failed(self, exc: VenueError) -> None:
        services = self.services
        self._last_error = str(exc)
        self._count_reconnect(type(exc).__name__)
        if isinstance(exc, FrameTooLargeError):
            services.metrics.inc("frames_too_large", venue=services.name)
        self._down()
        if self.breaker.record_failure() is BreakerState.OPEN:
            await self._breaker_open(str(exc))
            return
        delay = self.retry.delay_after(exc)
        services.metrics.set("backoff_delay_s", delay, venue=services.name, stream=self.stream)
        services.status(self.stream, "backoff", str(exc), delay_s=delay)
        await asyncio.sleep(delay)

    async def _breaker_open(self, last_error: str = "") -> None:
        policy = self.services.policy
        wait = self.breaker.remaining_s()
        reason = f"{policy.breaker_failures} failures within {policy.breaker_window_s}s"
        if last_error:
            reason += f"; last: {last_error}"
        self.services.status(self.stream, "breaker_open", reason, delay_s=wait)
        await asyncio.sleep(wait)

    def _count_reconnect(self, reason: str) -> None:
        self._reconnects += 1
        self.services.metrics.inc("reconnects", venue=self.services.name, reason=reason)

    def _down(self) -> None:
        self._outage.begin(self._last_data_ms)
        forget_books(self.services, self.book_instruments)

    # -- one session -------------------------------------------------------------------

    def _new_freshness(self) -> Freshness:
        return Freshness(
            stream=self.stream,
            streams=self.spec.streams,
            policy=self.services.policy,
            acks_expected=self.spec.acks_expected,
            started=self._loop.time(),
        )

    def _new_tradefill(self, *, recovering: bool) -> TradeFill:
        services = self.services
        assert services.trades is not None, "the trade memory is built before connections"
        return TradeFill(
            services,
            services.trades,
            self._trade_instruments,
            recovering=recovering,
            offer=services.publisher.offer,
        )

    async def _session(self) -> None:
        self._stop = None
        link = await self.services.io.open_link(self.spec)
        self._freshness = freshness = self._new_freshness()
        self._first_data = asyncio.Event()
        # after an outage, live trades wait until what the venue sent meanwhile is filled
        self._trades = self._new_tradefill(
            recovering=self._outage.ongoing and self._last_data_ms is not None
        )
        ended: BaseException | None = None
        try:
            for message in self.spec.subscribe:
                await link.send(message)
            try:
                async with asyncio.TaskGroup() as tg:
                    feed = BookFeed(
                        self.services,
                        self.book_instruments,
                        send=link.send,
                        spawn=tg.create_task,
                        deliver=self._deliver,
                        mark=functools.partial(freshness.mark, "book"),
                        clock=self._loop.time,
                    )
                    control = ControlFrames(self.services, freshness, link.send)
                    self._spawn = tg.create_task
                    if self.services.adapter.heartbeat.ping is not None:
                        tg.create_task(self._heartbeat(link))
                    tg.create_task(self._watchdog(link))
                    if self.spec.max_lifetime_s is not None:
                        tg.create_task(self._lifetime(link, self.spec.max_lifetime_s))
                    await self._read(link, feed, control)
                    raise self._stop or link.ended()
            except BaseExceptionGroup as group:
                leaf = _leaf(group)
                if self._stop is not None and isinstance(leaf, VenueError | Rotation):
                    # we ended the session (a deadline, a rotation): a send that met the
                    # closing socket meanwhile is a consequence, not the reason
                    raise self._stop from None
                raise leaf from None
        except BaseException as exc:
            ended = exc  # what the session ended for, said to a recorder
            raise
        finally:
            self._spawn = None
            self._trades.end(self.services.clock())
            await link.finish(ended)

    async def _read(self, link: Link, feed: BookFeed, control: ControlFrames) -> None:
        """Batches of buffered frames (framebatch.py): every frame is received and counted,
        snapshots a newer one of the same book replaces are not decoded."""
        services = self.services
        dispatch = BatchDispatch(feed, control, self._freshness.marks, self._deliver)
        loop_time = self._loop.time
        conflation = SnapshotConflation(
            self.spec.snapshot_key if services.adapter.continuity is Continuity.SNAPSHOTS else None
        )
        parse = FrameParser(services, self.stream, conflation)
        frames_key = services.metrics.key("frames", venue=services.name)
        skipped_key = services.metrics.key("frames_skipped", venue=services.name)
        bump = services.metrics.bump
        while True:
            batch, ended = await link.next_batch()
            if batch:
                bump(frames_key, len(batch))
                recv_ms = link.taken(batch)
                skipped = conflation.skipped
                batch_results: list[Sequence[Parsed]] = []
                if conflation.active and len(batch) > 1:
                    for frame, key, older in conflation.plan(batch):
                        results = parse(frame, recv_ms)
                        if key is not None and not conflation.confirm(key, results):
                            results = parse.fall_back(older, results, recv_ms)
                        if results:
                            batch_results.append(results)
                else:  # nothing to skip: every frame in order (a delta feed's case)
                    batch_results = parse.all(batch, recv_ms)
                await dispatch(batch_results, recv_ms, loop_time())  # one stamp a batch
                if conflation.skipped != skipped:
                    bump(skipped_key, conflation.skipped - skipped)
            if ended:
                return  # close, closing, closed or error: Link.ended() explains
            if link.data_ready():
                # more is waiting, so the next receive() would not suspend: let other
                # venues, the watchdog and consumers run between batches
                await asyncio.sleep(0)

    def _deliver(self, event: Event, recv_ms: int, now: float) -> None:
        """The one path from this connection to the publisher; never waits. A trade goes
        through the session's TradeFill: once only, and after any outage it fills."""
        self._last_data_ms = recv_ms
        if event.ts_venue is not None:
            self.services.lag.observe_ms(recv_ms - event.ts_venue)
        if self._freshness.first_data is None:
            self._first_data_seen(now, recv_ms)
        if type(event) is Trade and not self._trades.take(event):
            return
        self.services.publisher.offer(event)

    def _first_data_seen(self, now: float, recv_ms: int) -> None:
        self._freshness.first_data = now
        self._first_data.set()
        gap = self._outage.end(recv_ms)
        if gap is not None:
            self.services.status(
                self.stream, "recovered", "", gap_start_ms=gap[0], gap_end_ms=gap[1]
            )
            if self._trades.holding and self._spawn is not None:
                self._spawn(self._trades.fill(gap[0], gap[1]))
        self.services.status(self.stream, "live", "")

    async def _watchdog(self, link: Link) -> None:
        """Act on the session's deadlines; when one ends the session, close the socket,
        which ends the read loop, which raises the reason in `_stop`."""
        await watch(self._freshness, self._loop.time, self._first_data, self._act)
        await link.close()

    def _act(self, verdict: Verdict) -> bool:
        """What a verdict does to this session; True ends it."""
        freshness = self._freshness
        if verdict.unacknowledged:
            self._stop = SubscribeTimeoutError(
                f"{freshness.acks} of {freshness.acks_expected} subscriptions "
                f"acknowledged within {self.services.policy.subscribe_timeout_s}s"
            )
            return True
        if verdict.stale:
            self._report_stale(verdict.stale)
            self._stop = StaleError(
                f"no data for {freshness.stale_after()}s on {', '.join(verdict.stale)}"
            )
            return True
        if verdict.stable:
            self.retry.reset()
            self.breaker.record_success()
            services = self.services
            services.metrics.set("backoff_delay_s", 0, venue=services.name, stream=self.stream)
        return False

    def _report_stale(self, keys: Sequence[str]) -> None:
        services = self.services
        services.metrics.inc("stale", len(keys), venue=services.name)
        bound = self._freshness.stale_after()
        for key in keys:
            instrument = key.split(":", 1)[1] if key != self.stream else "*"
            services.status(
                key,
                "stale",
                f"no market data for {bound}s",
                symbol=services.symbols.get(instrument, instrument),
                instrument=instrument,
            )

    async def _heartbeat(self, link: Link) -> None:
        ping = self.services.adapter.heartbeat.ping
        interval = self.services.policy.heartbeat_interval_s
        while True:
            await asyncio.sleep(interval)
            await link.send(ping)
            self.services.metrics.inc("pings_sent", venue=self.services.name)

    async def _lifetime(self, link: Link, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._stop = Rotation(f"planned rotation after {seconds}s")
        await link.close()

    @property
    def holding_trades(self) -> bool:
        """Live trades are held back until an outage's backfill is published (TradeFill)."""
        return bool(self._trades.holding)

    # -- the health read model -----------------------------------------------------------

    def health(self) -> ConnectionHealth:
        state = self.services.states.get(self.stream) or StreamHealth("connecting", "", 0)
        return ConnectionHealth(
            stream=self.stream,
            state=state.state,
            reason=state.reason,
            since_ms=state.since_ms,
            last_data_ms=self._last_data_ms,
            seconds_not_live=self._outage.seconds_not_live(),
            reconnects=self._reconnects,
            last_error=self._last_error,
            backoff_attempt=self.retry.attempt,
            breaker=self.breaker.state.value,
        )


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _reraise_if_cancelling() -> None:
    """A task group whose children failed while we were being cancelled reports the
    children's errors and loses the cancellation; restore it so shutdown cannot stall."""
    if _cancelling():
        raise asyncio.CancelledError


def _leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The exception that ended a session's task group, preferring bugs over venue errors."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(exc.exceptions)
        else:
            leaves.append(exc)
    for exc in leaves:
        if not isinstance(exc, VenueError | Rotation):
            return exc
    return leaves[0]
