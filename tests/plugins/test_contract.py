"""The adapter contract, checked over every registered built-in adapter after its start-up.

parse() must be total: whatever a venue (or an attacker, or a bug) sends, it returns
results or raises the project's ParseError, never KeyError/TypeError/RecursionError/...
And it must not let impossible numbers through: every result passes the core's sanity
gate (`venuefeed.core.publishing.sanity.check_results`) because the plugin refused the frame first.

Each adapter is started as the core starts it (`bench.samples.started_adapter`: init
requests fed the recorded REST samples, symbols resolved, connections asked for), so the
parsers reach the fields instead of rejecting every frame as an unknown instrument. Then:
(a) every recorded frame that is market data produces market-data results, and every other
one the control results it stands for; (b) hypothesis mutates the recorded frames
(`bench.mutate`: retyped, pruned, truncated, numbers made inf/NaN/0/-1/huge/strings, deep
nesting, garbage, SBE bit flips) and only ParseError may escape. `make fuzz` runs the same
mutations by the hundred thousand. (c) Market data only ever concerns the instruments the
adapter was started with: a mutated name, or a frame about an instrument nobody asked
for, is an `UnknownFrame`, never a new instrument.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest
from choosers import HypothesisChooser
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from bench.mutate import Mutator, SeedFrame
from bench.samples import (
    RECV_MS,
    VENUES,
    Seed,
    init_body,
    new_adapter,
    started_adapter,
    ws_seeds,
)
from venuefeed.core.adapter import (
    Ack,
    BookDelta,
    BookSnapshot,
    Control,
    Heartbeat,
    Instrument,
    Parsed,
    Pong,
    Reply,
    RestRequest,
    VenueAdapter,
    VenueNotice,
)
from venuefeed.core.codec import encode_message
from venuefeed.core.errors import ParseError, UnknownFrame
from venuefeed.core.events import Event, Funding, Source, encode_event
from venuefeed.core.plugins import BUILTIN_MODULES, PluginHost
from venuefeed.core.publishing.sanity import check_results
from venuefeed.core.wire import quotient

T = TypeVar("T")

HOST = PluginHost(load_entry_points=False)
NAMES = sorted(HOST.venues)

#: frames that are not market data, and the control results each must produce.
CONTROLS: dict[str, dict[str, type[Control]]] = {
    "aster": {"synthetic:subscribe_ack": Ack, "synthetic:error": VenueNotice},
    "extended": {"ws_error.ccxt.json": VenueNotice},
    "hyperliquid": {
        "ws_error_channel.ccxt.json": VenueNotice,
        "ws_pong.doc.json": Pong,
        "ws_subscription_response.doc.json": Ack,
        "ws_unsubscribe_ack.ccxt.json": Ack,
    },
    "lighter": {
        "ws_connected.ccxt.json": Ack,
        "ws_error_30002.ccxt.json": VenueNotice,
        "ws_error_30003.ccxt.json": VenueNotice,
        "ws_error_30005.ccxt.json": VenueNotice,
        "ws_unsubscribed.ccxt.json": Ack,
        "synthetic:ping": Reply,
    },
    "paradex": {
        "ws_error_invalid_channel.ccxt.json": VenueNotice,
        "ws_error_invalid_params.doc.json": VenueNotice,
        "ws_subscribe_response.doc.json": Ack,
        "ws_heartbeat.v1.bin": Ack,
    },
}
#: recorded frames an adapter must reject (deliberately unknown or garbage), by venue, with
#: the reason. None today: every recorded frame is one the adapters read.
REJECTED: dict[str, dict[str, str]] = {name: {} for name in NAMES}

SAMPLES = [(name, seed.name) for name in NAMES for seed in ws_seeds(name)]

#: each venue's funding feeds by source: the venue's own names, as the README's "Funding:
#: what the fields mean" table lists them. A Funding event names one of these, so two
#: series of one venue (the websocket's and the REST poll's) are never taken for one.
FUNDING_FEEDS: dict[str, dict[Source, frozenset[str]]] = {
    "aster": {"ws": frozenset({"markPrice"}), "rest": frozenset({"premiumIndex"})},
    "extended": {"ws": frozenset({"funding"}), "rest": frozenset({"markets/stats"})},
    "hyperliquid": {"ws": frozenset({"activeAssetCtx"}), "rest": frozenset({"metaAndAssetCtxs"})},
    "lighter": {"ws": frozenset({"market_stats"}), "rest": frozenset({"funding-rates"})},
    "paradex": {"ws": frozenset({"funding_data"}), "rest": frozenset({"markets/summary"})},
}
#: a funding rate beyond 5 % an hour is no real venue's (the highest documented cap is
#: Hyperliquid's 4 %/h): a percent left unconverted, or an 8-hour rate called hourly
MAX_RATE_PER_HOUR = 0.05


def funding_problem(item: Funding, source: Source) -> str | None:
    """What makes a Funding event mean something else than the core's `Funding` says:
    `rate` a fraction for one interval of `interval_h` hours, `rate_per_hour`
    `rate / interval_h`, exact or without binary noise (`quotient`), a basis, the source
    it really came from, one of its venue's feeds; a settled rate has its settlement time
    and no next one."""
    if item.source != source:
        return f"source {item.source!r}, but it came from {source!r}"
    if item.feed not in FUNDING_FEEDS[item.venue][source]:
        return f"feed {item.feed!r} is not one of {item.venue}'s {source} funding feeds"
    if item.basis not in ("predicted", "settled"):
        return f"basis {item.basis!r}"
    exact = item.rate / item.interval_h
    if item.rate_per_hour not in (exact, quotient(item.rate, item.interval_h)):
        return f"rate_per_hour {item.rate_per_hour!r} != {item.rate!r} / {item.interval_h!r} h"
    if item.basis == "settled" and (item.ts_venue is None or item.next_funding_ms is not None):
        return "a settled rate without its settlement time, or with a next one"
    return None


def plausible_funding(item: Funding) -> str | None:
    """`funding_problem`, plus a magnitude only real (recorded) rates are held to."""
    if abs(item.rate_per_hour) > MAX_RATE_PER_HOUR:
        return f"rate_per_hour {item.rate_per_hour!r}: not a fraction per hour"
    return None


#: each venue's recorded REST poll bodies by request name (prefix), as the endpoint answers
POLL_SAMPLES: dict[str, dict[str, tuple[str, Callable[[Any, RestRequest], Any]]]] = {
    "aster": {
        "fundingInfo": ("rest_funding_info_response.ccxt.json", lambda body, _: body),
        # one symbol's answer, about the symbol asked for
        "premiumIndex": (
            "rest_premium_index_response.ccxt.json",
            lambda body, request: {**body, "symbol": (request.params or {})["symbol"]},
        ),
    },
    "extended": {"stats": ("rest_market_stats_response.ccxt.json", lambda body, _: body)},
    "hyperliquid": {
        "metaAndAssetCtxs": ("rest_meta_and_asset_ctxs_response.doc.json", lambda body, _: body)
    },
    "lighter": {"funding-rates": ("rest_funding_rates_response.ccxt.json", lambda body, _: body)},
    "paradex": {
        "summary": ("rest_markets_summary_item.ccxt.json", lambda row, _: {"results": [row]})
    },
}


def test_all_builtin_venues_are_registered():
    assert NAMES == ["aster", "extended", "hyperliquid", "lighter", "paradex"]
    assert len(BUILTIN_MODULES) == len(NAMES)
    assert sorted(VENUES) == NAMES  # each one has its start-up samples


@pytest.mark.parametrize("name", NAMES)
def test_declarations(name: str):
    cls = HOST.adapter(name)
    assert cls.name == name and name.isidentifier()
    assert isinstance(cls.heartbeat, Heartbeat)
    if cls.heartbeat.ping is not None:
        encode_message(cls.heartbeat.ping)  # serialisable
    assert cls.default_ws_url.startswith("wss://") or cls.default_ws_url == ""
    recorded = ws_seeds(name, synthetic=False)
    assert recorded, f"{name} has no recorded ws_* samples"


@pytest.mark.parametrize("name", NAMES)
def test_sample_lists_name_existing_samples(name: str):
    names = {seed.name for seed in ws_seeds(name)}
    assert set(CONTROLS.get(name, {})) <= names
    assert set(REJECTED[name]) <= names


def contract_problem(results: object) -> str | None:
    """What breaks the adapter contract in a parse result, if anything."""
    if not isinstance(results, list | tuple):
        return f"parse returned a {type(results).__name__}, not a sequence"
    for item in results:
        if not isinstance(
            item, Event | BookSnapshot | BookDelta | Reply | Pong | Ack | VenueNotice
        ):
            return f"parse returned {item!r}"
        if isinstance(item, Event):
            encode_event(item)  # the JSON sink can write it
    return None


@functools.cache
def _started(name: str) -> tuple[VenueAdapter, tuple[Instrument, ...], tuple[SeedFrame, ...]]:
    """One started adapter per venue for the hypothesis runs: state carries over from frame
    to frame, as on a live connection."""
    adapter, instruments = started_adapter(name, HOST)
    seeds = tuple(SeedFrame(s.name, s.frame) for s in ws_seeds(name))
    return adapter, tuple(instruments), seeds


def _seed(name: str, sample: str) -> Seed:
    return next(s for s in ws_seeds(name) if s.name == sample)


@pytest.mark.parametrize(("name", "sample"), SAMPLES)
def test_every_recorded_frame_yields_what_it_stands_for(name: str, sample: str):
    adapter, instruments = started_adapter(name, HOST)
    frame = _seed(name, sample).frame
    if sample in REJECTED[name]:
        with pytest.raises(ParseError):
            adapter.parse(frame, RECV_MS)
        return
    results = adapter.parse(frame, RECV_MS)  # a ParseError here fails the test
    assert contract_problem(results) is None
    check_results(results)
    control = CONTROLS.get(name, {}).get(sample)
    if control is not None:
        assert results, f"{sample}: no result"
        assert all(isinstance(item, control) for item in results), results
        return
    data = [r for r in results if isinstance(r, Event | BookSnapshot | BookDelta)]
    assert data, f"{sample} is market data but produced {results!r}"
    symbols = {i.instrument: i.symbol for i in instruments}
    for item in data:
        assert item.instrument in symbols, f"{sample}: {item.instrument!r} was not started"
        if isinstance(item, Event):
            assert item.symbol == symbols[item.instrument] and item.venue == name
        if isinstance(item, Funding):
            assert funding_problem(item, "ws") is None, (sample, funding_problem(item, "ws"))
            assert plausible_funding(item) is None, (sample, plausible_funding(item))


@pytest.mark.parametrize("name", NAMES)
def test_funding_polled_over_rest_means_what_the_websocket_funding_means(name: str):
    """The REST poll's funding events obey the same definition as the websocket's."""
    adapter, instruments = started_adapter(name, HOST)
    funding: list[Funding] = []
    for request in adapter.poll_requests(instruments):
        known = [k for k in POLL_SAMPLES[name] if request.name.startswith(k)]
        assert known, f"{name}: no recorded body for the poll {request.name!r}"
        sample, wrap = POLL_SAMPLES[name][known[0]]
        body = wrap(json.loads((VENUES[name].data_dir / sample).read_text()), request)
        funding += [item for item in request.parse(body, RECV_MS) if isinstance(item, Funding)]
    assert funding, f"{name}: the recorded poll bodies gave no funding"
    for item in funding:
        assert funding_problem(item, "rest") is None, funding_problem(item, "rest")
        assert plausible_funding(item) is None, plausible_funding(item)


def _funding(**fields: Any) -> Funding:
    base: dict[str, Any] = {
        "venue": "lighter",
        "symbol": "ETH",
        "instrument": "0",
        "ts_recv": RECV_MS,
        "rate": 0.000012,
        "interval_h": 1.0,
        "rate_per_hour": 0.000012,
        "basis": "predicted",
        "source": "ws",
        "feed": "market_stats",
    }
    return Funding(**{**base, **fields})


@pytest.mark.parametrize(
    ("broken", "source", "why"),
    [
        # main before issue 10: Lighter's websocket rate left in percent
        ({"rate": 0.0012, "rate_per_hour": 0.0012 / 100}, "ws", "rate_per_hour"),
        ({"feed": ""}, "ws", "feed"),
        ({"feed": "funding-rates"}, "ws", "feed"),  # the REST poll's name on a ws event
        ({"source": "ws", "feed": "funding-rates"}, "rest", "source"),
        ({"basis": "settled"}, "ws", "settled rate"),  # no settlement time
        ({"interval_h": 8.0}, "ws", "rate_per_hour"),
    ],
)
def test_funding_checks_catch_a_wrong_event(broken: dict[str, Any], source: Source, why: str):
    assert funding_problem(_funding(), "ws") is None
    problem = funding_problem(_funding(**broken), source)
    assert problem is not None and why in problem


def test_an_unconverted_percent_is_implausible():
    percent = _funding(rate=0.5, rate_per_hour=0.5)  # "0.5000" % an hour taken as a fraction
    assert funding_problem(percent, "ws") is None
    assert plausible_funding(percent) is not None


def parse_checked(
    adapter: VenueAdapter, frame: str | bytes, instruments: Sequence[Instrument]
) -> Sequence[Parsed]:
    """Parse a frame the way the contract allows: results that pass the sanity gate and
    concern only the started `instruments`, or a ParseError (returned as no results)."""
    try:
        results = adapter.parse(frame, RECV_MS)
    except ParseError:
        return ()
    problem = contract_problem(results)
    assert problem is None, problem
    check_results(results)  # ImpossibleValue here: the plugin let the number through
    symbols = {i.instrument: i.symbol for i in instruments}
    for item in results:
        if isinstance(item, Event | BookSnapshot | BookDelta):
            # the plugin invented an instrument (make fuzz found 'ORDI-UCD-PERP', 'sTC')
            assert item.instrument in symbols, f"{item.instrument!r} was not started"
            if isinstance(item, Event):
                assert item.symbol == symbols[item.instrument], item
        if isinstance(item, Funding):  # whatever the numbers, one meaning
            assert funding_problem(item, "ws") is None, funding_problem(item, "ws")
    return results


FUZZ = settings(
    max_examples=1_500,
    deadline=None,
    derandomize=True,  # the same examples every run: tests are deterministic
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.data())
def test_mutated_frames_raise_only_parse_error_and_carry_no_impossible_value(
    name: str, data: st.DataObject
):
    adapter, instruments, seeds = _started(name)
    seed = data.draw(st.sampled_from(seeds))
    mutant = Mutator(HypothesisChooser(data)).mutate(seed)
    note(f"{seed.name}: {mutant.how}")
    note(repr(mutant.frame)[:2_000])
    parse_checked(adapter, mutant.frame, instruments)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.mark.parametrize("name", NAMES)
@settings(FUZZ, max_examples=200)
@given(doc=JSON_VALUES)
def test_arbitrary_json_documents_raise_only_parse_error(name: str, doc: Any):
    adapter, instruments, _ = _started(name)
    parse_checked(adapter, encode_message(doc), instruments)


@pytest.mark.parametrize(("name", "sample"), SAMPLES)
def test_an_adapter_asked_for_nothing_publishes_no_market_data(name: str, sample: str):
    """The venue lists the markets, but no symbol was resolved and no connection asked for
    one: every recorded frame is an UnknownFrame or a control result, the same on all five
    venues (Aster and Lighter did so; Paradex, Hyperliquid and Extended made instruments up)."""
    samples = VENUES[name]
    adapter = new_adapter(HOST.adapter(name), name, samples.options)
    for request in adapter.init_requests():
        request.parse(init_body(samples, request.name), RECV_MS)
    adapter.connections([])
    try:
        results = adapter.parse(_seed(name, sample).frame, RECV_MS)
    except UnknownFrame:
        return
    assert not [r for r in results if isinstance(r, Event | BookSnapshot | BookDelta)], results
