"""The fake venue of the throughput rows: one aiohttp server in a child process.

Two feeds, each sent as fast as the socket takes it after the client's first message:

- `snapshot`: Hyperliquid `l2Book`, 20 levels a side, every frame a whole book (`/ws`,
  REST `POST /info`), the feed the issue measured; also what ccxt pro reads.
- `lighter`: Lighter `order_book` (`/lighter/stream`, REST under `/lighter`): the
  subscription's snapshot, then `update/order_book` deltas chained by nonce, as the
  simulator encodes them (plugins/lighter/sim.py), so every sequence check runs. The
  other Lighter channels are answered by a simulator session and stay silent after.
  Its levels are JSON objects, which a plugin turns into (price, size) pairs itself.
- `aster`: Aster `depthUpdate` diffs on a combined stream (`/aster/stream`, REST under
  `/aster`), chained by `pu`, as plugins/aster/sim.py encodes them; the book starts
  from the REST depth snapshot, bridged as Binance documents it. Its levels are JSON
  arrays, which a typed decoder reads straight into pairs. A few diffs come first, the
  rest once the snapshot was fetched (the engine holds at most `MAX_BUFFERED_DELTAS`).

`/bare/<feed>` streams the same frames to the bare client, whatever it sends first.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgspec
from aiohttp import web

from bench.localnet import serve_app
from venuefeed.plugins.aster.sim import AsterSim
from venuefeed.plugins.extended.sim import ExtendedSim
from venuefeed.plugins.lighter.sim import LighterSim
from venuefeed.sim.market import SyntheticMarket
from venuefeed.sim.protocol import SimRequest, SimSession

LEVELS = 20


def snapshot_frames(count: int = 64) -> list[str]:
    """Hyperliquid `l2Book` frames of one coin (cycled by the server)."""
    rng = random.Random(7)
    frames = []
    for i in range(count):
        mid = 65_000 + rng.uniform(-50, 50)
        sides = [
            [
                {"px": f"{mid + sign * (0.5 + k):.1f}", "sz": f"{rng.uniform(0.01, 5):.5f}", "n": 3}
                for k in range(LEVELS)
            ]
            for sign in (-1, 1)
        ]
        data = {"coin": "BTC", "time": 1_700_000_000_000 + i, "levels": sides}
        frames.append(msgspec.json.encode({"channel": "l2Book", "data": data}).decode())
    return frames


#: bytes written to the socket at a time
CHUNK = 256 * 1024


def prefixed(frames: list[str], count: int) -> list[bytes]:
    """`count` frames (cycling `frames`) as a server's websocket text frames on the wire
    (RFC 6455 5.2: FIN + text opcode, unmasked, 7/16/64-bit length), in chunks of about
    `CHUNK` bytes that end on a frame's end: whatever aiohttp itself writes meanwhile (a
    pong, an answer) lands between whole frames."""
    framed = []
    for text in frames:
        payload = text.encode()
        n = len(payload)
        if n < 126:
            header = bytes((0x81, n))
        elif n < 1 << 16:
            header = bytes((0x81, 126)) + n.to_bytes(2, "big")
        else:
            header = bytes((0x81, 127)) + n.to_bytes(8, "big")
        framed.append(header + payload)
    chunks, chunk, size = [], [], 0
    for i in range(count):
        frame = framed[i % len(framed)]
        chunk.append(frame)
        size += len(frame)
        if size >= CHUNK:
            chunks.append(b"".join(chunk))
            chunk, size = [], 0
    if chunk:
        chunks.append(b"".join(chunk))
    return chunks


def deltas_after(market: SyntheticMarket, session: SimSession, n: int) -> list[str]:
    """The frames `session` sends for the market's next `n` steps, made once and replayed
    to every connection (so the bare and the engine clients read the same bytes)."""
    deltas: list[str] = []
    for i in range(n):
        update = market.step(1_700_000_000_000 + i)
        deltas += [str(d.frame) for d in session.on_update(market, update)]
    return deltas


class DeltaFeed:
    """One Lighter market's snapshot and the `n` deltas after it (`deltas_after`)."""

    def __init__(self, n: int) -> None:
        self.market = SyntheticMarket("BTC")
        self.venue = LighterSim({"BTC": self.market})
        session = self.venue.session("/stream", {})
        subscribe = '{"type":"subscribe","channel":"order_book/1"}'
        self.snapshot = str(session.on_message(subscribe)[0])
        self.deltas = deltas_after(self.market, session, n)


class AsterDeltaFeed:
    """One Aster market's REST depth snapshot and the `n` diffs after it, made once."""

    #: diffs sent before the snapshot is fetched: the engine holds them and bridges
    HEAD = 8

    def __init__(self, n: int) -> None:
        self.market = SyntheticMarket("BTC")
        self.venue = AsterSim({"BTC": self.market})
        query = {"symbol": "BTCUSDT", "limit": "1000"}
        self.depth = self.venue.rest(SimRequest("GET", "/fapi/v3/depth", query)).body
        session = self.venue.session("/stream", {"streams": "btcusdt@depth@100ms"})
        self.deltas = deltas_after(self.market, session, n)


