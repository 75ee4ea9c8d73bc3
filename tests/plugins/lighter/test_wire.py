"""Lighter websocket frames: recorded and doc-derived frames in, exact normalized results
out; garbage in, ParseError out."""

from __future__ import annotations

import contextlib
import copy
import gc
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from venuefeed.core.adapter import (
    Ack,
    BookDelta,
    BookSnapshot,
    Instrument,
    Pong,
    Reply,
    VenueNotice,
)
from venuefeed.core.errors import (
    ConfigError,
    MalformedFrame,
    ParseError,
    UnknownFrame,
)
from venuefeed.core.events import Bbo, Funding, Mark, Trade
from venuefeed.core.wire import quotient
from venuefeed.plugins.lighter import wire
from venuefeed.plugins.lighter.adapter import LighterAdapter

DATA = Path(__file__).parent / "data"
RECV = 1_774_883_845_000  # 2026-03-30T15:17:25Z, between whole hours
Make = Callable[..., LighterAdapter]


def text(name: str) -> str:
    return (DATA / name).read_text()


def load(name: str) -> Any:
    return json.loads(text(name))


def frame(obj: Any) -> str:
    return json.dumps(obj)


# ---------------------------------------------------------------- control frames


def test_server_ping_gets_a_pong(lt: LighterAdapter) -> None:
    assert lt.parse('{"type":"ping"}', RECV) == (Reply({"type": "pong"}),)


def test_pong_answers_our_heartbeat(lt: LighterAdapter) -> None:
    assert lt.parse('{"type":"pong"}', RECV) == (Pong(),)


def test_connected_is_an_ack(lt: LighterAdapter) -> None:
    (ack,) = lt.parse(text("ws_connected.ccxt.json"), RECV)
    assert ack == Ack("connected session 8d354239-80e0-4b77-8763-87b6fef2f768")


def test_unsubscribed_is_an_ack(lt: LighterAdapter) -> None:
    assert lt.parse(text("ws_unsubscribed.ccxt.json"), RECV) == (Ack("unsubscribed order_book:0"),)


def test_shutdown_is_an_ack(lt: LighterAdapter) -> None:
    (ack,) = lt.parse('{"type":"shutdown","close_in_ms":5000}', RECV)
    assert isinstance(ack, Ack)
    assert "5000" in ack.detail


def test_error_30005_is_a_fatal_notice(lt: LighterAdapter) -> None:
    assert lt.parse(text("ws_error_30005.ccxt.json"), RECV) == (
        VenueNotice(code="30005", message="Invalid Channel:  (marketId)", stream=None, fatal=True),
    )


def test_error_30005_naming_a_channel_names_the_stream(lt: LighterAdapter) -> None:
    raw = frame({"error": {"code": 30005, "message": "Invalid Channel: ticker/1"}})
    (notice,) = lt.parse(raw, RECV)
    assert notice == VenueNotice("30005", "Invalid Channel: ticker/1", stream="bbo:1", fatal=True)


def test_error_30003_already_subscribed_is_harmless(lt: LighterAdapter) -> None:
    assert lt.parse(text("ws_error_30003.ccxt.json"), RECV) == (
        VenueNotice(
            code="30003",
            message="Already Subscribed to : market_stats:all",
            stream=None,
            fatal=False,
        ),
    )


def test_error_30002_names_the_book_stream(lt: LighterAdapter) -> None:
    assert lt.parse(text("ws_error_30002.ccxt.json"), RECV) == (
        VenueNotice(
            code="30002",
            message="Not Subscribed to : order_book:0",
            stream="book:0",
            fatal=False,
        ),
    )


def test_typed_error_frame_from_asyncapi(lt: LighterAdapter) -> None:
    raw = '{"type":"error","code":30010,"message":"Too Many Inflight Messages"}'
    assert lt.parse(raw, RECV) == (
        VenueNotice("30010", "Too Many Inflight Messages", stream=None, fatal=False),
    )


def test_error_with_odd_shape_still_becomes_a_notice(lt: LighterAdapter) -> None:
    assert lt.parse('{"error":"boom"}', RECV) == (VenueNotice("unknown", "boom"),)


