"""Declarations, symbol resolution, connections and options of the Aster adapter, and its
REST bodies: funding intervals, the funding/mark poll and the book snapshot."""

from __future__ import annotations

import json
from typing import Any

import pytest

from venuefeed.core.adapter import (
    BookSnapshot,
    Continuity,
    Heartbeat,
    Instrument,
    Resync,
    StreamSpec,
    VenueAdapter,
)
from venuefeed.core.codec import encode_message
from venuefeed.core.errors import ConfigError, MalformedFrame, ParseError, UnknownSymbolError
from venuefeed.core.events import Funding, Mark, Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.plugins import aster as aster_plugin
from venuefeed.plugins.aster.adapter import AsterAdapter


def test_declarations() -> None:
    assert issubclass(AsterAdapter, VenueAdapter)
    assert AsterAdapter.name == "aster"
    assert AsterAdapter.default_ws_url == "wss://fstream.asterdex.com"
    assert AsterAdapter.default_rest_url == "https://fapi.asterdex.com"
    assert AsterAdapter.heartbeat == Heartbeat(ping=None)  # WS ping frames, answered by aiohttp
    assert AsterAdapter.continuity is Continuity.PREV_LINK
    assert AsterAdapter.resync is Resync.REST_SNAPSHOT
    assert AsterAdapter.bbo_from_book is False  # native bookTicker instead


def test_hook_registers_the_adapter() -> None:
    assert aster_plugin.venuefeed_register_venues() == [AsterAdapter]
    host = PluginHost(("venuefeed.plugins.aster",), load_entry_points=False)
    assert host.adapter("aster") is AsterAdapter


# --- resolve ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "symbol", "instrument"),
    [
        ("BTC", "BTC", "BTCUSDT"),
        ("btc", "BTC", "BTCUSDT"),
        ("BTCUSDT", "BTC", "BTCUSDT"),
        ("ethusdt", "ETH", "ETHUSDT"),
        (" ETH ", "ETH", "ETHUSDT"),
    ],
)
def test_resolve(adapter: AsterAdapter, given: str, symbol: str, instrument: str) -> None:
    assert adapter.resolve(given) == Instrument(symbol=symbol, instrument=instrument)


@pytest.mark.parametrize("given", ["DOGE", "DOGEUSDT", "OLD", "OLDUSDT", "BTCUSDT_250926", ""])
def test_resolve_unknown(adapter: AsterAdapter, given: str) -> None:
    # DOGE is not listed, OLD is not TRADING, BTCUSDT_250926 is not PERPETUAL.
    with pytest.raises(UnknownSymbolError) as err:
        adapter.resolve(given)
    assert err.value.venue == "aster"
    assert err.value.symbol == given
    assert "BNB, BTC, ETH, INJ, ZORA" in str(err.value)  # the known bases, sorted


def test_resolve_with_the_documented_exchange_info(ctx: Any, load: Any) -> None:
    a = AsterAdapter(ctx)
    a.init_requests()[0].parse(load("rest_exchange_info_response.doc.json"), 1)
    assert a.resolve("DOGE") == Instrument(symbol="DOGE", instrument="DOGEUSDT")
    with pytest.raises(UnknownSymbolError):
        a.resolve("BTC")


def test_resolve_before_init_follows_the_naming_convention(ctx: Any) -> None:
    a = AsterAdapter(ctx)
    assert a.resolve("BTC") == Instrument(symbol="BTC", instrument="BTCUSDT")
    assert a.resolve("solusdt") == Instrument(symbol="SOL", instrument="SOLUSDT")


def test_resolve_other_quote_option(make_ctx: Any, exchange_info: Any) -> None:
    exchange_info["symbols"].append(
        {
            "symbol": "BTCUSD1",
            "contractType": "PERPETUAL",
            "status": "TRADING",
            "baseAsset": "BTC",
            "quoteAsset": "USD1",
        }
    )
    a = AsterAdapter(make_ctx(quote="usd1"))
    a.init_requests()[0].parse(exchange_info, 1)
    assert a.resolve("BTC") == Instrument(symbol="BTC", instrument="BTCUSD1")
    # a native id in another quote keeps its base asset from exchangeInfo
    assert a.resolve("ETHUSDT") == Instrument(symbol="ETH", instrument="ETHUSDT")


# --- connections --------------------------------------------------------------------


