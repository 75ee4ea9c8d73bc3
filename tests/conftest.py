"""Shared fixtures: a clean environment, the fakex loopback venue, engine builders."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import fakex
import pytest
from fakex import FakeVenue

from venuefeed.core.engine import Engine
from venuefeed.core.events import Event
from venuefeed.core.plugins import PluginHost
from venuefeed.core.publisher import Subscription
from venuefeed.core.settings import Settings

#: policy for engine tests: every threshold short so tests finish in a fraction of a second.
FAST_POLICY: dict[str, Any] = {
    "stale_after_s": 0.3,
    "connect_timeout_s": 1.0,
    "request_timeout_s": 1.0,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.4,
    "backoff_multiplier": 2.0,
    "backoff_jitter": 0.0,
    "stable_after_s": 0.3,
    "heartbeat_interval_s": 0.1,
    "funding_poll_s": 0.2,
    "init_retry_max_s": 0.1,
    "breaker_failures": 50,
    "breaker_window_s": 10.0,
    "breaker_cooldown_s": 0.2,
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("VENUEFEED_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VENUEFEED_DISABLE_PLUGIN_AUTOLOAD", "1")
    yield


def fake_host() -> PluginHost:
    """A fresh plugin manager holding only the test venues."""
    return PluginHost(builtin_modules=(), extra_plugins=[fakex], load_entry_points=False)


def make_settings(venues: dict[str, dict[str, Any]], **policy: Any) -> Settings:
    return Settings.model_validate(
        {
            "defaults": {**FAST_POLICY, **policy, "symbols": ["BTC", "ETH"]},
            "engine": {"queue_max": 10_000, "history_put_timeout_s": 0.5},
            "venues": venues,
        }
    )


@pytest.fixture
async def fake_venue(aiohttp_server: Any) -> AsyncIterator[tuple[FakeVenue, str]]:
    venue = FakeVenue()
    server = await aiohttp_server(venue.app())
    yield venue, f"http://127.0.0.1:{server.port}"


@pytest.fixture
def engine_for() -> Callable[..., Engine]:
    def build(
        base: str, *, name: str = "fakex", options: dict[str, Any] | None = None, **policy: Any
    ) -> Engine:
        table = {
            "ws_url": base.replace("http", "ws") + "/ws",
            "rest_url": base,
            "options": options or {},
        }
        return Engine(make_settings({name: table}, **policy), plugins=fake_host())

    return build


async def next_event(
    sub: Subscription, pred: Callable[[Event], bool], within: float = 5.0
) -> Event:
    """The next event matching `pred`; fails the test after `within` seconds."""
    async with asyncio.timeout(within):
        async for event in sub:
            if pred(event):
                return event
    raise AssertionError("event stream ended")


@pytest.fixture
def next_matching() -> Callable[..., Any]:
    return next_event
