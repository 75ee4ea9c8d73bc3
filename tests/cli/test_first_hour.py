"""The first hour of a new user, through the `venuefeed` entry point: every bad input is
one line and exit 2, and everything works from an empty directory with the packaged
defaults.

Most cases run the real `main()` in this process (a subprocess costs a second of import
each); the headless simulated run is a real process, since it is the point.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from venuefeed.cli import main
from venuefeed.core.config_sources import packaged_config
from venuefeed.core.engine import Engine
from venuefeed.core.settings import load_settings

BUILTIN = {"hyperliquid", "paradex", "lighter", "extended", "aster"}


def cli(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """`venuefeed ARGS` in this process: (exit code, stdout, stderr). The root logger the
    command configures is put back, so no later test logs into a closed capture."""
    monkeypatch.setattr(sys, "argv", ["venuefeed", *args])
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        root.handlers[:], root.level = handlers, level
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "toml", "env", "needle"),
    [
        (["run", "--http", "nonsense"], None, {}, "--http 'nonsense': expected HOST:PORT"),
        (["run", "--http", "127.0.0.1:99999"], None, {}, "port from 0 to 65535"),
        (
            ["run", "--sink", "jsonl:/nonexistent/dir/x.jsonl"],
            None,
            {},
            "sink jsonl:/nonexistent/dir/x.jsonl: cannot write: No such file or directory",
        ),
        (["run", "--duration", "-5"], None, {}, "'--duration': -5.0 is not in the range"),
        (["run", "--bogus"], None, {}, "No such option '--bogus'"),
        (["check", "--config", "/dev/null"], None, {}, "no venue is enabled"),
        (["check", "--config", "missing.toml"], None, {}, "no such config file: missing.toml"),
        (["check", "--config", "."], None, {}, "is a directory"),
        (["run", "--config", "/dev/null"], None, {}, "no venue is enabled"),
        (
            ["check"],
            '[venues.aster]\nws_url = "http//broken"\n',
            {},
            "venues.aster.ws_url = 'http//broken': expected a ws:// or wss:// URL",
        ),
        (
            ["check"],
            '[venues.aster]\nrest_url = "wss://x/y"\n',
            {},
            "venues.aster.rest_url = 'wss://x/y': expected a http:// or https:// URL",
        ),
        (
            ["check"],
            '[engine]\nready_venues = ["nosuch"]\n[venues.aster]\n',
            {},
            "engine.ready_venues: 'nosuch' is not an enabled venue (enabled: aster)",
        ),
        (
            ["check"],
            None,
            {"VENUEFEED_DEFAULTS__SYMBOLS": "BTC"},
            "VENUEFEED_DEFAULTS__SYMBOLS = 'BTC': expected a JSON array "
            """(e.g. VENUEFEED_DEFAULTS__SYMBOLS='["BTC"]')""",
        ),
        (
            ["config"],
            None,
            {"VENUEFEED_VENUES__ASTER__OPTIONS": "depth_speed_ms=100"},
            "VENUEFEED_VENUES__ASTER__OPTIONS = 'depth_speed_ms=100': expected a JSON object",
        ),
        (["init"], "", {}, "venues.toml exists (--force overwrites it)"),
        (
            ["run", "--sim", "--report", "/nonexistent/r.json"],
            None,
            {},
            "--report /nonexistent/r.json: cannot write in /nonexistent",
        ),
        (["tail", "nats://127.0.0.1:1", "--duration", "-1"], None, {}, "'--duration': -1.0"),
    ],
    ids=[
        "http-not-host-port",
        "http-port-out-of-range",
        "sink-cannot-write",
        "negative-duration",
        "unknown-option",
        "check-dev-null",
        "check-missing",
        "check-directory",
        "run-dev-null",
        "ws-url-broken",
        "rest-url-wrong-scheme",
        "ready-venue-unknown",
        "env-list-not-json",
        "env-table-not-json",
        "init-would-overwrite",
        "report-cannot-write",
        "tail-negative-duration",
    ],
)
def test_a_bad_input_is_one_line_and_exit_2(args, toml, env, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if toml is not None:
        (tmp_path / "venues.toml").write_text(toml)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _out, err = cli(args, capsys, monkeypatch)
    assert code == 2, err
    assert needle in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "venues.toml:" not in err  # never blames the file for an environment variable


def test_check_from_an_empty_directory_uses_the_packaged_defaults(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(["check"], capsys, monkeypatch)
    assert code == 0, err
    assert "using the packaged defaults" in out
    assert f"config ok: {len(BUILTIN)} venue(s) enabled" in out


def test_the_library_from_an_empty_directory_gets_every_builtin_venue(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = Engine(load_settings())
    assert set(engine.adapters) == BUILTIN


async def test_an_engine_with_no_venue_refuses_to_start(tmp_path: Path):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    engine = Engine(load_settings(empty))
    with pytest.raises(Exception, match="no venue to run"):
        await engine.start()


def test_init_writes_the_documented_defaults(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(["init"], capsys, monkeypatch)
    assert code == 0 and "wrote venues.toml" in out
    assert (tmp_path / "venues.toml").read_text() == packaged_config().read_text()
    code, _, err = cli(["init", "other.toml", "--force"], capsys, monkeypatch)
    assert code == 0, err
    settings = load_settings(tmp_path / "other.toml")
    assert set(settings.venues) == BUILTIN


def test_config_prints_toml_values_and_honest_sources(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "venues.toml").write_text(
        "[defaults]\nstale_after_s = 7\n[venues.aster]\nstale_after_s = 4\n[venues.lighter]\n"
    )
    monkeypatch.setenv("VENUEFEED_VENUES__LIGHTER__BACKOFF_MAX_S", "12")
    code, out, err = cli(["config"], capsys, monkeypatch)
    assert code == 0, err
    lines = set(out.splitlines())
    assert "# config: venues.toml" in lines
    assert 'defaults.symbols = ["BTC", "ETH"]  [default]' in lines
    assert "venues.aster.enabled = true  [default]" in lines
    assert "engine.http_listen = (unset)  [default]" in lines
    assert 'venues.aster.ws_url = "wss://fstream.asterdex.com"  [plugin]' in lines
    assert "venues.aster.stale_after_s = 4.0  [toml]" in lines
    assert "venues.lighter.stale_after_s = 7.0  [defaults: toml]" in lines
    assert "venues.lighter.backoff_max_s = 12.0  [env]" in lines
    assert "venues.aster.options.depth_speed_ms = 100  [plugin]" in lines
    assert not any(re.search(r"\(\'|None|True|False", line) for line in lines), out


async def test_a_headless_sim_run_from_an_empty_directory(tmp_path: Path):
    """No config file anywhere: the packaged defaults run; /metrics has every counter
    family from the first scrape, and /status shows event rates without a terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENUEFEED_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "venuefeed", "run", "--sim", "--venues", "hyperliquid,aster",
        "--http", "127.0.0.1:0", "--sink", "jsonl:events.jsonl",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    logs: list[str] = []
    try:
        async with asyncio.timeout(20):
            while not any("http: /metrics" in line for line in logs):
                logs.append((await proc.stderr.readline()).decode())
        port = int(re.findall(r"http://127\.0\.0\.1:(\d+)", logs[-1])[0])
        assert any("using the packaged defaults" in line for line in logs), logs
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                metrics = await response.text()
            for family in ("reconnects", "stale", "task_restarts", "events_dropped", "frames"):
                assert f"# TYPE venuefeed_{family}_total counter" in metrics, family
            for series in (
                'venuefeed_reconnects_total{reason="StaleError",venue="aster"} 0.0',
                'venuefeed_stale_total{venue="hyperliquid"} 0.0',
                'venuefeed_task_restarts_total{task="venue",venue="aster"} 0.0',
                'venuefeed_events_dropped_total{kind="trade",venue="hyperliquid"} 0.0',
            ):
                assert series in metrics, series
            rates: dict[str, float] = {}
            async with asyncio.timeout(15):
                while not (rates and all(rate > 0 for rate in rates.values())):
                    await asyncio.sleep(0.25)  # /status is polled as a monitor would
                    async with http.get(f"http://127.0.0.1:{port}/status") as response:
                        status = json.loads(await response.text())
                    rates = {n: v["events_per_s"] for n, v in status["venues"].items()}
        assert set(rates) == {"hyperliquid", "aster"}
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            _, rest = await proc.communicate()
    assert proc.returncode == 0, rest.decode()[-2000:]
    assert "Traceback" not in rest.decode()
