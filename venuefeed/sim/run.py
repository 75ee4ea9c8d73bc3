"""`venuefeed run --sim`: simulated venues on loopback, optional chaos and a soak report."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from venuefeed.core.engine import Engine
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings
from venuefeed.sim.chaos import ChaosInjector, ChaosProfile
from venuefeed.sim.cluster import SimCluster
from venuefeed.sim.html_report import render_html
from venuefeed.sim.report import SoakObserver
from venuefeed.sim.server import Faults

logger = logging.getLogger(__name__)

#: frames above this are an error under simulation, so the chaos `oversized` fault (2 MiB)
#: exercises the cap without allocating the production default's 16 MiB.
SIM_MAX_FRAME_BYTES = 1024 * 1024


def engine_settings(cluster: SimCluster, settings: Settings) -> Settings:
    """`settings` for an engine against the started `cluster`: its URLs and CA, and the
    frame cap of a simulated run. `run --sim` and the standalone `venuefeed sim` (which
    writes these settings as a venues.toml) share it, so both engines see the same."""
    data: dict[str, Any] = cluster.apply(settings).model_dump()
    data["defaults"]["max_frame_bytes"] = min(
        data["defaults"]["max_frame_bytes"], SIM_MAX_FRAME_BYTES
    )
    return Settings.model_validate(data)


class SimRun:
    """Owns the cluster, the engine built against it, the chaos injector and the observer."""

    def __init__(
        self,
        settings: Settings,
        host: PluginHost,
        venues: Sequence[str] | None,
        profile: ChaosProfile,
        report_paths: Path | Sequence[Path] | None,
        checkpoint_s: float = 30.0,
        **engine_options: Any,
    ) -> None:
        self.engine_options = engine_options
        host.check_settings(settings)
        names = list(venues) if venues else [n for n, t in settings.venues.items() if t.enabled]
        self.names = names
        # each simulated venue's ping period is the one configured for it: the venues'
        # idle limits are counted in it (see sim/checks.py)
        self.cluster = SimCluster(
            {n: host.adapter(n) for n in names},
            {n: settings.symbols_for(n) for n in names},
            ping_s={n: settings.policy_for(n).heartbeat_interval_s for n in names},
        )
        self.settings = settings
        self.host = host
        self.profile = profile
        #: where the report goes: JSON, or the HTML page for a path ending in .html
        self.report_paths: tuple[Path, ...] = (
            ()
            if report_paths is None
            else (report_paths,)
            if isinstance(report_paths, Path)
            else tuple(report_paths)
        )
        self.checkpoint_s = checkpoint_s
        self.engine: Engine | None = None
        self.observer: SoakObserver | None = None
        self.injector = ChaosInjector(self.cluster.servers, profile)  # engine set on enter
        self.ok = True
        self.summary: list[str] = []
        self._started = time.time()

    async def __aenter__(self) -> Engine:
        await self.cluster.__aenter__()
        self.engine = Engine(
            engine_settings(self.cluster, self.settings),
            venues=self.names,
            plugins=self.host,
            **self.engine_options,
        )
        self.observer = SoakObserver(self.engine, self.cluster)
        self.injector.engine = self.engine
        for name, server in self.cluster.servers.items():
            logger.info("simulated %s on %s", name, server.http_url)
        return self.engine

    async def __aexit__(self, *exc: object) -> None:
        await self.cluster.__aexit__(*exc)

    def tasks(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        assert self.observer is not None
        return [self.observer.run, self.injector.run, self._checkpoints]

    async def _checkpoints(self) -> None:
        while True:
            await asyncio.sleep(self.checkpoint_s)
            await self._quiet_checkpoint()

    def _recovery_bound_s(self) -> float:
        """The longest a venue may need to be live again under its own policy."""
        assert self.engine is not None
        return 5.0 + max(
            (
                p.stale_after_s + p.backoff_max_s + p.connect_timeout_s
                for p in self.engine.policies.values()
            ),
            default=0.0,
        )

    async def _quiet_checkpoint(self) -> None:
        """Chaos off and pending faults cleared, venues live again, then compare books."""
        assert self.observer is not None
        self.injector.paused = True
        try:
            await self.injector.idle()
            for server in self.cluster.servers.values():
                server.faults = Faults()
            # one budget for both waits: a run whose venues cannot recover still ends
            # within its recovery bound of the planned time
            loop = asyncio.get_running_loop()
            bound = self._recovery_bound_s()
            logger.info("checkpoint: waiting up to %.0fs for live venues and true books", bound)
            deadline = loop.time() + bound
            await self.observer.wait_all_live(deadline - loop.time())
            await self.observer.checkpoint(max(1.0, deadline - loop.time()))
        finally:
            self.injector.paused = False

    async def finish(self, interrupted: bool = False) -> None:
        """Before the engine stops: a last checkpoint (skipped when the run was
        interrupted, so Ctrl-C stays prompt), then the report."""
        assert self.observer is not None
        if not interrupted:
            await self._quiet_checkpoint()
        self.injector.paused = True
        report = self.observer.build(self.injector.log, time.time() - self._started)
        if interrupted:
            report["interrupted"] = True
        self.ok = bool(report["ok"])
        for path in self.report_paths:
            if path.suffix.lower() in (".html", ".htm"):
                path.write_text(render_html(report))
            else:
                path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
            logger.info("soak report written to %s (ok=%s)", path, self.ok)
        # printed once, by whoever runs us (the CLI writes it after the run)
        self.summary = summary_lines(report)


def summary_lines(report: dict[str, Any]) -> list[str]:
    """One readable line per venue, for the terminal after a simulated run."""
    lines = []
    for name, venue in sorted(report["venues"].items()):
        recovery = venue["fault_to_fresh_data_s"]
        timing = (
            f"fault->data median {recovery['median']}s max {recovery['max']}s"
            if recovery["count"]
            else "no disruptive fault"
        )
        lines.append(
            f"{name:<12} {'ok  ' if venue['ok'] else 'FAIL'} "
            f"faults {sum(venue['faults_injected'].values()):>3}  "
            f"recoveries {venue['recoveries']:>3}  "
            f"trades {venue['trades_received']}/{venue['trades_sent']} "
            f"lost {venue['trades_lost']}  "
            f"books {venue['book_checks']} checked {venue['book_mismatches']} wrong  "
            f"not live {venue['seconds_not_live']:.1f}s  {timing}"
        )
        lines.extend(f"{'':<13}why: {problem}" for problem in venue.get("problems", ()))
    return lines
