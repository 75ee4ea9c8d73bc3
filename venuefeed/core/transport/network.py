"""Where one venue's traffic comes from: the venue itself, or a recording of it.

The engine builds one `VenueIO` per venue through a `NetworkFactory` and hands it to the
venue's tasks (`VenueServices.io`). Live, that is `LiveIO`: `PicowsLink` (or aiohttp's
`WsLink`, by `ws_client`), aiohttp's pools and `RestClient`, each told about a `Tap`
when a recorder is listening. A replay (`venuefeed/record/replay_io.py`) answers from a
recording instead and drives the REST polls from it (`replays`), so the same connection
loop, parsers, book keeper, trade deduplication and publisher run in both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from venuefeed.core.adapter import ConnectionSpec, VenueAdapter
from venuefeed.core.clock import wall_ms
from venuefeed.core.connection.link import Link, WsLink
from venuefeed.core.connection.picolink import PicowsLink
from venuefeed.core.events import StatusState
from venuefeed.core.observe.metrics import Metrics
from venuefeed.core.settings import Policy
from venuefeed.core.transport.pools import VenuePools
from venuefeed.core.transport.rest import RestClient
from venuefeed.core.transport.tap import Tap

#: a status change of one of the venue's streams: (stream, state, reason)
Report = Callable[[str, StatusState, str], None]
#: REST requests a replay makes on the recording's schedule, by `request_key`
Driven = Mapping[str, Callable[[], Awaitable[object]]]


@dataclass(frozen=True)
class VenueSetup:
    """What the engine knows about a venue when it builds its I/O."""

    name: str
    adapter: VenueAdapter
    policy: Policy
    pools: VenuePools
    metrics: Metrics


class VenueIO(Protocol):
    """One venue's sockets, REST client and wall clock."""

    rest: RestClient
    #: True when the recording, not timers, decides when polls happen (see `drive`)
    replays: bool

    def clock(self) -> int:
        """Wall ms for stamps taken outside a frame (REST results, status, gaps)."""

    async def open_link(self, spec: ConnectionSpec) -> Link: ...

    def attach(self, report: Report) -> None:
        """Where this I/O reports its own trouble (a recording that stopped)."""

    def drive(self, requests: Driven) -> None:
        """A replay's polls: the calls to make when the recording reaches their answers."""


NetworkFactory = Callable[[VenueSetup], VenueIO]


class LiveIO:
    """The venue on the network; with a `tap`, every exchange is also recorded."""

    replays = False

    def __init__(self, setup: VenueSetup, tap: Tap | None = None) -> None:
        self._setup = setup
        self._tap = tap
        self.rest = RestClient(
            setup.pools.rest, setup.name, setup.adapter.ctx.rest_url, setup.policy, tap=tap
        )

    def clock(self) -> int:
        return wall_ms()

    async def open_link(self, spec: ConnectionSpec) -> Link:
        setup = self._setup
        if setup.policy.ws_client == "picows":
            return await PicowsLink.open(spec, setup.policy, setup.pools.tls, self._tap)
        return await WsLink.open(setup.pools.ws, spec, setup.policy, self._tap)

    def attach(self, report: Report) -> None:
        """Live sockets report through the connection loop; nothing else to say."""

    def drive(self, requests: Driven) -> None:
        """Live polls run on their timers."""


def live(setup: VenueSetup) -> VenueIO:
    """The default `NetworkFactory`: the venue itself, not recorded."""
    return LiveIO(setup)
