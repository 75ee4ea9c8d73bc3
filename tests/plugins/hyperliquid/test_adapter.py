"""Declarations of the Hyperliquid adapter: registration, symbols, connections, REST."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from venuefeed.core.adapter import (
    BookSnapshot,
    ConnectionSpec,
    Continuity,
    Instrument,
    Resync,
    StreamSpec,
    VenueContext,
)
from venuefeed.core.codec import encode_message
from venuefeed.core.errors import ConfigError, MalformedFrame, UnknownSymbolError
from venuefeed.core.events import Funding, Mark, Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.plugins.hyperliquid import venuefeed_register_venues
from venuefeed.plugins.hyperliquid.adapter import HyperliquidAdapter

RECV = 1_790_232_238_000
NEXT_HOUR = 1_790_233_200_000

#: the `meta` example of the HL docs (info-endpoint/perpetuals), with a delisted coin.
DOC_META = {
    "universe": [
        {"name": "BTC", "szDecimals": 5, "maxLeverage": 50},
        {"name": "ETH", "szDecimals": 4, "maxLeverage": 50},
        {"name": "HPOS", "szDecimals": 0, "maxLeverage": 3, "onlyIsolated": True},
        {
            "name": "LOOM",
            "szDecimals": 1,
            "maxLeverage": 3,
            "onlyIsolated": True,
            "isDelisted": True,
        },
    ],
    "marginTables": [],
}


def bare_adapter(**options: Any) -> HyperliquidAdapter:
    ctx = VenueContext(
        name="hyperliquid",
        symbols=("BTC", "ETH"),
        ws_url="ws://127.0.0.1:8765/ws",
        rest_url="http://127.0.0.1:8766",
        options=options,
    )
    return HyperliquidAdapter(ctx)


# -- registration and declarations ---------------------------------------------------------


def test_hook_registers_the_adapter() -> None:
    assert venuefeed_register_venues() == [HyperliquidAdapter]
    host = PluginHost(("venuefeed.plugins.hyperliquid",), load_entry_points=False)
    assert host.venues["hyperliquid"].adapter is HyperliquidAdapter


def test_class_declarations() -> None:
    a = HyperliquidAdapter
    assert a.name == "hyperliquid"
    assert a.default_ws_url == "wss://api.hyperliquid.xyz/ws"
    assert a.default_rest_url == "https://api.hyperliquid.xyz"
    assert a.heartbeat.ping == {"method": "ping"}
    assert a.continuity is Continuity.SNAPSHOTS
    assert a.resync is Resync.RECONNECT
    assert a.bbo_from_book is False


def test_unknown_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"venues\.hyperliquid\.options.*l2book_fst"):
        bare_adapter(l2book_fst=True)


def test_fast_book_option_must_be_a_bool() -> None:
    with pytest.raises(ConfigError, match="l2book_fast = 'maybe'"):
        bare_adapter(l2book_fast="maybe")


# -- symbols -------------------------------------------------------------------------------


def test_resolve_base_and_native_id(adapter: HyperliquidAdapter) -> None:
    # On Hyperliquid the coin name is both the base asset and the venue's id.
    assert adapter.resolve("BTC") == Instrument(symbol="BTC", instrument="BTC")
    assert adapter.resolve("DYDX") == Instrument(symbol="DYDX", instrument="DYDX")
    assert adapter.resolve("kPEPE") == Instrument(symbol="kPEPE", instrument="kPEPE")


def test_resolve_folds_case_but_keeps_the_venue_spelling(adapter: HyperliquidAdapter) -> None:
    # A wrongly cased coin would make the server drop the whole socket: send its spelling.
    assert adapter.resolve("eth") == Instrument(symbol="ETH", instrument="ETH")
    assert adapter.resolve("KPEPE") == Instrument(symbol="kPEPE", instrument="kPEPE")


def test_resolve_unknown_symbol(adapter: HyperliquidAdapter) -> None:
    with pytest.raises(UnknownSymbolError) as info:
        adapter.resolve("NOPE")
    assert info.value.venue == "hyperliquid"
    assert info.value.symbol == "NOPE"
    assert "APE, APT, ARB" in str(info.value)
    with pytest.raises(UnknownSymbolError):
        adapter.resolve("BTC-PERP")


def test_delisted_coins_are_refused() -> None:
    a = bare_adapter()
    (meta,) = a.init_requests()
    assert meta.parse(DOC_META, 0) == ()
    assert a.resolve("HPOS") == Instrument(symbol="HPOS", instrument="HPOS")
    with pytest.raises(UnknownSymbolError, match="BTC, ETH, HPOS"):
        a.resolve("LOOM")


def test_resolve_before_init_knows_nothing() -> None:
    with pytest.raises(UnknownSymbolError):
        bare_adapter().resolve("BTC")


def test_ambiguous_case_needs_the_exact_spelling() -> None:
    a = bare_adapter()
    (meta,) = a.init_requests()
    meta.parse({"universe": [{"name": "kABC"}, {"name": "KABC"}]}, 0)
    assert a.resolve("kABC").instrument == "kABC"
    assert a.resolve("KABC").instrument == "KABC"
    with pytest.raises(UnknownSymbolError):
        a.resolve("kabc")


# -- init request --------------------------------------------------------------------------


def test_init_request_is_a_meta_info_post() -> None:
    (req,) = bare_adapter().init_requests()
    assert (req.name, req.method, req.path, req.json, req.params) == (
        "meta",
        "POST",
        "/info",
        {"type": "meta"},
        None,
    )


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"universe": {}},
        {"universe": []},
        {"universe": [{"name": "LOOM", "isDelisted": True}]},
        {"universe": ["BTC"]},
        {"universe": [{"name": 1}]},
        {"universe": [{"name": ""}]},
        {"universe": [{"szDecimals": 5}]},
    ],
)
def test_bad_meta_bodies(body: Any) -> None:
    (req,) = bare_adapter().init_requests()
    with pytest.raises(MalformedFrame):
        req.parse(body, 0)


# -- connections ---------------------------------------------------------------------------


def test_one_connection_with_every_stream(adapter: HyperliquidAdapter) -> None:
    instruments = [adapter.resolve("BTC"), adapter.resolve("eth")]
    (conn,) = adapter.connections(instruments)
    assert isinstance(conn, ConnectionSpec)
    assert conn.name == "main"
    assert conn.url == "wss://x/ws"  # from the context, never a constant
    assert dict(conn.headers) == {}
    assert conn.max_lifetime_s is None
    assert list(conn.subscribe) == [
        {"method": "subscribe", "subscription": {"type": "l2Book", "coin": "BTC"}},
        {"method": "subscribe", "subscription": {"type": "bbo", "coin": "BTC"}},
        {"method": "subscribe", "subscription": {"type": "trades", "coin": "BTC"}},
        {"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "BTC"}},
        {"method": "subscribe", "subscription": {"type": "l2Book", "coin": "ETH"}},
        {"method": "subscribe", "subscription": {"type": "bbo", "coin": "ETH"}},
        {"method": "subscribe", "subscription": {"type": "trades", "coin": "ETH"}},
        {"method": "subscribe", "subscription": {"type": "activeAssetCtx", "coin": "ETH"}},
    ]
    assert list(conn.streams) == [
        StreamSpec("book", "BTC", quiet=False),
        StreamSpec("bbo", "BTC", quiet=True),
        StreamSpec("trade", "BTC", quiet=True),
        StreamSpec("funding", "BTC", quiet=True),
        StreamSpec("mark", "BTC", quiet=False),
        StreamSpec("book", "ETH", quiet=False),
        StreamSpec("bbo", "ETH", quiet=True),
        StreamSpec("trade", "ETH", quiet=True),
        StreamSpec("funding", "ETH", quiet=True),
        StreamSpec("mark", "ETH", quiet=False),
    ]
    # the exact text the core sends for the first subscription
    assert encode_message(conn.subscribe[0]) == (
        '{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC"}}'
    )
    assert encode_message(type(adapter).heartbeat.ping) == '{"method":"ping"}'


def test_connection_url_follows_the_context() -> None:
    a = bare_adapter()
    (meta,) = a.init_requests()
    meta.parse(DOC_META, 0)
    (conn,) = a.connections([a.resolve("BTC")])
    assert conn.url == "ws://127.0.0.1:8765/ws"


def test_the_same_coin_twice_is_subscribed_once(adapter: HyperliquidAdapter) -> None:
    (conn,) = adapter.connections([adapter.resolve("BTC"), adapter.resolve("btc")])
    assert len(conn.subscribe) == 4
    assert len(conn.streams) == 5


def test_fast_book_option(new_adapter: Callable[..., HyperliquidAdapter]) -> None:
    a = new_adapter(l2book_fast=True)
    (conn,) = a.connections([a.resolve("SOL")])
    assert conn.subscribe[0] == {
        "method": "subscribe",
        "subscription": {"type": "l2Book", "coin": "SOL", "fast": True},
    }
    assert conn.subscribe[1] == {
        "method": "subscribe",
        "subscription": {"type": "bbo", "coin": "SOL"},
    }


def test_no_instruments_no_subscriptions(adapter: HyperliquidAdapter) -> None:
    (conn,) = adapter.connections([])
    assert conn.subscribe == () and conn.streams == ()
    assert adapter.poll_requests([]) == ()


# -- funding poll --------------------------------------------------------------------------


def test_poll_request_is_a_meta_and_asset_ctxs_post(adapter: HyperliquidAdapter) -> None:
    (req,) = adapter.poll_requests([adapter.resolve("BTC")])
    assert (req.name, req.method, req.path, req.json) == (
        "metaAndAssetCtxs",
        "POST",
        "/info",
        {"type": "metaAndAssetCtxs"},
    )


def test_poll_parses_the_doc_example(
    adapter: HyperliquidAdapter, rest_body: Callable[[str], Any]
) -> None:
    (req,) = adapter.poll_requests([adapter.resolve("BTC"), adapter.resolve("ETH")])
    out = req.parse(rest_body("rest_meta_and_asset_ctxs_response.doc.json"), RECV)

    def funding(coin: str) -> Funding:
        return Funding(
            venue="hyperliquid",
            symbol=coin,
            instrument=coin,
            ts_venue=None,
            ts_recv=RECV,
            rate=0.0000125,
            interval_h=1.0,
            rate_per_hour=0.0000125,
            next_funding_ms=NEXT_HOUR,
            basis="predicted",
            source="rest",
            feed="metaAndAssetCtxs",
        )

    def mark(coin: str, mark_px: float, index_px: float) -> Mark:
        return Mark(
            venue="hyperliquid",
            symbol=coin,
            instrument=coin,
            ts_venue=None,
            ts_recv=RECV,
            mark_px=mark_px,
            index_px=index_px,
        )

    assert list(out) == [
        funding("BTC"),
        mark("BTC", 14.3161, 14.32),
        funding("ETH"),
        mark("ETH", 6.0436, 6.0457),
    ]


def test_poll_reads_ctxs_by_universe_position(adapter: HyperliquidAdapter) -> None:
    """The third coin gets the third ctx: a shifted index would show a wrong price."""
    body = [
        {"universe": [{"name": "BTC"}, {"name": "ETH"}, {"name": "SOL"}]},
        [
            {"funding": "0.0000125", "markPx": "84148.0", "oraclePx": "84198.0"},
            {"funding": "-0.00002", "markPx": "3011.9", "oraclePx": "3010.2"},
            {"funding": "0.0001", "markPx": "201.37", "oraclePx": "201.41", "midPx": None},
        ],
    ]
    (req,) = adapter.poll_requests([adapter.resolve("SOL")])
    funding, mark = req.parse(body, RECV)
    assert isinstance(funding, Funding) and isinstance(mark, Mark)
    assert (funding.symbol, funding.rate, funding.rate_per_hour) == ("SOL", 0.0001, 0.0001)
    assert (mark.symbol, mark.mark_px, mark.index_px) == ("SOL", 201.37, 201.41)


def test_poll_repeats_funding_every_time(adapter: HyperliquidAdapter) -> None:
    """Unlike the websocket, each poll is a full reading, even if nothing changed."""
    body = [{"universe": [{"name": "BTC"}]}, [{"funding": "0", "markPx": "1", "oraclePx": "2"}]]
    (req,) = adapter.poll_requests([adapter.resolve("BTC")])
    assert [type(e) for e in req.parse(body, RECV)] == [Funding, Mark]
    assert [type(e) for e in req.parse(body, RECV + 60_000)] == [Funding, Mark]


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        [],
        [{"universe": [{"name": "BTC"}]}],
        [{"universe": [{"name": "BTC"}]}, {}],
        [{"universe": [{"name": "BTC"}, {"name": "ETH"}]}, [{}]],  # not index-aligned
        [{"universe": [{"name": "BTC"}]}, [None]],
        [{"universe": [{"name": "BTC"}]}, [{"funding": "x", "markPx": "1", "oraclePx": "1"}]],
        [{"universe": [{"name": "BTC"}]}, [{"funding": "0", "markPx": "-1", "oraclePx": "1"}]],
        [{"universe": [{"name": "BTC"}]}, [{"funding": "0", "markPx": "1"}]],
        [{"nope": []}, []],
    ],
)
def test_bad_poll_bodies(adapter: HyperliquidAdapter, body: Any) -> None:
    (req,) = adapter.poll_requests([adapter.resolve("BTC")])
    with pytest.raises(MalformedFrame):
        req.parse(body, RECV)


def test_no_book_snapshot_request(adapter: HyperliquidAdapter) -> None:
    """Every book frame is a snapshot: there is never a REST snapshot to bridge from."""
    assert adapter.book_snapshot_request("BTC") is None
    assert adapter.resubscribe_messages("BTC") == ()


# -- gap-free trades -------------------------------------------------------------------------


def _ws_trade(adapter: HyperliquidAdapter, rest_body: Callable[[str], Any]) -> Trade:
    (trade,) = adapter.parse(json.dumps(rest_body("ws_trades.ccxt.json")), RECV)
    assert isinstance(trade, Trade)
    return trade


def _trade(tid: int, time: int, side: str = "buy") -> Trade:
    return Trade(
        venue="hyperliquid",
        symbol="BTC",
        instrument="BTC",
        ts_venue=time,
        ts_recv=RECV,
        price=1.0,
        size=1.0,
        side="buy" if side == "buy" else "sell",
        trade_id=str(tid),
    )


def test_identity_is_coin_tid_and_time(
    adapter: HyperliquidAdapter, rest_body: Callable[[str], Any]
) -> None:
    trade = _ws_trade(adapter, rest_body)
    assert adapter.trade_identity(trade) == ("BTC", "981894269203506", 1710125266669)
    # the same hash in another block is another trade
    assert adapter.trade_identity(_trade(7, 1)) != adapter.trade_identity(_trade(7, 2))


def test_order_is_block_time_never_the_hash(adapter: HyperliquidAdapter) -> None:
    later_small_hash, earlier_big_hash = _trade(1, 2_000), _trade(999, 1_000)
    assert sorted([later_small_hash, earlier_big_hash], key=adapter.trade_order) == [
        earlier_big_hash,
        later_small_hash,
    ]
    # one block: arrival order stands (a stable sort keeps it)
    block = [_trade(900, 5), _trade(100, 5), _trade(500, 5)]
    assert sorted(block, key=adapter.trade_order) == block


def test_recent_trades_request_is_an_info_post(adapter: HyperliquidAdapter) -> None:
    request = adapter.recent_trades_request("BTC", None)
    assert (request.method, request.path) == ("POST", "/info")
    assert request.json == {"type": "recentTrades", "coin": "BTC"}
    assert request.name == "recentTrades:BTC"


def test_recent_trades_parse_like_the_websocket(
    adapter: HyperliquidAdapter, rest_body: Callable[[str], Any]
) -> None:
    """No recorded `recentTrades` body exists; its rows have the WsTrade shape (see the
    adapter's docstring), so the recorded websocket trade is fed to it as a REST row."""
    live = _ws_trade(adapter, rest_body)
    rows = rest_body("ws_trades.ccxt.json")["data"]
    (rest,) = adapter.recent_trades_request("BTC", None).parse(rows, RECV + 5)
    assert rest == Trade(**{**_fields(live), "source": "rest", "ts_recv": RECV + 5})
    assert (rest.side, rest.trade_id, rest.ts_venue) == ("sell", "981894269203506", 1710125266669)


def test_a_backfill_that_flips_the_side_differs_from_the_websocket(
    adapter: HyperliquidAdapter, rest_body: Callable[[str], Any]
) -> None:
    live = _ws_trade(adapter, rest_body)
    rows = rest_body("ws_trades.ccxt.json")["data"]
    rows[0]["side"] = "B"  # what a parse reading the side backwards would produce
    (rest,) = adapter.recent_trades_request("BTC", None).parse(rows, RECV)
    assert isinstance(rest, Trade) and rest.side != live.side


def test_recent_trades_newest_first_come_out_oldest_first(adapter: HyperliquidAdapter) -> None:
    rows = [_row(3, 300), _row(2, 200), _row(1, 100)]
    out = adapter.recent_trades_request("BTC", None).parse(rows, RECV)
    assert [t.trade_id for t in out if isinstance(t, Trade)] == ["1", "2", "3"]
    out = adapter.recent_trades_request("BTC", None).parse(rows[::-1], RECV)
    assert [t.trade_id for t in out if isinstance(t, Trade)] == ["1", "2", "3"]


def test_recent_trades_drop_what_came_before_the_last_trade_but_keep_it(
    adapter: HyperliquidAdapter,
) -> None:
    after = _trade(50, 200)
    rows = [_row(10, 100), _row(50, 200), _row(7, 200), _row(3, 300)]
    out = adapter.recent_trades_request("BTC", after).parse(rows, RECV)
    # 10 is older; 50 is `after`, kept as the proof the answer reaches back to it; 7
    # shares its block, so it may be new
    assert [t.trade_id for t in out if isinstance(t, Trade)] == ["50", "7", "3"]


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"error": "x"},
        [{"coin": "ETH", "side": "A", "px": "1", "sz": "1", "time": 1, "tid": 1}],
        [{"coin": "BTC", "side": "S", "px": "1", "sz": "1", "time": 1, "tid": 1}],
        [{"coin": "BTC", "side": "A", "px": "-1", "sz": "1", "time": 1, "tid": 1}],
        [{"coin": "BTC", "side": "A", "px": "1", "sz": "0", "time": 1, "tid": 1}],
    ],
)
def test_bad_recent_trades_bodies(adapter: HyperliquidAdapter, body: Any) -> None:
    with pytest.raises(MalformedFrame):
        adapter.recent_trades_request("BTC", None).parse(body, RECV)


