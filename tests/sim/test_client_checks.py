"""The simulated venues check their client like the real ones: pongs, idle limits, required
headers. For each check, a client that misbehaves is dropped or refused, and the engine
passes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import aiohttp
import pytest

from venuefeed.core.adapter import Heartbeat, VenueAdapter
from venuefeed.core.engine import Engine
from venuefeed.core.events import Book, Event
from venuefeed.core.hookspecs import hookimpl
from venuefeed.core.plugins import PluginHost
from venuefeed.core.publishing.publisher import Subscription
from venuefeed.core.settings import Settings
from venuefeed.plugins.hyperliquid.adapter import HyperliquidAdapter
from venuefeed.sim.checks import IDLE, PONG_TIMEOUT, Keepalive
from venuefeed.sim.cluster import SimCluster
from venuefeed.sim.server import SimServer
from venuefeed.testing import next_event

FAST = {
    "stale_after_s": 2.0,
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.2,
    "backoff_jitter": 0.0,
    "stable_after_s": 0.3,
    "heartbeat_interval_s": 0.05,
    "funding_poll_s": 0.5,
}
CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


class _Plugin:
    def __init__(self, adapter: type[VenueAdapter]) -> None:
        self.adapter = adapter

    @hookimpl
    def venuefeed_register_venues(self) -> list[type[VenueAdapter]]:
        return [self.adapter]


@asynccontextmanager
async def venue(
    name: str, *, ping_s: float, adapter: type[VenueAdapter] | None = None
) -> AsyncIterator[tuple[SimServer, Callable[[], Engine]]]:
    """A started one-venue cluster with a short ping period, and an engine builder."""
    if adapter is None:
        host = PluginHost(builtin_modules=(f"venuefeed.plugins.{name}",), load_entry_points=False)
    else:
        host = PluginHost(builtin_modules=(), extra_plugins=[_Plugin(adapter)])
    settings = Settings.model_validate(
        {"defaults": {**FAST, "symbols": ["BTC"]}, "venues": {name: {}}}
    )
    cluster = SimCluster({name: host.adapter(name)}, {name: ["BTC"]}, ping_s=ping_s)
    async with cluster:
        yield cluster.servers[name], lambda: Engine(cluster.apply(settings), plugins=host)


def client(server: SimServer, **options: Any) -> aiohttp.ClientSession:
    assert server.certificates is not None
    connector = aiohttp.TCPConnector(ssl=server.certificates.client_context())
    return aiohttp.ClientSession(connector=connector, **options)


async def until_closed(ws: aiohttp.ClientWebSocketResponse, within: float = 5.0) -> None:
    """Read (never answering anything) until the venue ends the connection."""
    async with asyncio.timeout(within):
        while (await ws.receive()).type not in CLOSED:
            pass


async def read_books_until(sub: Subscription, done: Callable[[], bool], within: float = 10.0):
    """Read the engine's events (books are the clock) until `done()`."""
    async with asyncio.timeout(within):
        while not done():
            await next_event(sub, lambda e: isinstance(e, Book), within=within)


def test_keepalive_verdicts():
    alive = Keepalive(last_pong=0.0, last_heard=0.0)
    rules = {"ping_s": 1.0, "pong_timeout_pings": 3.0, "idle_limit_pings": 4.0}
    assert alive.verdict(2.9, ws_ping=True, **rules) is None
    assert alive.verdict(3.1, ws_ping=True, **rules) == PONG_TIMEOUT
    assert alive.verdict(3.1, ws_ping=False, **rules) is None  # the venue does not ping
    assert alive.verdict(4.1, ws_ping=False, **rules) == IDLE
    assert alive.verdict(9.0, ws_ping=False, **{**rules, "idle_limit_pings": None}) is None


# -- websocket pings: answer them or be dropped -------------------------------------------


@pytest.mark.parametrize("name", ["aster", "paradex", "extended"])
async def test_a_client_that_never_pongs_is_dropped(name: str):
    async with venue(name, ping_s=0.05) as (server, _):
        ws_url, _rest = server.urls()
        url = {
            "aster": ws_url + "/stream?streams=btcusdt@depth",
            "paradex": ws_url,
            "extended": ws_url + "/orderbooks/BTC-USD",
        }[name]
        async with client(server) as http, http.ws_connect(url, autoping=False) as ws:
            await until_closed(ws)
        assert server.client_drops == {PONG_TIMEOUT: 1}


@pytest.mark.parametrize("name", ["aster", "paradex", "extended"])
async def test_the_engine_answers_the_venues_pings(name: str):
    async with venue(name, ping_s=0.1) as (server, engine_for), engine_for() as engine:
        sub = engine.events()
        opened = server.connections
        # four ping periods: longer than the pong timeout (three)
        await read_books_until(sub, lambda: server.pongs_received >= 4 * server.open_connections)
        assert not server.client_drops and server.connections == opened