# ---------------------------------------------------------------- order book


def test_book_snapshot(lt: LighterAdapter) -> None:
    assert lt.parse(text("ws_order_book_subscribed.nautilus.json"), RECV) == (
        BookSnapshot(
            instrument="0",
            bids=[(2000.0, 0.02)],
            asks=[(2325.0, 99.0), (2341.25, 340.1028)],
            seq=904845,
            ts_venue=1778138582602,
            from_rest=False,
        ),
        Ack("subscribed/order_book", subscribed=True),
    )


def test_book_snapshot_drops_empty_levels(lt: LighterAdapter) -> None:
    raw = frame(
        {
            "channel": "order_book:1",
            "type": "subscribed/order_book",
            "order_book": {
                "asks": [{"price": "101.5", "size": "0.0000"}, {"price": "102", "size": "3"}],
                "bids": [{"price": "99", "size": "2"}],
                "nonce": 10,
                "begin_nonce": 0,
            },
        }
    )
    snap, ack = lt.parse(raw, RECV)
    assert snap == BookSnapshot("1", bids=[(99.0, 2.0)], asks=[(102.0, 3.0)], seq=10)
    assert ack == Ack("subscribed/order_book", subscribed=True)


def test_book_update_chains_begin_nonce_to_nonce(lt: LighterAdapter) -> None:
    assert lt.parse(text("ws_order_book_update.nautilus.json"), RECV) == (
        BookDelta(
            instrument="0",
            bids=[],
            asks=[(2064.54, 0.3285)],
            seq=9182390020,
            prev_seq=9182389998,
            first_seq=None,
            ts_venue=1774884082326,
            sizes_are_changes=False,
        ),
    )


def test_book_update_without_begin_nonce(lt: LighterAdapter) -> None:
    assert lt.parse(text("ws_order_book_update.ccxt.json"), RECV) == (
        BookDelta(
            instrument="0",
            bids=[(2979.36, 0.0)],
            asks=[(2979.64, 61.9487)],
            seq=3107818665,
            prev_seq=None,
            ts_venue=1763448665923,
        ),
    )


def test_book_update_old_doc_without_any_sequence(lt: LighterAdapter) -> None:
    assert lt.parse(text("ws_order_book_update.doc_old.json"), RECV) == (
        BookDelta(
            instrument="0",
            bids=[(3338.8, 10.2898)],
            asks=[(3327.46, 29.0915)],
            seq=None,
            prev_seq=None,
            ts_venue=None,
        ),
    )


def test_book_update_on_slash_channel(lt: LighterAdapter) -> None:
    raw = frame(
        {
            "type": "update/order_book",
            "channel": "order_book/1",
            "timestamp": "1774884082400",
            "order_book": {"asks": [], "bids": [{"price": 65000.5, "size": 0.25}], "nonce": 7},
        }
    )
    (delta,) = lt.parse(raw, RECV)
    assert delta == BookDelta("1", bids=[(65000.5, 0.25)], asks=[], seq=7, ts_venue=1774884082400)


# ---------------------------------------------------------------- BBO


def test_ticker_is_bbo(lt: LighterAdapter) -> None:
    assert lt.parse(text("ws_ticker_update.nautilus.json"), RECV) == (
        Bbo(
            venue="lighter",
            symbol="ETH",
            instrument="0",
            ts_venue=1774883844933,
            ts_recv=RECV,
            bid_px=2064.30,
            bid_sz=1.0392,
            ask_px=2064.48,
            ask_sz=0.4950,
        ),
    )


def test_ticker_with_an_empty_side(lt: LighterAdapter) -> None:
    raw = frame(
        {
            "type": "subscribed/ticker",
            "channel": "ticker:1",
            "timestamp": 1774883844999,
            "ticker": {
                "s": "BTC",
                "a": {"price": "0", "size": "0"},
                "b": {"price": "1", "size": "2"},
            },
        }
    )
    bbo, _ = lt.parse(raw, RECV)  # the snapshot, and the subscription's ack
    assert isinstance(bbo, Bbo)
    assert (bbo.symbol, bbo.instrument, bbo.ts_venue) == ("BTC", "1", 1774883844999)
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (1.0, 2.0, None, None)
    (bbo,) = lt.parse(frame({"type": "update/ticker", "channel": "ticker:1", "ticker": {}}), RECV)
    assert isinstance(bbo, Bbo)
    assert (bbo.bid_px, bbo.bid_sz, bbo.ask_px, bbo.ask_sz) == (None, None, None, None)


