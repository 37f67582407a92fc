"""`Session`: the credentials, the base URL, the HTTP client it owns or borrows,
its lifecycle, and the one path every request takes (`get_json`, `paginate`
and the endpoint objects all go through `_call`)."""

from __future__ import annotations

import copy
import enum
import os
from collections.abc import Awaitable, Callable, Hashable, Mapping
from functools import partial
from types import TracebackType
from typing import Any, Final, Literal, TypeVar, overload
from urllib.parse import urlencode

import anyio
import attrs
import httpx

from ._attempt import RateLimiter, Response, Sender
from ._config import DEFAULT_TIMEOUT, Limits, Retries, Timeout, merge_limits, merge_retries
from ._endpoints import Users
from ._exceptions import CrowdTwistError, ResponseDecodeError, excerpt
from ._pagination import ASSUMED_PAGE_SIZE, AsyncPaginator, Key, Page, Select, new_items
from ._payload import record_id, structure_listing_page
from ._protocol import (
    build_base_url,
    check_api_key,
    check_int,
    check_path,
    decode_response,
    normalize_base_url,
    query_params,
)
from ._redact import MASK, KeyMask, install_log_filter, scrub
from ._retry import send_with_retries
from ._telemetry import (
    ListingReport,
    active_tracer,
    configure_logging,
    listing_report,
    path_template,
    traced_attempts,
)
from ._version import __version__

__all__ = ["Session"]

AuthMode = Literal["query", "header"]
HttpBackend = Literal["httpx", "aiohttp"]
T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 (an item of a page)
P = TypeVar("P")

