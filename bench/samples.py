"""Recorded venue samples, and adapters brought to the state they have in production.

A plugin's `parse` only reads fields once its start-up state is there: market-id maps from
its init requests, instruments from `resolve` and `connections`. Without that state most
frames are rejected as unknown instruments before a single number is read, so a fuzzer or a
contract test that skips start-up mostly tests rejection. `started_adapter` runs each init
request's `parse` on the venue's recorded REST sample, resolves the symbols the websocket
samples use and asks for the connections, exactly the order the core follows.

The recorded listings do not always name the markets the recorded websocket frames are
about (they were captured at different times, some from documentation). `VenueSamples.rows`
appends the missing markets to a listing so the samples describe one consistent venue; the
rows only carry the fields the adapters read.

Shared by `tests/plugins/test_contract.py` and `bench/fuzz.py`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from venuefeed.core.adapter import Instrument, VenueAdapter, VenueContext
from venuefeed.core.plugins import PluginHost

#: the recorded samples, one folder per venue: `tests/plugins/<venue>/data/`.
PLUGIN_TESTS = Path(__file__).resolve().parent.parent / "tests" / "plugins"
#: the receive time every sample is parsed at (ms); any fixed value keeps runs reproducible.
RECV_MS = 1_780_000_000_000


@dataclass(frozen=True, slots=True)
class Seed:
    """One recorded websocket frame: its file name and the frame as the venue sends it."""

    name: str
    frame: str | bytes


@dataclass(frozen=True, slots=True)
class ListingRows:
    """Market rows appended to one init request's recorded body (under `key`, or to the
    body itself when it is a list)."""

    request: str
    key: str | None
    rows: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class VenueSamples:
    """How to start one venue's adapter from its recorded samples."""

    venue: str
    #: init request name -> the REST sample file its `parse` is fed.
    init_bodies: Mapping[str, str]
    #: symbols to resolve: those the websocket samples are about.
    symbols: tuple[str, ...]
    rows: tuple[ListingRows, ...] = ()
    #: wrap JSON payload samples in this venue's combined-stream envelope too.
    combined_stream: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return PLUGIN_TESTS / self.venue / "data"


def _aster_market(symbol: str, base: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "status": "TRADING",
        "baseAsset": base,
        "quoteAsset": "USDT",
    }


def _paradex_market(symbol: str, base: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "base_currency": base,
        "quote_currency": "USD",
        "asset_kind": "PERP",
        "funding_period_hours": 8,
    }


VENUES: Mapping[str, VenueSamples] = {
    "aster": VenueSamples(
        venue="aster",
        init_bodies={
            "exchangeInfo": "rest_exchange_info_response.doc.json",
            "fundingInfo": "rest_funding_info_response.doc.json",
        },
        # the documented exchangeInfo lists only DOGEUSDT; the frames are about these
        rows=(
            ListingRows(
                "exchangeInfo",
                "symbols",
                (
                    _aster_market("BTCUSDT", "BTC"),
                    _aster_market("ETHUSDT", "ETH"),
                    _aster_market("BNBUSDT", "BNB"),
                ),
            ),
        ),
        symbols=("BTC", "ETH", "BNB"),
        combined_stream=True,
    ),
    "extended": VenueSamples(
        venue="extended",
        init_bodies={"markets": "rest_markets_response.ccxt.json"},
        symbols=("BTC",),
    ),
    "hyperliquid": VenueSamples(
        venue="hyperliquid",
        init_bodies={"meta": "rest_meta_response.sdk_cassette.json"},
        symbols=("BTC", "ETH"),
    ),
    "lighter": VenueSamples(
        venue="lighter",
        init_bodies={"orderBooks": "rest_order_books.nautilus.json"},
        # `ws_market_stats_all_update` is about market 96, which the recorded list lacks;
        # its name here is a placeholder (the frame does not say it).
        rows=(
            ListingRows(
                "orderBooks",
                "order_books",
                ({"symbol": "MARKET96", "market_id": 96, "market_type": "perp"},),
            ),
        ),
        symbols=("ETH", "MARKET96"),
    ),
    "paradex": VenueSamples(
        venue="paradex",
        init_bodies={"markets": "rest_markets_response.ccxt.json"},
        # the recorded list names BODEN only; the frames are about these markets
        rows=(
            ListingRows(
                "markets",
                "results",
                (
                    _paradex_market("BTC-USD-PERP", "BTC"),
                    _paradex_market("TRUMP-USD-PERP", "TRUMP"),
                    _paradex_market("ORDI-USD-PERP", "ORDI"),
                    _paradex_market("kBONK-USD-PERP", "kBONK"),
                ),
            ),
        ),
        symbols=("BTC", "TRUMP", "ORDI", "kBONK"),
    ),
}


