"""The conformance kit must fail adapters that get trades wrong: a kit that passes a
broken plugin is a defect. Each broken adapter wraps the real Hyperliquid one."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import pytest

from venuefeed.core.adapter import Parsed
from venuefeed.core.events import Trade
from venuefeed.plugins.hyperliquid import sim as hyperliquid_sim
from venuefeed.plugins.hyperliquid.adapter import HyperliquidAdapter
from venuefeed.testing import check_fault


class DropsEveryFifthTrade(HyperliquidAdapter):
    seen = 0

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        out = []
        for item in super().parse(frame, recv_ms):
            if isinstance(item, Trade):
                self.seen += 1
                if self.seen % 5 == 0:
                    continue
            out.append(item)
        return out


class SwapsTheSide(HyperliquidAdapter):
    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        return [
            msgspec.structs.replace(i, side="sell" if i.side == "buy" else "buy")
            if isinstance(i, Trade)
            else i
            for i in super().parse(frame, recv_ms)
        ]


class Reorders(HyperliquidAdapter):
    """Swaps consecutive trade frames of one symbol: the later trades come first."""

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        held: dict[str, list[Parsed]] = self.__dict__.setdefault("held", {})
        items = list(super().parse(frame, recv_ms))
        trades = [i for i in items if isinstance(i, Trade)]
        if not trades:
            return items
        rest = [i for i in items if not isinstance(i, Trade)]
        symbol = trades[0].symbol
        earlier = held.pop(symbol, None)
        if earlier is None:
            held[symbol] = list(trades)
            return rest
        return [*rest, *trades, *earlier]  # newer trades before the held older ones


class RepeatsEveryTrade(HyperliquidAdapter):
    """Sends every trade twice: the core's trade memory must publish each once."""

    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        items = list(super().parse(frame, recv_ms))
        return [*items, *(i for i in items if isinstance(i, Trade))]


async def test_the_core_publishes_a_repeated_trade_once():
    result = await check_fault(RepeatsEveryTrade, "none")
    ids = [(t.symbol, t.trade_id) for t in result.received]
    assert len(ids) == len(set(ids)) >= 12


class DropsEveryTrade(HyperliquidAdapter):
    def parse(self, frame: str | bytes, recv_ms: int) -> Sequence[Parsed]:
        return [i for i in super().parse(frame, recv_ms) if not isinstance(i, Trade)]


@pytest.mark.parametrize(
    ("broken", "needle"),
    [
        (DropsEveryFifthTrade, "trades lost"),
        (SwapsTheSide, "the venue sent"),
        (Reorders, "out of order or twice"),
        (DropsEveryTrade, "trades are not flowing"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else v,
)
async def test_the_kit_fails_a_broken_adapter(
    broken: type[HyperliquidAdapter], needle: str, monkeypatch: pytest.MonkeyPatch
):
    # Hyperliquid serves as a plain venue here: without its replay on subscribe, a reconnect
    # a loaded machine may cause cannot hand the broken adapter the trades it dropped again
    monkeypatch.setattr(hyperliquid_sim, "REPLAY_TRADES", 0)
    with pytest.raises(AssertionError, match=needle):
        await check_fault(broken, "none", within=4.0)


async def test_the_kit_passes_the_real_adapter():
    result = await check_fault(HyperliquidAdapter, "none")
    assert len(result.received) >= 2 * 2 * 3  # two symbols, before and after, 3 each