# ---------------------------------------------------------------- trades


def test_trade_update(lt: LighterAdapter) -> None:
    assert lt.parse(text("ws_trade_update.nautilus.json"), RECV) == [
        Trade(
            venue="lighter",
            symbol="ETH",
            instrument="0",
            ts_venue=1773854156654,
            ts_recv=RECV,
            price=2181.83,
            size=0.1336,
            side="sell",
            trade_id="16164557907",
        )
    ]


def _trade(trade_id: int, price: str, size: str, maker_ask: bool, ts: int) -> dict[str, Any]:
    return {
        "trade_id": trade_id,
        "type": "trade",
        "market_id": 1,
        "price": price,
        "size": size,
        "is_maker_ask": maker_ask,
        "timestamp": ts,
    }


def test_taker_side_follows_is_maker_ask_and_liquidations_are_deduped(lt: LighterAdapter) -> None:
    raw = frame(
        {
            "type": "update/trade",
            "channel": "trade:1",
            "trades": [
                _trade(11, "65000.1", "0.5", True, 1774883844001),
                _trade(12, "64999.9", "0.25", False, 1774883844002),
            ],
            "liquidation_trades": [
                _trade(12, "64999.9", "0.25", False, 1774883844002),
                _trade(13, "64990", "1.5", False, 1774883844003),
            ],
        }
    )
    trades = lt.parse(raw, RECV)
    assert [(t.trade_id, t.price, t.size, t.side, t.ts_venue) for t in trades] == [  # type: ignore[union-attr]
        ("11", 65000.1, 0.5, "buy", 1774883844001),
        ("12", 64999.9, 0.25, "sell", 1774883844002),
        ("13", 64990.0, 1.5, "sell", 1774883844003),
    ]
    assert all(t.symbol == "BTC" and t.instrument == "1" for t in trades)  # type: ignore[union-attr]


def test_empty_trade_update(lt: LighterAdapter) -> None:
    raw = '{"type":"update/trade","channel":"trade:0","trades":[],"liquidation_trades":null}'
    assert lt.parse(raw, RECV) == []


def test_trade_snapshot_is_published_like_live_trades(lt: LighterAdapter) -> None:
    """The subscription's replay: after an outage it holds trades made meanwhile, so it is
    published (the core drops those it already published)."""
    assert lt.parse(text("ws_trade_subscribed.ccxt.json"), RECV) == (
        Trade(
            venue="lighter",
            symbol="ETH",
            instrument="0",
            ts_venue=1763623734215,
            ts_recv=RECV,
            price=3028.85,
            size=0.0346,
            side="sell",
            trade_id="526801155",
        ),
        Ack("subscribed/trade", subscribed=True),
    )


def test_the_replay_option_is_gone(make: Make) -> None:
    with pytest.raises(ConfigError, match="replay_trade_snapshot"):
        make({"replay_trade_snapshot": False})


def test_trade_snapshot_of_a_market_not_started_is_unknown(lt: LighterAdapter) -> None:
    frame = json.loads(text("ws_trade_subscribed.ccxt.json"))
    frame["channel"] = "trade:5"
    with pytest.raises(UnknownFrame):
        lt.parse(json.dumps(frame), RECV)


# ---------------------------------------------------------------- funding and mark


