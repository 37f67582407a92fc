"""The engine: how every CrowdTwist call is made, and how every listing is built.

One request goes: credentials (`Credentials`), then `send_with_retries` runs
attempts (`Sender.send`: pace, a concurrency slot, send, the capped body),
traced when a tracer is set up; the final response is decoded and parsed
(`_protocol`, `_payload`), and what goes wrong is raised as the SDK's own
error with the key masked. A listing (`Engine.listing`) is a `ListingSpec`,
a query and the checked `ListingOptions`, walked by `AsyncPaginator`, one
`Engine.get` a page.

A `Session` holds an engine and hands it to its resource objects (`Users`);
they call `get` and `listing`, nothing else.
"""

from __future__ import annotations

import copy
import enum
import functools
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Final, Literal, TypeVar
from urllib.parse import quote_plus

import anyio
import attrs
import httpx

from ._attempt import Sender
from ._config import Limits, Timeout
from ._errors import record_error
from ._exceptions import ResponseDecodeError
from ._exchange import Outgoing
from ._listing import ListingSpec, Walk
from ._page import FetchPage, Page, Select
from ._pagination import AsyncPaginator
from ._protocol import decode_response
from ._redact import MASK, KeyMask
from ._retry import Reply, Retries, send_with_retries
from ._telemetry import ListingReport, active_tracer, listing_report, traced_attempts

__all__ = ["JSON_CONTENT_TYPE", "AuthMode", "Connection", "Credentials", "Engine", "dumps_body"]

AuthMode = Literal["query", "header"]

#: How a write's body is labelled: the only type CrowdTwist's writes take,
#: and what a `CTApiV2Auth` signature covers.
JSON_CONTENT_TYPE: Final = "application/json"
T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 (an item of a page)
P = TypeVar("P")


class _State(enum.Enum):
    """Where a Session is in its life, as httpx's `ClientState`."""

    UNOPENED = "unopened"  # made; usable as it is, or entered with `async with`
    OPENED = "opened"  # inside its `async with` block
    CLOSED = "closed"  # `aclose()` was called or the block was left; for good


class Connection:
    """What a Session and the copies `with_options` makes of it share: the
    sender (client, slots, pacer) and the lifecycle."""

    __slots__ = ("_state", "in_flight", "owns_client", "sender")

    def __init__(self, sender: Sender, *, owns_client: bool) -> None:
        self.sender = sender
        self.owns_client = owns_client
        self._state = _State.UNOPENED
        # The cancel scope of every request running now, so that closing the
        # session ends them at once instead of leaving them on a closed client.
        self.in_flight: set[anyio.CancelScope] = set()

    @property
    def closed(self) -> bool:
        """Whether the connection was closed, for good."""
        return self._state is _State.CLOSED

    def check_open(self) -> None:
        """Refuse a request on a closed session."""
        if self._state is _State.CLOSED:
            raise RuntimeError("this Session is closed; make a new one")

    def enter(self) -> None:
        """Mark the session entered (`async with`), once."""
        self.check_open()
        if self._state is _State.OPENED:
            raise RuntimeError("this Session has already been entered")
        self._state = _State.OPENED

    async def aclose(self) -> None:
        """Close for good: end the requests in flight, close an owned client."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        if self.sender.on_another_loop():
            # Used on one event loop, closed on another: the requests still
            # in flight, and the connections, belong to that loop and cannot
            # be touched from this one (see `Sender.aclose`).
            return
        for scope in self.in_flight:
            scope.cancel()
        if self.owns_client:
            await self.sender.aclose()


@attrs.frozen
class Credentials:
    """How requests prove who sends them: a key (as a query parameter or a
    header), or an `httpx.Auth` that signs each attempt itself."""

    api_key: str | None
    mode: AuthMode | None  # None: `signer` signs
    signer: httpx.Auth | None
    mask: KeyMask = attrs.field(init=False)
    headers: Mapping[str, str] = attrs.field(init=False)
    #: `api_key=<the key, encoded>` for `mode="query"`, encoded once.
    query: str = attrs.field(init=False, repr=False)

    @query.default
    def _query(self) -> str:
        if self.mode != "query":
            return ""
        return "api_key=" + quote_plus(str(self.api_key))

    @mask.default
    def _mask(self) -> KeyMask:
        return KeyMask(self.api_key)

    @headers.default
    def _headers(self) -> Mapping[str, str]:
        headers = {"Accept": "application/json"}
        if self.mode == "header":
            headers["X-CT-Authorization"] = f"CTApiKey {self.api_key}"
        return headers

    def describe(self) -> str:
        """For a repr: the mode or the signer's class, and the key masked."""
        # An Auth's own repr may hold its secret: its class names it enough.
        shown = repr(self.mode) if self.signer is None else f"<{type(self.signer).__name__}>"
        key = "" if self.api_key is None else f" api_key='{MASK}'"
        return f"auth={shown}{key}"

    def __repr__(self) -> str:
        return f"<Credentials {self.describe()}>"


