"""An engine with a NATS sink against simulated venues, all in the test's event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from venuefeed.core.engine import Engine
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings
from venuefeed.sim.cluster import SimCluster
from venuefeed.sinks.nats import NatsSink

FAST = {
    "stale_after_s": 2.0,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.3,
    "stable_after_s": 0.5,
    "funding_poll_s": 1.0,
}


@dataclass
class Rig:
    engine: Engine
    sink: NatsSink
    cluster: SimCluster

    def sent(self) -> dict[tuple[str, str], set[int]]:
        """(venue, symbol) -> trade ids the simulated venues put on the wire."""
        return {
            (venue, symbol): set(ids)
            for venue, server in self.cluster.servers.items()
            for symbol, ids in server.trades_sent.items()
        }


@contextlib.asynccontextmanager
async def sim_engine(
    url: str,
    *,
    nats: dict[str, Any] | None = None,
    venues: Sequence[str] = ("hyperliquid",),
    symbols: Sequence[str] = ("BTC", "ETH"),
    tick_s: float = 0.05,
) -> AsyncIterator[Rig]:
    host = PluginHost(
        builtin_modules=tuple(f"venuefeed.plugins.{v}" for v in venues), load_entry_points=False
    )
    settings = Settings.model_validate(
        {
            "defaults": {**FAST, "symbols": list(symbols)},
            "engine": {"nats": {"ack_timeout_s": 1.0, "reconnect_wait_s": 0.1, **(nats or {})}},
            "venues": {v: {} for v in venues},
        }
    )
    cluster = SimCluster(
        {v: host.adapter(v) for v in venues}, {v: list(symbols) for v in venues}, tick_s=tick_s
    )
    async with cluster:
        engine = Engine(cluster.apply(settings), plugins=host)
        sink = NatsSink(url, engine.settings.engine.nats, engine.metrics, log_repeat_s=1.0)
        await sink.start()
        events = sink.attach(engine)
        async with engine, asyncio.TaskGroup() as tg:
            task = tg.create_task(sink.run(events))
            try:
                yield Rig(engine, sink, cluster)
            finally:
                task.cancel()
