"""REST bodies the way a real link delivers them: in pieces, over time.

A body written in one call arrives in one read on loopback, which hid a client that took
its first `read()` for the whole body. Here a body goes out in pieces of a few hundred
bytes with small jittered pauses, and (per `Realism.rest_chunked_share`) either with a
`Content-Length` or chunked without one, so both of a client's read paths run.

`spread_s` stretches the whole body over that many seconds (the `slow_rest` fault): the
headers arrive at once, the last byte only at the end.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping

from aiohttp import web

from venuefeed.sim.realism import Realism

logger = logging.getLogger(__name__)


def pieces(
    body: bytes, sizes: tuple[int, int], rng: random.Random, *, at_least: int = 1
) -> list[bytes]:
    """`body` cut into consecutive pieces with sizes drawn from `sizes` (at least
    `at_least` pieces when the body has that many bytes)."""
    low, high = sizes
    if at_least > 1 and body:
        high = max(1, min(high, len(body) // at_least))
        low = min(low, high)
    out: list[bytes] = []
    at = 0
    while at < len(body):
        size = rng.randint(low, high)
        out.append(body[at : at + size])
        at += size
    return out or [b""]


async def send_body(
    request: web.Request,
    *,
    status: int,
    body: bytes,
    realism: Realism,
    rng: random.Random,
    headers: Mapping[str, str] | None = None,
    content_type: str = "application/json",
    spread_s: float | None = None,
) -> tuple[web.StreamResponse, bool]:
    """Write the response in pieces. Returns it and whether the client took it all (one
    that leaves mid-body, on its own timeout, ends the write: the caller counts it)."""
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = content_type
    if rng.random() < realism.rest_chunked_share:
        response.enable_chunked_encoding()
    else:
        response.content_length = len(body)
    parts = pieces(body, realism.rest_piece_bytes, rng, at_least=8 if spread_s else 1)
    try:
        await response.prepare(request)
        for part in parts:
            pause = spread_s / len(parts) if spread_s else rng.uniform(*realism.rest_pause_s)
            await asyncio.sleep(pause)
            await response.write(part)
        await response.write_eof()
    except ConnectionError as exc:
        logger.debug("sim: REST client left mid-body: %s", exc)
        return response, False
    return response, True
