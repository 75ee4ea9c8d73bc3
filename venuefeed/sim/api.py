"""`simulate()`: the simulated venues for library users and plugin authors.

    import venuefeed
    from venuefeed.sim import simulate

    async with simulate(venuefeed.load_settings()) as settings:
        async with venuefeed.Engine(settings) as engine:
            async for event in engine.events():
                ...

It starts one loopback server per enabled venue (the same servers as `venuefeed run
--sim`: TLS, REST in pieces, frames late but in order, venues that check their client)
and yields the settings pointed at them, with each venue's `ca_file` set to the
simulator's certificate authority. Venues that are not simulated are disabled in the
yielded settings: a simulated run never reaches the internet. Leaving the block stops
the servers and removes the CA file.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

from venuefeed.core.errors import ConfigError
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings
from venuefeed.sim.cluster import SimCluster
from venuefeed.sim.realism import Realism


@contextlib.asynccontextmanager
async def simulate(
    settings: Settings,
    *,
    venues: Iterable[str] | None = None,
    plugins: PluginHost | None = None,
    realism: Realism | None = None,
    seed: int = 1,
    tick_s: float = 0.05,
) -> AsyncIterator[Settings]:
    """Simulate `venues` (default: every enabled venue of `settings`) while the block runs.

    `plugins` is the plugin host that knows the venues (default: the built-in venues and
    installed plugins; pass the same one to `Engine`). `realism` changes the simulated
    link (`venuefeed.sim.realism.Realism`), `seed` the synthetic markets, `tick_s` how
    often each market moves. Raises `ConfigError` for a venue without a simulator or when
    there is nothing to simulate."""
    host = plugins if plugins is not None else PluginHost()
    host.check_settings(settings)
    if venues is not None:
        names = list(venues)
    else:
        names = [name for name, table in settings.venues.items() if table.enabled]
    if not names:
        raise ConfigError("config error: nothing to simulate: no venue is enabled")
    cluster = SimCluster(
        {name: host.adapter(name) for name in names},
        {name: settings.symbols_for(name) for name in names},
        tick_s=tick_s,
        ping_s={name: settings.policy_for(name).heartbeat_interval_s for name in names},
        seed=seed,
        realism=realism,
    )
    async with cluster:
        data: dict[str, Any] = cluster.apply(settings).model_dump()
        for name, table in data["venues"].items():
            table["enabled"] = name in names
        yield Settings.model_validate(data)
