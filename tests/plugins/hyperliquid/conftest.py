"""Fixtures for the Hyperliquid plugin tests.

Recorded frames live in `data/` next to this file (copied from the shared venue notes, so
the tests never read outside the repository).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from venuefeed.core.adapter import VenueContext
from venuefeed.plugins.hyperliquid.adapter import HyperliquidAdapter

DATA = Path(__file__).parent / "data"


@pytest.fixture
def frame_text() -> Callable[[str], str]:
    """A recorded frame exactly as stored (what the websocket would deliver)."""
    return lambda name: (DATA / name).read_text()


@pytest.fixture
def rest_body() -> Callable[[str], Any]:
    """A recorded REST body, decoded (what a RestRequest's parse receives)."""
    return lambda name: json.loads((DATA / name).read_text())


@pytest.fixture
def new_adapter(rest_body: Callable[[str], Any]) -> Callable[..., HyperliquidAdapter]:
    """Build an adapter as the core leaves it after start-up: the real `meta` capture
    loaded and the configured coins resolved (frames about other coins are unknown)."""

    def build(
        name: str = "hyperliquid", symbols: tuple[str, ...] = ("BTC", "ETH"), **options: Any
    ) -> HyperliquidAdapter:
        ctx = VenueContext(
            name=name,
            symbols=symbols,
            ws_url="wss://x/ws",
            rest_url="https://x",
            options=options,
        )
        adapter = HyperliquidAdapter(ctx)
        (meta,) = adapter.init_requests()
        assert meta.parse(rest_body("rest_meta_response.sdk_cassette.json"), 0) == ()
        for symbol in symbols:
            adapter.resolve(symbol)
        return adapter

    return build


@pytest.fixture
def adapter(new_adapter: Callable[..., HyperliquidAdapter]) -> HyperliquidAdapter:
    return new_adapter()
