"""Latency and memory on the simulator's five venues (`make bench`, bench/table.py).

The simulated venues (venuefeed.sim: TLS, frames in order with 1-5 ms of jitter, venues
checking their client) run in a child process, so the engine's RSS is its own; one engine
reads all five, 10 symbols each.

- latency: receive -> consumer at a steady rate. The engine stamps `ts_recv` in whole
  milliseconds; for sub-millisecond percentiles this bench swaps the read loop's clock for
  a float one (`link.wall_ms`, the stamp `batch_stamp` gives a batch of frames right
  after they left the socket, whichever the client), and the consumer compares it with
  its own clock; an event stamped in whole milliseconds stops the bench (the swap missed).
  Measured twice: with the engine and the simulator pinned to separate cores (the
  target row), and where the scheduler puts them. On a 2-core machine it often runs
  both on one core, and the engine then waits out the simulator's time slices (p99
  about 2.5 ms in that case: the scheduler's figure, not the engine's).
- memory: one consumer ten times slower than the feed for `--memory-minutes`; RSS is
  sampled every few seconds, the slope fitted over all but the first fifth.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import time
from typing import Any

from bench.cores import apart
from bench.table import Row, Table
from venuefeed.core.connection import link
from venuefeed.core.engine import Engine
from venuefeed.core.settings import Settings

VENUES = ("hyperliquid", "paradex", "lighter", "extended", "aster")
SYMBOLS = ["BTC", "ETH", "SOL", "DOGE", "AVAX", "LINK", "ARB", "OP", "SUI", "APT"]
#: one market step per symbol every TICK_S: about 10k frames a second over the 50 markets
TICK_S = 0.0065
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _sim(tick_s: float, conn: Any) -> None:
    """The child process: the five simulated venues until killed."""
    from venuefeed.sim import simulate

    async def main() -> None:
        settings = Settings.model_validate(
            {"defaults": {"symbols": SYMBOLS}, "venues": {v: {} for v in VENUES}}
        )
        async with simulate(settings, tick_s=tick_s) as simulated:
            conn.send(simulated.model_dump_json())
            await asyncio.Event().wait()

    asyncio.run(main())


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


def _settings(raw: str) -> Settings:
    data = Settings.model_validate_json(raw).model_dump()
    data["defaults"]["stale_after_s"] = 60  # a loaded 2-core machine is no venue outage
    return Settings.model_validate(data)


async def latency(settings: Settings, seconds: float) -> tuple[list[float], float]:
    """Receive -> consumer latencies (ms) of market-data events, and frames/s seen."""
    out: list[float] = []
    async with Engine(settings) as engine:
        events = engine.events()
        warm = time.monotonic() + 5  # connections, snapshots, replays settle first
        start_frames = 0.0
        end = 0.0
        async for event in events:
            now = time.monotonic()
            market = event.kind in ("book", "bbo", "trade", "mark") and event.source == "ws"
            if market and now >= warm:
                if type(event.ts_recv) is int:
                    raise RuntimeError("ts_recv in whole ms: the float receive stamp missed")
                out.append(time.time() * 1000 - event.ts_recv)
            if end == 0.0 and now >= warm:
                start_frames = _frames(engine)
                end = now + seconds
            if end and now >= end:
                break
        rate = (_frames(engine) - start_frames) / seconds
    return out, rate


def _frames(engine: Engine) -> float:
    return sum(engine.metrics.value("frames", venue=v) for v in VENUES)


async def memory(settings: Settings, seconds: float, feed_rate: float) -> list[tuple[float, float]]:
    """(seconds, RSS MB) samples while one consumer reads ten times slower than the feed."""
    samples: list[tuple[float, float]] = []
    pause = 10 / max(feed_rate, 1.0)  # per event: a tenth of the feed's rate
    async with Engine(settings) as engine:
        events = engine.events()
        t0 = time.monotonic()
        next_sample = t0
        async for _ in events:
            await asyncio.sleep(pause)
            now = time.monotonic()
            if now >= next_sample:
                samples.append((now - t0, rss_mb()))
                next_sample = now + max(1.0, seconds / 60)
            if now - t0 >= seconds:
                break
    return samples


def _latency_child(conn: Any, raw: str, seconds: float, pinned: bool) -> None:
    cores = apart()
    if pinned and cores is not None:
        os.sched_setaffinity(0, cores[0])
    # the stamp the read loop gives a batch: a float here, not whole milliseconds (which
    # would add up to 1 ms to every figure); fails loudly if the stamp moves elsewhere
    assert callable(link.wall_ms), "the receive stamp is no longer link.wall_ms"
    link.wall_ms = lambda: time.time() * 1000  # type: ignore[assignment,return-value]
    conn.send(asyncio.run(latency(_settings(raw), seconds)))


def _memory_child(conn: Any, raw: str, seconds: float, rate: float) -> None:
    conn.send(asyncio.run(memory(_settings(raw), seconds, rate)))


def _in_own_process(ctx: Any, target: Any, settings: Settings, *args: float | bool) -> Any:
    """A run in a fresh process: its RSS is the engine's, and its pauses the engine's
    (ccxt's modules and the throughput runs' garbage would make every GC pass longer)."""
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child, settings.model_dump_json(), *args))
    proc.start()
    try:
        return parent.recv()
    finally:
        proc.join(10)


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    tail = samples[len(samples) // 5 :]
    if len(tail) < 2:
        return 0.0
    return statistics.linear_regression([t for t, _ in tail], [m for _, m in tail]).slope * 60


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def fleet(table: Table, *, latency_s: float, memory_s: float) -> None:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    sim = ctx.Process(target=_sim, args=(TICK_S, child), daemon=True)
    sim.start()
    try:
        if not parent.poll(60):
            table.add(Row("five simulated venues", "skipped", note="simulator did not start"))
            return
        settings = _settings(parent.recv())
        cores = apart()
        for pinned in (True, False) if cores is not None else (False,):
            if cores is not None:
                # the simulator on cores of its own; then the scheduler's choice for both
                os.sched_setaffinity(sim.pid or 0, cores[1] if pinned else cores[0] | cores[1])
            lat, rate = _in_own_process(ctx, _latency_child, settings, latency_s, pinned)
            where = "engine and simulator on separate cores" if pinned else "cores not pinned"
            table.add(
                Row(
                    f"latency receive -> consumer, 5 venues x 10 symbols, {rate:,.0f} "
                    f"frames/s, {where}",
                    f"p50 {statistics.median(lat):.2f} ms, p99 {percentile(lat, 0.99):.2f} ms",
                    target="p99 <= 1 ms" if pinned or cores is None else "",
                    note=f"{len(lat):,} events over {latency_s:.0f} s",
                )
            )
        samples = _in_own_process(ctx, _memory_child, settings, memory_s, rate)
        peak = max(m for _, m in samples)
        table.add(
            Row(
                f"RSS, consumer 10x slower than the feed, {memory_s / 60:g} min",
                f"{peak:.0f} MB peak, slope {slope_mb_per_min(samples):+.2f} MB/min",
                target="< 150 MB, flat",
                note=f"first {samples[0][1]:.0f} MB, last {samples[-1][1]:.0f} MB",
            )
        )
    finally:
        sim.kill()
