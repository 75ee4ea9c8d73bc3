"""REST bodies: funding intervals, the funding/mark poll and the book snapshot."""

from __future__ import annotations

import json
from typing import Any

import pytest

from venuefeed.core.adapter import BookSnapshot, Instrument
from venuefeed.core.errors import MalformedFrame, ParseError
from venuefeed.core.events import Funding, Mark
from venuefeed.plugins.aster.adapter import AsterAdapter

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
