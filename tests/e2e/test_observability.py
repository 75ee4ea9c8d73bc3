"""Metrics, health, readiness and status over real HTTP; the terminal view as text."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from rich.console import Console

from venuefeed.core.events import Book, Status
from venuefeed.core.observe.logs import RateLimitedLog
from venuefeed.tui import render


def status(state: str):
    return lambda e: isinstance(e, Status) and e.state == state


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as resp,
    ):
        return resp.status, await resp.text()


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one exposition line whose labels include `labels`."""
    for line in metrics.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {name} {labels}")


async def test_endpoints_follow_a_stall_and_recovery(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    engine = engine_for(base)
    engine.http_listen = "127.0.0.1:0"
    from venuefeed.core.observe.board import Board

    engine.board = Board()
    async with engine:
        port = engine.http.bound_port
        sub = engine.events()
        await next_matching(sub, is_book := (lambda e: isinstance(e, Book)))
        await venue.trade()
        code, body = await get(port, "/healthz")
        assert code == 200 and '"alive": true' in body
        async with asyncio.timeout(5):
            while (await get(port, "/readyz"))[0] != 200:
                await next_matching(sub, is_book)
        code, metrics = await get(port, "/metrics")
        assert code == 200
        assert sample(metrics, "venuefeed_stream_state", venue="fakex", state="live") == 1
        assert sample(metrics, "venuefeed_frames_total", venue="fakex") >= 0
        assert sample(metrics, "venuefeed_venue_live", venue="fakex") == 1
        assert "process_resident_memory_bytes" in metrics
        assert 'venuefeed_receive_lag_seconds_bucket{le="+Inf",venue="fakex"}' in metrics
        reconnects_before = engine.metrics.value("reconnects", venue="fakex")

        venue.pumping.clear()  # stall
        await next_matching(sub, status("stale"))
        await next_matching(sub, status("backoff"))
        code, body = await get(port, "/readyz")
        assert code == 503 and "fakex: not live" in body
        code, metrics = await get(port, "/metrics")
        assert (
            sample(metrics, "venuefeed_reconnects_total", venue="fakex", reason="StaleError") >= 1
        )
        assert sample(metrics, "venuefeed_stale_total", venue="fakex") >= 1
        assert sample(metrics, "venuefeed_stale_seconds_total", venue="fakex") > 0

        venue.pumping.set()
        await next_matching(sub, status("recovered"))
        async with asyncio.timeout(5):
            while (await get(port, "/readyz"))[0] != 200:
                await next_matching(sub, is_book)
        assert engine.metrics.value("reconnects", venue="fakex") > reconnects_before
        code, body = await get(port, "/status")
        assert code == 200 and '"ws:main"' in body and '"stale_seconds"' in body


async def test_terminal_view_renders_states_and_funding(fake_venue, engine_for, next_matching):
    _venue, base = fake_venue
    engine = engine_for(base)
    from venuefeed.core.observe.board import Board

    engine.board = board = Board()
    async with engine:
        sub = engine.events()
        await next_matching(sub, lambda e: e.kind == "funding")
        await next_matching(sub, lambda e: e.kind == "bbo")
        async with asyncio.timeout(5):
            while not board.prices():
                await next_matching(sub, lambda e: e.kind == "bbo")
        console = Console(record=True, width=140)
        console.print(render(engine.status()))
        text = console.export_text()
    assert "fakex" in text and "ws:main" in text and "live" in text
    assert "+0.01000%" in text  # funding per hour: 0.0008 / 8 h = 0.0001 = 0.01 %
    assert "BTC" in text and "100.00 / 101.00" in text


def test_repeated_errors_are_rate_limited_with_a_count(caplog):
    now = [0.0]
    log = RateLimitedLog(logging.getLogger("t"), window_s=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        assert log.log(logging.WARNING, "k", "bad frame %s", 1)
        for i in range(5):
            now[0] += 1
            assert not log.log(logging.WARNING, "k", "bad frame %s", i)
        assert log.log(logging.WARNING, "other", "different problem")
        now[0] = 11
        assert log.log(logging.WARNING, "k", "bad frame %s", 9)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["bad frame 1", "different problem", "bad frame 9 (+5 similar in the last 10s)"]
