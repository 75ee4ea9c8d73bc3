"""Lighter adapter declarations, start-up (orderBooks, resolve), connections and the REST
funding poll: exact requests and normalized results."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from venuefeed.core.adapter import (
    ConnectionSpec,
    Continuity,
    Instrument,
    Resync,
    StreamSpec,
)
from venuefeed.core.errors import (
    ConfigError,
    ParseError,
    UnknownSymbolError,
)
from venuefeed.core.events import Funding
from venuefeed.core.plugins import PluginHost
from venuefeed.plugins.lighter import venuefeed_register_venues
from venuefeed.plugins.lighter.adapter import LighterAdapter

DATA = Path(__file__).parent / "data"
RECV = 1_774_883_845_000  # 2026-03-30T15:17:25Z, between whole hours
Make = Callable[..., LighterAdapter]


def text(name: str) -> str:
    return (DATA / name).read_text()


def load(name: str) -> Any:
    return json.loads(text(name))


# ---------------------------------------------------------------- registration, declarations


def test_hook_registers_the_adapter() -> None:
    assert venuefeed_register_venues() == [LighterAdapter]
    host = PluginHost(("venuefeed.plugins.lighter",), load_entry_points=False)
    assert host.venues["lighter"].adapter is LighterAdapter


def test_declarations(make: Make) -> None:
    assert LighterAdapter.name == "lighter"
    assert LighterAdapter.default_ws_url == "wss://mainnet.zklighter.elliot.ai/stream"
    assert LighterAdapter.default_rest_url == "https://mainnet.zklighter.elliot.ai"
    assert LighterAdapter.heartbeat.ping == {"type": "ping"}
    assert LighterAdapter.continuity is Continuity.PREV_LINK
    assert LighterAdapter.resync is Resync.RESUBSCRIBE
    assert LighterAdapter.bbo_from_book is False
    assert make().book_snapshot_request("0") is None


# ---------------------------------------------------------------- init REST and resolve


def test_init_request_is_order_books(make: Make) -> None:
    (request,) = make(init=False).init_requests()
    assert (request.method, request.path, request.params) == ("GET", "/api/v1/orderBooks", None)


def test_init_parses_the_real_capture(make: Make) -> None:
    adapter = make(init=False)
    (request,) = adapter.init_requests()
    assert request.parse(load("rest_order_books.nautilus.json"), RECV) == ()
    assert adapter.resolve("ETH") == Instrument(symbol="ETH", instrument="0")
    with pytest.raises(UnknownSymbolError):
        adapter.resolve("BTC")


def test_resolve_base_native_and_case(lt: LighterAdapter) -> None:
    assert lt.resolve("BTC") == Instrument(symbol="BTC", instrument="1")
    assert lt.resolve("eth") == Instrument(symbol="ETH", instrument="0")
    assert lt.resolve("1") == Instrument(symbol="BTC", instrument="1")
    assert lt.resolve("96") == Instrument(symbol="EURUSD", instrument="96")


@pytest.mark.parametrize("symbol", ["DOGE", "ETH/USDC", "2048", "OLD", "7", ""])
def test_resolve_unknown(lt: LighterAdapter, symbol: str) -> None:
    with pytest.raises(UnknownSymbolError) as info:
        lt.resolve(symbol)
    assert info.value.venue == "lighter"
    assert "BTC, ETH, EURUSD" in str(info.value)


def test_init_without_market_type_counts_as_perp(make: Make) -> None:
    adapter = make(init=False)
    (request,) = adapter.init_requests()
    request.parse({"code": 200, "order_books": [{"symbol": "SOL", "market_id": 2}]}, RECV)
    assert adapter.resolve("SOL") == Instrument("SOL", "2")


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "x",
        {"code": 200},
        {"code": 200, "order_books": {}},
        {"code": 400, "message": "bad", "order_books": []},
        {"code": 200, "order_books": [1]},
        {"code": 200, "order_books": [{"symbol": "X", "market_id": "a", "market_type": "perp"}]},
        {"code": 200, "order_books": [{"symbol": 5, "market_id": 1, "market_type": "perp"}]},
        {"code": 200, "order_books": [{"market_id": 1}]},
    ],
)
def test_init_rejects_bad_bodies(body: Any, make: Make) -> None:
    (request,) = make(init=False).init_requests()
    with pytest.raises(ParseError):
        request.parse(body, RECV)


# ---------------------------------------------------------------- connections


def test_connections_use_ctx_url_and_documented_subscribes(lt: LighterAdapter) -> None:
    instruments = [lt.resolve("BTC"), lt.resolve("ETH")]
    (conn,) = lt.connections(instruments)
    assert isinstance(conn, ConnectionSpec)
    assert conn.url == "wss://x/ws"
    assert conn.name == "main"
    assert conn.headers == {}
    assert conn.max_lifetime_s is None
    assert conn.subscribe == (
        {"type": "subscribe", "channel": "order_book/1"},
        {"type": "subscribe", "channel": "ticker/1"},
        {"type": "subscribe", "channel": "trade/1"},
        {"type": "subscribe", "channel": "market_stats/1"},
        {"type": "subscribe", "channel": "order_book/0"},
        {"type": "subscribe", "channel": "ticker/0"},
        {"type": "subscribe", "channel": "trade/0"},
        {"type": "subscribe", "channel": "market_stats/0"},
    )
    assert conn.streams == (
        StreamSpec("book", "1", False),
        StreamSpec("bbo", "1", False),
        StreamSpec("trade", "1", True),
        StreamSpec("funding", "1", True),
        StreamSpec("mark", "1", True),
        StreamSpec("book", "0", False),
        StreamSpec("bbo", "0", False),
        StreamSpec("trade", "0", True),
        StreamSpec("funding", "0", True),
        StreamSpec("mark", "0", True),
    )
    for message in conn.subscribe:
        msgspec.json.encode(message)


def test_connections_split_by_channel_budget(make: Make) -> None:
    adapter = make({"max_channels_per_connection": 4})
    conns = adapter.connections([adapter.resolve("BTC"), adapter.resolve("ETH")])
    assert [c.name for c in conns] == ["main1", "main2"]
    assert [len(c.subscribe) for c in conns] == [4, 4]
    assert conns[1].subscribe[0] == {"type": "subscribe", "channel": "order_book/0"}
    assert {s.instrument for s in conns[1].streams} == {"0"}


@pytest.mark.parametrize("bad", [0, 3, "forty", 4.5, True])
def test_bad_channel_budget_is_a_config_error(bad: Any, make: Make) -> None:
    with pytest.raises(ConfigError, match="max_channels_per_connection"):
        make({"max_channels_per_connection": bad}, init=False)


def test_resubscribe_messages(lt: LighterAdapter) -> None:
    assert list(lt.resubscribe_messages("1")) == [
        {"type": "unsubscribe", "channel": "order_book/1"},
        {"type": "subscribe", "channel": "order_book/1"},
    ]


# ---------------------------------------------------------------- REST funding poll


def test_poll_funding_rates(lt: LighterAdapter) -> None:
    (request,) = lt.poll_requests([lt.resolve("ETH")])
    assert (request.method, request.path, request.params) == ("GET", "/api/v1/funding-rates", None)
    (funding,) = request.parse(load("rest_funding_rates_response.ccxt.json"), RECV)
    assert funding == Funding(
        venue="lighter",
        symbol="ETH",
        instrument="0",
        ts_venue=None,
        ts_recv=RECV,
        # an 8-hour-equivalent fraction, published as Lighter's hourly payment
        rate=0.00009599999999999999 / 8,
        interval_h=1.0,
        rate_per_hour=0.00009599999999999999 / 8,
        next_funding_ms=1774886400000,
        basis="predicted",
        source="rest",
        feed="funding-rates",
    )
    assert funding.rate == pytest.approx(0.000012, rel=1e-9)


def test_poll_keeps_lighter_rows_of_polled_markets(lt: LighterAdapter) -> None:
    (request,) = lt.poll_requests([lt.resolve("BTC")])
    body = {
        "code": 200,
        "funding_rates": [
            {"market_id": 1, "exchange": "binance", "symbol": "BTC", "rate": 0.0001},
            {"market_id": 0, "exchange": "lighter", "symbol": "ETH", "rate": 0.00009},
            {"market_id": 1, "exchange": "lighter", "symbol": "BTC", "rate": -0.00016},
        ],
    }
    (funding,) = request.parse(body, RECV)
    assert isinstance(funding, Funding)
    assert (funding.symbol, funding.instrument, funding.rate) == ("BTC", "1", -0.00016 / 8)
    assert funding.rate_per_hour == funding.rate == pytest.approx(-0.00002, rel=1e-12)


def test_poll_can_be_turned_off(make: Make) -> None:
    adapter = make({"poll_funding": False})
    assert adapter.poll_requests([adapter.resolve("BTC")]) == ()
    assert make().poll_requests([]) == ()


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"code": 200},
        {"code": 429, "funding_rates": []},
        {"code": 200, "funding_rates": ["x"]},
        {"code": 200, "funding_rates": [{"exchange": "lighter", "market_id": "z", "rate": 1}]},
        {"code": 200, "funding_rates": [{"exchange": "lighter", "market_id": 0, "rate": "x"}]},
        {"code": 200, "funding_rates": [{"exchange": "lighter", "market_id": 0}]},
    ],
)
def test_poll_rejects_bad_bodies(lt: LighterAdapter, body: Any) -> None:
    (request,) = lt.poll_requests([lt.resolve("ETH")])
    with pytest.raises(ParseError):
        request.parse(body, RECV)
