"""The audit's failure modes, each against a loopback venue. Each test fails on the
audited behaviour (no watchdog, backoff that never resets, init that dies, unsupervised
tasks)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from harness import fake_host, make_settings

from venuefeed.core.connection.runner import ConnectionRunner
from venuefeed.core.engine import Engine
from venuefeed.core.events import Book, Funding, Status


def is_status(state: str, venue: str = "fakex"):
    return lambda e: isinstance(e, Status) and e.state == state and e.venue == venue


def is_book(venue: str = "fakex"):
    return lambda e: isinstance(e, Book) and e.venue == venue


async def test_stalled_venue_is_recycled_and_recovers(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    async with engine_for(base) as engine:
        sub = engine.events()
        await next_matching(sub, is_book())
        venue.pumping.clear()  # socket stays open, heartbeats answered, no market data
        stale = await next_matching(sub, is_status("stale"))
        assert stale.stream.startswith("book:")
        await venue.wait_connections(2)
        venue.pumping.set()
        recovered = await next_matching(sub, is_status("recovered"))
        assert recovered.gap_start_ms is not None and recovered.gap_end_ms is not None
        assert recovered.gap_end_ms >= recovered.gap_start_ms
        await next_matching(sub, is_book())
        assert engine.metrics.value("reconnects", venue="fakex", reason="StaleError") >= 1


async def test_backoff_resets_after_a_stable_connection(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    venue.drop_after_accept = 4  # four connections die right after the handshake
    async with engine_for(base) as engine:
        sub = engine.events()
        delays = []
        for _ in range(4):
            delays.append((await next_matching(sub, is_status("backoff"))).delay_s)
        assert delays == [0.05, 0.1, 0.2, 0.4]  # grew, capped at backoff_max_s
        await next_matching(sub, is_status("live"))
        async with asyncio.timeout(5):
            while attempts(engine):  # stable_after_s of fresh data resets it
                await next_matching(sub, is_book())
        await venue.drop()
        after = await next_matching(sub, is_status("backoff"))
        assert after.delay_s == 0.05  # the initial backoff, not the cap
        await next_matching(sub, is_status("recovered"))


async def test_init_failures_are_retried_then_streaming_and_funding_work(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    venue.markets_failures = 3
    async with engine_for(base, options={"init": True}) as engine:
        sub = engine.events()
        failures = [await next_matching(sub, is_status("init_failed")) for _ in range(3)]
        assert "HTTP 503" in failures[0].reason
        await next_matching(sub, is_status("live"))
        await next_matching(sub, is_book())
        funding = await next_matching(sub, lambda e: isinstance(e, Funding))
        assert (funding.rate, funding.interval_h, funding.rate_per_hour) == (0.0008, 8, 0.0001)
        assert engine.metrics.value("init_failures", venue="fakex") == 3
        assert venue.markets_calls == 4


@pytest.fixture
async def second_venue(aiohttp_server):
    from fakex import FakeVenue

    venue = FakeVenue()
    server = await aiohttp_server(venue.app())
    return venue, f"http://127.0.0.1:{server.port}"


def two_venue_engine(base_x: str, base_y: str) -> Engine:
    def table(base: str) -> dict[str, object]:
        return {"ws_url": base.replace("http", "ws") + "/ws", "rest_url": base}

    return Engine(
        make_settings({"fakex": table(base_x), "fakey": table(base_y)}), plugins=fake_host()
    )


@pytest.mark.parametrize("where", ["parser", "poller", "heartbeat", "watchdog"])
async def test_crashing_task_is_restarted_and_other_venue_keeps_streaming(
    fake_venue, second_venue, next_matching, monkeypatch, caplog, where
):
    venue_x, base_x = fake_venue
    _venue_y, base_y = second_venue
    engine = two_venue_engine(base_x, base_y)
    crashed = asyncio.Event()
    if where in ("heartbeat", "watchdog"):
        method = f"_{where}"
        original = getattr(ConnectionRunner, method)

        async def broken_once(self, ws):
            if self.services.name == "fakex" and not crashed.is_set():
                await asyncio.sleep(0.05)
                crashed.set()
                raise RuntimeError(f"{where} bug")
            await original(self, ws)

        monkeypatch.setattr(ConnectionRunner, method, broken_once)
    caplog.set_level(logging.ERROR)
    async with engine:
        sub = engine.events()
        await next_matching(sub, is_book("fakey"))
        await next_matching(sub, is_book("fakex"))
        if where == "parser":
            await venue_x.send({"t": "boom"})
        elif where == "poller":
            venue_x.funding = {"bug": True}
        task = "poll:funding" if where == "poller" else "ws:main"
        async with asyncio.timeout(5):
            while engine.metrics.value("task_restarts", venue="fakex", task=task) < 1:
                await next_matching(sub, is_book("fakey"))  # fakey streams throughout
        assert "crashed; restarting it" in caplog.text
        assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)
        venue_x.funding = {"rate": 0.0008, "h": 8}
        assert engine.metrics.value("task_restarts", venue="fakey") == 0
        assert not any(s.state != "live" for s in engine.runners["fakey"].services.states.values())
        if where in ("parser", "watchdog"):
            await venue_x.wait_connections(2)
        await next_matching(sub, lambda e: is_book("fakex")(e) and e.ts_recv > 0)


async def test_a_crashed_venue_runner_restarts_clean(
    fake_venue, engine_for, next_matching, monkeypatch
):
    _venue, base = fake_venue
    engine = engine_for(base)
    adapter = engine.adapters["fakex"]
    original = type(adapter).poll_requests
    calls = []

    def poll_requests_bug_once(self, instruments):  # runs after the connections were built
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("adapter bug while building poll requests")
        return original(self, instruments)

    monkeypatch.setattr(type(adapter), "poll_requests", poll_requests_bug_once)
    async with engine:
        sub = engine.events()
        await next_matching(sub, is_book())
        assert engine.metrics.value("task_restarts", venue="fakex", task="venue") == 1
        assert len(engine.runners["fakex"].connections) == 1


def attempts(engine) -> int:
    """The fakex connection's retry attempt count, from the health read model."""
    return engine.health()["fakex"].connections[0].backoff_attempt


async def test_a_crashed_connection_is_not_live_while_it_waits_for_its_restart(
    fake_venue, engine_for, next_matching
):
    """Between a crash and the supervisor's restart the socket is gone: /readyz and the
    REST fallback must not take the connection for live."""
    venue, base = fake_venue
    async with engine_for(base) as engine:
        sub = engine.events()
        await next_matching(sub, is_book("fakex"))
        await venue.send({"t": "boom"})
        down = await next_matching(
            sub, lambda e: isinstance(e, Status) and e.stream == "ws:main" and e.state != "live"
        )
        assert down.state == "backoff", down
        assert down.reason.startswith("task crashed: RuntimeError: parser bug"), down.reason
        health = engine.runners["fakex"].connections[0].health()
        assert health.state == "backoff" and health.last_error == down.reason
        await next_matching(
            sub, lambda e: isinstance(e, Status) and e.stream == "ws:main" and e.state == "live"
        )
