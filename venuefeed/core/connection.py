"""One websocket kept alive forever: connect, subscribe, read, and recover.

The loop (`ConnectionRunner.run`) is the same for every venue:

    breaker allows? -> connecting -> handshake (<= connect_timeout_s) -> subscribe
      -> session: read frames + heartbeat + freshness watchdog (+ lifetime rotation)
      -> failure: backoff delay (exponential, jittered, capped) -> again

The backoff attempt counter resets only once the session has delivered market data and
every watched stream stayed fresh for `stable_after_s`: a server that accepts and then
drops cannot cause a tight loop. Freshness is a per-stream "last data" time written on
each parsed market-data event (heartbeat answers do not count); the watchdog sleeps until
the earliest deadline and recycles the connection when a stream passes `stale_after_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import aiohttp

from venuefeed.core.adapter import (
    Ack,
    BookDelta,
    BookSnapshot,
    ConnectionSpec,
    Parsed,
    Pong,
    Reply,
    Resync,
    StreamSpec,
    VenueNotice,
)
from venuefeed.core.backoff import Backoff
from venuefeed.core.books import BookUpdate
from venuefeed.core.breaker import BreakerState, CircuitBreaker
from venuefeed.core.clock import wall_ms
from venuefeed.core.codec import encode_json
from venuefeed.core.errors import (
    FrameTooLargeError,
    MalformedFrame,
    ParseError,
    RestError,
    ResyncError,
    StaleError,
    SubscribeTimeoutError,
    VenueClosedError,
    VenueConnectError,
    VenueError,
)
from venuefeed.core.events import Event
from venuefeed.core.runtime import VenueRuntime
from venuefeed.core.sanity import check_results

logger = logging.getLogger(__name__)

_CLOSE_TIMEOUT_S = 0.5
_YIELD_EVERY = 63  # a mask: yield to the loop once every 64 frames


class _Rotate(Exception):
    """The connection reached its planned lifetime; reopen without counting a failure."""


class ConnectionRunner:
    def __init__(self, venue: VenueRuntime, spec: ConnectionSpec) -> None:
        self.venue = venue
        self.spec = spec
        self.stream = f"ws:{spec.name}"
        policy = venue.policy
        self._loop = asyncio.get_running_loop()
        self.backoff = Backoff(policy)
        self.breaker = CircuitBreaker(
            failures=policy.breaker_failures,
            window_s=policy.breaker_window_s,
            cooldown_s=policy.breaker_cooldown_s,
            clock=self._loop.time,
        )
        self._watched: tuple[StreamSpec, ...] = tuple(s for s in spec.streams if not s.quiet)
        self._book_instruments = {s.instrument for s in spec.streams if s.kind == "book"}
        self._last_data_ms: int | None = None  # wall time of the last data, across sessions
        self._outage_start_ms: int | None = None
        self._not_live_ms = 0  # closed outages, for seconds-not-live reporting
        self.last_error = ""
        # per-session state, reset by _session()
        self._fresh: dict[tuple[str, str], float] = {}
        self._first_data: float | None = None
        self._stop: BaseException | None = None
        self._rejected: set[str] = set()
        self._acks = 0  # subscription acknowledgements (and rejections) this session
        self._snapshots: dict[str, asyncio.Task[None]] = {}  # REST snapshots in flight

    async def run(self) -> None:
        venue = self.venue
        while True:
            if not self.breaker.allow_attempt():
                await self._breaker_open()
                continue
            if self.breaker.state is BreakerState.HALF_OPEN:
                venue.status(self.stream, "breaker_half_open", "trying one connection")
            venue.status(self.stream, "connecting", self.spec.url)
            try:
                await self._session()
            except _Rotate:
                _reraise_if_cancelling()
                venue.metrics.inc("reconnects", venue=venue.name, reason="rotate")
                continue
            except VenueError as exc:
                _reraise_if_cancelling()
                await self._failed(exc)
            except BaseException:
                self._mark_outage()
                raise

    async def _failed(self, exc: VenueError) -> None:
        venue = self.venue
        self.last_error = str(exc)
        venue.metrics.inc("reconnects", venue=venue.name, reason=type(exc).__name__)
        self._mark_outage()
        if self.breaker.record_failure() is BreakerState.OPEN:
            await self._breaker_open(str(exc))
            return
        delay = self.backoff.next_delay(exc.retry_after_s)
        venue.metrics.set("backoff_delay_s", delay, venue=venue.name, stream=self.stream)
        venue.status(self.stream, "backoff", str(exc), delay_s=delay)
        await asyncio.sleep(delay)

    async def _breaker_open(self, last_error: str = "") -> None:
        venue = self.venue
        wait = self.breaker.remaining_s()
        reason = f"{venue.policy.breaker_failures} failures within {venue.policy.breaker_window_s}s"
        if last_error:
            reason += f"; last: {last_error}"
        venue.status(self.stream, "breaker_open", reason, delay_s=wait)
        await asyncio.sleep(wait)

    def seconds_not_live(self) -> float:
        """Time without data after failures, closed outages plus the current one."""
        ongoing = 0 if self._outage_start_ms is None else wall_ms() - self._outage_start_ms
        return (self._not_live_ms + max(0, ongoing)) / 1000

    @property
    def last_data_ms(self) -> int | None:
        return self._last_data_ms

    def _mark_outage(self) -> None:
        if self._outage_start_ms is None:
            self._outage_start_ms = self._last_data_ms or wall_ms()
        self._reset_books()

    def _reset_books(self) -> None:
        books = self.venue.books
        if books is not None:
            for instrument in self._book_instruments:
                books.reset(instrument)

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        policy = self.venue.policy
        try:
            async with asyncio.timeout(policy.connect_timeout_s):
                return await self.venue.http.ws_connect(
                    self.spec.url,
                    headers=dict(self.spec.headers),
                    max_msg_size=policy.max_frame_bytes,
                    autoping=True,
                    autoclose=True,
                    heartbeat=policy.heartbeat_interval_s,
                )
        except aiohttp.WSServerHandshakeError as exc:
            retry_after = None
            if exc.headers is not None and "Retry-After" in exc.headers:
                with contextlib.suppress(ValueError):
                    retry_after = float(exc.headers["Retry-After"])
            raise VenueConnectError(
                f"handshake refused: HTTP {exc.status} {exc.message}", retry_after_s=retry_after
            ) from None
        except TimeoutError:
            raise VenueConnectError(
                f"handshake timed out after {policy.connect_timeout_s}s"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise VenueConnectError(f"cannot connect: {type(exc).__name__}: {exc}") from None

    async def _session(self) -> None:
        self._fresh = {}
        self._first_data = None
        self._stop = None
        self._rejected = set()
        self._acks = 0
        self._snapshots = {}
        self._reset_books()
        ws = await self._connect()
        try:
            for message in self.spec.subscribe:
                await _send(ws, encode_json(message))
            try:
                async with asyncio.TaskGroup() as tg:
                    if self.venue.adapter.heartbeat.ping is not None:
                        tg.create_task(self._heartbeat(ws))
                    tg.create_task(self._watchdog(ws))
                    if self.spec.max_lifetime_s is not None:
                        tg.create_task(self._lifetime(ws, self.spec.max_lifetime_s))
                    await self._read(ws, tg)
                    raise self._closed_reason(ws)
            except BaseExceptionGroup as group:
                raise _leaf(group) from None
        finally:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                    await ws.close()

    def _closed_reason(self, ws: aiohttp.ClientWebSocketResponse) -> BaseException:
        if self._stop is not None:
            return self._stop
        exc = ws.exception()
        too_big = aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        if ws.close_code == too_big or (
            isinstance(exc, aiohttp.WebSocketError) and exc.code == too_big
        ):
            self.venue.metrics.inc("frames_too_large", venue=self.venue.name)
            return FrameTooLargeError(f"frame larger than max_frame_bytes: {exc}")
        return VenueClosedError(f"closed by venue (code {ws.close_code}, {exc or 'no error'})")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, tg: asyncio.TaskGroup) -> None:
        venue = self.venue
        adapter = venue.adapter
        metrics = venue.metrics
        name = venue.name
        offer = venue.publisher.offer
        lag = venue.lag.observe_ms
        fresh = self._fresh
        loop_time = self._loop.time
        text, binary = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
        frames = 0
        frames_key = metrics.key("frames", venue=name)
        bump = metrics.bump
        while True:
            msg = await ws.receive()
            if msg.type is not text and msg.type is not binary:
                return  # close, closing, closed or error: _closed_reason() explains
            frames += 1
            bump(frames_key)
            if not frames & _YIELD_EVERY:
                # buffered frames never suspend receive(): let other venues, the
                # watchdog and consumers run during a burst
                await asyncio.sleep(0)
            recv_ms = wall_ms()
            try:
                results = adapter.parse(msg.data, recv_ms)
                check_results(results)
            except ParseError as exc:
                self._bad_frame(exc, msg.data)
                continue
            except RecursionError:
                self._bad_frame(MalformedFrame("nested too deeply"), msg.data)
                continue
            now = loop_time()
            for item in results:
                if isinstance(item, Event):
                    fresh[(item.kind, item.instrument)] = now
                    self._last_data_ms = recv_ms
                    if item.ts_venue is not None:
                        lag(recv_ms - item.ts_venue)
                    if self._first_data is None:
                        self._first_data_seen(now, recv_ms)
                    offer(item)
                elif isinstance(item, BookDelta | BookSnapshot):
                    await self._book(item, recv_ms, now, ws, tg)
                else:
                    await self._control(item, ws)

    def _first_data_seen(self, now: float, recv_ms: int) -> None:
        self._first_data = now
        if self._outage_start_ms is not None:
            gap_start, self._outage_start_ms = self._outage_start_ms, None
            self._not_live_ms += max(0, recv_ms - gap_start)
            self.venue.status(
                self.stream, "recovered", "", gap_start_ms=gap_start, gap_end_ms=recv_ms
            )
        self.venue.status(self.stream, "live", "")

    async def _book(
        self,
        item: BookSnapshot | BookDelta,
        recv_ms: int,
        now: float,
        ws: aiohttp.ClientWebSocketResponse,
        tg: asyncio.TaskGroup,
    ) -> None:
        books = self.venue.books
        assert books is not None
        update: BookUpdate = (
            books.on_snapshot(item, recv_ms)
            if isinstance(item, BookSnapshot)
            else books.on_delta(item, recv_ms)
        )
        if update.buffered:
            # a REST snapshot is being fetched (maybe after a Retry-After): the deltas
            # held for it prove the socket alive, so the watchdog must not recycle it
            self._fresh[("book", item.instrument)] = now
        if update.applied:
            self._fresh[("book", item.instrument)] = now
            self._last_data_ms = recv_ms
            if item.ts_venue is not None:
                self.venue.lag.observe_ms(recv_ms - item.ts_venue)
            if self._first_data is None:
                self._first_data_seen(now, recv_ms)
            offer = self.venue.publisher.offer
            for event in update.events:
                offer(event)
        if update.resync is not None:
            await self._resync(item.instrument, update.resync, ws, tg, initial=update.initial)

    async def _resync(
        self,
        instrument: str,
        reason: str,
        ws: aiohttp.ClientWebSocketResponse,
        tg: asyncio.TaskGroup,
        *,
        initial: bool = False,
    ) -> None:
        venue = self.venue
        adapter = venue.adapter
        if not initial:
            venue.metrics.inc("book_resyncs", venue=venue.name, reason=reason.split(":", 1)[0])
            symbol = venue.symbols.get(instrument, instrument)
            how = adapter.resync.value
            venue.status(
                f"book:{instrument}",
                "resync",
                f"{reason}; {how}",
                symbol=symbol,
                instrument=instrument,
            )
        if adapter.resync is Resync.RESUBSCRIBE:
            for message in adapter.resubscribe_messages(instrument):
                await _send(ws, encode_json(message))
        elif adapter.resync is Resync.REST_SNAPSHOT:
            running = self._snapshots.get(instrument)
            if running is None or running.done():  # at most one fetch per instrument
                self._snapshots[instrument] = tg.create_task(
                    self._fetch_snapshot(instrument, ws, tg)
                )
        else:
            raise ResyncError(f"book {instrument}: {reason}")

    async def _fetch_snapshot(
        self, instrument: str, ws: aiohttp.ClientWebSocketResponse, tg: asyncio.TaskGroup
    ) -> None:
        venue = self.venue
        request = venue.adapter.book_snapshot_request(instrument)
        if request is None:
            raise ResyncError(f"book {instrument}: adapter gives no REST snapshot request")
        backoff = Backoff(venue.policy)
        while True:
            try:
                results = await venue.rest.fetch(request)
                check_results(results)
                break
            except (RestError, ParseError) as exc:
                venue.metrics.inc("rest_failures", venue=venue.name, request=request.name)
                venue.log.log(logging.WARNING, f"snapshot:{instrument}", "%s", exc)
                retry_after = exc.retry_after_s if isinstance(exc, RestError) else None
                await asyncio.sleep(backoff.next_delay(retry_after))
        # done fetching: a break found while applying this snapshot may ask for the next
        self._snapshots.pop(instrument, None)
        now = self._loop.time()
        recv_ms = wall_ms()
        for item in results:
            if isinstance(item, BookSnapshot | BookDelta):
                await self._book(item, recv_ms, now, ws, tg)

    async def _control(self, item: Parsed, ws: aiohttp.ClientWebSocketResponse) -> None:
        venue = self.venue
        if isinstance(item, Reply):
            await _send(ws, encode_json(item.message))
        elif isinstance(item, Pong):
            venue.metrics.inc("pongs", venue=venue.name)
        elif isinstance(item, Ack):
            if item.subscribed:
                self._acks += 1
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s: %s ack %s", venue.name, self.stream, item.detail)
        elif isinstance(item, VenueNotice):
            venue.metrics.inc("venue_errors", venue=venue.name, code=item.code)
            venue.log.log(
                logging.ERROR if item.fatal else logging.WARNING,
                f"notice:{self.stream}:{item.code}:{item.stream}",
                "%s: %s venue error %s: %s%s",
                venue.name,
                self.stream,
                item.code,
                item.message,
                f" (stream {item.stream})" if item.stream else "",
            )
            if item.fatal:
                self._acks += 1  # a rejection is an answer too: the venue heard us
                self._reject(item)

    def _reject(self, notice: VenueNotice) -> None:
        """A rejected subscription: report it as an error instead of waiting on it forever."""
        keys = {s.key for s in self._watched}
        targets = [notice.stream] if notice.stream in keys else []
        if not targets:
            self.venue.status(self.stream, "error", f"venue error {notice.code}: {notice.message}")
            return
        for key in targets:
            if key in self._rejected:
                continue
            self._rejected.add(key)
            instrument = key.split(":", 1)[1]
            self.venue.status(
                key,
                "error",
                f"subscription rejected: {notice.code} {notice.message}",
                symbol=self.venue.symbols.get(instrument, instrument),
                instrument=instrument,
            )

    def _bad_frame(self, exc: ParseError, frame: str | bytes) -> None:
        venue = self.venue
        kind = type(exc).__name__
        venue.metrics.inc("parse_errors", venue=venue.name, kind=kind)
        snippet = frame[:120] if isinstance(frame, str) else f"<{len(frame)} binary bytes>"
        venue.log.log(
            logging.WARNING,
            f"parse:{self.stream}:{kind}",
            "%s: %s %s: %s; frame: %r",
            venue.name,
            self.stream,
            kind,
            exc,
            snippet,
        )

    async def _heartbeat(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        ping = encode_json(self.venue.adapter.heartbeat.ping)
        interval = self.venue.policy.heartbeat_interval_s
        while True:
            await asyncio.sleep(interval)
            await _send(ws, ping)
            self.venue.metrics.inc("pings_sent", venue=self.venue.name)

    async def _lifetime(self, ws: aiohttp.ClientWebSocketResponse, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._stop = _Rotate(f"planned rotation after {seconds}s")
        await ws.close()

    async def _watchdog(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """The session's deadlines: subscription acks, freshness per watched stream (or,
        on a connection whose streams are all quiet, any data within
        `quiet_stale_after_s`), and the backoff reset once stable."""
        venue = self.venue
        policy = venue.policy
        stale_after = policy.stale_after_s
        start = self._loop.time()
        expected = self.spec.acks_expected
        ack_deadline = start + policy.subscribe_timeout_s if expected else None
        stable_done = False
        while True:
            now = self._loop.time()
            wake = now + stale_after
            if ack_deadline is not None:
                if self._acks >= expected:
                    ack_deadline = None
                elif now >= ack_deadline:
                    self._stop = SubscribeTimeoutError(
                        f"{self._acks} of {expected} subscriptions acknowledged within "
                        f"{policy.subscribe_timeout_s}s"
                    )
                    await ws.close()
                    return
                else:
                    wake = min(wake, ack_deadline)
            stale: list[str] = []
            for spec in self._watched:
                if spec.key in self._rejected:
                    continue
                deadline = self._fresh.get((spec.kind, spec.instrument), start) + stale_after
                if deadline <= now:
                    stale.append(spec.key)
                elif deadline < wake:
                    wake = deadline
            if not self._watched:
                # nothing here is expected to be steady, but a socket that a stalled server
                # keeps open with pings answered must not pass for live forever
                quiet = max(self._fresh.values(), default=start) + policy.quiet_stale_after_s
                if quiet <= now:
                    stale.append(self.stream)
                else:
                    wake = min(wake, quiet)
            if stale:
                self._report_stale(stale)
                bound = stale_after if self._watched else policy.quiet_stale_after_s
                self._stop = StaleError(f"no data for {bound}s on {', '.join(stale)}")
                await ws.close()
                return
            if not stable_done and self._first_data is not None:
                stable_at = self._first_data + policy.stable_after_s
                if now >= stable_at:
                    stable_done = True
                    self.backoff.reset()
                    self.breaker.record_success()
                    venue.metrics.set("backoff_delay_s", 0, venue=venue.name, stream=self.stream)
                    continue
                wake = min(wake, stable_at)
            elif not stable_done:
                wake = min(wake, now + min(stale_after, policy.stable_after_s) / 4)
            await asyncio.sleep(max(0.0, wake - self._loop.time()) + 0.001)

    def _report_stale(self, keys: Sequence[str]) -> None:
        venue = self.venue
        venue.metrics.inc("stale", len(keys), venue=venue.name)
        for key in keys:
            instrument = key.split(":", 1)[1] if ":" in key and key != self.stream else "*"
            venue.status(
                key,
                "stale",
                f"no market data for {venue.policy.stale_after_s}s",
                symbol=venue.symbols.get(instrument, instrument),
                instrument=instrument,
            )


def _reraise_if_cancelling() -> None:
    """A task group whose children failed while we were being cancelled reports the
    children's errors and loses the cancellation; restore it so shutdown cannot stall."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _send(ws: aiohttp.ClientWebSocketResponse, text: str) -> None:
    """Send on the socket; a socket closing under us is the venue closing, not a bug."""
    try:
        await ws.send_str(text)
    except (aiohttp.ClientError, ConnectionError) as exc:
        raise VenueClosedError(f"socket closed while sending: {exc}") from None


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
        if not isinstance(exc, VenueError | _Rotate):
            return exc
    return leaves[0]
