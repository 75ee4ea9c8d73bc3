from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from venuefeed.core.adapter import VenueContext
from venuefeed.plugins.aster.adapter import AsterAdapter

DATA = Path(__file__).parent / "data"


def _market(symbol: str, base: str, *, status: str = "TRADING", kind: str = "PERPETUAL") -> Any:
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": kind,
        "status": status,
        "baseAsset": base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "filters": [{"filterType": "PRICE_FILTER", "tickSize": "0.1"}],
    }


#: an exchangeInfo body shaped like the documented one, with the markets the tests need.
EXCHANGE_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": 1754551358000,
    "rateLimits": [],
    "symbols": [
        _market("BTCUSDT", "BTC"),
        _market("ETHUSDT", "ETH"),
        _market("ZORAUSDT", "ZORA"),
        _market("BNBUSDT", "BNB"),
        _market("INJUSDT", "INJ"),
        _market("OLDUSDT", "OLD", status="SETTLING"),
        _market("BTCUSDT_250926", "BTC", kind="CURRENT_QUARTER"),
    ],
}


def make_ctx(**options: Any) -> VenueContext:
    return VenueContext(
        name="aster",
        symbols=("BTC", "ETH"),
        ws_url="wss://x/ws",
        rest_url="https://x",
        options=options,
    )


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


@pytest.fixture
def ctx() -> VenueContext:
    return make_ctx()


@pytest.fixture(name="make_ctx")
def make_ctx_fixture() -> Callable[..., VenueContext]:
    return make_ctx


@pytest.fixture(name="load")
def load_fixture() -> Callable[[str], Any]:
    return load


@pytest.fixture
def exchange_info() -> dict[str, Any]:
    return copy.deepcopy(EXCHANGE_INFO)


@pytest.fixture
def adapter(ctx: VenueContext) -> AsterAdapter:
    """An adapter after init (exchangeInfo + the documented fundingInfo) with BTC, ETH,
    ZORA and BNB resolved."""
    a = AsterAdapter(ctx)
    info, funding = a.init_requests()
    assert info.parse(EXCHANGE_INFO, 1) == ()
    assert funding.parse(load("rest_funding_info_response.doc.json"), 2) == ()
    for s in ("BTC", "ETH", "ZORA", "BNB"):
        a.resolve(s)
    return a


@pytest.fixture
def combined() -> Callable[[str, str], str]:
    """A sample payload wrapped as a combined-stream frame, as `/stream` delivers it."""

    def wrap(name: str, stream: str) -> str:
        return json.dumps({"stream": stream, "data": load(name)})

    return wrap
