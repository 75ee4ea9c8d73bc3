"""Creating the streams on a JetStream cluster that is still forming: a node's /healthz
(and "Server is ready") come before the cluster can place a stream of 3 replicas, so an
engine started with the cluster must ask again, not exit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from natsserver import NatsServer, free_port

from venuefeed.bus.streams import StreamsUnansweredError, ensure_streams
from venuefeed.core.bus_settings import NatsSettings


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[list[NatsServer]]:
    """Three nodes of one cluster, none started."""
    routes = [free_port() for _ in range(3)]
    every = ",".join(f"nats://127.0.0.1:{port}" for port in routes)
    nodes = [
        NatsServer(
            tmp_path / f"n{i}",
            args=("--cluster_name", "vf", "--cluster", f"nats://127.0.0.1:{port}"),
        )
        for i, port in enumerate(routes)
    ]
    for node in nodes:
        node.args += ("--routes", every)
    try:
        yield nodes
    finally:
        for node in nodes:
            await node.kill()


async def test_start_up_waits_for_a_forming_cluster_to_place_the_streams(
    cluster: list[NatsServer],
):
    asked_again = asyncio.Event()

    class Retries(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "asking again" in record.getMessage():
                asked_again.set()  # logged on this loop's thread

    streams_log = logging.getLogger("venuefeed.bus.streams")
    handler = Retries(logging.INFO)
    streams_log.addHandler(handler)
    streams_log.setLevel(logging.INFO)
    await cluster[0].start()
    await cluster[1].start()
    nc = await nats.connect(servers=[cluster[0].url], connect_timeout=5)
    try:
        settings = NatsSettings(replicas=3, connect_timeout_s=60)
        ensuring = asyncio.ensure_future(ensure_streams(nc.jetstream(), settings, update=True))
        try:
            # two nodes of three: no third peer to place a replica on, asked again
            async with asyncio.timeout(30):
                await asked_again.wait()
            assert not ensuring.done()
            await cluster[2].start()
            async with asyncio.timeout(30):
                await ensuring
        finally:
            ensuring.cancel()
        info = await nc.jetstream().stream_info(settings.history_stream)
        assert info.config.num_replicas == 3
    finally:
        streams_log.removeHandler(handler)
        streams_log.setLevel(logging.NOTSET)
        await nc.close()


async def test_a_cluster_that_never_forms_fails_start_up_after_connect_timeout(
    cluster: list[NatsServer],
):
    await cluster[0].start()
    await cluster[1].start()
    nc = await nats.connect(servers=[cluster[0].url], connect_timeout=5)
    try:
        settings = NatsSettings(replicas=3, connect_timeout_s=1.0)
        with pytest.raises(StreamsUnansweredError, match="stream VENUEFEED_HISTORY"):
            async with asyncio.timeout(30):
                await ensure_streams(nc.jetstream(), settings, update=True)
    finally:
        await nc.close()
