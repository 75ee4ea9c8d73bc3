"""Shared fixtures: a clean environment, the fakex loopback venue, engine builders."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from fakex import FakeVenue
from harness import fake_host, make_settings

from venuefeed.core.engine import Engine
from venuefeed.testing import next_event


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("VENUEFEED_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("VENUEFEED_DISABLE_PLUGIN_AUTOLOAD", "1")
    yield


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


@pytest.fixture
def next_matching() -> Callable[..., Any]:
    return next_event
