"""The replay's side of the engine's I/O: a link, a REST client and a clock that answer
from a recording (`Tape`) instead of the network.

`ReplayLink` yields the recorded frames of one session with their recorded receive
times (so events carry the live run's `ts_recv`), ignores what the engine sends, and
ends where the recorded session ended, for the recorded reason: the same exception
class, so the connection loop takes the same path (a planned rotation, a stale stream,
the venue closing). A close marked `CancelledError` is the live engine stopping: the
session then stays open until the replay's engine stops. `ReplayRest` answers each
request with the recorded answer to the same request (purpose, name, method, path,
params, JSON body), failures included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import aiohttp

from venuefeed.core import errors
from venuefeed.core.adapter import ConnectionSpec, RestRequest
from venuefeed.core.connection.link import Frame, Link, Rotation, next_batch
from venuefeed.core.errors import RestError
from venuefeed.core.transport.network import Driven, Report, VenueSetup
from venuefeed.core.transport.rest import RestClient
from venuefeed.core.transport.tap import Purpose, request_call, request_key
from venuefeed.record.format import Close, OpenFailed, Recv, Rest
from venuefeed.record.tape import Handoff, Tape

_CLOSED = aiohttp.WSMessage(aiohttp.WSMsgType.CLOSED, None, None)


class ReplayedFailure(Exception):
    """A recorded session ended by an exception that is not a venue error (a bug)."""


def recorded_error(name: str, detail: str) -> BaseException:
    """The exception a recorded session or handshake ended with, rebuilt by class name."""
    if name == "Rotation":
        return Rotation(detail)
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, errors.VenueError):
        return cls(detail)
    return ReplayedFailure(f"{name}: {detail}")


class ReplayLink:
    """One recorded session of a connection."""

    def __init__(self, tape: Tape, venue: str, conn: str, done: asyncio.Future[None]) -> None:
        self._tape = tape
        self._venue = venue
        self._conn = conn
        self._done: asyncio.Future[None] | None = done  # the record we hold
        self._waiter: asyncio.Future[Handoff] | None = None
        self._close: Close | None = None
        self._recv_ms = tape.now_ms
        self.clock: Callable[[], int] = self._clock
        tape.attach(venue, conn, self._take)

    def _take(self, handoff: Handoff) -> bool:
        record, done = handoff
        waiter = self._waiter
        if waiter is None or waiter.done():
            return False
        if isinstance(record, Close) and record.error == "CancelledError":
            # the live engine stopped here: stay open until the replay's engine stops
            self._tape.detach(self._venue, self._conn, self._take)
            done.set_result(None)
            return True
        waiter.set_result(handoff)
        return True

    def _release(self) -> None:
        done, self._done = self._done, None
        if done is not None and not done.done():
            done.set_result(None)

    async def _receive(self) -> aiohttp.WSMessage:
        if self._close is not None:
            return _CLOSED
        self._release()  # done with the previous record: the tape may go on
        waiter: asyncio.Future[Handoff] = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self._tape.changed()
        try:
            record, self._done = await waiter
        finally:
            self._waiter = None
        self._recv_ms = record.ns // 1_000_000
        if isinstance(record, Recv):
            if record.text is not None:
                return aiohttp.WSMessage(aiohttp.WSMsgType.TEXT, record.text, None)
            return aiohttp.WSMessage(aiohttp.WSMsgType.BINARY, record.data or b"", None)
        assert isinstance(record, Close)
        self._close = record
        return _CLOSED

    def _clock(self) -> int:
        return self._recv_ms

    def data_ready(self) -> bool:
        """Never: each recorded frame is its own batch, handed over by the tape."""
        return False

    async def next_batch(self) -> tuple[list[Frame], bool]:
        return await next_batch(self._receive, self.data_ready)

    def taken(self, frames: Sequence[str | bytes]) -> int:
        """The recorded receive time, the one the live run stamped the frame's batch with."""
        return self._recv_ms

    async def send(self, message: object) -> None:
        """The recording holds what the live engine sent; nothing goes anywhere."""

    async def close(self) -> None:
        """The recording decides where a session ends, not the replay's timers."""

    async def finish(self, reason: BaseException | None) -> None:
        self._tape.detach(self._venue, self._conn, self._take)
        self._release()

    def ended(self) -> BaseException:
        close = self._close
        if close is None:
            return errors.VenueClosedError("replay: session ended without a recorded close")
        return recorded_error(close.error, close.detail)


class ReplayRest(RestClient):
    """Recorded answers, request by request."""

    def __init__(self, setup: VenueSetup, tape: Tape) -> None:
        super().__init__(setup.pools.rest, setup.name, setup.adapter.ctx.rest_url, setup.policy)
        self._tape = tape
        self._name = setup.name

    async def exchange(self, request: RestRequest, purpose: Purpose) -> tuple[bytes, int]:
        tape = self._tape
        key = request_key(purpose, request_call(request))
        future = tape.claim(self._name, key)
        try:
            record, done = await future
        finally:
            tape.unclaim(self._name, key, future)
        done.set_result(None)
        assert isinstance(record, Rest)
        if record.error is not None:
            raise RestError(record.detail or record.error)
        body = record.raw()
        if record.status is not None and record.status >= 400:
            raise RestError(f"{self.describe(request)}: HTTP {record.status}: {body[:200]!r}")
        return body, record.ns // 1_000_000


class ReplayIO:
    """A venue's I/O in a replay: `Engine(settings, network=...)` builds one per venue."""

    replays = True

    def __init__(self, setup: VenueSetup, tape: Tape) -> None:
        self._name = setup.name
        self._tape = tape
        self.rest: RestClient = ReplayRest(setup, tape)

    def clock(self) -> int:
        return self._tape.now_ms

    async def open_link(self, spec: ConnectionSpec) -> Link:
        tape = self._tape
        future = tape.open(self._name, spec.name)
        try:
            record, done = await future
        finally:
            tape.stop_opening(self._name, spec.name, future)
        if isinstance(record, OpenFailed):
            done.set_result(None)
            raise recorded_error(record.error, record.detail)
        return ReplayLink(tape, self._name, spec.name, done)

    def attach(self, report: Report) -> None:
        """A replay has no recorder to report on."""

    def drive(self, requests: Driven) -> None:
        self._tape.drive(self._name, requests)
