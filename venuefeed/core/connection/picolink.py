"""The websocket on picows: frames handed over by callback, one batch per socket read.

aiohttp hands a reader one message per `await ws.receive()`; at delta-feed rates that
await, its future and the message tuple cost more than decoding the frame (measured in
`make bench`'s probe, 344-byte Lighter deltas over loopback: aiohttp receive 1.66 us a
frame, picows 0.76 us). picows parses the websocket frames of each socket read in C and
calls `on_ws_frame` for each, synchronously; `_Listener` keeps their payloads and wakes
the read loop, which runs once the read is handed over: a batch is what the read brought,
with no await per frame. aiohttp keeps its role for REST, the simulator and the HTTP endpoints
(and is the other `ws_client`).

What aiohttp did for us and picows leaves to its user is done here:
- fragmented messages are joined (a continuation without a start, or a new message
  inside one, is a protocol error), their total size bounded like a single frame;
- a text message that is not UTF-8 ends the session (close 1007), as aiohttp does;
- the venue's close frame is answered, then the socket dropped;
- flow control: past `MAX_WAITING` frames not yet taken, the socket stops being read
  until the read loop has taken half of them, so a stalled loop cannot fill memory.

Pings are answered by picows (`enable_auto_pong`); the websocket heartbeat is picows'
auto-ping: a ping after `heartbeat_interval_s` without data, the socket dropped when
nothing (a pong or any frame: aiohttp's `heartbeat` rule) follows within half of it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Sequence
from typing import Any

from picows import (
    WSAutoPingStrategy,
    WSCloseCode,
    WSError,
    WSFrame,
    WSHandshakeError,
    WSListener,
    WSMsgType,
    WSProtocolError,
    WSTransport,
    ws_connect,
)

from venuefeed.core.adapter import ConnectionSpec
from venuefeed.core.codec import encode_message
from venuefeed.core.connection.link import (
    BATCH_MAX,
    Frame,
    batch_stamp,
    handshake_refused,
    handshake_timed_out,
    told_to_tap,
)
from venuefeed.core.errors import (
    FrameTooLargeError,
    VenueClosedError,
    VenueConnectError,
    VenueError,
)
from venuefeed.core.settings import Policy
from venuefeed.core.transport.pools import USER_AGENT
from venuefeed.core.transport.tap import Tap

#: frames read and not yet taken before the socket stops being read
MAX_WAITING = 8 * BATCH_MAX
_CLOSE_TIMEOUT_S = 0.5
#: picows logs each connect and disconnect at INFO under "picows.<name>"; ours say more
logging.getLogger("picows").setLevel(logging.WARNING)
#: picows' lines that say at ERROR what `PicowsLink.ended()` says, with the venue, as the
#: session's warning: a venue's protocol error (a frame too large, bad UTF-8) is one line
_SAID_BY_THE_LINK = ("WS parser error", "on_ws_frame raised WSProtocolError")


class _PicowsLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """picows' own log (`logger_name` takes an adapter): what the link reports itself
    drops to DEBUG; anything else, an exception in our listener above all, is kept."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level >= logging.ERROR and isinstance(msg, str) and msg.startswith(_SAID_BY_THE_LINK):
            level = logging.DEBUG
        super().log(level, msg, *args, **kwargs)


_LOG = _PicowsLog(logging.getLogger("picows.venuefeed"), {})

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE


