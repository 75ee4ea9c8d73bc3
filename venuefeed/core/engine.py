"""The engine: builds one runtime per enabled venue and owns every task it starts.

    Engine (TaskGroup, one task owned by the engine and awaited on exit)
      └─ Supervisor[venue] per venue -> VenueRunner (its own Supervisor for connections
                                        and pollers)

A venue's failure never reaches a sibling: each VenueRunner is supervised separately.
Only configuration and plugin errors, raised while the engine is built, end it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from types import TracebackType

from venuefeed.core.adapter import VenueAdapter, VenueContext
from venuefeed.core.board import Board
from venuefeed.core.errors import ConfigError, PluginError, VenuefeedError
from venuefeed.core.http import HttpServer
from venuefeed.core.logs import RateLimitedLog
from venuefeed.core.metrics import Metrics
from venuefeed.core.plugins import PluginHost
from venuefeed.core.publisher import Publisher, Subscription
from venuefeed.core.rest import RestClient
from venuefeed.core.runtime import VenueRuntime
from venuefeed.core.sessions import VenueSessions, tls_context
from venuefeed.core.settings import ConsumerPolicy, Settings
from venuefeed.core.sharding import owned_symbols, parse_shard
from venuefeed.core.supervisor import Supervisor
from venuefeed.core.venue import VenueRunner

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
    ) -> None:
        self.settings = settings
        self.http_listen = http_listen or settings.engine.http_listen
        self.plugins = plugins if plugins is not None else PluginHost()
        self.plugins.check_settings(settings)
        self.metrics = Metrics()
        self.publisher = Publisher(settings.engine, self.metrics)
        self.adapters = self._build_adapters(venues)
        self.runners: dict[str, VenueRunner] = {}
        self._tls = {
            name: tls_context(
                settings.venues[name].ca_file if name in settings.venues else None,
                where=f"venues.{name}.ca_file",
            )
            for name in self.adapters
        }
        self._sessions: list[VenueSessions] = []
        self._task: asyncio.Task[None] | None = None
        #: latest BBO/funding/mark per symbol, for /status and the terminal view
        self.board: Board | None = Board(self) if (board or self.http_listen) else None
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
            ctx = VenueContext(
                name=name,
                symbols=symbols,
                ws_url=ws_url,
                rest_url=rest_url,
                policy=settings.policy_for(name),
                options=dict(table.options),
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
        try:
            await self._start()
        except BaseException:
            await self._release()
            raise

    async def _start(self) -> None:
        for name, adapter in self.adapters.items():
            policy = adapter.ctx.policy
            sessions = VenueSessions(policy, self._tls[name])
            self._sessions.append(sessions)
            runtime = VenueRuntime(
                name=name,
                adapter=adapter,
                policy=policy,
                publisher=self.publisher,
                metrics=self.metrics,
                http=sessions.ws,
                rest=RestClient(sessions.rest, name, adapter.ctx.rest_url, policy),
                log=RateLimitedLog(
                    logging.getLogger(f"venuefeed.venue.{name}"),
                    window_s=self.settings.engine.log_repeat_s,
                ),
            )
            self.runners[name] = VenueRunner(runtime)
        if self.board is not None:
            self._board_events = self.publisher.subscribe("status-board")
        if self.http_listen is not None:
            assert self.board is not None
            self.http = HttpServer(self, self.board, self.http_listen)
            await self.http.start()
        self._task = asyncio.create_task(self._run(), name="venuefeed-engine")

    @property
    def running(self) -> bool:
        """The engine's task tree is up (for /healthz)."""
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as tg:
                for name, runner in self.runners.items():
                    supervisor = Supervisor(name, runner.runtime.policy, self.metrics)
                    tg.create_task(supervisor.keep("venue", runner.run), name=f"venue:{name}")
                if self.board is not None and self._board_events is not None:
                    board, events = self.board, self._board_events
                    supervisor = Supervisor("engine", self.settings.policy_for(""), self.metrics)
                    tg.create_task(supervisor.keep("board", lambda: board.run(events)))
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
        self.publisher.close()
        if self.http is not None:
            http, self.http = self.http, None
            await http.stop()
        sessions, self._sessions = self._sessions, []
        await asyncio.gather(*(s.close() for s in sessions))
