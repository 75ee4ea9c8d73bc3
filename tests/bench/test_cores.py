"""The bench keeps its client and the feed server apart, and gives the client its cores
back: a bench that left its own process on one core would measure the latency rows (run
after the throughput rows) on half the machine."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.cores import apart, pinned

pytestmark = pytest.mark.skipif(apart() is None, reason="needs 2 cores and sched_setaffinity")


def test_client_and_server_apart_then_restored() -> None:
    before = os.sched_getaffinity(0)
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pinned(server.pid) as split:
            assert split
            mine, its = os.sched_getaffinity(0), os.sched_getaffinity(server.pid)
            assert mine and its and not mine & its
        assert os.sched_getaffinity(0) == before
    finally:
        server.kill()
        server.wait(10)


def test_restored_when_the_block_fails() -> None:
    before = os.sched_getaffinity(0)
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(RuntimeError), pinned(server.pid):
            raise RuntimeError("a bench row failed")
        assert os.sched_getaffinity(0) == before
    finally:
        server.kill()
        server.wait(10)


def test_no_server_no_pinning() -> None:
    before = os.sched_getaffinity(0)
    with pinned(None) as split:
        assert not split
        assert os.sched_getaffinity(0) == before
