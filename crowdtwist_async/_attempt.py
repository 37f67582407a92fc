"""One attempt at one request: pace, take a slot, send, read the capped body.

`Sender` is what a Session and the copies `with_options` makes of it share
for talking to the network: the HTTP client, the concurrency slots and the
pacer. It knows nothing of retries (`_retry`) or of what a body means
(`_protocol`); it turns httpx's failures into the SDK's own, with the key
left out.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Final, Protocol, runtime_checkable

import anyio
import httpx

from ._config import Limits, Timeout
from ._exceptions import APIConnectionError, APITimeoutError, ResponseDecodeError
from ._redact import KeyMask

__all__ = ["RateLimiter", "Response", "Sender"]

log = logging.getLogger("crowdtwist_async")

#: Past the body cap, how much more of a stream that never awaits is read
#: before it is abandoned (see `_read_capped`).
_DRAIN_LIMIT: Final = 1024 * 1024

#: What one attempt gives back: the status, the headers and the whole body.
Response = tuple[int, httpx.Headers, bytes]


@runtime_checkable
class RateLimiter(Protocol):
    """Decides when a request may start: `acquire()` returns when one may.

    A Session calls it once for every attempt, retries included, before it
    takes one of its concurrency slots, so a limiter shared by several
    sessions (or processes: `crowdtwist_async.redis.RedisRateLimiter`) holds
    them all to one rate. It may raise a `CrowdTwistError` of its own when it
    cannot decide; the request then fails with it, unretried.

    ```python
    class Unlimited:
        async def acquire(self) -> None:
            pass


    ct.Session(api_key="KEY", client_id=123, rate_limit=Unlimited())
    ```
    """

    async def acquire(self) -> None:
        """Return when the caller may start a request."""
        ...


class _Pacer:
    """A token bucket holding one token: requests start at most `rate` a second.

    Each caller reserves the next free start time and sleeps until it, so
    callers are served in order (none starves) and nothing is held while
    sleeping. A caller cancelled while it sleeps leaves its slot unused: the
    rate can only come out lower, never higher.
    """

    __slots__ = ("_interval", "_next")

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = -math.inf

    async def acquire(self) -> None:
        now = anyio.current_time()
        start = max(now, self._next)
        self._next = start + self._interval
        await anyio.sleep(start - now)


class Sender:
    """Sends one attempt of a request within the session's limits."""

    __slots__ = ("_limiter", "_max_body", "_pacer", "client")

    def __init__(
        self, client: httpx.AsyncClient, limits: Limits, limiter: RateLimiter | None = None
    ) -> None:
        self.client = client
        # anyio binds the semaphore to the event loop on first use, so a
        # Session can be made before any loop runs. A free slot is taken
        # without a checkpoint (the request right after it awaits anyway).
        self._limiter = anyio.Semaphore(limits.max_concurrency, fast_acquire=True)
        self._pacer: RateLimiter | None = limiter
        if limiter is None and limits.rate_limit is not None:
            self._pacer = _Pacer(limits.rate_limit)
        self._max_body = limits.max_body_bytes

    async def send(
        self,
        request: httpx.Request,
        path: str,
        limits: Timeout,
        mask: KeyMask,
        auth: httpx.Auth | httpx._client.UseClientDefault = httpx.USE_CLIENT_DEFAULT,
    ) -> Response:
        """One attempt: status, headers and the whole (capped) body.

        *auth*, when given, signs the request (its flow runs in this attempt).

        Raises `APITimeoutError` or `APIConnectionError` (never an httpx
        exception, whose request and text may hold the key *mask* hides), or
        `ResponseDecodeError` for a body over the cap.
        """
        # Pace first, then take a slot: a request waiting for its start time
        # must not hold a slot another could use.
        if self._pacer is not None:
            await self._pacer.acquire()
        async with self._limiter:
            started = time.perf_counter()
            try:
                with anyio.fail_after(limits.total):
                    response = await self.client.send(
                        request, stream=True, follow_redirects=False, auth=auth
                    )
                    try:
                        body = await self._read_capped(response)
                    finally:
                        await response.aclose()
            # httpx's exceptions hold the request, whose URL may hold the key,
            # and a proxy error's text may too: the message is rebuilt with the
            # key redacted and the original is kept out of tracebacks.
            except (httpx.TimeoutException, TimeoutError) as exc:
                raise APITimeoutError(f"GET {path} timed out ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                detail = mask(str(exc))
                raise APIConnectionError(
                    f"GET {path} failed: {type(exc).__name__}: {detail}"
                ) from None
        log.debug(
            "GET %s -> %d (%d bytes, %.0f ms)",
            path,
            response.status_code,
            len(body),
            (time.perf_counter() - started) * 1000,
        )
        return response.status_code, response.headers, body

    async def _read_capped(self, response: httpx.Response) -> bytes:
        """Read the body, refusing one larger than the cap before reading it all."""
        limit = self._max_body
        headers = response.headers
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                raise _too_large(response.status_code, declared + " bytes declared", limit)
            if "content-encoding" not in headers:
                # HTTP/1.1 frames the body by its Content-Length: no more can
                # come. A compressed body could still unpack past the cap.
                return await response.aread()
        chunks: list[bytes] = []
        size = 0
        # Leaving httpx's body iterator early would leave its nested async
        # generators suspended, and trio warns when it collects those. So an
        # oversized body is stopped from the inside: cancel, and the next network
        # read raises through every layer. A stream that never awaits (an
        # in-memory one) is abandoned after a few more chunks instead.
        with anyio.CancelScope() as cut:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size <= limit:
                    chunks.append(chunk)
                elif not cut.cancel_called:
                    cut.cancel()
                    overflow = size
                elif size - overflow > _DRAIN_LIMIT:
                    break
        if cut.cancel_called:
            raise _too_large(response.status_code, f"over {overflow} bytes", limit)
        return b"".join(chunks)


def _too_large(status: int, detail: str, limit: int) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"HTTP {status} response body is too large ({detail}; the limit is {limit} bytes)",
        status_code=status,
    )