class _Listener(WSListener):
    """Collects one socket's data frames between two `take()`s."""

    def __init__(self, max_message_bytes: int) -> None:
        super().__init__()
        self.frames: list[Frame] = []
        self._head = 0  # frames before it were taken
        self.waiter: asyncio.Future[None] | None = None
        self.transport: WSTransport | None = None
        self.disconnected = False
        self._max = max_message_bytes
        self._parts: list[bytes] = []
        self._part_type: WSMsgType | None = None
        self._part_bytes = 0
        self._paused = False
        self._ping_out = False  # picows' heartbeat ping awaits its answer

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def send_user_specific_ping(self, transport: WSTransport) -> None:
        self._ping_out = True
        transport.send_ping()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.payload_size > self._max:
            # picows refused it at its header (close 1009, the socket dropped 10 ms
            # later), but reads on meanwhile and may complete it: never hand it over
            return
        if self._ping_out:  # any frame after our ping proves the link, like a pong
            self._ping_out = False
            transport.notify_user_specific_pong_received()
        msg_type = frame.msg_type
        if frame.fin and self._part_type is None:
            if msg_type is _TEXT:
                try:
                    self.frames.append(frame.get_payload_as_utf8_text())
                except UnicodeDecodeError:
                    raise _not_utf8() from None
            elif msg_type is _BINARY:
                self.frames.append(frame.get_payload_as_bytes())
            elif msg_type is _CLOSE:
                # the venue's close (answered), or its answer to ours: either way, done
                if not transport.is_close_frame_sent:
                    transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()
            elif msg_type is _CONTINUATION:
                raise WSProtocolError(WSCloseCode.PROTOCOL_ERROR, "continuation without a start")
            # a pong (ours are picows' own) or an unsolicited one: nothing to keep
        else:
            self._fragment(msg_type, frame)
        # woken at the first frame, the read loop runs once this whole read is handed
        # over (a callback cannot be interrupted): the batch is still the whole read.
        # Not at `last_in_buffer`: that frame may be a pong picows keeps to itself.
        if self.waiter is not None:
            self._wake()
        if not self._paused and len(self.frames) - self._head >= MAX_WAITING:
            self._paused = True
            transport.underlying_transport.pause_reading()
            self._wake()

    def _fragment(self, msg_type: WSMsgType, frame: WSFrame) -> None:
        """A part of a fragmented message (RFC 6455 5.4); control frames may come between."""
        if msg_type in (_TEXT, _BINARY):
            if self._part_type is not None:
                raise WSProtocolError(WSCloseCode.PROTOCOL_ERROR, "a new message inside one")
            self._part_type = msg_type
        elif msg_type is not _CONTINUATION:
            # a control frame inside a fragmented message: never fragmented itself
            if msg_type is _CLOSE:
                self._part_type = None
                self._parts.clear()
                transport = self.transport
                assert transport is not None
                if not transport.is_close_frame_sent:
                    transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()
            return
        elif self._part_type is None:
            raise WSProtocolError(WSCloseCode.PROTOCOL_ERROR, "continuation without a start")
        part = frame.get_payload_as_bytes()
        self._part_bytes += len(part)
        if self._part_bytes > self._max:
            raise WSProtocolError(
                WSCloseCode.MESSAGE_TOO_BIG, f"message larger than {self._max} bytes"
            )
        self._parts.append(part)
        if frame.fin:
            whole = b"".join(self._parts)
            self.frames.append(_text(whole) if self._part_type is _TEXT else whole)
            self._parts.clear()
            self._part_type = None
            self._part_bytes = 0

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.disconnected = True
        self._wake()

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def waiting(self) -> int:
        return len(self.frames) - self._head

    def take(self, limit: int) -> list[Frame]:
        """Up to `limit` frames, oldest first. The rest stay where they are (a read
        position moves), so a large read costs one copy of each frame's reference, not
        one of the whole remainder per batch."""
        frames, head = self.frames, self._head
        if head == 0 and len(frames) <= limit:
            self.frames = []
            out = frames
        else:
            out = frames[head : head + limit]
            head += len(out)
            if head >= len(frames):
                self.frames, head = [], 0
            self._head = head
        if self._paused and self.waiting() <= MAX_WAITING // 2 and self.transport is not None:
            self._paused = False
            self.transport.underlying_transport.resume_reading()
        return out


def _not_utf8() -> WSProtocolError:
    return WSProtocolError(WSCloseCode.INVALID_TEXT, "a text message is not UTF-8")


def _text(payload: bytes) -> str:
    try:
        return payload.decode()
    except UnicodeDecodeError:
        raise _not_utf8() from None


