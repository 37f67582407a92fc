"""`Session`: owns (or borrows) the HTTP client, the key, the limits and the retries."""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal, TypeVar

import anyio
import httpx

from ._config import Timeout
from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    CrowdTwistError,
    ResponseDecodeError,
    excerpt,
)
from ._pagination import close_task_group, open_task_group
from ._protocol import (
    RETRYABLE_STATUSES,
    backoff_delay,
    build_base_url,
    check_int,
    decode_response,
    normalize_base_url,
    parse_retry_after,
)
from ._redact import MASK, install_log_filter, scrub

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from ._endpoints import Users

__all__ = ["DEFAULT_TIMEOUT", "Session"]

log = logging.getLogger("crowdtwist_async")

#: A web app should fail fast on a dead host but give a slow page time.
DEFAULT_TIMEOUT: Final = Timeout(total=10.0, connect=3.0)

#: A page of 10 rewards is a few KiB; anything near this is not a page.
MAX_BODY_BYTES: Final = 10 * 1024 * 1024
_DRAIN_LIMIT: Final = 1024 * 1024

#: Backoff between attempts: full jitter, doubling from BASE up to CAP seconds.
BACKOFF_BASE: Final = 0.5
BACKOFF_CAP: Final = 8.0

#: A Retry-After longer than this is not slept on; the error is raised instead.
MAX_RETRY_AFTER: Final = 60.0

AuthMode = Literal["query", "header"]
T = TypeVar("T")


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

    async def wait(self) -> None:
        now = anyio.current_time()
        start = max(now, self._next)
        self._next = start + self._interval
        await anyio.sleep(start - now)


class _Unset:
    """The type of `_UNSET`, for an option left as it is (None means "no limit")."""


_UNSET: Final = _Unset()


class _Shared:
    """What a Session and the copies `with_options` makes of it have in common."""

    __slots__ = ("client", "closed", "limiter", "owns_client", "pacer", "task_group")

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        owns_client: bool,
        concurrency: int,
        rate_limit: float | None,
    ) -> None:
        self.client = client
        self.owns_client = owns_client
        # anyio binds the semaphore to the event loop on first use, so a
        # Session can be made before any loop runs.
        self.limiter = anyio.Semaphore(concurrency)
        self.pacer = _Pacer(rate_limit) if rate_limit is not None else None
        self.task_group: TaskGroup | None = None
        self.closed = False


