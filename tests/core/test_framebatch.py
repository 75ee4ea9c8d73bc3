"""Pre-decode conflation (core/connection/framebatch.py): a snapshot frame is skipped only
where decoding it could not change what a consumer gets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from loopback import loopback

from venuefeed.core.adapter import BookSnapshot, FrameKey
from venuefeed.core.connection import link as link_module
from venuefeed.core.connection.dispatch import batch_steps, last_runs
from venuefeed.core.connection.framebatch import SnapshotConflation
from venuefeed.core.connection.link import BATCH_MAX, next_batch
from venuefeed.core.connection.picolink import PicowsLink
from venuefeed.core.engine import Engine
from venuefeed.core.events import Book, Trade
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings
from venuefeed.plugins.hyperliquid import adapter as hl
from venuefeed.plugins.hyperliquid.adapter import HyperliquidAdapter
from venuefeed.plugins.paradex.adapter import ParadexAdapter
from venuefeed.testing import check_frame_key

KEY = FrameKey(r"B:(?P<key>\w+)")
SEQ_KEY = FrameKey(r"B:(?P<key>\w+):(?P<seq>\d+)")


def test_keeps_the_newest_snapshot_of_each_book_at_its_own_position():
    plan = SnapshotConflation(KEY).plan(["B:x", "T:1", "B:y", "B:x", "T:2", "B:y", "D:3"])
    assert [frame for frame, _, _ in plan] == ["T:1", "B:x", "T:2", "B:y", "D:3"]
    assert [(key, list(older)) for _, key, older in plan if key] == [
        ("x", ["B:x"]),
        ("y", ["B:y"]),
    ]


def test_trades_deltas_and_control_frames_are_never_skipped():
    frames = ["T:1", "T:1", "D:2", "D:2", "pong", "T:1"]
    conflation = SnapshotConflation(KEY)
    assert [frame for frame, _, _ in conflation.plan(frames)] == frames
    assert conflation.skipped == 0


def test_with_sequence_numbers_the_highest_wins_and_the_first_of_equals():
    plan = SnapshotConflation(SEQ_KEY).plan(["B:x:5", "B:x:7", "B:x:6", "B:x:7", "T:1"])
    assert [frame for frame, _, _ in plan] == ["B:x:7", "T:1"]
    assert list(plan[0][2]) == ["B:x:5", "B:x:6", "B:x:7"]  # decoded if B:x:7 is unusable


def test_binary_rules_read_a_little_endian_seq():
    rule = FrameKey(rb"\x03(?P<seq>.{8})(?P<key>\w+)\Z")
    frame = b"\x03" + (300).to_bytes(8, "little", signed=True) + b"BTC"
    assert SnapshotConflation(rule).key(frame) == (b"BTC", 300)
    assert SnapshotConflation(rule).key("text frame") is None


def test_no_rule_skips_nothing():
    conflation = SnapshotConflation(None)
    assert [f for f, _, _ in conflation.plan(["B:x", "B:x"])] == ["B:x", "B:x"]


def test_a_key_that_turns_out_to_mean_two_instruments_switches_the_rule_off():
    conflation = SnapshotConflation(KEY)
    assert conflation.confirm("x", [BookSnapshot("BTC", [], [])])
    assert not conflation.confirm("x", [BookSnapshot("ETH", [], [])])
    assert conflation.broken is not None and not conflation.active
    assert [f for f, _, _ in conflation.plan(["B:x", "B:x"])] == ["B:x", "B:x"]


def test_a_kept_frame_that_fails_to_parse_brings_back_the_ones_it_replaced():
    conflation = SnapshotConflation(KEY)
    assert not conflation.confirm("x", None)
    assert conflation.broken is None  # a bad frame is not a broken rule


class _Msg:
    def __init__(self, data: Any, kind: WSMsgType = WSMsgType.TEXT) -> None:
        self.type = kind
        self.data = data


async def test_next_batch_takes_what_is_buffered_up_to_the_limit_and_sees_the_end():
    queue = [_Msg("a"), _Msg("b"), _Msg("c"), _Msg(None, WSMsgType.CLOSE)]

    async def receive() -> _Msg:
        return queue.pop(0)

    def ready() -> bool:
        return bool(queue) and queue[0].type is WSMsgType.TEXT

    assert await next_batch(receive, ready, limit=2) == (["a", "b"], False)
    assert await next_batch(receive, ready) == (["c"], False)  # the close is not a frame
    assert await next_batch(receive, ready) == ([], True)


async def test_the_link_says_a_data_frame_is_ready_only_when_one_is_next():
    from venuefeed.core.connection.link import WsLink

    class _Reader:
        def __init__(self) -> None:
            self._buffer: list[Any] = []

    class _Ws:
        _reader = _Reader()

        async def receive(self) -> Any:
            raise AssertionError("data_ready only peeks")

    ws = _Ws()
    link = WsLink(ws)  # type: ignore[arg-type]
    assert not link.data_ready()
    ws._reader._buffer = [(_Msg("x"), 1)]
    assert link.data_ready()
    ws._reader._buffer = [(_Msg(b"", WSMsgType.PING), 1), (_Msg("x"), 1)]
    assert not link.data_ready()  # receive() would answer the ping, then wait


def test_a_tapped_link_records_every_frame_of_a_batch_with_the_stamp_its_events_carry():
    """Skipped snapshots are recorded too, and a replay's ts_recv is the live one."""
    from venuefeed.core.connection.link import WsLink

    class _Tap:
        def __init__(self) -> None:
            self.got: list[tuple[str, Any, int]] = []

        def received(self, conn: str, frame: Any, ns: int) -> None:
            self.got.append((conn, frame, ns))

    class _Ws:
        async def receive(self) -> Any:
            raise AssertionError("not read here")

    tap = _Tap()
    link = WsLink(_Ws(), tap=tap, conn="main")  # type: ignore[arg-type]
    stamp = link.taken(["a", b"b", "c"])
    assert [(c, f) for c, f, _ in tap.got] == [("main", "a"), ("main", b"b"), ("main", "c")]
    assert {ns // 1_000_000 for _, _, ns in tap.got} == {stamp}
    untapped = WsLink(_Ws())  # type: ignore[arg-type]
    assert abs(untapped.taken(["x"]) - stamp) < 60_000  # wall ms, nothing recorded


# -- every plugin's rule, proved on the frames its simulator sends --------------------


def _frames(rig: Any, steps: int = 30) -> list[Any]:
    frames: list[Any] = []
    for spec in rig.adapter.connections(rig.instruments):
        for message in spec.subscribe:
            text = message if isinstance(message, str) else json.dumps(message)
            for session in rig.sessions:
                frames += session.on_message(text)
    for i in range(steps):
        for market in rig.markets.values():
            update = market.step(1_790_000_000_000 + 20 * i)
            for session in rig.sessions:
                frames += [d.frame for d in session.on_update(market, update)]
    return frames


@pytest.mark.parametrize(
    ("adapter", "options"),
    [
        (HyperliquidAdapter, {}),
        (ParadexAdapter, {"encoding": "sbe"}),
        (ParadexAdapter, {"encoding": "json"}),
    ],
)
def test_each_plugin_rule_holds_on_its_simulated_frames(adapter, options):
    rig = loopback(adapter, ("BTC", "ETH", "SOL"), options=options)
    (spec,) = rig.adapter.connections(rig.instruments)
    assert spec.snapshot_key is not None
    assert check_frame_key(rig.adapter, spec.snapshot_key, _frames(rig)) >= 30


def test_the_recorded_hyperliquid_book_matches_its_rule_and_the_trades_do_not():
    hyperliquid = loopback(HyperliquidAdapter).adapter
    book = json.loads(_read("tests/plugins/hyperliquid/data/ws_l2book_snapshot.ccxt.json"))
    trades = _read("tests/plugins/hyperliquid/data/ws_trades.ccxt.json")
    hyperliquid._streamed.update({book["data"]["coin"], "BTC"})
    assert check_frame_key(hyperliquid, hl.BOOK_KEY, [json.dumps(book), trades]) == 1


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def test_paradex_deltas_feed_declares_no_rule():
    rig = loopback(ParadexAdapter, options={"book_feed": "deltas"}, connect=False)
    (spec,) = rig.adapter.connections(rig.instruments)
    assert spec.snapshot_key is None


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        # one key for every coin: ETH's books would be skipped for BTC's
        (FrameKey(r'\{"channel":"(?P<key>l2Book)"'), "maps two instruments"),
        # a rule that also matches trades would skip trades
        (FrameKey(r'\{"channel":"(?P<key>\w+)","data":'), "not one book snapshot"),
        # a rule that misses the venue's spelling skips nothing: caught as well
        (FrameKey(r'\{ "channel"(?P<key>)'), "misses a snapshot frame"),
    ],
)
def test_a_broken_rule_is_caught_by_the_checker(rule, message):
    rig = loopback(HyperliquidAdapter, ("BTC", "ETH"))
    with pytest.raises(AssertionError, match=message):
        check_frame_key(rig.adapter, rule, _frames(rig))


