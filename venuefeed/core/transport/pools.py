"""One venue's HTTP client pools: websockets and REST apart, sized from what it declares.

A single shared `ClientSession` (aiohttp's default pool of 100 sockets) let one venue with
many websockets starve every other venue's handshakes and REST snapshots. Each venue now
gets two pools of its own:

- websockets: no cap, because the venue's `ConnectionSpec`s already say exactly how many
  sockets it keeps open, and a handshake must never queue behind another socket;
- REST: `rest_max_connections` sockets, so start-up, polls and book snapshots share a
  small pool that no websocket can take.

TLS always verifies against the system trust store; `ca_file` adds authorities (the
simulator's self-signed one, a corporate proxy's), it never turns verification off.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import aiohttp

from venuefeed.core.errors import ConfigError
from venuefeed.core.settings import Policy

logger = logging.getLogger(__name__)

USER_AGENT = "venuefeed/0.1 (+market data)"
_CLOSE_TIMEOUT_S = 0.5


def tls_context(ca_file: str | None, *, where: str = "") -> ssl.SSLContext:
    """The system's trust store, plus `ca_file` when given (a ConfigError if unreadable)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(Path(ca_file).expanduser()))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"config error: {where or 'ca_file'} = {ca_file!r}: cannot load certificates "
                f"({exc})"
            ) from None
    return context


class VenuePools:
    """The websocket and REST sessions of one venue; created and closed by the engine."""

    def __init__(self, policy: Policy, tls: ssl.SSLContext) -> None:
        self.tls = tls  # for a websocket client of its own (picows)
        headers = {"User-Agent": USER_AGENT}
        self.ws = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ssl=tls),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=None),
        )
        self.rest = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=policy.rest_max_connections, ssl=tls, enable_cleanup_closed=False
            ),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def close(self) -> None:
        """Close both pools; bounded, because shutdown must never hang on a socket."""
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                await asyncio.gather(self.ws.close(), self.rest.close())
        except TimeoutError:
            logger.warning("HTTP sessions did not close within %.1fs", _CLOSE_TIMEOUT_S)
