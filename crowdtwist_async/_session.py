"""`Session`: the key, the base URL, the HTTP client it owns or borrows, and its lifecycle."""

from __future__ import annotations

import copy
import enum
import os
from collections.abc import Callable
from functools import partial
from types import TracebackType
from typing import Literal, TypeVar
from urllib.parse import urlencode

import anyio
import attrs
import httpx

from ._attempt import Sender
from ._config import DEFAULT_LIMITS, DEFAULT_RETRIES, DEFAULT_TIMEOUT, Limits, Retries, Timeout
from ._endpoints import Users
from ._exceptions import CrowdTwistError, ResponseDecodeError, excerpt
from ._protocol import build_base_url, check_api_key, decode_response, normalize_base_url
from ._redact import MASK, KeyMask, install_log_filter, scrub
from ._retry import send_with_retries
from ._version import __version__

__all__ = ["Session"]

AuthMode = Literal["query", "header"]
HttpBackend = Literal["httpx", "aiohttp"]
T = TypeVar("T")


class _State(enum.Enum):
    """Where a Session is in its life, as httpx's `ClientState`."""

    UNOPENED = "unopened"  # made; usable as it is, or entered with `async with`
    OPENED = "opened"  # inside its `async with` block
    CLOSED = "closed"  # `aclose()` was called or the block was left; for good


class _Unset:
    """The type of `_UNSET`, for an option left as it is (None means "no limit")."""


_UNSET = _Unset()


class _Shared:
    """What a Session and the copies `with_options` makes of it have in common."""

    __slots__ = ("in_flight", "owns_client", "sender", "state")

    def __init__(self, sender: Sender, *, owns_client: bool) -> None:
        self.sender = sender
        self.owns_client = owns_client
        self.state = _State.UNOPENED
        # The cancel scope of every request running now, so that closing the
        # session ends them at once instead of leaving them on a closed client.
        self.in_flight: set[anyio.CancelScope] = set()


