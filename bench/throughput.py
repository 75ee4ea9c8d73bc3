"""Loopback throughput and memory benchmark (`make bench`), never part of the tests.

A fake Hyperliquid server in a child process sends N realistic 20-level `l2Book` frames as
fast as the socket takes them. In one run we measure:
  (a) bare: an aiohttp client receive loop + msgspec JSON decode: the practical limit;
  (b) engine: the full path (receive, parse, normalize, book keeping, conflate, publish, one
      consumer) through the real Hyperliquid plugin.
Then (c) peak RSS of the engine path with a consumer ten times slower than the feed.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import resource
import statistics
import time
from typing import Any

import aiohttp
import msgspec
from aiohttp import web

from venuefeed.core.engine import Engine
from venuefeed.core.events import Book, Status
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings

LEVELS = 20


def make_frames(count: int = 64) -> list[str]:
    rng = random.Random(7)
    frames = []
    for i in range(count):
        mid = 65_000 + rng.uniform(-50, 50)
        bids = [
            {
                "px": f"{mid - 0.5 - k:.1f}",
                "sz": f"{rng.uniform(0.01, 5):.5f}",
                "n": rng.randint(1, 9),
            }
            for k in range(LEVELS)
        ]
        asks = [
            {
                "px": f"{mid + 0.5 + k:.1f}",
                "sz": f"{rng.uniform(0.01, 5):.5f}",
                "n": rng.randint(1, 9),
            }
            for k in range(LEVELS)
        ]
        data = {"coin": "BTC", "time": 1_700_000_000_000 + i, "levels": [bids, asks]}
        frames.append(msgspec.json.encode({"channel": "l2Book", "data": data}).decode())
    return frames


def serve(port: int, n: int, ready: Any) -> None:
    frames = make_frames()

    async def info(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("type") == "meta":
            return web.json_response(
                {"universe": [{"name": "BTC", "szDecimals": 5, "maxLeverage": 50}]}
            )
        ctx = {"funding": "0.0000125", "markPx": "65000.0", "oraclePx": "65001.0"}
        return web.json_response([{"universe": [{"name": "BTC", "szDecimals": 5}]}, [ctx]])

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.receive()  # the first subscribe message
        for i in range(n):
            await ws.send_str(frames[i % len(frames)])
        await ws.close()
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/info", info)
        app.router.add_get("/ws", ws_handler)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


async def bare(port: int, n: int) -> float:
    decode = msgspec.json.Decoder().decode
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"ws://127.0.0.1:{port}/ws") as ws,
    ):
        await ws.send_str('{"method":"subscribe"}')
        got = 0
        t0 = 0.0
        async for msg in ws:
            if got == 0:
                t0 = time.perf_counter()
            decode(msg.data)
            got += 1
        elapsed = time.perf_counter() - t0
        assert got == n, got
    return n / elapsed


def settings_for(port: int) -> Settings:
    return Settings.model_validate(
        {
            "defaults": {
                "symbols": ["BTC"],
                "stale_after_s": 60,
                "funding_poll_s": 3600,
                "backoff_initial_s": 30,
                "backoff_max_s": 60,
            },
            "venues": {
                "hyperliquid": {
                    "ws_url": f"ws://127.0.0.1:{port}/ws",
                    "rest_url": f"http://127.0.0.1:{port}",
                }
            },
        }
    )


async def engine_path(
    port: int, n: int, slow_factor: float = 0.0, per_frame_s: float = 0.0
) -> tuple[float, int]:
    host = PluginHost(builtin_modules=("venuefeed.plugins.hyperliquid",), load_entry_points=False)
    books = 0
    t0 = 0.0
    async with Engine(settings_for(port), plugins=host) as engine:
        sub = engine.events()
        async for event in sub:
            if isinstance(event, Book):
                if books == 0:
                    t0 = time.perf_counter()
                books += 1
                if slow_factor and books % 100 == 0:
                    await asyncio.sleep(100 * per_frame_s * slow_factor)
            elif isinstance(event, Status) and event.state == "backoff" and books:
                break
        elapsed = time.perf_counter() - t0
        frames = int(engine.metrics.value("frames", venue="hyperliquid"))
    return frames / elapsed, books


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=50_000)
    args = parser.parse_args()
    n = args.frames
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    port = 20000 + os.getpid() % 20000
    server = ctx.Process(target=serve, args=(port, n, ready), daemon=True)
    server.start()
    try:
        ready.wait(10)
        frame_bytes = len(make_frames(1)[0])
        print(
            f"{n} frames of {LEVELS}-level books, {frame_bytes} bytes each, loopback, 2 processes"
        )
        runs = 3
        bares, engines = [], []
        books = 0
        for _ in range(runs):  # interleaved, so machine noise hits both alike
            bares.append(asyncio.run(bare(port, n)))
            fps, books = asyncio.run(engine_path(port, n))
            engines.append(fps)
        bare_fps = statistics.median(bares)
        engine_fps = statistics.median(engines)
        print(
            f"(a) bare aiohttp receive + JSON decode: {bare_fps:,.0f} frames/s (median of {runs})"
        )
        print(
            f"(b) full engine path, one consumer:     {engine_fps:,.0f} frames/s (median of {runs})"
        )
        print(f"    the consumer saw {books} book events: a burst conflates per key")
        print(f"    ratio engine / bare: {engine_fps / bare_fps:.2f}  (target >= 0.50)")
        before = rss_mb()
        _slow_fps, slow_books = asyncio.run(
            engine_path(port, n, slow_factor=10, per_frame_s=1 / engine_fps)
        )
        print(
            f"(c) consumer 10x slower than the feed: peak RSS {rss_mb():.1f} MB "
            f"(peak before this run {before:.1f} MB); it saw {slow_books} book events "
            f"for {n} frames (conflated)"
        )
        from bench.record import main as record_bench  # (e): with and without --record

        record_bench(port, n)
    finally:
        server.kill()
    from bench.bus import main as bus_bench  # (d): through a local nats-server (issue 12)

    bus_bench()


if __name__ == "__main__":
    main()
