"""`Session`: the public face of one CrowdTwist program: its arguments, checked
once, its lifecycle, and the calls on any path (`get_json`, `paginate`); the
resource objects (`session.users`) and every request run on its `Engine`."""

from __future__ import annotations

import copy
import http.cookiejar
import os
from collections.abc import Callable, Hashable, Mapping
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, overload

import attrs
import httpx

from ._attempt import RateLimiter, Sender
from ._config import DEFAULT_TIMEOUT, Limits, Timeout, merge_limits, merge_retries
from ._endpoints import Coupons, Rewards, Users
from ._engine import AuthMode, Connection, Credentials, Engine
from ._listing import ListingOptions, ListingSpec
from ._page import new_items
from ._pagination import AsyncPaginator
from ._payload import record_id, structure_listing_page
from ._protocol import (
    build_base_url,
    check_api_key,
    check_path,
    normalize_base_url,
    query_params,
)
from ._redact import install_log_filter
from ._retry import Retries
from ._telemetry import configure_logging, path_template
from ._version import __version__

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._aiohttp import AiohttpTransport

__all__ = ["Session"]

HttpBackend = Literal["httpx", "aiohttp"]
T = TypeVar("T")

#: What a caller's `params` may not set: the session sends the credentials,
#: and a listing asks for its pages itself.
_CALL_RESERVED: Final = frozenset({"api_key"})
_LISTING_RESERVED: Final = frozenset({"api_key", "page", "page_size"})


class _Unset:
    """The type of `_UNSET`, for an option left as it is (None means "no limit")."""


