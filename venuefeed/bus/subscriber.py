"""Reading the bus back: typed events from NATS JetStream, books arbitrated.

    async with venuefeed.bus.subscribe("nats://127.0.0.1:4222", kinds=["trade", "book"]) as events:
        async for event in events:          # Trade, Book, ... as the engine made them
            ...

One JetStream consumer per stream needed (history: trade, funding, status, gap; state:
book, bbo, mark), filtered on the server by subject (`<prefix>.<kind>.<venue>.<symbol>`).

- `start="now"`: history from now on; `start="start"`: everything the history stream
  still holds. The state stream is always read from each subject's last value, so a
  consumer that starts late gets the whole current board at once, then the updates.
- Without `durable`, each consumer is an *ordered consumer* (nats-py): the client checks
  the consumer sequence, heartbeats detect a lost consumer (a restarted server), and it
  is recreated from the next stream sequence, so nothing is skipped or repeated.
- With `durable=NAME`, the consumers `NAME_history` / `NAME_state` live on the server and
  remember what was acknowledged: a later `subscribe(durable=NAME)` resumes after the
  last event this one handed out (acknowledged in batches and on close; an event handed
  out but not yet acknowledged when the process died comes again). `start` only applies
  when the durable is created.

Duplicates: the server's `Nats-Msg-Id` window already stored each trade once; redelivered
messages are dropped here by stream sequence. State events go through `StateArbiter`
(`venuefeed/bus/arbiter.py`), so a book older than one handed out is never handed out.

The queue between the NATS callbacks and the caller holds `queue_max` events; while it
is full the callbacks wait, and JetStream flow control stops the server from sending
more: a slow reader slows its own delivery, nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Literal

import msgspec

from venuefeed.bus.arbiter import StateArbiter
from venuefeed.bus.connect import connect
from venuefeed.bus.streams import ensure_streams
from venuefeed.bus.wire import ALL_KINDS, HISTORY_KINDS, STATE_KINDS, decode, token
from venuefeed.core.bus_settings import NatsSettings
from venuefeed.core.errors import ConfigError
from venuefeed.core.events import AnyEvent
from venuefeed.core.observe.logs import RateLimitedLog

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

logger = logging.getLogger(__name__)

Start = Literal["start", "now"]

_DURABLE = re.compile(r"^[A-Za-z0-9_-]+$")
#: ack a durable consumer's progress after this many events or this long
_ACK_EVERY = 200
_ACK_AFTER_S = 0.5
_HEARTBEAT_S = 1.0
#: history stored this long before `open()` still counts as "now" (clock and RTT slack)
_CLOCK_SLACK_S = 1.0


class _Closed:
    """End-of-stream marker in the queue."""


_CLOSED = _Closed()


def subscribe(
    url: str,
    *,
    kinds: Iterable[str] | None = None,
    venues: Iterable[str] | None = None,
    symbols: Iterable[str] | None = None,
    start: Start = "now",
    durable: str | None = None,
    settings: NatsSettings | None = None,
    queue_max: int = 10_000,
    arbitrate: bool = True,
) -> BusSubscription:
    """A subscription to the bus at `url`; use it as `async with ... as events`."""
    return BusSubscription(
        url,
        kinds=tuple(kinds) if kinds is not None else ALL_KINDS,
        venues=tuple(venues) if venues is not None else (),
        symbols=tuple(symbols) if symbols is not None else (),
        start=start,
        durable=durable,
        settings=settings or NatsSettings(),
        queue_max=queue_max,
        arbitrate=arbitrate,
    )


class BusSubscription:
    """Typed events from the bus: an async iterator with `get_nowait()` and `close()`
    (the same surface as an engine `Subscription`, so the JSON-lines sink takes either)."""

    def __init__(
        self,
        url: str,
        *,
        kinds: Sequence[str],
        venues: Sequence[str],
        symbols: Sequence[str],
        start: Start,
        durable: str | None,
        settings: NatsSettings,
        queue_max: int,
        arbitrate: bool,
    ) -> None:
        unknown = sorted(set(kinds) - set(ALL_KINDS))
        if unknown or not kinds:
            raise ConfigError(
                f"usage error: kinds {','.join(unknown) or '(none)'}: expected some of "
                f"{','.join(ALL_KINDS)}"
            )
        if start not in ("start", "now"):
            raise ConfigError(f"usage error: start {start!r}: expected start or now")
        if durable is not None and not _DURABLE.match(durable):
            raise ConfigError(
                f"usage error: durable {durable!r}: letters, digits, '-' and '_' only"
            )
        self.url = url
        self.kinds = tuple(kinds)
        self.venues = tuple(venues)
        self.symbols = tuple(symbols)
        self.start = start
        self.durable = durable
        self.settings = settings
        self.arbiter: StateArbiter | None = StateArbiter() if arbitrate else None
        self.received = 0  # messages taken off the bus
        self.redelivered = 0  # dropped as already handed out (stream sequence)
        self.undecodable = 0
        self._queue: asyncio.Queue[tuple[AnyEvent, Msg | None] | _Closed | BaseException] = (
            asyncio.Queue(maxsize=queue_max)
        )
        self._nc: NATS | None = None
        self._subs: list[object] = []
        self._last_seq: dict[str, int] = {}
        self._to_ack: dict[str, Msg] = {}
        self._taken_since_ack = 0
        self._acked_at = time.monotonic()
        self._closed = False
        self._since = 0.0  # wall time of open(): history before it is not "now"
        self._log = RateLimitedLog(logger, window_s=settings.reconnect_wait_s * 60)

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> BusSubscription:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Connect and create the consumers (`BusUnreachableError` if NATS is not there)."""
        self._since = time.time()
        self._nc = await connect(self.url, self.settings, name="venuefeed tail", log=self._log)
        try:
            js = self._nc.jetstream()
            await ensure_streams(js, self.settings, update=False)
            history = [k for k in self.kinds if k in HISTORY_KINDS]
            state = [k for k in self.kinds if k in STATE_KINDS]
            if history:
                await self._consume(js, self.settings.history_stream, history, "history")
            if state:
                await self._consume(js, self.settings.state_stream, state, "state")
        except BaseException:
            await self.aclose()
            raise

    async def _consume(
        self, js: JetStreamContext, stream: str, kinds: list[str], role: str
    ) -> None:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        filters = self.filter_subjects(kinds)
        if role == "state":
            policy = DeliverPolicy.LAST_PER_SUBJECT
        else:
            policy = DeliverPolicy.ALL if self.start == "start" else DeliverPolicy.NEW
        config = ConsumerConfig(filter_subjects=filters) if len(filters) > 1 else None
        if self.durable is None:
            sub = await js.subscribe(
                filters[0],
                stream=stream,
                cb=self._on_msg,
                config=config,
                ordered_consumer=True,
                idle_heartbeat=_HEARTBEAT_S,
                deliver_policy=policy,
            )
        else:
            config = config or ConsumerConfig()
            config.ack_policy = AckPolicy.ALL
            config.max_ack_pending = 50_000
            config.ack_wait = 30.0
            config.idle_heartbeat = _HEARTBEAT_S
            sub = await js.subscribe(
                filters[0],
                stream=stream,
                cb=self._on_msg,
                durable=f"{self.durable}_{role}",
                config=config,
                manual_ack=True,
                deliver_policy=policy,
            )
        self._subs.append(sub)

    def filter_subjects(self, kinds: Sequence[str]) -> list[str]:
        """`<prefix>.<kind>.<venue>.<symbol>` filters; `*` where a dimension is open."""
        prefix = self.settings.subject_prefix
        venues = [token(v) for v in self.venues] or ["*"]
        symbols = [token(s) for s in self.symbols] or ["*"]
        return [f"{prefix}.{k}.{v}.{s}" for k in kinds for v in venues for s in symbols]

    def close(self, error: BaseException | None = None) -> None:
        """Stop handing out events (pending ones are discarded); `aclose()` releases NATS."""
        if self._closed:
            return
        self._closed = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(error if error is not None else _CLOSED)

    async def aclose(self) -> None:
        """Acknowledge what was handed out (durable), unsubscribe and disconnect."""
        self.close()
        nc, self._nc = self._nc, None
        if nc is None:
            return
        try:
            await self._ack_progress()
            await nc.close()
        except Exception as exc:  # the server went away: nothing left to release
            logger.debug("bus subscription close: %r", exc)

    # -- receiving ---------------------------------------------------------------------

    async def _on_msg(self, msg: Msg) -> None:
        """nats-py callback: decode, drop redeliveries and older state, queue (waiting
        while the queue is full, which makes JetStream flow control hold the server)."""
        if self._closed:
            return
        self.received += 1
        try:
            meta = msg.metadata
            stream, seq = meta.stream, meta.sequence.stream
            stored = meta.timestamp.timestamp()
        except Exception:  # not a JetStream message: no stream sequence to track
            stream, seq, stored = "", 0, time.time()
        if seq and seq <= self._last_seq.get(stream, 0):
            self.redelivered += 1
            return
        if (
            self.start == "now"
            and stream == self.settings.history_stream
            and stored < self._since - _CLOCK_SLACK_S
            and self.durable is None
        ):
            # an ordered consumer recreated (server restart) before its first message
            # restarts from sequence 1: history from before "now" is not ours to hand out
            self.redelivered += 1
            return
        try:
            event = decode(msg.data)
        except msgspec.DecodeError as exc:
            self.undecodable += 1
            self._log.log(
                logging.ERROR,
                f"decode:{msg.subject}",
                "bus: undecodable message on %s (%s); skipped",
                msg.subject,
                exc,
            )
            return
        if seq:
            self._last_seq[stream] = seq
        if self.arbiter is not None and not self.arbiter.admit(event):
            if self.durable is not None:
                self._to_ack[stream] = msg  # skipping it is handling it
            return
        await self._queue.put((event, msg if self.durable is not None else None))

    def _taken(self, item: tuple[AnyEvent, Msg | None]) -> AnyEvent:
        event, msg = item
        if msg is not None:
            self._to_ack[msg.metadata.stream] = msg
            self._taken_since_ack += 1
        return event

    async def _ack_progress(self) -> None:
        """Durable: acknowledge (AckPolicy.ALL) the last event handed out per stream."""
        pending, self._to_ack = self._to_ack, {}
        self._taken_since_ack = 0
        self._acked_at = time.monotonic()
        for msg in pending.values():
            await msg.ack()

    def __aiter__(self) -> BusSubscription:
        return self

    async def __anext__(self) -> AnyEvent:
        if self._to_ack and (
            self._taken_since_ack >= _ACK_EVERY or time.monotonic() - self._acked_at > _ACK_AFTER_S
        ):
            await self._ack_progress()
        while True:
            item = await self._queue.get()
            if isinstance(item, _Closed):
                self._queue.put_nowait(item)  # every later call ends too
                raise StopAsyncIteration
            if isinstance(item, BaseException):
                self._queue.put_nowait(_CLOSED)
                raise item
            if not self._closed:  # a callback that was waiting when close() ran
                return self._taken(item)

    def get_nowait(self) -> AnyEvent | None:
        """The next event if one waits, else None (for sinks that write in batches)."""
        if self._queue.empty() or self._closed:
            return None
        item = self._queue.get_nowait()
        if isinstance(item, _Closed | BaseException):
            self._queue.put_nowait(item)
            return None
        return self._taken(item)

    @property
    def depth(self) -> int:
        return self._queue.qsize()
