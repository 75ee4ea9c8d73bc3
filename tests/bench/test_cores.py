"""The bench keeps its client and the feed server apart, and gives the client its cores
back: a bench that left its own process on one core would measure the latency rows (run
after the throughput rows) on half the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench.cores import apart, pinned

pytestmark = pytest.mark.skipif(apart() is None, reason="needs 2 cores and sched_setaffinity")


@pytest.fixture
def server() -> Iterator[int]:
    """The pid of a process standing in for the feed server."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        yield process.pid
    finally:
        process.kill()
        process.wait(10)


def test_client_and_server_apart_then_restored(server: int) -> None:
    before = os.sched_getaffinity(0)
    with pinned(server) as split:
        assert split
        mine, its = os.sched_getaffinity(0), os.sched_getaffinity(server)
        assert mine and its and not mine & its
    assert os.sched_getaffinity(0) == before


def test_restored_when_the_block_fails(server: int) -> None:
    before = os.sched_getaffinity(0)
    with pytest.raises(RuntimeError), pinned(server):
        raise RuntimeError("a bench row failed")
    assert os.sched_getaffinity(0) == before


def test_no_server_no_pinning() -> None:
    before = os.sched_getaffinity(0)
    with pinned(None) as split:
        assert not split
        assert os.sched_getaffinity(0) == before
