"""Replaying a recording through the engine: `venuefeed replay DIR` and the library.

    from venuefeed.record import Replay

    replay = Replay(Path("rec"), speed=None)            # None: as fast as it goes
    async with replay.engine as engine:
        events = engine.events()
        await replay.play()                              # returns when the tape ends
    # `events` then yields what is left, and ends

The engine is the one `run` uses (same plugin parsers, book keeper with REST snapshot
resyncs, trade deduplication and backfill, publisher), built from the venues' recorded
set-up, with `ReplayIO` as its network: frames, REST answers and wall time come from the
recording (`tape.py`). Decisions the live engine took on timers are the recording's: a
session ends where it ended live (the replay's stale, subscribe and ping deadlines are
off), polls happen where they happened, and waits between retries are cut short.
`replay_events()` does all of it and returns the events.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from venuefeed.core.engine import Engine
from venuefeed.core.errors import ConfigError
from venuefeed.core.events import AnyEvent
from venuefeed.core.plugins import PluginHost
from venuefeed.core.publishing.publisher import Subscription
from venuefeed.core.settings import Settings
from venuefeed.core.transport.network import VenueIO, VenueSetup
from venuefeed.record.format import Traffic, Venue
from venuefeed.record.reader import read_setup, traffic
from venuefeed.record.replay_io import ReplayIO
from venuefeed.record.tape import Tape

#: the recording, not the replay's timers, ends sessions and paces retries
REPLAY_POLICY: dict[str, Any] = {
    "stale_after_s": 1e9,
    "quiet_stale_after_s": 1e9,
    "subscribe_timeout_s": 1e9,
    "heartbeat_interval_s": 1e9,
    "backoff_initial_s": 0.001,
    "backoff_max_s": 0.001,
    "backoff_jitter": 0.0,
    "init_retry_max_s": 0.001,
    "breaker_failures": 1_000_000,
    "fallback_poll_s": 0.0,
}


def replay_settings(setups: dict[str, Venue]) -> Settings:
    """Settings that build each recorded venue as it was built live."""
    venues: dict[str, Any] = {}
    for name, setup in setups.items():
        venues[name] = {
            **setup.policy,
            **REPLAY_POLICY,
            "enabled": True,
            "symbols": list(setup.symbols),
            "ws_url": setup.ws_url,
            "rest_url": setup.rest_url,
            "options": setup.options,
        }
    return Settings.model_validate({"engine": {"consumer_policy": "lossless"}, "venues": venues})


class Replay:
    """One replay of the recording in `directory`; `engine` is built, not started."""

    def __init__(
        self,
        directory: Path,
        *,
        speed: float | None = None,
        venues: Iterable[str] | None = None,
        to_ms: int | None = None,
        plugins: PluginHost | None = None,
        wait_s: float = 5.0,
    ) -> None:
        if speed is not None and speed <= 0:
            raise ConfigError(f"usage error: --speed {speed}: must be > 0 (or max)")
        setups = read_setup(directory)
        if venues is not None:
            wanted = list(venues)
            missing = [name for name in wanted if name not in setups]
            if missing:
                raise ConfigError(
                    f"config error: --venues: {', '.join(missing)} not in the recording "
                    f"(it has {', '.join(setups)})"
                )
            setups = {name: setups[name] for name in wanted}
        self.directory = directory
        self.venues = list(setups)
        self.tape = Tape(
            _only(traffic(directory), set(setups)),
            speed=speed,
            to_ns=None if to_ms is None else (to_ms + 1) * 1_000_000 - 1,  # all of that ms
            wait_s=wait_s,
        )
        self.engine = Engine(
            replay_settings(setups), venues=self.venues, plugins=plugins, network=self.network
        )

    def network(self, setup: VenueSetup) -> VenueIO:
        return ReplayIO(setup, self.tape)

    async def play(self) -> None:
        """Play the whole tape through the (started) engine."""
        await self.tape.play()


class Since:
    """A consumer's events without those stamped before `from_ms` (`replay --from`): the
    engine replays from the start, so books and trade memory are whole at `from_ms`."""

    def __init__(self, events: Subscription, from_ms: int) -> None:
        self._events = events
        self._from_ms = from_ms

    def __aiter__(self) -> Since:
        return self

    async def __anext__(self) -> AnyEvent:
        while True:
            event = await anext(self._events)
            if event.ts_recv >= self._from_ms:
                return event

    def get_nowait(self) -> AnyEvent | None:
        while (event := self._events.get_nowait()) is not None:
            if event.ts_recv >= self._from_ms:
                return event
        return None

    def close(self) -> None:
        self._events.close()


def _only(records: Iterator[Traffic], venues: set[str]) -> Iterator[Traffic]:
    for record in records:
        if getattr(record, "venue", None) in venues or not hasattr(record, "venue"):
            yield record


@dataclass
class ReplayResult:
    events: list[AnyEvent] = field(default_factory=list)
    #: records the replay could not place, by kind (0 when it matched the recording)
    skipped: dict[str, int] = field(default_factory=dict)
    #: gap marks in the recording
    gaps: int = 0


async def replay_events(directory: Path, **options: Any) -> ReplayResult:
    """Replay `directory` as fast as it goes and return every event it published."""
    replay = Replay(directory, **options)
    result = ReplayResult()
    async with replay.engine as engine:
        events = engine.events("replay", policy="lossless")
        await replay.play()
    result.events = [event async for event in events]
    result.skipped = dict(replay.tape.skipped)
    result.gaps = replay.tape.gaps
    return result
