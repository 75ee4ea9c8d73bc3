"""Metrics, health, readiness and status over real HTTP; the terminal view as text."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

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
        console = Console(record=True, width=80)
        console.print(render(engine.status()))
        text = console.export_text()
    assert "fakex" in text and "ws:main" in text and "live" in text
    assert "+0.01000%" in text  # funding per hour: 0.0008 / 8 h = 0.0001 = 0.01 %
    btc = next(line for line in text.splitlines() if line.startswith("BTC"))
    assert btc.split()[1:] == ["fakex", "+0.01000%", "100.00", "101.00", "-"]


LONG_ERROR = (
    "hyperliquid: meta (POST https://api.hyperliquid.xyz/info): ClientConnectorDNSError: "
    "Cannot connect to host api.hyperliquid.xyz:443 ssl:default [Name or service not known]"
)


def failing_document() -> dict[str, Any]:
    """A status document as `Engine.status()` makes it: five venues, one failing at
    start-up, one waiting to reconnect, Extended's long stream names."""

    def conn(state: str, **extra: Any) -> dict[str, Any]:
        return {
            "state": state,
            "reason": "",
            "since_ms": 0,
            "last_data_age_s": 0.2,
            "stale_seconds": 0.0,
            "reconnects": 3,
            "last_error": "",
            "backoff_attempt": 0,
            "breaker": "closed",
            "retry_in_s": None,
            **extra,
        }

    def venue(streams: dict[str, Any], symbols: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"live": False, "streams": streams, "symbols": symbols or {}, "events_per_s": 312.4}

    prices = {"bid": 116900.1, "ask": 116900.2, "mark": 116901.0, "funding_per_hour": 0.0000125}
    return {
        "ts_ms": 0,
        "venues": {
            "hyperliquid": venue(
                {"init": {"state": "init_failed", "reason": f"attempt 7: {LONG_ERROR}",
                          "since_ms": 0, "retry_in_s": 12.0}}
            ),
            "extended": venue(
                {
                    "ws:orderbooks/BTC-USD": conn("live"),
                    "ws:prices/mark/BTC-USD": conn("connecting"),
                    "ws:publicTrades/ETH-USD": conn(
                        "backoff", last_error="closed by venue (code 1006)", retry_in_s=3.5
                    ),
                },
                {"BTC": prices},
            ),
            "aster": venue({"ws:main": conn("breaker_open", retry_in_s=58.0,
                                            reason="8 failures within 120.0s")}, {"BTC": prices}),
            "lighter": venue({"ws:main": conn("live")}, {"BTC": prices, "ETH": prices}),
            "paradex": venue({"ws:main": conn("stale")}, {"BTC": prices}),
        },
    }  # fmt: skip


def split_words(text: str, words: list[str]) -> list[str]:
    """The `words` that do not appear whole in `text` (cut by a border or a line break)."""
    return [word for word in words if word not in text]


def test_the_split_word_checker_finds_a_cut_word():
    assert split_words("extende│d connect│ing", ["extended", "connecting"]) == [
        "extended",
        "connecting",
    ]


def test_the_live_view_reads_at_80_columns():
    console = Console(record=True, width=80)
    console.print(render(failing_document(), caption="config: venues.toml"))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    words = ["hyperliquid", "extended", "paradex", "lighter", "aster", "connecting",
             "init_failed", "backoff", "breaker", "stale", "live"]  # fmt: skip
    assert not split_words(text, words), text
    flat = " ".join(text.split())  # causes wrap at word boundaries; read them as one line
    assert "hyperliquid init (next try in 12s)" in text
    assert "ssl:default [Name or service not known]" in flat, text
    assert "ws:publicTrades/ETH-USD (next try in 3.5s) closed by venue (code 1006)" in flat
    assert "attempt 7" in flat  # the status reason as the venue reported it
    rows = {line.split()[0]: line for line in text.splitlines() if line[:1].isalpha()}
    assert "in 12s" in rows["hyperliquid"] and "312" in rows["hyperliquid"]
    assert "in 58s" in rows["aster"]
    assert "config: venues.toml" in text


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
