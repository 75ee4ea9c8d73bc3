"""The conformance kit (venuefeed.testing) run on every built-in plugin with a simulator."""

from __future__ import annotations

import pytest

from venuefeed.core.plugins import PluginHost
from venuefeed.testing import FAULTS, check_fault

HOST = PluginHost(load_entry_points=False)
SIMULATED = sorted(name for name, reg in HOST.venues.items() if reg.adapter.simulator)


@pytest.mark.parametrize(("venue", "fault"), [(v, f) for v in SIMULATED for f in FAULTS])
async def test_conformance(venue: str, fault: str):
    result = await check_fault(HOST.adapter(venue), fault)
    assert result.books > 0
