"""Sharding is a pure function: every pair once for N = 1..8, stable when pairs or
shards are added."""

from __future__ import annotations

import pytest

from venuefeed.core.sharding import Shard, assignment, owned_symbols, parse_shard, shard_of

VENUES = ("aster", "extended", "hyperliquid", "lighter", "paradex")
SYMBOLS = (*(f"S{i}" for i in range(40)), "BTC", "ETH", "SOL", "BTC-USD-PERP", "1")
UNIVERSE = {venue: SYMBOLS for venue in VENUES}


def pairs_of(parts: list[dict[str, tuple[str, ...]]]) -> list[tuple[str, str]]:
    return [(v, s) for part in parts for v, symbols in part.items() for s in symbols]


@pytest.mark.parametrize("count", range(1, 9))
def test_every_pair_is_assigned_exactly_once(count: int):
    parts = [assignment(UNIVERSE, Shard(i, count)) for i in range(1, count + 1)]
    pairs = pairs_of(parts)
    universe = [(v, s) for v in VENUES for s in SYMBOLS]
    assert sorted(pairs) == sorted(universe)  # no gap, no overlap
    assert len(pairs) == len(set(pairs))
    sizes = [sum(len(s) for s in part.values()) for part in parts]
    assert min(sizes) >= len(universe) / count / 2  # roughly balanced at this size


def test_adding_a_symbol_moves_no_other_pair():
    for count in range(2, 9):
        before = {(v, s): shard_of(v, s, count) for v in VENUES for s in SYMBOLS}
        grown = {v: (*SYMBOLS[:5], "NEW", *SYMBOLS[5:]) for v in VENUES}
        for v, symbols in grown.items():
            for s in symbols:
                if s != "NEW":
                    assert shard_of(v, s, count) == before[(v, s)]
        parts = [assignment(grown, Shard(i, count)) for i in range(1, count + 1)]
        assert len(pairs_of(parts)) == len(VENUES) * (len(SYMBOLS) + 1)


def test_one_more_shard_moves_pairs_only_to_the_new_shard():
    for count in range(1, 8):
        for v in VENUES:
            for s in SYMBOLS:
                old, new = shard_of(v, s, count), shard_of(v, s, count + 1)
                assert new in (old, count + 1)


def test_the_assignment_is_stable_across_processes():
    # pinned values: a change of hash would silently reshuffle every deployment
    symbols = ("BTC", "ETH", "SOL", "DOGE", "XRP", "AVAX")
    assert [shard_of("hyperliquid", s, 3) for s in symbols] == [2, 3, 1, 3, 3, 1]


def test_owned_symbols_keeps_the_configured_order_and_no_shard_means_all():
    assert owned_symbols("aster", SYMBOLS, None) == SYMBOLS
    assert owned_symbols("aster", SYMBOLS, Shard(1, 1)) == SYMBOLS
    owned = owned_symbols("aster", SYMBOLS, Shard(2, 3))
    assert list(owned) == [s for s in SYMBOLS if s in owned]


@pytest.mark.parametrize(
    ("spec", "shard"), [("1/1", Shard(1, 1)), ("2/3", Shard(2, 3)), (" 8/8 ", Shard(8, 8))]
)
def test_parse_shard(spec: str, shard: Shard):
    assert parse_shard(spec) == shard
    assert str(shard) == spec.strip()


@pytest.mark.parametrize("spec", ["0/3", "4/3", "1/0", "a/b", "1", "1/", "/3", "-1/3", "1/2000"])
def test_bad_shard_specs_are_refused(spec: str):
    with pytest.raises(ValueError, match=r"I/N|between"):
        parse_shard(spec)
