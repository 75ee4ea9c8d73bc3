"""NATS server URLs as venuefeed accepts them: `nats://HOST:PORT` or `tls://HOST:PORT`,
or several of a cluster's servers separated by commas (`nats://a:4222,nats://b:4222`), the
NATS tools' convention: the client connects to one and fails over to the others.

Credentials in a URL are refused, not stripped: a URL is echoed by `venuefeed config`,
logs, `ps` and shell history, so secrets come from `[engine.nats]` or
`VENUEFEED_ENGINE__NATS__*` only. Error messages never repeat the URL's user part.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from venuefeed.core.errors import ConfigError

SCHEMES = ("nats", "tls")


def parse_nats_url(url: str, *, where: str = "nats url") -> str:
    """Validate and return `scheme://host:port` (port 4222 when omitted), or a comma-
    separated list of them, each once and all with the same scheme."""
    if "," not in url:
        return _parse_one(url, where)
    parsed = [_parse_one(part.strip(), where) for part in url.split(",")]
    if len(set(parsed)) < len(parsed):
        raise ConfigError(f"usage error: {where} {_redacted(url)!r}: a server is listed twice")
    if len({p.partition("://")[0] for p in parsed}) > 1:
        raise ConfigError(f"usage error: {where} {_redacted(url)!r}: mixes nats:// and tls://")
    return ",".join(parsed)


def servers(url: str) -> list[str]:
    """The server URLs of a (validated) `url`, for the client's failover list."""
    return url.split(",")


def _parse_one(url: str, where: str) -> str:
    shown = _redacted(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"usage error: {where} {shown!r}: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"usage error: {where} {shown!r}: expected nats://HOST:PORT or tls://HOST:PORT"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"usage error: {where} {shown!r}: credentials in the URL are refused (they would "
            "show in logs and `ps`); set engine.nats.user/password, token or creds_file, "
            "or VENUEFEED_ENGINE__NATS__PASSWORD"
        )
    if not parts.hostname:
        raise ConfigError(f"usage error: {where} {shown!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"usage error: {where} {shown!r}: expected no path or query")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port or 4222}"


def _redacted(url: str) -> str:
    """`url` with anything before an '@' in its authority replaced by `***`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url if "@" not in url else "***@" + url.rpartition("@")[2]
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{tail}"
