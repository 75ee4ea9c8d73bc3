"""HTTP requests described by adapters, performed by the core.

Every library exception is translated here, once, into `RestError` naming the venue,
the request and what went wrong, so callers retry or count one exception type.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp

from venuefeed.core.adapter import Parsed, RestRequest
from venuefeed.core.clock import wall_ms
from venuefeed.core.codec import decode_json
from venuefeed.core.errors import ParseError, RestError
from venuefeed.core.settings import Policy

#: plugin parse functions that trip over an unexpected body shape raise these; the
#: body was bad, not the engine, so they count as a failed request.
_BAD_BODY = (ParseError, KeyError, IndexError, TypeError, ValueError)


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
                    body = await resp.content.read(self._policy.max_frame_bytes + 1)
                    if resp.status >= 400:
                        raise RestError(
                            f"{what}: HTTP {resp.status}: {body[:200]!r}",
                            retry_after_s=_retry_after(resp.headers.get("Retry-After")),
                        )
        except TimeoutError:
            raise RestError(f"{what}: timed out after {self._policy.request_timeout_s}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise RestError(f"{what}: {type(exc).__name__}: {exc}") from None
        if len(body) > self._policy.max_frame_bytes:
            raise RestError(
                f"{what}: body larger than max_frame_bytes ({self._policy.max_frame_bytes})"
            )
        try:
            return request.parse(decode_json(body), wall_ms())
        except _BAD_BODY as exc:
            raise RestError(f"{what}: bad body: {type(exc).__name__}: {exc}") from None


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
