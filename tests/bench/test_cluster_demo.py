"""`make cluster-demo`, short: a three-node NATS cluster, `venuefeed sim`, one shard run by
two engines and a tail; one engine and one NATS node SIGKILLed midway. Every trade of the
window must reach the tail exactly once (the accounting itself is pinned, with broken
inputs, in test_cluster_accounting.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cluster_demo import Demo


def logs_of(work: Path) -> str:
    """The tail of every process's log, for a failure message."""
    return "".join(f"\n== {p.name}\n{p.read_text()[-1500:]}" for p in work.glob("*.log"))


@pytest.mark.timeout(90)
async def test_a_short_cluster_demo_loses_and_duplicates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    demo = Demo(tmp_path, duration_s=4.0, drain_s=10.0, nodes=3, shards=1, venues="hyperliquid")
    try:
        code = await demo.run()
    finally:
        await demo.procs.close()
    out = capsys.readouterr().out
    assert code == 0, out + logs_of(tmp_path)
    assert "ok: every trade of the window exactly once" in out
    row = next(line for line in out.splitlines() if line.startswith("hyperliquid"))
    sent, received, _, duplicates, lost = (int(x) for x in row.split()[1:6])
    assert sent > 0 and received == sent and duplicates == lost == 0
    assert all(proc.returncode is not None for proc in demo.procs.running.values())
