"""Fixtures for the Lighter plugin tests: an adapter as the core leaves it after start-up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from venuefeed.core.adapter import VenueContext
from venuefeed.plugins.lighter.adapter import LighterAdapter

#: an orderBooks body with perps BTC=1 and ETH=0 (real capture), EURUSD=96, a spot market
#: and an inactive perp, both of which must stay out of the symbol map.
MARKETS: dict[str, Any] = {
    "code": 200,
    "order_books": [
        {"symbol": "ETH", "market_id": 0, "market_type": "perp", "status": "active"},
        {"symbol": "BTC", "market_id": 1, "market_type": "perp", "status": "active"},
        {"symbol": "EURUSD", "market_id": 96, "market_type": "perp", "status": "active"},
        {"symbol": "ETH/USDC", "market_id": 2048, "market_type": "spot", "status": "active"},
        {"symbol": "OLD", "market_id": 7, "market_type": "perp", "status": "inactive"},
    ],
}


def make(options: dict[str, Any] | None = None, *, init: bool = True) -> LighterAdapter:
    """An adapter for BTC and ETH; with `init`, MARKETS loaded and both symbols resolved, as
    the core does (frames about other markets are unknown)."""
    ctx = VenueContext(
        name="lighter",
        symbols=("BTC", "ETH"),
        ws_url="wss://x/ws",
        rest_url="https://x",
        options=options or {},
    )
    adapter = LighterAdapter(ctx)
    if init:
        (request,) = adapter.init_requests()
        assert request.parse(MARKETS, 0) == ()
        for symbol in ctx.symbols:
            adapter.resolve(symbol)
    return adapter


@pytest.fixture(name="make")
def make_fixture() -> Callable[..., LighterAdapter]:
    return make


@pytest.fixture
def lt() -> LighterAdapter:
    return make()
