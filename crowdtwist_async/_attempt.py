"""One attempt at one request: pace, take a slot, send, read the capped body.

`Sender` is what a Session and the copies `with_options` makes of it share
for talking to the network: the HTTP client, the concurrency slots and the
pacer. It knows nothing of retries (`_retry`) or of what a body means
(`_protocol`). A request reaches it as an `_exchange.Outgoing`, the same for
each attempt, and goes out on one of two wires: the httpx client (a Request, its
auth flow, a streamed Response), or, on `http_backend="aiohttp"`, straight
through aiohttp (`_aiohttp.AiohttpTransport.exchange`), which builds no httpx
object at all. A signed request (an `httpx.Auth` flow) always takes the httpx
client, which on that stack sends through the same aiohttp session.

Whatever the stack below raises (httpx, httpcore, h11, aiohttp, a decoder, a
transport of the caller's) comes out as the SDK's own error, built after the
failure was handled, so nothing of the original (its request, whose URL or
headers hold the key) is chained to it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from typing import Final, Protocol, runtime_checkable

import anyio
import httpx

from ._config import Limits, Timeout
from ._errors import too_large, transport_error, undecodable
from ._exceptions import CrowdTwistError
from ._exchange import DirectWire, Outgoing, Progress
from ._loops import running_library
from ._redact import KeyMask
from ._retry import Reply

__all__ = ["RateLimiter", "Sender"]

log = logging.getLogger("crowdtwist_async")

#: Past the body cap, how much more of a stream that never awaits is read
#: before it is abandoned (see `_read_capped`).
_DRAIN_LIMIT: Final = 1024 * 1024

#: Why a Session refuses to run on a second event loop (see `Sender.check_loop`).
OTHER_LOOP: Final = (
    "this Session's connections belong to another event loop: "
    "make a Session on the loop that uses it"
)


@runtime_checkable
class RateLimiter(Protocol):
    """Decides when a request may start: `acquire()` returns when one may.

    A Session calls it once for every attempt, retries included, before it
    takes one of its concurrency slots, so a limiter shared by several
    sessions (or processes: `crowdtwist_async.redis.RedisRateLimiter`) holds
    them all to one rate. It may raise a `CrowdTwistError` of its own when it
    cannot decide; the request then fails with it, unretried.

    Example:
        ```python
        class Unlimited:
            async def acquire(self) -> None:
                pass


        ct.Session(api_key="KEY", client_id=123, rate_limit=Unlimited())
        ```
    """

    async def acquire(self) -> None:
        """Return when the caller may start a request.

        Raises:
            CrowdTwistError: when the limiter cannot decide (e.g. the
                `RateLimiterError` of `RedisRateLimiter`); the request is
                then not sent, and fails with it, unretried.
        """
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

    __slots__ = ("_direct", "_loop", "_max_body", "_pacer", "_slots", "client")

    def __init__(
        self,
        client: httpx.AsyncClient,
        limits: Limits,
        limiter: RateLimiter | None = None,
        direct: DirectWire | None = None,
    ) -> None:
        self.client = client
        # The aiohttp transport under `client`, which unsigned requests skip
        # httpx for (None: every request goes through `client`).
        self._direct = direct
        # anyio binds the semaphore to the event loop on first use, so a
        # Session can be made before any loop runs. A free slot is taken
        # without a checkpoint (the request right after it awaits anyway).
        self._slots = anyio.Semaphore(limits.max_concurrency, fast_acquire=True)
        self._pacer: RateLimiter | None = limiter
        if limiter is None and limits.rate_limit is not None:
            self._pacer = _Pacer(limits.rate_limit)
        self._max_body = limits.max_body_bytes
        # The event loop (asyncio's loop, trio's token) of the first request.
        self._loop: weakref.ref[object] | None = None

    def check_loop(self) -> None:
        """Refuse to send on another event loop than the first request's.

        Pooled connections, the slots and the pacer belong to the loop that
        made them: on another, they fail later and obscurely ("Event loop is
        closed", a hang). Raised before anything is sent.
        """
        current = _running_loop()
        if current is None:
            return
        bound = self._loop
        if bound is None:
            self._loop = weakref.ref(current)
        elif bound() is not current:
            raise RuntimeError(OTHER_LOOP)

    def on_another_loop(self) -> bool:
        """Whether a request was sent, and on another event loop than this one."""
        bound = self._loop
        return bound is not None and bound() is not _running_loop()

    async def aclose(self) -> None:
        """Close the HTTP client, on the loop its connections belong to.

        Called on another loop (the first one closed, or running elsewhere),
        it closes nothing: the connections' sockets are registered with that
        loop, and awaiting them here fails ("Event loop is closed") or touches
        a loop from outside it. They are closed when garbage-collected, as
        they would have been had `aclose` not been called.
        """
        if not self.on_another_loop():
            await self.client.aclose()

    async def send(
        self,
        outgoing: Outgoing,
        path: str,
        time_limits: Timeout,
        mask: KeyMask,
        signer: httpx.Auth | None = None,
    ) -> Reply:
        """One attempt: status, headers and the whole (capped) body.

        *signer*, when given, signs the request (its flow runs in this attempt).

        Raises `APITimeoutError`, `APIConnectionError` (retried), or
        `ResponseDecodeError` for a body over the cap or one that does not
        decode (not retried: the same bytes would come back); a
        `RuntimeError` for a closed client or another event loop. Never an
        exception of the stack below, and nothing chained: their request and
        text may hold the key, which *mask* hides in the text kept.
        """
        self.check_loop()
        # Pace first, then take a slot: a request waiting for its start time
        # must not hold a slot another could use.
        if self._pacer is not None:
            await self._pacer.acquire()
        direct = self._direct if signer is None else None
        async with self._slots:
            started = time.perf_counter()
            progress = Progress()
            failure: Exception | None = None
            try:
                if direct is not None:
                    # Runs the total timeout itself (see `exchange`).
                    reply = await direct.exchange(
                        outgoing, time_limits, self._max_body, mask, progress
                    )
                else:
                    with anyio.fail_after(time_limits.total):
                        reply = await self._through_httpx(outgoing, mask, signer, progress)
            except CrowdTwistError:
                raise  # the body's own errors, made here with nothing chained
            except Exception as exc:  # every failure below becomes the SDK's
                failure = exc
            if failure is not None:
                # Raised outside the except block, so that the original does
                # not ride along as __context__ (`from None` only hides it
                # from tracebacks, not from code that walks the chain).
                error = transport_error(failure, outgoing.method, path, mask, progress.status)
                del failure
                raise error
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %d (%d bytes, %.0f ms)",
                outgoing.method,
                path,
                reply[0],
                len(reply[2]),
                (time.perf_counter() - started) * 1000,
            )
        return reply

    async def _through_httpx(
        self, outgoing: Outgoing, mask: KeyMask, signer: httpx.Auth | None, progress: Progress
    ) -> Reply:
        """The attempt through the httpx client: its Request, auth flow and Response."""
        request = self.client.build_request(
            outgoing.method,
            httpx.URL(outgoing.url),
            headers=outgoing.headers,
            content=outgoing.body,
            timeout=outgoing.httpx_timeout,
        )
        response = await self.client.send(
            request,
            stream=True,
            follow_redirects=False,
            auth=httpx.USE_CLIENT_DEFAULT if signer is None else signer,
        )
        progress.status = response.status_code
        try:
            body = await self._read_capped(response, mask)
        finally:
            await response.aclose()
        return response.status_code, response.headers, body

    async def _read_capped(self, response: httpx.Response, mask: KeyMask) -> bytes:
        """Read and decode the body, refusing one larger than the cap (decoded)
        before reading it all, and one that does not decode."""
        limit = self._max_body
        headers = response.headers
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                raise too_large(response.status_code, declared + " bytes declared", limit)
            if "content-encoding" not in headers:
                # HTTP/1.1 frames the body by its Content-Length: no more can
                # come. A compressed body could still unpack past the cap.
                return await response.aread()
        if response.is_stream_consumed:
            # Built in memory (a transport that passed `content=`): httpx
            # has read and decoded it already.
            body = response.content
            if len(body) > limit:
                raise too_large(response.status_code, f"over {len(body)} bytes", limit)
            return body
        return await self._read_streamed(response, mask)

    async def _read_streamed(self, response: httpx.Response, mask: KeyMask) -> bytes:
        """Read and decode a streamed body, up to the cap (see `_read_capped`)."""
        limit = self._max_body
        # httpx's own decoders for the Content-Encoding (gzip, deflate, and
        # br or zstd when their packages are installed), run here on the raw
        # bytes rather than inside httpx's body iterator: one that fails
        # there would leave the iterators below it suspended.
        decoder = response._get_content_decoder()
        chunks: list[bytes] = []
        size = 0
        overflow = 0
        failed: str | None = None
        # Leaving httpx's body iterator early would leave its nested async
        # generators suspended, and trio warns when it collects those. So a
        # body that is oversized or does not decode is stopped from the
        # inside: cancel, and the next network read raises through every
        # layer. A stream that never awaits (an in-memory one) is abandoned
        # after a few more chunks instead.
        with anyio.CancelScope() as cut:
            async for raw in response.aiter_raw():
                if cut.cancel_called:
                    overflow += len(raw)
                    if overflow > _DRAIN_LIMIT:
                        break
                    continue
                try:
                    chunk = decoder.decode(raw)
                except httpx.DecodingError as exc:
                    failed = str(exc)
                    cut.cancel()
                    continue
                size += len(chunk)
                if size <= limit:
                    chunks.append(chunk)
                else:
                    cut.cancel()
            if not cut.cancel_called:
                try:
                    chunk = decoder.flush()
                except httpx.DecodingError as exc:
                    failed = str(exc)
                else:
                    size += len(chunk)
                    if size <= limit:
                        chunks.append(chunk)
        if failed is not None:
            encoding = response.headers.get("content-encoding", "")
            raise undecodable(response.status_code, encoding, failed, mask)
        if size > limit:
            raise too_large(response.status_code, f"over {size} bytes", limit)
        return b"".join(chunks)


def _running_loop() -> object | None:
    """What identifies the running event loop: asyncio's loop, or trio's run."""
    library = running_library()
    if library == "asyncio":
        return asyncio.get_running_loop()
    if library == "trio":
        import trio

        return trio.lowlevel.current_trio_token()
    return None