class Engine:
    """The request path and the listing factory of one Session.

    `get` makes one call; `listing` builds a checked, concurrent walk over
    a declared listing. Cheap to copy with other per-request options
    (`evolve`): the copies share the connection.
    """

    __slots__ = (
        "_httpx_timeout",
        "base_url",
        "connection",
        "credentials",
        "limits",
        "retries",
        "server",
        "timeout",
    )

    def __init__(
        self,
        *,
        connection: Connection,
        credentials: Credentials,
        base_url: str,
        timeout: Timeout,
        retries: Retries,
        limits: Limits,
    ) -> None:
        self.connection = connection
        self.credentials = credentials
        self.base_url = base_url
        url = httpx.URL(base_url)
        # For spans: where requests go, without the path.
        self.server = (url.host, url.port or (443 if url.scheme == "https" else 80))
        self.timeout = timeout
        self._httpx_timeout = timeout.for_httpx()
        self.retries = retries
        self.limits = limits

    def evolve(self, *, timeout: Timeout | None = None, retries: Retries | None = None) -> Engine:
        """A copy with other per-request options, sharing the connection.

        Copied rather than built anew: `with_options` is meant to be cheap
        per call, and the base URL was parsed once already.
        """
        clone = copy.copy(self)
        if timeout is not None:
            clone.timeout = timeout
            clone._httpx_timeout = timeout.for_httpx()
        if retries is not None:
            clone.retries = retries
        return clone

    # -- listings ----------------------------------------------------------------

    def listing(
        self,
        spec: ListingSpec[I, P],
        path: str,
        params: Mapping[str, str],
        select: Select[I, P, T],
        options: Mapping[str, object],
        windows: Sequence[Mapping[str, str]] = (),
    ) -> AsyncPaginator[T]:
        """A checked, concurrent walk over the pages of GET *path*.

        *options* are the caller's `ListingOptions`, checked here, before any
        request; *select* says what the listing yields for a page. *windows*,
        when given, are parameters added to the query of one walk each, read
        one after the other as one listing (a date range read a year at a
        time); `start_page` then needs a single window.
        """
        walk = Walk.check(
            options,
            concurrency=self.limits.max_concurrency,
            max_page_size=spec.max_page_size,
            noun=spec.noun,
            default_page_size=spec.default_page_size,
        )
        if len(windows) > 1 and walk.start_page != 1:
            raise ValueError(
                f"start_page ({walk.start_page}) needs a listing read in one request range; "
                f"this one reads {len(windows)} date windows of at most a year: narrow the dates"
            )
        query = dict(params)
        if walk.page_size is not None:
            query["page_size"] = str(walk.page_size)
        report = listing_report(spec.template)
        fetches = [
            self._page_fetcher(spec, path, {**query, **window}, report)
            for window in windows or ({},)
        ]
        return AsyncPaginator(
            fetches[0],
            walk=walk,
            select=select,
            key=spec.key,
            noun=spec.noun,
            report=report,
            then=fetches[1:],
        )

    def _page_fetcher(
        self,
        spec: ListingSpec[I, P],
        path: str,
        query: dict[str, str],
        report: ListingReport | None,
    ) -> FetchPage[I, P]:
        template = spec.template
        parse_page = spec.parse_page
        get = self.get

        async def fetch(number: int) -> Page[I, P]:
            def parse(payload: object) -> Page[I, P]:
                return parse_page(payload, number)

            return await get(
                path,
                {**query, "page": str(number)},
                parse,
                template=template,
                listing=True,
                report=report,
                page=number,
            )

        return fetch

    # -- one call ----------------------------------------------------------------

    async def get(
        self,
        path: str,
        params: Mapping[str, str],
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
        return await self._call(
            "GET", path, params, None, parse, template, listing=listing, report=report, page=page
        )

    async def write(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        payload: object,
        parse: Callable[[object], T],
        *,
        template: str,
    ) -> T:
        """Send *payload* as JSON with *method* (POST, PUT...) and *parse* the
        decoded JSON answer.

        Retried only when CrowdTwist cannot have carried it out (a connection
        never made, a 429); any other failure is raised at once, saying
        whether it may have been (`write_unconfirmed`).
        """
        body = dumps_body(payload)
        return await self._call(method, path, params, body, parse, template, listing=False)

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        body: bytes | None,
        parse: Callable[[object], T],
        template: str,
        *,
        listing: bool,
        report: ListingReport | None = None,
        page: int | None = None,
    ) -> T:
        connection = self.connection
        connection.check_open()
        credentials = self.credentials
        outgoing = self._outgoing(method, path, params, body)
        attempt: Callable[[], Awaitable[Reply]] = partial(
            connection.sender.send,
            outgoing,
            path,
            self.timeout,
            credentials.mask,
            # Signs each attempt anew: a retry gets a new timestamp and signature.
            credentials.signer,
        )
        # Also starts the listing's clock (and span) on its first request.
        parent = None if report is None else report.parent()
        tracer = active_tracer()
        if tracer is not None:
            attempt = traced_attempts(
                attempt,
                tracer,
                parent,
                server=self.server,
                template=template,
                page=page,
                listing=listing,
                method=method,
            )
        with anyio.CancelScope() as closing:
            connection.in_flight.add(closing)
            try:
                status, headers, answer = await send_with_retries(
                    attempt, self.retries, path, method
                )
            finally:
                connection.in_flight.discard(closing)
            return _parse(
                status, headers, answer, parse, listing, credentials.mask, write=body is not None
            )
        # Only `aclose()` cancels this scope: a cancellation from the caller's
        # own scopes is not caught here and goes on up.
        raise RuntimeError(f"the Session was closed while {method} {path} was in flight")

    def _outgoing(
        self, method: str, path: str, params: Mapping[str, str], body: bytes | None
    ) -> Outgoing:
        credentials = self.credentials
        # The whole URL as one string, encoded once: given `params`, httpx
        # parses the URL, then parses it again to merge them (about 20 µs a
        # request). The query comes out byte for byte as `urlencode`'s (and
        # so httpx's), the key last.
        pairs = [*map(_query_pair, params.items())]
        if credentials.query:
            pairs.append(credentials.query)
        query = "&".join(pairs)
        url = f"{self.base_url}{path}?{query}" if query else self.base_url + path
        headers = credentials.headers
        if body is not None:
            headers = {**headers, "Content-Type": JSON_CONTENT_TYPE}
        return Outgoing(method, url, headers, body, self._httpx_timeout)


@functools.lru_cache(maxsize=4096)
def _query_pair(pair: tuple[str, str]) -> str:
    """`name=value` as `urlencode` encodes it: the same few pairs (`id_type`,
    page numbers) come with every request, so each is encoded once."""
    name, value = pair
    return f"{quote_plus(name)}={quote_plus(value)}"


def dumps_body(payload: object) -> bytes:
    """A write's JSON body, as compact UTF-8 bytes (what is sent, and signed)."""
    try:
        return json.dumps(
            payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
    except (TypeError, ValueError) as exc:
        message = f"the request body is not JSON: {exc}"
    raise TypeError(message)


def _parse(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    parse: Callable[[object], T],
    listing: bool,
    mask: KeyMask,
    *,
    write: bool = False,
) -> T:
    """Decode a final response and build the caller's result from it."""
    payload = decode_response(status, headers, body, listing=listing, mask=mask, write=write)
    partial: ResponseDecodeError | None = None
    try:
        return parse(payload)
    except ResponseDecodeError as exc:
        # Structuring sees only the JSON: the error is made whole here, where
        # the response is known, and raised outside this block.
        partial = exc
    raise record_error(partial, status, body, mask)
