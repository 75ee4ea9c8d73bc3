"""The websocket itself: open it, receive and send on it, close it, and say why it ended.

Every aiohttp exception is translated here, once, into a `VenueError` naming what went
wrong (a refused handshake carries the venue's `Retry-After`), so the session loop
handles one family of errors and nothing else touches the socket's API.

`Link` is what a session needs from its socket: batches of frames (`next_batch`), sends,
a close and why it ended. `WsLink` is the live one on aiohttp, `PicowsLink`
(picolink.py) the live one on picows (the default, `ws_client`); a replay
(`venuefeed/record/`) plugs in a link that yields recorded frames instead. A live link
with a `Tap` tells the recorder its handshake (`told_to_tap`), every frame the read loop
takes (`taken` = `batch_stamp`: one stamp per batch, the receive time the frames' events
carry) and every frame it sends; without a tap `taken` is `wall_ms`: no cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import aiohttp

from venuefeed.core.adapter import ConnectionSpec
from venuefeed.core.clock import wall_ms
from venuefeed.core.codec import encode_message
from venuefeed.core.errors import (
    FrameTooLargeError,
    VenueClosedError,
    VenueConnectError,
    VenueError,
)
from venuefeed.core.retry import retry_after_s
from venuefeed.core.settings import Policy
from venuefeed.core.transport.tap import Tap

_CLOSE_TIMEOUT_S = 0.5
_DATA_TYPES = (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)

Frame = str | bytes
#: frames taken from the socket per batch; past this the read loop yields to other tasks
BATCH_MAX = 128

#: what a part of a session may do with its socket: send a message (`Link.send`)
Send = Callable[[Any], Awaitable[None]]


class Rotation(Exception):
    """The connection reached its planned lifetime; reopen without counting a failure."""


async def next_batch(
    receive: Callable[[], Awaitable[Any]], ready: Callable[[], bool], limit: int = BATCH_MAX
) -> tuple[list[Frame], bool]:
    """The next frame (awaited) and the data frames already buffered behind it, up to
    `limit`; True when the socket ended (a close, closing or error message) after these
    frames. `ready()` says a data frame is next in the buffer (`data_ready`), so a batch
    never waits on the network once it holds a frame. For a link whose library hands
    over messages one `receive()` at a time (aiohttp, a replay)."""
    msg = await receive()
    if msg.type not in _DATA_TYPES:
        return [], True
    frames: list[Frame] = [msg.data]
    while len(frames) < limit and ready():
        msg = await receive()  # a data frame is buffered: returns without suspending
        if msg.type not in _DATA_TYPES:
            return frames, True
        frames.append(msg.data)
    return frames, False


def batch_stamp(tap: Tap | None, conn: str, frames: Sequence[str | bytes]) -> int:
    """A live link's `taken`: one stamp per batch (the frames left the socket together),
    and with a tap each frame recorded with it, so that a replay gives the same ts_recv."""
    if tap is None:
        return wall_ms()
    ns = time.time_ns()
    for frame in frames:
        tap.received(conn, frame, ns)
    return ns // 1_000_000


def handshake_refused(status: int, reason: str, headers: Any) -> VenueConnectError:
    """The venue answered the upgrade with an HTTP error: said alike by both clients,
    with its `Retry-After` for the retry model."""
    return VenueConnectError(
        f"handshake refused: HTTP {status} {reason}", retry_after_s=retry_after_s(headers)
    )


def handshake_timed_out(policy: Policy) -> VenueConnectError:
    return VenueConnectError(f"handshake timed out after {policy.connect_timeout_s}s")


L = TypeVar("L")


async def told_to_tap(opening: Awaitable[L], spec: ConnectionSpec, tap: Tap | None) -> L:
    """A live link's handshake, and what a recorder is told of it: opened or refused."""
    try:
        link = await opening
    except VenueConnectError as exc:
        if tap is not None:
            tap.open_failed(spec.name, exc, time.time_ns())
        raise
    if tap is not None:
        tap.opened(spec.name, spec.url, time.time_ns())
    return link


