"""A synthetic market per symbol: a moving book, numbered trades, funding and mark.

Deterministic for a seed, so a test or a soak run can compare what the engine published
against the truth: `book_top()` is the true book at any moment and every trade has a
sequential id, so the receiver can detect loss.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

_BASE_PRICE = {"BTC": 65_000.0, "ETH": 3_500.0, "SOL": 150.0}


#: trades a market remembers (for REST backfill answers, the soak report and `venuefeed sim
#: --trades`): hours of trading at the simulator's rate, and bounded memory past that
KEPT_TRADES = 200_000


@dataclass(frozen=True, slots=True)
class SimTrade:
    trade_id: int
    price: float
    size: float
    side: str  # taker side: "buy" or "sell"
    ts_ms: int


@dataclass(frozen=True, slots=True)
class MarketUpdate:
    """What one step changed. Sizes are absolute; 0 removes the level."""

    symbol: str
    update_id: int  # this update's id; ids increase by exactly 1 per update
    ts_ms: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    trades: list[SimTrade]


@dataclass
class SyntheticMarket:
    symbol: str
    seed: int = 1
    levels: int = 40
    bids: dict[float, float] = field(default_factory=dict)
    asks: dict[float, float] = field(default_factory=dict)
    update_id: int = 0
    trade_id: int = 0
    funding_rate_1h: float = 0.0000125
    mark: float = 0.0
    index: float = 0.0
    #: trade id -> ts_ms, for loss accounting in the soak report (the last KEPT_TRADES)
    trade_times: dict[int, int] = field(default_factory=dict)
    #: trade id -> the trade, so a receiver can check what it got against the truth
    trades: dict[int, SimTrade] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"{self.symbol}:{self.seed}")
        base = _BASE_PRICE.get(self.symbol, 100.0)
        self.tick = round(base / 100_000, 6) or 0.01
        mid = round(base / self.tick) * self.tick
        for i in range(1, self.levels + 1):
            self.bids[self._px(mid - i * self.tick)] = self._size()
            self.asks[self._px(mid + i * self.tick)] = self._size()
        self.mark = self.index = mid

    def _px(self, price: float) -> float:
        return round(round(price / self.tick) * self.tick, 8)

    def _size(self) -> float:
        return round(self._rng.uniform(0.01, 5.0), 4)

    def best_bid(self) -> float:
        return max(self.bids)

    def best_ask(self) -> float:
        return min(self.asks)

    def book_top(self, depth: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return bids, asks

    def step(self, now_ms: int) -> MarketUpdate:
        """Advance one update: a few level changes, sometimes a trade, a drifting mark."""
        rng = self._rng
        bid_changes: dict[float, float] = {}
        ask_changes: dict[float, float] = {}
        trades: list[SimTrade] = []
        for _ in range(rng.randint(1, 3)):
            side, changes = (
                (self.bids, bid_changes) if rng.random() < 0.5 else (self.asks, ask_changes)
            )
            roll = rng.random()
            px = rng.choice(list(side))
            if roll < 0.6 or len(side) <= self.levels // 2:
                side[px] = changes[px] = self._size()
            elif roll < 0.8:
                del side[px]
                changes[px] = 0.0
            else:  # a new level just outside the current range
                edge = max(side) if side is self.asks else min(side)
                new = self._px(edge + self.tick if side is self.asks else edge - self.tick)
                side[new] = changes[new] = self._size()
        if rng.random() < 0.3:
            trades.append(self._trade(rng, now_ms, bid_changes, ask_changes))
        if rng.random() < 0.1:
            self.funding_rate_1h = round(self.funding_rate_1h + rng.uniform(-1e-6, 1e-6), 10)
        mid = (self.best_bid() + self.best_ask()) / 2
        self.mark = round(mid + rng.uniform(-self.tick, self.tick), 8)
        self.index = round(mid + rng.uniform(-2 * self.tick, 2 * self.tick), 8)
        self.update_id += 1
        return MarketUpdate(
            symbol=self.symbol,
            update_id=self.update_id,
            ts_ms=now_ms,
            bids=sorted(bid_changes.items(), reverse=True),
            asks=sorted(ask_changes.items()),
            trades=trades,
        )

    def _trade(
        self,
        rng: random.Random,
        now_ms: int,
        bid_changes: dict[float, float],
        ask_changes: dict[float, float],
    ) -> SimTrade:
        buy = rng.random() < 0.5
        side, changes = (self.asks, ask_changes) if buy else (self.bids, bid_changes)
        px = min(side) if buy else max(side)
        size = round(min(side[px], rng.uniform(0.001, 0.5)), 4) or 0.001
        remaining = round(side[px] - size, 4)
        if remaining > 0 or len(side) <= 2:
            side[px] = changes[px] = max(remaining, 0.001)
        else:
            del side[px]
            changes[px] = 0.0
        self.trade_id += 1
        self.trade_times[self.trade_id] = now_ms
        trade = SimTrade(self.trade_id, px, size, "buy" if buy else "sell", now_ms)
        self.trades[self.trade_id] = trade
        if len(self.trades) > KEPT_TRADES:  # a simulator left running for days stays bounded
            oldest = next(iter(self.trades))
            del self.trades[oldest]
            self.trade_times.pop(oldest, None)
        return trade
