"""Sharding: which (venue, symbol) pairs one engine of N takes (`--shard I/N`).

Rendezvous (highest-random-weight) hashing: each pair scores every shard with a stable
hash of (venue, symbol, shard) and goes to the shard with the highest score. Chosen over
sorted-index modulo because a pair's shard depends on that pair and N alone, never on
the rest of the universe:

- adding or removing a symbol moves no other pair (modulo over a sorted list would shift
  every pair after the insertion point);
- going from N to N+1 shards moves only the pairs the new shard wins, about 1/(N+1) of
  them; the rest stay where they were;
- N engines configured with the same pairs agree without talking to each other, so the
  universe is split with no overlap and no gap.

The hash is BLAKE2b (not Python's `hash()`, which is salted per process). Shards are
numbered from 1 (`1/3`, `2/3`, `3/3`), like the "node i of N" of CI runners. A small
universe can leave a shard with few or no pairs: hashing balances on average, not exactly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

MAX_SHARDS = 1024


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard `index` (1-based) of `count`."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(spec: str) -> Shard:
    """`"2/3"` -> Shard(2, 3). Raises ValueError with what is allowed."""
    index, sep, count = spec.strip().partition("/")
    if not sep or not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"expected I/N with 1 <= I <= N (e.g. 1/3), got {spec!r}")
    shard = Shard(int(index), int(count))
    if not 1 <= shard.count <= MAX_SHARDS:
        raise ValueError(f"N must be between 1 and {MAX_SHARDS}, got {spec!r}")
    if not 1 <= shard.index <= shard.count:
        raise ValueError(f"I must be between 1 and N, got {spec!r}")
    return shard


def _score(venue: str, symbol: str, index: int) -> int:
    key = f"{venue}\x00{symbol}\x00{index}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def shard_of(venue: str, symbol: str, count: int) -> int:
    """The shard (1-based) that owns (venue, symbol) among `count` shards."""
    if count == 1:
        return 1
    # ties (astronomically rare) go to the lowest index, deterministically
    return max(range(1, count + 1), key=lambda i: (_score(venue, symbol, i), -i))


def owned_symbols(venue: str, symbols: Iterable[str], shard: Shard | None) -> tuple[str, ...]:
    """The symbols of `venue` this shard owns, in their configured order."""
    if shard is None or shard.count == 1:
        return tuple(symbols)
    return tuple(s for s in symbols if shard_of(venue, s, shard.count) == shard.index)


def assignment(universe: Mapping[str, Sequence[str]], shard: Shard) -> dict[str, tuple[str, ...]]:
    """Venue -> the symbols this shard owns (venues with none left out)."""
    out: dict[str, tuple[str, ...]] = {}
    for venue, symbols in universe.items():
        owned = owned_symbols(venue, symbols, shard)
        if owned:
            out[venue] = owned
    return out
