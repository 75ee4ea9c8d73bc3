"""The bus through the real `venuefeed` command: run --sink nats://, tail, two engines on
one shard, SIGKILL, credentials, and the one-line errors."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp
import pytest
from buscheck import duplicate_trades, missing_trades, until
from buscli import NO_MSG_IDS, NO_NATS, spawn, venuefeed
from natsserver import NatsServer, free_port

from venuefeed import bus
from venuefeed.core.events import Trade, decode_event
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings
from venuefeed.sim.cluster import SimCluster

FAST = (
    "[defaults]\nsymbols = ['BTC', 'ETH']\nstale_after_s = 2.0\nbackoff_initial_s = 0.05\n"
    "backoff_max_s = 0.3\nfunding_poll_s = 1.0\n"
)


async def test_run_sim_publishes_each_trade_once_and_tail_prints_the_same_lines(
    tmp_path: Path, nats_server: NatsServer
):
    (tmp_path / "venues.toml").write_text(FAST + "[venues.hyperliquid]\n")
    jsonl = tmp_path / "events.jsonl"
    code, _, err = await venuefeed(
        "run",
        "--sim",
        "--duration",
        "2",
        "--sink",
        f"jsonl:{jsonl}",
        "--sink",
        nats_server.url,
        cwd=tmp_path,
        within=30,
    )
    assert code == 0, err[-3000:]
    lines = jsonl.read_bytes().splitlines()
    written = {line for line in lines if b'"kind":"trade"' in line}
    assert len(written) >= 10

    tail = await spawn(
        "tail", nats_server.url, "--from", "start", "--kinds", "trade,book", cwd=tmp_path
    )
    assert tail.stdout is not None
    printed: list[bytes] = []
    async with asyncio.timeout(15):
        while not written <= set(printed) or {b'"BTC"', b'"ETH"'} - {
            s
            for line in printed
            if b'"kind":"book"' in line
            for s in (b'"BTC"', b'"ETH"')
            if s in line
        }:
            printed.append((await tail.stdout.readline()).rstrip(b"\n"))
    tail.send_signal(signal.SIGINT)
    rest, err = await tail.communicate()
    assert tail.returncode == 0, err.decode()[-2000:]
    printed += rest.splitlines()

    trades = [e for e in map(decode_event, printed) if isinstance(e, Trade)]
    assert duplicate_trades(trades) == []
    ids = {(t.venue, t.symbol): set() for t in trades}
    for t in trades:
        ids[(t.venue, t.symbol)].add(int(t.trade_id))
    every_id = {key: set(range(min(v), max(v) + 1)) for key, v in ids.items()}
    assert missing_trades(trades, every_id) == []  # the simulator numbers trades 1, 2, 3...


def engine_config(tmp_path: Path, cluster: SimCluster) -> Path:
    venue = cluster.apply(Settings()).venues["hyperliquid"]
    path = tmp_path / "venues.toml"
    path.write_text(
        FAST
        + f"[venues.hyperliquid]\nws_url = '{venue.ws_url}'\nrest_url = '{venue.rest_url}'\n"
        + f"ca_file = '{venue.ca_file}'\n"
    )
    return path


@pytest.mark.parametrize("msg_ids", [True, False], ids=["deduplicated", "broken-no-msg-id"])
async def test_two_engines_on_one_shard_each_trade_once_and_sigkill_loses_nothing(
    tmp_path: Path, nats_server: NatsServer, msg_ids: bool
):
    """Two engines on the same shard and the same venue publish every trade; the tail sees
    each once (the server's Nats-Msg-Id window). One is SIGKILLed midway: the other keeps
    the flow, no trade missing. Without message ids (broken) the tail sees duplicates."""
    host = PluginHost(builtin_modules=("venuefeed.plugins.hyperliquid",), load_entry_points=False)
    cluster = SimCluster(
        {"hyperliquid": host.adapter("hyperliquid")}, {"hyperliquid": ["BTC", "ETH"]}
    )
    async with cluster:
        server = cluster.servers["hyperliquid"]
        config = engine_config(tmp_path, cluster)
        args = ("run", "--config", str(config), "--shard", "1/1", "--sink", nats_server.url)
        entry = None if msg_ids else NO_MSG_IDS
        engines = [
            await spawn(
                *args,
                cwd=tmp_path,
                entry=entry,
                stdout=asyncio.subprocess.DEVNULL,
                stderr_file=tmp_path / f"engine-{i}.log",
            )
            for i in (1, 2)
        ]
        try:
            await until(lambda: server.open_connections == 2, 20, "both engines on the venue")

            def tops(extra: int) -> dict[tuple[str, str], int]:
                return {s: max(server.trades_sent.get(s, {0})) + extra for s in ("BTC", "ETH")}

            async with bus.subscribe(nats_server.url, kinds=["trade"], start="start") as tail:
                seen: list[Trade] = []

                async def read_until(targets: dict[str, int]) -> None:
                    async with asyncio.timeout(20):
                        while any(
                            max((int(t.trade_id) for t in seen if t.symbol == s), default=0) < top
                            for s, top in targets.items()
                        ):
                            event = await anext(tail)
                            assert isinstance(event, Trade)
                            seen.append(event)

                await read_until(tops(5))  # both engines publishing
                if msg_ids:
                    engines[0].kill()  # SIGKILL: no flush, no goodbye
                    await engines[0].wait()
                    await read_until(tops(8))  # the survivor alone
        finally:
            for proc in engines:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                await proc.wait()

        sent = {("hyperliquid", s): ids for s, ids in server.trades_sent.items()}
    if msg_ids:
        assert duplicate_trades(seen) == []
        assert missing_trades(seen, sent) == []
        assert engines[1].returncode == 0, (tmp_path / "engine-2.log").read_text()[-2000:]
    else:
        assert duplicate_trades(seen) != []


SECRET = "s3cret-Pw-0451"


async def test_credentials_are_used_and_never_printed(tmp_path: Path):
    server = NatsServer(tmp_path / "js", user="vf", password=SECRET)
    await server.start()
    try:
        (tmp_path / "venues.toml").write_text(FAST + "[venues.hyperliquid]\n")
        creds = {"VENUEFEED_ENGINE__NATS__USER": "vf", "VENUEFEED_ENGINE__NATS__PASSWORD": SECRET}
        code, out, err = await venuefeed("config", cwd=tmp_path, env=creds)
        assert code == 0 and SECRET not in out + err
        assert 'engine.nats.password = "**********"  [env]' in out

        port = free_port()
        run = await spawn(
            "run",
            "--sim",
            "--duration",
            "3",
            "--sink",
            server.url,
            "--http",
            f"127.0.0.1:{port}",
            "--log-level",
            "debug",
            cwd=tmp_path,
            env=creds,
        )
        assert run.stderr is not None
        logs = b""
        async with asyncio.timeout(15):
            while b"nats: publishing" not in logs or b"http: /metrics" not in logs:
                logs += await run.stderr.readline()
        pages = ""
        async with aiohttp.ClientSession() as http:

            async def page(path: str) -> str:
                async with http.get(f"http://127.0.0.1:{port}{path}") as response:
                    return await response.text()

            for _ in range(50):  # until the bus has acknowledged something (other process)
                metrics = await page("/metrics")
                if "venuefeed_nats_acked_total" in metrics:
                    break
                await asyncio.sleep(0.1)
            pages = metrics + await page("/status") + await page("/readyz")
        out_b, rest = await run.communicate()
        assert run.returncode == 0, rest.decode()[-2000:]
        everything = logs.decode() + rest.decode() + out_b.decode() + pages
        assert SECRET not in everything

        wrong = {
            **creds,
            "VENUEFEED_ENGINE__NATS__PASSWORD": "not-" + SECRET,
            "VENUEFEED_ENGINE__NATS__CONNECT_TIMEOUT_S": "1",
        }
        code, out, err = await venuefeed("run", "--sink", server.url, cwd=tmp_path, env=wrong)
        assert code == 2 and "authorization" in err.lower() and SECRET not in out + err
        assert len(err.strip().splitlines()) == 1, err
    finally:
        await server.kill()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "--sink", "nats://me:hunter2@127.0.0.1:4222"), "credentials in the URL"),
        (("run", "--sink", "nats://127.0.0.1:99999"), "--sink"),
        (("run", "--shard", "3/2"), "--shard '3/2'"),
        (("config", "--shard", "1/x"), "--shard '1/x'"),
        (("run", "--sink", "nats://127.0.0.1:{closed}"), "unreachable within 0.5s"),
        (("tail", "nats://127.0.0.1:{closed}"), "unreachable within 0.5s"),
        (("tail", "nats://127.0.0.1:{closed}", "--kinds", "trades"), "kinds trades"),
        (("run", "--sink", "nats://127.0.0.1:{closed}"), "pip install 'venuefeed[nats]'"),
    ],
    ids=[
        "creds-in-url",
        "bad-port",
        "bad-shard",
        "config-bad-shard",
        "unreachable",
        "tail-unreachable",
        "tail-bad-kind",
        "no-nats-py",
    ],
)
async def test_user_errors_are_one_line_exit_2(tmp_path: Path, args, needle: str):
    (tmp_path / "venues.toml").write_text("[venues.hyperliquid]\n")
    closed = str(free_port())
    args = tuple(a.replace("{closed}", closed) for a in args)
    entry = NO_NATS if "venuefeed[nats]" in needle else None
    code, _, err = await venuefeed(
        *args, cwd=tmp_path, entry=entry, env={"VENUEFEED_ENGINE__NATS__CONNECT_TIMEOUT_S": "0.5"}
    )
    assert code == 2, err
    assert needle in err and "Traceback" not in err and "hunter2" not in err
    assert len(err.strip().splitlines()) == 1, err


async def test_without_nats_py_the_engine_runs_and_shards_show(tmp_path: Path):
    (tmp_path / "venues.toml").write_text(
        FAST + "[engine]\nshard = '2/3'\n[venues.hyperliquid]\nsymbols = ['BTC', 'ETH', 'SOL', "
        "'DOGE', 'XRP', 'AVAX']\n"
    )
    code, _, err = await venuefeed(
        "run", "--sim", "--duration", "1", "--sink", "jsonl:/dev/null", cwd=tmp_path, entry=NO_NATS
    )
    assert code == 0, err[-2000:]
    assert "running hyperliquid" in err
    shards = []
    for i in (1, 2, 3):
        code, out, _ = await venuefeed("config", "--shard", f"{i}/3", cwd=tmp_path)
        assert code == 0 and f'engine.shard = "{i}/3"  [--shard]' in out
        line = next(line for line in out.splitlines() if line.startswith("shard.hyperliquid"))
        shards.append(json.loads(line.partition(" = ")[2]))
    assert sorted(s for part in shards for s in part) == sorted(
        ["BTC", "ETH", "SOL", "DOGE", "XRP", "AVAX"]
    )
