"""The sink's reading of JetStream's answers, one answer at a time (no server needed for
answers a single-node server never gives, like a clustered stream's 10158)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgspec

from venuefeed.core.bus_settings import NatsSettings
from venuefeed.core.observe.metrics import Metrics
from venuefeed.sinks.nats import NatsSink, _Pending


@dataclass
class Reply:
    subject: str
    data: bytes
    headers: dict[str, str] | None = None


def answer(**fields: object) -> Reply:
    return Reply(".1", msgspec.json.encode(fields))


async def test_duplicate_id_in_process_is_asked_again_not_dropped():
    """On a clustered stream, the second engine's copy of a trade is answered 409/10158
    while the first copy replicates; if that first copy never lands (its engine was
    SIGKILLed, a leader changed), dropping ours would lose the trade."""
    metrics = Metrics()
    sink = NatsSink("nats://127.0.0.1:4222", NatsSettings(), metrics)
    pending = _Pending("venuefeed.trade.aster.BTC", b"{}", {"Nats-Msg-Id": "t:a:B:1"}, "trade")
    pending.sent = True
    sink._unacked[1] = pending
    before = time.monotonic()
    in_process = {
        "code": 409,
        "err_code": 10158,
        "description": "duplicate message id is in process",
    }
    await sink._on_reply(answer(error=in_process))
    assert sink._unacked == {1: pending} and pending.due > before  # sent again shortly
    assert metrics.value("nats_rejected", sink=sink.name, kind="trade") == 0

    await sink._on_reply(answer(stream="H", seq=7, duplicate=True))
    assert sink._unacked == {}
    assert metrics.value("nats_duplicates", sink=sink.name, kind="trade") == 1


async def test_a_real_refusal_is_dropped_and_counted():
    metrics = Metrics()
    sink = NatsSink("nats://127.0.0.1:4222", NatsSettings(), metrics)
    sink._unacked[1] = _Pending("venuefeed.trade.aster.BTC", b"{}", None, "trade")
    await sink._on_reply(answer(error={"code": 400, "err_code": 10054, "description": "too big"}))
    assert sink._unacked == {}
    assert metrics.value("nats_rejected", sink=sink.name, kind="trade") == 1