def test_connections_one_subscribe_message(adapter: AsterAdapter) -> None:
    btc, eth = adapter.resolve("BTC"), adapter.resolve("ETH")
    (conn,) = adapter.connections([btc, eth])
    assert conn.name == "main"
    assert conn.url == "wss://x/ws"  # ctx.ws_url already names a stream endpoint
    assert conn.headers == {}
    assert conn.max_lifetime_s == 23 * 3600
    assert conn.subscribe == (
        {
            "method": "SUBSCRIBE",
            "params": [
                "btcusdt@depth@100ms",
                "btcusdt@bookTicker",
                "btcusdt@aggTrade",
                "btcusdt@markPrice@1s",
                "ethusdt@depth@100ms",
                "ethusdt@bookTicker",
                "ethusdt@aggTrade",
                "ethusdt@markPrice@1s",
            ],
            "id": 1,
        },
    )
    # the exact documented wire form
    assert json.loads(encode_message(conn.subscribe[0])) == conn.subscribe[0]
    assert conn.streams == (
        StreamSpec("book", "BTCUSDT"),
        StreamSpec("bbo", "BTCUSDT"),
        StreamSpec("trade", "BTCUSDT", quiet=True),
        StreamSpec("mark", "BTCUSDT"),
        StreamSpec("funding", "BTCUSDT"),
        StreamSpec("book", "ETHUSDT"),
        StreamSpec("bbo", "ETHUSDT"),
        StreamSpec("trade", "ETHUSDT", quiet=True),
        StreamSpec("mark", "ETHUSDT"),
        StreamSpec("funding", "ETHUSDT"),
    )


@pytest.mark.parametrize(
    ("ws_url", "expected"),
    [
        ("wss://fstream.asterdex.com", "wss://fstream.asterdex.com/stream"),
        ("wss://fstream.asterdex.com/", "wss://fstream.asterdex.com/stream"),
        ("ws://127.0.0.1:8765", "ws://127.0.0.1:8765/stream"),
        ("ws://127.0.0.1:8765/stream", "ws://127.0.0.1:8765/stream"),
        ("ws://127.0.0.1:8765/ws", "ws://127.0.0.1:8765/ws"),
    ],
)
def test_connection_url_comes_from_ctx(ws_url: str, expected: str) -> None:
    from venuefeed.core.adapter import VenueContext

    ctx = VenueContext("aster", ("BTC",), ws_url, "https://x")
    a = AsterAdapter(ctx)
    (conn,) = a.connections([a.resolve("BTC")])
    assert conn.url == expected


def test_connections_split_at_200_streams(adapter: AsterAdapter) -> None:
    instruments = [Instrument(f"C{n}", f"C{n}USDT") for n in range(120)]
    conns = adapter.connections(instruments)
    assert [c.name for c in conns] == ["main", "main-2", "main-3"]
    assert [len(c.subscribe[0]["params"]) for c in conns] == [200, 200, 80]
    assert [c.subscribe[0]["id"] for c in conns] == [1, 2, 3]
    assert [len(c.streams) for c in conns] == [250, 250, 100]
    assert conns[2].streams[0] == StreamSpec("book", "C100USDT")


def test_connections_deduplicate_instruments(adapter: AsterAdapter) -> None:
    btc = adapter.resolve("BTC")
    (conn,) = adapter.connections([btc, adapter.resolve("BTCUSDT")])
    assert len(conn.subscribe[0]["params"]) == 4


def test_subscribe_via_url_option(make_ctx: Any) -> None:
    a = AsterAdapter(make_ctx(subscribe_via="url", depth_speed_ms=250, max_lifetime_s=600))
    (conn,) = a.connections([a.resolve("BTC"), a.resolve("ETH")])
    assert conn.url == (
        "wss://x/ws?streams=btcusdt@depth/btcusdt@bookTicker/btcusdt@aggTrade/"
        "btcusdt@markPrice@1s/ethusdt@depth/ethusdt@bookTicker/ethusdt@aggTrade/"
        "ethusdt@markPrice@1s"
    )
    assert conn.subscribe == ()
    assert conn.max_lifetime_s == 600.0


def test_depth_speed_option(make_ctx: Any) -> None:
    a = AsterAdapter(make_ctx(depth_speed_ms=500))
    (conn,) = a.connections([a.resolve("BTC")])
    assert conn.subscribe[0]["params"][0] == "btcusdt@depth@500ms"


