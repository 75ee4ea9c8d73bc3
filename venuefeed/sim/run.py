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
from venuefeed.sim.report import SoakObserver
from venuefeed.sim.server import Faults

logger = logging.getLogger(__name__)

#: frames above this are an error under simulation, so the chaos `oversized` fault (2 MiB)
#: exercises the cap without allocating the production default's 16 MiB.
SIM_MAX_FRAME_BYTES = 1024 * 1024


class SimRun:
    """Owns the cluster, the engine built against it, the chaos injector and the observer."""

    def __init__(
        self,
        settings: Settings,
        host: PluginHost,
        venues: Sequence[str] | None,
        profile: ChaosProfile,
        report_path: Path | None,
        checkpoint_s: float = 30.0,
        **engine_options: Any,
    ) -> None:
        self.engine_options = engine_options
        host.check_settings(settings)
        names = list(venues) if venues else [n for n, t in settings.venues.items() if t.enabled]
        self.names = names
        self.cluster = SimCluster(
            {n: host.adapter(n) for n in names}, {n: settings.symbols_for(n) for n in names}
        )
        self.settings = settings
        self.host = host
        self.profile = profile
        self.report_path = report_path
        self.checkpoint_s = checkpoint_s
        self.engine: Engine | None = None
        self.observer: SoakObserver | None = None
        self.injector = ChaosInjector(self.cluster.servers, profile)  # engine set on enter
        self.ok = True
        self._started = time.time()

    async def __aenter__(self) -> Engine:
        await self.cluster.__aenter__()
        data: dict[str, Any] = self.cluster.apply(self.settings).model_dump()
        data["defaults"]["max_frame_bytes"] = min(
            data["defaults"]["max_frame_bytes"], SIM_MAX_FRAME_BYTES
        )
        self.engine = Engine(
            Settings.model_validate(data),
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
                a.ctx.policy.stale_after_s
                + a.ctx.policy.backoff_max_s
                + a.ctx.policy.connect_timeout_s
                for a in self.engine.adapters.values()
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
            bound = self._recovery_bound_s()
            await self.observer.wait_all_live(bound)
            await self.observer.checkpoint(bound)
        finally:
            self.injector.paused = False

    async def finish(self) -> None:
        """Before the engine stops: a last checkpoint, then the report."""
        assert self.observer is not None
        await self._quiet_checkpoint()
        self.injector.paused = True
        report = self.observer.build(self.injector.log, time.time() - self._started)
        self.ok = bool(report["ok"])
        text = json.dumps(report, indent=2, sort_keys=True)
        if self.report_path is not None:
            self.report_path.write_text(text + "\n")
            logger.info("soak report written to %s (ok=%s)", self.report_path, self.ok)
        for name, venue in report["venues"].items():
            logger.info(
                "%s: ok=%s faults=%s recoveries=%d trades %d/%d lost=%d books %d checked, "
                "%d wrong, %.1fs not live, fault->data median=%s max=%s",
                name,
                venue["ok"],
                sum(venue["faults_injected"].values()),
                venue["recoveries"],
                venue["trades_received"],
                venue["trades_sent"],
                venue["trades_lost"],
                venue["book_checks"],
                venue["book_mismatches"],
                venue["seconds_not_live"],
                venue["fault_to_fresh_data_s"]["median"],
                venue["fault_to_fresh_data_s"]["max"],
            )
