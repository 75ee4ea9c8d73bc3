"""HTTP endpoints inside the engine: /metrics (Prometheus), /healthz, /readyz, /status.

Metrics are collected at scrape time from the engine's own counters and state, so the
per-message path pays nothing for them. The server is a supervised engine task.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, get_args

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from venuefeed.core.board import Board, venue_live
from venuefeed.core.breaker import BreakerState
from venuefeed.core.errors import ConfigError
from venuefeed.core.events import StatusState

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from venuefeed.core.engine import Engine

logger = logging.getLogger(__name__)

PREFIX = "venuefeed_"
#: every state a connection can report (the Status event's own vocabulary)
STATES: tuple[str, ...] = get_args(StatusState)


class EngineCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        engine = self.engine
        snapshot = engine.metrics.snapshot()
        for name, series in sorted(snapshot.items()):
            if name in engine.metrics.gauge_names:
                continue
            labels = sorted({k for lbls in series for k, _ in lbls})
            family = CounterMetricFamily(
                f"{PREFIX}{name}", f"venuefeed {name.replace('_', ' ')}", labels=labels
            )
            for lbls, value in series.items():
                d = dict(lbls)
                family.add_metric([d.get(k, "") for k in labels], value)
            yield family
        state = GaugeMetricFamily(
            f"{PREFIX}stream_state",
            "1 for the current state of each connection",
            labels=["venue", "stream", "state"],
        )
        stale = CounterMetricFamily(
            f"{PREFIX}stale_seconds",
            "seconds a connection spent without data after failures",
            labels=["venue", "stream"],
        )
        backoff = GaugeMetricFamily(
            f"{PREFIX}backoff_delay_seconds", "current reconnect delay", labels=["venue", "stream"]
        )
        breaker = GaugeMetricFamily(
            f"{PREFIX}breaker_state",
            "1 for the breaker's current state",
            labels=["venue", "stream", "state"],
        )
        live = GaugeMetricFamily(
            f"{PREFIX}venue_live", "1 while every connection of the venue is live", labels=["venue"]
        )
        lag = HistogramMetricFamily(
            f"{PREFIX}receive_lag_seconds", "receive time minus venue time", labels=["venue"]
        )
        for name, runner in engine.runners.items():
            rt = runner.runtime
            live.add_metric([name], 1.0 if venue_live(runner) else 0.0)
            for conn in runner.connections:
                current = rt.states.get(conn.stream)
                for s in STATES:
                    state.add_metric(
                        [name, conn.stream, s], 1.0 if current and current.state == s else 0.0
                    )
                stale.add_metric([name, conn.stream], conn.seconds_not_live())
                delay = engine.metrics.value("backoff_delay_s", venue=name, stream=conn.stream)
                backoff.add_metric([name, conn.stream], delay)
                for b in BreakerState:
                    breaker.add_metric(
                        [name, conn.stream, b.value], 1.0 if conn.breaker.state is b else 0.0
                    )
            lag.add_metric([name], buckets=rt.lag.cumulative(), sum_value=rt.lag.sum_s)
        depth = GaugeMetricFamily(
            f"{PREFIX}queue_depth", "events waiting per consumer", labels=["consumer"]
        )
        for consumer in engine.publisher.consumers:
            depth.add_metric([consumer.name], consumer.depth)
        yield from (state, stale, backoff, breaker, live, lag, depth)


def registry_for(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(engine))
    ProcessCollector(registry=registry)  # process_resident_memory_bytes and friends
    return registry


class HttpServer:
    """Owns the aiohttp runner; `run()` serves until cancelled, then cleans up."""

    def __init__(self, engine: Engine, board: Board, listen: str) -> None:
        self.engine = engine
        self.board = board
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.registry = registry_for(engine)
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
            await self._runner.cleanup()
            raise ConfigError(
                f"config error: engine.http_listen {self.host}:{self.port}: {exc}"
            ) from None
        self.bound_port = int(self._runner.addresses[0][1])
        logger.info(
            "http: /metrics /healthz /readyz /status on http://%s:%d", self.host, self.bound_port
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(self, request: web.Request) -> web.Response:
        alive = self.engine.running
        return _json({"alive": alive}, 200 if alive else 503)

    async def readyz(self, request: web.Request) -> web.Response:
        ready, reasons = readiness(self.engine)
        return _json({"ready": ready, "reasons": reasons}, 200 if ready else 503)

    async def status(self, request: web.Request) -> web.Response:
        return _json(self.board.snapshot(), 200)


def readiness(engine: Engine) -> tuple[bool, list[str]]:
    wanted = engine.settings.engine.ready_venues or tuple(engine.runners)
    reasons: list[str] = []
    for name in wanted:
        runner = engine.runners.get(name)
        if runner is None:
            reasons.append(f"{name}: not running")
        elif not venue_live(runner):
            states = {s: st.state for s, st in runner.runtime.states.items() if s.startswith("ws:")}
            detail = ", ".join(f"{k}={v}" for k, v in states.items()) or "starting"
            reasons.append(f"{name}: not live ({detail})")
    for name, check in engine.readiness_checks.items():  # sinks (issue 12)
        ready, detail = check()
        if not ready:
            reasons.append(f"{name}: {detail}")
    return not reasons, reasons


def _json(data: Any, status: int) -> web.Response:
    return web.Response(
        text=json.dumps(data, default=str), status=status, content_type="application/json"
    )