@pytest.mark.parametrize(
    "options",
    [
        {"depth_speed_ms": 200},
        {"depth_speed_ms": True},
        {"default_funding_interval_h": 0},
        {"default_funding_interval_h": "eight"},
        {"max_lifetime_s": -1},
        {"subscribe_via": "both"},
        {"quote": ""},
        {"qoute": "USDT"},
    ],
)
def test_bad_options_stop_start_up(make_ctx: Any, options: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"venues\.aster\.options"):
        AsterAdapter(make_ctx(**options))


def test_no_resubscribe_messages(adapter: AsterAdapter) -> None:
    assert adapter.resubscribe_messages("BTCUSDT") == ()


# --- init requests ------------------------------------------------------------------


def test_init_requests(ctx: Any) -> None:
    info, funding = AsterAdapter(ctx).init_requests()
    assert (info.name, info.method, info.path, info.params) == (
        "exchangeInfo",
        "GET",
        "/fapi/v3/exchangeInfo",
        None,
    )
    assert (funding.name, funding.method, funding.path, funding.params) == (
        "fundingInfo",
        "GET",
        "/fapi/v3/fundingInfo",
        None,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"code": -1000, "msg": "An unknown error occured"},
        {"symbols": []},
        {"symbols": [{"symbol": "BTCUSDT", "contractType": "PERPETUAL", "status": "BREAK"}]},
        {"symbols": "BTCUSDT"},
        [],
        None,
    ],
)
def test_exchange_info_bad_bodies(ctx: Any, body: Any) -> None:
    with pytest.raises(MalformedFrame):
        AsterAdapter(ctx).init_requests()[0].parse(body, 1)


def test_exchange_info_venue_error_names_code(ctx: Any) -> None:
    with pytest.raises(MalformedFrame, match="-1121: Invalid symbol"):
        AsterAdapter(ctx).init_requests()[0].parse({"code": -1121, "msg": "Invalid symbol."}, 1)


# --- REST bodies: fundingInfo, premiumIndex, depth -----------------------------------

RECV = 1_750_146_971_000


def _mark_frame(symbol: str, rate: str) -> str:
    data = {"e": "markPriceUpdate", "E": 1, "s": symbol, "p": "1", "r": rate, "T": 2}
    return json.dumps({"stream": "x", "data": data})


# --- fundingInfo --------------------------------------------------------------------


def test_funding_info_ccxt_sample(ctx: Any, load: Any) -> None:
    a = AsterAdapter(ctx)
    a.resolve("INJ")
    assert a.init_requests()[1].parse(load("rest_funding_info_response.ccxt.json"), 1) == ()
    _, funding = a.parse(_mark_frame("INJUSDT", "0.0004"), RECV)
    assert isinstance(funding, Funding)
    assert (funding.interval_h, funding.rate_per_hour) == (8.0, 0.00005)


def test_funding_info_doc_example_4h_and_8h(adapter: AsterAdapter) -> None:
    adapter.resolve("INJ")
    _, zora = adapter.parse(_mark_frame("ZORAUSDT", "0.0004"), RECV)
    _, inj = adapter.parse(_mark_frame("INJUSDT", "0.0004"), RECV)
    assert isinstance(zora, Funding) and isinstance(inj, Funding)
    assert (zora.interval_h, zora.rate_per_hour) == (4.0, 0.0001)
    assert (inj.interval_h, inj.rate_per_hour) == (8.0, 0.00005)


def test_funding_info_string_and_missing_intervals(adapter: AsterAdapter) -> None:
    body = [
        {"symbol": "BTCUSDT", "fundingIntervalHours": "1"},
        {"symbol": "ETHUSDT"},  # no interval: the default applies
    ]
    adapter.init_requests()[1].parse(body, 1)
    _, btc = adapter.parse(_mark_frame("BTCUSDT", "0.0001"), RECV)
    _, eth = adapter.parse(_mark_frame("ETHUSDT", "0.0001"), RECV)
    assert isinstance(btc, Funding) and isinstance(eth, Funding)
    assert (btc.interval_h, btc.rate_per_hour) == (1.0, 0.0001)
    assert (eth.interval_h, eth.rate_per_hour) == (8.0, 0.0000125)
    # the refreshed list replaced the old one: ZORA is back on the default
    _, zora = adapter.parse(_mark_frame("ZORAUSDT", "0.0001"), RECV)
    assert isinstance(zora, Funding) and zora.interval_h == 8.0


