"""Frames `make fuzz` found to carry values the Extended parser let through.

Each frame is a recorded sample with the fuzzer's mutation applied (named in each test).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from venuefeed.core.adapter import VenueContext
from venuefeed.core.errors import MalformedFrame
from venuefeed.core.events import Trade
from venuefeed.plugins.extended.adapter import ExtendedAdapter

DATA = Path(__file__).parent / "data"
RECV = 1_800_000_000_123


@pytest.fixture
def adapter() -> ExtendedAdapter:
    ctx = VenueContext(
        name="extended",
        symbols=("BTC",),
        ws_url="wss://x/ws",
        rest_url="https://x",
    )
    adapter = ExtendedAdapter(ctx)
    (init,) = adapter.init_requests()
    init.parse(json.loads((DATA / "rest_markets_response.ccxt.json").read_text()), 1)
    adapter.resolve("BTC")
    return adapter


def sample(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def test_a_trade_without_an_id_is_malformed(adapter: ExtendedAdapter) -> None:
    # make fuzz: ws_public_trades.ccxt.json `number /data/0/i=''` -> Trade with trade_id ""
    doc = sample("ws_public_trades.ccxt.json")
    doc["data"][0]["i"] = ""
    with pytest.raises(MalformedFrame):
        adapter.parse(json.dumps(doc), RECV)
    doc["data"][0]["i"] = "abc-1"  # a non-empty string id is fine
    (trade,) = adapter.parse(json.dumps(doc), RECV)
    assert isinstance(trade, Trade) and trade.trade_id == "abc-1"


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("ws_public_trades.ccxt.json", lambda doc: doc["data"][0]),
        ("ws_orderbook_snapshot.ccxt.json", lambda doc: doc["data"]),
        ("ws_funding.ccxt.json", lambda doc: doc["data"]),
        ("ws_mark_price.ccxt.json", lambda doc: doc["data"]),
    ],
)
def test_an_empty_market_is_malformed(adapter: ExtendedAdapter, name: str, where: Any) -> None:
    """An empty market name would publish events for the instrument ""."""
    doc = sample(name)
    where(doc)["m"] = ""
    with pytest.raises(MalformedFrame):
        adapter.parse(json.dumps(doc), RECV)
