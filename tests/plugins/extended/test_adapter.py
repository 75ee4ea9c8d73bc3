"""Extended adapter declarations: symbols, connections, options and REST requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import venuefeed
from venuefeed.core.adapter import (
    ConnectionSpec,
    Continuity,
    Instrument,
    Resync,
    StreamSpec,
    VenueContext,
)
from venuefeed.core.errors import ConfigError, ParseError, UnknownSymbolError
from venuefeed.core.events import Funding, Mark
from venuefeed.plugins.extended import venuefeed_register_venues
from venuefeed.plugins.extended.adapter import ExtendedAdapter

DATA = Path(__file__).parent / "data"
UA = {"User-Agent": f"venuefeed/{venuefeed.__version__}"}


def body(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def ctx(ws_url: str = "wss://x/ws", **options: Any) -> VenueContext:
    return VenueContext(
        name="extended",
        symbols=("BTC", "ETH"),
        ws_url=ws_url,
        rest_url="https://x",
        options=options,
    )


def markets() -> dict[str, Any]:
    """The recorded BTC market plus listings built from its shape."""
    data: dict[str, Any] = body("rest_markets_response.ccxt.json")
    btc = data["data"][0]
    data["data"] += [
        # listed before the active market of the same asset: must not win
        {**btc, "name": "ETH-USDT", "assetName": "ETH", "status": "DELISTED", "active": False},
        {**btc, "name": "ETH-USD", "uiName": "ETH-USD", "assetName": "ETH"},
        {**btc, "name": "1000PEPE-USD", "assetName": "1000PEPE"},
        {**btc, "name": "XAU-USD", "assetName": "XAU", "status": "REDUCE_ONLY"},
    ]
    return data


def loaded(**options: Any) -> ExtendedAdapter:
    adapter = ExtendedAdapter(ctx(**options))
    (init,) = adapter.init_requests()
    assert init.parse(markets(), 1) == ()
    return adapter


BTC = Instrument(symbol="BTC", instrument="BTC-USD")
ETH = Instrument(symbol="ETH", instrument="ETH-USD")


# ------------------------------------------------------------------ declarations


def test_registered_through_the_hook() -> None:
    assert venuefeed_register_venues() == [ExtendedAdapter]


def test_class_declarations() -> None:
    assert ExtendedAdapter.name == "extended"
    assert ExtendedAdapter.default_ws_url == (
        "wss://api.starknet.extended.exchange/stream.extended.exchange/v1"
    )
    assert ExtendedAdapter.default_rest_url == "https://api.starknet.extended.exchange/api/v1"
    assert ExtendedAdapter.heartbeat.ping is None  # the server pings at websocket level
    assert ExtendedAdapter.continuity is Continuity.SEQ_INCREMENT
    assert ExtendedAdapter.resync is Resync.RECONNECT
    assert ExtendedAdapter.bbo_from_book is True


def test_no_resubscribe_and_no_rest_book() -> None:
    adapter = loaded()
    assert list(adapter.resubscribe_messages("BTC-USD")) == []
    assert adapter.book_snapshot_request("BTC-USD") is None


# ----------------------------------------------------------------------- resolve


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("BTC", BTC),
        ("btc", BTC),
        ("BTC-USD", BTC),
        ("ETH", ETH),
        ("ETH-USD", ETH),
        ("ETH-USDT", Instrument(symbol="ETH", instrument="ETH-USDT")),
        ("1000PEPE", Instrument(symbol="1000PEPE", instrument="1000PEPE-USD")),
        ("XAU", Instrument(symbol="XAU", instrument="XAU-USD")),
    ],
)
def test_resolve(symbol: str, expected: Instrument) -> None:
    assert loaded().resolve(symbol) == expected


def test_resolve_unknown_names_the_known_symbols() -> None:
    with pytest.raises(UnknownSymbolError) as info:
        loaded().resolve("DOGE")
    assert info.value.venue == "extended"
    assert info.value.symbol == "DOGE"
    assert "BTC, ETH" in str(info.value)


def test_resolve_before_the_market_list_is_unknown() -> None:
    with pytest.raises(UnknownSymbolError):
        ExtendedAdapter(ctx()).resolve("BTC")


def test_a_new_market_list_replaces_the_old_one() -> None:
    adapter = loaded()
    (init,) = adapter.init_requests()
    init.parse(body("rest_markets_response.ccxt.json"), 2)
    assert adapter.resolve("BTC") == BTC
    with pytest.raises(UnknownSymbolError):
        adapter.resolve("ETH")


# ------------------------------------------------------------------- connections


def test_one_connection_per_stream_and_market() -> None:
    specs = list(loaded().connections([BTC, ETH]))
    expected = []
    for market in ("BTC-USD", "ETH-USD"):
        expected += [
            ConnectionSpec(
                name=f"orderbooks/{market}",
                url=f"wss://x/ws/orderbooks/{market}",
                streams=(StreamSpec("book", market, quiet=False),),
                headers=UA,
            ),
            ConnectionSpec(
                name=f"publicTrades/{market}",
                url=f"wss://x/ws/publicTrades/{market}",
                streams=(StreamSpec("trade", market, quiet=True),),
                headers=UA,
            ),
            ConnectionSpec(
                name=f"funding/{market}",
                url=f"wss://x/ws/funding/{market}",
                streams=(StreamSpec("funding", market, quiet=True),),
                headers=UA,
            ),
            ConnectionSpec(
                name=f"prices/mark/{market}",
                url=f"wss://x/ws/prices/mark/{market}",
                streams=(StreamSpec("mark", market, quiet=True),),
                headers=UA,
            ),
        ]
    assert specs == expected
    # v1 has no subscribe message and no documented lifetime cap
    assert all(spec.subscribe == () and spec.max_lifetime_s is None for spec in specs)
    assert len({spec.name for spec in specs}) == len(specs)


def test_urls_come_from_the_context() -> None:
    adapter = ExtendedAdapter(ctx("ws://127.0.0.1:8765/stream.extended.exchange/v1/"))
    urls = [spec.url for spec in adapter.connections([BTC])]
    assert urls == [
        "ws://127.0.0.1:8765/stream.extended.exchange/v1/orderbooks/BTC-USD",
        "ws://127.0.0.1:8765/stream.extended.exchange/v1/publicTrades/BTC-USD",
        "ws://127.0.0.1:8765/stream.extended.exchange/v1/funding/BTC-USD",
        "ws://127.0.0.1:8765/stream.extended.exchange/v1/prices/mark/BTC-USD",
    ]


def test_options_choose_streams_and_user_agent() -> None:
    adapter = loaded(streams=["trade", "book", "trade"], user_agent="my-bot/2.0")
    specs = adapter.connections([BTC])
    assert [spec.streams[0].kind for spec in specs] == ["trade", "book"]
    assert all(spec.headers == {"User-Agent": "my-bot/2.0"} for spec in specs)
    assert [s.streams[0].kind for s in loaded(streams="mark").connections([BTC])] == ["mark"]


@pytest.mark.parametrize(
    "options",
    [
        {"streams": []},
        {"streams": ["bbo"]},
        {"streams": 5},
        {"user_agent": ""},
        {"user_agent": 7},
        {"include_deleverage": "maybe"},
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        ExtendedAdapter(ctx(**options))


# -------------------------------------------------------------------------- REST


def test_init_request() -> None:
    (init,) = ExtendedAdapter(ctx()).init_requests()
    assert (init.name, init.method, init.path, init.params, init.json) == (
        "markets",
        "GET",
        "/info/markets",
        None,
        None,
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "ERROR", "error": {"code": 1006, "message": "Application error."}},
        {"status": "ERROR", "error": "down"},
        {"status": "OK"},
        {"status": "OK", "data": {"name": "BTC-USD"}},
        {"status": "OK", "data": [{"assetName": "BTC"}]},
        {"data": []},
        [],
        None,
        "<html>blocked</html>",
    ],
)
def test_bad_market_lists_raise_parse_error(bad: Any) -> None:
    (init,) = ExtendedAdapter(ctx()).init_requests()
    with pytest.raises(ParseError):
        init.parse(bad, 1)


def test_poll_requests_are_bound_to_their_market() -> None:
    adapter = loaded()
    requests = list(adapter.poll_requests([BTC, ETH]))
    assert [(r.name, r.method, r.path) for r in requests] == [
        ("stats:BTC-USD", "GET", "/info/markets/BTC-USD/stats"),
        ("stats:ETH-USD", "GET", "/info/markets/ETH-USD/stats"),
    ]
    stats = body("rest_market_stats_response.ccxt.json")
    funding, mark = requests[1].parse(stats, 1_777_445_000_000)
    assert funding == Funding(
        venue="extended",
        symbol="ETH",
        instrument="ETH-USD",
        ts_venue=None,
        ts_recv=1_777_445_000_000,
        rate=0.000012,
        interval_h=1.0,
        rate_per_hour=0.000012,
        next_funding_ms=1777446000000,
        basis="predicted",
        source="rest",
        feed="markets/stats",
    )
    assert mark == Mark(
        venue="extended",
        symbol="ETH",
        instrument="ETH-USD",
        ts_venue=None,
        ts_recv=1_777_445_000_000,
        mark_px=77006.091897999984,
        index_px=77050.739529925005,
    )


def test_stats_without_funding_or_mark() -> None:
    (poll,) = loaded().poll_requests([BTC])
    assert list(poll.parse({"status": "OK", "data": {"lastPrice": "1"}}, 5)) == []
    (mark,) = poll.parse({"status": "OK", "data": {"markPrice": "2.5"}}, 5)
    assert mark == Mark(
        venue="extended", symbol="BTC", instrument="BTC-USD", ts_recv=5, mark_px=2.5
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "ERROR", "error": {"code": 1001, "message": "Market not found."}},
        {"status": "OK"},
        {"status": "OK", "data": {"fundingRate": "abc"}},
        {"status": "OK", "data": {"markPrice": "-1"}},
        {"status": "OK", "data": {"nextFundingRate": "soon"}},
        {"status": "OK", "data": []},
        None,
    ],
)
def test_bad_stats_raise_parse_error(bad: Any) -> None:
    (poll,) = loaded().poll_requests([BTC])
    with pytest.raises(ParseError):
        poll.parse(bad, 1)
