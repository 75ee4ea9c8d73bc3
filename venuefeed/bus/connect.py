"""One NATS connection built from `[engine.nats]`: credentials, TLS, reconnect policy.

nats-py is imported here, lazily (`require_nats`), so that venuefeed without a NATS sink
never needs it installed. Start-up is bounded: a server that cannot be reached (or that
refuses our credentials) within `connect_timeout_s` is a `BusUnreachableError`, one line
naming the URL and the last error, and the CLI exits 2. After that the client reconnects
on its own, forever, every `reconnect_wait_s`, to any server of the URL's list (a cluster's
servers, comma-separated) or that the cluster announced: one node's death is a failover.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from venuefeed.bus.url import servers
from venuefeed.core.bus_settings import NatsSettings
from venuefeed.core.errors import ConfigError, StartupError
from venuefeed.core.observe.logs import RateLimitedLog

if TYPE_CHECKING:
    from nats.aio.client import Client as NATS

logger = logging.getLogger(__name__)


class BusUnreachableError(StartupError):
    """NATS could not be reached (or refused us) at start-up."""


def require_nats() -> ModuleType:
    """The `nats` package, or one clear line saying how to install it."""
    try:
        import nats
    except ImportError:
        raise StartupError(
            "the NATS bus needs nats-py, which is not installed: pip install 'venuefeed[nats]'"
        ) from None
    return nats


def tls_for(settings: NatsSettings, url: str) -> ssl.SSLContext | None:
    if settings.tls_ca_file is None and not url.startswith("tls://"):  # lists: one scheme
        return None
    try:
        return ssl.create_default_context(cafile=settings.tls_ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"config error: engine.nats.tls_ca_file = {settings.tls_ca_file!r}: {exc}"
        ) from None


def auth_options(settings: NatsSettings) -> dict[str, Any]:
    """nats.connect keyword arguments for the configured credentials (never logged)."""
    options: dict[str, Any] = {}
    if settings.user is not None:
        options["user"] = settings.user
    if settings.password is not None:
        options["password"] = settings.password.get_secret_value()
    if settings.token is not None:
        options["token"] = settings.token.get_secret_value()
    if settings.creds_file is not None:
        options["user_credentials"] = settings.creds_file
    return options


async def connect(
    url: str,
    settings: NatsSettings,
    *,
    name: str,
    log: RateLimitedLog,
    disconnected: Callable[[], Awaitable[None]] | None = None,
    reconnected: Callable[[], Awaitable[None]] | None = None,
) -> NATS:
    """A connected client, or `BusUnreachableError` after `connect_timeout_s`."""
    require_nats()
    from nats.aio.client import Client

    last_error: list[BaseException] = []
    refused = asyncio.Event()  # the server answered, and said no: waiting will not help
    connected = False

    async def on_error(exc: Exception) -> None:
        if not refused.is_set():  # the refusal, not the reset that follows it, says why
            last_error[:] = [exc]
        if not connected:  # start-up: the outcome is one line, below
            if "authorization" in str(exc).lower() or "authentication" in str(exc).lower():
                refused.set()
            return
        log.log(logging.WARNING, f"nats-error:{url}", "nats %s: %s", url, _describe(exc))

    async def on_disconnect() -> None:  # failed start-up attempts are not outages
        if connected and disconnected is not None:
            await disconnected()

    async def on_reconnect() -> None:
        if connected and reconnected is not None:
            await reconnected()

    client = Client()
    attempt = asyncio.create_task(
        client.connect(
            servers=servers(url),  # a cluster: the client fails over between them
            name=name,
            error_cb=on_error,
            disconnected_cb=on_disconnect,
            reconnected_cb=on_reconnect,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=settings.reconnect_wait_s,  # type: ignore[arg-type]
            connect_timeout=max(1, int(settings.connect_timeout_s)),
            ping_interval=5,
            max_outstanding_pings=2,
            tls=tls_for(settings, url),
            **auth_options(settings),
        ),
        name=f"nats-connect:{url}",
    )
    no = asyncio.create_task(refused.wait(), name=f"nats-refused:{url}")
    try:
        await asyncio.wait(
            {attempt, no}, timeout=settings.connect_timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        no.cancel()
        if not attempt.done():
            attempt.cancel()
        await asyncio.wait({attempt, no})
    if attempt.cancelled() or attempt.exception() is not None:
        await _close_quietly(client)
        error = None if attempt.cancelled() else attempt.exception()
        if error is not None and not isinstance(error, Exception):
            raise error  # KeyboardInterrupt and the like
        cause = last_error[0] if last_error else error
        why = _describe(cause) if cause is not None else ""
        if refused.is_set():
            raise BusUnreachableError(f"nats {url} refused the connection ({why})")
        raise BusUnreachableError(
            f"nats {url} unreachable within {settings.connect_timeout_s:g}s ({why or 'no answer'})"
        )
    connected = True
    return client


async def _close_quietly(client: NATS) -> None:
    try:
        await client.close()
    except Exception as exc:  # closing a client that never connected: nothing to save
        logger.debug("closing an unconnected nats client: %r", exc)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.removeprefix("nats: ")
