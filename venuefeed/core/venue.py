"""One venue's life: init (retried forever), symbol resolution, then its supervised tasks.

VenueRunner.run
  ├─ init requests   tenacity: exponential backoff with jitter, never gives up
  ├─ resolve symbols unknown ones are an error for that symbol only
  └─ Supervisor      one ConnectionRunner per ConnectionSpec + the funding Poller
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from venuefeed.core.adapter import Instrument, RestRequest, Resync
from venuefeed.core.backoff import RETRY_AFTER_MAX_S, Backoff
from venuefeed.core.books import BookKeeper
from venuefeed.core.connection import ConnectionRunner
from venuefeed.core.errors import RestError, UnknownSymbolError
from venuefeed.core.events import Event
from venuefeed.core.runtime import VenueRuntime
from venuefeed.core.supervisor import Child, Supervisor

logger = logging.getLogger(__name__)


class VenueRunner:
    def __init__(self, runtime: VenueRuntime) -> None:
        self.runtime = runtime
        self.connections: list[ConnectionRunner] = []

    async def run(self) -> None:
        rt = self.runtime
        self.connections = []  # a restarted runner starts over: no ghosts in health reports
        await self._init()
        rt.instruments = await self._resolve()
        rt.symbols = {i.instrument: i.symbol for i in rt.instruments}
        if not rt.instruments:
            rt.status("venue", "error", "no configured symbol is listed by the venue")
            await asyncio.Event().wait()  # nothing to stream; stay visible as an error
        adapter = rt.adapter
        rt.books = BookKeeper(
            venue=rt.name,
            continuity=adapter.continuity,
            rest_snapshots=adapter.resync is Resync.REST_SNAPSHOT,
            depth=rt.policy.book_depth,
            symbols=rt.symbols,
            bbo_from_book=adapter.bbo_from_book,
        )
        children: dict[str, Child] = {}
        for spec in adapter.connections(rt.instruments):
            conn = ConnectionRunner(rt, spec)
            self.connections.append(conn)
            children[conn.stream] = conn.run
        polls = adapter.poll_requests(rt.instruments)
        if polls:
            children["poll:funding"] = Poller(rt, polls).run
        await Supervisor(rt.name, rt.policy, rt.metrics).run(children)

    async def _init(self) -> None:
        rt = self.runtime
        requests = rt.adapter.init_requests()
        if not requests:
            return
        backoff = Backoff(
            rt.policy.model_copy(
                update={
                    "backoff_max_s": max(rt.policy.init_retry_max_s, rt.policy.backoff_initial_s)
                }
            )
        )

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome is not None else None
            return backoff.next_delay(exc.retry_after_s if isinstance(exc, RestError) else None)

        retrying = AsyncRetrying(
            wait=wait,
            retry=retry_if_exception_type(RestError),
            before_sleep=self._init_failed,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                for request in requests:
                    await self._run_init(request)
        logger.info("%s: init done (%d requests)", rt.name, len(requests))

    async def _run_init(self, request: RestRequest) -> None:
        for item in await self.runtime.rest.fetch(request):
            if isinstance(item, Event):
                self.runtime.publisher.offer(item)

    async def _init_failed(self, state: RetryCallState) -> None:
        rt = self.runtime
        rt.metrics.inc("init_failures", venue=rt.name)
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else None
        rt.status("init", "init_failed", f"attempt {state.attempt_number}: {exc}", delay_s=delay)

    async def _resolve(self) -> list[Instrument]:
        rt = self.runtime
        found: list[Instrument] = []
        for symbol in rt.adapter.ctx.symbols:
            try:
                found.append(rt.adapter.resolve(symbol))
            except UnknownSymbolError as exc:
                rt.metrics.inc("unknown_symbols", venue=rt.name)
                rt.status(f"symbol:{symbol}", "error", str(exc), symbol=symbol)
        return found


class Poller:
    """Funding (and mark) REST polls every `funding_poll_s`; survives every error, and
    waits longer when the venue says `Retry-After`."""

    def __init__(self, runtime: VenueRuntime, requests: Sequence[RestRequest]) -> None:
        self.runtime = runtime
        self.requests = requests

    async def run(self) -> None:
        rt = self.runtime
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            retry_after: float | None = None
            for request in self.requests:
                retry_after = await self.poll_once(request)
                if retry_after is not None:
                    break  # the venue asked us to back off: the rest of this round waits too
            wait = rt.policy.funding_poll_s - (loop.time() - started)
            if retry_after is not None:  # counted from the answer, as Retry-After means
                wait = max(wait, min(retry_after, RETRY_AFTER_MAX_S))
            await asyncio.sleep(max(0.0, wait))

    async def poll_once(self, request: RestRequest) -> float | None:
        """One poll; returns the venue's Retry-After when it asked for one."""
        rt = self.runtime
        try:
            results = await rt.rest.fetch(request)
        except RestError as exc:
            rt.metrics.inc("poll_failures", venue=rt.name, request=request.name)
            rt.log.log(logging.WARNING, f"poll:{request.name}", "%s (will poll again)", exc)
            return exc.retry_after_s
        rt.metrics.inc("polls", venue=rt.name, request=request.name)
        for item in results:
            if isinstance(item, Event):
                rt.publisher.offer(item)
            else:  # polls feed events only; anything else is a plugin bug, said out loud
                rt.metrics.inc("poll_unexpected_results", venue=rt.name, request=request.name)
                rt.log.log(
                    logging.WARNING,
                    f"poll-result:{request.name}",
                    "%s: poll %s returned %s, which polls cannot deliver; not published",
                    rt.name,
                    request.name,
                    type(item).__name__,
                )
        return None