class Session:
    """A connection to one CrowdTwist program, shared by any number of tasks.

    The key and base URL may come from the environment
    (`CROWDTWIST_API_KEY`, `CROWDTWIST_BASE_URL`); otherwise the base URL is
    built from `client_id` and `environment` as the docs describe
    (`https://[environment]api[client_id].crowdtwist.com`).

    **Usage**

    ```python
    async with crowdtwist_async.Session(api_key="KEY", client_id=123) as session:
        async for reward in session.users.aiter_rewards("alice@example.com", id_type="email"):
            print(reward.title)
    ```

    Arguments:
        api_key: the program's API key; defaults to `$CROWDTWIST_API_KEY`.
        base_url: e.g. `"https://api123.crowdtwist.com"`; defaults to
            `$CROWDTWIST_BASE_URL`, then to the URL built from `client_id`.
        client_id: the number in your API host name (`api<client_id>`).
        environment: the host prefix of a non-production environment, such
            as `"sb-"` (sandbox); `""` is production.
        auth: `"query"` sends the key as the documented `api_key` query
            parameter; `"header"` sends it as `X-CT-Authorization: CTApiKey <key>`
            and keeps it out of every URL.
        timeout: limits for each attempt: a `Timeout`, or seconds for the
            whole attempt (connecting gets at most 3 of them), or None.
        max_retries: further attempts after a connection error, a timeout or
            a 408/429/500/502/503/504 response.
        max_concurrency: requests in flight at once across every task using
            this session; also the default for each listing.
        rate_limit: at most this many requests a second (retries included)
            across every task using this session; None for no limit.
        http_client: an `httpx.AsyncClient` to use; the session leaves it open.
            Without one the session makes its own and closes it on `aclose()`.
        transport: an `httpx.AsyncBaseTransport` for the client the session
            makes, e.g. `FakeCrowdTwist().transport()` in tests. Not with
            `http_client`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        client_id: str | int | None = None,
        environment: str = "",
        auth: AuthMode = "query",
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        max_concurrency: int = 4,
        rate_limit: float | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("CROWDTWIST_API_KEY")
        if key is not None and not isinstance(key, str):
            raise TypeError(f"api_key must be a str, got {type(key).__name__}")
        if not key or not key.strip():
            raise ValueError(
                "no API key: pass api_key=... or set the CROWDTWIST_API_KEY environment variable"
            )
        url = base_url if base_url is not None else os.environ.get("CROWDTWIST_BASE_URL") or None
        if url is None:
            if client_id is None:
                raise ValueError(
                    "no base URL: pass base_url=..., set CROWDTWIST_BASE_URL, "
                    "or pass client_id=... (and environment=... outside production)"
                )
            url = build_base_url(environment, client_id)
        if auth not in ("query", "header"):
            raise ValueError(f"auth must be 'query' or 'header', got {auth!r}")
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(
                f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}"
            )
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        self._api_key = key.strip()
        self._base_url = normalize_base_url(url)
        self._auth: AuthMode = auth
        self._timeout = Timeout.coerce(timeout)
        self._max_retries = check_int("max_retries", max_retries, low=0)
        self._max_concurrency = check_int("max_concurrency", max_concurrency, low=1)
        self._derived = False
        client = http_client if http_client is not None else self._make_client(transport)
        self._shared = _Shared(
            client,
            owns_client=http_client is None,
            concurrency=self._max_concurrency,
            rate_limit=_check_rate(rate_limit),
        )
        install_log_filter()
        self.users = self._users()

    def _users(self) -> Users:
        from ._endpoints import Users

        return Users(self)

    def _make_client(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        from . import __version__

        keepalive = max(20, self._max_concurrency)
        return httpx.AsyncClient(
            transport=transport,
            timeout=self._timeout.for_httpx(),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=keepalive),
            headers={"User-Agent": f"crowdtwist-async/{__version__}"},
        )

    @property
    def base_url(self) -> str:
        """The base URL every request goes to, without a trailing slash."""
        return self._base_url

    @property
    def max_concurrency(self) -> int:
        """The most requests this session has in flight at once."""
        return self._max_concurrency

    @property
    def closed(self) -> bool:
        """Whether `aclose()` has been called (or the `async with` block left)."""
        return self._shared.closed

    def __repr__(self) -> str:
        state = "closed" if self._shared.closed else "open"
        return (
            f"<Session {state} base_url={self._base_url!r} auth={self._auth!r} "
            f"api_key='{MASK}' max_concurrency={self._max_concurrency} "
            f"max_retries={self._max_retries}>"
        )

    def with_options(
        self,
        *,
        timeout: float | Timeout | _Unset | None = _UNSET,
        max_retries: int | None = None,
    ) -> Session:
        """A copy of this session with other per-request options.

        The copy shares everything else: the connections, the concurrency
        limit, the task group and the lifecycle, so it is cheap to make per
        call. Enter and close the original, not the copy.

        ```python
        patient = session.with_options(max_retries=5, timeout=30.0)
        page = await patient.users.get_rewards_page("alice@example.com", id_type="email")
        ```
        """
        clone = copy.copy(self)
        clone._derived = True
        if not isinstance(timeout, _Unset):
            clone._timeout = Timeout.coerce(timeout)
        if max_retries is not None:
            clone._max_retries = check_int("max_retries", max_retries, low=0)
        clone.users = clone._users()
        return clone

    # -- lifecycle -----------------------------------------------------------

    async def __aenter__(self) -> Session:
        if self._derived:
            raise RuntimeError(
                "enter the Session this one was derived from with_options(), not the copy"
            )
        self._check_open()
        if self._shared.task_group is not None:
            raise RuntimeError("this Session has already been entered")
        self._shared.task_group = await open_task_group()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        group, self._shared.task_group = self._shared.task_group, None
        try:
            if group is not None:
                await close_task_group(group)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the session, and its HTTP client if the session made it.

        On a copy made by `with_options()` this does nothing: the original
        owns the connections.
        """
        shared = self._shared
        if self._derived or shared.closed:
            return
        shared.closed = True
        if shared.owns_client:
            await shared.client.aclose()

    def _page_task_group(self) -> TaskGroup:
        """The task group that runs page requests of listings read via this session."""
        self._check_open()
        if self._shared.task_group is None:
            raise RuntimeError(
                "reading a listing fetches pages in background tasks, which need a home: "
                "use `async with Session(...) as session:`, or enter the listing itself: "
                "`async with session.users.aiter_rewards(...) as rewards:`"
            )
        return self._shared.task_group

    def _check_open(self) -> None:
        if self._shared.closed:
            raise RuntimeError("this Session is closed; make a new one")

    # -- requests ------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, str], parse: Callable[[object], T]) -> T:
        """GET base_url + path with retries, and *parse* the decoded JSON.

        *parse* gets `_protocol.EMPTY_LISTING` when the API says there is
        nothing to list. Raises the matching `CrowdTwistError` otherwise.
        """
        self._check_open()
        try:
            return await self._get_with_retries(path, params, parse)
        except CrowdTwistError as exc:
            scrub(exc, self._api_key)
            raise

    async def _get_with_retries(
        self, path: str, params: dict[str, str], parse: Callable[[object], T]
    ) -> T:
        request = self._build_request(path, params)
        retry = 0
        while True:
            try:
                status, headers, body = await self._send(request, path)
            except APIConnectionError as exc:
                if retry >= self._max_retries:
                    raise
                delay = backoff_delay(retry, base=BACKOFF_BASE, cap=BACKOFF_CAP)
                reason = type(exc).__name__
            else:
                retry_in = self._retry_delay(status, headers, retry)
                if retry_in is None:
                    return _parse(status, headers, body, parse)
                delay, reason = retry_in, f"HTTP {status}"
            retry += 1
            log.debug("retrying GET %s in %.2fs after %s (retry %d)", path, delay, reason, retry)
            await anyio.sleep(delay)

    def _retry_delay(self, status: int, headers: httpx.Headers, retry: int) -> float | None:
        """Seconds to wait before retrying a response, or None to not retry it."""
        if status not in RETRYABLE_STATUSES or retry >= self._max_retries:
            return None
        wait = parse_retry_after(headers)
        if wait is None:
            return backoff_delay(retry, base=BACKOFF_BASE, cap=BACKOFF_CAP)
        # A long wait is the caller's decision: the error carries retry_after.
        return wait if wait <= MAX_RETRY_AFTER else None

    def _build_request(self, path: str, params: dict[str, str]) -> httpx.Request:
        headers = {"Accept": "application/json"}
        if self._auth == "header":
            headers["X-CT-Authorization"] = f"CTApiKey {self._api_key}"
        else:
            params = {**params, "api_key": self._api_key}
        return self._shared.client.build_request(
            "GET",
            self._base_url + path,
            params=params,
            headers=headers,
            timeout=self._timeout.for_httpx(),
        )

    async def _send(self, request: httpx.Request, path: str) -> tuple[int, httpx.Headers, bytes]:
        """One attempt: status, headers and the whole (capped) body."""
        client = self._shared.client
        # Pace first, then take a slot: a request waiting for its start time
        # must not hold a slot another could use.
        if self._shared.pacer is not None:
            await self._shared.pacer.wait()
        async with self._shared.limiter:
            started = time.perf_counter()
            try:
                with anyio.fail_after(self._timeout.total):
                    response = await client.send(request, stream=True, follow_redirects=False)
                    try:
                        body = await _read_capped(response)
                    finally:
                        await response.aclose()
            # httpx's exceptions hold the request, whose URL may hold the key,
            # and a proxy error's text may too: the message is rebuilt with the
            # key redacted and the original is kept out of tracebacks.
            except (httpx.TimeoutException, TimeoutError) as exc:
                raise APITimeoutError(f"GET {path} timed out ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                detail = str(exc).replace(self._api_key, MASK)
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


def _check_rate(rate: object) -> float | None:
    if rate is None:
        return None
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise TypeError(f"rate_limit must be requests per second or None, got {rate!r}")
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate_limit must be positive and finite, got {rate!r}")
    return float(rate)


def _parse(status: int, headers: httpx.Headers, body: bytes, parse: Callable[[object], T]) -> T:
    """Decode a final response and build the caller's result from it."""
    payload = decode_response(status, headers, body)
    try:
        return parse(payload)
    except ResponseDecodeError as exc:
        # Structuring sees only the JSON; the response is known here.
        exc.status_code = status
        exc.body = excerpt(body)
        raise


async def _read_capped(response: httpx.Response) -> bytes:
    """Read the body, refusing one larger than MAX_BODY_BYTES before reading it all."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large(response.status_code, declared + " bytes declared")
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
            if size <= MAX_BODY_BYTES:
                chunks.append(chunk)
            elif not cut.cancel_called:
                cut.cancel()
                overflow = size
            elif size - overflow > _DRAIN_LIMIT:
                break
    if cut.cancel_called:
        raise _too_large(response.status_code, f"over {overflow} bytes")
    return b"".join(chunks)


def _too_large(status: int, detail: str) -> ResponseDecodeError:
    return ResponseDecodeError(
        f"HTTP {status} response body is too large ({detail}; the limit is {MAX_BODY_BYTES} bytes)",
        status_code=status,
    )
