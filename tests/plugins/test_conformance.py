"""The conformance kit (venuefeed.testing) run on every built-in plugin with a simulator."""

from __future__ import annotations

import pytest

from venuefeed.core.plugins import PluginHost
from venuefeed.testing import FAULTS, RESETTING, check_fault

HOST = PluginHost(load_entry_points=False)
SIMULATED = sorted(name for name, reg in HOST.venues.items() if reg.adapter.simulator)

#: venues whose simulator, like the venue, replays recent trades on every trade subscribe,
#: and the faults after which the engine subscribes again. Until the core drops the trades
#: it already published (issue 10: `VenueAdapter.trade_identity`, a bounded window per
#: instrument), the replay publishes them twice and the kit rightly fails the case. Remove
#: this once the core deduplicates: the cases must then pass.
REPLAYING = frozenset({"hyperliquid", "lighter"})
RESUBSCRIBING = RESETTING | {"stall", "total_stall"}


def _case(venue: str, fault: str) -> object:
    if venue in REPLAYING and fault in RESUBSCRIBING:
        reason = "a replay after a reconnect is published twice until the core deduplicates"
        return pytest.param(venue, fault, marks=pytest.mark.xfail(reason=reason, strict=False))
    return pytest.param(venue, fault)


@pytest.mark.parametrize(("venue", "fault"), [_case(v, f) for v in SIMULATED for f in FAULTS])
async def test_conformance(venue: str, fault: str):
    result = await check_fault(HOST.adapter(venue), fault)
    assert result.books > 0