def test_market_stats_ccxt_sample(lt: LighterAdapter) -> None:
    """The frame carries the last payment (06:00:00.004, long before RECV) and the coming
    one's estimate; both are percent per hour, published as fractions of one hour."""
    settled, predicted, mark = lt.parse(text("ws_market_stats_update.ccxt.json"), RECV)
    assert settled == Funding(
        venue="lighter",
        symbol="ETH",
        instrument="0",
        ts_venue=1763532000004,  # funding_timestamp: when that payment was made
        ts_recv=RECV,
        rate=quotient(0.0012, 100),
        interval_h=1.0,
        rate_per_hour=quotient(0.0012, 100),
        next_funding_ms=None,
        basis="settled",
        source="ws",
        feed="market_stats",
    )
    assert predicted == Funding(
        venue="lighter",
        symbol="ETH",
        instrument="0",
        ts_venue=None,
        ts_recv=RECV,
        rate=quotient(0.0012, 100),
        interval_h=1.0,
        rate_per_hour=1.2e-05,  # 0.0012 / 100 without the float noise
        next_funding_ms=1774886400000,  # the whole hour after RECV
        basis="predicted",
        source="ws",
        feed="market_stats",
    )
    assert predicted.rate == pytest.approx(0.000012, rel=1e-12)
    assert mark == Mark(
        venue="lighter",
        symbol="ETH",
        instrument="0",
        ts_venue=None,
        ts_recv=RECV,
        mark_px=3013.91,
        index_px=3015.56,
    )


def test_a_settled_payment_is_published_once(lt: LighterAdapter) -> None:
    """Every frame repeats the last payment: history gets it once per payment."""
    raw = text("ws_market_stats_update.ccxt.json")
    first = lt.parse(raw, RECV)
    again = lt.parse(raw, RECV + 1000)
    assert [f.basis for f in first if isinstance(f, Funding)] == ["settled", "predicted"]
    assert [f.basis for f in again if isinstance(f, Funding)] == ["predicted"]
    later = json.loads(raw)
    later["market_stats"]["funding_timestamp"] = 1763535600002  # the next hour's payment
    later["market_stats"]["funding_rate"] = "-0.0034"
    (settled, _, _) = lt.parse(json.dumps(later), RECV + 2000)
    assert isinstance(settled, Funding)
    assert (settled.basis, settled.ts_venue, settled.rate) == (
        "settled",
        1763535600002,
        -0.0034 / 100,
    )


def test_market_stats_nautilus_sample_next_funding_is_the_coming_hour(lt: LighterAdapter) -> None:
    """This fixture stamps `funding_timestamp` an hour after its own frame: that is no
    completed payment, so only the predicted rate is published."""
    recv = 1774883845100
    funding, mark = lt.parse(text("ws_market_stats_update_single.nautilus.json"), recv)
    assert funding == Funding(
        venue="lighter",
        symbol="ETH",
        instrument="0",
        ts_venue=1774883844933,
        ts_recv=recv,
        rate=0.000001 / 100,
        interval_h=1.0,
        rate_per_hour=0.000001 / 100,
        next_funding_ms=1774886400000,  # equals the sample's funding_timestamp
        basis="predicted",
        feed="market_stats",
    )
    assert mark == Mark(
        venue="lighter",
        symbol="ETH",
        instrument="0",
        ts_venue=1774883844933,
        ts_recv=recv,
        mark_px=2064.47,
        index_px=2064.48,
    )


def test_negative_funding_and_missing_index(lt: LighterAdapter) -> None:
    raw = frame(
        {
            "type": "update/market_stats",
            "channel": "market_stats:1",
            "timestamp": 1774886400000,  # exactly on the hour: that payment is done
            "market_stats": {"market_id": 1, "current_funding_rate": "-0.0250", "mark_price": "1"},
        }
    )
    funding, mark = lt.parse(raw, RECV)
    assert isinstance(funding, Funding) and isinstance(mark, Mark)
    assert (funding.symbol, funding.rate, funding.next_funding_ms) == (
        "BTC",
        -0.025 / 100,
        1774890000000,
    )
    assert funding.rate_per_hour == funding.rate == pytest.approx(-0.00025, rel=1e-12)
    assert (mark.mark_px, mark.index_px) == (1.0, None)


