"""NATS JetStream sink: every event onto the bus, without ever making the engine wait.

The sink is one more engine consumer (`engine.events(policy="gap")`): the socket readers
hand it events like any other consumer and go back to their sockets. Subjects, payload
(msgspec JSON, the JSON-lines format) and `Nats-Msg-Id`s are in `venuefeed/bus/wire.py`;
the two streams (history, state) in `venuefeed/bus/streams.py`.

Publishing
    A JetStream publish is a NATS message with a reply subject; the server stores it and
    answers with an ack (stream sequence, `duplicate` when it dropped it by its
    `Nats-Msg-Id`). At most `max_in_flight` messages wait for their ack. The acks come
    back on one wildcard inbox subscription and settle messages by their number. We do
    this ourselves rather than with nats-py's `publish_async`, whose futures have no
    timeout and stay pending (holding a slot) when a send fails mid-reconnect.

    A message not acknowledged within `ack_timeout_s`, or answered "no responders" (no
    stream, JetStream restarting) or "duplicate message id is in process" (a clustered
    stream still replicating another engine's copy), is sent again together with every
    unacknowledged message after it, in order. Sending again is safe for history: the
    server drops the copy by its id. A state message sent twice just replaces itself.

While NATS is unreachable
    Nothing is sent, and the sink stops taking events from its subscription. That
    subscription *is* the buffer: up to `[engine.nats] queue_max` history events plus
    the latest value per state key (the books conflate). Past that the publisher drops
    the oldest history events and puts a `Gap` where they were; the sink publishes those
    gaps, with `reason="bus_unreachable"` when they were dropped during an outage (or
    while its backlog drained afterwards), so bus consumers see exactly what is missing.
    The drops are counted (`nats_dropped`) and logged (the publisher logs the drop, the
    sink one line per outage with the totals). On reconnect the streams are checked (a
    memory-storage server may have lost them), unacknowledged messages are sent again,
    and the backlog follows.

Metrics (`engine.metrics`, exported as venuefeed_nats_*): `nats_published{kind}` (sent
for the first time), `nats_acked{kind}` (stored), `nats_duplicates{kind}` (the server
already had it: another engine's copy, or ours whose ack was lost), `nats_buffered`
(events held through an outage), `nats_dropped{reason}`, `nats_retransmits`,
`nats_rejected{kind}` (refused by the server for good, e.g. too large). `health()` feeds
`/readyz`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import socket
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

import msgspec

from venuefeed.bus.connect import connect
from venuefeed.bus.streams import StreamsUnansweredError, ensure_streams
from venuefeed.bus.url import servers
from venuefeed.bus.wire import ENGINE_HEADER, MSG_ID_HEADER, encode, message_id, subject
from venuefeed.core.bus_settings import NatsSettings
from venuefeed.core.events import Event, Gap, Status
from venuefeed.core.observe.logs import RateLimitedLog
from venuefeed.core.observe.metrics import Labels, Metrics
from venuefeed.core.publishing.publisher import Subscription

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS
    from nats.aio.msg import Msg

    from venuefeed.core.engine import Engine

logger = logging.getLogger(__name__)

#: how long a stopping sink may spend publishing what it holds and awaiting the acks
FLUSH_ON_STOP_S = 1.0
#: a "no responders" answer is retried after this long (JetStream restarting)
_RETRY_NO_RESPONDERS_S = 0.25
#: JetStream's "duplicate message id is in process" (409): on a clustered stream another
#: copy with the same Nats-Msg-Id (the other engine's) is still being replicated. Not a
#: refusal: asked again, the server answers a duplicate ack once that copy is stored, or
#: stores ours if it was lost (its engine died, a leader changed). Dropping ours here
#: would lose the trade whenever the other copy never lands.
_IN_PROCESS = 10158


class _Ack(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: dict[str, object] | None = None


class _Pending:
    """One message taken from the subscription and not yet settled by the server."""

    __slots__ = ("due", "headers", "kind", "payload", "sent", "subject")

    def __init__(self, subject: str, payload: bytes, headers: dict[str, str] | None, kind: str):
        self.subject = subject
        self.payload = payload
        self.headers = headers
        self.kind = kind
        self.sent = False  # sent at least once (counted as published)
        self.due = 0.0  # monotonic time after which it is sent (again); 0: send now


def default_engine_id() -> str:
    """This engine process, for engine-specific message ids and the engine header."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


