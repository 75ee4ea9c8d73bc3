"""Paradex adapter declarations: options, symbols, connections, resubscribe, REST parsing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import venuefeed.plugins.paradex as plugin
from venuefeed.core.adapter import (
    Ack,
    BookSnapshot,
    Continuity,
    Heartbeat,
    Instrument,
    Resync,
    StreamSpec,
    VenueContext,
    VenueNotice,
)
from venuefeed.core.codec import encode_message
from venuefeed.core.errors import ConfigError, MalformedFrame, UnknownSymbolError
from venuefeed.core.events import Funding, Mark, Trade
from venuefeed.plugins.paradex.adapter import ParadexAdapter

DATA = Path(__file__).parent / "data"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def make(options: dict[str, Any] | None = None, ws_url: str = "wss://x/ws") -> ParadexAdapter:
    ctx = VenueContext(
        name="paradex",
        symbols=("BTC", "ETH"),
        ws_url=ws_url,
        rest_url="https://x",
        options=options or {},
    )
    return ParadexAdapter(ctx)


def market(symbol: str, base: str, kind: str = "PERP", hours: Any = 8) -> dict[str, Any]:
    row: dict[str, Any] = {"symbol": symbol, "base_currency": base, "asset_kind": kind}
    if hours is not None:
        row["funding_period_hours"] = hours
    return row


#: GET /markets shaped like the documented MarketResp, with distinct funding periods.
MARKETS = {
    "results": [
        market("BTC-USD-PERP", "BTC", hours=4),
        market("ETH-USD-PERP", "ETH", hours=1),
        market("kBONK-USD-PERP", "kBONK", hours=None),
        market("BTC-USD-26DEC26-100000-C", "BTC", kind="OPTION"),
        market("BTC-USD-PERP-100000-C", "BTC", kind="PERP_OPTION"),
        market("SOL-USD-PERP", "SOL", hours=0),
    ]
}


def initialised(options: dict[str, Any] | None = None) -> ParadexAdapter:
    adapter = make(options)
    (request,) = adapter.init_requests()
    assert request.parse(MARKETS, 1) == ()
    return adapter


# -- declarations -----------------------------------------------------------------------------


def test_hook_registers_the_adapter() -> None:
    assert plugin.venuefeed_register_venues() == [ParadexAdapter]


def test_class_declarations() -> None:
    assert ParadexAdapter.name == "paradex"
    assert ParadexAdapter.default_ws_url == "wss://ws-public.api.prod.paradex.trade/v1"
    assert ParadexAdapter.default_rest_url == "https://api.prod.paradex.trade/v1"
    assert ParadexAdapter.heartbeat == Heartbeat(ping=None)
    assert ParadexAdapter.continuity is Continuity.SNAPSHOTS
    assert ParadexAdapter.resync is Resync.RESUBSCRIBE
    assert ParadexAdapter.bbo_from_book is False


def test_deltas_feed_chains_seq_on_the_instance_only() -> None:
    adapter = make({"book_feed": "deltas"})
    assert adapter.continuity is Continuity.SEQ_INCREMENT
    assert make().continuity is Continuity.SNAPSHOTS
    assert ParadexAdapter.continuity is Continuity.SNAPSHOTS


@pytest.mark.parametrize(
    "options",
    [
        {"encoding": "xml"},
        {"book_feed": "full"},
        {"book_refresh": "10ms"},
        {"sbe_schema_version": 3},  # ccxt asks for it; no official schema has it
        {"sbe_schema_version": True},
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any]) -> None:
    key = next(iter(options))
    with pytest.raises(ConfigError, match=f"venues.paradex.options.{key}"):
        make(options)


# -- init and resolve -------------------------------------------------------------------------


def test_init_request_is_get_markets() -> None:
    (request,) = make().init_requests()
    assert (request.name, request.method, request.path, request.params) == (
        "markets",
        "GET",
        "/markets",
        None,
    )


def test_init_parses_the_recorded_markets_sample() -> None:
    adapter = make()
    (request,) = adapter.init_requests()
    assert request.parse(load("rest_markets_response.ccxt.json"), 1) == ()
    assert adapter.resolve("BODEN") == Instrument(symbol="BODEN", instrument="BODEN-USD-PERP")
    with pytest.raises(UnknownSymbolError, match="BODEN"):
        adapter.resolve("BTC")


@pytest.mark.parametrize(
    "body",
    [{"results": []}, {"results": [market("X-USD-1-C", "X", kind="OPTION")]}, {}, [], None],
)
def test_init_rejects_bodies_without_perps(body: Any) -> None:
    (request,) = make().init_requests()
    with pytest.raises(MalformedFrame):
        request.parse(body, 1)


def test_init_rejects_wrong_types() -> None:
    (request,) = make().init_requests()
    with pytest.raises(MalformedFrame):
        request.parse({"results": [{"asset_kind": "PERP", "symbol": 7}]}, 1)
    with pytest.raises(MalformedFrame):
        request.parse({"results": [market("A-USD-PERP", "A", hours="eight")]}, 1)


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("BTC", Instrument("BTC", "BTC-USD-PERP")),
        ("eth", Instrument("ETH", "ETH-USD-PERP")),
        ("BTC-USD-PERP", Instrument("BTC", "BTC-USD-PERP")),
        ("eth-usd-perp", Instrument("ETH", "ETH-USD-PERP")),
        ("kBONK", Instrument("kBONK", "kBONK-USD-PERP")),
        ("KBONK", Instrument("kBONK", "kBONK-USD-PERP")),
    ],
)
def test_resolve(symbol: str, expected: Instrument) -> None:
    assert initialised().resolve(symbol) == expected


def test_resolve_unknown_names_the_known_bases() -> None:
    with pytest.raises(UnknownSymbolError) as info:
        initialised().resolve("DOGE")
    assert info.value.venue == "paradex"
    assert info.value.symbol == "DOGE"
    assert "BTC, ETH, SOL, kBONK" in str(info.value)


def test_resolve_never_picks_an_option_market() -> None:
    with pytest.raises(UnknownSymbolError):
        initialised().resolve("BTC-USD-PERP-100000-C")


def test_resolve_before_init_follows_the_naming_convention() -> None:
    adapter = make()
    assert adapter.resolve("BTC") == Instrument("BTC", "BTC-USD-PERP")
    assert adapter.resolve("ETH-USD-PERP") == Instrument("ETH", "ETH-USD-PERP")


# -- connections ------------------------------------------------------------------------------


def sub(channel: str, request_id: int, method: str = "subscribe") -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": {"channel": channel}, "id": request_id}


INSTRUMENTS = [Instrument("BTC", "BTC-USD-PERP"), Instrument("ETH", "ETH-USD-PERP")]


def test_one_connection_with_every_stream_and_documented_subscribes() -> None:
    adapter = initialised()
    (conn,) = adapter.connections(INSTRUMENTS)
    assert conn.name == "main"
    assert conn.url == "wss://x/ws?sbeSchemaId=1&sbeSchemaVersion=2"
    assert dict(conn.headers) == {}
    assert conn.max_lifetime_s is None
    assert conn.subscribe == (
        sub("order_book.BTC-USD-PERP.snapshot@15@100ms", 1),
        sub("bbo.BTC-USD-PERP", 2),
        sub("trades.BTC-USD-PERP", 3),
        sub("funding_data.BTC-USD-PERP", 4),
        sub("markets_summary.BTC-USD-PERP", 5),
        sub("order_book.ETH-USD-PERP.snapshot@15@100ms", 6),
        sub("bbo.ETH-USD-PERP", 7),
        sub("trades.ETH-USD-PERP", 8),
        sub("funding_data.ETH-USD-PERP", 9),
        sub("markets_summary.ETH-USD-PERP", 10),
    )
    assert conn.streams[:5] == (
        StreamSpec("book", "BTC-USD-PERP", quiet=False),
        StreamSpec("bbo", "BTC-USD-PERP", quiet=True),
        StreamSpec("trade", "BTC-USD-PERP", quiet=True),
        StreamSpec("funding", "BTC-USD-PERP", quiet=True),
        StreamSpec("mark", "BTC-USD-PERP", quiet=True),
    )
    assert [s.instrument for s in conn.streams[5:]] == ["ETH-USD-PERP"] * 5
    for message in conn.subscribe:  # the core sends them as JSON text
        assert json.loads(encode_message(message)) == message


@pytest.mark.parametrize(
    ("options", "ws_url", "url"),
    [
        ({"encoding": "json"}, "wss://x/ws", "wss://x/ws"),
        ({}, "ws://127.0.0.1:9/v1?a=b", "ws://127.0.0.1:9/v1?a=b&sbeSchemaId=1&sbeSchemaVersion=2"),
        ({"sbe_schema_version": 1}, "wss://x/ws", "wss://x/ws?sbeSchemaId=1&sbeSchemaVersion=1"),
        ({"sbe_schema_version": 0}, "wss://x/ws", "wss://x/ws?sbeSchemaId=1&sbeSchemaVersion=0"),
        (
            {},
            "wss://x/ws?sbeSchemaId=1&sbeSchemaVersion=1",
            "wss://x/ws?sbeSchemaId=1&sbeSchemaVersion=1",
        ),
    ],
)
def test_url_comes_from_ctx(options: dict[str, Any], ws_url: str, url: str) -> None:
    (conn,) = make(options, ws_url=ws_url).connections(INSTRUMENTS[:1])
    assert conn.url == url


def test_book_feed_options_pick_the_channel() -> None:
    (conn,) = make({"book_refresh": "50ms"}).connections(INSTRUMENTS[:1])
    assert conn.subscribe[0] == sub("order_book.BTC-USD-PERP.snapshot@15@50ms", 1)
    (conn,) = make({"book_feed": "deltas"}).connections(INSTRUMENTS[:1])
    assert conn.subscribe[0] == sub("order_book.BTC-USD-PERP.deltas", 1)


def test_resubscribe_is_unsubscribe_then_subscribe_with_stable_ids() -> None:
    adapter = make({"book_feed": "deltas"})
    adapter.connections(INSTRUMENTS)
    first = adapter.resubscribe_messages("ETH-USD-PERP")
    assert first == (
        sub("order_book.ETH-USD-PERP.deltas", 11, "unsubscribe"),
        sub("order_book.ETH-USD-PERP.deltas", 12),
    )
    assert adapter.resubscribe_messages("ETH-USD-PERP") == first
    # Acks and errors for those ids map back to the book stream.
    ack = {"jsonrpc": "2.0", "result": {"channel": "order_book.ETH-USD-PERP.deltas"}, "id": 11}
    assert adapter.parse(json.dumps(ack), 5) == (
        Ack("unsubscribed order_book.ETH-USD-PERP.deltas"),
    )
    error = {"jsonrpc": "2.0", "error": {"code": -32600, "message": "no"}, "id": 12}
    assert adapter.parse(json.dumps(error), 5) == (
        VenueNotice(code="-32600", message="no", stream="book:ETH-USD-PERP", fatal=True),
    )
    error["id"] = 11
    assert adapter.parse(json.dumps(error), 5) == (
        VenueNotice(code="-32600", message="no", stream="book:ETH-USD-PERP", fatal=False),
    )


# -- REST poll --------------------------------------------------------------------------------


def test_poll_requests_are_markets_summary_per_market() -> None:
    requests = initialised().poll_requests(INSTRUMENTS)
    assert [(r.name, r.method, r.path, dict(r.params or {})) for r in requests] == [
        ("summary:BTC-USD-PERP", "GET", "/markets/summary", {"market": "BTC-USD-PERP"}),
        ("summary:ETH-USD-PERP", "GET", "/markets/summary", {"market": "ETH-USD-PERP"}),
    ]


def test_poll_parses_the_recorded_summary_with_the_market_period() -> None:
    adapter = initialised()
    request = adapter.poll_requests(INSTRUMENTS)[0]
    body = {"results": [load("rest_markets_summary_item.ccxt.json")]}
    funding, mark = request.parse(body, 1718170157000)
    assert funding == Funding(
        venue="paradex",
        symbol="BTC",
        instrument="BTC-USD-PERP",
        ts_venue=1718170156580,
        ts_recv=1718170157000,
        rate=0.01629574927887,
        interval_h=4.0,
        rate_per_hour=0.01629574927887 / 4,
        next_funding_ms=None,
        basis="predicted",
        source="rest",
        feed="markets/summary",
    )
    assert mark == Mark(
        venue="paradex",
        symbol="BTC",
        instrument="BTC-USD-PERP",
        ts_venue=1718170156580,
        ts_recv=1718170157000,
        mark_px=68465.17449906,
        index_px=67367.37268422,
    )


def test_poll_defaults_to_eight_hours_and_skips_markets_not_polled() -> None:
    adapter = initialised()
    adapter.poll_requests(INSTRUMENTS)
    rows = [
        {"symbol": "SOL-USD-PERP", "mark_price": "1", "funding_rate": "0.5", "created_at": 1},
        {
            "symbol": "ETH-USD-PERP",
            "mark_price": "3512.25",
            "underlying_price": "",
            "funding_rate": "-0.0003",
            "created_at": 1718170156999,
        },
    ]
    funding, mark = adapter.poll_requests(INSTRUMENTS)[1].parse({"results": rows}, 7)
    assert isinstance(funding, Funding) and isinstance(mark, Mark)
    assert (funding.instrument, funding.interval_h, funding.rate_per_hour) == (
        "ETH-USD-PERP",
        1.0,
        -0.0003,
    )
    assert (mark.mark_px, mark.index_px, mark.ts_venue) == (3512.25, None, 1718170156999)
    # A market GET /markets gave no period for falls back to 8 h.
    (request,) = initialised().poll_requests([Instrument("kBONK", "kBONK-USD-PERP")])
    row = {"symbol": "kBONK-USD-PERP", "mark_price": "0.02", "funding_rate": "0.0008"}
    funding, _ = request.parse({"results": [{**row, "created_at": 5}]}, 6)
    assert isinstance(funding, Funding)
    assert (funding.interval_h, funding.rate_per_hour) == (8.0, 0.0001)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"results": None},
        {"results": [{"symbol": "BTC-USD-PERP"}]},
        {"results": [{"symbol": "BTC-USD-PERP", "mark_price": [], "funding_rate": "1"}]},
        {"results": [{"symbol": "BTC-USD-PERP", "mark_price": "1", "funding_rate": "x"}]},
    ],
)
def test_poll_rejects_bad_bodies(body: Any) -> None:
    (request,) = initialised().poll_requests(INSTRUMENTS[:1])
    with pytest.raises(MalformedFrame):
        request.parse(body, 1)


# -- gap-free trades ---------------------------------------------------------------------------


RECV = 1_718_200_000_000


def started() -> ParadexAdapter:
    adapter = initialised()
    for symbol in ("BTC", "kBONK"):
        adapter.resolve(symbol)
    return adapter


def _live(adapter: ParadexAdapter, row: dict[str, Any]) -> Trade:
    """`row`, a TradeResult, as the `trades` channel pushes it in JSON."""
    params = {"channel": f"trades.{row['market']}", "data": row}
    frame = {"jsonrpc": "2.0", "method": "subscription", "params": params}
    (trade,) = adapter.parse(json.dumps(frame), RECV)
    assert isinstance(trade, Trade)
    return trade


def _row(trade_id: str, created_at: int, side: str = "BUY") -> dict[str, Any]:
    return {
        "id": trade_id,
        "market": "BTC-USD-PERP",
        "side": side,
        "size": "0.5",
        "price": "65000.5",
        "created_at": created_at,
        "trade_type": "FILL",
    }


def _fields(trade: Trade) -> dict[str, Any]:
    return {name: getattr(trade, name) for name in trade.__struct_fields__}


def test_identity_and_order_on_the_recorded_trades() -> None:
    adapter = started()
    frame = load("ws_trades.ccxt.json")
    live = _live(adapter, frame["params"]["data"])
    assert adapter.trade_identity(live) == "1718179273230201709233240002"
    assert adapter.trade_order(live) == (
        1718179273230,
        1718179273230201709233240002,
        "1718179273230201709233240002",
    )
    one_ms = [
        _live(adapter, _row(f"1718154353750201703989430{n:03d}", 1718154353750)) for n in (9, 2)
    ]
    assert [t.trade_id[-1] for t in sorted(one_ms, key=adapter.trade_order)] == ["2", "9"]


def test_recent_trades_request() -> None:
    adapter = started()
    latest = adapter.recent_trades_request("BTC-USD-PERP", None)
    assert (latest.method, latest.path) == ("GET", "/trades")
    assert latest.params == {"market": "BTC-USD-PERP", "page_size": "1000"}
    after = _live(adapter, _row("1718154353750201703989430001", 1718154353750))
    since = adapter.recent_trades_request("BTC-USD-PERP", after)
    assert since.params == {
        "market": "BTC-USD-PERP",
        "page_size": "1000",
        "start_at": "1718154353750",
    }


def test_recent_trades_ccxt_sample_is_the_live_trade() -> None:
    adapter = started()
    body = load("rest_trades_response.ccxt.json")
    (rest,) = adapter.recent_trades_request("BTC-USD-PERP", None).parse(body, RECV + 3)
    live = _live(adapter, body["results"][0])
    assert rest == Trade(**{**_fields(live), "source": "rest", "ts_recv": RECV + 3})
    assert (rest.trade_id, rest.side, rest.price, rest.size, rest.ts_venue) == (
        "1718154353750201703989430001",
        "buy",
        69578.2,
        0.026,
        1718154353750,
    )


def test_a_backfill_with_the_side_backwards_differs_from_the_live_trade() -> None:
    adapter = started()
    body = load("rest_trades_response.ccxt.json")
    live = _live(adapter, body["results"][0])
    body["results"][0]["side"] = "SELL"
    (rest,) = adapter.recent_trades_request("BTC-USD-PERP", None).parse(body, RECV)
    assert isinstance(rest, Trade) and rest.side != live.side


def test_recent_trades_oldest_first_from_the_last_trade() -> None:
    adapter = started()
    after = _live(adapter, _row("100", 1_000))
    body = {
        "results": [_row("103", 1_001), _row("101", 1_000), _row("100", 1_000), _row("99", 999)]
    }
    out = adapter.recent_trades_request("BTC-USD-PERP", after).parse(body, RECV)
    assert [t.trade_id for t in out if isinstance(t, Trade)] == ["100", "101", "103"]


@pytest.mark.parametrize(
    "body",
    [
        {"error": "VALIDATION_ERROR", "message": "market not found"},
        {"results": [{**_row("1", 1), "market": "ETH-USD-PERP"}]},
        {"results": [{**_row("1", 1), "side": "UP"}]},
        {"results": [{**_row("1", 1), "price": "-1"}]},
        {"results": [{**_row("1", 1), "id": ""}]},
        {"results": [{"id": "1"}]},
        None,
    ],
)
def test_recent_trades_bad_bodies(body: Any) -> None:
    with pytest.raises(MalformedFrame):
        started().recent_trades_request("BTC-USD-PERP", None).parse(body, RECV)


# -- REST fallback -----------------------------------------------------------------------------


def test_fallback_requests_are_the_book_and_the_summary() -> None:
    book, mark = started().fallback_requests("BTC-USD-PERP")
    assert (book.method, book.path, book.params) == (
        "GET",
        "/orderbook/BTC-USD-PERP",
        {"depth": "20"},
    )
    assert (mark.path, mark.params) == ("/markets/summary", {"market": "BTC-USD-PERP"})


def test_fallback_ccxt_samples() -> None:
    book, mark = started().fallback_requests("BTC-USD-PERP")
    assert book.parse(load("rest_orderbook_response.ccxt.json"), RECV) == (
        BookSnapshot(
            instrument="BTC-USD-PERP",
            bids=[(68477.6, 0.1)],
            asks=[(69578.2, 3.019)],
            seq=14115975,
            ts_venue=1718172538340,
            from_rest=True,
        ),
    )
    body = {"results": [load("rest_markets_summary_item.ccxt.json")]}
    assert mark.parse(body, RECV) == (
        Mark(
            venue="paradex",
            symbol="BTC",
            instrument="BTC-USD-PERP",
            ts_venue=1718170156580,
            ts_recv=RECV,
            mark_px=68465.17449906,
            index_px=67367.37268422,
            source="rest",
        ),
    )


@pytest.mark.parametrize(
    "body",
    [
        {"market": "ETH-USD-PERP", "bids": [], "asks": []},
        {"market": "BTC-USD-PERP", "bids": [["1"]], "asks": []},
        {"market": "BTC-USD-PERP", "bids": [["0", "1"]], "asks": []},
        {"market": "BTC-USD-PERP", "bids": [["1", "-1"]], "asks": []},
        {"market": "BTC-USD-PERP", "bids": []},
        [],
    ],
)
def test_fallback_bad_books(body: Any) -> None:
    book, _ = started().fallback_requests("BTC-USD-PERP")
    with pytest.raises(MalformedFrame):
        book.parse(body, RECV)


def test_fallback_summary_of_another_market_is_malformed() -> None:
    _, mark = started().fallback_requests("kBONK-USD-PERP")
    with pytest.raises(MalformedFrame, match="0 summaries"):
        mark.parse({"results": [load("rest_markets_summary_item.ccxt.json")]}, RECV)


def test_fallback_interval_follows_the_documented_limit() -> None:
    requests_per_minute, share, requests_per_poll = 1500, 0.5, 2
    polls_per_second = requests_per_minute * share / 60 / requests_per_poll
    assert ParadexAdapter.fallback_min_interval_s == pytest.approx(1 / polls_per_second)
