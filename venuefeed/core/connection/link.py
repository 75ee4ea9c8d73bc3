"""The websocket itself: open it, receive and send on it, close it, and say why it ended.

Every aiohttp exception is translated here, once, into a `VenueError` naming what went
wrong (a refused handshake carries the venue's `Retry-After`), so the session loop
handles one family of errors and nothing else touches the socket's API.

`Link` is what a session needs from its socket; `WsLink` is the live one. A replay
(`venuefeed/record/`) plugs in a link that yields recorded frames instead. A `WsLink`
with a `Tap` tells the recorder every frame it receives and sends, stamped once: the
receive time it records is the `clock()` the session stamps the frame's events with.
Without a tap, `receive` is the socket's own method and `clock` is `wall_ms`: no cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

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
from venuefeed.core.settings import Policy
from venuefeed.core.transport.tap import Tap

_CLOSE_TIMEOUT_S = 0.5

#: what a part of a session may do with its socket: send a message (`Link.send`)
Send = Callable[[Any], Awaitable[None]]


class Rotation(Exception):
    """The connection reached its planned lifetime; reopen without counting a failure."""


class Link(Protocol):
    """What a session does with its socket."""

    #: the next message (text, binary, or anything else: the end)
    receive: Callable[[], Awaitable[aiohttp.WSMessage]]
    #: wall ms of the message `receive` returned last (ts_recv of its events)
    clock: Callable[[], int]

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
        self._recv_ms = 0
        self.receive: Callable[[], Awaitable[aiohttp.WSMessage]] = (
            ws.receive if tap is None else self._tapped_receive
        )
        self.clock: Callable[[], int] = wall_ms if tap is None else self._stamped

    @classmethod
    async def open(
        cls,
        session: aiohttp.ClientSession,
        spec: ConnectionSpec,
        policy: Policy,
        tap: Tap | None = None,
    ) -> WsLink:
        """Handshake within `connect_timeout_s`; failures as `VenueConnectError`."""
        try:
            link = await cls._open(session, spec, policy, tap)
        except VenueConnectError as exc:
            if tap is not None:
                tap.open_failed(spec.name, exc, time.time_ns())
            raise
        if tap is not None:
            tap.opened(spec.name, spec.url, time.time_ns())
        return link

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
            raise VenueConnectError(
                f"handshake refused: HTTP {exc.status} {exc.message}",
                retry_after_s=_retry_after(exc.headers),
            ) from None
        except TimeoutError:
            raise VenueConnectError(
                f"handshake timed out after {policy.connect_timeout_s}s"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise VenueConnectError(f"cannot connect: {type(exc).__name__}: {exc}") from None
        return cls(ws, policy.max_frame_bytes, tap=tap, conn=spec.name)

    async def _tapped_receive(self) -> aiohttp.WSMessage:
        msg = await self.ws.receive()
        ns = time.time_ns()
        self._recv_ms = ns // 1_000_000
        if msg.type is aiohttp.WSMsgType.TEXT or msg.type is aiohttp.WSMsgType.BINARY:
            assert self._tap is not None
            self._tap.received(self._conn, msg.data, ns)
        return msg

    def _stamped(self) -> int:
        return self._recv_ms

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


def _retry_after(headers: Any) -> float | None:
    if headers is None or "Retry-After" not in headers:
        return None
    try:
        return max(0.0, float(headers["Retry-After"]))
    except ValueError:
        return None
