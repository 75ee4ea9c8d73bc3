"""The replay's sequencer: a recording's traffic handed to the engine one record at a
time, in recorded order.

Live, the order in which a connection's frames, another connection's frames and a REST
answer met decides what the engine did (a book snapshot applied before or after a
delta). So the tape gives each record to the one party waiting for it, the replay link
of its connection (`ReplayLink`), the REST request with the same key (`ReplayRest`), or
the link being opened, and waits until that party is done with it (it asks for its next
record, or its session ends) before the next record goes out. Replays of the same
recording therefore run the engine through the same steps.

REST polls (funding, the REST book fallback) happen on the recording's schedule: when
the tape reaches a recorded poll, it makes the engine's poll call (`drive`), which then
takes the record. A record nobody takes within `wait_s` (the replay's engine went
another way, or the recording was cut) is skipped, counted in `skipped` by kind and
logged once per kind; a replay that matches its recording skips nothing.

With `speed`, records go out no faster than `speed` times the recorded pace; without,
as fast as the engine takes them. `now_ms` is the recorded time of the record being
played: the replay's wall clock.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from venuefeed.core.transport.network import Driven
from venuefeed.core.transport.tap import request_key
from venuefeed.record.format import Close, Gap, Open, OpenFailed, Recv, Rest, Sent, Traffic

logger = logging.getLogger(__name__)

#: what a party gets: the record, and the future it resolves when done with it
Handoff = tuple["Played", "asyncio.Future[None]"]
#: records handed to a party (the others are read, not played)
Played = Open | OpenFailed | Recv | Close | Rest
ConnKey = tuple[str, str]  # (venue, connection)


class Tape:
    def __init__(
        self,
        records: Iterable[Traffic],
        *,
        speed: float | None = None,
        to_ns: int | None = None,
        wait_s: float = 5.0,
    ) -> None:
        self._records = records
        self._speed = speed
        self._to_ns = to_ns
        self._wait_s = wait_s
        #: the recorded wall time of the record being played, in ms
        self.now_ms = 0
        self._links: dict[ConnKey, Callable[[Handoff], bool]] = {}
        self._opening: dict[ConnKey, asyncio.Future[Handoff]] = {}
        self._claims: dict[tuple[str, str], collections.deque[asyncio.Future[Handoff]]] = (
            collections.defaultdict(collections.deque)
        )
        self._driven: dict[str, Driven] = {}
        self._changed = asyncio.Event()
        self._calls: set[asyncio.Task[object]] = set()
        #: records no party took, by kind
        self.skipped: collections.Counter[str] = collections.Counter()
        #: records handed to the engine
        self.played = 0
        #: gap marks met: records the recorder lost
        self.gaps = 0
        self.ended = False
        self._opened: set[ConnKey] = set()  # connections whose open record was played
        self._started: set[str] = set()  # venues whose start-up answers were played

    # -- the parties' side -------------------------------------------------------------

    def changed(self) -> None:
        """A party started waiting: the tape looks again."""
        self._changed.set()

    def open(self, venue: str, conn: str) -> asyncio.Future[Handoff]:
        """A link of `conn` is being opened: the future gets its open record."""
        future: asyncio.Future[Handoff] = asyncio.get_running_loop().create_future()
        self._opening[(venue, conn)] = future
        self.changed()
        return future

    def stop_opening(self, venue: str, conn: str, future: asyncio.Future[Handoff]) -> None:
        if self._opening.get((venue, conn)) is future:
            del self._opening[(venue, conn)]

    def attach(self, venue: str, conn: str, take: Callable[[Handoff], bool]) -> None:
        """An open session of `conn`: `take` hands it a record (False: not waiting)."""
        self._links[(venue, conn)] = take

    def detach(self, venue: str, conn: str, take: Callable[[Handoff], bool]) -> None:
        if self._links.get((venue, conn)) == take:
            del self._links[(venue, conn)]

    def claim(self, venue: str, key: str) -> asyncio.Future[Handoff]:
        """A REST request: the future gets the recorded answer to the same request."""
        future: asyncio.Future[Handoff] = asyncio.get_running_loop().create_future()
        self._claims[(venue, key)].append(future)
        self.changed()
        return future

    def unclaim(self, venue: str, key: str, future: asyncio.Future[Handoff]) -> None:
        waiting = self._claims.get((venue, key))
        if waiting is not None and future in waiting:
            waiting.remove(future)

    def drive(self, venue: str, requests: Driven) -> None:
        self._driven[venue] = requests

    # -- playing -------------------------------------------------------------------------

    async def play(self) -> None:
        """Hand out every record; returns when the last one is done with."""
        loop = asyncio.get_running_loop()
        started: tuple[float, int] | None = None
        try:
            for record in self._records:
                if isinstance(record, Sent):
                    continue  # what we sent is for readers; the engine sends its own
                if self._to_ns is not None and record.ns > self._to_ns:
                    break
                if self._speed is not None:
                    if started is None:
                        started = (loop.time(), record.ns)
                    due = started[0] + (record.ns - started[1]) / 1e9 / self._speed
                    await asyncio.sleep(max(0.0, due - loop.time()))
                self.now_ms = record.ns // 1_000_000
                await self._play(record)
        finally:
            for task in self._calls:
                task.cancel()
            await asyncio.gather(*self._calls, return_exceptions=True)
            self.ended = True

    async def _play(self, record: Traffic) -> None:
        if isinstance(record, Gap):
            self.gaps += 1
            logger.warning(
                "replay: the recording lost %d records from %d ns (the recorder fell "
                "behind); what follows may differ from the live run",
                record.lost,
                record.from_ns,
            )
            return
        key: ConnKey
        if isinstance(record, Open | OpenFailed):
            key = (record.venue, record.conn)
            self._opened.add(key)
            if not await self._until(lambda: key in self._opening):
                self._skip(record, "no connection of that name was being opened")
                return
            future = self._opening.pop(key)
            await self._hand(record, future.set_result)
            return
        if isinstance(record, Recv | Close):
            key = (record.venue, record.conn)
            if key not in self._opened and isinstance(record, Recv):
                await self._open_implicitly(record)
            take = self._links.get(key)
            if take is None:
                if isinstance(record, Recv):
                    self._skip(record, "its session is not open in the replay")
                return
            await self._hand(record, take)
            return
        assert isinstance(record, Rest)
        if record.purpose == "init":
            if not record.carried:
                self._started.add(record.venue)
            elif record.venue in self._started:
                return  # the original answers were played: these copies are for cut files
        claim = (record.venue, request_key(record.purpose, record.request))
        if not self._claims.get(claim):
            call = self._driven.get(record.venue, {}).get(claim[1])
            if call is not None:
                self._start(call)
        if not await self._until(lambda: bool(self._claims.get(claim))):
            self._skip(record, "nobody made that request")
            return
        await self._hand(record, self._claims[claim].popleft().set_result)

    async def _open_implicitly(self, first: Recv) -> None:
        """The recording starts inside this session (its older files were deleted, or
        it was cut): open it where its first frame is, as if it had just connected."""
        key = (first.venue, first.conn)
        self._opened.add(key)
        if await self._until(lambda: key in self._opening):
            opened = Open(first.ns, first.venue, first.conn, "")
            await self._hand(opened, self._opening.pop(key).set_result)

    async def _hand(self, record: Played, give: Callable[[Handoff], Any]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if give((record, done)) is False:
            self._skip(record, "its session was not reading")
            return
        self.played += 1
        try:
            async with asyncio.timeout(self._wait_s):
                await done
        except TimeoutError:
            logger.warning(
                "replay: %s %s still busy with a record after %.1fs; going on",
                record.venue,
                type(record).__name__,
                self._wait_s,
            )

    async def _until(self, ready: Callable[[], bool]) -> bool:
        """Wait (at most `wait_s`) until `ready()`: a party arrived."""
        if ready():
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while not ready():
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                return ready()
        return True

    def _start(self, call: Callable[[], Awaitable[object]]) -> None:
        async def run() -> object:
            return await call()

        task = asyncio.get_running_loop().create_task(run())
        self._calls.add(task)  # owned: cancelled and awaited when the tape ends
        task.add_done_callback(self._call_done)

    def _call_done(self, task: asyncio.Task[object]) -> None:
        self._calls.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("replay: a recorded poll failed in the engine: %r", task.exception())

    def _skip(self, record: Played, why: str) -> None:
        kind = type(record).__name__.lower()
        self.skipped[kind] += 1
        if self.skipped[kind] == 1:
            conn = getattr(record, "conn", getattr(record, "purpose", ""))
            logger.warning(
                "replay: %s %s record at %d ns skipped: %s (further skips of this kind "
                "are counted, not logged)",
                record.venue,
                f"{kind} ({conn})",
                record.ns,
                why,
            )
