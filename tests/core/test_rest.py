"""The REST client against a server that behaves like a real link: bodies in pieces."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from venuefeed.core.adapter import RestRequest
from venuefeed.core.errors import RestError
from venuefeed.core.settings import Policy
from venuefeed.core.transport.rest import RestClient

BODY = {"markets": [{"name": f"M{n}", "pad": "x" * 40} for n in range(60)]}  # ~3.8 KB


def pieces_app(*, content_length: bool, piece: int = 1024, data: bytes | None = None) -> Any:
    payload = data if data is not None else json.dumps(BODY).encode()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if content_length:
            response.content_length = len(payload)
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(payload), piece):
            await response.write(payload[start : start + piece])
            await asyncio.sleep(0.02)  # the next piece is still on the wire
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/markets", handler)
    return app


def request() -> RestRequest:
    return RestRequest("markets", "/markets", lambda body, ms: [body])  # type: ignore[list-item]


@pytest.mark.parametrize("content_length", [True, False], ids=["content-length", "chunked"])
async def test_a_body_in_pieces_is_read_whole(aiohttp_server: Any, content_length: bool):
    server = await aiohttp_server(pieces_app(content_length=content_length))
    async with aiohttp.ClientSession() as session:
        client = RestClient(session, "v", f"http://127.0.0.1:{server.port}", Policy())
        assert list(await client.fetch(request())) == [BODY]


async def test_a_declared_length_over_the_cap_is_refused_before_reading(aiohttp_server: Any):
    server = await aiohttp_server(pieces_app(content_length=True, data=b"[" + b"1," * 3000 + b"1]"))
    async with aiohttp.ClientSession() as session:
        client = RestClient(
            session, "v", f"http://127.0.0.1:{server.port}", Policy(max_frame_bytes=4096)
        )
        with pytest.raises(RestError, match="Content-Length 6003 exceeds max_frame_bytes"):
            await client.fetch(request())


async def test_a_streamed_body_over_the_cap_is_cut_off(aiohttp_server: Any):
    server = await aiohttp_server(
        pieces_app(content_length=False, data=b"[" + b"1," * 3000 + b"1]")
    )
    async with aiohttp.ClientSession() as session:
        client = RestClient(
            session, "v", f"http://127.0.0.1:{server.port}", Policy(max_frame_bytes=4096)
        )
        with pytest.raises(RestError, match="body larger than max_frame_bytes"):
            await client.fetch(request())


async def test_an_error_status_carries_retry_after(aiohttp_server: Any):
    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "12"}, text="slow down")

    app = web.Application()
    app.router.add_get("/markets", refuse)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        client = RestClient(session, "v", f"http://127.0.0.1:{server.port}", Policy())
        with pytest.raises(RestError, match="HTTP 429") as caught:
            await client.fetch(request())
    assert caught.value.retry_after_s == 12.0
