"""The garbage collector, set for a feed: no long pauses while an engine runs.

A feed allocates all the time (frames, events, level lists). With CPython's defaults a
full collection now and then traverses every object alive since start-up (modules,
settings models, plugin tables) and pauses the event loop for tens of milliseconds.
Measured with `make bench`'s latency row (five simulated venues x 10 symbols, 10.5k
frames/s, engine and simulator on separate cores, 20 s, two runs each):

    collector                         p99 ms   p99.9 ms   longest pause
    defaults                          0.58     0.9-1.1    24 ms (a full collection)
    start-up frozen, threshold 700    0.55     0.8-0.9    9.4 ms
    start-up frozen, threshold 5000   0.56     0.8        4.7 ms
    start-up frozen, threshold 20000  0.56     1.0-2.0    3.7 ms (fewer, longer)

so an engine freezes what exists when it starts (`gc.freeze`: never traversed again) and
raises the generation-0 threshold to `[engine] gc_threshold` (5,000; 0 leaves the
collector alone). The first engine of a process applies it, the last one to stop
restores what it found. Nothing is collected eagerly: freezing is free, a collection is
not.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass


@dataclass
class _Held:
    holders: int = 0
    threshold: tuple[int, int, int] = (700, 10, 10)
    froze: bool = False


_held = _Held()


def hold(threshold0: int) -> bool:
    """Apply the feed's settings (unless `threshold0` is 0); True if this call holds them
    and must `release()` later."""
    if threshold0 <= 0:
        return False
    if _held.holders == 0:
        _held.threshold = gc.get_threshold()
        _, gen1, gen2 = _held.threshold
        gc.set_threshold(max(threshold0, _held.threshold[0]), gen1, gen2)
        # what lives now lives for the process: never traverse it again. A freeze made
        # by the application itself is left as it is (and not undone by `release`)
        _held.froze = gc.get_freeze_count() == 0
        if _held.froze:
            gc.freeze()
    _held.holders += 1
    return True


def release() -> None:
    """The last holder gives back the collector as `hold` found it."""
    if _held.holders == 0:
        raise RuntimeError("gctune.release() without hold()")
    _held.holders -= 1
    if _held.holders == 0:
        gc.set_threshold(*_held.threshold)
        if _held.froze:
            gc.unfreeze()
            _held.froze = False
