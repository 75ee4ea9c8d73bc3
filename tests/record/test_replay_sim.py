"""Record the five simulated venues, replay the recording: the same trades (venue,
symbol, id, price, size, side) and the same last book per instrument, and nothing of
the recording left unplayed. A replay that misses one frame must be caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from recordings import VENUES, as_dicts, mismatch, record_sim, replay_recording

from venuefeed.record.compare import outcome, read_jsonl
from venuefeed.record.format import Record, Recv, decoder, encoder
from venuefeed.record.reader import recording_files, traffic


async def test_a_replay_gives_the_live_trades_and_books_of_every_venue(tmp_path: Path):
    live = await record_sim(tmp_path / "rec", VENUES, trades=10)
    result = await replay_recording(tmp_path / "rec")
    assert result.skipped == {} and result.gaps == 0
    replayed = as_dicts(result)
    assert mismatch(live, replayed) == []
    seen = outcome(replayed)
    assert {venue for venue, *_ in seen.trades} == set(VENUES)
    assert len(seen.books) == 2 * len(VENUES)  # BTC and ETH on each
    # replayed events carry the live run's receive times
    live_trades = {(e["venue"], e["trade_id"]): e["ts_recv"] for e in live if e["kind"] == "trade"}
    replayed_trades = {
        (e["venue"], e["trade_id"]): e["ts_recv"] for e in replayed if e["kind"] == "trade"
    }
    assert replayed_trades == live_trades


def _without_one_trade_frame(source: Path, target: Path) -> None:
    """A copy of the recording with the first Hyperliquid trades frame left out."""
    target.mkdir()
    dropped = False
    for path in recording_files(source):
        with open(path, "rb") as raw:
            text = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True).read()
        kept: list[Record] = []
        for line in text.splitlines():
            record = decoder.decode(line)
            if (
                not dropped
                and isinstance(record, Recv)
                and record.venue == "hyperliquid"
                and '"channel":"trades"' in (record.text or "")
                and '"tid"' in (record.text or "")
            ):
                dropped = True
                continue
            kept.append(record)
        (target / path.name).write_bytes(
            zstandard.ZstdCompressor().compress(encoder.encode_lines(kept))
        )
    assert dropped


async def test_a_replay_that_misses_one_frame_is_caught(tmp_path: Path):
    live = await record_sim(tmp_path / "rec", ["hyperliquid"], trades=15, symbols=["BTC"])
    _without_one_trade_frame(tmp_path / "rec", tmp_path / "cut")
    result = await replay_recording(tmp_path / "cut")
    problems = mismatch(live, as_dicts(result))
    assert problems and "live trades not replayed" in problems[0]


@pytest.mark.timeout(180)
def test_the_cli_replays_a_recording_made_under_chaos(tmp_path: Path):
    """`run --sim --chaos ... --record DIR --sink jsonl:live` then `replay DIR --sink
    jsonl:replay`: equal outcomes, with faults (bad frames, gaps, duplicates,
    disconnects, failing REST) injected every second or so on every venue."""
    profile = tmp_path / "chaos.toml"
    profile.write_text(
        "[profiles.quick]\ninterval_s = 0.8\n"
        'faults = ["disconnect", "malformed", "binary", "unknown", "gap", "duplicate", '
        '"rest_failures"]\n'
    )
    venuefeed = [sys.executable, "-m", "venuefeed"]
    live, replayed, rec = tmp_path / "live.jsonl", tmp_path / "replay.jsonl", tmp_path / "rec"
    run = subprocess.run(
        [
            *venuefeed,
            "run",
            "--sim",
            "--chaos",
            "quick",
            "--chaos-file",
            str(profile),
            "--duration",
            "4",
            "--no-tui",
            "--record",
            str(rec),
            "--sink",
            f"jsonl:{live}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,  # the packaged configuration: every built-in venue
    )
    assert "chaos:" in run.stderr, run.stderr[-2000:]
    assert run.returncode in (0, 1), run.stderr[-2000:]  # 1: the soak judged a venue
    replay = subprocess.run(
        [*venuefeed, "replay", str(rec), "--speed", "max", "--sink", f"jsonl:{replayed}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=tmp_path,
    )
    assert "skipped: none" in replay.stderr, replay.stderr[-2000:]
    assert mismatch(read_jsonl(live), read_jsonl(replayed)) == []
    shutil.rmtree(rec)


async def test_a_recording_whose_oldest_file_was_deleted_still_replays(tmp_path: Path):
    """`--record-max-mb` deletes the oldest files: every file opens with the venues'
    start-up answers, and a session the recording starts inside opens at its first frame,
    so the trades of the files kept come back."""
    rec = tmp_path / "rec"
    live = await record_sim(rec, ["hyperliquid", "aster"], trades=40, rotate_mb=0.01)
    files = recording_files(rec)
    assert len(files) >= 2
    files[0].unlink()
    kept_from_ms = next(
        r.ns // 1_000_000 for r in traffic(rec) if isinstance(r, Recv)
    )  # the first frame kept
    result = await replay_recording(rec)
    replayed = outcome(as_dicts(result)).trades
    recorded = outcome(live).trades
    later = outcome(e for e in live if e["ts_recv"] > kept_from_ms).trades
    assert later and later <= replayed <= recorded
    assert {venue for venue, *_ in replayed} == {"hyperliquid", "aster"}
