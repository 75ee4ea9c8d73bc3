"""`venuefeed sim`: the simulated venues as a process of their own, for engines elsewhere.

`run --sim` keeps the simulator inside the engine's process, which is right for one
engine and wrong for several: shards and redundant engines must all see one market, as
they would on a real venue. This serves the same `SimCluster` until stopped (SIGINT or
SIGTERM: exit 0; or after `duration_s`) and writes a venues.toml that points engines at
it, built by `engine_settings()` exactly as `run --sim` builds its engine's settings.

Every client sees the same market: each venue server owns one `SyntheticMarket` per
symbol, stepped once per tick by the server's single ticker and fanned out to every open
connection (`SimServer._tick_loop`), and REST answers (backfill, snapshots) read the same
markets. Trade ids are the market's, so two engines receive the same ids.

On exit `trades_out` (if set) gets every trade each market made (the last `KEPT_TRADES`
per market), with the wall-clock ms
it was made at, and the faults injected: a harness (`make cluster-demo`) compares what
consumers received against it over a window of its choosing. Trades are listed whether
or not a client was subscribed when they happened, as a venue's trade happens anyway; a
client that was not there catches up by backfill.

The written config is valid while this process runs: its `ca_file` (the simulator's CA,
made at start-up) is removed on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from venuefeed.config_view import toml_value
from venuefeed.core.errors import ConfigError, StartupError
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings
from venuefeed.sim.chaos import ChaosInjector, ChaosProfile
from venuefeed.sim.cluster import SimCluster
from venuefeed.sim.run import engine_settings

logger = logging.getLogger(__name__)

#: faults that act on an engine in the simulator's process; a standalone simulator has none
ENGINE_SIDE_FAULTS = frozenset({"poison", "slow_consumer", "stuck_consumer"})


@dataclasses.dataclass(frozen=True)
class SimOptions:
    """What `venuefeed sim` was asked for (validated by the CLI, except what needs I/O)."""

    config_out: Path
    profile: ChaosProfile
    venues: Sequence[str] | None = None
    duration_s: float | None = None
    port_base: int = 0
    trades_out: Path | None = None


def check_writable(path: Path, option: str) -> None:
    """One line and exit 2 now, rather than after a run, when `path` cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise StartupError(f"usage error: {option} {path}: cannot write a file there")


class StandaloneSim:
    """The cluster of simulated venues, its chaos, and the files it writes."""

    def __init__(self, settings: Settings, host: PluginHost, options: SimOptions) -> None:
        host.check_settings(settings)
        names = list(options.venues or (n for n, t in settings.venues.items() if t.enabled))
        unknown = sorted(set(names) - set(settings.venues))
        if unknown:
            raise ConfigError(
                f"usage error: --venues: {', '.join(unknown)} not in the config "
                f"(configured: {', '.join(settings.venues)})"
            )
        if not names:
            raise ConfigError("config error: nothing to simulate: no venue is enabled")
        check_writable(options.config_out, "--write-config")
        if options.trades_out is not None:
            check_writable(options.trades_out, "--trades")
        if options.port_base and options.port_base + len(names) > 65536:
            raise StartupError(f"usage error: --port-base {options.port_base}: too high")
        self.settings = settings
        self.options = options
        self.names = names
        self.cluster = SimCluster(
            {n: host.adapter(n) for n in names},
            {n: settings.symbols_for(n) for n in names},
            ping_s={n: settings.policy_for(n).heartbeat_interval_s for n in names},
            port_base=options.port_base,
        )
        skipped = set(options.profile.faults) & ENGINE_SIDE_FAULTS
        if skipped:
            logger.warning(
                "chaos: %s act on an engine in this process; a standalone simulator skips them",
                ", ".join(sorted(skipped)),
            )
        faults = tuple(f for f in options.profile.faults if f not in ENGINE_SIDE_FAULTS)
        self.injector = ChaosInjector(
            self.cluster.servers, dataclasses.replace(options.profile, faults=faults)
        )
        self.started_ms = 0

    async def serve(self, stop: asyncio.Event, announce: Callable[[str], None]) -> None:
        """Serve until `stop` is set or `duration_s` passed; write the files."""
        try:
            await self.cluster.__aenter__()
        except OSError as exc:
            where = f"--port-base {self.options.port_base}: " if self.options.port_base else ""
            raise StartupError(f"usage error: {where}cannot listen: {exc.strerror}") from None
        self.started_ms = time.time_ns() // 1_000_000
        try:
            write_atomically(self.options.config_out, self.venues_toml())
            announce(self.where())
            async with asyncio.TaskGroup() as tg:
                chaos = tg.create_task(self.injector.run())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.options.duration_s):
                        await stop.wait()
                chaos.cancel()
        finally:
            try:
                if self.options.trades_out is not None:
                    write_atomically(self.options.trades_out, json.dumps(self.made()) + "\n")
                    logger.info("sim: trades written to %s", self.options.trades_out)
            finally:
                await self.cluster.__aexit__()

    def where(self) -> str:
        """The one line that says where the venues listen and where the config is."""
        servers = self.cluster.servers
        ports = " ".join(f"{name}={s.port}" for name, s in servers.items())
        scheme = "TLS" if self.cluster.ca_file else "plain"
        return (
            f"venuefeed sim: {len(servers)} venues on 127.0.0.1 ({scheme}) {ports}; "
            f"config: {self.options.config_out}"
        )

    def venues_toml(self) -> str:
        """The venue tables an engine needs to reach this simulator, as TOML."""
        applied = engine_settings(self.cluster, self.settings)
        lines = [
            f"# written by `venuefeed sim` (pid {os.getpid()}): simulated venues on loopback,",
            "# valid while that process runs (it removes the CA file on exit).",
            "[defaults]",
            f"max_frame_bytes = {applied.defaults.max_frame_bytes}",
        ]
        for name in self.names:
            table = applied.venues[name]
            values: dict[str, Any] = {
                "enabled": True,
                "symbols": list(self.settings.symbols_for(name)),
                "ws_url": table.ws_url,
                "rest_url": table.rest_url,
                "ca_file": table.ca_file,
                # the simulated venue pings at this period and scales its idle limit by it
                "heartbeat_interval_s": self.settings.policy_for(name).heartbeat_interval_s,
            }
            lines += ["", f"[venues.{name}]"]
            lines += [f"{k} = {toml_value(v)}" for k, v in values.items() if v is not None]
            if table.options:
                lines += [f"[venues.{name}.options]"]
                lines += [f"{k} = {toml_value(v)}" for k, v in table.options.items()]
        return "\n".join(lines) + "\n"

    def made(self) -> dict[str, Any]:
        """Every trade each market made ([id, wall ms] per symbol) and the faults injected."""
        return {
            "started_ms": self.started_ms,
            "stopped_ms": time.time_ns() // 1_000_000,
            "trades": {
                name: {
                    symbol: [[t.trade_id, t.ts_ms] for t in market.trades.values()]
                    for symbol, market in server.venue.markets.items()
                }
                for name, server in self.cluster.servers.items()
            },
            "faults": {
                name: [list(span) for span in spans]
                for name, spans in self.injector.log.times.items()
            },
        }


def write_atomically(path: Path, text: str) -> None:
    """Write then rename, so a process waiting for the file never reads half of it."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text)
        partial.replace(path)
    except OSError as exc:
        raise StartupError(f"usage error: cannot write {path}: {exc.strerror}") from None


async def serve_until_signalled(sim: StandaloneSim, announce: Callable[[str], None]) -> None:
    """`sim.serve()` with SIGINT and SIGTERM as the way to stop it cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        await sim.serve(stop, announce)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
