"""`venuefeed tail`: the bus as JSON lines, until `--duration`, Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

from venuefeed.bus.subscriber import Start, subscribe
from venuefeed.core.bus_settings import NatsSettings
from venuefeed.sinks.jsonl import JsonlSink

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TailOptions:
    url: str
    kinds: tuple[str, ...] | None
    venues: tuple[str, ...] | None
    symbols: tuple[str, ...] | None
    start: Start
    durable: str | None
    duration: float | None
    target: str  # a path or "-"


async def run_tail(options: TailOptions, settings: NatsSettings) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    events = subscribe(
        options.url,
        kinds=options.kinds,
        venues=options.venues,
        symbols=options.symbols,
        start=options.start,
        durable=options.durable,
        settings=settings,
    )
    async with events, asyncio.TaskGroup() as tg:
        logger.info("tailing %s", options.url)
        writer = tg.create_task(JsonlSink(options.target).run(events))
        stopper = tg.create_task(_wait(stop, options.duration))
        done, _ = await asyncio.wait({writer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        writer.cancel()
        stopper.cancel()
        if writer in done and not writer.cancelled() and writer.exception() is not None:
            raise writer.exception()  # type: ignore[misc]
    logger.info(
        "stopped: %d messages received, %d older books suppressed",
        events.received,
        events.arbiter.suppressed if events.arbiter else 0,
    )


async def _wait(stop: asyncio.Event, duration: float | None) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(duration):
            await stop.wait()