def _row(tid: int, time: int) -> dict[str, Any]:
    return {"coin": "BTC", "side": "B", "px": "1.5", "sz": "2", "time": time, "tid": tid}


def _fields(trade: Trade) -> dict[str, Any]:
    return {name: getattr(trade, name) for name in trade.__struct_fields__}


# -- REST fallback ---------------------------------------------------------------------------


def test_fallback_is_the_l2book_post(adapter: HyperliquidAdapter) -> None:
    (request,) = adapter.fallback_requests("BTC")
    assert (request.method, request.path) == ("POST", "/info")
    assert request.json == {"type": "l2Book", "coin": "BTC"}


def test_fallback_book_from_the_real_capture(
    new_adapter: Callable[..., HyperliquidAdapter], rest_body: Callable[[str], Any]
) -> None:
    adapter = new_adapter(symbols=("DYDX",))
    (request,) = adapter.fallback_requests("DYDX")
    (snap,) = request.parse(rest_body("rest_l2book_response.sdk_cassette.json"), RECV)
    assert isinstance(snap, BookSnapshot) and snap.from_rest and snap.instrument == "DYDX"
    assert snap.bids[:2] == [(2.111, 134.4), (2.1105, 141.1)]
    assert snap.asks[0][0] > snap.bids[0][0]
    assert len(snap.bids) == len(snap.asks) == 20


def test_fallback_book_of_another_coin_is_malformed(
    adapter: HyperliquidAdapter, rest_body: Callable[[str], Any]
) -> None:
    (request,) = adapter.fallback_requests("BTC")
    with pytest.raises(MalformedFrame, match="DYDX"):
        request.parse(rest_body("rest_l2book_response.sdk_cassette.json"), RECV)


def test_fallback_interval_follows_the_documented_weights() -> None:
    weight_per_minute, l2book_weight, share = 1200, 2, 0.5
    polls_per_minute = weight_per_minute * share / l2book_weight
    assert HyperliquidAdapter.fallback_min_interval_s == pytest.approx(60 / polls_per_minute)
