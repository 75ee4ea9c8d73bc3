"""Checked-in recordings replayed through their adapter: a parser, book or trade change
that alters what a recorded session gives fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from recordings import as_dicts, load_outcome, replay_recording

from venuefeed.record.compare import differences, outcome

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(("recording", "venue"), [("sim-hyperliquid", "hyperliquid")])
async def test_a_recorded_session_still_gives_what_it_gave(recording: str, venue: str):
    result = await replay_recording(DATA / recording, venues=[venue])
    assert result.skipped == {} and result.gaps == 0
    expected = load_outcome(DATA / f"{recording}.expected.json")
    assert expected.trades  # the case holds something to check
    assert differences(expected, outcome(as_dicts(result))) == []
