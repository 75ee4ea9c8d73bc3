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
from collections.abc import Sequence
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
    VenueAdapter,
    VenueNotice,
)
from venuefeed.core.codec import encode_message
from venuefeed.core.errors import ParseError, UnknownFrame
from venuefeed.core.events import Event, encode_event
from venuefeed.core.plugins import BUILTIN_MODULES, PluginHost
from venuefeed.core.publishing.sanity import check_results

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
