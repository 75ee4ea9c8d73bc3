"""Recording raw venue traffic, and replaying it through the engine (issue 11).

format.py     the recording format (versioned JSON lines in zstd files)
writer.py     the writer thread: bounded queue, gap marks, rotation, size cap
recorder.py   `Recorder`: the tap on each venue's link and REST client
reader.py     reading a recording: files, venue set-ups, traffic
tape.py       the replay's sequencer: records out one at a time, in recorded order
replay_io.py  the replay's link, REST client and clock
replay.py     `Replay` and `replay_events()`: the engine over a recording
compare.py    did a replay give what the live run gave?
"""

from __future__ import annotations

from venuefeed.record.recorder import Recorder
from venuefeed.record.replay import Replay, ReplayResult, replay_events

__all__ = ["Recorder", "Replay", "ReplayResult", "replay_events"]
