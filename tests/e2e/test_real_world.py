"""Where the engine meets real links, real consumers and real venues (issue 8).

Each test here failed on the engine as it was before: REST bodies in pieces, a consumer
that stops reading, a consumer that closes, deep nesting, slow snapshots, Retry-After,
quiet sockets that stall, swallowed subscribes, impossible numbers, many sockets, and
the engine's own start/stop lifecycle.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from typing import Any

import pytest

from venuefeed.core.engine import Engine
from venuefeed.core.errors import ConfigError, ConsumerClosedError
from venuefeed.core.events import Book, Event, Funding, Status, Trade


def status(state: str, stream: str | None = None):
    return lambda e: (
        isinstance(e, Status) and e.state == state and (stream is None or e.stream == stream)
    )


def book(instrument: str | None = None):
    return lambda e: isinstance(e, Book) and (instrument is None or e.instrument == instrument)


async def test_rest_bodies_arriving_in_pieces_are_read_whole(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    venue.rest_piece_bytes = 512  # the listing is ~4 KB: eight pieces, 10 ms apart
    async with engine_for(base, options={"init": True}) as engine:
        sub = engine.events()
        funding = await next_matching(sub, lambda e: isinstance(e, Funding))
        await next_matching(sub, book())
    assert funding.rate == 0.0008
    assert venue.markets_calls == 1  # init succeeded the first time
    assert engine.metrics.value("init_failures") == 0
    assert engine.metrics.value("poll_failures") == 0


async def test_a_consumer_that_stops_reading_costs_the_others_nothing(
    fake_venue, engine_for, next_matching
):
    """1,000 trades/s for 10 s, queue_max 1,000: one consumer never reads after the first
    event, the other receives every trade in order; no stale, no reconnect."""
    venue, base = fake_venue
    async with engine_for(base, stale_after_s=1.0) as engine:
        stuck = engine.events("stuck", queue_max=1000)
        reader = engine.events("reader", queue_max=1000)
        await next_matching(reader, book())
        await anext(stuck)  # it read once, then stopped for good
        got: list[str] = []
        statuses: list[Status] = []

        async def read(expected: int) -> None:
            async for event in reader:
                if isinstance(event, Trade):
                    got.append(event.trade_id)
                    if len(got) == expected:
                        return
                elif isinstance(event, Status):
                    statuses.append(event)

        sent: list[str] = []

        async def produce() -> None:
            loop = asyncio.get_running_loop()
            start = loop.time()
            for n in range(10_000):
                sent.append(await venue.trade())
                # 1,000 a second, on schedule
                ahead = start + (n + 1) / 1000 - loop.time()
                if ahead > 0:
                    await asyncio.sleep(ahead)

        async with asyncio.timeout(40), asyncio.TaskGroup() as tg:
            tg.create_task(read(10_000))
            tg.create_task(produce())
        assert got == sent
        assert not [s for s in statuses if s.state in ("stale", "backoff", "connecting")]
        assert venue.connections == 1
        assert engine.metrics.value("reconnects") == 0
        # the stuck consumer holds what its policy allows and knows what it lost
        assert stuck.depth <= 1000 + 10
        assert engine.metrics.value("events_dropped", kind="trade") >= 9000


async def test_a_consumer_closing_mid_stream_crashes_nothing(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    async with engine_for(base) as engine:
        leaving = engine.events("leaving", queue_max=16)
        staying = engine.events("staying")
        await next_matching(staying, book())
        for _ in range(40):
            await venue.trade()  # fills `leaving` past its queue
        leaving.close()
        for _ in range(40):
            await venue.trade()
        await next_matching(staying, lambda e: isinstance(e, Trade) and e.trade_id == "80")
        assert engine.metrics.value("task_restarts") == 0
        assert venue.connections == 1


async def test_deeply_nested_frames_and_bodies_are_parse_errors(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    async with engine_for(base) as engine:
        sub = engine.events()
        await next_matching(sub, book())
        await venue.send("[" * 5000 + "]" * 5000)
        venue.funding = {"rate": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
        await next_matching(sub, book())
        async with asyncio.timeout(5):
            while engine.metrics.value("parse_errors", kind="MalformedFrame") < 1:
                await next_matching(sub, book())
            while engine.metrics.value("poll_failures") < 1:
                await next_matching(sub, book())
        assert engine.metrics.value("task_restarts") == 0
        assert venue.connections == 1


async def test_impossible_numbers_never_reach_a_consumer(fake_venue, engine_for, next_matching):
    venue, base = fake_venue
    async with engine_for(base) as engine:
        sub = engine.events()
        await next_matching(sub, book())
        bad = {"t": "trade", "s": "BTC-PERP", "side": "buy", "id": 1, "ts": 1}
        await venue.send({**bad, "px": "inf", "sz": 1})
        await venue.send({**bad, "px": 0, "sz": 1})
        await venue.send({**bad, "px": 1, "sz": -1})
        await venue.send({**bad, "px": "nan", "sz": 1})
        await venue.send({"t": "snap", "s": "ETH-PERP", "seq": 10**9, "b": [[-5, 1]], "a": []})
        # a delta's levels are checked by the book keeper as it applies them: the book
        # breaks and resyncs rather than publish them
        seq = venue.next_seq("BTC-PERP")
        await venue.send({"t": "delta", "s": "BTC-PERP", "seq": seq, "b": [[0, 1]], "a": []})
        good = await venue.trade()
        seen: list[Event] = []
        trade = await next_matching(sub, lambda e: isinstance(e, Trade), log=seen)
        assert trade.trade_id == good
        # inf and NaN are refused by the codec, 0 and negatives by the core's last gate
        assert engine.metrics.value("parse_errors", kind="MalformedFrame") == 2
        assert engine.metrics.value("parse_errors", kind="ImpossibleValue") == 4
        assert engine.metrics.value("book_resyncs", reason="impossible value") == 1
        assert all(not isinstance(e, Book) or all(p > 0 for p, _ in e.bids) for e in seen)


async def test_a_slow_rest_snapshot_is_fetched_once_and_never_goes_back_in_time(
    fake_venue, engine_for, next_matching, monkeypatch: pytest.MonkeyPatch
):
    """While a slow snapshot is in flight, deltas overflow the buffer: no second fetch
    starts before the first ends, and no published book is older than one before it."""
    from venuefeed.core import books

    monkeypatch.setattr(books, "MAX_BUFFERED_DELTAS", 10)
    venue, base = fake_venue
    venue.book_delay_s = 0.3  # ~30 deltas arrive meanwhile: the ring of 10 cannot bridge
    async with engine_for(base, name="fakez") as engine:
        sub = engine.events()
        seen: list[Event] = []
        await next_matching(sub, book("BTC-PERP"), log=seen)
        venue.skip("BTC-PERP")
        await next_matching(sub, status("resync"), log=seen)
        async with asyncio.timeout(10):
            while len(venue.book_calls) < 3:
                await next_matching(sub, book(), log=seen)
        venue.book_delay_s = 0.0  # the venue speeds up: the next snapshot bridges
        for _ in range(10):
            await next_matching(sub, book("BTC-PERP"), log=seen)
    assert venue.book_max_in_flight == 1
    seqs = [e.seq for e in seen if isinstance(e, Book) and e.instrument == "BTC-PERP"]
    assert all(a is not None and b is not None and b > a for a, b in itertools.pairwise(seqs)), seqs


async def test_retry_after_is_honoured_for_snapshots_init_and_polls(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    venue.rest_refuse = {
        "/markets": [(429, {"Retry-After": "0.6"})],
        "/funding": [(429, {"Retry-After": "0.8"})],
        "/book": [(429, {"Retry-After": "0.7"})],
    }
    async with engine_for(base, name="fakez", options={"init": True}) as engine:
        sub = engine.events()
        await next_matching(sub, book())
        venue.skip("BTC-PERP")
        await next_matching(sub, status("resync"))
        async with asyncio.timeout(5):
            while len(venue.request_times.get("/book", [])) < 2:
                await next_matching(sub, book())
        async with asyncio.timeout(5):
            while len(venue.request_times.get("/funding", [])) < 3:
                await next_matching(sub, book())
    gaps = {
        path: [b - a for a, b in itertools.pairwise(times)]
        for path, times in venue.request_times.items()
    }
    # backoff and funding_poll_s are 0.05-0.2 s here: only Retry-After explains these waits
    assert gaps["/markets"][0] >= 0.55
    assert gaps["/book"][0] >= 0.65
    assert max(gaps["/funding"][:2]) >= 0.75


async def test_a_quiet_socket_that_stalls_is_recycled_and_not_live_before_data(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    options = {"trades_socket": True}
    async with engine_for(base, options=options, quiet_stale_after_s=0.6) as engine:
        sub = engine.events()
        await next_matching(sub, status("live", "ws:main"))
        await next_matching(sub, book())
        seen: list[Event] = []
        # connected, subscribed and acknowledged, pings answered: still not live
        with pytest.raises(TimeoutError):
            await next_matching(sub, status("live", "ws:trades"), within=0.3, log=seen)
        await venue.trade()
        await next_matching(sub, status("live", "ws:trades"))
        # the trades socket stalls (pings still answered): recycled by the quiet bound
        stale = await next_matching(sub, status("stale", "ws:trades"), within=5)
        assert "no market data" in stale.reason
        backoff = await next_matching(sub, status("backoff", "ws:trades"))
        assert "StaleError" in backoff.reason or "no data for 0.6s" in backoff.reason
        assert engine.metrics.value("reconnects", reason="StaleError") >= 1


async def test_a_quiet_socket_without_data_never_resets_backoff(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    venue.drop_after_accept = 0
    options = {"trades_socket": True}
    async with engine_for(
        base, options=options, quiet_stale_after_s=0.2, stable_after_s=0.05
    ) as engine:
        sub = engine.events()
        delays = [
            (await next_matching(sub, status("backoff", "ws:trades"))).delay_s for _ in range(4)
        ]
    # each session ends without data: the attempt counter keeps growing
    assert delays == [0.05, 0.1, 0.2, 0.4]


async def test_a_swallowed_subscribe_is_noticed_by_its_own_deadline(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    venue.mute_connections = 1  # the first connection ignores the subscribe
    async with engine_for(
        base, options={"acks": True}, stale_after_s=5.0, subscribe_timeout_s=0.3
    ) as engine:
        sub = engine.events()
        loop = asyncio.get_running_loop()
        start = loop.time()
        backoff = await next_matching(sub, status("backoff"))
        assert "0 of 1 subscriptions acknowledged within 0.3s" in backoff.reason
        await next_matching(sub, status("live"))
        # well before stale_after_s (5 s) would have noticed
        assert loop.time() - start < 2.5
        assert engine.metrics.value("reconnects", reason="SubscribeTimeoutError") == 1


async def test_acknowledged_subscriptions_keep_the_connection(
    fake_venue, engine_for, next_matching
):
    venue, base = fake_venue
    async with engine_for(base, options={"acks": True}, subscribe_timeout_s=0.1) as engine:
        sub = engine.events()
        await next_matching(sub, status("live"))
        for _ in range(30):
            await next_matching(sub, book())
        assert venue.connections == 1


async def test_many_sockets_do_not_starve_each_other_or_rest(fake_venue, engine_for, next_matching):
    """130 websockets for one venue (past aiohttp's default pool of 100) and REST polls."""
    venue, base = fake_venue
    venue.interval_s = 0.2
    async with engine_for(
        base, options={"extra_sockets": 129}, connect_timeout_s=3.0, stale_after_s=3.0
    ) as engine:
        sub = engine.events()
        live: set[str] = set()
        async with asyncio.timeout(15):
            while len(live) < 130:
                event = await next_matching(sub, status("live"))
                live.add(event.stream)
            await next_matching(sub, lambda e: isinstance(e, Funding))
        assert engine.metrics.value("reconnects") == 0


async def test_engine_stop_does_not_swallow_the_callers_cancellation(
    fake_venue, engine_for, next_matching
):
    _venue, base = fake_venue
    engine = engine_for(base)
    await engine.start()
    await next_matching(engine.events(), book())

    async def stop_while_cancelled() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # our own cancellation is pending when stop() starts waiting
        await engine.stop()

    task = asyncio.create_task(stop_while_cancelled())
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not engine.running
    assert engine.http is None


async def test_engine_start_failure_releases_what_it_built(
    fake_venue, monkeypatch: pytest.MonkeyPatch
):
    from harness import fake_host, make_settings

    from venuefeed.core import engine as engine_module

    built: list[Any] = []
    real = engine_module.VenuePools

    def recording(*args: Any, **kwargs: Any) -> Any:
        sessions = real(*args, **kwargs)
        built.append(sessions)
        return sessions

    monkeypatch.setattr(engine_module, "VenuePools", recording)
    _venue, base = fake_venue
    table = {"ws_url": base.replace("http", "ws") + "/ws", "rest_url": base}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        engine = Engine(
            make_settings({"fakex": table}),
            plugins=fake_host(),
            http_listen=f"127.0.0.1:{port}",
        )
        with pytest.raises(ConfigError, match="http_listen"):
            await engine.start()
    assert built and all(s.ws.closed and s.rest.closed for s in built)
    with pytest.raises(ConsumerClosedError):
        engine.events()


async def test_events_after_stop_is_an_error_not_a_hang(fake_venue, engine_for):
    _venue, base = fake_venue
    async with engine_for(base) as engine:
        pass
    with pytest.raises(ConsumerClosedError, match="engine is stopped"):
        engine.events()