#: What a caller's `params` may not set: the session sends the credentials,
#: and a listing asks for its pages itself.
_CALL_RESERVED: Final = frozenset({"api_key"})
_LISTING_RESERVED: Final = frozenset({"api_key", "page", "page_size"})


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
            and keeps it out of every URL. An `httpx.Auth` (an HMAC signer,
            say) signs every attempt itself, retries included; then the
            session sends no key of its own and `api_key` is not needed.
        timeout: limits for each attempt: a `Timeout`, or seconds for the
            whole attempt (connecting gets at most 3 of them), or None.
        retries: when a request is tried again and how long to wait in
            between: a `Retries` (default `Retries()`).
        limits: what the session allows at once: a `Limits` (default
            `Limits()`), its body cap included.
        max_retries: the shortcut for `Retries(max_retries=...)`: further
            attempts after a connection error, a timeout or a
            408/429/500/502/503/504 response (default 2). Not with `retries`.
        max_concurrency: the shortcut for `Limits(max_concurrency=...)`:
            requests in flight at once across every task using this session;
            also the default for each listing (default 4). Not with `limits`.
        rate_limit: at most this many requests a second (retries included)
            across every task using this session (the shortcut for
            `Limits(rate_limit=...)`, not with `limits`); None for no limit.
            Or a `RateLimiter` shared further, e.g. across processes by
            `crowdtwist_async.redis.RedisRateLimiter` (beside `limits`, whose
            `rate_limit` is then None).
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
        auth: AuthMode | httpx.Auth = "query",
        timeout: float | Timeout | None = DEFAULT_TIMEOUT,
        retries: Retries | None = None,
        limits: Limits | None = None,
        max_retries: int | None = None,
        max_concurrency: int | None = None,
        rate_limit: float | RateLimiter | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_backend: HttpBackend = "httpx",
    ) -> None:
        flow = auth if isinstance(auth, httpx.Auth) else None
        if flow is not None:
            if api_key is not None:
                raise ValueError(
                    "pass api_key or an httpx.Auth as auth=, not both: a session that "
                    "signs with an httpx.Auth sends no key of its own"
                )
            key = None
        else:
            key = api_key if api_key is not None else os.environ.get("CROWDTWIST_API_KEY")
            if key is not None and not isinstance(key, str):
                raise TypeError(f"api_key must be a str, got {type(key).__name__}")
            if not key or not key.strip():
                raise ValueError(
                    "no API key: pass api_key=... or set the CROWDTWIST_API_KEY "
                    "environment variable (or sign requests with auth=<an httpx.Auth>)"
                )
        url = base_url if base_url is not None else os.environ.get("CROWDTWIST_BASE_URL") or None
        if url is None:
            if client_id is None:
                raise ValueError(
                    "no base URL: pass base_url=..., set CROWDTWIST_BASE_URL, "
                    "or pass client_id=... (and environment=... outside production)"
                )
            url = build_base_url(environment, client_id)
        if flow is None and auth not in ("query", "header"):
            raise ValueError(f"auth must be 'query', 'header' or an httpx.Auth, got {auth!r}")
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
        self._api_key = None if key is None else key.strip()
        if self._api_key is not None:
            check_api_key(self._api_key, str(auth))
        self._mask = KeyMask(self._api_key)
        self._base_url = normalize_base_url(url)
        base = httpx.URL(self._base_url)
        # For spans: where requests go, without the path.
        self._server = (base.host, base.port or (443 if base.scheme == "https" else 80))
        self._flow = flow
        self._auth: AuthMode | None = None if flow is not None else auth  # type: ignore[assignment]
        self._headers = {"Accept": "application/json"}
        if self._auth == "header":
            self._headers["X-CT-Authorization"] = f"CTApiKey {self._api_key}"
        self._timeout = Timeout.coerce(timeout)
        self._httpx_timeout = self._timeout.for_httpx()
        self._retries = merge_retries(retries, max_retries)
        # A limiter object travels beside the Limits, which hold numbers only.
        limiter = rate_limit if isinstance(rate_limit, RateLimiter) else None
        per_second = None if isinstance(rate_limit, RateLimiter) else rate_limit
        self._limits = merge_limits(limits, max_concurrency, per_second)
        if limiter is not None and self._limits.rate_limit is not None:
            raise ValueError(
                "pass a RateLimiter as rate_limit= or limits=Limits(rate_limit=...), not both"
            )
        self._derived = False
        self._http_backend: HttpBackend = http_backend
        if http_backend == "aiohttp":
            transport = _aiohttp_transport()
        client = http_client if http_client is not None else self._make_client(transport)
        self._shared = _Shared(
            Sender(client, self._limits, limiter), owns_client=http_client is None
        )
        install_log_filter()
        configure_logging()
        self.users = Users(self)

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
        # An Auth's own repr may hold its secret: its class names it enough.
        auth = f"<{type(self._flow).__name__}>" if self._flow is not None else repr(self._auth)
        key = "" if self._api_key is None else f" api_key='{MASK}'"
        return (
            f"<Session {state} base_url={self._base_url!r} auth={auth}{key} "
            f"max_concurrency={self._limits.max_concurrency} "
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
        clone.users = Users(clone)
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
        Called on another event loop than the one the session's requests ran
        on, it marks the session closed and leaves that loop's connections to
        the garbage collector: they cannot be closed from here.
        """
        shared = self._shared
        if self._derived or shared.state is _State.CLOSED:
            return
        shared.state = _State.CLOSED
        if shared.sender.on_another_loop():
            # Used on one event loop, closed on another: the requests still
            # in flight, and the connections, belong to that loop and cannot
            # be touched from this one (see `Sender.aclose`).
            return
        for scope in shared.in_flight:
            scope.cancel()
        if shared.owns_client:
            await shared.sender.aclose()

    def _check_open(self) -> None:
        if self._shared.state is _State.CLOSED:
            raise RuntimeError("this Session is closed; make a new one")

    # -- any CrowdTwist call ---------------------------------------------------

    async def get_json(
        self, path: str, *, params: Mapping[str, str | int | bool] | None = None
    ) -> Any:
        """GET `{base_url}{path}` and return the decoded JSON.

        The request gets everything a listing's does: the credentials,
        retries, the limits, the body cap, strict decoding, the error classes
        and key masking. *path* is percent-encoded already and starts with
        `/` (never an absolute URL); *params* values are str, int or bool
        (`true`/`false`). Arguments are checked before any request. A
        `no_data` answer raises, as the error it is: this call cannot know
        whether the path lists something.

        ```python
        from urllib.parse import quote

        points = await session.get_json(
            f"/v2/users/{quote('alice@example.com', safe='')}/points",
            params={"id_type": "email"},
        )
        ```
        """
        checked = check_path(path)
        query = query_params(params, reserved=_CALL_RESERVED)
        return await self._call(
            checked, query, _as_is, template=path_template(checked), listing=False
        )

    @overload
    def paginate(
        self,
        path: str,
        *,
        items: str,
        params: Mapping[str, str | int | bool] | None = None,
        page_size: int | None = None,
        max_concurrency: int | None = None,
        start_page: int = 1,
        max_items: int | None = None,
        structure: None = None,
        key: Callable[[Mapping[str, Any]], Hashable | None] | None = None,
    ) -> AsyncPaginator[Mapping[str, Any]]: ...

    @overload
    def paginate(
        self,
        path: str,
        *,
        items: str,
        params: Mapping[str, str | int | bool] | None = None,
        page_size: int | None = None,
        max_concurrency: int | None = None,
        start_page: int = 1,
        max_items: int | None = None,
        structure: Callable[[Mapping[str, Any]], T],
        key: Callable[[T], Hashable | None] | None = None,
    ) -> AsyncPaginator[T]: ...

    def paginate(
        self,
        path: str,
        *,
        items: str,
        params: Mapping[str, str | int | bool] | None = None,
        page_size: int | None = None,
        max_concurrency: int | None = None,
        start_page: int = 1,
        max_items: int | None = None,
        structure: Callable[[Mapping[str, Any]], Any] | None = None,
        key: Callable[[Any], Hashable | None] | None = None,
    ) -> AsyncPaginator[Any]:
        """Every item of any listing in CrowdTwist's `paging` envelope.

        The same listing object `aiter_rewards` returns: pages fetched
        concurrently (`max_concurrency`, default the session's), both forms
        (plain `async for` and `async with`), every completeness check, and
        `resume_page`. `items` names the list in each page. Each item is a
        read-only mapping of its JSON object, or what `structure` builds from
        it (an exception there is a `ResponseDecodeError` naming the item).
        `key` says which items are the same record, to yield each once
        (default: the item's `id`, as text, when it has one; a key of None
        is never a repeat). `no_data` and `no_activities` are an empty
        listing. `start_page` (>= 1) starts the walk there; `max_items`
        (>= 1) ends it after that many items, and no page that cannot add to
        them is asked for. Without `page_size` the server chooses it: the
        listing learns it from its first page (a later `start_page` whose
        paging cannot say raises `IncompleteListingError`: pass `page_size`),
        and a `max_items` below 10 is sent as the page size.

        ```python
        async for redemption in session.paginate(
            "/v2.2/users/1001/redemption_history",
            items="redemptions",
            params={"start_date": "2026-01-01"},
            page_size=10,
        ):
            print(redemption["id"], redemption["points"])
        ```
        """
        checked = check_path(path)
        if not isinstance(items, str):
            raise TypeError(f"items must be a str, got {type(items).__name__}")
        if not items:
            raise ValueError("items must name the list in each page, e.g. items='redemptions'")
        query = query_params(params, reserved=_LISTING_RESERVED)
        if page_size is not None:
            query["page_size"] = str(check_int("page_size", page_size, low=1))
        for name, value in (("structure", structure), ("key", key)):
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")

        def parse_page(payload: object, number: int) -> Page[Any, None]:
            return structure_listing_page(payload, number, items, structure)

        return self._listing(
            checked,
            query,
            template=path_template(checked),
            parse_page=parse_page,
            select=new_items,
            key=record_id if key is None else key,
            page_size=page_size,
            max_concurrency=max_concurrency,
            start_page=start_page,
            max_items=max_items,
            noun="items",
        )

    # -- the engine ------------------------------------------------------------

    def _listing(
        self,
        path: str,
        params: dict[str, str],
        *,
        template: str,
        parse_page: Callable[[object, int], Page[I, P]],
        select: Select[I, P, T],
        key: Key[I] | None,
        page_size: int | None,
        max_concurrency: int | None,
        start_page: int,
        max_items: int | None,
        noun: str,
    ) -> AsyncPaginator[T]:
        """A checked, concurrent walk over the pages of GET *path*.

        *page_size* is the size *params* asks for, or None for the server's.
        Arguments are checked here, before any request.
        """
        start = check_int("start_page", start_page, low=1)
        limit = None if max_items is None else check_int("max_items", max_items, low=1)
        if limit is not None:
            # A listing cut inside its first page would resume there, and
            # read the same items again, for ever.
            if page_size is not None and limit < page_size:
                raise ValueError(
                    f"max_items ({limit}) must be at least page_size ({page_size}): a listing "
                    "resumed at resume_page would read the same items again; for the first "
                    f"{limit} {noun} pass page_size={limit} too"
                )
            if page_size is None and limit < ASSUMED_PAGE_SIZE:
                page_size = limit
                params = {**params, "page_size": str(limit)}
        concurrency = (
            self._limits.max_concurrency
            if max_concurrency is None
            else check_int("max_concurrency", max_concurrency, low=1)
        )
        report = listing_report(template)
        call = self._call

        async def fetch(number: int) -> Page[I, P]:
            def parse(payload: object) -> Page[I, P]:
                return parse_page(payload, number)

            query = {**params, "page": str(number)}
            return await call(
                path, query, parse, template=template, listing=True, report=report, page=number
            )

        return AsyncPaginator(
            fetch,
            max_concurrency=concurrency,
            page_size=page_size,
            select=select,
            key=key,
            start_page=start,
            max_items=limit,
            noun=noun,
            report=report,
        )

    async def _call(
        self,
        path: str,
        params: dict[str, str],
        parse: Callable[[object], T],
        *,
        template: str,
        listing: bool,
        report: ListingReport | None = None,
        page: int | None = None,
    ) -> T:
        """GET base_url + path with retries, and *parse* the decoded JSON.

        For a *listing*, *parse* gets `_protocol.EMPTY_LISTING` when the API
        says there is nothing to list. Raises the matching `CrowdTwistError`
        otherwise. *template* names the path in spans and logs.
        """
        self._check_open()
        shared = self._shared
        attempt: Callable[[], Awaitable[Response]]
        if self._flow is None:
            request = self._build_request(path, params)
            attempt = partial(shared.sender.send, request, path, self._timeout, self._mask)
        else:
            # Built anew each attempt: the flow signs a clean request each time.
            attempt = partial(self._signed_attempt, path, params, self._flow)
        parent = None if report is None else report.parent()
        tracer = active_tracer()
        if tracer is not None:
            attempt = traced_attempts(
                attempt,
                tracer,
                parent,
                server=self._server,
                template=template,
                page=page,
                listing=listing,
            )
        with anyio.CancelScope() as closing:
            shared.in_flight.add(closing)
            try:
                status, headers, body = await send_with_retries(attempt, self._retries, path)
                return _parse(status, headers, body, parse, listing)
            except CrowdTwistError as exc:
                scrub(exc, self._mask)
                raise
            finally:
                shared.in_flight.discard(closing)
        # Only `aclose()` cancels this scope: a cancellation from the caller's
        # own scopes is not caught here and goes on up.
        raise RuntimeError(f"the Session was closed while GET {path} was in flight")

    async def _signed_attempt(
        self, path: str, params: dict[str, str], flow: httpx.Auth
    ) -> Response:
        request = self._build_request(path, params)
        return await self._shared.sender.send(request, path, self._timeout, self._mask, flow)

    def _build_request(self, path: str, params: dict[str, str]) -> httpx.Request:
        if self._auth == "query":
            params = {**params, "api_key": str(self._api_key)}
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


def _as_is(payload: object) -> Any:
    return payload


def _parse(
    status: int, headers: httpx.Headers, body: bytes, parse: Callable[[object], T], listing: bool
) -> T:
    """Decode a final response and build the caller's result from it."""
    payload = decode_response(status, headers, body, listing=listing)
    try:
        return parse(payload)
    except ResponseDecodeError as exc:
        # Structuring sees only the JSON; the response is known here.
        exc.status_code = status
        exc.body = excerpt(body)
        raise
