"""Gap-free trades and the REST fallback, checked for every plugin against its simulator.

Each adapter is wired to its own simulator in process (`loopback.py`): the markets step,
the websocket frames go through `parse`, and the REST requests the adapter describes for a
backfill (`recent_trades_request`) and for the fallback (`fallback_requests`) are answered
by the simulator from the same markets. So a backfilled trade must be the live trade field
for field (only `source` and `ts_recv` differ), a fallback book must be the true book, and
the identity and order the adapter declares must match the venue's own.
"""

from __future__ import annotations

import functools
import json
import sys
from urllib.parse import urlsplit

import pytest
from choosers import HypothesisChooser
from hypothesis import given, note, settings
from hypothesis import strategies as st
from loopback import Loopback, assert_same_trades, flip_sides, loopback

from bench.mutate import Mutator, SeedFrame
from bench.samples import RECV_MS as RECV
from venuefeed.core.adapter import BookSnapshot, RestRequest, VenueAdapter
from venuefeed.core.errors import ParseError
from venuefeed.core.events import Bbo, Event, Mark, Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.core.publishing.sanity import check_results
from venuefeed.sim.protocol import SimRequest
from venuefeed.sim.report import CHECK_LEVELS

HOST = PluginHost(load_entry_points=False)
VENUES = ["aster", "extended", "hyperliquid", "lighter", "paradex"]
#: market steps before a check: ~15 trades a second per symbol at one step every 20 ms
STEPS = 300


def started(venue: str) -> Loopback:
    rig = loopback(HOST.adapter(venue))
    rig.step(STEPS)
    return rig


def live_trades(rig: Loopback, instrument: str) -> list[Trade]:
    return [t for t in rig.trades() if t.instrument == instrument]


def backfill(rig: Loopback, instrument: str, after: Trade | None) -> list[Trade]:
    request = rig.adapter.recent_trades_request(instrument, after)
    assert request is not None, f"{rig.adapter.name} has no recent-trades endpoint"
    return [r for r in rig.fetch(request) if isinstance(r, Trade)]


@pytest.mark.parametrize("venue", VENUES)
def test_backfilled_trades_are_the_live_trades(venue: str):
    rig = started(venue)
    for inst in rig.instruments:
        live = live_trades(rig, inst.instrument)
        assert len(live) > 20, "the markets made too few trades to compare"
        after = live[-6]
        got = backfill(rig, inst.instrument, after)
        assert_same_trades(live, got)
        # `after` itself comes back first: the proof the answer reaches back to it
        assert [t.trade_id for t in got] == [t.trade_id for t in live[-6:]]