# -- the engine end to end: the same books and trades with and without the rule --------

PONG = '{"channel":"pong"}'
RULE = hl.BOOK_KEY  # the plugin's own, kept before a test swaps it out


def _burst() -> list[str]:
    frames: list[str] = []
    for i in range(40):
        for coin in ("BTC", "ETH"):
            mid = 100.0 + i
            levels = [
                [{"px": str(mid - 1 - k), "sz": str(1 + i), "n": 1} for k in range(3)],
                [{"px": str(mid + 1 + k), "sz": str(2 + i), "n": 1} for k in range(3)],
            ]
            data = {"coin": coin, "time": 1_700_000_000_000 + i, "levels": levels}
            frames.append(json.dumps({"channel": "l2Book", "data": data}, separators=(",", ":")))
        if i % 3 == 0:
            trade = {"coin": "BTC", "side": "B", "px": "100.5", "sz": "0.1", "time": i, "tid": i}
            frames.append(json.dumps({"channel": "trades", "data": [trade]}, separators=(",", ":")))
    return frames


async def _hyperliquid(
    aiohttp_server: Any,
    coins: tuple[str, ...],
    frames: list[str],
    client: str,
    sent: asyncio.Event | None = None,
) -> Engine:
    """An engine (not started) on a Hyperliquid that acknowledges the subscriptions,
    sends `frames` as fast as the socket takes them (then sets `sent`) and stays open."""

    async def info(request: web.Request) -> web.Response:
        body = await request.json()
        universe = [{"name": c, "szDecimals": 5} for c in coins]
        if body["type"] == "meta":
            return web.json_response({"universe": universe})
        ctx = {"funding": "0.00001", "markPx": "100", "oraclePx": "100"}
        return web.json_response([{"universe": universe}, [ctx] * len(coins)])

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for _ in range(4 * len(coins)):  # 4 subscriptions per coin
            msg = await ws.receive()
            await ws.send_str(json.dumps({"channel": "subscriptionResponse", "data": msg.json()}))
        for frame in frames:
            await ws.send_str(frame)
        if sent is not None:
            sent.set()
        await ws.receive()  # until the engine closes
        return ws

    app = web.Application()
    app.router.add_post("/info", info)
    app.router.add_get("/ws", ws_handler)
    server = await aiohttp_server(app)
    host = PluginHost(builtin_modules=("venuefeed.plugins.hyperliquid",), load_entry_points=False)
    settings = Settings.model_validate(
        {
            "defaults": {"symbols": list(coins), "funding_poll_s": 3600, "ws_client": client},
            "venues": {
                "hyperliquid": {
                    "ws_url": f"ws://{server.host}:{server.port}/ws",
                    "rest_url": str(server.make_url("")),
                }
            },
        }
    )
    return Engine(settings, plugins=host)


