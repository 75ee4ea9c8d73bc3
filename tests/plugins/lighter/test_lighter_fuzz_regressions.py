"""Frames `make fuzz` found to crash the Lighter parser or to carry impossible numbers.

Each frame is a recorded sample with the fuzzer's mutation applied (the mutation is named
in each case). Before the fix the first crashed `parse` with an OverflowError and the
others produced funding at NaN, a BBO at inf, book levels at NaN or a negative price...,
which the core's sanity gate then had to reject.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from venuefeed.core.adapter import VenueContext
from venuefeed.core.errors import MalformedFrame
from venuefeed.core.events import Bbo, Mark
from venuefeed.core.publishing.sanity import check_results
from venuefeed.plugins.lighter.adapter import LighterAdapter

DATA = Path(__file__).parent / "data"
RECV = 1_774_883_845_000
HUGE = 10**400  # an integer no float can hold


@pytest.fixture
def lt() -> LighterAdapter:
    ctx = VenueContext(
        name="lighter",
        symbols=("ETH", "EURUSD"),
        ws_url="wss://x/ws",
        rest_url="https://x",
    )
    adapter = LighterAdapter(ctx)
    (request,) = adapter.init_requests()
    markets = json.loads((DATA / "rest_order_books.nautilus.json").read_text())
    markets["order_books"].append({"symbol": "EURUSD", "market_id": 96, "market_type": "perp"})
    request.parse(markets, RECV)
    for symbol in ctx.symbols:
        adapter.resolve(symbol)
    return adapter


def mutated(name: str, path: tuple[Any, ...], value: Any) -> str:
    doc = json.loads((DATA / name).read_text())
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return json.dumps(doc)


STATS = "ws_market_stats_update.ccxt.json"
STATS_ALL = "ws_market_stats_all_update.ccxt.json"
BOOK = "ws_order_book_update.ccxt.json"
SNAPSHOT = "ws_order_book_subscribed.nautilus.json"
TICKER = "ws_ticker_update.nautilus.json"
TRADES = "ws_trade_update.nautilus.json"


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        # crash: `number /market_stats/index_price=1000...0` -> OverflowError out of parse
        (STATS, ("market_stats", "index_price"), HUGE),
        (STATS, ("market_stats", "mark_price"), -HUGE),
        (STATS, ("market_stats", "current_funding_rate"), HUGE),
        # funding NaN: `number /market_stats/96/current_funding_rate='NaN'`
        (STATS_ALL, ("market_stats", "96", "current_funding_rate"), "NaN"),
        (STATS, ("market_stats", "current_funding_rate"), "-Infinity"),
        # mark and index: `mark_price='inf'`, `index_price='nan'`, `mark_price='1e-400'`...
        (STATS, ("market_stats", "mark_price"), "inf"),
        (STATS_ALL, ("market_stats", "96", "index_price"), "nan"),
        (STATS, ("market_stats", "mark_price"), "1e-400"),
        (STATS, ("market_stats", "mark_price"), -0.5),
        (STATS, ("market_stats", "index_price"), -1),
        # BBO at inf: `number /ticker/a/price='inf'`, `/ticker/b/size='Infinity'`
        (TICKER, ("ticker", "a", "price"), "inf"),
        (TICKER, ("ticker", "b", "size"), "Infinity"),
        (TICKER, ("ticker", "b", "price"), "-1"),
        # delta levels at NaN, 0 or below: `number /order_book/bids/0/price='NaN'`...
        (BOOK, ("order_book", "bids", 0, "price"), "NaN"),
        (BOOK, ("order_book", "asks", 0, "price"), "1e-400"),
        (BOOK, ("order_book", "asks", 0, "price"), -0.5),
        (BOOK, ("order_book", "asks", 0, "size"), "inf"),
        (BOOK, ("order_book", "bids", 0, "size"), -1),
        # a book level at a negative price: `number /order_book/asks/0/price=-0.5`
        (SNAPSHOT, ("order_book", "asks", 0, "price"), -0.5),
        (SNAPSHOT, ("order_book", "bids", 0, "size"), "nan"),
        # trades: `price='inf'`, `price=0.0`, `size='1e-400'`, `trade_id=''`
        (TRADES, ("trades", 0, "price"), "inf"),
        (TRADES, ("trades", 0, "price"), 0.0),
        (TRADES, ("trades", 0, "size"), "1e-400"),
        (TRADES, ("trades", 0, "size"), -1),
        (TRADES, ("trades", 0, "trade_id"), ""),
    ],
)
def test_impossible_numbers_are_malformed_frames(
    lt: LighterAdapter, name: str, path: tuple[Any, ...], value: Any
) -> None:
    with pytest.raises(MalformedFrame):
        lt.parse(mutated(name, path, value), RECV)


@pytest.mark.parametrize("index", ["0", "0.0000", 0])
def test_a_zero_index_is_no_index(lt: LighterAdapter, index: Any) -> None:
    results = lt.parse(mutated(STATS, ("market_stats", "index_price"), index), RECV)
    check_results(results)
    mark = results[-1]
    assert isinstance(mark, Mark) and mark.index_px is None and mark.mark_px == 3013.91


def test_a_zero_ticker_side_is_still_no_quote(lt: LighterAdapter) -> None:
    (bbo,) = lt.parse(mutated(TICKER, ("ticker", "a"), {"price": "0", "size": "0"}), RECV)
    assert isinstance(bbo, Bbo) and bbo.ask_px is None and bbo.bid_px == 2064.30


def test_a_removed_level_keeps_its_zero_size(lt: LighterAdapter) -> None:
    (delta,) = lt.parse((DATA / BOOK).read_text(), RECV)
    check_results([delta])
    assert (2979.36, 0.0) in delta.bids  # type: ignore[attr-defined]