@pytest.mark.parametrize("venue", VENUES)
def test_the_last_trade_comes_back_exactly_when_the_answer_reaches_it(venue: str):
    """What the core relies on to tell a complete backfill from one with a gap: `after`
    is among the trades returned if, and only if, nothing between it and now is missing
    (venues whose window is a fixed number of recent trades cannot reach far back)."""
    rig = started(venue)
    order = rig.adapter.trade_order
    for inst in rig.instruments:
        live = live_trades(rig, inst.instrument)
        for after in (live[0], live[len(live) // 2], live[-2], live[-1]):
            got = {t.trade_id for t in backfill(rig, inst.instrument, after)}
            newer = {t.trade_id for t in live if order(t) > order(after)}
            assert (after.trade_id in got) == (newer <= got), (venue, after.trade_id)


@pytest.mark.parametrize("venue", VENUES)
def test_a_backfill_without_a_last_trade_returns_the_latest(venue: str):
    rig = started(venue)
    for inst in rig.instruments:
        live = live_trades(rig, inst.instrument)
        got = backfill(rig, inst.instrument, None)
        assert_same_trades(live, got)
        assert got[-1].trade_id == live[-1].trade_id


@pytest.mark.parametrize("venue", VENUES)
def test_a_backfill_that_flips_the_side_fails_the_comparison(venue: str):
    rig = started(venue)
    inst = rig.instruments[0]
    live = live_trades(rig, inst.instrument)
    request = rig.adapter.recent_trades_request(inst.instrument, live[-6])
    assert request is not None
    broken = [r for r in rig.fetch(flip_sides(request)) if isinstance(r, Trade)]
    with pytest.raises(AssertionError, match="side"):
        assert_same_trades(live, broken)


@pytest.mark.parametrize("venue", VENUES)
def test_trades_missed_while_disconnected_come_back_by_replay_or_backfill(venue: str):
    """A short outage: what the websocket replays on subscribe plus the backfill after the
    last trade seen hold every trade made meanwhile, and nothing that is not a real trade."""
    rig = started(venue)
    seen = {i.instrument: live_trades(rig, i.instrument)[-1] for i in rig.instruments}
    rig.disconnect()
    before = {s: m.trade_id for s, m in rig.markets.items()}
    rig.step(10)
    replayed = rig.trades(rig.connect())
    for inst in rig.instruments:
        market = rig.markets[inst.symbol]
        missed = set(range(before[inst.symbol] + 1, market.trade_id + 1))
        got = [t for t in replayed if t.instrument == inst.instrument]
        got += backfill(rig, inst.instrument, seen[inst.instrument])
        ids = {int(t.trade_id) for t in got}
        assert missed <= ids, f"{inst.symbol}: trades {sorted(missed - ids)} never came back"
        for t in got:
            truth = market.trades[int(t.trade_id)]
            assert (t.price, t.size, t.side, t.ts_venue) == (
                truth.price,
                truth.size,
                truth.side,
                truth.ts_ms,
            )


@pytest.mark.parametrize("venue", VENUES)
def test_identity_is_unique_and_order_is_the_venues(venue: str):
    rig = started(venue)
    adapter: VenueAdapter = rig.adapter
    for inst in rig.instruments:
        live = live_trades(rig, inst.instrument)
        identities = [adapter.trade_identity(t) for t in live]
        assert len(set(identities)) == len(identities)
        shuffled = live[1::2] + live[0::2]
        ordered = sorted(shuffled, key=adapter.trade_order)
        # the simulator numbers trades in the order they happen
        assert [int(t.trade_id) for t in ordered] == sorted(int(t.trade_id) for t in live)


@pytest.mark.parametrize("venue", VENUES)
def test_the_fallback_polls_bring_the_true_book(venue: str):
    rig = started(venue)
    for inst in rig.instruments:
        market = rig.markets[inst.symbol]
        requests = rig.adapter.fallback_requests(inst.instrument)
        assert requests, f"{venue} declares no REST fallback"
        results = [r for request in requests for r in rig.fetch(request)]
        books = [r for r in results if isinstance(r, BookSnapshot)]
        assert len(books) == 1 and books[0].from_rest
        (book,) = books
        assert book.instrument == inst.instrument
        bids, asks = market.book_top(CHECK_LEVELS)
        assert list(book.bids[:CHECK_LEVELS]) == bids
        assert list(book.asks[:CHECK_LEVELS]) == asks
        for event in results:
            if isinstance(event, Event):
                assert isinstance(event, Bbo | Mark), event
                assert event.source == "rest" and event.instrument == inst.instrument
                if isinstance(event, Mark):
                    assert event.mark_px == market.mark


@pytest.mark.parametrize("venue", VENUES)
def test_the_fallback_interval_is_declared_and_explained(venue: str):
    cls = HOST.adapter(venue)
    assert 0 < cls.fallback_min_interval_s <= 60
    docs = (sys.modules[cls.__module__].__doc__ or "").lower()
    assert "fallback" in docs and "rate limit" in docs


# -- robustness: whatever the venue answers, the parse raises ParseError or is sane ------------


@functools.cache
def _rest_seeds(venue: str) -> tuple[Loopback, tuple[tuple[RestRequest, SeedFrame], ...]]:
    """The venue's backfill and fallback requests with the bodies its simulator answers."""
    rig = started(venue)
    pairs: list[tuple[RestRequest, SeedFrame]] = []
    inst = rig.instruments[0].instrument
    live = live_trades(rig, inst)
    requests = [
        rig.adapter.recent_trades_request(inst, live[-6]),
        *rig.adapter.fallback_requests(inst),
    ]
    for request in requests:
        assert request is not None
        path = urlsplit(rig.rest_url).path.rstrip("/") + request.path
        sim_request = SimRequest(request.method, path, dict(request.params or {}), request.json)
        text = json.dumps(rig.sim.rest(sim_request).body)
        pairs.append((request, SeedFrame(request.name, text)))
    return rig, tuple(pairs)


@pytest.mark.parametrize("venue", VENUES)
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(data=st.data())
def test_mutated_rest_bodies_raise_only_parse_error(venue: str, data: st.DataObject):
    rig, pairs = _rest_seeds(venue)
    request, seed = data.draw(st.sampled_from(pairs))
    mutant = Mutator(HypothesisChooser(data)).mutate(seed)
    note(f"{seed.name}: {mutant.how}")
    try:
        body = json.loads(mutant.frame)
    except (ValueError, RecursionError, TypeError):
        return  # the core's decoder refuses what is not JSON before any parse sees it
    try:
        results = request.parse(body, RECV)
    except ParseError:
        return
    check_results(results)
    for item in results:
        if isinstance(item, Event | BookSnapshot):
            assert item.instrument == rig.instruments[0].instrument
