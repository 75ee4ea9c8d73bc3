"""Start one simulated venue per enabled plugin and point the settings at them."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from venuefeed.core.adapter import VenueAdapter
from venuefeed.core.errors import PluginError
from venuefeed.core.settings import Settings
from venuefeed.sim.market import SyntheticMarket
from venuefeed.sim.protocol import SimVenue
from venuefeed.sim.server import SimServer


def simulator_class(adapter: type[VenueAdapter]) -> type[SimVenue]:
    """Import the adapter's declared simulator encoder."""
    target = adapter.simulator
    if not target:
        raise PluginError(f"plugin error: venue {adapter.name!r} declares no simulator")
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"plugin error: {adapter.name}: simulator {target!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, SimVenue)):
        raise PluginError(f"plugin error: {adapter.name}: {target!r} is not a SimVenue")
    return cls


def base_symbols(symbols: Iterable[str]) -> list[str]:
    """Base assets for the synthetic markets (venue-native ids are reduced to their base)."""
    out: list[str] = []
    for s in symbols:
        base = s.upper()
        for suffix in ("-USD-PERP", "-USD", "USDT", "-PERP"):
            base = base.removesuffix(suffix)
        if base not in out:
            out.append(base)
    return out


class SimCluster:
    """The simulated venues of one engine run; `apply()` rewrites the settings' URLs."""

    def __init__(
        self,
        adapters: Mapping[str, type[VenueAdapter]],
        symbols: Mapping[str, Iterable[str]],
        *,
        tick_s: float = 0.05,
        slow_tick_s: float = 1.0,
        ping_s: float = 5.0,
        seed: int = 1,
    ) -> None:
        self.servers: dict[str, SimServer] = {}
        for name, adapter in adapters.items():
            markets = {s: SyntheticMarket(s, seed=seed) for s in base_symbols(symbols[name])}
            venue = simulator_class(adapter)(markets)
            self.servers[name] = SimServer(
                venue, tick_s=tick_s, slow_tick_s=slow_tick_s, ping_s=ping_s
            )

    async def __aenter__(self) -> SimCluster:
        for server in self.servers.values():
            await server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for server in self.servers.values():
            await server.stop()

    def apply(self, settings: Settings) -> Settings:
        data: dict[str, Any] = settings.model_dump()
        for name, server in self.servers.items():
            ws_url, rest_url = server.urls()
            table = data["venues"].setdefault(name, {})
            table.update(ws_url=ws_url, rest_url=rest_url)
            table["options"] = {**table.get("options", {}), **server.venue.options()}
        return Settings.model_validate(data)
