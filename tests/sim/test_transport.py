"""The simulator's link: REST in pieces, TLS with its own CA, websocket frames late but in
order. Each property has a client that relies on the opposite and must fail."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from venuefeed.core.engine import Engine
from venuefeed.core.events import Book, Status
from venuefeed.core.plugins import PluginHost
from venuefeed.core.settings import Settings
from venuefeed.plugins.aster.sim import AsterSim
from venuefeed.sim.cluster import SimCluster
from venuefeed.sim.market import SyntheticMarket
from venuefeed.sim.outbox import Outbox
from venuefeed.sim.realism import Realism
from venuefeed.sim.rest_body import pieces
from venuefeed.sim.server import SimServer
from venuefeed.testing import next_event

SYMBOLS = ("BTC", "ETH", "SOL", "DOGE", "XRP", "AVAX", "LINK", "ARB")
EXCHANGE_INFO = "/fapi/v3/exchangeInfo"


def aster_server(**options: Any) -> SimServer:
    return SimServer(AsterSim({s: SyntheticMarket(s) for s in SYMBOLS}), **options)


def client(server: SimServer) -> aiohttp.ClientSession:
    assert server.certificates is not None
    connector = aiohttp.TCPConnector(ssl=server.certificates.client_context())
    return aiohttp.ClientSession(connector=connector)


async def test_rest_bodies_arrive_in_pieces_with_and_without_content_length():
    async with aster_server() as server, client(server) as http:
        framings: set[str] = set()
        for _ in range(12):
            async with http.get(server.http_url + EXCHANGE_INFO) as resp:
                framings.add("length" if resp.content_length is not None else "chunked")
                reads = [chunk async for chunk in resp.content.iter_any()]
            assert len(reads) > 1  # the body came over time, in several reads
            json.loads(b"".join(reads))  # ...and whole, it is the answer
        assert framings == {"length", "chunked"}


async def test_a_client_that_takes_its_first_read_for_the_body_gets_a_fragment():
    async with aster_server() as server, client(server) as http:
        async with http.get(server.http_url + EXCHANGE_INFO) as resp:
            first = await resp.content.readany()
            rest = await resp.read()
        with pytest.raises(json.JSONDecodeError):
            json.loads(first)
        json.loads(first + rest)


def test_pieces_cover_the_body_in_order():
    rng = random.Random(3)
    body = bytes(range(256)) * 20
    parts = pieces(body, (256, 1024), rng)
    assert b"".join(parts) == body and all(1 <= len(p) <= 1024 for p in parts[:-1])
    spread = pieces(b"x" * 100, (256, 1024), rng, at_least=8)  # a slow body: many pieces
    assert b"".join(spread) == b"x" * 100 and len(spread) >= 8


async def test_a_slow_rest_body_outlasting_the_client_timeout_is_abandoned():
    async with aster_server() as server, client(server) as http:
        server.faults.slow_rest += [0.6, 0.2]
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3), http.get(server.http_url + EXCHANGE_INFO) as resp:
                await resp.read()
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with http.get(server.http_url + EXCHANGE_INFO) as resp:  # the retry: slow, whole
            json.loads(await resp.read())
        assert loop.time() - started >= 0.2
        async with asyncio.timeout(2):
            while server.rest_abandoned < 1:  # its next write finds the client gone: counted
                async with http.get(server.http_url + EXCHANGE_INFO) as resp:
                    await resp.read()


async def test_tls_is_verified_against_the_sims_own_ca_only():
    async with aster_server() as server:
        assert server.http_url.startswith("https://") and server.ws_url.startswith("wss://")
        async with aiohttp.ClientSession() as http:  # the system trust store only
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await http.get(server.http_url + EXCHANGE_INFO)
        async with client(server) as http, http.get(server.http_url + EXCHANGE_INFO) as resp:
            assert resp.status == 200


def _settings(**venue: Any) -> Settings:
    policy = {"stale_after_s": 1.0, "connect_timeout_s": 1.0, "request_timeout_s": 1.0}
    return Settings.model_validate(
        {"defaults": {**policy, "symbols": ["BTC"]}, "venues": {"aster": venue}}
    )


async def test_the_cluster_gives_the_engine_its_ca_and_removes_it_afterwards():
    host = PluginHost(builtin_modules=("venuefeed.plugins.aster",), load_entry_points=False)
    cluster = SimCluster({"aster": host.adapter("aster")}, {"aster": ["BTC"]})
    async with cluster:
        settings = cluster.apply(_settings())
        ca_file = settings.venues["aster"].ca_file
        assert ca_file is not None and ca_file == cluster.ca_file and _is_file(ca_file)
        assert settings.venues["aster"].rest_url.startswith("https://")
        async with Engine(settings, plugins=host) as engine:
            await next_event(engine.events(), lambda e: isinstance(e, Book), within=10)
        # without the sim's CA the engine trusts only the system store: init cannot connect
        table = settings.venues["aster"].model_copy(update={"ca_file": None})
        untrusted = settings.model_copy(update={"venues": {"aster": table}})
        async with Engine(untrusted, plugins=host) as engine:
            failed = await next_event(
                engine.events(), lambda e: isinstance(e, Status) and e.state == "init_failed"
            )
            assert "certificate" in failed.reason.lower()
    assert not _is_file(ca_file)


def _is_file(path: str) -> bool:
    return Path(path).is_file()


async def test_plain_text_when_asked():
    async with aster_server(realism=Realism(tls=False)) as server:
        assert server.http_url.startswith("http://") and server.ca_file is None
        async with aiohttp.ClientSession() as http, http.get(server.http_url + EXCHANGE_INFO) as r:
            assert r.status == 200


class _Wire:
    """A stand-in websocket recording what the outbox writes, and when."""

    def __init__(self, *, blocked: bool = False) -> None:
        self.written: list[tuple[float, str | bytes]] = []
        self.wrote = asyncio.Event()
        self.blocked = asyncio.Event() if blocked else None

    async def send_str(self, data: str) -> None:
        if self.blocked is not None:
            await self.blocked.wait()  # a reader that never reads: the socket is full
        self.written.append((asyncio.get_running_loop().time(), data))
        self.wrote.set()

    async def send_bytes(self, data: bytes) -> None:
        self.written.append((asyncio.get_running_loop().time(), data))

    async def ping(self, payload: bytes) -> None:
        self.written.append((asyncio.get_running_loop().time(), b"ping:" + payload))

    async def pong(self, payload: bytes) -> None:
        self.written.append((asyncio.get_running_loop().time(), b"pong:" + payload))


def _outbox(wire: _Wire, delays: list[float], **options: Any) -> tuple[Outbox, list[Any]]:
    events: list[Any] = []
    box = Outbox(
        wire,  # type: ignore[arg-type]
        delay=lambda: delays.pop(0),
        coalesce_s=options.get("coalesce_s", 0.0),
        max_backlog=options.get("max_backlog", 1000),
        closing=lambda: False,
        on_trades=lambda symbol, ids: events.append((symbol, tuple(ids))),
        on_overflow=lambda: events.append("overflow"),
    )
    return box, events


async def test_outbox_delays_frames_but_never_reorders_them():
    wire = _Wire()
    # each frame is given a shorter delay than the one before: sent as made, they
    # would arrive in reverse
    box, trades = _outbox(wire, [0.09, 0.06, 0.03, 0.0])
    loop = asyncio.get_running_loop()
    put_at = loop.time()
    for frame in ("a", "b", "c"):
        box.put(frame)
    box.put("t", "BTC", [7])
    async with asyncio.TaskGroup() as tg:
        writer = tg.create_task(box.run())
        async with asyncio.timeout(2):
            while len(wire.written) < 4:
                wire.wrote.clear()
                await wire.wrote.wait()
        writer.cancel()
    assert [data for _, data in wire.written] == ["a", "b", "c", "t"]
    assert wire.written[0][0] - put_at >= 0.09  # late by its own delay, the others behind it
    assert trades == [("BTC", (7,))]  # a trade counts as sent once its frame is written


async def test_outbox_drops_a_reader_that_falls_too_far_behind():
    wire = _Wire(blocked=True)
    box, events = _outbox(wire, [0.0] * 10, max_backlog=5)
    async with asyncio.TaskGroup() as tg:
        writer = tg.create_task(box.run())
        box.put("first")
        await asyncio.sleep(0)  # the writer takes it and blocks on the full socket
        for n in range(6):
            box.put(f"frame {n}")
        writer.cancel()
    assert events == ["overflow"] and box.closed and box.backlog == 0


async def test_latency_fault_holds_every_frame_back_in_order():
    venue = AsterSim({"BTC": SyntheticMarket("BTC")})
    async with SimServer(venue, tick_s=0.02) as server, client(server) as http:
        url = server.ws_url + "/stream?streams=btcusdt@depth@100ms"
        async with http.ws_connect(url) as ws:
            last_u = (await ws.receive_json(timeout=5))["data"]["u"]
            set_ms = time.time_ns() // 1_000_000
            server.faults.latency = (0.2, 0.3)
            late = 0
            while late < 10:
                data = (await ws.receive_json(timeout=5))["data"]
                received_ms = time.time_ns() // 1_000_000
                assert data["pu"] == last_u  # never reordered, nothing lost
                last_u = data["u"]
                if data["E"] > set_ms:  # made under the fault: at least 200 ms late
                    assert received_ms - data["E"] >= 200
                    late += 1