class Link(Protocol):
    """What a session does with its socket."""

    async def next_batch(self) -> tuple[list[Frame], bool]:
        """The data frames that arrived (at least one, awaited; at most `BATCH_MAX`), and
        True when the socket ended after them (`ended()` says why). Every frame the venue
        sent passes here exactly once: the one place to count or record them."""

    def data_ready(self) -> bool:
        """True when `next_batch()` would return at once (frames are waiting)."""

    def taken(self, frames: Sequence[str | bytes]) -> int:
        """The read loop took these frames in one batch: their receive time in wall ms
        (ts_recv of their events), one for the batch, and what a recorder writes for each."""

    async def send(self, message: Any) -> None: ...

    async def close(self) -> None:
        """End the session early (watchdog, planned rotation); the read loop then ends."""

    async def finish(self, reason: BaseException | None) -> None:
        """The session is over, for `reason`: close (bounded) and say so to a recorder."""

    def ended(self) -> BaseException:
        """Why the read loop stopped, once `receive()` returned something not data."""


class WsLink:
    """One open websocket of a connection session."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        max_frame_bytes: int = 0,
        *,
        tap: Tap | None = None,
        conn: str = "",
    ) -> None:
        self.ws = ws
        self.max_frame_bytes = max_frame_bytes  # for the message when a frame exceeds it
        self._tap = tap
        self._conn = conn
        self.receive: Callable[[], Awaitable[aiohttp.WSMessage]] = ws.receive

    async def next_batch(self) -> tuple[list[Frame], bool]:
        return await next_batch(self.receive, self.data_ready)

    @classmethod
    async def open(
        cls,
        session: aiohttp.ClientSession,
        spec: ConnectionSpec,
        policy: Policy,
        tap: Tap | None = None,
    ) -> WsLink:
        """Handshake within `connect_timeout_s`; failures as `VenueConnectError`."""
        return await told_to_tap(cls._open(session, spec, policy, tap), spec, tap)

    @classmethod
    async def _open(
        cls, session: aiohttp.ClientSession, spec: ConnectionSpec, policy: Policy, tap: Tap | None
    ) -> WsLink:
        try:
            async with asyncio.timeout(policy.connect_timeout_s):
                ws = await session.ws_connect(
                    spec.url,
                    headers=dict(spec.headers),
                    max_msg_size=policy.max_frame_bytes,
                    autoping=True,
                    autoclose=True,
                    heartbeat=policy.heartbeat_interval_s,
                )
        except aiohttp.WSServerHandshakeError as exc:
            raise handshake_refused(exc.status, exc.message, exc.headers) from None
        except TimeoutError:
            raise handshake_timed_out(policy) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise VenueConnectError(f"cannot connect: {type(exc).__name__}: {exc}") from None
        return cls(ws, policy.max_frame_bytes, tap=tap, conn=spec.name)

    def taken(self, frames: Sequence[str | bytes]) -> int:
        return batch_stamp(self._tap, self._conn, frames)

    def data_ready(self) -> bool:
        """True when the next message aiohttp has already read and parsed is a data
        frame, which `receive()` returns without suspending. A ping, pong or close first
        is False: `receive()` would handle it and then wait for the network, holding up
        frames a batch already took. False where this aiohttp keeps its queue elsewhere
        (then every batch is one frame: slower, never wrong)."""
        buffer = getattr(getattr(self.ws, "_reader", None), "_buffer", None)
        if not buffer:
            return False
        return getattr(buffer[0][0], "type", None) in _DATA_TYPES

    async def send(self, message: Any) -> None:
        """Send a message (JSON-encoded unless already text); a socket closing under us
        is the venue closing, not a bug."""
        text = encode_message(message)
        if self._tap is not None:
            self._tap.sent(self._conn, text, time.time_ns())
        try:
            await self.ws.send_str(text)
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise VenueClosedError(f"socket closed while sending: {exc}") from None

    async def close(self) -> None:
        """Close, bounded: a peer that never answers the close frame cannot hold us."""
        with contextlib.suppress(asyncio.TimeoutError, aiohttp.ClientError, ConnectionError):
            async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                await self.ws.close()

    async def finish(self, reason: BaseException | None) -> None:
        await self.close()
        if self._tap is not None:
            self._tap.closed(self._conn, reason, time.time_ns())

    def ended(self) -> VenueError:
        """Why the read loop stopped, once `receive()` returned something not data."""
        ws = self.ws
        exc = ws.exception()
        too_big = aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        if ws.close_code == too_big or (
            isinstance(exc, aiohttp.WebSocketError) and exc.code == too_big
        ):
            # aiohttp often closes with code 1009 and no exception: say the limit ourselves
            return FrameTooLargeError(
                f"frame larger than max_frame_bytes ({self.max_frame_bytes} bytes)"
            )
        return VenueClosedError(f"closed by venue (code {ws.close_code}, {exc or 'no error'})")
