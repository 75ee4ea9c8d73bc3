"""The chaos faults slow_rest, latency and stuck_consumer, through the real engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from venuefeed.core.engine import Engine
from venuefeed.core.events import Book, Event, Funding, Status, Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.core.publishing.publisher import Subscription
from venuefeed.core.settings import Policy, Settings
from venuefeed.sim.chaos import (
    LATENCY_S,
    SLOW_REST_OF_TIMEOUT,
    STUCK_QUEUE_MAX,
    ChaosInjector,
    ChaosProfile,
    latency_range,
)
from venuefeed.sim.cluster import SimCluster
from venuefeed.sim.server import SimServer
from venuefeed.testing import check_fault, next_event

#: mark and funding frames every quarter second, as the conformance kit has them
SLOW_TICK_S = 0.25
FAST = {
    "stale_after_s": 1.0,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.2,
    "backoff_jitter": 0.0,
    "stable_after_s": 0.3,
    "heartbeat_interval_s": 0.5,
    "funding_poll_s": 0.2,
    "request_timeout_s": 1.0,
}


@asynccontextmanager
async def running(
    name: str, symbols: tuple[str, ...] = ("BTC", "ETH"), **policy: Any
) -> AsyncIterator[tuple[SimServer, Engine, ChaosInjector]]:
    host = PluginHost(builtin_modules=(f"venuefeed.plugins.{name}",), load_entry_points=False)
    settings = Settings.model_validate(
        {"defaults": {**FAST, **policy, "symbols": list(symbols)}, "venues": {name: {}}}
    )
    cluster = SimCluster({name: host.adapter(name)}, {name: symbols}, slow_tick_s=SLOW_TICK_S)
    async with cluster, Engine(cluster.apply(settings), plugins=host) as engine:
        server = cluster.servers[name]
        injector = ChaosInjector(
            {name: server}, ChaosProfile("test", stall_s=1.0, latency_s=0.5), engine=engine
        )
        try:
            yield server, engine, injector
        finally:
            injector.release()


async def read_until(sub: Subscription, done: Callable[[], bool], log: list[Event], within=10.0):
    """Read the engine's events (they are the clock) until `done()`."""
    while not done():
        await next_event(sub, lambda e: True, within=within, log=log)


def test_latency_is_a_slow_link_for_the_engines_policy():
    assert latency_range(Policy()) == LATENCY_S  # 10 s stale, 20 s pings: the full range
    low, high = latency_range(Policy(stale_after_s=0.6, heartbeat_interval_s=0.2))
    assert high == pytest.approx(0.15) and low == 0.05  # within half the 0.3 s ping deadline


async def test_slow_rest_times_out_one_request_and_the_next_polls_succeed():
    async with running("hyperliquid") as (server, engine, injector):
        sub = engine.events()
        seen: list[Event] = []
        await next_event(sub, lambda e: isinstance(e, Funding), log=seen)
        await injector.inject(server, "slow_rest")
        timeout = FAST["request_timeout_s"]
        assert server.faults.slow_rest == [share * timeout for share in SLOW_REST_OF_TIMEOUT]
        metrics = engine.metrics
        await read_until(sub, lambda: not server.faults.slow_rest, seen)
        polls = metrics.value("polls", venue="hyperliquid")
        # the body beyond the timeout failed its poll; the slow ones within it succeeded,
        # and polling goes on
        await read_until(
            sub, lambda: metrics.value("polls", venue="hyperliquid") >= polls + 2, seen
        )
        assert metrics.value("poll_failures", venue="hyperliquid") == 1
        await read_until(sub, lambda: server.rest_abandoned == 1, seen)
        assert metrics.value("reconnects", venue="hyperliquid") == 0


async def test_latency_delays_frames_without_reordering_or_reconnecting():
    # Lighter chains its book deltas (begin_nonce): one frame out of order is a resync
    async with running("lighter", heartbeat_interval_s=1.0) as (
        server,
        engine,
        injector,
    ):
        sub = engine.events()
        await next_event(sub, lambda e: isinstance(e, Book))
        lag = engine.runners["lighter"].services.lag
        before = sum(lag.counts[7:])  # receive lag of 250 ms and more
        await injector.inject(server, "latency")  # half a second of 50-500 ms per frame
        assert server.faults.latency is None
        assert sum(lag.counts[7:]) > before
        metrics = engine.metrics
        assert metrics.value("book_resyncs", venue="lighter") == 0
        assert metrics.value("reconnects", venue="lighter") == 0
        assert not server.client_drops


MANY = ("BTC", "ETH", "SOL", "DOGE")  # trades enough to fill a stuck queue within a second


async def test_stuck_consumers_cost_the_others_nothing():
    async with running("aster", MANY) as (server, engine, injector):
        sub = engine.events(queue_max=100_000)
        seen: list[Event] = []
        await next_event(sub, lambda e: isinstance(e, Book), log=seen)
        # two at once: the first keeps the gap policy, the second the evict policy
        await asyncio.gather(*(injector.inject(server, "stuck_consumer") for _ in range(2)))
        gapped, evicted = injector.stuck
        assert gapped.policy == "gap" and gapped.dropped > 0  # overflowed, stayed stuck
        # bounded: its history, one value per state key (book, bbo, mark) and one gap per
        # history key (trade, funding, status), per instrument, plus connection statuses
        assert not gapped.closed and gapped.depth <= STUCK_QUEUE_MAX + 6 * len(MANY) + 4
        assert evicted.policy == "evict" and evicted.closed
        assert engine.metrics.value("consumers_evicted") == 1
        windows = injector.log.windows["aster"]
        assert [kind for kind, _, _ in windows] == ["stuck_consumer"] * 2
        start_ms = min(start for _, start, _ in windows)
        end_ms = max(end for _, _, end in windows)
        assert end_ms - start_ms >= 1.25 * FAST["stale_after_s"] * 1000
        await read_until(sub, lambda: seen[-1].ts_recv >= end_ms, seen)
        # the venue stayed live while they were stuck: nothing left `live`, no reconnect
        during = [e for e in seen if isinstance(e, Status) and e.ts_recv >= start_ms]
        assert not [e for e in during if e.state != "live"]
        assert engine.metrics.value("reconnects", venue="aster") == 0
        # and this consumer lost nothing: every trade the venue wrote arrives
        server.faults.frozen = True
        sent = {(s, i) for s, ids in server.trades_sent.items() for i in ids}
        await read_until(sub, lambda: sent <= _trades(seen), seen)
        assert not [e for e in seen if e.kind == "gap"]


def _trades(events: list[Event]) -> set[tuple[str, int]]:
    return {(e.symbol, int(e.trade_id)) for e in events if isinstance(e, Trade)}


async def test_the_kit_fails_a_venue_that_reconnects_around_a_stuck_consumer(monkeypatch):
    stuck = ChaosInjector._stuck_consumer

    async def and_drop(self: ChaosInjector, server: SimServer, engine: Engine) -> None:
        server.drop_all()  # what readers made to wait for the stuck consumer would come to
        await stuck(self, server, engine)

    monkeypatch.setattr(ChaosInjector, "_stuck_consumer", and_drop)
    host = PluginHost(builtin_modules=("venuefeed.plugins.lighter",), load_entry_points=False)
    with pytest.raises(AssertionError, match="lighter/stuck_consumer: 1 reconnects"):
        await check_fault(host.adapter("lighter"), "stuck_consumer")