@pytest.mark.parametrize(
    "body",
    [
        {"code": -1000, "msg": "boom"},
        [{"symbol": "BTCUSDT", "fundingIntervalHours": 0}],
        [{"symbol": "BTCUSDT", "fundingIntervalHours": -4}],
        [{"symbol": "BTCUSDT", "fundingIntervalHours": "x"}],
        [{"fundingIntervalHours": 8}],
        {"symbol": "BTCUSDT"},
        None,
    ],
)
def test_funding_info_bad_bodies(ctx: Any, body: Any) -> None:
    with pytest.raises(MalformedFrame):
        AsterAdapter(ctx).init_requests()[1].parse(body, 1)


# --- poll ---------------------------------------------------------------------------


def test_poll_requests(adapter: AsterAdapter) -> None:
    btc, eth = adapter.resolve("BTC"), adapter.resolve("ETH")
    requests = adapter.poll_requests([btc, eth, btc])
    assert [(r.name, r.method, r.path, r.params) for r in requests] == [
        ("fundingInfo", "GET", "/fapi/v3/fundingInfo", None),
        ("premiumIndex:BTCUSDT", "GET", "/fapi/v3/premiumIndex", {"symbol": "BTCUSDT"}),
        ("premiumIndex:ETHUSDT", "GET", "/fapi/v3/premiumIndex", {"symbol": "ETHUSDT"}),
    ]


def test_premium_index_ccxt_sample(adapter: AsterAdapter, load: Any) -> None:
    request = adapter.poll_requests([adapter.resolve("BTC")])[1]
    assert request.parse(load("rest_premium_index_response.ccxt.json"), RECV) == [
        Mark(
            venue="aster",
            symbol="BTC",
            instrument="BTCUSDT",
            ts_venue=1750146970000,
            ts_recv=RECV,
            mark_px=106729.84047826,
            index_px=106775.72673913,
        ),
        Funding(
            venue="aster",
            symbol="BTC",
            instrument="BTCUSDT",
            ts_venue=1750146970000,
            ts_recv=RECV,
            rate=0.0001,
            interval_h=8.0,
            rate_per_hour=0.0000125,
            next_funding_ms=1750147200000,
            basis="predicted",
            source="rest",
            feed="premiumIndex",
        ),
    ]


def test_premium_index_doc_example_as_list(adapter: AsterAdapter, load: Any) -> None:
    body = [
        {**load("rest_premium_index_response.doc.json"), "symbol": "ETHUSDT"},
        load("rest_premium_index_response.doc.json"),
    ]
    request = adapter.poll_requests([adapter.resolve("BTC")])[1]
    mark, funding = request.parse(body, RECV)
    assert mark == Mark(
        venue="aster",
        symbol="BTC",
        instrument="BTCUSDT",
        ts_venue=1597370495002,
        ts_recv=RECV,
        mark_px=11793.63104562,
        index_px=11781.8049597,
    )
    assert isinstance(funding, Funding)
    assert funding.rate == 0.00038246
    assert funding.rate_per_hour == pytest.approx(0.00038246 / 8, rel=1e-15)
    assert funding.next_funding_ms == 1597392000000


def test_premium_index_uses_the_symbols_interval(adapter: AsterAdapter) -> None:
    body = {
        "symbol": "ZORAUSDT",
        "markPrice": "0.0851",
        "indexPrice": "0.0852",
        "lastFundingRate": "0.00020000",
        "nextFundingTime": 1756209600000,
        "time": 1756197479000,
    }
    request = adapter.poll_requests([Instrument("ZORA", "ZORAUSDT")])[1]
    _, funding = request.parse(body, RECV)
    assert isinstance(funding, Funding)
    assert (funding.interval_h, funding.rate_per_hour) == (4.0, 0.00005)


@pytest.mark.parametrize(
    "body",
    [
        {"code": -1121, "msg": "Invalid symbol."},
        {"symbol": "ETHUSDT", "markPrice": "1"},  # another symbol's answer
        [{"symbol": "ETHUSDT", "markPrice": "1"}],
        {"symbol": "BTCUSDT", "markPrice": "abc"},
        {"symbol": "BTCUSDT", "markPrice": "1", "lastFundingRate": "NaN"},
        {"symbol": "BTCUSDT"},
        "BTCUSDT",
        None,
    ],
)
def test_premium_index_bad_bodies(adapter: AsterAdapter, body: Any) -> None:
    request = adapter.poll_requests([adapter.resolve("BTC")])[1]
    with pytest.raises(ParseError):
        request.parse(body, RECV)