_UNSET = _Unset()


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

    Args:
        api_key: the program's API key; defaults to `$CROWDTWIST_API_KEY`.
        base_url: e.g. `"https://api123.crowdtwist.com"`; defaults to
            `$CROWDTWIST_BASE_URL`, then to the URL built from `client_id`.
        client_id: the number in your API host name (`api<client_id>`);
            only needed without a base URL (default None).
        environment: the host prefix of a non-production environment, such
            as `"sb-"` (sandbox); `""` (the default) is production.
        auth: `"query"` (the default) sends the key as the documented
            `api_key` query parameter; `"header"` sends it as
            `X-CT-Authorization: CTApiKey <key>` and keeps it out of every
            URL. An `httpx.Auth` (`CTApiV2Auth`, CrowdTwist's HMAC signer)
            signs every attempt itself, retries included; then the session
            sends no key of its own and `api_key` is not needed.
        timeout: limits for each attempt: a `Timeout`, or seconds for the
            whole attempt (connecting gets at most 3 of them), or None for
            no limit (default `DEFAULT_TIMEOUT`: 10 s, 3 s to connect).
        retries: when a request is tried again and how long to wait in
            between: a `Retries` (default `Retries()`).
        limits: what the session allows at once: a `Limits` (default
            `Limits()`), its body cap included.
        max_retries: the shortcut for `Retries(max_retries=...)`: further
            attempts after a connection error, a timeout or a
            408/429/500/502/503/504 response (default 2); for a write, only
            after a connection never made or a 429. Not with `retries`.
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

    Raises:
        ValueError: if no API key or base URL is given or set in the
            environment, if options that exclude each other are both given
            (`retries` and `max_retries`, `limits` and a shortcut,
            `http_client` and `transport`...), or if a value is out of its
            bounds; before any request.
        TypeError: if an argument is not of its type.
        RuntimeError: for `http_backend="aiohttp"` under a running event loop
            that is not asyncio's.
        ModuleNotFoundError: for `http_backend="aiohttp"` without aiohttp
            installed.

    Example:
        ```python
        async with ct.Session(api_key="KEY", client_id=123) as session:
            async for reward in session.users.aiter_rewards("alice@example.com", id_type="email"):
                print(reward.title)
        ```
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
        credentials = _credentials(api_key, auth)
        url = normalize_base_url(_base_url(base_url, client_id, environment))
        _check_client_options(http_client, transport, http_backend)
        checked_timeout = Timeout.coerce(timeout)
        checked_retries = merge_retries(retries, max_retries)
        # A limiter object travels beside the Limits, which hold numbers only.
        limiter = rate_limit if isinstance(rate_limit, RateLimiter) else None
        per_second = None if isinstance(rate_limit, RateLimiter) else rate_limit
        checked_limits = merge_limits(limits, max_concurrency, per_second)
        if limiter is not None and checked_limits.rate_limit is not None:
            raise ValueError(
                "pass a RateLimiter as rate_limit= or limits=Limits(rate_limit=...), not both"
            )
        direct = _aiohttp_transport() if http_backend == "aiohttp" else None
        client = (
            http_client
            if http_client is not None
            else _make_client(direct or transport, checked_timeout, checked_limits)
        )
        if direct is not None:
            # The direct path sends what the client would add to each request.
            direct.default_headers = {
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in client.headers.raw
            }
        connection = Connection(
            Sender(client, checked_limits, limiter, direct), owns_client=http_client is None
        )
        self._engine = Engine(
            connection=connection,
            credentials=credentials,
            base_url=url,
            timeout=checked_timeout,
            retries=checked_retries,
            limits=checked_limits,
        )
        self._derived = False
        self._http_backend: HttpBackend = http_backend
        install_log_filter()
        configure_logging()
        self._resources()

    users: Users
    """The member calls: `session.users.aiter_rewards(...)`, `.get(...)`, `.redeem(...)`..."""
    rewards: Rewards
    """The program's rewards: `session.rewards.aiter_catalog()`."""
    coupons: Coupons
    """Coupons at the till: `session.coupons.use(...)`, `.unuse(...)`."""

    def _resources(self) -> None:
        """Hand the session's engine to its resource objects."""
        engine = self._engine
        self.users = Users(engine)
        self.rewards = Rewards(engine)
        self.coupons = Coupons(engine)

    @property
    def base_url(self) -> str:
        """The base URL every request goes to, without a trailing slash."""
        return self._engine.base_url

    @property
    def http_backend(self) -> HttpBackend:
        """What the session's own client sends with: `"httpx"` or `"aiohttp"`.

        `"httpx"` too for a client or transport passed in.
        """
        return self._http_backend

    @property
    def max_concurrency(self) -> int:
        """The most requests this session has in flight at once."""
        return self._engine.limits.max_concurrency

    @property
    def limits(self) -> Limits:
        """What this session allows at once, across every task sharing it."""
        return self._engine.limits

    @property
    def retries(self) -> Retries:
        """When this session retries a request, and how long it waits."""
        return self._engine.retries

    @property
    def timeout(self) -> Timeout:
        """The time limits of each attempt."""
        return self._engine.timeout

    @property
    def closed(self) -> bool:
        """Whether `aclose()` has been called (or the `async with` block left)."""
        return self._engine.connection.closed

    def __repr__(self) -> str:
        engine = self._engine
        state = "closed" if self.closed else "open"
        return (
            f"<Session {state} base_url={engine.base_url!r} {engine.credentials.describe()} "
            f"max_concurrency={engine.limits.max_concurrency} "
            f"max_retries={engine.retries.max_retries}>"
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

        Args:
            timeout: the copy's limits for each attempt, as `Session` takes
                them: a `Timeout`, seconds, or None for no limit (left out:
                this session's).
            max_retries: the copy's further attempts after a failure, an int
                of at least 0, on this session's `Retries` (default None:
                this session's).

        Returns:
            The copy: a `Session` sharing this one's connections.

        Raises:
            TypeError: if `timeout` or `max_retries` is not of its type.
            ValueError: if `timeout` or `max_retries` is out of its bounds.

        Example:
            ```python
            patient = session.with_options(max_retries=5, timeout=30.0)
            page = await patient.users.get_rewards_page("alice@example.com", id_type="email")
            ```
        """
        engine = self._engine
        clone = copy.copy(self)
        clone._derived = True
        clone._engine = engine.evolve(
            timeout=None if isinstance(timeout, _Unset) else Timeout.coerce(timeout),
            retries=(
                None
                if max_retries is None
                else attrs.evolve(engine.retries, max_retries=max_retries)
            ),
        )
        clone._resources()
        return clone

    # -- lifecycle -----------------------------------------------------------

    async def __aenter__(self) -> Session:
        if self._derived:
            raise RuntimeError(
                "enter the Session this one was derived from with_options(), not the copy"
            )
        self._engine.connection.enter()
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
        if not self._derived:
            await self._engine.connection.aclose()

    # -- any CrowdTwist call ---------------------------------------------------

    async def get_json(
        self, path: str, *, params: Mapping[str, str | int | bool] | None = None
    ) -> Any:
        """GET `{base_url}{path}` and return the decoded JSON.

        The request gets everything a listing's does: the credentials,
        retries, the limits, the body cap, strict decoding, the error classes
        and key masking. Arguments are checked before any request. A
        `no_data` answer raises, as the error it is: this call cannot know
        whether the path lists something.

        Args:
            path: the path after the base URL, percent-encoded already and
                starting with `/`: never an absolute URL, with no query
                (pass it as `params`) and no `.` or `..` segment.
            params: the query parameters; values are str, int or bool (sent
                as `true`/`false`), and `api_key` is the session's to send
                (default None: none).

        Returns:
            The decoded JSON of the response body.

        Raises:
            ValueError: if `path` or `params` is refused (before any request).
            TypeError: if `path` or `params` is not of its type (before any request).
            NotFoundError: if the user or resource does not exist.
            BadRequestError: if CrowdTwist rejected the request (a `no_data` included).
            RuntimeError: if the session is closed (or closes while the
                request runs), or its first request ran on another event loop.
            CrowdTwistError: any other failure (see the error tree in the guide).

        Example:
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
        return await self._engine.get(
            checked, query, _as_is, template=path_template(checked), listing=False
        )

    async def post_json(
        self,
        path: str,
        *,
        json: Any,
        params: Mapping[str, str | int | bool] | None = None,
    ) -> Any:
        """POST *json* to `{base_url}{path}` and return the decoded JSON answer.

        For a CrowdTwist write the SDK has no method for yet, with the checks
        of `get_json` (path, params, errors, masking) and the retry rule of
        every write: it is sent again only when CrowdTwist cannot have carried
        it out (a connection never made, a 429). Any other failure raises at
        once with `write_unconfirmed` True: a `WriteNotConfirmedError` when
        no answer came, a `ServerError` for a 5xx.

        Args:
            path: the path after the base URL, as for `get_json`.
            json: the body: a value `json.dumps` takes (no NaN or infinity),
                sent compact, as UTF-8, with `Content-Type: application/json`.
            params: the query parameters, as for `get_json` (default None: none).

        Returns:
            The decoded JSON of CrowdTwist's answer.

        Raises:
            ValueError: if `path` or `params` is refused (before any request).
            TypeError: if `path` or `params` is not of its type, or `json` is
                not JSON (before any request).
            RefusedError: if a business rule refused the write (e.g.
                `insufficient_points`); nothing was done.
            WriteNotConfirmedError: if the write was sent, or may have been,
                and no answer came: it may have been carried out.
            ServerError: if CrowdTwist failed (5xx); `write_unconfirmed` is True.
            RuntimeError: if the session is closed (or closes while the
                request runs), or its first request ran on another event loop.
            CrowdTwistError: any other failure (see the error tree in the guide).

        Example:
            ```python
            from urllib.parse import quote

            await session.post_json(
                f"/v2/users/{quote('alice@example.com', safe='')}/activities",
                params={"id_type": "email"},
                json={"activity_id": "410052775"},
            )
            ```
        """
        checked = check_path(path)
        query = query_params(params, reserved=_CALL_RESERVED)
        return await self._engine.write(
            "POST", checked, query, json, _as_is, template=path_template(checked)
        )

    @overload
    def paginate(
        self,
        path: str,
        *,
        items: str,
        params: Mapping[str, str | int | bool] | None = None,
        structure: None = None,
        key: Callable[[Mapping[str, Any]], Hashable | None] | None = None,
        **options: Unpack[ListingOptions],
    ) -> AsyncPaginator[Mapping[str, Any]]: ...

    @overload
    def paginate(
        self,
        path: str,
        *,
        items: str,
        params: Mapping[str, str | int | bool] | None = None,
        structure: Callable[[Mapping[str, Any]], T],
        key: Callable[[T], Hashable | None] | None = None,
        **options: Unpack[ListingOptions],
    ) -> AsyncPaginator[T]: ...

    def paginate(
        self,
        path: str,
        *,
        items: str,
        params: Mapping[str, str | int | bool] | None = None,
        structure: Callable[[Mapping[str, Any]], Any] | None = None,
        key: Callable[[Any], Hashable | None] | None = None,
        **options: Unpack[ListingOptions],
    ) -> AsyncPaginator[Any]:
        """Every item of any listing in CrowdTwist's `paging` envelope.

        The same listing object `aiter_rewards` returns: pages fetched
        concurrently (`max_concurrency`, default the session's), both forms
        (plain `async for` and `async with`), every completeness check, and
        `resume_page`. `no_data` and `no_activities` are an empty listing.
        Without `page_size` the server chooses it: the listing learns it from
        its first page (a later `start_page` whose paging cannot say raises
        `IncompleteListingError`: pass `page_size`), and a `max_items` below
        10 is sent as the page size. Iterating the listing raises the errors
        `get_json` does (but for `no_data`), and `IncompleteListingError`
        for a listing that comes back short.

        Args:
            path: the listing's path after the base URL, as for `get_json`.
            items: the name of the list in each page, e.g. `"redemptions"`.
            params: the query parameters, as for `get_json`, but for `page`
                and `page_size`, which the listing sends (default None: none).
            structure: builds each item from the read-only mapping of its
                JSON object; an exception there is a `ResponseDecodeError`
                naming the item (default None: the mapping itself).
            key: says which items are the same record, to yield each once; a
                key of None is never a repeat (default None: the item's `id`,
                as text, when it has one).
            **options: the listing options (`page_size`, `max_concurrency`,
                `start_page`, `max_items`): see `ListingOptions`.

        Returns:
            The listing: an `AsyncPaginator` of the items (each a mapping, or
            what `structure` builds), in page order.

        Raises:
            ValueError: if `path`, `items`, `params` or an option is refused
                (before any request).
            TypeError: if an argument or option is not of its type, or an
                option is unknown (before any request).

        Example:
            ```python
            async for redemption in session.paginate(
                "/v2.2/users/1001/redemption_history",
                items="redemptions",
                params={"date_start": "2026-01-01"},
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
        for name, value in (("structure", structure), ("key", key)):
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")
        spec = ListingSpec[Any, None](
            template=path_template(checked),
            parse_page=partial(structure_listing_page, items=items, build=structure),
            key=record_id if key is None else key,
        )
        return self._engine.listing(spec, checked, query, new_items, options)


def _credentials(api_key: str | None, auth: AuthMode | httpx.Auth) -> Credentials:
    """The key, from the argument or `$CROWDTWIST_API_KEY`, or the signer."""
    if isinstance(auth, httpx.Auth):
        if api_key is not None:
            raise ValueError(
                "pass api_key or an httpx.Auth as auth=, not both: a session that "
                "signs with an httpx.Auth sends no key of its own"
            )
        return Credentials(api_key=None, mode=None, signer=auth)
    key = api_key if api_key is not None else os.environ.get("CROWDTWIST_API_KEY")
    if key is not None and not isinstance(key, str):
        raise TypeError(f"api_key must be a str, got {type(key).__name__}")
    if not key or not key.strip():
        raise ValueError(
            "no API key: pass api_key=... or set the CROWDTWIST_API_KEY "
            "environment variable (or sign requests with auth=<an httpx.Auth>)"
        )
    if auth not in ("query", "header"):
        raise ValueError(f"auth must be 'query', 'header' or an httpx.Auth, got {auth!r}")
    key = key.strip()
    check_api_key(key, auth)
    return Credentials(api_key=key, mode=auth, signer=None)


def _base_url(base_url: str | None, client_id: str | int | None, environment: str) -> str:
    """The base URL given, or `$CROWDTWIST_BASE_URL`, or the one built from the client id."""
    url = base_url if base_url is not None else os.environ.get("CROWDTWIST_BASE_URL") or None
    if url is not None:
        return url
    if client_id is None:
        raise ValueError(
            "no base URL: pass base_url=..., set CROWDTWIST_BASE_URL, "
            "or pass client_id=... (and environment=... outside production)"
        )
    return build_base_url(environment, client_id)


def _check_client_options(
    http_client: httpx.AsyncClient | None,
    transport: httpx.AsyncBaseTransport | None,
    http_backend: str,
) -> None:
    """Refuse an HTTP client, transport and backend that do not go together."""
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


class _NoCookies(http.cookiejar.CookieJar):
    """A jar that keeps nothing: CrowdTwist sets no cookie the SDK needs.

    httpx hands every response to its client's jar, whose policy parses each
    `Set-Cookie` (several per cent of a request's CPU); this one takes none,
    so none is sent back either.
    """

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


def _make_client(
    transport: httpx.AsyncBaseTransport | None, timeout: Timeout, limits: Limits
) -> httpx.AsyncClient:
    keepalive = max(20, limits.max_concurrency)
    return httpx.AsyncClient(
        transport=transport,
        timeout=timeout.for_httpx(),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=keepalive),
        headers={"User-Agent": f"crowdtwist-async/{__version__}"},
        cookies=_NoCookies(),
    )


def _aiohttp_transport() -> AiohttpTransport:
    """The transport for `http_backend="aiohttp"`, refused early where it cannot run."""
    # Imported here: aiohttp is optional, and slow to import for those who
    # never use it.
    from ._aiohttp import AiohttpTransport, check_event_loop

    check_event_loop()
    return AiohttpTransport()


def _as_is(payload: object) -> Any:
    return payload
