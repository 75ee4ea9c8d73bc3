"""Addresses written in configuration: `HOST:PORT` listeners and venue URLs.

Checked once, where the value enters (TOML, env, a CLI flag or a library argument), so a
typo is one line naming the value instead of a traceback from deep inside a socket call,
or a venue that retries a URL that can never work for as long as the engine runs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

#: the schemes each kind of venue URL may use
WS_SCHEMES = ("ws", "wss")
HTTP_SCHEMES = ("http", "https")


def parse_host_port(value: str) -> tuple[str, int]:
    """`"127.0.0.1:9108"` -> `("127.0.0.1", 9108)`; `[::1]:9108` for IPv6.

    Raises `ValueError` saying what is expected (port 0 asks the system for a free one).
    """
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("expected HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:9108")
    return host, int(port)


def check_url(value: str, schemes: tuple[str, ...]) -> str:
    """`value` if it is an absolute URL with one of `schemes` and a host, else
    `ValueError` naming what is expected."""
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{s}://" for s in schemes)
        raise ValueError(f"expected a {wanted} URL with a host, e.g. {schemes[-1]}://host/path")
    try:
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError as exc:
        raise ValueError(f"bad port in URL: {exc}") from None
    return value
