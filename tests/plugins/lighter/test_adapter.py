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
    BookSnapshot,
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
from venuefeed.core.events import Funding, Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.core.wire import quotient
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
        rate=quotient(0.00009599999999999999, 8),
        interval_h=1.0,
        rate_per_hour=quotient(0.00009599999999999999, 8),
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


# ---------------------------------------------------------------- gap-free trades


def _live(lt: LighterAdapter, rows: list[dict[str, Any]], market: str = "0") -> list[Trade]:
    """`rows` as the `trade` channel sends them (the same Trade schema as REST)."""
    frame = {"channel": f"trade:{market}", "type": "update/trade", "trades": rows}
    out = lt.parse(json.dumps(frame), RECV)
    assert all(isinstance(t, Trade) for t in out)
    return [t for t in out if isinstance(t, Trade)]


def _row(trade_id: int, ts: int, *, maker_ask: bool = False) -> dict[str, Any]:
    return {
        "trade_id": trade_id,
        "market_id": 0,
        "size": "0.5",
        "price": "2181.5",
        "is_maker_ask": maker_ask,
        "timestamp": ts,
    }


def _fields(trade: Trade) -> dict[str, Any]:
    return {name: getattr(trade, name) for name in trade.__struct_fields__}


def test_identity_and_order_on_the_recorded_trade(lt: LighterAdapter) -> None:
    (trade,) = _live(lt, load("ws_trade_update.nautilus.json")["trades"])
    assert lt.trade_identity(trade) == "16164557907"
    assert lt.trade_order(trade) == (1773854156654, 16164557907, "16164557907")
    earlier, later = _live(lt, [_row(9, 1_000), _row(3, 2_000)])
    same_ms = _live(lt, [_row(20, 5_000), _row(19, 5_000)])
    assert sorted([later, earlier], key=lt.trade_order) == [earlier, later]
    assert [t.trade_id for t in sorted(same_ms, key=lt.trade_order)] == ["19", "20"]


def test_recent_trades_request(lt: LighterAdapter) -> None:
    request = lt.recent_trades_request("1", None)
    assert (request.method, request.path) == ("GET", "/api/v1/recentTrades")
    assert request.params == {"market_id": "1", "limit": "100"}
    assert request.name == "recentTrades:1"


def test_recent_trades_real_capture_is_the_live_trade(lt: LighterAdapter) -> None:
    body = load("rest_recent_trades.nautilus.json")
    (rest,) = lt.recent_trades_request("0", None).parse(body, RECV + 7)
    (live,) = _live(lt, body["trades"])
    assert rest == Trade(**{**_fields(live), "source": "rest", "ts_recv": RECV + 7})
    assert (rest.trade_id, rest.side, rest.price, rest.size, rest.ts_venue) == (
        "19211490282",
        "sell",  # is_maker_ask false: the bid rested, the taker sold
        2361.31,
        0.0005,
        1777945103092,
    )


def test_a_backfill_reading_is_maker_ask_backwards_differs(lt: LighterAdapter) -> None:
    body = load("rest_recent_trades.nautilus.json")
    (live,) = _live(lt, body["trades"])
    body["trades"][0]["is_maker_ask"] = True
    (rest,) = lt.recent_trades_request("0", None).parse(body, RECV)
    assert isinstance(rest, Trade) and rest.side != live.side


def test_recent_trades_are_sorted_and_start_at_the_last_trade(lt: LighterAdapter) -> None:
    (after,) = _live(lt, [_row(11, 1_100)])
    rows = [_row(13, 1_300), _row(12, 1_200), _row(11, 1_100), _row(10, 1_000)]
    body = {"code": 200, "trades": rows}
    out = lt.recent_trades_request("0", after).parse(body, RECV)
    assert [t.trade_id for t in out if isinstance(t, Trade)] == ["11", "12", "13"]
    out = lt.recent_trades_request("0", None).parse(body, RECV)
    assert [t.trade_id for t in out if isinstance(t, Trade)] == ["10", "11", "12", "13"]


@pytest.mark.parametrize(
    "body",
    [
        {"code": 20001, "message": "invalid param"},
        {"code": 200},
        {"code": 200, "trades": [{**_row(1, 1), "market_id": 1}]},
        {"code": 200, "trades": [{**_row(1, 1), "price": "0"}]},
        {"code": 200, "trades": [{**_row(1, 1), "size": "nan"}]},
        {"code": 200, "trades": [{"trade_id": 1, "price": "1", "size": "1"}]},
        [],
    ],
)
def test_recent_trades_bad_bodies(lt: LighterAdapter, body: Any) -> None:
    with pytest.raises(ParseError):
        lt.recent_trades_request("0", None).parse(body, RECV)


# ---------------------------------------------------------------- REST fallback


def test_fallback_is_order_book_orders(lt: LighterAdapter) -> None:
    (request,) = lt.fallback_requests("1")
    assert (request.method, request.path) == ("GET", "/api/v1/orderBookOrders")
    assert request.params == {"market_id": "1", "limit": "250"}


def test_fallback_book_from_the_real_capture(lt: LighterAdapter) -> None:
    (request,) = lt.fallback_requests("0")
    assert request.parse(load("rest_order_book_orders.nautilus.json"), RECV) == (
        BookSnapshot(
            instrument="0",
            bids=[(2361.17, 3.4125)],
            asks=[(2361.32, 0.0317)],
            from_rest=True,
        ),
    )


def test_fallback_sums_orders_into_levels_best_first(lt: LighterAdapter) -> None:
    def order(px: str, amount: str) -> dict[str, str]:
        return {"price": px, "remaining_base_amount": amount, "initial_base_amount": "9"}

    body = {
        "code": 200,
        "bids": [order("99.5", "0.1"), order("100", "0.1"), order("99.5", "0.2")],
        "asks": [order("101", "0.3"), order("100.5", "1"), order("102", "0")],
    }
    (snap,) = lt.fallback_requests("0")[0].parse(body, RECV)
    assert isinstance(snap, BookSnapshot)
    # 0.1 + 0.2 is 0.3 exactly; an empty order adds no level
    assert snap.bids == [(100.0, 0.1), (99.5, 0.3)]
    assert snap.asks == [(100.5, 1.0), (101.0, 0.3)]


@pytest.mark.parametrize(
    "orders",
    [
        [{"price": "0", "remaining_base_amount": "1"}],
        [{"price": "1", "remaining_base_amount": "-1"}],
        [{"price": "NaN", "remaining_base_amount": "1"}],
        [{"price": "1e400", "remaining_base_amount": "1"}],
        [{"price": "1"}],
        "x",
    ],
)
def test_fallback_bad_orders(lt: LighterAdapter, orders: Any) -> None:
    with pytest.raises(ParseError):
        lt.fallback_requests("0")[0].parse({"code": 200, "bids": orders, "asks": []}, RECV)


def test_fallback_interval_follows_the_documented_limit() -> None:
    requests_per_minute, share, requests_per_poll = 60, 0.5, 1
    polls_per_minute = requests_per_minute * share / requests_per_poll
    assert LighterAdapter.fallback_min_interval_s == pytest.approx(60 / polls_per_minute)