class NatsSink:
    def __init__(
        self,
        url: str,
        settings: NatsSettings,
        metrics: Metrics,
        *,
        engine_id: str | None = None,
        log_repeat_s: float = 30.0,
    ) -> None:
        self.url = url
        self.settings = settings
        self.metrics = metrics
        self.engine_id = engine_id or default_engine_id()
        self.name = "nats:" + ",".join(u.partition("://")[2] for u in servers(url))
        self._log = RateLimitedLog(logger, window_s=log_repeat_s)
        self._prefix = settings.subject_prefix
        self._nc: NATS | None = None
        self._inbox = ""
        self._unacked: OrderedDict[int, _Pending] = OrderedDict()
        self._fresh: list[int] = []  # taken, not yet sent, in order
        self._numbers = itertools.count(1)
        self._open = asyncio.Event()  # connected, streams checked, retransmits queued
        self._room = asyncio.Event()  # fewer than max_in_flight unacknowledged
        self._room.set()
        self._settled = asyncio.Event()  # nothing unacknowledged
        self._settled.set()
        self._link = asyncio.Event()  # the connection went down or came back
        self._events: Subscription | None = None
        self._down_since: float | None = None  # monotonic
        self._down_dropped = 0  # the subscription's drop count when the outage began
        self._outage_backlog = False  # dropped now = dropped because of an outage
        self._keys: dict[tuple[str, str], tuple[str, Labels]] = {}
        self._stopping = False
        #: the streams still need checking after a check that got no answer
        self._recheck = False

    # -- wiring ------------------------------------------------------------------------

    def attach(self, engine: Engine) -> Subscription:
        """Register with the engine: a `gap`-policy consumer of `queue_max` history events,
        and a readiness check for /readyz."""
        engine.readiness_checks[self.name] = self.health
        return engine.events(self.name, self.settings.queue_max, policy="gap")

    async def start(self) -> None:
        """Connect and check the streams; `BusUnreachableError`/`StartupError` if not."""
        nc = await connect(
            self.url,
            self.settings,
            name=f"venuefeed {self.engine_id}",
            log=self._log,
            disconnected=self._on_disconnected,
            reconnected=self._on_reconnected,
        )
        self._nc = nc
        try:
            await ensure_streams(nc.jetstream(), self.settings, update=True)
            self._inbox = nc.new_inbox()
            await nc.subscribe(f"{self._inbox}.*", cb=self._on_reply)
        except BaseException:
            self._stopping = True
            await nc.close()
            self._nc = None
            raise
        self._open.set()
        logger.info(
            "nats: publishing to %s as engine %s (streams %s, %s)",
            self.url,
            self.engine_id,
            self.settings.history_stream,
            self.settings.state_stream,
        )

    def health(self) -> tuple[bool, str]:
        """(ready, detail) for /readyz: ready while connected and publishing."""
        if self._nc is None:
            return False, "not connected"
        buffered = len(self._unacked) + (self._events.depth if self._events else 0)
        if self._down_since is not None:
            down_s = time.monotonic() - self._down_since
            return False, (
                f"unreachable for {down_s:.1f}s; {buffered} events buffered, "
                f"{self._dropped_since_down()} dropped"
            )
        if not self._open.is_set():
            return False, "reconnected, checking streams"
        return True, f"publishing ({len(self._unacked)} awaiting ack)"

    # -- the task ----------------------------------------------------------------------

    async def run(self, events: Subscription) -> None:
        """Publish until cancelled; then, within FLUSH_ON_STOP_S, what is still held."""
        if self._nc is None:
            await self.start()
        self._events = events
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._publish_loop(events), name=f"{self.name}/publish")
                tg.create_task(self._resend_loop(), name=f"{self.name}/resend")
                tg.create_task(self._link_loop(), name=f"{self.name}/link")
        finally:
            await self._stop(events)

    async def _publish_loop(self, events: Subscription) -> None:
        max_in_flight = self.settings.max_in_flight
        while True:
            await self._open.wait()
            await self._room.wait()
            event = await anext(events, None)
            if event is None:
                return
            self._take(event)
            while len(self._unacked) < max_in_flight:
                more = events.get_nowait()
                if more is None:
                    break
                self._take(more)
            fresh, self._fresh = self._fresh, []
            await self._send(fresh)
            if events.depth == 0 and self._down_since is None:
                self._outage_backlog = False  # caught up after the outage

    def _take(self, event: Event) -> None:
        if isinstance(event, Gap) and event.reason == "consumer_behind":
            event = self._own_gap(event)
        n = next(self._numbers)
        headers: dict[str, str] | None = None
        msg_id = message_id(event, self.engine_id, n)
        if msg_id is not None:
            headers = {MSG_ID_HEADER: msg_id}
            if isinstance(event, Status | Gap):
                headers[ENGINE_HEADER] = self.engine_id
        topic = subject(self._prefix, event)
        self._unacked[n] = _Pending(topic, encode(event), headers, event.kind)
        self._fresh.append(n)
        self._settled.clear()
        if len(self._unacked) >= self.settings.max_in_flight:
            self._room.clear()

    def _own_gap(self, gap: Gap) -> Gap:
        """A gap our own subscription made: events this sink could not publish in time."""
        reason = "bus_unreachable" if self._outage_backlog else "consumer_behind"
        self.metrics.inc("nats_dropped", gap.count or 0, sink=self.name, reason=reason)
        if reason == "bus_unreachable":
            return msgspec.structs.replace(gap, reason="bus_unreachable")
        return gap

    async def _send(self, numbers: list[int]) -> None:
        """Send, in order, those of `numbers` that are unacknowledged and due. One not sent
        (the connection went away) stays due: the resend loop or a reconnect sends it."""
        nc = self._nc
        if nc is None or not numbers or not self._open.is_set():
            return
        now = time.monotonic()
        deadline = now + self.settings.ack_timeout_s
        unacked = self._unacked
        for n in numbers:
            pending = unacked.get(n)
            if pending is None or pending.due > now:
                continue
            if not nc.is_connected:
                return
            try:
                await nc.publish(
                    pending.subject,
                    pending.payload,
                    reply=f"{self._inbox}.{n}",
                    headers=pending.headers,
                )
            except Exception as exc:  # nats.errors.*: the connection went away mid-send
                self._log.log(
                    logging.WARNING, f"send:{self.url}", "nats %s: send failed: %r", self.url, exc
                )
                return
            if pending.sent:
                self.metrics.inc("nats_retransmits", sink=self.name)
            else:
                pending.sent = True
                self.metrics.bump(self._key("nats_published", pending.kind))
            pending.due = deadline

    async def _send_due(self) -> None:
        """Send every unacknowledged message that is due, in order (the rare path)."""
        await self._send(list(self._unacked))

    async def _resend_loop(self) -> None:
        """Send again what the server did not acknowledge in time (or asked us to)."""
        period = min(0.25, self.settings.ack_timeout_s / 4)
        while True:
            await asyncio.sleep(period)
            if not self._unacked or not self._open.is_set():
                continue
            now = time.monotonic()
            first = next(iter(self._unacked.values()))
            late = [p for p in self._unacked.values() if p.due <= now]
            if not late:
                continue
            if first.due <= now and first.sent:
                self._log.log(
                    logging.WARNING,
                    f"ack-timeout:{self.url}",
                    "nats %s: %d messages not acknowledged in %.1fs; sending them again",
                    self.url,
                    len(self._unacked),
                    self.settings.ack_timeout_s,
                )
            # go back to the first late one: what follows it is sent again too, in order
            started = False
            for pending in self._unacked.values():
                started = started or pending.due <= now
                if started:
                    pending.due = 0.0
            await self._send_due()

    # -- acks --------------------------------------------------------------------------

    async def _on_reply(self, msg: Msg) -> None:
        try:
            n = int(msg.subject.rpartition(".")[2])
        except ValueError:
            self._log.log(
                logging.WARNING,
                f"reply:{self.url}",
                "nats %s: stray reply on %s",
                self.url,
                msg.subject,
            )
            return
        pending = self._unacked.get(n)
        if pending is None:
            return  # the ack of a copy already settled
        headers = msg.headers or {}
        if headers.get("Status") == "503" or not msg.data:
            pending.due = time.monotonic() + _RETRY_NO_RESPONDERS_S  # no stream (yet)
            self._log.log(
                logging.WARNING,
                f"no-responders:{self.url}",
                "nats %s: no JetStream stream answered for %s; retrying",
                self.url,
                pending.subject,
            )
            return
        try:
            ack = msgspec.json.decode(msg.data, type=_Ack)
        except msgspec.DecodeError:
            ack = _Ack(error={"description": f"undecodable ack {msg.data[:80]!r}"})
        if ack.error is not None:
            code = ack.error.get("code")
            # 503: JetStream temporarily unavailable. 10158: not a refusal, see _IN_PROCESS
            if code == 503 or ack.error.get("err_code") == _IN_PROCESS:
                pending.due = time.monotonic() + _RETRY_NO_RESPONDERS_S
                return
            self.metrics.inc("nats_rejected", sink=self.name, kind=pending.kind)
            self._log.log(
                logging.ERROR,
                f"rejected:{self.url}:{pending.kind}",
                "nats %s: server refused a %s message on %s (%s); dropped",
                self.url,
                pending.kind,
                pending.subject,
                ack.error.get("description", ack.error),
            )
        elif ack.duplicate:
            self.metrics.bump(self._key("nats_duplicates", pending.kind))
        else:
            self.metrics.bump(self._key("nats_acked", pending.kind))
        del self._unacked[n]
        if len(self._unacked) < self.settings.max_in_flight:
            self._room.set()
        if not self._unacked:
            self._settled.set()

    def _key(self, name: str, kind: str) -> tuple[str, Labels]:
        key = self._keys.get((name, kind))
        if key is None:
            key = self._keys[(name, kind)] = self.metrics.key(name, sink=self.name, kind=kind)
        return key

    # -- connection changes ------------------------------------------------------------

    async def _on_disconnected(self) -> None:
        if self._stopping:
            return
        if self._down_since is None:
            self._down_since = time.monotonic()
            self._down_dropped = self._events.dropped if self._events else 0
            self._outage_backlog = True
            self._open.clear()
            logger.warning(
                "nats %s unreachable: buffering (up to %d history events, then the oldest "
                "are dropped and a gap published); the venues are not affected",
                self.url,
                self.settings.queue_max,
            )
        self._link.set()

    async def _on_reconnected(self) -> None:
        self._link.set()

    async def _link_loop(self) -> None:
        """After a reconnect: check the streams, then resume (resending what is unacked).

        A check that gets no answer (a cluster electing a JetStream leader after losing
        the node we were on: seconds) does not hold publishing back: publishes are
        answered by the stream's own leader, unanswered ones are sent again, and the
        check is repeated until it passes. Any other failure holds publishing until a
        check passes."""
        while True:
            await self._link.wait()
            self._link.clear()
            nc = self._nc
            if nc is None or not nc.is_connected:
                continue
            if self._down_since is None and not self._recheck:
                continue
            try:
                async with asyncio.timeout(self.settings.connect_timeout_s):
                    await ensure_streams(nc.jetstream(), self.settings, update=True)
                self._recheck = False
            except (TimeoutError, StreamsUnansweredError) as exc:
                self._recheck = True
                self._log.log(
                    logging.WARNING,
                    f"streams:{self.url}",
                    "nats %s: the streams could not be checked (%s); publishing on, checking again",
                    self.url,
                    str(exc) or f"no answer within {self.settings.connect_timeout_s:g}s",
                )
            except Exception as exc:  # the server refused the check: try again shortly
                self._log.log(
                    logging.WARNING,
                    f"streams:{self.url}",
                    "nats %s: reconnected, but the streams could not be checked (%s); retrying",
                    self.url,
                    exc,
                )
                await asyncio.sleep(self.settings.reconnect_wait_s)
                self._link.set()
                continue
            if self._down_since is not None:
                await self._resume()
            if self._recheck:
                await asyncio.sleep(self.settings.reconnect_wait_s)
                self._link.set()

    async def _resume(self) -> None:
        """The outage is over: say what it cost, resend what is unacked, publish on."""
        assert self._down_since is not None
        down_s = time.monotonic() - self._down_since
        buffered = len(self._unacked) + (self._events.depth if self._events else 0)
        dropped = self._dropped_since_down()
        self.metrics.inc("nats_buffered", buffered, sink=self.name)
        self._down_since = None
        for pending in self._unacked.values():
            pending.due = 0.0
        self._open.set()
        logger.log(
            logging.ERROR if dropped else logging.WARNING,
            "nats %s reachable again after %.1fs: %d events were buffered, %d dropped%s",
            self.url,
            down_s,
            buffered,
            dropped,
            " (gap events say which)" if dropped else "",
        )
        await self._send_due()

    def _dropped_since_down(self) -> int:
        return (self._events.dropped if self._events else 0) - self._down_dropped

    # -- stop --------------------------------------------------------------------------

    async def _stop(self, events: Subscription) -> None:
        """Publish what is held and await the acks, within FLUSH_ON_STOP_S; then close."""
        nc = self._nc
        if nc is None:
            return
        with contextlib.suppress(TimeoutError):  # what is left is reported below
            async with asyncio.timeout(FLUSH_ON_STOP_S):
                if self._open.is_set() and nc.is_connected:
                    while len(self._unacked) < self.settings.max_in_flight:
                        event = events.get_nowait()
                        if event is None:
                            break
                        self._take(event)
                    self._fresh.clear()
                    await self._send_due()
                    await self._settled.wait()
        left = len(self._unacked) + events.depth
        if left:
            logger.warning(
                "nats %s: stopping with %d events not acknowledged by the bus", self.url, left
            )
        self._nc = None
        self._stopping = True
        try:
            await nc.close()
        except Exception as exc:  # the process is stopping; nothing else depends on it
            logger.debug("nats %s: close: %r", self.url, exc)

    @property
    def unacknowledged(self) -> int:
        return len(self._unacked)
