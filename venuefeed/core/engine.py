"""The engine: builds each enabled venue and owns every task it starts.

    Engine._run (TaskGroup; the task is owned by the engine and awaited in stop())
      ├─ Supervisor.keep("venue", VenueRunner.run)   per venue: start-up, connections, polls
      ├─ Supervisor.keep("board", Board.run)         when /status or the terminal view is on
      └─ Supervisor.keep("http", HttpServer.serve)   when http_listen is set

A venue's failure never reaches a sibling: each VenueRunner is supervised separately.
Only configuration and plugin errors, raised while the engine is built, end it. The
engine's health is a read model: `health()` collects each venue's frozen snapshot, and
`/readyz`, `/status`, `/metrics` and the terminal view judge those (`observe/health.py`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from venuefeed.core import gctune
from venuefeed.core.adapter import VenueAdapter, VenueContext
from venuefeed.core.clock import wall_ms
from venuefeed.core.errors import ConfigError, PluginError, VenuefeedError
from venuefeed.core.observe.board import Board
from venuefeed.core.observe.collector import EngineCollector, registry_for
from venuefeed.core.observe.health import VenueHealth, status_document
from venuefeed.core.observe.logs import RateLimitedLog
from venuefeed.core.observe.metrics import Metrics
from venuefeed.core.observe.server import HttpServer
from venuefeed.core.observe.statuslog import StatusLog
from venuefeed.core.plugins import PluginHost
from venuefeed.core.publishing.publisher import Publisher, Subscription
from venuefeed.core.settings import ConsumerPolicy, Policy, Settings
from venuefeed.core.sharding import owned_symbols, parse_shard
from venuefeed.core.supervisor import Supervisor
from venuefeed.core.transport.network import NetworkFactory, VenueSetup, live
from venuefeed.core.transport.pools import VenuePools, tls_context
from venuefeed.core.venue.runner import VenueRunner
from venuefeed.core.venue.services import VenueServices

logger = logging.getLogger(__name__)

_SHUTDOWN_TIMEOUT_S = 0.8


class Engine:
    """`async with Engine(settings) as engine: async for ev in engine.events(): ...`"""

    def __init__(
        self,
        settings: Settings,
        *,
        venues: Iterable[str] | None = None,
        plugins: PluginHost | None = None,
        http_listen: str | None = None,
        board: bool = False,
        network: NetworkFactory = live,
    ) -> None:
        self.settings = settings
        #: builds each venue's I/O: the network (default), recorded, or a replay
        self.network = network
        self.http_listen = http_listen or settings.engine.http_listen
        self.plugins = plugins if plugins is not None else PluginHost()
        self.plugins.check_settings(settings)
        self.metrics = Metrics()
        self.publisher = Publisher(settings.engine, self.metrics)
        #: each enabled venue's resolved policy (defaults <- its table <- env)
        self.policies: dict[str, Policy] = {}
        self.adapters = self._build_adapters(venues)
        self.runners: dict[str, VenueRunner] = {}
        self._tls = {
            name: tls_context(
                settings.venues[name].ca_file if name in settings.venues else None,
                where=f"venues.{name}.ca_file",
            )
            for name in self.adapters
        }
        self._pools: list[VenuePools] = []
        #: folds a failing stream's retries into a few lines (observe/statuslog.py)
        self._status_log = StatusLog(
            logging.getLogger("venuefeed.venue"), window_s=settings.engine.log_repeat_s
        )
        self._task: asyncio.Task[None] | None = None
        self._gc_held = False  # this engine holds the collector's settings (gctune)
        #: latest BBO/funding/mark per symbol, for /status and the terminal view
        self.board: Board | None = Board() if (board or self.http_listen) else None
        self._board_events: Subscription | None = None
        self.http: HttpServer | None = None
        #: more readiness for /readyz, name -> () -> (ready, detail): the bus sinks (issue 12)
        self.readiness_checks: dict[str, Callable[[], tuple[bool, str]]] = {}

    def _build_adapters(self, only: Iterable[str] | None) -> dict[str, VenueAdapter]:
        settings = self.settings
        enabled = [name for name, table in settings.venues.items() if table.enabled]
        if only is not None:
            wanted = list(only)
            for name in wanted:
                if name not in settings.venues:
                    self.plugins.adapter(name)  # unknown plugin -> ConfigError naming known ones
                    raise ConfigError(
                        f"config error: venue {name!r} has no [venues.{name}] table in the config"
                    )
            enabled = wanted
        adapters: dict[str, VenueAdapter] = {}
        shard = parse_shard(settings.engine.shard) if settings.engine.shard else None
        for name in enabled:
            symbols = owned_symbols(name, settings.symbols_for(name), shard)  # --shard I/N
            if not symbols:
                logger.info("%s: no symbol in shard %s; venue not started", name, shard)
                continue
            cls = self.plugins.adapter(name)
            table = settings.venues[name]
            ws_url = table.ws_url or cls.default_ws_url
            rest_url = table.rest_url or cls.default_rest_url
            if not ws_url:
                raise ConfigError(
                    f"config error: venues.{name}.ws_url is required (the plugin has no default)"
                )
            self.policies[name] = settings.policy_for(name)
            ctx = VenueContext(
                name=name,
                symbols=symbols,
                ws_url=ws_url,
                rest_url=rest_url,
                options=self.plugins.options(name, table.options),
            )
            try:
                adapters[name] = cls(ctx)
            except VenuefeedError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin error: {cls.__module__}.{cls.__qualname__}({name}): {exc!r}"
                ) from exc
        return adapters

    def events(
        self,
        name: str | None = None,
        queue_max: int | None = None,
        *,
        policy: ConsumerPolicy | None = None,
    ) -> Subscription:
        """A new consumer with its own bounded queue and overflow `policy` (default:
        `[engine] consumer_policy`), registered at once, so nothing published after this
        call is missed. Raises `ConsumerClosedError` once the engine is stopped."""
        return self.publisher.subscribe(name, queue_max, policy=policy)

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Build each venue's runtime and start the task tree. A failure here (the HTTP
        port is taken) releases everything already built before it propagates."""
        if self._task is not None:
            raise RuntimeError("engine already started")
        if not self.adapters:  # an engine with nothing to run would wait silently forever
            raise ConfigError(
                "config error: no venue to run (enable one in a [venues.<name>] table, "
                "or check --shard / venues=)"
            )
        try:
            await self._start()
        except BaseException:
            await self._release()
            raise

    async def _start(self) -> None:
        for name, adapter in self.adapters.items():
            policy = self.policies[name]
            pools = VenuePools(policy, self._tls[name])
            self._pools.append(pools)
            io = self.network(VenueSetup(name, adapter, policy, pools, self.metrics))
            services = VenueServices(
                name=name,
                adapter=adapter,
                policy=policy,
                publisher=self.publisher,
                metrics=self.metrics,
                io=io,
                rest=io.rest,
                clock=io.clock,
                log=RateLimitedLog(
                    logging.getLogger(f"venuefeed.venue.{name}"),
                    window_s=self.settings.engine.log_repeat_s,
                ),
                status_log=self._status_log,
            )
            io.attach(services.status)
            self.runners[name] = VenueRunner(services)
        if self.board is not None:
            self._board_events = self.publisher.subscribe("status-board")
        if self.http_listen is not None:
            collector = EngineCollector(self.metrics, self.health, self._queue_depths)
            self.http = HttpServer(
                self.http_listen,
                health=self.health,
                status=self.status,
                registry=registry_for(collector),
                alive=lambda: self.running,
                ready_venues=self.settings.engine.ready_venues,
                checks=self.readiness_checks,
            )
            await self.http.start()
        self._gc_held = gctune.hold(self.settings.engine.gc_threshold)
        self._task = asyncio.create_task(self._run(), name="venuefeed-engine")

    @property
    def running(self) -> bool:
        """The engine's task tree is up (for /healthz)."""
        return self._task is not None and not self._task.done()

    def health(self) -> dict[str, VenueHealth]:
        """Each venue's health snapshot (the read model behind every health answer)."""
        return {name: runner.health() for name, runner in self.runners.items()}

    def status(self) -> dict[str, Any]:
        """What `/status` and the terminal view show: health, prices, event rates."""
        board = self.board
        prices = board.prices() if board is not None else {}
        rates = board.rates() if board is not None else {}
        return status_document(self.health(), prices, rates, wall_ms())

    def _queue_depths(self) -> list[tuple[str, int]]:
        return [(sub.name, sub.depth) for sub in self.publisher.consumers]

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for name, runner in self.runners.items():
                    supervisor = Supervisor(name, runner.services.policy, self.metrics)
                    tg.create_task(supervisor.keep("venue", runner.run), name=f"venue:{name}")
                engine_tasks = Supervisor("engine", self.settings.default_policy, self.metrics)
                if self.board is not None and self._board_events is not None:
                    board, events = self.board, self._board_events
                    tg.create_task(engine_tasks.keep("board", lambda: board.run(events)))
                if self.http is not None:
                    tg.create_task(engine_tasks.keep("http", self.http.serve))
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                logger.critical("engine stopped: %r", exc)
                self.publisher.close(exc)
            raise

    async def wait(self) -> None:
        """Run until cancelled (or until a startup error ends the engine)."""
        if self._task is None:
            raise RuntimeError("engine not started")
        await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Cancel the task tree and wait for it (bounded), then release every resource.

        The engine's own cancellation is absorbed here; the caller's is not: a `stop()`
        that is itself cancelled still releases everything and then re-raises."""
        task, self._task = self._task, None
        try:
            if task is not None:
                task.cancel()
                # asyncio.wait neither raises the task's outcome nor hides our own
                # cancellation, unlike `await task` under suppress(CancelledError)
                done, _ = await asyncio.wait({task}, timeout=_SHUTDOWN_TIMEOUT_S)
                if not done:
                    logger.error("engine tasks did not stop within %.1fs", _SHUTDOWN_TIMEOUT_S)
                elif not task.cancelled() and task.exception() is not None:
                    logger.debug("engine task ended with %r", task.exception())
        finally:
            await self._release()

    async def _release(self) -> None:
        if self._gc_held:
            self._gc_held = False
            gctune.release()
        self.publisher.close()
        if self.http is not None:
            http, self.http = self.http, None
            await http.stop()
        pools, self._pools = self._pools, []
        await asyncio.gather(*(p.close() for p in pools))
