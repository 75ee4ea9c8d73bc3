"""What a closed socket is reported as."""

from __future__ import annotations

import aiohttp

from venuefeed.core.connection.link import WsLink
from venuefeed.core.errors import FrameTooLargeError


class ClosedSocket:
    """The parts of a closed aiohttp websocket that `Link.ended()` reads."""

    def __init__(self, close_code: int, error: BaseException | None) -> None:
        self.close_code = close_code
        self._error = error

    def exception(self) -> BaseException | None:
        return self._error

    async def receive(self) -> aiohttp.WSMessage:  # the read loop's, never called here
        raise AssertionError("not read")


def test_an_oversized_frame_names_the_limit_not_none():
    link = WsLink(ClosedSocket(aiohttp.WSCloseCode.MESSAGE_TOO_BIG, None), 1_048_576)  # type: ignore[arg-type]
    error = link.ended()
    assert isinstance(error, FrameTooLargeError)
    assert str(error) == "frame larger than max_frame_bytes (1048576 bytes)"
