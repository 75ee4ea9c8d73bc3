"""Chaos profiles: which faults to inject into simulated venues, and when.

A profile is declarative (TOML) and names fault kinds with a mean interval; the injector
picks a fault kind and a venue at random (seeded) times. Built-in profiles: `none`,
`light`, `heavy`. A user profile file looks like:

    [profiles.mine]
    interval_s = 5.0                       # mean seconds between faults, per venue
    faults = ["disconnect", "gap", "stall"]
    stall_s = 2.0                          # how long stalls last
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from venuefeed.core.adapter import Parsed, VenueAdapter
from venuefeed.core.engine import Engine
from venuefeed.core.errors import ConfigError
from venuefeed.sim.server import SimServer

logger = logging.getLogger(__name__)

#: faults that break the connection or its data flow (their recovery time is measured).
DISRUPTIVE = frozenset(
    {
        "disconnect",
        "close_silence",
        "stall",
        "total_stall",
        "oversized",
        "delta_first",
        "refuse_429",
        "refuse_503",
        "connect_hang",
        "poison",
    }
)
ALL_FAULTS = (
    "disconnect",
    "close_silence",
    "stall",
    "total_stall",
    "malformed",
    "binary",
    "oversized",
    "unknown",
    "gap",
    "duplicate",
    "reorder",
    "delta_first",
    "refuse_429",
    "refuse_503",
    "connect_hang",
    "rest_failures",
    "poison",
    "slow_consumer",
)


@dataclass(frozen=True)
class ChaosProfile:
    name: str
    interval_s: float = 0.0  # 0: no faults
    faults: tuple[str, ...] = ()
    stall_s: float = 3.0
    oversized_bytes: int = 2 * 1024 * 1024


BUILTIN: dict[str, ChaosProfile] = {
    "none": ChaosProfile("none"),
    "light": ChaosProfile(
        "light",
        interval_s=60.0,
        faults=(
            "disconnect",
            "malformed",
            "binary",
            "unknown",
            "gap",
            "duplicate",
            "rest_failures",
        ),
    ),
    # every fault kind, about one a minute per venue (the default policy's 30 s stable period
    # passes between faults, so each recovery starts from the initial backoff); stalls
    # outlast the default 10 s stale threshold so the watchdog must act
    "heavy": ChaosProfile("heavy", interval_s=45.0, faults=ALL_FAULTS, stall_s=12.0),
}


def load_profile(name: str, path: str | Path | None = None) -> ChaosProfile:
    """A built-in profile, or `[profiles.<name>]` from a TOML file."""
    if path is None:
        if name not in BUILTIN:
            raise ConfigError(
                f"config error: --chaos {name!r}: unknown profile; built-in: {', '.join(BUILTIN)}"
            )
        return BUILTIN[name]
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"config error: chaos profile file {path}: {exc}") from None
    table = data.get("profiles", {}).get(name)
    if not isinstance(table, dict):
        raise ConfigError(f"config error: {path}: no [profiles.{name}] table")
    unknown = set(table.get("faults", ())) - set(ALL_FAULTS)
    if unknown:
        raise ConfigError(
            f"config error: profiles.{name}.faults: unknown {sorted(unknown)}; "
            f"known: {', '.join(ALL_FAULTS)}"
        )
    extra = set(table) - {"interval_s", "faults", "stall_s", "oversized_bytes"}
    if extra:
        raise ConfigError(f"config error: profiles.{name}: unknown field(s) {sorted(extra)}")
    return ChaosProfile(name=name, **{**table, "faults": tuple(table.get("faults", ()))})


@dataclass
class FaultLog:
    """Faults injected, per venue, with the wall-clock ms each happened at."""

    injected: dict[str, Counter[str]] = field(default_factory=dict)
    #: (kind, ms when the fault ended): recovery is measured from the end of a fault
    #: that lasts (a stall), from its moment for an instant one (a disconnect)
    times: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def record(self, venue: str, kind: str) -> None:
        self.injected.setdefault(venue, Counter())[kind] += 1
        self.times.setdefault(venue, []).append((kind, time.time_ns() // 1_000_000))


class ChaosInjector:
    """Owned by the `run --sim` task group; injects faults until cancelled."""

    def __init__(
        self,
        servers: dict[str, SimServer],
        profile: ChaosProfile,
        seed: int = 7,
        engine: Engine | None = None,
    ) -> None:
        self.servers = servers
        self.engine = engine  # for the engine-side faults: poison, slow_consumer
        self.profile = profile
        self.rng = random.Random(seed)
        self.log = FaultLog()
        self.paused = False
        self._busy = 0  # faults being injected right now (stalls take a while)
        self._idle = asyncio.Event()
        self._idle.set()

    async def run(self) -> None:
        if not self.profile.faults or self.profile.interval_s <= 0:
            await asyncio.Event().wait()
        async with asyncio.TaskGroup() as tg:
            for name in self.servers:
                tg.create_task(self._venue_loop(name))

    async def _venue_loop(self, name: str) -> None:
        server = self.servers[name]
        while True:
            await asyncio.sleep(self.rng.expovariate(1.0 / self.profile.interval_s))
            if self.paused:
                continue
            kind = self.rng.choice(self.profile.faults)
            logger.info("chaos: %s <- %s", name, kind)
            self._busy += 1
            self._idle.clear()
            try:
                await self.inject(server, kind)
            finally:
                self._busy -= 1
                if not self._busy:
                    self._idle.set()
            self.log.record(name, kind)

    async def idle(self) -> None:
        """Until no fault is in the middle of being injected."""
        await self._idle.wait()

    async def inject(self, server: SimServer, kind: str) -> None:
        faults = server.faults
        symbols = list(server.venue.markets)
        symbol = self.rng.choice(symbols)
        if kind == "disconnect":
            server.drop_all()
        elif kind == "close_silence":
            faults.stalled = True
            await server.close_all(1000)
            await asyncio.sleep(self.profile.stall_s)
            faults.stalled = False
        elif kind in ("stall", "total_stall"):
            faults.stalled = True
            faults.mute = kind == "total_stall"
            await asyncio.sleep(self.profile.stall_s)
            faults.stalled = faults.mute = False
        elif kind == "malformed":
            await server.send_raw('{"this is": not json')
        elif kind == "binary":
            await server.send_raw(bytes(self.rng.randrange(256) for _ in range(64)))
        elif kind == "oversized":
            await server.send_raw("x" * self.profile.oversized_bytes)
        elif kind == "unknown":
            await server.send_raw('{"type":"venuefeed_chaos_unknown","channel":"nope","data":{}}')
        elif kind == "gap":
            faults.gap.add(symbol)
        elif kind == "duplicate":
            faults.duplicate.add(symbol)
        elif kind == "reorder":
            faults.reorder.add(symbol)
        elif kind == "delta_first":  # reconnect, and get data before the snapshot
            faults.delta_first += max(1, server.open_connections)
            server.drop_all()
        elif kind == "refuse_429":
            faults.refuse.append((429, {"Retry-After": "1"}))
            server.drop_all()
        elif kind == "refuse_503":
            faults.refuse.append((503, {}))
            server.drop_all()
        elif kind == "connect_hang":
            faults.hang_connects += 1
            server.drop_all()
        elif kind == "rest_failures":  # 5xx, a timeout and a bad body, in a row
            faults.rest_failures += 1
            faults.rest_errors += ["timeout", "bad_body"]
        elif kind == "poison" and self.engine is not None:
            poison_next_frame(self.engine.adapters[server.venue.name])
        elif kind == "slow_consumer" and self.engine is not None:
            await self._slow_consumer(self.engine)

    async def _slow_consumer(self, engine: Engine) -> None:
        """A consumer ten times slower than a busy feed for `stall_s`, then gone."""
        events = engine.events("chaos-slow-consumer", queue_max=1_000)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.profile.stall_s
        try:
            while loop.time() < deadline:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    await anext(events)
                await asyncio.sleep(0.01)
        except TimeoutError:
            logger.debug("chaos: slow consumer done")
        finally:
            events.close()


def poison_next_frame(adapter: VenueAdapter) -> None:
    """Make the adapter's parser raise a bug (not a ParseError) on its next frame, once."""

    def poisoned(frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        del adapter.parse  # back to the class's method for every later frame
        raise RuntimeError(f"chaos: poisoned frame for {adapter.name}")

    adapter.parse = poisoned  # type: ignore[method-assign]