# -- idle limits: venues whose clients must ping -------------------------------------------

HL_SUBSCRIBE = {"method": "subscribe", "subscription": {"type": "l2Book", "coin": "BTC"}}
LIGHTER_SUBSCRIBE = {"type": "subscribe", "channel": "order_book/1"}


@pytest.mark.parametrize(
    ("name", "subscribe"), [("hyperliquid", HL_SUBSCRIBE), ("lighter", LIGHTER_SUBSCRIBE)]
)
async def test_a_client_that_subscribes_and_then_says_nothing_is_dropped(name, subscribe):
    async with venue(name, ping_s=0.05) as (server, _):
        async with client(server) as http, http.ws_connect(server.urls()[0]) as ws:
            await ws.send_json(subscribe)
            await until_closed(ws)
        assert server.client_drops == {IDLE: 1}


async def _websocket_pings(ws: aiohttp.ClientWebSocketResponse, every_s: float) -> None:
    """Ping until the socket closes (the venue dropping us ends the pinging, not the test)."""
    while not ws.closed:
        try:
            await ws.ping()
        except aiohttp.ClientConnectionResetError:
            return  # closed by the venue between the check and the ping
        await asyncio.sleep(every_s)


async def test_hyperliquid_wants_messages_not_websocket_pings():
    async with venue("hyperliquid", ping_s=0.05) as (server, _):
        async with client(server) as http, http.ws_connect(server.urls()[0]) as ws:
            await ws.send_json(HL_SUBSCRIBE)
            async with asyncio.TaskGroup() as tg:
                pinger = tg.create_task(_websocket_pings(ws, 0.01))
                await until_closed(ws)
                pinger.cancel()
        assert server.client_drops == {IDLE: 1}


async def test_lighter_counts_websocket_pings_as_activity():
    async with venue("lighter", ping_s=0.05) as (server, _):
        async with client(server) as http, http.ws_connect(server.urls()[0]) as ws:
            await ws.send_json(LIGHTER_SUBSCRIBE)
            async with asyncio.TaskGroup() as tg:
                pinger = tg.create_task(_websocket_pings(ws, 0.01))
                seen = 0
                async with asyncio.timeout(5):
                    while seen < 24:  # a book every 50 ms: over a second, six idle limits
                        msg = await ws.receive()
                        assert msg.type not in CLOSED
                        seen += 1
                pinger.cancel()
        assert not server.client_drops


@pytest.mark.parametrize("name", ["hyperliquid", "lighter"])
async def test_the_engine_pings_often_enough(name: str):
    ping = '{"method":"ping"}' if name == "hyperliquid" else '{"type":"ping"}'
    async with venue(name, ping_s=0.1) as (server, engine_for), engine_for() as engine:
        sub = engine.events()
        # ten engine pings (half a second): beyond either venue's idle limit here
        await read_books_until(sub, lambda: server.received.count(ping) >= 10)
        assert not server.client_drops and server.connections == 1


class _SilentHyperliquid(HyperliquidAdapter):
    """A plugin that forgot Hyperliquid's application ping."""

    heartbeat: ClassVar[Heartbeat] = Heartbeat(ping=None)


async def test_an_engine_plugin_without_the_venues_ping_is_dropped():
    async with venue("hyperliquid", ping_s=0.05, adapter=_SilentHyperliquid) as (
        server,
        engine_for,
    ):
        async with engine_for() as engine:
            sub = engine.events()
            await read_books_until(sub, lambda: bool(server.client_drops))
        assert server.client_drops[IDLE] >= 1


# -- required headers: the venue's firewall ------------------------------------------------


async def test_extended_refuses_requests_without_a_user_agent():
    async with venue("extended", ping_s=5.0) as (server, _):
        ws_url, rest_url = server.urls()
        async with client(server, skip_auto_headers=["User-Agent"]) as http:
            async with http.get(rest_url + "/info/markets") as resp:
                assert resp.status == 403
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(ws_url + "/orderbooks/BTC-USD")
            assert refused.value.status == 403
        assert server.refused == {"User-Agent": 2}
        async with (
            client(server, headers={"User-Agent": "any/1.0"}) as http,
            http.get(rest_url + "/info/markets") as resp,
        ):
            assert resp.status == 200


async def test_the_engine_sends_extendeds_required_headers():
    async with venue("extended", ping_s=5.0) as (server, engine_for), engine_for() as engine:
        sub = engine.events()
        seen: list[Event] = []
        await next_event(sub, lambda e: isinstance(e, Book), log=seen)
        assert not server.refused