def test_market_stats_all_keeps_only_the_markets_asked_for(lt: LighterAdapter, make: Make) -> None:
    raw = text("ws_market_stats_all_update.ccxt.json")  # about market 96 only
    assert lt.parse(raw, RECV) == []  # `lt` streams BTC and ETH: listed is not enough
    lt.resolve("EURUSD")
    settled, funding, mark = lt.parse(raw, RECV)
    assert settled == Funding(
        venue="lighter",
        symbol="EURUSD",
        instrument="96",
        ts_venue=1763532000004,
        ts_recv=RECV,
        rate=0.0,
        interval_h=1.0,
        rate_per_hour=0.0,
        basis="settled",
        feed="market_stats",
    )
    assert funding == Funding(
        venue="lighter",
        symbol="EURUSD",
        instrument="96",
        ts_recv=RECV,
        rate=0.0,
        interval_h=1.0,
        rate_per_hour=0.0,
        next_funding_ms=1774886400000,
        basis="predicted",
        feed="market_stats",
    )
    assert mark == Mark(
        venue="lighter",
        symbol="EURUSD",
        instrument="96",
        ts_recv=RECV,
        mark_px=1.15954,
        index_px=1.15901,
    )
    by_connections = make()
    by_connections.connections([Instrument("EURUSD", "96")])
    assert len(by_connections.parse(raw, RECV)) == 3  # settled, predicted, mark
    unknown = make(init=False)
    unknown.init_requests()[0].parse(load("rest_order_books.nautilus.json"), RECV)
    assert unknown.parse(raw, RECV) == []


@pytest.mark.parametrize("market", ["96", "7", "55"])
@pytest.mark.parametrize(
    "sample",
    [
        "ws_order_book_update.ccxt.json",
        "ws_order_book_subscribed.nautilus.json",
        "ws_ticker_update.nautilus.json",
        "ws_trade_update.nautilus.json",
        "ws_trade_subscribed.ccxt.json",
        "ws_market_stats_update.ccxt.json",
    ],
)
def test_data_for_a_market_not_asked_for_is_unknown(
    lt: LighterAdapter, sample: str, market: str
) -> None:
    """Listed (96, EURUSD), inactive (7) or unlisted (55): only the markets the core asked
    for (resolve, connections) produce results; the plugin never invents an instrument."""
    doc = load(sample)
    channel = doc["channel"]
    doc["channel"] = channel[: channel.index(":") + 1] + market
    with pytest.raises(UnknownFrame, match="no market subscribed"):
        lt.parse(frame(doc), RECV)


