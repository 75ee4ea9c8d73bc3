"""`venuefeed sim`: the simulated venues in a process of their own, shared by engines in
other processes (here: two library engines in the test's process), like a real venue."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest
from buscli import spawn, venuefeed

from venuefeed.core.engine import Engine
from venuefeed.core.events import Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import load_settings

VENUES = ("hyperliquid", "lighter")
CONFIG = (
    "[defaults]\nsymbols = ['BTC', 'ETH']\nstale_after_s = 3.0\nbackoff_initial_s = 0.05\n"
    "backoff_max_s = 0.3\n[venues.hyperliquid]\n[venues.lighter]\n"
)
#: trades each engine must have per (venue, symbol) before the two are compared
ENOUGH = 8

Key = tuple[str, str]


def by_key(trades: list[Trade]) -> dict[Key, dict[int, tuple[float, float, str]]]:
    out: dict[Key, dict[int, tuple[float, float, str]]] = {}
    for t in trades:
        out.setdefault((t.venue, t.symbol), {})[int(t.trade_id)] = (t.price, t.size, t.side)
    return out


async def test_two_engines_on_one_standalone_sim_see_the_same_trades(tmp_path: Path):
    (tmp_path / "in.toml").write_text(CONFIG)
    written, made = tmp_path / "sim.toml", tmp_path / "trades.json"
    sim = await spawn(
        "sim", "--config", "in.toml", "--write-config", str(written), "--trades", str(made),
        cwd=tmp_path, stderr_file=tmp_path / "sim.log",
    )  # fmt: skip
    try:
        assert sim.stdout is not None
        async with asyncio.timeout(15):
            line = (await sim.stdout.readline()).decode()
        assert line.startswith("venuefeed sim: 2 venues on 127.0.0.1 (TLS)"), line
        assert f"config: {written}" in line
        code, out, err = await venuefeed("check", "--config", str(written), cwd=tmp_path)
        assert code == 0 and "config ok: 2 venue(s) enabled" in out, err

        host = PluginHost(
            builtin_modules=tuple(f"venuefeed.plugins.{v}" for v in VENUES),
            load_entry_points=False,
        )
        settings = load_settings(written)
        engines = [Engine(settings, plugins=host), Engine(settings, plugins=host)]
        subs = [e.events("test") for e in engines]
        seen: list[list[Trade]] = [[], []]
        enough = asyncio.Event()
        keys = {(v, s) for v in VENUES for s in ("BTC", "ETH")}

        def each_has_enough() -> bool:
            return all(
                all(len(ids) >= ENOUGH for ids in by_key(trades).values())
                and set(by_key(trades)) == keys
                for trades in seen
            )

        async def read(n: int) -> None:
            async for event in subs[n]:
                if isinstance(event, Trade):
                    seen[n].append(event)
                    if each_has_enough():
                        enough.set()

        async with engines[0], engines[1], asyncio.TaskGroup() as tg:
            readers = [tg.create_task(read(n)) for n in (0, 1)]
            async with asyncio.timeout(30):
                await enough.wait()
            for task in readers:
                task.cancel()
    finally:
        if sim.returncode is None:
            sim.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            await sim.wait()
    assert sim.returncode == 0, (tmp_path / "sim.log").read_text()[-2000:]

    a, b = by_key(seen[0]), by_key(seen[1])
    truth = json.loads(made.read_text())["trades"]
    for key in keys:
        low, high = max(min(a[key]), min(b[key])), min(max(a[key]), max(b[key]))
        assert high - low >= ENOUGH // 2, (key, low, high)
        common_a = {i: v for i, v in a[key].items() if low <= i <= high}
        common_b = {i: v for i, v in b[key].items() if low <= i <= high}
        assert common_a == common_b  # same ids, prices, sizes and sides
        made_ids = {i for i, _ in truth[key[0]][key[1]]}
        assert set(a[key]) | set(b[key]) <= made_ids  # the report holds every trade sent
        assert set(range(low, high + 1)) <= made_ids


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("sim",), "Missing option '--write-config'"),
        (("sim", "--write-config", "no/such/dir/x.toml"), "--write-config no/such/dir/x.toml"),
        (("sim", "--write-config", "x.toml", "--chaos", "hurricane"), "--chaos 'hurricane'"),
        (("sim", "--write-config", "x.toml", "--port-base", "70000"), "--port-base"),
        (("sim", "--write-config", "x.toml", "--venues", "nasdaq"), "--venues: nasdaq"),
    ],
    ids=["no-config-out", "unwritable", "bad-chaos", "bad-port", "unknown-venue"],
)
async def test_sim_usage_errors_are_one_line_exit_2(tmp_path: Path, args, needle: str):
    (tmp_path / "venues.toml").write_text(CONFIG)
    code, _, err = await venuefeed(*args, cwd=tmp_path)
    assert code == 2, err
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
