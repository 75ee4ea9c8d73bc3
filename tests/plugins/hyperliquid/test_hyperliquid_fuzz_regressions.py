"""Frames `make fuzz` found to crash the Hyperliquid parser, to carry impossible values or
to invent instruments.

Each frame is a recorded sample with the fuzzer's mutation applied (named in each test).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from venuefeed.core.adapter import Instrument
from venuefeed.core.errors import MalformedFrame, UnknownFrame
from venuefeed.core.events import Trade
from venuefeed.plugins.hyperliquid.adapter import HyperliquidAdapter

RECV = 1_710_125_267_000
FrameText = Callable[[str], str]


@pytest.mark.parametrize("depth", [1_000, 3_000, 20_000])
def test_deeply_nested_field_is_malformed_not_a_recursion_error(
    adapter: HyperliquidAdapter, frame_text: FrameText, depth: int
) -> None:
    # make fuzz: ws_trades.ccxt.json `nest 3000@/channel` -> RecursionError out of parse
    doc = json.loads(frame_text("ws_trades.ccxt.json"))
    doc["channel"] = "@@"
    frame = json.dumps(doc).replace('"@@"', "[" * depth + "]" * depth)
    with pytest.raises(MalformedFrame, match="nested too deeply"):
        adapter.parse(frame, RECV)


def test_issue_frame_two_kilobytes_nested_a_thousand_deep(adapter: HyperliquidAdapter) -> None:
    with pytest.raises(MalformedFrame):
        adapter.parse('{"a":' * 1_000 + "0" + "}" * 1_000, RECV)


@pytest.mark.parametrize("size", ["0", "-0", "0.0", 0, "1e-400"])
def test_a_trade_of_nothing_is_malformed(
    adapter: HyperliquidAdapter, frame_text: FrameText, size: object
) -> None:
    # make fuzz: ws_trades.ccxt.json `number /data/0/sz='-0'` -> Trade with size 0.0
    doc = json.loads(frame_text("ws_trades.ccxt.json"))
    doc["data"][0]["sz"] = size
    with pytest.raises(MalformedFrame):
        adapter.parse(json.dumps(doc), RECV)


def test_the_recorded_trade_still_parses(adapter: HyperliquidAdapter, frame_text: FrameText):
    (trade,) = adapter.parse(frame_text("ws_trades.ccxt.json"), RECV)
    assert isinstance(trade, Trade) and trade.size == 0.005


@pytest.mark.parametrize(
    ("sample", "where"),
    [
        ("ws_trades.ccxt.json", lambda doc: doc["data"][0]),
        ("ws_l2book_snapshot.ccxt.json", lambda doc: doc["data"]),
        ("ws_active_asset_ctx_funding_mark.ccxt.json", lambda doc: doc["data"]),
    ],
)
def test_an_empty_coin_is_malformed(
    adapter: HyperliquidAdapter, frame_text: FrameText, sample: str, where: Callable[..., dict]
) -> None:
    """An empty coin would publish events for the instrument ""."""
    doc = json.loads(frame_text(sample))
    where(doc)["coin"] = ""
    with pytest.raises(MalformedFrame):
        adapter.parse(json.dumps(doc), RECV)


_BBO = '{"channel": "bbo", "data": {"coin": "BTC", "time": 1, "bbo": [null, null]}}'


@pytest.mark.parametrize(
    "sample",
    [
        "ws_trades.ccxt.json",
        "ws_l2book_snapshot.ccxt.json",
        "ws_active_asset_ctx_funding_mark.ccxt.json",
        _BBO,
    ],
)
@pytest.mark.parametrize(
    "coin",
    [
        "sTC",  # make fuzz: `string /data/0/coin='sTC'` -> a Trade for the coin "sTC"
        "SOL",  # listed in `meta`, but not one of the configured coins
        "btc",  # the venue's spelling is "BTC": another coin, not a case of it
    ],
)
def test_data_for_a_coin_not_subscribed_is_unknown(
    adapter: HyperliquidAdapter, frame_text: FrameText, sample: str, coin: str
) -> None:
    """The plugin never invents an instrument from a frame: only the coins the core asked
    for (resolve, connections) produce results, and no per-coin state grows for others."""
    doc = json.loads(sample if sample.startswith("{") else frame_text(sample))
    rows = doc["data"] if isinstance(doc["data"], list) else [doc["data"]]
    for row in rows:
        row["coin"] = coin
    with pytest.raises(UnknownFrame, match=repr(coin)):
        adapter.parse(json.dumps(doc), RECV)
    assert adapter._last_funding == {}  # the per-coin cache stays empty


def test_coins_named_by_connections_are_streamed(
    new_adapter: Callable[..., HyperliquidAdapter], frame_text: FrameText
) -> None:
    adapter = new_adapter(symbols=())
    with pytest.raises(UnknownFrame):
        adapter.parse(frame_text("ws_trades.ccxt.json"), RECV)
    adapter.connections([Instrument("BTC", "BTC")])
    (trade,) = adapter.parse(frame_text("ws_trades.ccxt.json"), RECV)
    assert isinstance(trade, Trade) and trade.instrument == "BTC"
