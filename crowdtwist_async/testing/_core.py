"""The fake's pure core: a request in, a response out, no I/O and no clock.

`parse_request` reads what every adapter receives (method, raw path, query
string, headers) into an `Incoming`; `respond` answers it from the users'
records as the vendor docs describe. Everything else in the package (latency,
faults, scripts, recording, the transport, ASGI and the server) wraps these two.
"""

from __future__ import annotations

import fnmatch
import json
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import date, datetime, timezone
from typing import Any, Final, Literal, TypeVar, cast
from urllib.parse import parse_qsl, unquote

import attrs

from .._protocol import MAX_PAGE_SIZE
from ._data import (
    CATEGORY_NAMES,
    ID_TYPES,
    FakeCoupon,
    FakeUser,
    MemberFactory,
    RedemptionFactory,
    parse_int,
)
from ._hmac import refusal
from ._push import activity_push, redemption_push

__all__ = [
    "Incoming",
    "PagingLies",
    "Program",
    "Reply",
    "error_reply",
    "json_reply",
    "parse_request",
    "respond",
]

Route = Literal[
    "rewards",
    "coupons",
    "redemptions",
    "profile",
    "points",
    "activities",
    "catalog",
    "redeem",
    "credit",
    "use",
    "unuse",
]

# A member's endpoints, `/{version}/users/{user_id}/{tail}`, by (version,
# tail); the profile's tail is empty (`/v2/users/{user_id}`, `/` or not).
_ROUTES: Final[Mapping[tuple[str, str], Route]] = {
    ("v2.1", "rewards"): "rewards",
    ("v2", "usable_coupons"): "coupons",
    ("v2.2", "redemption_history"): "redemptions",
    ("v2", ""): "profile",
    ("v2", "points"): "points",
    ("v2.1", "activity_history"): "activities",
    ("v2", "redemption"): "redeem",
    ("v2", "activities"): "credit",
}

# The program's endpoints, which name no member, by their path.
_PROGRAM_ROUTES: Final[Mapping[str, Route]] = {
    "/v2.1/rewards": "catalog",
    "/v2/coupon/use": "use",
    "/v2/coupon/unuse": "unuse",
}

# The writes; every other route is read with GET.
_METHODS: Final[Mapping[Route, str]] = {
    "redeem": "POST",
    "credit": "POST",
    "use": "POST",
    "unuse": "POST",
}

#: `mobile_phone_number` is documented for every endpoint but usable coupons.
_ID_TYPES: Final[Mapping[Route, frozenset[str]]] = {
    "coupons": frozenset(ID_TYPES) - {"mobile_phone_number"},
}
_ALL_ID_TYPES: Final = frozenset(ID_TYPES)

# The paginated endpoints, by their paging links. The real API's links name a
# placeholder host, no user and an empty key (see the docs' sample); a client
# may use only their page number.
_PAGE_LINKS: Final[Mapping[Route, str]] = {
    "rewards": "https://api[client_id].ct.com/v2.1/rewards?page={}&api_key=",
    "redemptions": "https://api[client_id].ct.com/v2.2/redemption_history?page={}&api_key=",
    "activities": "https://api[client_id].ct.com/v2.1/activity_history?page={}&api_key=",
    "catalog": "https://api[client_id].ct.com/v2.1/rewards?page={}&api_key=",
}

# The redemption and activity histories refuse a larger page, where the
# rewards listing quietly caps it at the SDK's `MAX_PAGE_SIZE` and the
# catalogue at its own 25.
_MAX_HISTORY_PAGE_SIZE: Final = 10
_MAX_CATALOG_PAGE_SIZE: Final = 25

# ASCII digits only: `date.fromisoformat` alone would also take "20250101".
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

_DAY: Final = 86_400

_AUTH_SCHEME: Final = "ctapikey"