class ExtendedDeltaFeed:
    """One Extended market's order book stream: its SNAPSHOT and the `n` DELTAs after it
    (one connection per stream and market; sizes are changes, seq +1 a frame)."""

    def __init__(self, n: int) -> None:
        self.market = SyntheticMarket("BTC")
        self.venue = ExtendedSim({"BTC": self.market})
        session = self.venue.session("/orderbooks/BTC-USD", {})
        (snapshot,) = session.on_open()
        self.snapshot = str(snapshot)
        self.deltas = deltas_after(self.market, session, n)


def serve(port: int, n: int, ready: Any, n_delta: int | None = None) -> None:
    """The server process: `n` snapshot frames or `n_delta` (default `n`) delta frames per
    connection, then a normal close."""
    snapshots = snapshot_frames()
    deltas = n if n_delta is None else n_delta
    delta, aster, extended = DeltaFeed(deltas), AsterDeltaFeed(deltas), ExtendedDeltaFeed(deltas)
    depth_fetched = asyncio.Event()
    head = AsterDeltaFeed.HEAD
    # every stream framed before the first client connects (see `stream`)
    chunks = {
        "snapshot": prefixed(snapshots, n),
        "lighter": prefixed(delta.deltas, len(delta.deltas)),
        "aster": prefixed(aster.deltas, len(aster.deltas)),
        "aster after head": prefixed(aster.deltas[head:], len(aster.deltas) - head),
        "extended": prefixed(extended.deltas, len(extended.deltas)),
    }

    async def info(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("type") == "meta":
            universe = [{"name": "BTC", "szDecimals": 5, "maxLeverage": 50}]
            return web.json_response({"universe": universe})
        ctx = {"funding": "0.0000125", "markPx": "65000.0", "oraclePx": "65001.0"}
        return web.json_response([{"universe": [{"name": "BTC", "szDecimals": 5}]}, [ctx]])

    async def lighter_rest(request: web.Request) -> web.Response:
        path = request.path.removeprefix("/lighter")
        answer = delta.venue.rest(SimRequest(request.method, path, dict(request.query)))
        return web.json_response(answer.body, status=answer.status)

    async def stream(request: web.Request, ws: web.WebSocketResponse, chunks: list[bytes]) -> None:
        """Frames framed once, at start-up (`prefixed`), written in large chunks: sending
        them one by one through aiohttp (~2.5 us a frame) was slower than a bare client
        reads small delta frames, so the bare row measured this server, not the client.
        Framing them here, per connection, took ~0.8 us a frame while the engine's clock
        (started at the snapshot, before the stream) ran: ~20% of a delta run was the
        engine waiting for this server."""
        transport = request.transport
        if transport is None:
            return
        for chunk in chunks:
            transport.write(chunk)
            # the reader is behind: let it catch up (the transport's buffer has no waiter)
            while transport.get_write_buffer_size() > CHUNK:  # noqa: ASYNC110
                await asyncio.sleep(0.0002)
        await ws.close()

    async def hyperliquid(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.receive()  # the first subscribe message: ccxt and the engine send more
        await stream(request, ws, chunks["snapshot"])
        return ws

    async def lighter(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        session = delta.venue.session("/stream", {})
        for frame in session.on_open():
            await ws.send_str(str(frame))
        streaming: asyncio.Task[None] | None = None
        async for msg in ws:
            if "order_book/" in msg.data:
                await ws.send_str(delta.snapshot)
                streaming = asyncio.create_task(stream(request, ws, chunks["lighter"]))
            else:
                for frame in session.on_message(msg.data):
                    await ws.send_str(str(frame))
        if streaming is not None:
            await streaming
        return ws

    async def aster_rest(request: web.Request) -> web.Response:
        path = request.path.removeprefix("/aster")
        if path == "/fapi/v3/depth":
            depth_fetched.set()
            return web.json_response(aster.depth)
        answer = aster.venue.rest(SimRequest(request.method, path, dict(request.query)))
        return web.json_response(answer.body, status=answer.status)

    async def aster_stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        depth_fetched.clear()
        for frame in aster.deltas[:head]:
            await ws.send_str(frame)
        await asyncio.wait_for(depth_fetched.wait(), 30)
        await stream(request, ws, chunks["aster after head"])
        return ws

    async def extended_rest(request: web.Request) -> web.Response:
        path = request.path.removeprefix("/extended/rest")
        answer = extended.venue.rest(SimRequest(request.method, path, dict(request.query)))
        return web.json_response(answer.body, status=answer.status)

    async def extended_stream(request: web.Request) -> web.WebSocketResponse:
        """The order book stream streams; the market's other streams stay open, quiet."""
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        if request.match_info["tail"].startswith("orderbooks/"):
            await ws.send_str(extended.snapshot)
            await stream(request, ws, chunks["extended"])
        else:
            async for _ in ws:
                pass  # nothing to answer: these streams send, never read
        return ws

    async def bare(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.receive()
        feed = request.match_info["feed"]
        await stream(request, ws, chunks[feed])
        return ws

    app = web.Application()
    app.router.add_post("/info", info)
    app.router.add_get("/ws", hyperliquid)
    app.router.add_get("/lighter/stream", lighter)
    app.router.add_get("/lighter/{tail:.*}", lighter_rest)
    app.router.add_get("/aster/stream", aster_stream)
    app.router.add_get("/aster/{tail:.*}", aster_rest)
    app.router.add_get("/extended/ws/{tail:.*}", extended_stream)
    app.router.add_get("/extended/rest/{tail:.*}", extended_rest)
    app.router.add_get("/bare/{feed}", bare)
    serve_app(app, port, ready)
