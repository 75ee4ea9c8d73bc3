"""Start one simulated venue per enabled plugin and point the settings at them.

The cluster owns what its venues share: one certificate authority (`SimCertificates`,
made on entry, its PEM file removed on exit) that signs every venue's certificate, and
`apply()` writes that file into each simulated venue's `ca_file` so the engine verifies
the simulator like any venue.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from typing import Any

from venuefeed.core.adapter import VenueAdapter
from venuefeed.core.errors import PluginError
from venuefeed.core.settings import Settings
from venuefeed.sim.market import SyntheticMarket
from venuefeed.sim.protocol import SimVenue
from venuefeed.sim.realism import Realism
from venuefeed.sim.server import SimServer
from venuefeed.sim.tls import SimCertificates


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
    """The simulated venues of one engine run; `apply()` rewrites the settings' URLs.

    `ping_s` is the venues' ping period, one for all or per venue name: `run --sim` passes
    each venue's configured `heartbeat_interval_s`, the unit its idle limits scale with.
    `port_base` (0: any free port) puts the venues on consecutive ports from there, in the
    order of `adapters`, so a standalone simulator (`venuefeed sim`) can be found again.
    `slow_tick_s` is the cadence of the frames not tied to a book step (mark, funding):
    about a second on the real venues, shorter for a test whose thresholds are shorter.
    """

    def __init__(
        self,
        adapters: Mapping[str, type[VenueAdapter]],
        symbols: Mapping[str, Iterable[str]],
        *,
        tick_s: float = 0.05,
        slow_tick_s: float = 1.0,
        ping_s: float | Mapping[str, float] = 5.0,
        seed: int = 1,
        realism: Realism | None = None,
        port_base: int = 0,
    ) -> None:
        self.port_base = port_base
        self.realism = realism if realism is not None else Realism()
        self.servers: dict[str, SimServer] = {}
        self.certificates: SimCertificates | None = None
        for name, adapter in adapters.items():
            markets = {s: SyntheticMarket(s, seed=seed) for s in base_symbols(symbols[name])}
            venue = simulator_class(adapter)(markets)
            self.servers[name] = SimServer(
                venue,
                tick_s=tick_s,
                slow_tick_s=slow_tick_s,
                ping_s=ping_s if isinstance(ping_s, float | int) else ping_s.get(name, 5.0),
                realism=self.realism,
                seed=seed,
            )

    @property
    def ca_file(self) -> str | None:
        """The PEM file of the cluster's CA while it runs with TLS."""
        return None if self.certificates is None else str(self.certificates.ca_file)

    async def __aenter__(self) -> SimCluster:
        if self.realism.tls:
            self.certificates = SimCertificates()
            for server in self.servers.values():
                server.certificates = self.certificates
        try:
            for number, server in enumerate(self.servers.values()):
                await server.start(self.port_base + number if self.port_base else 0)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            for server in self.servers.values():
                await server.stop()
        finally:
            certificates, self.certificates = self.certificates, None
            if certificates is not None:
                certificates.close()

    def apply(self, settings: Settings) -> Settings:
        """`settings` with each simulated venue's URLs (and CA, under TLS) pointing here."""
        if any(server.port == 0 for server in self.servers.values()):
            raise RuntimeError("SimCluster.apply() needs the cluster started (async with)")
        data: dict[str, Any] = settings.model_dump()
        for name, server in self.servers.items():
            ws_url, rest_url = server.urls()
            table = data["venues"].setdefault(name, {})
            table.update(ws_url=ws_url, rest_url=rest_url, ca_file=self.ca_file)
            table["options"] = {**table.get("options", {}), **server.venue.options()}
        return Settings.model_validate(data)
