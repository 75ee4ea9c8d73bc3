"""Frames `make fuzz` found to crash the Aster parser or to carry impossible numbers.

Each frame is the recorded sample with the fuzzer's mutation applied (the mutation is
named in each test). Before the fix the first crashed `parse` with a RecursionError and
the others produced results the core's sanity gate had to reject.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from venuefeed.core.errors import MalformedFrame
from venuefeed.core.events import Bbo, Mark
from venuefeed.core.publishing.sanity import check_results
from venuefeed.plugins.aster.adapter import AsterAdapter

RECV = 1_754_000_000_123
Load = Callable[[str], Any]


def deep(value_at: str, depth: int) -> str:
    """A frame whose `value_at` text is replaced by `depth` nested arrays."""
    return value_at.replace('"@@"', "[" * depth + "]" * depth)


@pytest.mark.parametrize("depth", [1_000, 3_000, 20_000])
def test_deeply_nested_field_is_malformed_not_a_recursion_error(
    adapter: AsterAdapter, load: Load, depth: int
) -> None:
    # make fuzz: ws_book_ticker.ccxt.json, `nest 3000@/s` -> RecursionError out of parse
    sample = load("ws_book_ticker.ccxt.json")
    sample["s"] = "@@"
    with pytest.raises(MalformedFrame, match="nested too deeply"):
        adapter.parse(deep(json.dumps(sample), depth), RECV)
    wrapped = json.dumps({"stream": "btcusdt@bookTicker", "data": sample})
    with pytest.raises(MalformedFrame, match="nested too deeply"):
        adapter.parse(deep(wrapped, depth), RECV)


def test_issue_frame_two_kilobytes_nested_a_thousand_deep(adapter: AsterAdapter) -> None:
    frame = '{"data":' * 1_000 + "0" + "}" * 1_000
    with pytest.raises(MalformedFrame):
        adapter.parse(frame, RECV)


@pytest.mark.parametrize(
    ("sample", "path", "value"),
    [
        # make fuzz: `number /data/a/0/0='-0'` and `/data/b/0/0='1e-400'`: level price 0
        ("ws_depth20_update.ccxt.json", ("a", 0, 0), "-0"),
        ("ws_depth20_update.ccxt.json", ("b", 0, 0), "1e-400"),
        # `number /data/a='0.0'`, `/b='1e-400'`: a quoted quantity at price 0
        ("ws_book_ticker.doc.json", ("a",), "0.0"),
        ("ws_book_ticker.doc.json", ("b",), "1e-400"),
        # `number /p='0'`: mark price 0
        ("ws_mark_price_update.doc.json", ("p",), "0"),
        # `number /p=0`, `/q=0`: a trade at price 0, a trade of nothing
        ("ws_agg_trade.doc.json", ("p",), 0),
        ("ws_agg_trade.ccxt.json", ("q",), 0),
        ("ws_agg_trade.ccxt.json", ("q",), "-0.001"),
    ],
)
def test_impossible_numbers_are_malformed_frames(
    adapter: AsterAdapter, load: Load, sample: str, path: tuple[Any, ...], value: Any
) -> None:
    doc = load(sample)
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    for frame in (json.dumps(doc), json.dumps({"stream": "x", "data": doc})):
        with pytest.raises(MalformedFrame):
            adapter.parse(frame, RECV)


@pytest.mark.parametrize("index", ["0E-8", "1e-400", "0"])
def test_a_zero_index_is_no_index(adapter: AsterAdapter, load: Load, index: str) -> None:
    # make fuzz: ws_mark_price_update.ccxt.json `number /i='0E-8'`: Mark with index 0.0
    doc = load("ws_mark_price_update.ccxt.json")
    doc["i"] = index
    results = adapter.parse(json.dumps(doc), RECV)
    check_results(results)
    mark = results[0]
    assert isinstance(mark, Mark) and mark.index_px is None and mark.mark_px == 116809.6


def test_an_empty_bbo_side_may_be_quoted_at_zero(adapter: AsterAdapter, load: Load) -> None:
    doc = load("ws_book_ticker.doc.json")
    doc["a"], doc["A"] = "0", "0"
    (bbo,) = adapter.parse(json.dumps(doc), RECV)
    assert isinstance(bbo, Bbo) and bbo.ask_px is None and bbo.ask_sz is None
    assert bbo.bid_px == 25.3519


def test_a_rate_over_a_vanishing_interval_is_malformed(adapter: AsterAdapter, load: Load) -> None:
    _, funding = adapter.init_requests()
    funding.parse([{"symbol": "BTCUSDT", "fundingIntervalHours": 1e-320}], RECV)
    doc = load("ws_mark_price_update.ccxt.json")
    doc["r"] = "1e300"
    with pytest.raises(MalformedFrame, match="funding"):
        adapter.parse(json.dumps(doc), RECV)