async def _run(aiohttp_server, monkeypatch, rule: FrameKey | None) -> tuple[list[Any], Any]:
    monkeypatch.setattr(hl, "BOOK_KEY", rule)
    done = asyncio.Event()  # the batch holding the final pong was handled
    pong_seen = False

    async def until_pong(receive: Any, buffered: Any, limit: int = 0) -> tuple[list[Any], bool]:
        """The burst as one batch, whatever TCP did to it: the test is about what a batch
        does, and must not depend on how the kernel cut the stream."""
        nonlocal pong_seen
        if pong_seen:  # asked for the next batch: the one with the pong is done
            done.set()
        frames: list[Any] = []
        while True:
            msg = await receive()
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                return frames, True
            frames.append(msg.data)
            pong_seen = pong_seen or msg.data == PONG
            if not msg.data.startswith(('{"channel":"l2Book"', '{"channel":"trades"')):
                return frames, False

    monkeypatch.setattr(link_module, "next_batch", until_pong)

    # the hook that makes the burst one batch is aiohttp's (`link.next_batch`); what a
    # batch does after it is the same whichever client read it
    engine = await _hyperliquid(aiohttp_server, ("BTC", "ETH"), [*_burst(), PONG], "aiohttp")
    async with engine:
        sub = engine.events()  # read only after the burst: what conflation delivers
        async with asyncio.timeout(10):
            await done.wait()
        events = []
        while (event := sub.get_nowait()) is not None:
            if isinstance(event, Book | Trade):
                events.append(event)
        (conn,) = engine.runners["hyperliquid"].connections
        marks = dict(conn._freshness.marks)
        skipped = engine.metrics.value("frames_skipped", venue="hyperliquid")
        frames = engine.metrics.value("frames", venue="hyperliquid")
    return [_comparable(e) for e in events], (marks, skipped, frames)


