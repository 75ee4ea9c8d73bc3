"""Keeping a measured client and the feed it reads on separate cores.

On a 2-core machine, left to the scheduler, the client and the feed server sometimes
share one core for part of a run: the same code measured 0.46x and 0.82x bare in one
session. Apart, each has a core of its own, run after run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def apart() -> tuple[set[int], set[int]] | None:
    """(the client's cores, the server's), apart, where this machine allows it."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None
    return {cores[0]}, set(cores[1:])


@contextmanager
def pinned(server_pid: int | None) -> Iterator[bool]:
    """This process and the server apart for the block (yields whether they are); this
    process gets its cores back after."""
    split = apart()
    if split is None or server_pid is None:
        yield False
        return
    before = os.sched_getaffinity(0)
    client, server = split
    os.sched_setaffinity(server_pid, server)
    os.sched_setaffinity(0, client)
    try:
        yield True
    finally:
        os.sched_setaffinity(0, before)