# ---------------------------------------------------------------- garbage in, ParseError out


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"type":"ping"}', MalformedFrame),
        (b"\x00\x01", MalformedFrame),
        ("", MalformedFrame),
        ("{", MalformedFrame),
        ("not json", MalformedFrame),
        ("null", MalformedFrame),
        ("[]", MalformedFrame),
        ("42", MalformedFrame),
        ('"ping"', MalformedFrame),
        ("{}", UnknownFrame),
        ('{"type":5}', MalformedFrame),
        ('{"type":"update/height","channel":"height","height":1}', UnknownFrame),
        ('{"type":"update/order_book","order_book":{"asks":[],"bids":[]}}', MalformedFrame),
        ('{"type":"update/order_book","channel":"order_book:0"}', MalformedFrame),
        ('{"type":"update/order_book","channel":"order_book:55","order_book":{}}', UnknownFrame),
        ('{"type":"update/order_book","channel":"order_book","order_book":{}}', UnknownFrame),
        (
            '{"type":"update/order_book","channel":"order_book:0",'
            '"order_book":{"asks":[{"price":"abc","size":"1"}],"bids":[]}}',
            MalformedFrame,
        ),
        (
            '{"type":"update/order_book","channel":"order_book:0",'
            '"order_book":{"asks":[{"price":"1"}],"bids":[]}}',
            MalformedFrame,
        ),
        (
            '{"type":"update/order_book","channel":"order_book:0",'
            '"order_book":{"asks":[["1","2"]],"bids":[]}}',
            MalformedFrame,
        ),
        (
            '{"type":"update/order_book","channel":"order_book:0",'
            '"order_book":{"asks":[],"bids":[],"nonce":"x"}}',
            MalformedFrame,
        ),
        ('{"type":"update/ticker","channel":"ticker:0"}', MalformedFrame),
        ('{"type":"update/ticker","channel":"ticker:0","ticker":{"a":[1,2]}}', MalformedFrame),
        ('{"type":"update/trade","channel":"trade:0","trades":{}}', MalformedFrame),
        ('{"type":"update/trade","channel":"trade:0","trades":[{"price":"1"}]}', MalformedFrame),
        (
            '{"type":"update/trade","channel":"trade:0","trades":[{"trade_id":1,"price":"1",'
            '"size":"1","is_maker_ask":"maybe"}]}',
            MalformedFrame,
        ),
        ('{"type":"update/market_stats","channel":"market_stats:0"}', MalformedFrame),
        (
            '{"type":"update/market_stats","channel":"market_stats:0","market_stats":[]}',
            MalformedFrame,
        ),
        (
            '{"type":"update/market_stats","channel":"market_stats:0",'
            '"market_stats":{"market_id":0,"mark_price":"x"}}',
            MalformedFrame,
        ),
        (
            '{"type":"update/market_stats","channel":"market_stats:0",'
            '"market_stats":{"market_id":0,"current_funding_rate":true}}',
            MalformedFrame,
        ),
        (
            '{"type":"update/market_stats","channel":"market_stats:all",'
            '"market_stats":{"0":"oops"}}',
            MalformedFrame,
        ),
        ('{"type":"connected","session_id":7}', MalformedFrame),
    ],
)
def test_garbage_raises_parse_errors(lt: LighterAdapter, raw: str | bytes, error: type) -> None:
    with pytest.raises(error):
        lt.parse(raw, RECV)


WS_SAMPLES = sorted(p.name for p in DATA.glob("ws_*.json"))


@pytest.mark.parametrize("name", WS_SAMPLES)
def test_every_sample_parses_and_its_truncations_fail_cleanly(
    lt: LighterAdapter, name: str
) -> None:
    raw = text(name)
    assert lt.parse(raw, RECV) is not None
    compact = json.dumps(json.loads(raw), separators=(",", ":"))
    for cut in range(len(compact)):
        with pytest.raises(ParseError):
            lt.parse(compact[:cut], RECV)


_WRONG: tuple[Any, ...] = (None, True, 0, -1.5, "", "x", [], {}, [1], {"a": 1})


def _leaf_paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaf_paths(v, (*path, k))] + [path]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaf_paths(v, (*path, i))] + [path]
    return [path]


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize("name", WS_SAMPLES)
def test_wrong_typed_fields_raise_only_parse_errors(name: str, make: Make) -> None:
    """Every field of every sample swapped for values of other types: never a raw error."""
    adapter = make()
    doc = load(name)
    for path in _leaf_paths(doc):
        for value in _WRONG:
            raw = json.dumps(_replace(doc, path, value))
            with contextlib.suppress(ParseError):
                adapter.parse(raw, RECV)


def test_a_decoded_delta_frame_is_left_to_reference_counting(lt: LighterAdapter) -> None:
    """`gc=False` structs (wire.py): a delta's decoded objects are not tracked by the
    garbage collector, and a delta with an empty side still parses to an empty one."""
    frame = json.dumps(
        {
            "type": "update/order_book",
            "channel": "order_book:1",
            "timestamp": 5,
            "order_book": {
                "asks": [],
                "bids": [{"price": "100.5", "size": "2"}],
                "nonce": 9,
                "begin_nonce": 8,
            },
        }
    )
    msg = wire.FRAME_DECODER.decode(frame)
    assert msg.order_book is not None
    assert not gc.is_tracked(msg) and not gc.is_tracked(msg.order_book)
    assert not gc.is_tracked(msg.order_book.bids[0])
    (delta,) = lt.parse(frame, 0)
    assert isinstance(delta, BookDelta)
    assert delta.bids == [(100.5, 2.0)] and delta.asks == []
    assert (delta.seq, delta.prev_seq, delta.ts_venue) == (9, 8, 5)
