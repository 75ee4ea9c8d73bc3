"""HTTP requests described by adapters, performed by the core.

Every library exception is translated here, once, into `RestError` naming the venue,
the request and what went wrong, so callers retry or count one exception type.

A body is read whole: over a real link it arrives in pieces, and one `read()` returns
only what has arrived so far. It is bounded by `max_frame_bytes`, checked against the
`Content-Length` before reading when the server sends one, and counted as it streams
otherwise. An error status carries the venue's `Retry-After` to whoever retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp

from venuefeed.core.adapter import Parsed, RestRequest
from venuefeed.core.clock import wall_ms
from venuefeed.core.codec import decode_json
from venuefeed.core.errors import ParseError, RestError
from venuefeed.core.publishing.sanity import check_results
from venuefeed.core.settings import Policy

#: plugin parse functions that trip over an unexpected body shape raise these; the
#: body was bad, not the engine, so they count as a failed request.
_BAD_BODY = (ParseError, KeyError, IndexError, TypeError, ValueError, RecursionError)


class RestClient:
    def __init__(
        self, session: aiohttp.ClientSession, venue: str, base_url: str, policy: Policy
    ) -> None:
        self._session = session
        self._venue = venue
        self._base = base_url.rstrip("/")
        self._policy = policy

    async def fetch(self, request: RestRequest) -> Sequence[Parsed]:
        url = self._base + request.path
        what = f"{self._venue}: {request.name} ({request.method} {url})"
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
                    if resp.status >= 400:
                        raise RestError(
                            f"{what}: HTTP {resp.status}: {body[:200]!r}",
                            retry_after_s=_retry_after(resp.headers.get("Retry-After")),
                        )
        except TimeoutError:
            raise RestError(f"{what}: timed out after {self._policy.request_timeout_s}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise RestError(f"{what}: {type(exc).__name__}: {exc}") from None
        try:
            results = request.parse(decode_json(body), wall_ms())
            check_results(results)
        except _BAD_BODY as exc:
            raise RestError(f"{what}: bad body: {type(exc).__name__}: {exc}") from None
        return results

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


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
