"""HTTP requests described by adapters, performed by the core.

Every library exception is translated here, once, into `RestError` naming the venue,
the request and what went wrong, so callers retry or count one exception type.

A body is read whole: over a real link it arrives in pieces, and one `read()` returns
only what has arrived so far. It is bounded by `max_frame_bytes`, checked against the
`Content-Length` before reading when the server sends one, and counted as it streams
otherwise. An error status carries the venue's `Retry-After` to whoever retries.

`fetch` is the exchange (`exchange`: the HTTP request, or a recorded answer in a replay)
then the parse. Each caller says why it asks (`purpose`), so that a recorder (`tap`) can
store the body under its request and a replay can answer the same request the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import aiohttp

from venuefeed.core.adapter import Parsed, RestRequest
from venuefeed.core.codec import decode_json
from venuefeed.core.errors import ParseError, RestError
from venuefeed.core.publishing.sanity import check_results
from venuefeed.core.retry import retry_after_s
from venuefeed.core.settings import Policy
from venuefeed.core.transport.tap import Purpose, Tap

#: plugin parse functions that trip over an unexpected body shape raise these; the
#: body was bad, not the engine, so they count as a failed request.
_BAD_BODY = (ParseError, KeyError, IndexError, TypeError, ValueError, RecursionError)


class RestClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        venue: str,
        base_url: str,
        policy: Policy,
        *,
        tap: Tap | None = None,
    ) -> None:
        self._session = session
        self._venue = venue
        self._base = base_url.rstrip("/")
        self._policy = policy
        self._tap = tap

    def describe(self, request: RestRequest) -> str:
        """How errors name a request: venue, request name, method and URL."""
        return f"{self._venue}: {request.name} ({request.method} {self._base + request.path})"

    async def fetch(self, request: RestRequest, purpose: Purpose = "request") -> Sequence[Parsed]:
        body, recv_ms = await self.exchange(request, purpose)
        try:
            results = request.parse(decode_json(body), recv_ms)
            check_results(results)
        except _BAD_BODY as exc:
            what = self.describe(request)
            raise RestError(f"{what}: bad body: {type(exc).__name__}: {exc}") from None
        return results

    async def exchange(self, request: RestRequest, purpose: Purpose) -> tuple[bytes, int]:
        """The body of a successful answer and its receive time (wall ms); `RestError`
        otherwise. Both, failures too, go to the tap when there is one."""
        tap = self._tap
        try:
            body, status, retry_after = await self._request(request)
        except RestError as exc:
            if tap is not None:
                tap.failed(purpose, request, exc, time.time_ns())
            raise
        ns = time.time_ns()
        if tap is not None:
            tap.answered(purpose, request, status, body, ns)
        if status >= 400:
            raise RestError(
                f"{self.describe(request)}: HTTP {status}: {body[:200]!r}",
                retry_after_s=retry_after,
            )
        return body, ns // 1_000_000

    async def _request(self, request: RestRequest) -> tuple[bytes, int, float | None]:
        url = self._base + request.path
        what = self.describe(request)
        try:
            async with asyncio.timeout(self._policy.request_timeout_s):
                async with self._session.request(
                    request.method,
                    url,
                    params=request.params,
                    json=request.json,
                    headers=request.headers,
                ) as resp:
                    body = await self._read_body(resp, what)
                    retry_after = retry_after_s(resp.headers)
                    return body, resp.status, retry_after
        except TimeoutError:
            raise RestError(f"{what}: timed out after {self._policy.request_timeout_s}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise RestError(f"{what}: {type(exc).__name__}: {exc}") from None

    async def _read_body(self, resp: aiohttp.ClientResponse, what: str) -> bytes:
        cap = self._policy.max_frame_bytes
        declared = resp.content_length
        if declared is not None and declared > cap:
            raise RestError(f"{what}: Content-Length {declared} exceeds max_frame_bytes ({cap})")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > cap:
                raise RestError(f"{what}: body larger than max_frame_bytes ({cap})")
            chunks.append(chunk)
        return b"".join(chunks)