#: frames of kinds no recorded sample shows, written from the shapes each adapter's
#: docstring cites, so the fuzzer also reaches those parse paths. Named `synthetic:...`.
SYNTHETIC: Mapping[str, Mapping[str, Any]] = {
    "aster": {
        "synthetic:subscribe_ack": {"result": None, "id": 1},
        "synthetic:error": {"code": -1121, "msg": "Invalid symbol.", "id": 1},
    },
    "extended": {
        "synthetic:delta_absolute": {
            "ts": 1701563441000,
            "type": "DELTA",
            "data": {
                "m": "BTC-USD",
                "b": [{"p": "25670", "q": "-0.05", "c": "0.05"}],
                "a": [{"p": "25770", "q": "0.2", "c": "0.3"}],
            },
            "seq": 2,
        },
        "synthetic:delta_changes": {
            "ts": 1701563442000,
            "type": "DELTA",
            "data": {"m": "BTC-USD", "b": [{"p": "25660", "q": "-0.1"}], "a": []},
            "seq": 3,
        },
    },
    "hyperliquid": {
        "synthetic:bbo": {
            "channel": "bbo",
            "data": {
                "coin": "BTC",
                "time": 1710131872708,
                "bbo": [
                    {"px": "68674.0", "sz": "0.97139", "n": 4},
                    {"px": "68675.0", "sz": "0.04396", "n": 1},
                ],
            },
        },
        "synthetic:bbo_one_side": {
            "channel": "bbo",
            "data": {
                "coin": "ETH",
                "time": 1710131872708,
                "bbo": [None, {"px": "3012.6", "sz": "0.5", "n": 1}],
            },
        },
    },
    "lighter": {
        "synthetic:trade_with_liquidation": {
            "channel": "trade:0",
            "type": "update/trade",
            "trades": [],
            "liquidation_trades": [
                {
                    "trade_id": 16164557908,
                    "size": "0.5",
                    "price": "2181.00",
                    "is_maker_ask": True,
                    "timestamp": 1773854156700,
                }
            ],
        },
        "synthetic:ping": {"type": "ping"},
    },
    "paradex": {
        "synthetic:bbo": {
            "jsonrpc": "2.0",
            "method": "subscription",
            "params": {
                "channel": "bbo.BTC-USD-PERP",
                "data": {
                    "market": "BTC-USD-PERP",
                    "seq_no": 20784,
                    "bid": "67629.7",
                    "bid_size": "0.992",
                    "ask": "69378.6",
                    "ask_size": "3.137",
                    "last_updated_at": 1718267837265,
                },
            },
        },
        "synthetic:book_delta": {
            "jsonrpc": "2.0",
            "method": "subscription",
            "params": {
                "channel": "order_book.BTC-USD-PERP.deltas",
                "data": {
                    "seq_no": 14127816,
                    "market": "BTC-USD-PERP",
                    "last_updated_at": 1718267837300,
                    "update_type": "d",
                    "inserts": [{"side": "BUY", "price": "67629.5", "size": "2.5"}],
                    "updates": [{"side": "SELL", "price": "69378.6", "size": "0.75"}],
                    "deletes": [{"side": "BUY", "price": "67629.7", "size": "0"}],
                },
            },
        },
    },
}


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def init_body(samples: VenueSamples, request: str) -> Any:
    """The recorded REST body for one init request, with the venue's extra listing rows."""
    body = copy.deepcopy(load_json(samples.data_dir / samples.init_bodies[request]))
    for extra in samples.rows:
        if extra.request != request:
            continue
        target = body if extra.key is None else body[extra.key]
        target.extend(copy.deepcopy(list(extra.rows)))
    return body


def new_adapter(cls: type[VenueAdapter], venue: str, options: Mapping[str, Any]) -> VenueAdapter:
    """An adapter as the core builds it, pointed at unreachable loopback URLs."""
    ctx = VenueContext(
        name=venue,
        symbols=(),
        ws_url="wss://127.0.0.1:1/ws",
        rest_url="http://127.0.0.1:1",
        options=dict(options),
    )
    return cls(ctx)


def started_adapter(
    venue: str, host: PluginHost | None = None
) -> tuple[VenueAdapter, list[Instrument]]:
    """A venue's adapter after init requests, `resolve` and `connections` (core order).

    Every init request must have a recorded body: an adapter half started would make the
    fuzzer test rejection again.
    """
    samples = VENUES[venue]
    host = host or PluginHost(load_entry_points=False)
    adapter = new_adapter(host.adapter(venue), venue, samples.options)
    for request in adapter.init_requests():
        if request.name not in samples.init_bodies:
            raise LookupError(f"{venue}: no recorded body for init request {request.name!r}")
        request.parse(init_body(samples, request.name), RECV_MS)
    instruments = [adapter.resolve(symbol) for symbol in samples.symbols]
    adapter.connections(instruments)
    adapter.poll_requests(instruments)
    return adapter, instruments


def ws_seeds(venue: str, *, synthetic: bool = True) -> list[Seed]:
    """The venue's recorded websocket frames: `ws_*.json` as stored, `ws_*.bin` as bytes,
    for combined-stream venues each JSON payload also wrapped as `/stream` sends it, and
    (unless told not to) the venue's synthetic frames."""
    samples = VENUES[venue]
    seeds: list[Seed] = []
    for path in sorted(samples.data_dir.glob("ws_*")):
        if path.suffix == ".bin":
            seeds.append(Seed(path.name, path.read_bytes()))
        elif path.suffix == ".json":
            text = path.read_text()
            seeds.append(Seed(path.name, text))
            if samples.combined_stream:
                seeds.append(Seed(f"{path.name}[combined]", _combined(json.loads(text))))
    if synthetic:
        for name, doc in SYNTHETIC.get(venue, {}).items():
            seeds.append(Seed(name, json.dumps(doc)))
    return seeds


def _combined(payload: Any) -> str:
    """A raw-stream payload as a combined-stream frame `{"stream": ..., "data": ...}`."""
    symbol = str(payload.get("s", "")).lower() if isinstance(payload, dict) else ""
    kind = payload.get("e", "") if isinstance(payload, dict) else ""
    return json.dumps({"stream": f"{symbol}@{kind}", "data": payload})


def seeds_by_name(seeds: Sequence[Seed]) -> dict[str, Seed]:
    return {seed.name: seed for seed in seeds}
