"""The last gate before consumers: every rule, and the values it must let through."""

from __future__ import annotations

import math

import pytest

from venuefeed.core.adapter import Ack, BookDelta, BookSnapshot
from venuefeed.core.errors import UnknownFrame
from venuefeed.core.events import Bbo, Funding, Mark, Trade
from venuefeed.core.publishing.sanity import ImpossibleValue, check_results

BASE = {"venue": "v", "symbol": "BTC", "instrument": "BTC", "ts_recv": 1}


def trade(**kw: object) -> Trade:
    fields = {"price": 1.0, "size": 1.0, "side": "buy", "trade_id": "1", **kw}
    return Trade(**BASE, **fields)  # type: ignore[arg-type]


GOOD = [
    trade(),
    Bbo(**BASE, bid_px=1.0, bid_sz=0.0, ask_px=None, ask_sz=None),  # type: ignore[arg-type]
    Mark(**BASE, mark_px=1.0, index_px=None),  # type: ignore[arg-type]
    Funding(**BASE, rate=-0.001, interval_h=8, rate_per_hour=-0.000125),  # type: ignore[arg-type]
    BookSnapshot("BTC", [(1.0, 0.0)], [(2.0, 3.0)]),
    BookDelta("BTC", [(1.0, -0.5)], [], sizes_are_changes=True),
    BookDelta("BTC", [(1.0, 0.0), (1e300, 2.0)], [(2.0, 1e-300)]),
    Ack("fine"),
]

BAD = [
    trade(price=math.inf),
    trade(price=0.0),
    trade(price=math.nan),
    trade(size=0.0),
    trade(size=-1.0),
    trade(trade_id=""),
    Bbo(**BASE, bid_px=math.inf, bid_sz=1.0, ask_px=2.0, ask_sz=1.0),  # type: ignore[arg-type]
    Bbo(**BASE, bid_px=1.0, bid_sz=-1.0, ask_px=2.0, ask_sz=1.0),  # type: ignore[arg-type]
    Mark(**BASE, mark_px=-3.0),  # type: ignore[arg-type]
    Mark(**BASE, mark_px=3.0, index_px=0.0),  # type: ignore[arg-type]
    Funding(**BASE, rate=math.nan, interval_h=8, rate_per_hour=0.0),  # type: ignore[arg-type]
    Funding(**BASE, rate=0.0, interval_h=0, rate_per_hour=0.0),  # type: ignore[arg-type]
    BookSnapshot("BTC", [(-5.0, 1.0)], []),
    BookSnapshot("BTC", [], [(5.0, math.nan)]),
    BookDelta("BTC", [(5.0, -1.0)], []),  # absolute sizes cannot be negative
    BookDelta("BTC", [(5.0, math.inf)], [], sizes_are_changes=True),
    # the delta check compares against the infinities instead of calling isfinite: every
    # non-finite value on either side, absolute or as a change, must still fail
    BookDelta("BTC", [(5.0, -math.inf)], [], sizes_are_changes=True),
    BookDelta("BTC", [(5.0, math.nan)], [], sizes_are_changes=True),
    BookDelta("BTC", [], [(math.inf, 1.0)]),
    BookDelta("BTC", [], [(math.nan, 1.0)]),
    BookDelta("BTC", [], [(-math.inf, 1.0)]),
    BookDelta("BTC", [], [(0.0, 1.0)]),
    BookDelta("BTC", [], [(5.0, math.inf)]),
    BookDelta("BTC", [], [(5.0, math.nan)]),
    BookDelta("BTC", [(1.0, 1.0)], [(5.0, -0.5)]),
]


def test_possible_values_pass():
    check_results(GOOD)


@pytest.mark.parametrize("item", BAD, ids=lambda i: type(i).__name__)
def test_each_impossible_value_is_rejected(item: object):
    with pytest.raises(ImpossibleValue):
        check_results([*GOOD, item])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "item", [i for i in BAD if isinstance(i, BookDelta)], ids=lambda i: repr(i.bids + i.asks)
)
def test_the_read_loop_leaves_a_deltas_levels_to_the_book_keeper(item: BookDelta):
    """`delta_levels=False`: the keeper checks each level as it applies it (test_books)."""
    check_results([*GOOD, item], delta_levels=False)
    with pytest.raises(ImpossibleValue, match="level"):
        check_results([item])


def test_a_delta_about_an_instrument_not_streamed_is_refused_either_way():
    delta = BookDelta("DOGE", [(1.0, 1.0)], [])
    for delta_levels in (True, False):
        with pytest.raises(UnknownFrame, match="'DOGE', which is not streamed"):
            check_results([delta], {"BTC"}, delta_levels=delta_levels)
    check_results([delta], {"DOGE"}, delta_levels=False)