class Session:
    """A connection to one CrowdTwist program, shared by any number of tasks.

    Its lifecycle is httpx.AsyncClient's: use it in `async with`, or make it
    and `await session.aclose()` when done; it may be entered in one task and
    left in another (pytest fixtures, framework startup and shutdown hooks).
    Nothing runs in the background between requests.

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
            a 408/429/500/502/503/504 response (see `Retries`).
        max_concurrency: requests in flight at once across every task using
            this session; also the default for each listing.
        rate_limit: at most this many requests a second (retries included)
            across every task using this session; None for no limit.
        http_client: an `httpx.AsyncClient` to use; the session leaves it open.
            Without one the session makes its own and closes it on `aclose()`.
        transport: an `httpx.AsyncBaseTransport` for the client the session
            makes, e.g. `FakeCrowdTwist().transport()` in tests. Not with
            `http_client`.
        http_backend: what the session's own client sends requests with:
            `"httpx"` (httpcore; asyncio or trio), or `"aiohttp"`, which
            spends less CPU per request once several are in flight but runs
            on asyncio only (`pip install "crowdtwist-async[aiohttp]"`).
            HTTP/1.1; proxies from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`,
            read when the session is made. Timeouts, retries, limits and
            errors are the same on both. Not with `http_client` or `transport`.
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
        max_retries: int = DEFAULT_RETRIES.max_retries,
        max_concurrency: int = DEFAULT_LIMITS.max_concurrency,
        rate_limit: float | None = DEFAULT_LIMITS.rate_limit,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_backend: HttpBackend = "httpx",
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
        if http_backend not in ("httpx", "aiohttp"):
            raise ValueError(f"http_backend must be 'httpx' or 'aiohttp', got {http_backend!r}")
        if http_backend == "aiohttp" and (http_client is not None or transport is not None):
            given = "http_client" if http_client is not None else "transport"
            raise ValueError(
                f"pass {given} or http_backend='aiohttp', not both: "
                "http_backend='aiohttp' makes the session's own client"
            )
        self._api_key = key.strip()
        check_api_key(self._api_key, auth)
        self._mask = KeyMask(self._api_key)
        self._base_url = normalize_base_url(url)
        self._auth: AuthMode = auth
        self._headers = {"Accept": "application/json"}
        if auth == "header":
            self._headers["X-CT-Authorization"] = f"CTApiKey {self._api_key}"
        self._timeout = Timeout.coerce(timeout)
        self._httpx_timeout = self._timeout.for_httpx()
        self._retries = attrs.evolve(DEFAULT_RETRIES, max_retries=max_retries)
        self._limits = Limits(max_concurrency=max_concurrency, rate_limit=rate_limit)
        self._derived = False
        self._http_backend: HttpBackend = http_backend
        if http_backend == "aiohttp":
            transport = _aiohttp_transport()
        client = http_client if http_client is not None else self._make_client(transport)
        self._shared = _Shared(Sender(client, self._limits), owns_client=http_client is None)
        install_log_filter()
        self.users = Users(self._get, self._limits.max_concurrency)

    def _make_client(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        keepalive = max(20, self._limits.max_concurrency)
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
        return self._limits.max_concurrency

    @property
    def limits(self) -> Limits:
        """What this session allows at once, across every task sharing it."""
        return self._limits

    @property
    def retries(self) -> Retries:
        """When this session retries a request, and how long it waits."""
        return self._retries

    @property
    def timeout(self) -> Timeout:
        """The time limits of each attempt."""
        return self._timeout

    @property
    def closed(self) -> bool:
        """Whether `aclose()` has been called (or the `async with` block left)."""
        return self._shared.state is _State.CLOSED

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return (
            f"<Session {state} base_url={self._base_url!r} auth={self._auth!r} "
            f"api_key='{MASK}' max_concurrency={self._limits.max_concurrency} "
            f"max_retries={self._retries.max_retries}>"
        )

    def with_options(
        self,
        *,
        timeout: float | Timeout | _Unset | None = _UNSET,
        max_retries: int | None = None,
    ) -> Session:
        """A copy of this session with other per-request options.

        The copy shares everything else: the connections, the concurrency
        limit and the lifecycle, so it is cheap to make per call. Enter and
        close the original, not the copy.

        ```python
        patient = session.with_options(max_retries=5, timeout=30.0)
        page = await patient.users.get_rewards_page("alice@example.com", id_type="email")
        ```
        """
        clone = copy.copy(self)
        clone._derived = True
        if not isinstance(timeout, _Unset):
            clone._timeout = Timeout.coerce(timeout)
            clone._httpx_timeout = clone._timeout.for_httpx()
        if max_retries is not None:
            clone._retries = attrs.evolve(self._retries, max_retries=max_retries)
        clone.users = Users(clone._get, self._limits.max_concurrency)
        return clone

    # -- lifecycle -----------------------------------------------------------

    async def __aenter__(self) -> Session:
        if self._derived:
            raise RuntimeError(
                "enter the Session this one was derived from with_options(), not the copy"
            )
        self._check_open()
        if self._shared.state is _State.OPENED:
            raise RuntimeError("this Session has already been entered")
        self._shared.state = _State.OPENED
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session, and its HTTP client if the session made it.

        Requests still running (in other tasks) end at once with a
        RuntimeError; later ones are refused. Idempotent. On a copy made by
        `with_options()` this does nothing: the original owns the connections.
        """
        shared = self._shared
        if self._derived or shared.state is _State.CLOSED:
            return
        shared.state = _State.CLOSED
        for scope in shared.in_flight:
            scope.cancel()
        if shared.owns_client:
            await shared.sender.client.aclose()

    def _check_open(self) -> None:
        if self._shared.state is _State.CLOSED:
            raise RuntimeError("this Session is closed; make a new one")

    # -- requests ------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, str], parse: Callable[[object], T]) -> T:
        """GET base_url + path with retries, and *parse* the decoded JSON.

        *parse* gets `_protocol.EMPTY_LISTING` when the API says there is
        nothing to list. Raises the matching `CrowdTwistError` otherwise.
        """
        self._check_open()
        shared = self._shared
        request = self._build_request(path, params)
        attempt = partial(shared.sender.send, request, path, self._timeout, self._mask)
        with anyio.CancelScope() as closing:
            shared.in_flight.add(closing)
            try:
                status, headers, body = await send_with_retries(attempt, self._retries, path)
                return _parse(status, headers, body, parse)
            except CrowdTwistError as exc:
                scrub(exc, self._mask)
                raise
            finally:
                shared.in_flight.discard(closing)
        # Only `aclose()` cancels this scope: a cancellation from the caller's
        # own scopes is not caught here and goes on up.
        raise RuntimeError(f"the Session was closed while GET {path} was in flight")

    def _build_request(self, path: str, params: dict[str, str]) -> httpx.Request:
        if self._auth == "query":
            params = {**params, "api_key": self._api_key}
        # The whole URL, parsed once: given `params`, httpx parses the URL,
        # then parses it again to merge them (about 20 µs a request). The
        # query comes out byte for byte as httpx's own encoding would make it.
        query = urlencode(params)
        url = httpx.URL(f"{self._base_url}{path}?{query}" if query else self._base_url + path)
        return self._shared.sender.client.build_request(
            "GET", url, headers=self._headers, timeout=self._httpx_timeout
        )


def _aiohttp_transport() -> httpx.AsyncBaseTransport:
    """The transport for `http_backend="aiohttp"`, refused early where it cannot run."""
    # Imported here: aiohttp is optional, and slow to import for those who
    # never use it.
    from ._aiohttp import AiohttpTransport, check_event_loop

    check_event_loop()
    return AiohttpTransport()


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
