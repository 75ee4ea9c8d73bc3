"""HTTP endpoints inside the engine: /metrics (Prometheus), /healthz, /readyz, /status.

Every answer is computed when asked, from the health read model and the engine's
counters, so the per-message path pays nothing for them. `start()` binds (a taken port
is a start-up error, not a retry loop); `serve()` is the engine task that owns the
server while it runs, under the engine's supervisor, and cleans it up when cancelled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from venuefeed.core.endpoints import parse_host_port
from venuefeed.core.errors import ConfigError
from venuefeed.core.observe.collector import HealthSource
from venuefeed.core.observe.health import ReadinessCheck, readiness

logger = logging.getLogger(__name__)


class HttpServer:
    def __init__(
        self,
        listen: str,
        *,
        health: HealthSource,
        status: Callable[[], dict[str, Any]],
        registry: CollectorRegistry,
        alive: Callable[[], bool],
        ready_venues: Sequence[str] | None,
        checks: Mapping[str, ReadinessCheck] | None = None,
    ) -> None:
        try:
            self.host, self.port = parse_host_port(listen)
        except ValueError as exc:
            raise ConfigError(f"config error: http listen address {listen!r}: {exc}") from None
        self._health = health
        self._status = status
        self._registry = registry
        self._alive = alive
        self._ready_venues = ready_venues
        self._checks = checks
        self.bound_port = 0
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/status", self.status)
        return app

    async def start(self) -> None:
        """Bind now, so a taken port is a start-up error rather than a retry loop."""
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self.stop()
            raise ConfigError(
                f"config error: engine.http_listen {self.host}:{self.port}: {exc}"
            ) from None
        self.bound_port = int(self._runner.addresses[0][1])
        logger.info(
            "http: /metrics /healthz /readyz /status on http://%s:%d", self.host, self.bound_port
        )

    async def serve(self) -> None:
        """Own the bound server until cancelled (a supervised engine task)."""
        try:
            if self._runner is None:  # restarted by the supervisor after a stop
                await self.start()
            await asyncio.Event().wait()
        finally:
            await self.stop()

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self._registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(self, request: web.Request) -> web.Response:
        alive = self._alive()
        return _json({"alive": alive}, 200 if alive else 503)

    async def readyz(self, request: web.Request) -> web.Response:
        ready, reasons = readiness(self._health(), self._ready_venues, self._checks)
        return _json({"ready": ready, "reasons": reasons}, 200 if ready else 503)

    async def status(self, request: web.Request) -> web.Response:
        return _json(self._status(), 200)


def _json(data: Any, status: int) -> web.Response:
    return web.Response(
        text=json.dumps(data, default=str), status=status, content_type="application/json"
    )