def _comparable(event: Book | Trade) -> Any:
    if isinstance(event, Book):
        return ("book", event.instrument, event.bids, event.asks, event.ts_venue)
    return ("trade", event.instrument, event.trade_id, event.price)


async def test_same_books_and_trades_in_the_same_order_with_and_without_it(
    aiohttp_server, monkeypatch
):
    plain, (plain_marks, plain_skipped, plain_frames) = await _run(
        aiohttp_server, monkeypatch, None
    )
    conflated, (marks, skipped, frames) = await _run(aiohttp_server, monkeypatch, RULE)
    assert conflated == plain
    assert [e[1] for e in plain if e[0] == "book"] == ["BTC", "ETH"]  # the newest of each
    assert sum(e[0] == "trade" for e in conflated) == 14  # every trade, none skipped
    assert plain_skipped == 0 and skipped == 78  # 80 books, one decoded per coin
    assert frames == plain_frames  # every frame received and counted
    # the skipped frames' books are fresh: their newest frame marked them
    assert marks.keys() == plain_marks.keys()
    assert ("book", "BTC") in marks and ("book", "ETH") in marks


def test_only_the_last_delta_of_each_book_in_a_batch_builds_a_book():
    from venuefeed.core.adapter import BookDelta

    a1, b1, a2, a3 = (BookDelta(i, [], []) for i in "ABAA")
    steps = batch_steps([[a1], [b1, a2], [a3]])
    assert steps == [[a1], [b1], [a2, a3]]  # consecutive deltas of one book: one run
    last = last_runs(steps)
    assert last == {1, 2}  # B's run and A's second run


@pytest.mark.parametrize("client", ["picows", "aiohttp"])
async def test_a_burst_is_read_in_batches_that_let_other_tasks_run(
    aiohttp_server, monkeypatch, client: str
):
    """Fairness: frames already waiting never hold the loop; another task (another venue,
    a consumer, the watchdog) runs between batches of at most BATCH_MAX frames."""
    total = 2_000
    sent = asyncio.Event()

    async def burst_sent() -> None:
        if not sent.is_set():
            await sent.wait()  # let the whole burst reach the client's buffers first
            for _ in range(20):
                await asyncio.sleep(0)

    async def after_the_burst(receive: Any, ready: Any, limit: int = BATCH_MAX) -> Any:
        await burst_sent()
        return await next_batch(receive, ready, limit)

    picows_batch = PicowsLink.next_batch

    async def picows_after_the_burst(link: PicowsLink) -> Any:
        await burst_sent()
        return await picows_batch(link)

    monkeypatch.setattr(link_module, "next_batch", after_the_burst)
    monkeypatch.setattr(PicowsLink, "next_batch", picows_after_the_burst)
    trade = {"coin": "BTC", "side": "B", "px": "100.5", "sz": "0.1", "time": 1, "tid": 1}
    frame = json.dumps({"channel": "trades", "data": [trade]}, separators=(",", ":"))

    engine = await _hyperliquid(aiohttp_server, ("BTC",), [frame] * total, client, sent)
    seen: list[float] = []
    async with engine:
        async with asyncio.timeout(20):
            while (frames := engine.metrics.value("frames", venue="hyperliquid")) < total + 4:
                seen.append(frames)
                await asyncio.sleep(0)  # one turn of the loop, as any other task gets
    # it ran after the first batch of the burst, not only once the buffer was empty
    assert any(4 < f <= 4 + BATCH_MAX for f in seen), seen[:5]