# --- book snapshot ------------------------------------------------------------------


def test_book_snapshot_request(adapter: AsterAdapter) -> None:
    request = adapter.book_snapshot_request("BTCUSDT")
    assert (request.name, request.method, request.path, request.params) == (
        "depth:BTCUSDT",
        "GET",
        "/fapi/v3/depth",
        {"symbol": "BTCUSDT", "limit": "1000"},
    )


def test_book_snapshot_doc_example(adapter: AsterAdapter, load: Any) -> None:
    request = adapter.book_snapshot_request("BTCUSDT")
    assert request.parse(load("rest_depth_response.doc.json"), RECV) == (
        BookSnapshot(
            instrument="BTCUSDT",
            bids=[(4.0, 431.0)],
            asks=[(4.000002, 12.0)],
            seq=1027024,
            ts_venue=1589436922959,
            from_rest=True,
        ),
    )


def test_book_snapshot_several_levels(adapter: AsterAdapter) -> None:
    body = {
        "lastUpdateId": 156391349900,
        "E": 1754556878300,
        "bids": [["114988.3", "0.147"], ["114988.0", "2"]],
        "asks": [["114988.4", "1.060"], ["114990", "0.5"]],
    }
    (snap,) = adapter.book_snapshot_request("ETHUSDT").parse(body, RECV)
    assert snap == BookSnapshot(
        instrument="ETHUSDT",
        bids=[(114988.3, 0.147), (114988.0, 2.0)],
        asks=[(114988.4, 1.06), (114990.0, 0.5)],
        seq=156391349900,
        ts_venue=1754556878300,
        from_rest=True,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"code": -1121, "msg": "Invalid symbol."},
        {"bids": [], "asks": []},
        {"lastUpdateId": 1, "bids": [["1"]], "asks": []},
        {"lastUpdateId": 1, "bids": [["1", "-2"]], "asks": []},
        {"lastUpdateId": "x", "bids": [], "asks": []},
        [],
        None,
    ],
)
def test_book_snapshot_bad_bodies(adapter: AsterAdapter, body: Any) -> None:
    with pytest.raises(MalformedFrame):
        adapter.book_snapshot_request("BTCUSDT").parse(body, RECV)


# --- gap-free trades ----------------------------------------------------------------


def _trade(adapter: AsterAdapter, payload: dict[str, Any]) -> Trade:
    (trade,) = adapter.parse(json.dumps({"stream": "btcusdt@aggTrade", "data": payload}), RECV)
    assert isinstance(trade, Trade)
    return trade


def _ws(row: dict[str, Any]) -> dict[str, Any]:
    """A REST `aggTrades` row as the stream sends the same trade."""
    return {"e": "aggTrade", "E": row["T"] + 4, "s": "BTCUSDT", **row}


def test_identity_and_order_are_the_aggregate_id(adapter: AsterAdapter, load: Any) -> None:
    doc = _trade(adapter, load("ws_agg_trade.doc.json"))
    assert adapter.trade_identity(doc) == "5933014"
    ccxt = _trade(adapter, load("ws_agg_trade.ccxt.json"))
    older = _trade(adapter, {**load("ws_agg_trade.doc.json"), "a": 99, "T": 999999999999999})
    # the id says what happened first, whatever the times say
    assert sorted([doc, older], key=adapter.trade_order) == [older, doc]
    assert adapter.trade_order(ccxt) == (int(ccxt.trade_id), ccxt.trade_id)


def test_recent_trades_request_pages_from_the_last_id(adapter: AsterAdapter, load: Any) -> None:
    after = _trade(adapter, load("ws_agg_trade.doc.json"))
    request = adapter.recent_trades_request("BTCUSDT", after)
    assert (request.name, request.method, request.path) == (
        "aggTrades:BTCUSDT",
        "GET",
        "/fapi/v3/aggTrades",
    )
    # inclusive: `after` comes back, the proof the page reaches it
    assert request.params == {"symbol": "BTCUSDT", "limit": "1000", "fromId": "5933014"}
    latest = adapter.recent_trades_request("BTCUSDT", None)
    assert latest.params == {"symbol": "BTCUSDT", "limit": "1000"}


