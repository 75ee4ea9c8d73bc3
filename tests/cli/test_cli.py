"""The `venuefeed` command through its real entry point (a subprocess)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VENUEFEED_")}
    return {**clean, **extra}


async def venuefeed(
    *args: str, cwd: Path, extra_env: dict[str, str] | None = None, within: float = 20
):
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "venuefeed",
        *args,
        cwd=cwd,
        env=env(**(extra_env or {})),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(within):
        out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "venues.toml"
    path.write_text(body)
    return path


async def test_config_shows_values_and_sources(tmp_path: Path):
    write_config(tmp_path, "[defaults]\nstale_after_s = 7\n[venues.aster]\nenabled = true\n")
    code, out, _ = await venuefeed(
        "config", cwd=tmp_path, extra_env={"VENUEFEED_VENUES__ASTER__BACKOFF_MAX_S": "12"}
    )
    assert code == 0
    assert "defaults.stale_after_s = 7.0  [toml]" in out
    assert "defaults.backoff_initial_s = 0.5  [default]" in out
    assert "venues.aster.backoff_max_s = 12.0  [env]" in out
    assert "venues.aster.stale_after_s = 7.0  [defaults: toml]" in out  # inherited


@pytest.mark.parametrize(
    ("toml", "env_vars", "needle"),
    [
        ("[defaults]\nstale_after_s = 'soon'\n", {}, "defaults.stale_after_s = 'soon'"),
        ("[venues.nosuch]\nenabled = true\n", {}, "known venues: aster, extended"),
        ("", {"VENUEFEED_DEFAULTS__BACKOFF_JITTER": "5"}, "VENUEFEED_DEFAULTS__BACKOFF_JITTER"),
    ],
)
async def test_user_errors_are_one_line_without_traceback(tmp_path: Path, toml, env_vars, needle):
    write_config(tmp_path, toml)
    code, _out, err = await venuefeed("run", "--duration", "1", cwd=tmp_path, extra_env=env_vars)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


async def test_venues_lists_plugins_with_source(tmp_path: Path):
    write_config(tmp_path, "[venues.lighter]\nenabled = false\n[venues.aster]\nenabled = true\n")
    code, out, _ = await venuefeed("venues", cwd=tmp_path)
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert set(lines) == {"aster", "extended", "hyperliquid", "lighter", "paradex"}
    assert "enabled" in lines["aster"] and "builtin" in lines["aster"]
    assert "disabled" in lines["lighter"]


async def test_run_without_route_keeps_retrying_and_says_so(tmp_path: Path):
    # port 9 on loopback refuses: like a machine with no route to the venue
    write_config(
        tmp_path,
        "[defaults]\nbackoff_initial_s = 0.05\nbackoff_max_s = 0.2\n"
        "[venues.aster]\nws_url = 'ws://127.0.0.1:9'\nrest_url = 'http://127.0.0.1:9'\n",
    )
    out_file = tmp_path / "events.jsonl"
    code, _, err = await venuefeed(
        "run", "--duration", "1.5", "--sink", f"jsonl:{out_file}", cwd=tmp_path
    )
    assert code == 0, err
    assert "aster: init failing: " in err and "Traceback" not in err
    events = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert sum(e["state"] == "init_failed" for e in events) >= 3
    assert all(e["venue"] == "aster" for e in events)


async def test_ctrl_c_stops_cleanly(tmp_path: Path):
    write_config(
        tmp_path, "[venues.aster]\nws_url = 'ws://127.0.0.1:9'\nrest_url = 'http://127.0.0.1:9'\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "venuefeed",
        "run",
        "--sink",
        "jsonl:-",
        cwd=tmp_path,
        env=env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    async with asyncio.timeout(10):
        while b"running aster" not in await proc.stderr.readline():
            pass
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(5):
        _, err = await proc.communicate()
    assert proc.returncode == 0
    assert b"Traceback" not in err and b"stopped" in err


async def test_sim_run_with_light_chaos_writes_a_lossless_report(tmp_path: Path):
    write_config(
        tmp_path,
        "[defaults]\nstale_after_s = 1.0\nbackoff_initial_s = 0.05\nbackoff_max_s = 0.5\n"
        "stable_after_s = 0.5\nfunding_poll_s = 1.0\n"
        "[venues.hyperliquid]\n[venues.aster]\nenabled = false\n",
    )
    chaos = tmp_path / "chaos.toml"
    chaos.write_text(
        "[profiles.quick]\ninterval_s = 0.5\nstall_s = 1.5\n"
        'faults = ["disconnect", "malformed", "binary", "unknown", "stall", "rest_failures"]\n'
    )
    report = tmp_path / "report.json"
    page = tmp_path / "report.html"
    code, _, err = await venuefeed(
        "run",
        "--sim",
        "--chaos",
        "quick",
        "--chaos-file",
        str(chaos),
        "--duration",
        "4",
        "--report",
        str(report),
        "--report",
        str(page),
        "--sink",
        "jsonl:/dev/null",
        "--no-tui",
        cwd=tmp_path,
        within=60,
    )
    assert code == 0, err[-2000:]
    assert err.count("hyperliquid  ok") == 1, err  # the summary is printed once
    data = json.loads(report.read_text())
    venue = data["venues"]["hyperliquid"]
    assert isinstance(venue["reconnects"], int) and isinstance(venue["parse_errors"], int)
    timeline = venue["timeline"]
    assert len(timeline["faults"]) == sum(venue["faults_injected"].values())
    assert "class=timeline data-venue='hyperliquid'" in page.read_text()
    assert data["ok"] is True and set(data["venues"]) == {"hyperliquid"}
    assert sum(venue["faults_injected"].values()) >= 2
    assert venue["trades_lost"] == 0 and venue["trades_received"] > 0
    assert venue["book_checks"] >= 1 and venue["book_mismatches"] == 0
    assert venue["final_states"] == {"ws:main": "live"}


async def test_sim_flags_need_sim(tmp_path: Path):
    write_config(tmp_path, "")
    code, _, err = await venuefeed("run", "--chaos", "heavy", cwd=tmp_path)
    assert code == 2 and "need --sim" in err


async def test_check_validates_without_connecting(tmp_path: Path):
    write_config(tmp_path, "[venues.aster]\nws_url = 'ws://127.0.0.1:9'\n[venues.lighter]\n")
    code, out, err = await venuefeed("check", cwd=tmp_path)
    assert code == 0, err
    assert "ok  aster" in out and "ok  lighter" in out and "config ok: 2 venue(s) enabled" in out
    assert "registered, not enabled: extended, hyperliquid, paradex" in out
    write_config(tmp_path, "[venues.aster]\nstale_after_s = 0\n")
    code, _, err = await venuefeed("check", cwd=tmp_path)
    assert code == 2 and "venues.aster.stale_after_s = 0" in err


async def test_json_logs_are_one_object_per_line(tmp_path: Path):
    write_config(
        tmp_path, "[venues.aster]\nws_url = 'ws://127.0.0.1:9'\nrest_url = 'http://127.0.0.1:9'\n"
    )
    code, _, err = await venuefeed(
        "run",
        "--duration",
        "0.5",
        "--sink",
        "jsonl:/dev/null",
        "--log-format",
        "json",
        cwd=tmp_path,
    )
    assert code == 0
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert lines and {"ts", "level", "logger", "message"} <= set(lines[0])
    assert any("init failing" in line["message"] for line in lines)


async def test_sim_run_all_five_venues_light_chaos_is_lossless(tmp_path: Path):
    write_config(
        tmp_path,
        "[defaults]\nstale_after_s = 2.0\nbackoff_initial_s = 0.1\nbackoff_max_s = 1.0\n"
        "stable_after_s = 1.0\nfunding_poll_s = 2.0\nconnect_timeout_s = 2.0\n"
        "[venues.hyperliquid]\n[venues.paradex]\n[venues.lighter]\n[venues.extended]\n[venues.aster]\n",
    )
    report = tmp_path / "report.json"
    code, _, err = await venuefeed(
        "run",
        "--sim",
        "--chaos",
        "light",
        "--duration",
        "6",
        "--report",
        str(report),
        "--sink",
        "jsonl:/dev/null",
        cwd=tmp_path,
        within=90,
    )
    data = json.loads(report.read_text())
    why = {
        name: {k: v[k] for k in ("problems", "final_states", "faults_injected", "seconds_not_live")}
        for name, v in data["venues"].items()
        if not v["ok"]
    }
    assert code == 0, (data["ok"], why, err[-2000:])
    assert set(data["venues"]) == {"hyperliquid", "paradex", "lighter", "extended", "aster"}
    for name, venue in data["venues"].items():
        assert venue["ok"], name
        assert venue["trades_lost"] == 0 and venue["trades_received"] > 0, name
        assert venue["book_mismatches"] == 0 and venue["crossed_books"] == 0, name


async def test_ctrl_c_during_the_final_checkpoint_ends_the_run_at_once(tmp_path: Path):
    """A venue that cannot be live keeps the final checkpoint waiting for its whole
    recovery bound (~45 s here); Ctrl-C cuts it short and still writes the report. Books
    come every 50 ms, so with stale_after_s 0.01 every session goes stale at once and then
    waits out a 10 s backoff: the venue is down whenever the checkpoint looks."""
    write_config(
        tmp_path,
        "[defaults]\nstale_after_s = 0.01\nbackoff_initial_s = 10\nbackoff_max_s = 10\n"
        "backoff_jitter = 0\n[venues.hyperliquid]\n[venues.aster]\nenabled = false\n",
    )
    report = tmp_path / "report.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "venuefeed",
        "run",
        "--sim",
        "--duration",
        "0.5",
        "--report",
        str(report),
        "--sink",
        "jsonl:/dev/null",
        cwd=tmp_path,
        env=env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    async with asyncio.timeout(20):
        while b"checkpoint: waiting up to" not in await proc.stderr.readline():
            pass
    loop = asyncio.get_running_loop()
    start = loop.time()
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(5):  # not the ~45 s the checkpoint would have waited
        _, err = await proc.communicate()
    elapsed = loop.time() - start
    assert b"Traceback" not in err, err.decode()[-2000:]
    assert json.loads(report.read_text())["interrupted"] is True
    assert elapsed < 5


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ('[venues.paradex.options]\nencodng = "json"\n', "venues.paradex.options.encodng"),
        (
            '[venues.lighter.options]\npoll_funding = "maybe"\n',
            "venues.lighter.options.poll_funding",
        ),
    ],
    ids=["misspelt", "mistyped"],
)
async def test_a_bad_plugin_option_is_one_line_and_exit_2(
    tmp_path: Path, command: str, table: str, needle: str
):
    write_config(tmp_path, table)
    code, _, err = await venuefeed(command, cwd=tmp_path)
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err, err