@attrs.frozen(kw_only=True)
class Reply:
    """A whole response: status, headers (name, value) and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _optional_callable(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not callable(value):
        raise TypeError(
            f"{attribute.name} must be a function of (page, truth) or None, "
            f"got {type(value).__name__}"
        )


def _optional_pattern(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"path must be an fnmatch pattern (a str) or None, got {value!r}")


@attrs.frozen(kw_only=True)
class PagingLies:
    """What the pages of a paginated endpoint say instead of the truth.

    Each lie is a function of the page number the API read and of what that
    page would truthfully say, and returns what it says instead (any JSON
    value: a wrong number, None, a string...); a lie left None tells the
    truth. Lies apply to every page a paginated endpoint (the rewards
    listing, the catalogue, the activity and redemption histories) answers
    with 200, through every adapter (the transport, ASGI, the served port),
    until removed from `FakeCrowdTwist.lies`; not to errors. A `script()`
    that sends the real answer (one with no `json`, `echo`, `body` of bytes
    or str, nor `status` without a `body` function) sends it as the lies
    tell it, its `body` function given the lied body; one that sends a body
    of its own sends it as scripted. Lies are taken when a request arrives
    and called when it is answered, so they may read the fake.
    Several lies that match one request apply in the order they were added,
    each to what the ones before made of the page.

    Attributes:
        path: only requests whose path (as sent) matches this `fnmatch`
            pattern, e.g. `"*/redemption_history"` for the redemption
            history; None: every paginated endpoint.
        page_size: `(page, size) -> int`, the size pages are cut at and
            counted by; `size` is the one asked for or the endpoint's
            default (10; the catalogue's 25). Applied before the other
            lies, which see its result.
        total: `(page, total) -> object`, sent as `paging.total`.
        pages: `(page, pages) -> object`, sent as `paging.pages`.
        next_page: `(page, link) -> object`, sent as `paging.next_page`
            (the truth is a link or None).
        prev_page: `(page, link) -> object`, sent as `paging.prev_page`.
        items: `(page, records) -> object`, sent as the page's records (the
            `rewards`, `activities` or `redemptions` array): fewer,
            repeated, others, or not a list at all. *records* are the
            fake's own dicts (the member's, the catalogue's): return new
            ones rather than edit them.
        delay: `(page, latency) -> float`, the seconds a request for the
            page waits before it is answered instead of the latency drawn
            (an error or a scripted response too; a `script()`'s own `delay`
            wins); `math.inf` holds it until the client gives up.
    """

    path: str | None = attrs.field(default=None, validator=_optional_pattern)
    page_size: Callable[[int, int], int] | None = attrs.field(
        default=None, validator=_optional_callable
    )
    total: Callable[[int, int], object] | None = attrs.field(
        default=None, validator=_optional_callable
    )
    pages: Callable[[int, int], object] | None = attrs.field(
        default=None, validator=_optional_callable
    )
    next_page: Callable[[int, str | None], object] | None = attrs.field(
        default=None, validator=_optional_callable
    )
    prev_page: Callable[[int, str | None], object] | None = attrs.field(
        default=None, validator=_optional_callable
    )
    items: Callable[[int, list[dict[str, Any]]], object] | None = attrs.field(
        default=None, validator=_optional_callable
    )
    delay: Callable[[int, float], float] | None = attrs.field(
        default=None, validator=_optional_callable
    )

    def matches(self, path: str) -> bool:
        """Whether these lies apply to a request for *path* (as sent).

        Args:
            path: the request's path, as sent.

        Returns:
            True if `path` is None or *path* matches its pattern.
        """
        return self.path is None or fnmatch.fnmatchcase(path, self.path)

    def cut(self, page: int, size: int) -> int:
        """The page size *page* is cut at, given the true *size*.

        Args:
            page: the page number the API read.
            size: the true page size: the one asked for or the endpoint's default.

        Returns:
            What the `page_size` lie gives, or *size* when there is none.

        Raises:
            ValueError: if the `page_size` lie gives anything but an int >= 1.
        """
        if self.page_size is None:
            return size
        lied = self.page_size(page, size)
        if isinstance(lied, bool) or not isinstance(lied, int) or lied < 1:
            raise ValueError(f"a page_size lie must give an int >= 1, got {lied!r}")
        return lied

    def wait(self, page: int, latency: float) -> float:
        """The seconds *page* waits, given the true *latency*.

        Args:
            page: the page number the API read.
            latency: the seconds of latency drawn for the request.

        Returns:
            What the `delay` lie gives, or *latency* when there is none.

        Raises:
            ValueError: if the `delay` lie gives anything but seconds >= 0
                (`math.inf` included).
        """
        if self.delay is None:
            return latency
        lied = self.delay(page, latency)
        if isinstance(lied, bool) or not isinstance(lied, int | float) or not lied >= 0:
            raise ValueError(f"a delay lie must give seconds >= 0 (math.inf too), got {lied!r}")
        return lied

    def tell(
        self, page: int, paging: dict[str, Any], records: object
    ) -> tuple[dict[str, Any], object]:
        """What *page* says, given what it would say (or what earlier lies made of it).

        Args:
            page: the page number the API read.
            paging: the page's `paging` object (`total`, `pages`, `next_page`,
                `prev_page`); not changed.
            records: the page's records (the `rewards`, `activities` or
                `redemptions` array).

        Returns:
            The `paging` object as the lies tell it (a new dict) and the
            records as the `items` lie tells them (the same *records* when
            there is none).
        """
        told = dict(paging)
        for name in ("total", "pages", "next_page", "prev_page"):
            lie: Callable[[int, Any], object] | None = getattr(self, name)
            if lie is not None:
                told[name] = lie(page, told[name])
        if self.items is None:
            return told, records
        # What earlier lies made of the records need not be a list any more.
        return told, self.items(page, cast("list[dict[str, Any]]", records))


@attrs.frozen(kw_only=True)
class Incoming:
    """A request as the fake reads it.

    `params` are the query parameters (the last value of a repeated one)
    without `api_key`; `keys` the API keys the request presented, by query or
    header. `route` is set when the path names an endpoint, `user_id` when
    that endpoint is a member's, `page` when it is paginated (the rewards
    listing, the catalogue, the activity and redemption histories).
    """

    method: str
    path: str
    params: Mapping[str, str]
    keys: tuple[str, ...]
    route: Route | None
    user_id: str | None
    page: int | None
    #: The raw query string (without `?`) and headers (lower-case names), as
    #: received: what a signature covers.
    query: str = ""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    #: The request body, as received (b"" for none).
    body: bytes = b""


@attrs.frozen(kw_only=True)
class Program:
    """What the fake answers from besides its members: the program's reward
    catalogue and its activities (by activity id: `name`, default
    `num_points`), what makes the records writes add, and the lock writes
    hold (the fake's: a server thread answers while a test reads).
    `pushed` collects the Live Push bodies of the writes made, as (feed,
    body), for the fake to hand to its `live_push`."""

    catalog: Sequence[dict[str, Any]] = ()
    activities: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    redemptions: RedemptionFactory = attrs.field(
        factory=lambda: RedemptionFactory(random.Random(0))
    )
    members: MemberFactory = attrs.field(factory=lambda: MemberFactory(random.Random(0)))
    lock: AbstractContextManager[Any] = attrs.field(factory=nullcontext)
    pushed: list[tuple[str, dict[str, Any]]] = attrs.field(factory=list)


def json_reply(status: int, payload: object) -> Reply:
    """*payload* as a JSON response."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status=status, headers=(("content-type", "application/json"),), body=body)


def error_reply(status: int, error: str, message: str) -> Reply:
    """The API's error envelope, `{"error": ..., "message": ...}`."""
    return json_reply(status, {"error": error, "message": message})


def parse_request(
    method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes = b""
) -> Incoming:
    """Read a request: *raw_path* still percent-encoded, *query* without the `?`,
    *headers* with lower-case names, *body* as received."""
    pairs = parse_qsl(query, keep_blank_values=True)
    params = {name: value for name, value in pairs if name != "api_key"}
    route, user_id = _route(raw_path)
    page = _requested_page(params.get("page")) if route in _PAGE_LINKS else None
    return Incoming(
        method=method.upper(),
        path=raw_path,
        params=params,
        keys=_presented_keys(pairs, headers),
        route=route,
        user_id=user_id,
        page=page,
        query=query,
        headers=dict(headers),
        body=body,
    )


def _presented_keys(
    pairs: Sequence[tuple[str, str]], headers: Mapping[str, str]
) -> tuple[str, ...]:
    """The API keys a request presents: `api_key` parameters, then a `CTApiKey` header's."""
    keys = [value for name, value in pairs if name == "api_key"]
    scheme, _, credential = headers.get("x-ct-authorization", "").strip().partition(" ")
    if scheme.lower() == _AUTH_SCHEME and credential.strip():
        keys.append(credential.strip())
    return tuple(keys)


def _route(raw_path: str) -> tuple[Route | None, str | None]:
    """The endpoint *raw_path* (still percent-encoded) names, and the member's
    id if it names one."""
    # Split before decoding: an encoded "/" belongs to the user id.
    segments = raw_path.split("/")
    if len(segments) in (4, 5) and segments[0] == "" and segments[2] == "users" and segments[3]:
        route = _ROUTES.get((segments[1], segments[4] if len(segments) == 5 else ""))
        return route, None if route is None else unquote(segments[3])
    return _PROGRAM_ROUTES.get(raw_path), None


def _requested_page(value: str | None) -> int:
    # Documented: no page, or one that is not a valid integer, means page 1.
    number = parse_int(value)
    return 1 if number is None else number


def respond(
    request: Incoming,
    users: Sequence[FakeUser],
    *,
    api_key: str,
    now: int,
    lies: Sequence[PagingLies] = (),
    hmac_keys: tuple[str, str] | None = None,
    now_ms: int | None = None,
    program: Program | None = None,
) -> Reply:
    """Answer *request* from *users*' records, as the API does at unix time *now*,
    its pages as *lies* (those matching it) tell them. With *hmac_keys*
    (public, private) it takes only requests signed with them, their
    timestamps judged by *now_ms* (default: *now* in milliseconds). The
    catalogues, and what makes the records of writes, are *program*'s
    (default: an empty program of its own)."""
    if request.route is None:
        return error_reply(
            404, "page_not_found", "The requested page does not exist or has been removed."
        )
    allowed = _METHODS.get(request.route, "GET")
    if request.method != allowed:
        reply = error_reply(
            405, "input_error", f"HTTP method {request.method} is not supported; use {allowed}."
        )
        return attrs.evolve(reply, headers=(*reply.headers, ("allow", allowed)))
    refused = _refused(request, api_key, hmac_keys, now * 1000 if now_ms is None else now_ms)
    if refused is not None:
        return refused
    if program is None:
        program = Program()
    if request.user_id is None:
        return _program_route(request, users, program, now, lies)
    id_type = request.params.get("id_type") or "id"
    if id_type not in _ID_TYPES.get(request.route, _ALL_ID_TYPES):
        return error_reply(400, "param_error", "Param id_type has invalid value.")
    user = _find_user(users, id_type, request.user_id)
    if user is None:
        return error_reply(400, "page_not_found", "User does not exist.")
    return _member_route(request, id_type, user, users, program, now, lies)


def _member_route(
    request: Incoming,
    id_type: str,
    user: FakeUser,
    users: Sequence[FakeUser],
    program: Program,
    now: int,
    lies: Sequence[PagingLies],
) -> Reply:
    """Answer a request for one of *user*'s endpoints."""
    route, params = request.route, request.params
    if route == "rewards":
        assert request.page is not None
        return _rewards(user, params, request.page, lies)
    if route == "redemptions":
        assert request.page is not None
        return _history(_REDEMPTION_HISTORY, user.redemptions, params, request.page, lies)
    if route == "activities":
        assert request.page is not None
        return _history(_ACTIVITY_HISTORY, user.activities, params, request.page, lies)
    if route == "profile":
        return _profile(user, params, id_type)
    if route == "points":
        return json_reply(200, _points(user))
    if route == "redeem":
        with program.lock:
            return _redeem(user, users, request.body, program, now)
    if route == "credit":
        with program.lock:
            return _credit(user, request.body, program, now)
    return _usable_coupons(user, params, now)


def _program_route(
    request: Incoming,
    users: Sequence[FakeUser],
    program: Program,
    now: int,
    lies: Sequence[PagingLies],
) -> Reply:
    """Answer a request for one of the program's endpoints, which name no member."""
    if request.route == "catalog":
        assert request.page is not None
        return _catalog(users, program.catalog, request.params, request.page, now, lies)
    with program.lock:
        return _coupon_use(users, request.body, used=request.route == "use")


def _refused(
    request: Incoming, api_key: str, hmac_keys: tuple[str, str] | None, now_ms: int
) -> Reply | None:
    """The answer to a request whose credentials do not hold; None if they do."""
    if hmac_keys is None:
        if api_key in request.keys:
            return None
        return error_reply(403, "invalid_auth", "Invalid access credentials.")
    # Once HMAC is on, an API key alone no longer passes (the page: "all
    # incoming API calls will require HMAC request headers").
    problem = refusal(
        method=request.method,
        raw_path=request.path,
        query=request.query,
        headers=request.headers,
        body=request.body,
        keys=hmac_keys,
        now_ms=now_ms,
    )
    return None if problem is None else error_reply(401, "invalid_auth", problem)


def _find_user(users: Sequence[FakeUser], id_type: str, user_id: str) -> FakeUser | None:
    # Email addresses are matched as the mail system does, without regard to case.
    if id_type == "email":
        wanted = user_id.casefold()
        return next((u for u in users if u.email and u.email.casefold() == wanted), None)
    return next((u for u in users if u.identifier(id_type) == user_id), None)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _page_size(value: str | None) -> int:
    number = parse_int(value)
    if number is None or not 1 <= number <= MAX_PAGE_SIZE:
        return MAX_PAGE_SIZE
    return number


def _in_stock(record: Mapping[str, Any]) -> bool:
    quantity = record.get("current_quantity")
    # Every request filters the user's whole listing: take the common case
    # (a plain int) without parsing, so a large listing stays cheap to serve.
    if type(quantity) is int:
        return quantity > 0
    number = parse_int(quantity)
    return number is None or number > 0


def _paged(
    route: Route,
    listed: Sequence[dict[str, Any]],
    page: int,
    size: int,
    lies: Sequence[PagingLies],
) -> tuple[dict[str, Any], object]:
    """The `paging` envelope and the records of *page*, as every paginated
    endpoint sends them and *lies* tell them; *listed* is not empty."""
    for lie in lies:
        size = lie.cut(page, size)
    link = _PAGE_LINKS[route].format
    total = len(listed)
    pages = math.ceil(total / size)
    records: list[dict[str, Any]] = []
    if page < 1:
        next_page, prev_page = link(1), None
    elif page > pages:
        next_page, prev_page = None, link(pages)
    else:
        records = list(listed[(page - 1) * size : page * size])
        next_page = link(page + 1) if page < pages else None
        prev_page = link(page - 1) if page > 1 else None
    paging = {"total": total, "pages": pages, "next_page": next_page, "prev_page": prev_page}
    told: object = records
    for lie in lies:
        paging, told = lie.tell(page, paging, told)
    return paging, told


def _rewards(
    user: FakeUser, params: Mapping[str, str], page: int, lies: Sequence[PagingLies]
) -> Reply:
    soldout = _flag(params.get("include_soldout"))
    listed = [record for record in user.rewards if soldout or _in_stock(record)]
    if not listed:
        return error_reply(400, "no_data", "There are no rewards available to this client.")
    size = _page_size(params.get("page_size"))
    paging, rewards = _paged("rewards", listed, page, size, lies)
    return json_reply(200, {"paging": paging, "rewards": rewards})


def _day(value: str) -> date | None:
    """The day *value* (`YYYY-MM-DD`), or None."""
    if not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:  # e.g. 2025-02-30
        return None


def _day_start(day: date) -> int:
    """Unix seconds at the start of the UTC *day*."""
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


def _year_before(day: date) -> date:
    """The same day a year earlier (a 29 February: the 1st of March), as
    the SDK cuts a long range into windows."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return date(day.year - 1, 3, 1)


def _dated(record: Mapping[str, Any], field: str) -> int | None:
    """*record*'s date *field* as unix seconds, or None."""
    when = record.get(field)
    # As for `current_quantity`: take the common plain int without parsing.
    return when if type(when) is int else parse_int(when)


def _newest_first(field: str) -> Callable[[Mapping[str, Any]], float]:
    """The sort key that puts the latest *field* first (with reverse=True)."""

    def key(record: Mapping[str, Any]) -> float:
        # A record without a readable date sorts as the oldest.
        when = _dated(record, field)
        return -math.inf if when is None else when

    return key


def _history_page_size(raw: str | None) -> int | None:
    # Unlike the rewards listing, the histories refuse a page size they cannot
    # serve (an empty value included) instead of serving their default.
    size = _MAX_HISTORY_PAGE_SIZE if raw is None else parse_int(raw)
    if size is None or not 1 <= size <= _MAX_HISTORY_PAGE_SIZE:
        return None
    return size


def _date_bounds(params: Mapping[str, str]) -> tuple[int | None, int | None] | Reply:
    """The unix seconds from `date_start` and to `date_end` (exclusive), or
    the error for a parameter that is not a date or a range the API refuses.

    Both are whole UTC days and inclusive. A range may run from a day to the
    same day a year later, no further; with one bound alone, the other is
    open. `start_date`/`end_date` are not CrowdTwist's names: ignored, as
    any parameter the API does not know.
    """
    days = _range(params, _day, "a date as YYYY-MM-DD")
    if isinstance(days, Reply):
        return days
    start, end = days
    if start is not None and end is not None and start < _year_before(end):
        return error_reply(400, "param_error", "Date range should not exceed more than a year.")
    since = None if start is None else _day_start(start)
    until = None if end is None else _day_start(end) + _DAY
    return since, until


def _moments(params: Mapping[str, str]) -> tuple[int | None, int | None] | Reply:
    """The activity history's range, as `_date_bounds` gives its own (until
    exclusive), or the error: `date_start` and `date_end` are unix seconds,
    both included (as the Postman collection sends them: the page is unseen)."""
    moments = _range(params, _moment, "a unix timestamp")
    if isinstance(moments, Reply):
        return moments
    since, until = moments
    return since, None if until is None else until + 1


def _moment(value: str) -> int | None:
    """*value* as unix seconds, or None."""
    moment = parse_int(value)
    return None if moment is None or moment < 0 else moment


_Bound = TypeVar("_Bound", date, int)


def _range(
    params: Mapping[str, str], read: Callable[[str], _Bound | None], form: str
) -> tuple[_Bound | None, _Bound | None] | Reply:
    """`date_start` and `date_end` (None where absent) as *read* reads them, or
    the error for one it cannot (*form* says what it must be) or for an end
    before the start."""
    bounds: dict[str, _Bound] = {}
    for name in ("date_start", "date_end"):
        value = params.get(name)
        if value is None:
            continue
        bound = read(value)
        if bound is None:
            return error_reply(400, "param_error", f"Param {name} must be {form}.")
        bounds[name] = bound
    start, end = bounds.get("date_start"), bounds.get("date_end")
    if start is not None and end is not None and end < start:
        return error_reply(400, "param_error", "Param date_end must not be before date_start.")
    return start, end


@attrs.frozen(kw_only=True)
class _History:
    """What tells a member's two histories apart; `_history` does the rest."""

    #: The route, also the key of the page's records.
    route: Literal["redemptions", "activities"]
    #: The records' date field, which the dates bound and the order follows.
    dated_by: str
    #: The range the query asks for: unix seconds, since and until (exclusive).
    bounds: Callable[[Mapping[str, str]], tuple[int | None, int | None] | Reply]
    #: The `no_data` message.
    empty: str


_REDEMPTION_HISTORY: Final = _History(
    route="redemptions",
    dated_by="date_redeemed",
    bounds=_date_bounds,
    empty="There is no redemption history for this user.",
)
_ACTIVITY_HISTORY: Final = _History(
    route="activities",
    dated_by="date_created",
    bounds=_moments,
    empty="There is no activity history for this user.",
)


def _history(
    history: _History,
    records: Sequence[dict[str, Any]],
    params: Mapping[str, str],
    page: int,
    lies: Sequence[PagingLies],
) -> Reply:
    """A page of a member's *records*, newest first, within the query's dates."""
    size = _history_page_size(params.get("page_size"))
    if size is None:
        return error_reply(
            400,
            "param_error",
            f"Param page_size must be between 1 and {_MAX_HISTORY_PAGE_SIZE}.",
        )
    bounds = history.bounds(params)
    if isinstance(bounds, Reply):
        return bounds
    listed = _within(records, history.dated_by, *bounds)
    if not listed:
        return error_reply(400, "no_data", history.empty)
    # `sorted` is stable with reverse=True too: equal dates keep the records' order.
    newest = sorted(listed, key=_newest_first(history.dated_by), reverse=True)
    paging, told = _paged(history.route, newest, page, size, lies)
    return json_reply(200, {"paging": paging, history.route: told})


def _within(
    records: Sequence[dict[str, Any]], field: str, since: int | None, until: int | None
) -> Sequence[dict[str, Any]]:
    """The *records* whose *field* is from *since* to *until* (exclusive); with
    neither bound, all of them, a record without a readable date too."""
    if since is None and until is None:
        return records
    return [
        record
        for record in records
        if (when := _dated(record, field)) is not None
        and (since is None or when >= since)
        and (until is None or when < until)
    ]


def _usable_coupons(user: FakeUser, params: Mapping[str, str], now: int) -> Reply:
    # Undocumented `expired=true` also lists unused coupons past their date.
    with_expired = _flag(params.get("expired"))
    usable = [
        coupon.record
        for coupon in user.coupons
        if not coupon.used and (with_expired or not coupon.is_expired(now))
    ]
    if not usable:
        return error_reply(400, "no_activities", "There are no rewards available to this user.")
    return json_reply(200, usable)


# -- the member's profile and points --------------------------------------------

# The profile's keys in the order the real response sends them (API_PAGES §3),
# `twitter_user_id` added: the fake's members have one.
_PROFILE_KEYS: Final = (
    "id",
    "first_name",
    "middle_name",
    "last_name",
    "date_of_birth",
    "email_address",
    "email_is_verified",
    "username",
    "mobile_phone_number",
    "third_party_id",
    "is_active",
    "gender_id",
    "gender",
    "extra_data",
    "continent",
    "country",
    "us_region",
    "ca_province",
    "state",
    "city",
    "street_address_1",
    "street_address_2",
    "postal_code",
    "receive_email_updates",
    "date_receive_email_opt_in",
    "date_receive_email_opt_out",
    "total_points",
    "redeemable_points",
    "num_points_purchased",
    "facebook_access_token",
    "facebook_user_id",
    "date_fb_token_expires",
    "twitter_oauth_token",
    "twitter_oauth_token_secret",
    "twitter_user_id",
    "pinterest_access_token",
    "pinterest_user_id",
    "inst_access_token",
    "inst_username",
    "inst_user_id",
    "activity_stream_opt_in",
    "store_id",
    "date_last_login",
    "date_last_updated",
    "date_created",
    "rank",
    "weekly_rank",
    "monthly_rank",
    "password",
    "salt",
    "hash_algorithm_id",
    "password_generated",
    "lang_pref",
    "sign_up_channel_id",
    "referral_url",
    "fan_level",
    "tier_info",
    "segments",
    "household_id",
    "custom_data",
)

# Sent only when the member's profile has them: real profiles lack the key at times.
_OPTIONAL_PROFILE_KEYS: Final = frozenset({"custom_data"})

# What `pii=false` leaves out: who the member is and how to reach them.
_PII: Final = frozenset(
    {
        "first_name",
        "middle_name",
        "last_name",
        "date_of_birth",
        "email_address",
        "username",
        "mobile_phone_number",
        "street_address_1",
        "street_address_2",
        "postal_code",
        "facebook_user_id",
        "twitter_user_id",
        "pinterest_user_id",
        "inst_username",
        "inst_user_id",
    }
)


def _profile(user: FakeUser, params: Mapping[str, str], id_type: str) -> Reply:
    # Documented: pii absent means true; given without true or false, false.
    pii = "pii" not in params or params["pii"].strip().lower() == "true"
    if not pii and id_type not in ("id", "third_party_id"):
        return error_reply(
            400, "param_error", "Param id_type must be id or third_party_id when pii is false."
        )
    fields = {
        **user.profile,
        "id": user.id,
        "email_address": user.email,
        "username": user.username,
        "mobile_phone_number": user.mobile_phone_number,
        "third_party_id": user.third_party_id,
        "facebook_user_id": user.facebook_user_id,
        "twitter_user_id": user.twitter_user_id,
        "total_points": user.total_points,
        "redeemable_points": user.points,
        "fan_level": user.fan_level,
    }
    profile = {
        key: fields.get(key)
        for key in _PROFILE_KEYS
        if key in fields or key not in _OPTIONAL_PROFILE_KEYS
    }
    # Keys a test added to the profile follow the documented ones.
    profile.update((key, value) for key, value in fields.items() if key not in profile)
    if not pii:
        profile = {key: value for key, value in profile.items() if key not in _PII}
    return json_reply(200, profile)


def _points(user: FakeUser) -> dict[str, Any]:
    # The page types this `id` as a string, where the profile sends a number.
    return {
        "id": str(user.id),
        "total_points": user.total_points,
        "redeemable_points": user.points,
        "num_points_purchased": parse_int(user.profile.get("num_points_purchased")) or 0,
        "fan_level": user.fan_level,
    }


# -- the program's catalogue -------------------------------------------------------


def _truthy(value: object) -> bool:
    """A record's flag, sent as 1, "1", true or "true"."""
    if value is True:
        return True
    if isinstance(value, str) and value.strip().lower() == "true":
        return True
    return parse_int(value) == 1


def _param_flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true")


def _active(record: Mapping[str, Any], now: int) -> bool:
    """Whether a reward may be redeemed at *now*: enabled, started, not ended."""
    if not _truthy(record.get("is_enabled")):
        return False
    start = parse_int(record.get("date_start"))
    if start is not None and start > now:
        return False
    end = parse_int(record.get("date_end"))
    return _truthy(record.get("no_end_date")) or end is None or end > now


def _catalog_page_size(value: str | None) -> int:
    number = parse_int(value)
    if number is None or not 1 <= number <= _MAX_CATALOG_PAGE_SIZE:
        return _MAX_CATALOG_PAGE_SIZE
    return number


def _catalog(
    users: Sequence[FakeUser],
    catalog: Sequence[dict[str, Any]],
    params: Mapping[str, str],
    page: int,
    now: int,
    lies: Sequence[PagingLies],
) -> Reply:
    keep = _catalog_filter(users, params, now)
    if isinstance(keep, Reply):
        return keep
    listed = [record for record in catalog if keep(record)]
    if not listed:
        return error_reply(400, "no_data", "There are no rewards available to this client.")
    size = _catalog_page_size(params.get("page_size"))
    paging, rewards = _paged("catalog", listed, page, size, lies)
    return json_reply(200, {"paging": paging, "rewards": rewards})


def _catalog_filter(
    users: Sequence[FakeUser], params: Mapping[str, str], now: int
) -> Callable[[Mapping[str, Any]], bool] | Reply:
    """The catalogue's filters as one predicate, or the error for a bad one.

    `category` (a name, case and outer spaces aside), `active_only`,
    `featured` (a `featured_order_num`), `for_points` (costing at most) and
    `redeemable_by` (a CrowdTwist id: what that member may redeem now, with
    `for_points` as their points if given).
    """
    tests = _record_filters(params, now)
    budget = _budget(params)
    if isinstance(budget, Reply):
        return budget
    if budget is not None:
        tests.append(lambda record: _price(record) <= budget)
    if "redeemable_by" in params:
        member = _find_user(users, "id", params["redeemable_by"].strip())
        if member is None:
            return error_reply(400, "page_not_found", "User does not exist.")
        points = member.points if budget is None else budget
        tests.append(lambda record: _redeemable(member, record, points, now))
    return lambda record: all(test(record) for test in tests)


def _record_filters(
    params: Mapping[str, str], now: int
) -> list[Callable[[Mapping[str, Any]], bool]]:
    """The catalogue's filters that read the record alone: `category`,
    `active_only` and `featured`."""
    tests: list[Callable[[Mapping[str, Any]], bool]] = []
    if "category" in params:
        wanted = params["category"].strip().casefold()
        ids = {number for number, name in CATEGORY_NAMES.items() if name.casefold() == wanted}
        tests.append(lambda record: parse_int(record.get("category_id")) in ids)
    if _param_flag(params.get("active_only")):
        tests.append(lambda record: _active(record, now))
    if _param_flag(params.get("featured")):
        tests.append(lambda record: record.get("featured_order_num") is not None)
    return tests


def _budget(params: Mapping[str, str]) -> int | Reply | None:
    """`for_points`, the most a reward may cost: None if absent, else the error
    for one that is not a number of points."""
    if "for_points" not in params:
        return None
    budget = parse_int(params["for_points"])
    if budget is None or budget < 0:
        return error_reply(400, "param_error", "Param for_points must be a non-negative integer.")
    return budget


def _price(reward: Mapping[str, Any]) -> int:
    """The points one unit of *reward* costs."""
    return parse_int(reward.get("num_points")) or 0


def _redeemable(user: FakeUser, record: Mapping[str, Any], points: int, now: int) -> bool:
    limit = parse_int(record.get("max_per_user"))
    return (
        _active(record, now)
        and _in_stock(record)
        and _price(record) <= points
        and (not limit or limit < 0 or _redeemed(user, str(record.get("id"))) < limit)
    )


# -- writes ---------------------------------------------------------------------------


def _json_body(body: bytes) -> dict[str, Any] | None:
    """The request body as a JSON object, or None."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return payload if isinstance(payload, dict) else None


def _input_error(message: str) -> Reply:
    return error_reply(400, "input_error", message)


def _identifier(value: object) -> str | None:
    """An id sent as a string (documented) or a number, as text; else None."""
    if type(value) is int:
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _naming(body: bytes, name: str) -> tuple[dict[str, Any], str] | Reply:
    """A write's *body*, a JSON object, and the id it gives as *name*; or the
    input error."""
    payload = _json_body(body)
    if payload is None:
        return _input_error("The request body must be a JSON object.")
    value = _identifier(payload.get(name))
    if value is None:
        return _input_error(f"Param {name} is required.")
    return payload, value


def _number(payload: Mapping[str, Any], name: str, least: int) -> int | Reply | None:
    """*payload*'s integer *name* (a JSON number, or digits in a string), at
    least *least*; None when absent or null; else the error."""
    value = payload.get(name)
    if value is None:
        return None
    number = None if isinstance(value, bool) else parse_int(value)
    if number is None or number < least:
        qualifier = "positive" if least > 0 else "non-negative"
        return _input_error(f"Param {name} must be a {qualifier} integer.")
    return number


def _like(old: object, new: int) -> int | str:
    """*new* as *old* was sent: text where it was text."""
    return str(new) if isinstance(old, str) else new


def _redeemed(user: FakeUser, reward_id: str) -> int:
    """How many of *reward_id* the member redeemed, cancelled orders aside."""
    return sum(
        parse_int(record.get("quantity")) or 1
        for record in user.redemptions
        if str(record.get("reward_id")) == reward_id and record.get("status") != "cancelled"
    )


def _find_reward(
    user: FakeUser, catalog: Sequence[dict[str, Any]], reward_id: str
) -> dict[str, Any] | None:
    """The reward *reward_id* from the member's own listing, else the catalogue."""
    for records in (user.rewards, catalog):
        for record in records:
            if str(record.get("id")).strip() == reward_id:
                return record
    return None


def _is_coupon_reward(record: Mapping[str, Any]) -> bool:
    """A reward that issues coupons: one with coupons in its batch."""
    return (parse_int(record.get("total_coupons")) or 0) > 0


@attrs.frozen(kw_only=True)
class _Order:
    """A redemption request as its body states it, once well formed."""

    reward_id: str
    quantity: int
    #: The body's `shipping_*` fields, in its order: the answer repeats them.
    shipping: Mapping[str, Any]


def _redeem(
    user: FakeUser, users: Sequence[FakeUser], body: bytes, program: Program, now: int
) -> Reply:
    """User Redemption: check the order as CrowdTwist does, then spend the
    points, take the stock, record the order and issue any coupons."""
    order = _read_order(body)
    if isinstance(order, Reply):
        return order
    reward = _find_reward(user, program.catalog, order.reward_id)
    if reward is None or not _active(reward, now):
        return error_reply(404, "invalid_reward", "Reward does not exist, is expired or inactive.")
    refused = _refused_order(user, reward, order)
    if refused is not None:
        return refused
    return json_reply(200, _fulfil(user, users, reward, order, program, now))


def _read_order(body: bytes) -> _Order | Reply:
    """The order a redemption's *body* states, or the input error."""
    named = _naming(body, "reward_id")
    if isinstance(named, Reply):
        return named
    payload, reward_id = named
    quantity = _number(payload, "quantity", 1)
    if isinstance(quantity, Reply):
        return quantity
    if quantity is None:
        return _input_error("Param quantity is required.")
    shipping = {key: value for key, value in payload.items() if key.startswith("shipping_")}
    return _Order(reward_id=reward_id, quantity=quantity, shipping=shipping)


def _refused_order(user: FakeUser, reward: Mapping[str, Any], order: _Order) -> Reply | None:
    """Why *user* may not redeem *order* of the active *reward*; None if they may."""
    stock = parse_int(reward.get("current_quantity"))
    if stock is not None and stock < order.quantity:
        return error_reply(
            403, "forbidden", "The redemption exceeds the current quantity of rewards."
        )
    limit = parse_int(reward.get("max_per_user"))
    if (
        limit is not None
        and limit > 0
        and _redeemed(user, order.reward_id) + order.quantity > limit
    ):
        return error_reply(
            403, "over_redeem_limit", f"User can only redeem {limit} of this reward."
        )
    if user.points < _price(reward) * order.quantity:
        return error_reply(
            403, "insufficient_points", "User does not have enough points to redeem reward."
        )
    return None


def _fulfil(
    user: FakeUser,
    users: Sequence[FakeUser],
    reward: dict[str, Any],
    order: _Order,
    program: Program,
    now: int,
) -> dict[str, Any]:
    """Spend the points, take the stock, record the order and issue any
    coupons; return the answer's body."""
    cost = _price(reward) * order.quantity
    user.points -= cost
    stock = parse_int(reward.get("current_quantity"))
    if stock is not None:
        reward["current_quantity"] = _like(reward.get("current_quantity"), stock - order.quantity)
    number = parse_int(order.reward_id)
    wire_id: int | str = order.reward_id if number is None else number
    shipped = _truthy(reward.get("is_shipping_required"))
    record = program.redemptions.order(
        now,
        reward_id=wire_id,
        reward_title=reward.get("title"),
        points=cost,
        quantity=order.quantity,
        status="pending" if shipped else "fulfilled",
    )
    # First: of several redemptions in one second, the history lists the last first.
    user.redemptions.insert(0, record)
    program.pushed.append(("user_redemption", redemption_push(user, reward, record)))
    codes = (
        _issue_coupons(user, users, reward, record, program, now)
        if _is_coupon_reward(reward)
        else []
    )
    download = (
        program.members.download_link() if _truthy(reward.get("is_digital_download")) else None
    )
    return {
        "order_id": record["id"],
        "reward_id": wire_id,
        "quantity": order.quantity,
        "total_points_redeemed": cost,
        "ending_balance": user.points,
        "codes": codes,
        "digital_download": download,
        **order.shipping,
    }


def _issue_coupons(
    user: FakeUser,
    users: Sequence[FakeUser],
    reward: dict[str, Any],
    order: Mapping[str, Any],
    program: Program,
    now: int,
) -> list[str]:
    """Give *user* one usable coupon per unit of *order*; return their codes."""
    taken = {str(coupon.record.get("code")) for member in users for coupon in member.coupons}
    codes: list[str] = []
    for _ in range(int(order["quantity"])):
        coupon = program.members.coupon(
            now,
            reward_id=order["reward_id"],
            order_id=order["id"],
            title=order["reward_title"],
            points=order["points"],
            balance=user.points,
            taken=taken,
        )
        taken.add(coupon["code"])
        user.coupons.append(FakeCoupon(record=coupon))
        codes.append(coupon["code"])
    remaining = parse_int(reward.get("remaining_coupons"))
    if remaining is not None:
        reward["remaining_coupons"] = _like(
            reward.get("remaining_coupons"), max(0, remaining - len(codes))
        )
    return codes


def _credit(user: FakeUser, body: bytes, program: Program, now: int) -> Reply:
    """User Activity Credit: add the points to both balances, record the activity."""
    named = _naming(body, "activity_id")
    if isinstance(named, Reply):
        return named
    credit, activity_id = named
    activity = program.activities.get(activity_id)
    if activity is None:
        return _input_error("Activity does not exist.")
    points = _number(credit, "num_points", 0)
    if isinstance(points, Reply):
        return points
    activity_date = _number(credit, "activity_date", 0)
    if isinstance(activity_date, Reply):
        return activity_date
    extra_data = credit.get("extra_data")
    if extra_data is not None and not isinstance(extra_data, dict):
        return _input_error("Param extra_data must be an object.")
    if points is None:
        points = parse_int(activity.get("num_points")) or 0
    record = program.members.activity(
        now,
        activity_id=activity_id,
        name=activity.get("name"),
        num_points=points,
        date=now,
        activity_date=activity_date,
        extra_data=extra_data,
    )
    user.points += points
    user.total_points += points
    # First: of several credits in one second, the history lists the last first.
    user.activities.insert(0, record)
    program.pushed.append(("user_activity", activity_push(user, record)))
    return json_reply(200, {"awarded": True})


def _use_date(value: object) -> bool:
    """Whether *value* is a date and time in ISO 8601, as `use_date` must be."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    try:
        datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return False
    return True


def _coupon_use(users: Sequence[FakeUser], body: bytes, *, used: bool) -> Reply:
    """Use Coupon (*used*) or Unuse Coupon: mark the coupon, once each way."""
    value = _coupon_value(body, used=used)
    if isinstance(value, Reply):
        return value
    coupon = _find_coupon(users, value)
    if coupon is None:
        return error_reply(404, "not_issued", "Coupon has not been issued.")
    if used and coupon.used:
        return error_reply(400, "invalid", "Coupon has already been used.")
    if not used and not coupon.used:
        return error_reply(400, "not_used", "Coupon has not been used.")
    coupon.used = used
    return json_reply(200, {"success": True, "message": "Successfully submitted"})


def _find_coupon(users: Sequence[FakeUser], code: str) -> FakeCoupon | None:
    """The coupon whose code is *code*, exactly, whoever holds it."""
    return next(
        (c for member in users for c in member.coupons if c.record.get("code") == code), None
    )


def _coupon_value(body: bytes, *, used: bool) -> str | Reply:
    """The code a Use (*used*) or Unuse Coupon *body* names, or the input error."""
    payload = _json_body(body)
    if payload is None:
        return _input_error("The request body must be a JSON object.")
    value = payload.get("coupon_value")
    if not isinstance(value, str) or not value:
        return _input_error("Param coupon_value is required.")
    if used and payload.get("use_date") is not None and not _use_date(payload["use_date"]):
        return _input_error("Param use_date must be a date and time in ISO 8601.")
    return value