def test_recent_trades_doc_example_is_the_stream_trade(adapter: AsterAdapter, load: Any) -> None:
    rows = load("rest_agg_trades_response.doc.json")
    (rest,) = adapter.recent_trades_request("BTCUSDT", None).parse(rows, RECV + 1)
    live = _trade(adapter, _ws(rows[0]))
    assert rest == Trade(**{**_fields(live), "source": "rest", "ts_recv": RECV + 1})
    assert (rest.side, rest.trade_id, rest.ts_venue) == ("sell", "26129", 1498793709153)
    assert (rest.price, rest.size) == (0.01633102, 4.70443515)


def test_a_backfill_reading_m_backwards_differs_from_the_stream(
    adapter: AsterAdapter, load: Any
) -> None:
    rows = load("rest_agg_trades_response.doc.json")
    live = _trade(adapter, _ws(rows[0]))
    rows[0]["m"] = not rows[0]["m"]
    (rest,) = adapter.recent_trades_request("BTCUSDT", None).parse(rows, RECV)
    assert isinstance(rest, Trade) and rest.side != live.side


def test_recent_trades_start_at_the_last_trade(adapter: AsterAdapter) -> None:
    after = _trade(adapter, _ws(_row(10)))
    rows = [_row(9), _row(10), _row(11), _row(12)]
    out = adapter.recent_trades_request("BTCUSDT", after).parse(rows, RECV)
    assert [t.trade_id for t in out if isinstance(t, Trade)] == ["10", "11", "12"]


@pytest.mark.parametrize(
    "body",
    [
        {"code": -1121, "msg": "Invalid symbol."},
        None,
        [{"a": 1, "p": "1", "q": "1", "T": 1}],
        [{"a": 1, "p": "0", "q": "1", "T": 1, "m": True}],
        [{"a": 1, "p": "1", "q": "0", "T": 1, "m": True}],
        [{"a": "x", "p": "1", "q": "1", "T": 1, "m": True}],
    ],
)
def test_recent_trades_bad_bodies(adapter: AsterAdapter, body: Any) -> None:
    with pytest.raises(MalformedFrame):
        adapter.recent_trades_request("BTCUSDT", None).parse(body, RECV)


def _row(agg_id: int) -> dict[str, Any]:
    return {"a": agg_id, "p": "100.5", "q": "2", "f": 1, "l": 1, "T": 1000 + agg_id, "m": False}


def _fields(trade: Trade) -> dict[str, Any]:
    return {name: getattr(trade, name) for name in trade.__struct_fields__}


# --- REST fallback ------------------------------------------------------------------


def test_fallback_requests_are_a_shallow_depth_and_the_mark(adapter: AsterAdapter) -> None:
    depth, mark = adapter.fallback_requests("ETHUSDT")
    assert (depth.path, depth.params) == (
        "/fapi/v3/depth",
        {"symbol": "ETHUSDT", "limit": "20"},
    )
    assert (mark.path, mark.params) == ("/fapi/v3/premiumIndex", {"symbol": "ETHUSDT"})


def test_fallback_doc_examples(adapter: AsterAdapter, load: Any) -> None:
    depth, mark = adapter.fallback_requests("BTCUSDT")
    (snap,) = depth.parse(load("rest_depth_response.doc.json"), RECV)
    assert isinstance(snap, BookSnapshot) and snap.from_rest
    assert (snap.bids, snap.asks) == ([(4.0, 431.0)], [(4.000002, 12.0)])
    # the mark only: funding belongs to the funding poll
    assert mark.parse(load("rest_premium_index_response.doc.json"), RECV) == (
        Mark(
            venue="aster",
            symbol="BTC",
            instrument="BTCUSDT",
            ts_venue=1597370495002,
            ts_recv=RECV,
            mark_px=11793.63104562,
            index_px=11781.8049597,
            source="rest",
        ),
    )


def test_fallback_mark_of_another_symbol_is_malformed(adapter: AsterAdapter, load: Any) -> None:
    _, mark = adapter.fallback_requests("ETHUSDT")
    with pytest.raises(MalformedFrame, match="BTCUSDT"):
        mark.parse(load("rest_premium_index_response.doc.json"), RECV)


def test_fallback_interval_follows_the_documented_weights() -> None:
    weight_per_minute, share = 2400, 0.5
    poll_weight = 2 + 1  # depth at limit 20, premiumIndex with a symbol
    polls_per_second = weight_per_minute * share / 60 / poll_weight
    assert AsterAdapter.fallback_min_interval_s == pytest.approx(1 / polls_per_second)
