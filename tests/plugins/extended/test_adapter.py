"""Extended adapter declarations: symbols, connections, options and REST requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import venuefeed
from venuefeed.core.adapter import (
    BookSnapshot,
    ConnectionSpec,
    Continuity,
    Instrument,
    Resync,
    StreamSpec,
    VenueContext,
)
from venuefeed.core.errors import ConfigError, ParseError, UnknownSymbolError
from venuefeed.core.events import Funding, Mark, Trade
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


# ------------------------------------------------------------------ gap-free trades

RECV = 1_728_480_000_000


def started(**options: Any) -> ExtendedAdapter:
    adapter = loaded(**options)
    adapter.resolve("BTC")
    adapter.resolve("ETH")
    return adapter


def live(adapter: ExtendedAdapter, rows: list[dict[str, Any]]) -> list[Trade]:
    """`rows` as the publicTrades stream sends them."""
    out = adapter.parse(json.dumps({"ts": RECV, "data": rows, "seq": 7}), RECV)
    assert all(isinstance(t, Trade) for t in out)
    return [t for t in out if isinstance(t, Trade)]


def row(i: int, ts: int, side: str = "BUY", kind: str = "TRADE") -> dict[str, Any]:
    return {"m": "BTC-USD", "S": side, "tT": kind, "T": ts, "p": "61000.5", "q": "0.1", "i": i}


def fields(trade: Trade) -> dict[str, Any]:
    return {name: getattr(trade, name) for name in trade.__struct_fields__}


def test_identity_and_order_on_the_recorded_trade() -> None:
    adapter = started()
    (trade,) = live(adapter, body("ws_public_trades.ccxt.json")["data"])
    assert adapter.trade_identity(trade) == "25124"
    assert adapter.trade_order(trade) == (1701563440000, 25124, "25124")
    a, b = live(adapter, [row(1844000955650019328, 5), row(1844000421446684673, 5)])
    assert sorted([a, b], key=adapter.trade_order) == [b, a]


def test_recent_trades_request() -> None:
    request = started().recent_trades_request("BTC-USD", None)
    assert (request.method, request.path, request.params) == (
        "GET",
        "/info/markets/BTC-USD/trades",
        None,
    )


def test_recent_trades_doc_example_are_the_live_trades() -> None:
    adapter = started()
    sample = body("rest_trades_response.doc.json")
    rest = adapter.recent_trades_request("BTC-USD", None).parse(sample, RECV + 9)
    streamed = live(adapter, sample["data"])
    assert list(rest) == [
        Trade(**{**fields(t), "source": "rest", "ts_recv": RECV + 9}) for t in streamed
    ]
    assert [(t.trade_id, t.side) for t in rest if isinstance(t, Trade)] == [
        ("1844000421446684673", "sell"),
        ("1844000955650019328", "sell"),
    ]


def test_a_backfill_reading_the_side_backwards_differs() -> None:
    adapter = started()
    sample = body("rest_trades_response.doc.json")
    streamed = live(adapter, sample["data"])
    sample["data"][0]["S"] = "BUY"
    rest = adapter.recent_trades_request("BTC-USD", None).parse(sample, RECV)
    assert isinstance(rest[0], Trade) and rest[0].side != streamed[0].side


def test_recent_trades_sorted_after_the_last_trade_without_deleverage() -> None:
    adapter = started()
    (after,) = live(adapter, [row(20, 2_000)])
    rows = [row(22, 2_200), row(19, 1_900), row(21, 2_100, kind="DELEVERAGE"), row(20, 2_000)]
    out = adapter.recent_trades_request("BTC-USD", after).parse({"status": "OK", "data": rows}, 0)
    assert [t.trade_id for t in out if isinstance(t, Trade)] == ["20", "22"]
    with_deleverage = started(include_deleverage=True)
    out = with_deleverage.recent_trades_request("BTC-USD", None).parse(
        {"status": "OK", "data": rows}, 0
    )
    assert [t.trade_id for t in out if isinstance(t, Trade)] == ["19", "20", "21", "22"]


@pytest.mark.parametrize(
    "bad",
    [
        body("ws_error.ccxt.json"),
        {"status": "OK"},
        {"status": "OK", "data": [{**row(1, 1), "m": "ETH-USD"}]},
        {"status": "OK", "data": [{**row(1, 1), "S": "UP"}]},
        {"status": "OK", "data": [{**row(1, 1), "q": "0"}]},
        {"status": "OK", "data": [{"i": 1}]},
        None,
    ],
)
def test_bad_trade_bodies_raise_parse_error(bad: Any) -> None:
    with pytest.raises(ParseError):
        started().recent_trades_request("BTC-USD", None).parse(bad, RECV)


# ------------------------------------------------------------------ REST fallback


def test_fallback_is_the_rest_book_only() -> None:
    (request,) = started().fallback_requests("BTC-USD")
    assert (request.method, request.path) == ("GET", "/info/markets/BTC-USD/orderbook")


def test_fallback_doc_example() -> None:
    (request,) = started().fallback_requests("BTC-USD")
    assert request.parse(body("rest_orderbook_response.doc.json"), RECV) == (
        BookSnapshot(
            instrument="BTC-USD",
            bids=[(61827.7, 0.04852), (61820.5, 0.50274)],
            asks=[(61840.3, 0.04852), (61864.1, 0.4998)],
            from_rest=True,
        ),
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"status": "OK", "data": {"market": "ETH-USD", "bid": [], "ask": []}},
        {"status": "OK", "data": {"market": "BTC-USD", "bid": [{"qty": "1"}], "ask": []}},
        {"status": "OK", "data": {"market": "BTC-USD", "bid": [{"qty": "-1", "price": "1"}]}},
        {"status": "ERROR", "error": {"code": "NOT_FOUND", "message": "Market not found"}},
    ],
)
def test_bad_books_raise_parse_error(bad: Any) -> None:
    (request,) = started().fallback_requests("BTC-USD")
    with pytest.raises(ParseError):
        request.parse(bad, RECV)


def test_fallback_interval_follows_the_documented_limit() -> None:
    requests_per_minute, share, requests_per_poll = 1000, 0.5, 1
    polls_per_second = requests_per_minute * share / 60 / requests_per_poll
    assert ExtendedAdapter.fallback_min_interval_s == pytest.approx(1 / polls_per_second)
