"""The picows link (`ws_client = "picows"`) against a server that writes raw websocket
frames: what picows leaves to its user (fragments, UTF-8, the venue's close, flow control,
waking the read loop) done right, and batches of what one read brought."""

from __future__ import annotations

import asyncio
import logging
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from venuefeed.core.adapter import ConnectionSpec
from venuefeed.core.connection import picolink
from venuefeed.core.connection.link import BATCH_MAX, Frame
from venuefeed.core.connection.picolink import MAX_WAITING, PicowsLink
from venuefeed.core.errors import VenueClosedError
from venuefeed.core.policy import Policy

TEXT, BINARY, CONTINUATION, CLOSE, PING = 0x1, 0x2, 0x0, 0x8, 0x9

Script = Callable[[asyncio.Transport, web.WebSocketResponse], Awaitable[None]]


def frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """One unmasked server frame (RFC 6455 5.2)."""
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        return bytes((first, n)) + payload
    if n < 1 << 16:
        return bytes((first, 126)) + struct.pack("!H", n) + payload
    return bytes((first, 127)) + struct.pack("!Q", n) + payload


@pytest.fixture
async def serve(aiohttp_server) -> AsyncIterator[Callable[..., Awaitable[PicowsLink]]]:
    """`await serve(script)`: a link to a server running `script` on the raw socket
    after the handshake; the server then waits until the client closes."""
    links: list[PicowsLink] = []
    done: list[asyncio.Event] = []

    async def open_link(script: Script, heartbeat_s: float = 30.0) -> PicowsLink:
        finished = asyncio.Event()
        done.append(finished)

        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(autoping=False)
            await ws.prepare(request)
            assert request.transport is not None
            await script(request.transport, ws)  # type: ignore[arg-type]
            async for _ in ws:  # until the client goes
                pass
            finished.set()
            return ws

        app = web.Application()
        app.router.add_get("/ws", handler)
        server = await aiohttp_server(app)
        spec = ConnectionSpec(name="main", url=f"ws://{server.host}:{server.port}/ws", streams=())
        policy = Policy(heartbeat_interval_s=heartbeat_s, max_frame_bytes=64 * 1024)
        link = await PicowsLink.open(spec, policy, ssl.create_default_context())
        links.append(link)
        return link

    yield open_link
    for link in links:
        await link.close()


async def read_all(link: PicowsLink, within: float = 5.0) -> tuple[list[list[Frame]], bool]:
    """Every batch until the socket ends (or `within` seconds of waiting)."""
    batches: list[list[Frame]] = []
    try:
        async with asyncio.timeout(within):
            while True:
                frames, ended = await link.next_batch()
                if frames:
                    batches.append(frames)
                if ended:
                    return batches, True
    except TimeoutError:
        return batches, False


async def test_a_frame_is_delivered_when_a_ping_ends_the_read(serve):
    """The last frame of a read may be one picows answers itself (a ping): the read loop
    must still wake for the data frame before it."""

    async def script(transport: asyncio.Transport, ws: web.WebSocketResponse) -> None:
        await ws.receive()  # the client is waiting for frames now
        transport.write(frame(TEXT, b'{"a":1}') + frame(PING, b"hb"))

    link = await serve(script)
    async with asyncio.TaskGroup() as tg:
        batch = tg.create_task(link.next_batch())
        await asyncio.sleep(0)  # it waits
        await link.send("go")
        async with asyncio.timeout(2):
            frames, ended = await batch
    assert frames == ['{"a":1}'] and not ended


