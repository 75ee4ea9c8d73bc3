"""Open the sinks `run` writes to: each one an engine consumer with its own queue.

Called before the engine starts, so a file that cannot be written, or a NATS server that
cannot be reached (or refuses our credentials), is one line and exit 2 before any venue
is contacted. The NATS sink is
imported only when one is configured: venuefeed without it never needs nats-py.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any

from venuefeed.sinks.jsonl import EventSource, JsonlSink
from venuefeed.sinks.spec import SinkSpec

if TYPE_CHECKING:
    from venuefeed.core.engine import Engine

SinkJob = Callable[[], Coroutine[Any, Any, None]]


async def open_sinks(
    engine: Engine,
    specs: list[SinkSpec],
    *,
    source: Callable[[str], EventSource] | None = None,
) -> list[SinkJob]:
    """One job per sink, to run in the caller's task group (each owns its cleanup).
    `source(name)` gives a JSON-lines sink its events (default: `engine.events`)."""
    jobs: list[SinkJob] = []
    for number, spec in enumerate(specs, start=1):
        if spec.kind == "jsonl":
            name = "sink" if number == 1 else f"sink-{number}"
            sink = JsonlSink(spec.target)
            sink.check()
            events = source(name) if source is not None else engine.events(name)
            jobs.append(partial(sink.run, events))
            continue
        from venuefeed.bus.connect import require_nats

        require_nats()
        from venuefeed.sinks.nats import NatsSink

        settings = engine.settings.engine
        bus = NatsSink(
            spec.target, settings.nats, engine.metrics, log_repeat_s=settings.log_repeat_s
        )
        await bus.start()
        jobs.append(partial(bus.run, bus.attach(engine)))
    return jobs
