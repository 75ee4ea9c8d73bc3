"""Checked-in recordings replayed through their adapter: a parser, book or trade change
that alters what a recorded session gives fails here."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from recordings import as_dicts, load_outcome, replay_recording

from venuefeed.record import replay_events
from venuefeed.record.compare import differences, outcome, read_jsonl

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(("recording", "venue"), [("sim-hyperliquid", "hyperliquid")])
async def test_a_recorded_session_still_gives_what_it_gave(recording: str, venue: str):
    result = await replay_recording(DATA / recording, venues=[venue])
    assert result.skipped == {} and result.gaps == 0
    expected = load_outcome(DATA / f"{recording}.expected.json")
    assert expected.trades  # the case holds something to check
    assert differences(expected, outcome(as_dicts(result))) == []


async def test_to_stops_the_tape_and_speed_paces_it():
    path = DATA / "sim-hyperliquid"
    whole = await replay_recording(path)
    stamps = sorted(e.ts_recv for e in whole.events if e.kind == "trade")
    middle = stamps[len(stamps) // 2]
    cut = await replay_events(path, to_ms=middle)
    assert {e.ts_recv for e in cut.events if e.kind == "trade"} == {
        s for s in stamps if s <= middle
    }
    span_s = (stamps[-1] - stamps[0]) / 1000
    loop = asyncio.get_running_loop()
    started = loop.time()
    await replay_events(path, speed=4.0)
    assert loop.time() - started >= 0.9 * span_s / 4  # never faster than asked


def test_from_publishes_only_what_was_received_from_then_on(tmp_path: Path):
    path = DATA / "sim-hyperliquid"
    expected = load_outcome(DATA / "sim-hyperliquid.expected.json")
    out = tmp_path / "from.jsonl"
    venuefeed = [sys.executable, "-m", "venuefeed"]
    subprocess.run(
        [*venuefeed, "replay", str(path), "--sink", f"jsonl:{out}"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    everything = read_jsonl(out)
    stamps = sorted(e["ts_recv"] for e in everything if e["kind"] == "trade")
    middle = stamps[len(stamps) // 2]
    out.unlink()
    subprocess.run(
        [*venuefeed, "replay", str(path), "--from", str(middle), "--sink", f"jsonl:{out}"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    later = read_jsonl(out)
    assert later and all(e["ts_recv"] >= middle for e in later)
    trade_ids = {e["trade_id"] for e in later if e["kind"] == "trade"}
    assert trade_ids == {
        e["trade_id"] for e in everything if e["kind"] == "trade" and e["ts_recv"] >= middle
    }
    assert outcome(later).books == expected.books  # the books were whole at --from
