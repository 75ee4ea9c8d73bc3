"""Loopback throughput, latency and memory benchmark (`make bench`), never part of the tests.

Every figure lands in one table (bench/table.py), measured in one run on this machine:

- throughput, a fake venue in a child process (bench/feeds.py) sending as fast as the
  socket takes it, each row the median of `--runs` interleaved runs:
  bare aiohttp receive + msgspec JSON decode (the practical limit of a Python client);
  venuefeed on the snapshot feed (Hyperliquid `l2Book`) and on three delta feeds (Lighter
  `order_book`, Aster `depthUpdate`, Extended `orderbooks`; every sequence check kept),
  client and server on separate cores (bench/cores.py), through the real
  plugin, book keeper and publisher to one consumer reading every event; ccxt pro on the
  same Hyperliquid stream where ccxt is installed (`pip install -e '.[bench]'`);
- latency and memory on the simulator's five venues (bench/fleet.py);
- the NATS bus (bench/bus.py) where nats-server is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import multiprocessing
import os
import platform
import statistics
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import msgspec

from bench.cores import pinned
from bench.feeds import serve, snapshot_frames
from bench.table import Row, Table
from venuefeed.core.engine import Engine
from venuefeed.core.events import Book, Status
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings


async def bare(port: int, feed: str, n: int) -> float:
    """Frames per second of a bare receive + decode loop, first frame to last."""
    decode = msgspec.json.Decoder().decode
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"ws://127.0.0.1:{port}/bare/{feed}", max_msg_size=0) as ws,
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


def settings_for(venue: str, port: int) -> Settings:
    base = f"127.0.0.1:{port}"
    urls = {
        "hyperliquid": (f"ws://{base}/ws", f"http://{base}"),
        "lighter": (f"ws://{base}/lighter/stream", f"http://{base}/lighter"),
        "aster": (f"ws://{base}/aster", f"http://{base}/aster"),  # the adapter adds /stream
        # the adapter adds /orderbooks/BTC-USD and the other streams
        "extended": (f"ws://{base}/extended/ws", f"http://{base}/extended/rest"),
    }[venue]
    return Settings.model_validate(
        {
            "defaults": {
                "symbols": ["BTC"],
                "stale_after_s": 60,
                "funding_poll_s": 3600,
                "backoff_initial_s": 30,
                "backoff_max_s": 60,
            },
            "venues": {venue: {"ws_url": urls[0], "rest_url": urls[1]}},
        }
    )


async def engine_path(venue: str, port: int) -> tuple[float, int]:
    """Frames per second through the engine to one consumer reading every event (from the
    first book it sees to the end of the stream), and how many books it saw."""
    host = PluginHost(builtin_modules=(f"venuefeed.plugins.{venue}",), load_entry_points=False)
    books = 0
    t0 = 0.0
    async with Engine(settings_for(venue, port), plugins=host) as engine:
        async for event in engine.events():
            if isinstance(event, Book):
                if books == 0:
                    t0 = time.perf_counter()
                    first = engine.metrics.value("frames", venue=venue)
                books += 1
            elif isinstance(event, Status) and event.state == "backoff" and books:
                break
        elapsed = time.perf_counter() - t0
        frames = engine.metrics.value("frames", venue=venue) - first
    return frames / elapsed, books


def median_of(runs: int, measure: Callable[[], Coroutine[Any, Any, Any]]) -> list[Any]:
    return [asyncio.run(measure()) for _ in range(runs)]


#: the delta feeds measured: venue, what its frames are, and why it differs
DELTA_FEEDS = (
    ("lighter", "Lighter order_book", "levels as JSON objects, paired by the plugin"),
    ("aster", "Aster depthUpdate", "levels as JSON arrays, decoded straight into pairs"),
    ("extended", "Extended orderbooks", "levels as JSON objects, sizes as changes"),
)


def throughput(table: Table, port: int, n: int, n_delta: int, runs: int) -> None:
    bare_snap, engine_snap, ccxt_snap = [], [], []
    bare_delta: dict[str, list[float]] = {venue: [] for venue, _, _ in DELTA_FEEDS}
    engine_delta: dict[str, list[float]] = {venue: [] for venue, _, _ in DELTA_FEEDS}
    ccxt_row = _ccxt_measure()
    for _ in range(runs):  # interleaved, so machine noise hits every row alike
        bare_snap.append(asyncio.run(bare(port, "snapshot", n)))
        engine_snap.append(asyncio.run(engine_path("hyperliquid", port)))
        if ccxt_row is not None:
            ccxt_snap.append(asyncio.run(ccxt_row(port, n)))
        for venue, _, _ in DELTA_FEEDS:
            bare_delta[venue].append(asyncio.run(bare(port, venue, n_delta)))
            engine_delta[venue].append(asyncio.run(engine_path(venue, port))[0])
    b_snap = statistics.median(bare_snap)
    e_snap = statistics.median(fps for fps, _ in engine_snap)
    seen = statistics.median(books for _, books in engine_snap)
    table.add(Row("bare aiohttp receive + JSON decode, snapshot feed", f"{b_snap:,.0f} frames/s"))
    table.add(
        Row(
            "venuefeed, snapshot feed (Hyperliquid l2Book) -> consumer",
            f"{e_snap:,.0f} frames/s",
            f"{e_snap / b_snap:.2f}x bare",
            ">= 1.0x bare",
            f"consumer saw {seen:.0f} books of {n:,}",
        )
    )
    if ccxt_snap:
        c = statistics.median(ccxt_snap)
        table.add(
            Row(
                "ccxt pro watch_order_book, same stream",
                f"{c:,.0f} frames/s",
                f"venuefeed {e_snap / c:.1f}x ccxt",
                ">= 8x",
            )
        )
    else:
        table.add(Row("ccxt pro", "skipped", note="pip install -e '.[bench]'"))
    for venue, feed, shape in DELTA_FEEDS:
        b = statistics.median(bare_delta[venue])
        e = statistics.median(engine_delta[venue])
        table.add(Row(f"bare aiohttp receive + JSON decode, {feed}", f"{b:,.0f} frames/s"))
        table.add(
            Row(
                f"venuefeed, delta feed ({feed}) -> consumer",
                f"{e:,.0f} frames/s",
                f"{e / b:.2f}x bare",
                ">= 0.7x bare",
                f"every delta applied and chain-checked; {shape}",
            )
        )


def _ccxt_measure() -> Callable[[int, int], Coroutine[Any, Any, float]] | None:
    try:
        from bench.ccxt_row import ccxt_pro
    except ImportError:
        return None
    return ccxt_pro


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=50_000)
    # a delta frame costs a tenth of a snapshot's: 50,000 of them last ~0.15 s, too short
    # a window for a steady rate
    parser.add_argument("--delta-frames", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument("--memory-minutes", type=float, default=1.0)
    parser.add_argument("--skip", default="", help="comma list of: throughput,fleet,bus")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    n = args.frames
    load = os.getloadavg()[0]
    table = Table(
        f"venuefeed bench, {datetime.date.today()}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load {load:.1f} at start; {n:,} frames "
        f"({len(snapshot_frames(1)[0])} bytes a snapshot), {args.delta_frames:,} delta frames, "
        f"loopback, median of {args.runs} (client and feed server on separate cores but "
        "for --record)"
    )
    if "throughput" not in skip:
        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Event()
        port = 20000 + os.getpid() % 20000
        server = ctx.Process(target=serve, args=(port, n, ready, args.delta_frames), daemon=True)
        server.start()
        try:
            if not ready.wait(60):
                raise SystemExit("the bench server did not start within 60 s")
            with pinned(server.pid) as apart:
                throughput(table, port, n, args.delta_frames, args.runs)
            if not apart:
                table.add(Row("throughput rows", "cores not pinned", note="one core only"))
            # with and without --record, unpinned as before: the recorder's writer thread
            # would share the engine's one core
            from bench.record import rows as record_rows

            for row in record_rows(port, n, args.runs):
                table.add(row)
        finally:
            server.kill()
    if "fleet" not in skip:
        from bench.fleet import fleet

        fleet(table, latency_s=args.latency_seconds, memory_s=args.memory_minutes * 60)
    if "bus" not in skip:
        from bench.bus import rows as bus_rows

        for row in bus_rows():
            table.add(row)
    print(table.render())


if __name__ == "__main__":
    main()
