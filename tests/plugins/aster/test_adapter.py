"""Declarations, symbol resolution, connections and options of the Aster adapter."""

from __future__ import annotations

import json
from typing import Any

import pytest

from venuefeed.core.adapter import (
    Continuity,
    Heartbeat,
    Instrument,
    Resync,
    StreamSpec,
    VenueAdapter,
)
from venuefeed.core.codec import encode_json
from venuefeed.core.errors import ConfigError, MalformedFrame, UnknownSymbolError
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
    assert json.loads(encode_json(conn.subscribe[0])) == conn.subscribe[0]
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
