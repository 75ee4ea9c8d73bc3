"""What a real venue checks about its client, as the simulated venues apply it.

Real venues drop a client that stops answering websocket pings, close a socket they have
heard nothing from for longer than their idle limit when the protocol makes the client
ping, and refuse requests that lack a header their firewall requires. A simulator that
checked none of this would pass a client that does none of it.

Time is counted in ping periods (`SimServer.ping_s`): a session's `idle_limit_pings` is the
venue's documented idle limit over the client ping period the plugin recommends, so a sim
run whose ping period is the configured `heartbeat_interval_s` keeps the venue's ratio.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: why the simulated venue dropped a client (SimServer.client_drops keys)
PONG_TIMEOUT = "pong_timeout"
IDLE = "idle"
BACKLOG = "backlog"


def missing_headers(headers: Mapping[str, str], required: Iterable[str]) -> list[str]:
    """The required headers a request lacks (present but blank counts as missing)."""
    return [name for name in required if not headers.get(name, "").strip()]


@dataclass
class Keepalive:
    """One connection's evidence that its client is alive (loop times)."""

    last_pong: float  # the last websocket pong (the connection's start before any)
    last_heard: float  # the last client frame that counts for the venue's idle limit

    def verdict(
        self,
        now: float,
        *,
        ping_s: float,
        pong_timeout_pings: float,
        ws_ping: bool,
        idle_limit_pings: float | None,
    ) -> str | None:
        """Why the venue drops this client now, or None while it behaves."""
        if ws_ping and now - self.last_pong > pong_timeout_pings * ping_s:
            return PONG_TIMEOUT
        if idle_limit_pings is not None and now - self.last_heard > idle_limit_pings * ping_s:
            return IDLE
        return None
