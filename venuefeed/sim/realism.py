"""How much like the internet a simulated venue behaves: the link and the venue's checks.

Everything venuefeed had been proven against was a peer we wrote ourselves, sharing our
assumptions: REST bodies in one write, websocket frames the instant they were made, plain
text, and a server that never looked at its client. A real link and a real venue do none
of that, so by default the simulator does none of it either:

- REST bodies go out in pieces of `rest_piece_bytes` with jittered pauses, with a
  `Content-Length` for some responses and chunked (no length) for the others, so a client
  that reads one `read()` and calls it the body gets a fragment;
- every websocket frame leaves a few ms after it was made (`ws_delay_s`, jittered), but
  never before a frame made earlier on the same connection: venues' sequence checks rely on
  a connection's order, and a TCP stream keeps it;
- https:// and wss:// with a certificate from a CA made at start-up (`tls`), which the
  client must be told to trust; verification is never switched off;
- the venue checks its client (`client_checks`): websocket pings that must be answered
  within `pong_timeout_pings` ping periods, the venue's own idle limit for venues whose
  clients must send application pings, its required headers (a WAF's 403), and a reader
  so slow that `max_backlog_frames` wait for it is dropped, as a venue drops a slow socket.

Tests pick other values through `SimServer(realism=...)` / `SimCluster(realism=...)`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Realism:
    #: serve https:// and wss:// with a certificate from a CA made at start-up
    tls: bool = True
    #: REST bodies are written in pieces of this many bytes (uniform, inclusive)
    rest_piece_bytes: tuple[int, int] = (256, 1024)
    #: pause before each REST piece, seconds (uniform)
    rest_pause_s: tuple[float, float] = (0.0005, 0.003)
    #: share of REST responses sent chunked, without Content-Length (the rest declare it)
    rest_chunked_share: float = 0.5
    #: delay of each websocket frame, seconds (uniform), never reordering a connection
    ws_delay_s: tuple[float, float] = (0.001, 0.005)
    #: frames due within this long of each other leave in one wake-up of the writer: what
    #: keeps per-frame jitter cheap for hundreds of sockets on two cores
    ws_coalesce_s: float = 0.002
    #: the venue's checks of its client: pongs, idle limits, required headers, backlog
    client_checks: bool = True
    #: a connection that has not answered a websocket ping for this many ping periods is
    #: dropped: generous, because a loaded 2-core CI machine can be late by a period
    pong_timeout_pings: float = 3.0
    #: frames waiting for one slow reader before the venue drops it
    max_backlog_frames: int = 100_000

    def __post_init__(self) -> None:
        low, high = self.rest_piece_bytes
        if not 1 <= low <= high:
            raise ValueError(f"rest_piece_bytes {self.rest_piece_bytes}: need 1 <= low <= high")
        for name in ("rest_pause_s", "ws_delay_s"):
            low_s, high_s = getattr(self, name)
            if not 0 <= low_s <= high_s:
                raise ValueError(f"{name} {(low_s, high_s)}: need 0 <= low <= high")
        if not 0 <= self.rest_chunked_share <= 1:
            raise ValueError(f"rest_chunked_share {self.rest_chunked_share}: need 0..1")
        if self.pong_timeout_pings <= 1:
            raise ValueError("pong_timeout_pings must exceed one ping period")