class PicowsLink:
    """One open websocket of a connection session, on picows."""

    def __init__(
        self,
        transport: WSTransport,
        listener: _Listener,
        max_frame_bytes: int,
        *,
        tap: Tap | None = None,
        conn: str = "",
    ) -> None:
        self._transport = transport
        self._listener = listener
        self.max_frame_bytes = max_frame_bytes
        self._tap = tap
        self._conn = conn
        self._loop = asyncio.get_running_loop()

    @classmethod
    async def open(
        cls, spec: ConnectionSpec, policy: Policy, tls: ssl.SSLContext, tap: Tap | None = None
    ) -> PicowsLink:
        """Handshake within `connect_timeout_s`; failures as `VenueConnectError`."""
        return await told_to_tap(cls._open(spec, policy, tls, tap), spec, tap)

    @classmethod
    async def _open(
        cls, spec: ConnectionSpec, policy: Policy, tls: ssl.SSLContext, tap: Tap | None
    ) -> PicowsLink:
        limit = policy.max_frame_bytes
        heartbeat = policy.heartbeat_interval_s
        try:
            async with asyncio.timeout(policy.connect_timeout_s):
                transport, listener = await ws_connect(
                    lambda: _Listener(limit),
                    spec.url,
                    ssl_context=tls if spec.url.startswith("wss:") else None,
                    websocket_handshake_timeout=policy.connect_timeout_s,
                    logger_name=_LOG,
                    enable_auto_ping=True,
                    auto_ping_idle_timeout=heartbeat,
                    auto_ping_reply_timeout=heartbeat / 2,
                    auto_ping_strategy=WSAutoPingStrategy.PING_WHEN_IDLE,
                    enable_auto_pong=True,
                    max_frame_size=limit,
                    extra_headers={"User-Agent": USER_AGENT, **dict(spec.headers)},
                    use_aiofastnet=False,
                )
        except WSHandshakeError as exc:
            response = exc.response
            if response is None:
                raise VenueConnectError(f"handshake failed: {exc}") from None
            status = response.status
            raise handshake_refused(int(status), status.phrase, response.headers) from None
        except TimeoutError:
            raise handshake_timed_out(policy) from None
        except (OSError, WSError) as exc:  # ssl.SSLError is an OSError
            raise VenueConnectError(f"cannot connect: {type(exc).__name__}: {exc}") from None
        assert isinstance(listener, _Listener)
        return cls(transport, listener, limit, tap=tap, conn=spec.name)

    async def next_batch(self) -> tuple[list[Frame], bool]:
        listener = self._listener
        while not listener.waiting():
            if listener.disconnected:
                return [], True
            waiter = listener.waiter = self._loop.create_future()
            try:
                await waiter
            finally:
                listener.waiter = None
        frames = listener.take(BATCH_MAX)
        return frames, listener.disconnected and not listener.waiting()

    def data_ready(self) -> bool:
        return self._listener.waiting() > 0

    def taken(self, frames: Sequence[str | bytes]) -> int:
        return batch_stamp(self._tap, self._conn, frames)

    async def send(self, message: Any) -> None:
        text = encode_message(message)
        if self._tap is not None:
            self._tap.sent(self._conn, text, time.time_ns())
        transport = self._transport
        if transport.is_disconnected or transport.is_close_frame_sent:
            raise VenueClosedError("socket closed while sending")
        transport.send(_TEXT, text.encode())

    async def close(self) -> None:
        """The closing handshake, bounded: our close frame, the venue's answer (the
        listener then drops the socket), or after `_CLOSE_TIMEOUT_S` the socket dropped
        anyway. Waiting for the end also collects the error picows keeps for a session
        it ended (a protocol error): `ended()` reports it, nothing else awaits it."""
        transport = self._transport
        if not transport.is_disconnected and not transport.is_close_frame_sent:
            transport.send_close(WSCloseCode.OK)
        for _ in range(2):  # the answer, else a drop
            try:
                async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                    await transport.wait_disconnected()
                break
            except TimeoutError:
                transport.disconnect(graceful=False)
            except (WSError, OSError):
                break  # ended by an error picows recorded: `ended()` says which
        self._listener.disconnected = True
        self._listener._wake()

    async def finish(self, reason: BaseException | None) -> None:
        await self.close()
        if self._tap is not None:
            self._tap.closed(self._conn, reason, time.time_ns())

    def ended(self) -> VenueError:
        """Why the read loop stopped: the venue's close, ours (a protocol error, a frame
        too large, a heartbeat without pong), or the connection dropped."""
        handshake = self._transport.close_handshake
        received = handshake.recv if handshake is not None else None
        sent = handshake.sent if handshake is not None else None
        too_big = WSCloseCode.MESSAGE_TOO_BIG
        if (sent is not None and sent.code == too_big) or (
            received is not None and received.code == too_big
        ):
            return FrameTooLargeError(
                f"frame larger than max_frame_bytes ({self.max_frame_bytes} bytes)"
            )
        if received is not None and (sent is None or handshake.recv_then_sent):
            return VenueClosedError(
                f"closed by venue (code {_code(received.code)}, {received.reason or 'no reason'})"
            )
        if sent is not None:  # ours first: a protocol error, a heartbeat without pong
            return VenueClosedError(
                f"closed (code {_code(sent.code)}: {sent.reason or 'no reason'})"
            )
        return VenueClosedError("closed by venue (code 1006, connection lost)")


def _code(code: Any) -> int:
    return int(getattr(code, "value", code))
