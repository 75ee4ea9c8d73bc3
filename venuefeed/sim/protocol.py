"""What a venue plugin writes for the simulator: the venue-native encoding, nothing else.

A `SimVenue` answers the plugin's REST endpoints and opens `SimSession`s for websocket
connections; a session turns market updates into the frames that venue would send. The
server, the market model, timing and fault injection are core (`server.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from venuefeed.sim.market import MarketUpdate, SyntheticMarket

Frame = str | bytes


@dataclass(frozen=True, slots=True)
class DataFrame:
    """A market-data frame tagged with what it carries, so faults can target it
    (drop the next book frame of BTC to make a sequence gap, duplicate a delta...)."""

    kind: str  # "book", "bbo", "trade", "funding" or "mark"
    symbol: str  # base symbol
    frame: Frame


@dataclass(frozen=True, slots=True)
class SimRequest:
    method: str
    path: str  # the request's full URL path, e.g. "/info" or "/v1/markets"
    query: Mapping[str, str] = field(default_factory=dict)
    json: Any | None = None


@dataclass(frozen=True, slots=True)
class SimResponse:
    body: Any  # JSON-serialisable
    status: int = 200


class SimSession:
    """One websocket connection's protocol state (subscriptions, sequence numbers)."""

    #: send websocket-level pings every `SimServer.ping_s` (venues whose keep-alive is a
    #: protocol ping the client must answer, like Paradex, Extended and Aster); a client
    #: that stops answering them is dropped (`Realism.pong_timeout_pings`)
    ws_ping: bool = False
    #: the venue closes a connection it has heard nothing from for this many ping periods
    #: (`SimServer.ping_s`): its documented idle limit over the client ping period the
    #: plugin recommends. None: the venue has no idle limit (see `sim/checks.py`)
    idle_limit_pings: float | None = None
    #: whether a websocket ping from the client counts as hearing from it for that limit
    #: (some venues count only messages)
    ws_ping_resets_idle: bool = True

    def on_open(self) -> Sequence[Frame]:
        """Frames the venue sends right after the handshake (greetings)."""
        return ()

    def on_message(self, text: str) -> Sequence[Frame]:
        """React to a client message: subscribe acks and initial snapshots, pongs."""
        return ()

    def on_update(self, market: SyntheticMarket, update: MarketUpdate) -> Sequence[DataFrame]:
        """Frames for one market step, for whatever this session is subscribed to."""
        return ()

    def on_tick(self, markets: Mapping[str, SyntheticMarket], now_ms: int) -> Sequence[DataFrame]:
        """Periodic frames not tied to a book step (funding, mark), about once a second."""
        return ()

    def ping(self) -> Frame | None:
        """An application-level ping the venue sends (None: the venue sends none)."""
        return None


class SimVenue:
    """Base class of a plugin's simulator encoder. `markets` maps base symbol -> market."""

    #: the venue name, matching the adapter's `name`
    name: str = ""
    #: headers every request must carry (REST and websocket handshakes alike); a request
    #: without one is refused 403, as the venue's firewall refuses it
    required_headers: tuple[str, ...] = ()

    def __init__(self, markets: Mapping[str, SyntheticMarket]) -> None:
        self.markets = markets

    def rest(self, request: SimRequest) -> SimResponse:
        """Answer one REST request the plugin makes (init, polls, book snapshots)."""
        return SimResponse({"error": f"not simulated: {request.method} {request.path}"}, 404)

    def session(self, path: str, query: Mapping[str, str]) -> SimSession:
        """A new websocket connection to `path` (relative to the venue's ws_url)."""
        raise NotImplementedError

    def urls(self, base_http: str, base_ws: str) -> tuple[str, str]:
        """(ws_url, rest_url) to configure the plugin with for a server at these bases."""
        return base_ws, base_http

    def options(self) -> Mapping[str, Any]:
        """Plugin options the simulator needs (e.g. JSON instead of binary encoding)."""
        return {}