async def test_fragmented_messages_are_joined_around_control_frames(serve):
    async def script(transport: asyncio.Transport, ws: web.WebSocketResponse) -> None:
        transport.write(
            frame(TEXT, b"hel", fin=False)
            + frame(PING, b"x")  # a control frame may come between fragments
            + frame(CONTINUATION, b"l", fin=False)
        )
        await asyncio.sleep(0.01)  # the rest in another read
        transport.write(
            frame(CONTINUATION, "o é".encode())
            + frame(BINARY, b"\x01", fin=False)
            + frame(CONTINUATION, b"\x02")
            + frame(TEXT, b"whole")
        )

    link = await serve(script)
    got: list[Frame] = []
    async with asyncio.timeout(2):
        while len(got) < 3:
            got += (await link.next_batch())[0]
    assert got == ["hello é", b"\x01\x02", "whole"]


@pytest.mark.parametrize(
    ("wire", "code"),
    [
        (frame(CONTINUATION, b"orphan"), 1002),
        (frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"), 1002),
        (frame(TEXT, b"\xff\xfe not utf-8"), 1007),
        (frame(TEXT, b"\xc3", fin=False) + frame(CONTINUATION, b"("), 1007),
    ],
    ids=["continuation-without-start", "message-inside-message", "bad-utf8", "bad-utf8-joined"],
)
async def test_a_broken_message_ends_the_session_with_the_right_close_code(serve, wire, code):
    async def script(transport: asyncio.Transport, ws: web.WebSocketResponse) -> None:
        transport.write(frame(TEXT, b"before") + wire)

    link = await serve(script)
    batches, ended = await read_all(link)
    assert ended and [f for b in batches for f in b] == ["before"]
    reason = link.ended()
    assert isinstance(reason, VenueClosedError) and f"code {code}" in str(reason)


async def test_the_venues_close_is_answered_and_reported(serve):
    answered = asyncio.Event()

    async def script(transport: asyncio.Transport, ws: web.WebSocketResponse) -> None:
        transport.write(frame(TEXT, b"last") + frame(CLOSE, struct.pack("!H", 4001) + b"bye"))
        msg = await ws.receive()  # the client's answer
        if msg.type.name == "CLOSE":
            answered.set()

    link = await serve(script)
    batches, ended = await read_all(link)
    assert ended and batches == [["last"]]
    assert "closed by venue (code 4001, bye)" in str(link.ended())
    async with asyncio.timeout(2):
        await answered.wait()


async def test_a_message_over_the_limit_in_fragments_is_frame_too_large(serve):
    async def script(transport: asyncio.Transport, ws: web.WebSocketResponse) -> None:
        part = b"x" * 40_000  # each fragment fits 64 KiB, the message does not
        transport.write(frame(TEXT, part, fin=False) + frame(CONTINUATION, part))

    link = await serve(script)
    _, ended = await read_all(link)
    assert ended and "larger than max_frame_bytes" in str(link.ended())


async def test_a_burst_comes_in_batches_and_a_slow_reader_stops_the_socket(
    serve, monkeypatch: pytest.MonkeyPatch
):
    """Flow control: past MAX_WAITING frames not taken (and what the read that passed
    it brought), the socket is not read: the kernel's buffers hold the rest, and
    taking frames resumes it. Nothing is lost or
    reordered, and no batch is larger than BATCH_MAX."""
    total = 6 * MAX_WAITING
    sent = asyncio.Event()
    paused: list[int] = []
    real_take = picolink._Listener.take

    def spying_take(listener: picolink._Listener, limit: int) -> list[Frame]:
        if listener._paused:
            assert listener.transport is not None
            paused.append(listener.transport.underlying_transport.is_reading())
        return real_take(listener, limit)

    monkeypatch.setattr(picolink._Listener, "take", spying_take)

    async def script(transport: asyncio.Transport, ws: web.WebSocketResponse) -> None:
        transport.write(b"".join(frame(TEXT, str(i).encode()) for i in range(total)))
        sent.set()

    link = await serve(script)
    async with asyncio.timeout(5):
        await sent.wait()
    for _ in range(50):  # the client reads until it pauses
        await asyncio.sleep(0)
    got: list[Frame] = []
    async with asyncio.timeout(5):
        while len(got) < total:
            frames, _ = await link.next_batch()
            assert len(frames) <= BATCH_MAX
            got += frames
    assert got == [str(i) for i in range(total)]
    assert paused and not any(paused)  # it stopped reading, and resumed: all arrived


async def test_a_venue_silent_after_our_heartbeat_ping_is_dropped(serve):
    async def script(transport: asyncio.Transport, ws: web.WebSocketResponse) -> None:
        transport.write(frame(TEXT, b"hello"))  # then nothing, and no pong

    link = await serve(script, heartbeat_s=0.1)
    batches, ended = await read_all(link, within=5)
    assert ended and batches == [["hello"]]
    assert "not replied to ping" in str(link.ended())


async def test_any_frame_after_our_heartbeat_ping_keeps_the_link(serve):
    """aiohttp's rule, kept: a venue that answers a ping with data, not a pong, is alive."""
    pings = 0

    async def script(transport: asyncio.Transport, ws: web.WebSocketResponse) -> None:
        nonlocal pings
        async for msg in ws:
            if msg.type.name == "PING":
                pings += 1
                transport.write(frame(TEXT, str(pings).encode()))  # data, never a pong

    link = await serve(script, heartbeat_s=0.1)
    got: list[Frame] = []
    async with asyncio.timeout(5):
        while len(got) < 5:  # five heartbeat pings, each answered by data only
            frames, ended = await link.next_batch()
            assert not ended, link.ended()
            got += frames
    assert got == ["1", "2", "3", "4", "5"]


async def test_our_close_is_a_closing_handshake(serve):
    """The venue sees our close frame (code 1000) and answers it; a venue that never
    answers is dropped after a bounded wait (see `_CLOSE_TIMEOUT_S`)."""
    seen: list[int] = []

    async def script(transport: asyncio.Transport, ws: web.WebSocketResponse) -> None:
        msg = await ws.receive()  # aiohttp answers a close frame itself (autoclose)
        seen.append(int(msg.data))

    link = await serve(script)
    async with asyncio.timeout(5):
        await link.close()
    assert seen == [1000]
    _, ended = await link.next_batch()
    assert ended


async def test_a_frame_over_the_limit_is_never_handed_over(serve):
    """picows stops at the header of a frame over `max_frame_size`, sends close 1009 and
    drops the socket a moment later; bytes that arrive meanwhile must not complete that
    frame into one the read loop would parse."""

    async def script(transport: asyncio.Transport, ws: web.WebSocketResponse) -> None:
        transport.write(frame(TEXT, b"before"))
        big = frame(TEXT, b"x" * (100 * 1024))  # the limit is 64 KiB
        transport.write(big[:1000])
        await asyncio.sleep(0.002)  # the header is read alone, the rest right after
        transport.write(big[1000:] + frame(TEXT, b"after"))

    link = await serve(script)
    batches, ended = await read_all(link)
    frames = [f for b in batches for f in b]
    assert ended and frames[0] == "before"  # what came before is delivered
    assert not any(f.startswith("x") for f in frames)  # "after" may come too: harmless
    assert "larger than max_frame_bytes" in str(link.ended())


async def test_a_venues_protocol_error_is_said_once_by_the_link(serve, caplog):
    """picows logs a parser error at ERROR; the link says the same (`ended()`, which the
    session logs with the venue), so picows' line is kept at DEBUG."""

    async def script(transport: asyncio.Transport, ws: web.WebSocketResponse) -> None:
        transport.write(frame(TEXT, b"x" * (100 * 1024)))  # the limit is 64 KiB

    caplog.set_level(logging.DEBUG, logger="picows")
    link = await serve(script)
    _, ended = await read_all(link)
    assert ended and "larger than max_frame_bytes" in str(link.ended())
    picows = [r for r in caplog.records if r.name.startswith("picows")]
    assert any("WS parser error" in r.getMessage() for r in picows)
    assert not [r for r in picows if r.levelno >= logging.WARNING]
