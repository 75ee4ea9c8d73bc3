"""Chaos profiles: which faults to inject into simulated venues, and when.

A profile is declarative (TOML) and names fault kinds with a mean interval; the injector
picks a fault kind and a venue at random (seeded) times. Built-in profiles: `none`,
`light`, `heavy`. A user profile file looks like:

    [profiles.mine]
    interval_s = 5.0                       # mean seconds between faults, per venue
    faults = ["disconnect", "gap", "stall"]
    stall_s = 2.0                          # how long stalls last
    latency_s = 6.0                        # how long the latency fault lasts
    ws_down_s = 30.0                       # how long ws_down refuses every websocket

Some faults scale with the engine's own policy, because the engine's thresholds are the
time scale a fault is meant to stress: `slow_rest` spreads the next REST bodies over
fractions and multiples of `request_timeout_s`; `latency` stays a slow link, not a dead one
(at most half the shorter of `stale_after_s` and the client's ping deadline, 1.5 x
`heartbeat_interval_s`); `stuck_consumer` holds its window until its queue overflowed and
1.25 `stale_after_s` after that.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
import tomllib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from venuefeed.core.adapter import Parsed, VenueAdapter
from venuefeed.core.engine import Engine
from venuefeed.core.errors import ConfigError, ConsumerTooSlowError
from venuefeed.core.observe.health import venue_live
from venuefeed.core.publishing.publisher import Subscription
from venuefeed.core.settings import ConsumerPolicy, Policy
from venuefeed.sim.server import Faults, SimServer

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
        "ws_down",
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
    "slow_rest",
    "latency",
    "stuck_consumer",
    "ws_down",
)
#: faults after which the venue must stay live for a window (`FaultLog.windows`): nothing
#: they do may make a connection reconnect or go stale
MUST_STAY_LIVE = frozenset({"stuck_consumer"})

#: `slow_rest`: the next REST bodies are spread over these multiples of the engine's
#: `request_timeout_s`: the first beyond it (the request times out and is retried), the
#: others slow but within it
SLOW_REST_OF_TIMEOUT = (1.5, 0.3, 0.5)
#: `latency`: extra delay range per websocket frame, seconds (capped by the policy, above)
LATENCY_S = (0.05, 0.5)
#: `stuck_consumer`: its queue is tiny, so it overflows (and its policy acts) at once
STUCK_QUEUE_MAX = 4
#: `stuck_consumer` policies, in turn (lossless would hold up to `lossless_max` events)
STUCK_POLICIES: tuple[ConsumerPolicy, ...] = ("gap", "evict")
#: `stuck_consumer`: the venue must have been live, with no fault pending, this long (or half
#: its stale bound, if shorter) before the window opens: an earlier fault's reconnect must
#: not count against it
SETTLE_S = 1.0


@dataclass(frozen=True)
class ChaosProfile:
    name: str
    interval_s: float = 0.0  # 0: no faults
    faults: tuple[str, ...] = ()
    stall_s: float = 3.0
    latency_s: float = 6.0  # how long a latency fault lasts
    ws_down_s: float = 30.0  # how long `ws_down` refuses every websocket (REST stays up)
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
    extra = set(table) - {
        "interval_s",
        "faults",
        "stall_s",
        "latency_s",
        "ws_down_s",
        "oversized_bytes",
    }
    if extra:
        raise ConfigError(f"config error: profiles.{name}: unknown field(s) {sorted(extra)}")
    return ChaosProfile(name=name, **{**table, "faults": tuple(table.get("faults", ()))})


class FaultSpan(NamedTuple):
    kind: str
    started_ms: int  # wall ms the injection began
    at_ms: int  # wall ms it ended: recovery is measured from here


@dataclass
class FaultLog:
    """Faults injected, per venue, with the wall-clock ms each happened at."""

    injected: dict[str, Counter[str]] = field(default_factory=dict)
    #: per venue, in order: recovery is measured from the end of a fault that lasts (a
    #: stall), from its moment for an instant one (a disconnect)
    times: dict[str, list[FaultSpan]] = field(default_factory=dict)
    #: (kind, from ms, to ms): windows in which the venue had to stay live (MUST_STAY_LIVE)
    windows: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)
    #: faults whose window could not be judged (the venue never settled first), by kind
    unjudged: dict[str, Counter[str]] = field(default_factory=dict)

    def record(self, venue: str, kind: str, started_ms: int | None = None) -> None:
        now_ms = time.time_ns() // 1_000_000
        self.injected.setdefault(venue, Counter())[kind] += 1
        span = FaultSpan(kind, now_ms if started_ms is None else started_ms, now_ms)
        self.times.setdefault(venue, []).append(span)


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
        #: consumers the stuck_consumer fault opened and never reads again; closed when
        #: the injector's run ends
        self.stuck: list[Subscription] = []
        self.stuck_policies: Iterator[ConsumerPolicy] = itertools.cycle(STUCK_POLICIES)
        self._stuck_ids = itertools.count(1)

    async def run(self) -> None:
        try:
            if not self.profile.faults or self.profile.interval_s <= 0:
                await asyncio.Event().wait()
            async with asyncio.TaskGroup() as tg:
                for name in self.servers:
                    tg.create_task(self._venue_loop(name))
        finally:
            self.release()

    def release(self) -> None:
        """Close the stuck consumers (the run, or a conformance case, is over)."""
        stuck, self.stuck = self.stuck, []
        for events in stuck:
            events.close()

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
            started_ms = time.time_ns() // 1_000_000
            try:
                await self.inject(server, kind)
            finally:
                self._busy -= 1
                if not self._busy:
                    self._idle.set()
            self.log.record(name, kind, started_ms)

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
        elif kind == "ws_down":  # the websocket is refused for a while: books from REST
            faults.ws_down = True
            server.drop_all()
            await asyncio.sleep(self.profile.ws_down_s)
            faults.ws_down = False
        elif kind == "rest_failures":  # 5xx, a timeout and a bad body, in a row
            faults.rest_failures += 1
            faults.rest_errors += ["timeout", "bad_body"]
        elif kind == "poison" and self.engine is not None:
            poison_next_frame(self.engine.adapters[server.venue.name])
        elif kind == "slow_consumer" and self.engine is not None:
            await self._slow_consumer(self.engine)
        elif kind == "slow_rest":
            timeout = self._policy(server).request_timeout_s
            faults.slow_rest += [share * timeout for share in SLOW_REST_OF_TIMEOUT]
        elif kind == "latency":
            faults.latency = latency_range(self._policy(server))
            await asyncio.sleep(self.profile.latency_s)
            faults.latency = None
        elif kind == "stuck_consumer" and self.engine is not None:
            await self._stuck_consumer(server, self.engine)

    def _policy(self, server: SimServer) -> Policy:
        """The engine's policy for this venue (the defaults when there is no engine)."""
        policies = {} if self.engine is None else self.engine.policies
        return policies.get(server.venue.name) or Policy()

    async def _stuck_consumer(self, server: SimServer, engine: Engine) -> None:
        """A consumer that reads one event and then never again, left open for good, while
        the others keep reading. The venue must stay live from then until 1.25
        `stale_after_s` after its queue overflowed: a publisher that made producers wait
        for a full queue would stall every socket reader, and the venue would go stale."""
        name = server.venue.name
        policy = self._policy(server)
        settled = await self._settle(server, engine)
        start_ms = time.time_ns() // 1_000_000
        events = engine.events(
            f"chaos-stuck-consumer-{next(self._stuck_ids)}",
            queue_max=STUCK_QUEUE_MAX,
            policy=next(self.stuck_policies),
        )
        self.stuck.append(events)
        try:
            async with asyncio.timeout(policy.stale_after_s):
                await anext(events)  # alive once, then stuck
        except (TimeoutError, StopAsyncIteration):
            logger.warning("chaos: the stuck consumer never got its first event")
        except ConsumerTooSlowError:
            # on a loaded machine the queue can fill before this task reads at all: the
            # evict policy then did its job before the first read; the window still counts
            logger.info("chaos: %s's stuck consumer was evicted before its first read", name)
        # the publisher signals no overflow (its policy acts silently, by design): look
        # every 50 ms, for at most one stale bound
        for _ in range(max(1, int(policy.stale_after_s / 0.05))):
            if events.dropped or events.closed:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.25 * policy.stale_after_s)
        if settled:
            self.log.windows.setdefault(name, []).append(
                ("stuck_consumer", start_ms, time.time_ns() // 1_000_000)
            )
        else:
            logger.warning("chaos: %s never settled; stuck_consumer window not judged", name)
            self.log.unjudged.setdefault(name, Counter())["stuck_consumer"] += 1

    async def _settle(self, server: SimServer, engine: Engine) -> bool:
        """Wait until the venue has been live with no fault pending for SETTLE_S (or half
        its stale bound, if shorter); False if that takes two stale bounds longer."""
        loop = asyncio.get_running_loop()
        stale_after_s = self._policy(server).stale_after_s
        quiet_s = min(SETTLE_S, stale_after_s / 2)
        deadline = loop.time() + quiet_s + 2 * stale_after_s
        calm_since: float | None = None
        while loop.time() < deadline:
            now = loop.time()
            if not self._calm(server, engine):
                calm_since = None
            elif calm_since is None:
                calm_since = now
            elif now - calm_since >= quiet_s:
                return True
            await asyncio.sleep(0.05)
        return False

    @staticmethod
    def _calm(server: SimServer, engine: Engine) -> bool:
        name = server.venue.name
        health = engine.health().get(name)
        adapter = engine.adapters.get(name)
        poisoned = adapter is not None and "parse" in vars(adapter)
        return (
            health is not None
            and venue_live(health)
            and not poisoned
            and not pending(server.faults)
        )

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


def latency_range(policy: Policy) -> tuple[float, float]:
    """LATENCY_S, narrowed when the engine's silence bounds are short: the slowest frame
    stays within half the shorter of `stale_after_s` and the client's ping deadline
    (1.5 x `heartbeat_interval_s`), so the fault is a slow link, never a dead one."""
    bound = min(policy.stale_after_s, 1.5 * policy.heartbeat_interval_s)
    high = min(LATENCY_S[1], 0.5 * bound)
    return min(LATENCY_S[0], high / 2), high


def pending(faults: Faults) -> bool:
    """A fault that can take a connection down is still in effect or waits for its moment
    on this server (REST faults do not count: a failed poll leaves the sockets alone)."""
    return bool(
        faults.refuse
        or faults.ws_down
        or faults.hang_connects
        or faults.latency is not None
        or faults.gap
        or faults.duplicate
        or faults.reorder
        or faults.stalled
        or faults.mute
        or faults.delta_first
    )


def poison_next_frame(adapter: VenueAdapter) -> None:
    """Make the adapter's parser raise a bug (not a ParseError) on its next frame, once."""

    def poisoned(frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        del adapter.parse  # back to the class's method for every later frame
        raise RuntimeError(f"chaos: poisoned frame for {adapter.name}")

    adapter.parse = poisoned  # type: ignore[method-assign]
