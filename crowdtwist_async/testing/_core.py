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
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any, Final, Literal, cast
from urllib.parse import parse_qsl, unquote

import attrs

from .._protocol import MAX_PAGE_SIZE
from ._data import ID_TYPES, FakeUser, parse_int

__all__ = [
    "Incoming",
    "PagingLies",
    "Reply",
    "error_reply",
    "json_reply",
    "parse_request",
    "respond",
]

Route = Literal["rewards", "coupons", "redemptions"]

_ROUTES: Final[Mapping[tuple[str, str], Route]] = {
    ("v2.1", "rewards"): "rewards",
    ("v2", "usable_coupons"): "coupons",
    ("v2.2", "redemption_history"): "redemptions",
}

#: `mobile_phone_number` is documented for every endpoint but usable coupons.
_ID_TYPES: Final[Mapping[Route, frozenset[str]]] = {
    "rewards": frozenset(ID_TYPES),
    "coupons": frozenset(ID_TYPES) - {"mobile_phone_number"},
    "redemptions": frozenset(ID_TYPES),
}

# The paginated endpoints, by their paging links. The real API's links name a
# placeholder host, no user and an empty key (see the docs' sample); a client
# may use only their page number.
_PAGE_LINKS: Final[Mapping[Route, str]] = {
    "rewards": "https://api[client_id].ct.com/v2.1/rewards?page={}&api_key=",
    "redemptions": "https://api[client_id].ct.com/v2.2/redemption_history?page={}&api_key=",
}

# The redemption history refuses a larger page, where the rewards listing
# quietly caps it at the SDK's `MAX_PAGE_SIZE`.
_MAX_REDEMPTIONS_PAGE_SIZE: Final = 10

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
    truth. Lies apply to every page the rewards listing or the redemption
    history answers with 200, through every adapter (the transport, ASGI,
    the served port), until removed from `FakeCrowdTwist.lies`; not to
    errors. A `script()` that sends the real answer (one with no `json`,
    `echo`, `body` of bytes or str, nor `status` without a `body` function)
    sends it as the lies tell it, its `body` function given the lied body;
    one that sends a body of its own sends it as scripted. Lies are taken
    when a request arrives and called when it is answered, so they may read
    the fake.
    Several lies that match one request apply in the order they were added,
    each to what the ones before made of the page.

    Attributes:
        path: only requests whose path (as sent) matches this `fnmatch`
            pattern, e.g. `"/v2.1/*"` for the rewards listing; None: both.
        page_size: `(page, size) -> int`, the size pages are cut at and
            counted by; `size` is the one asked for or the endpoint's
            default (10). Applied before the other lies, which see its result.
        total: `(page, total) -> object`, sent as `paging.total`.
        pages: `(page, pages) -> object`, sent as `paging.pages`.
        next_page: `(page, link) -> object`, sent as `paging.next_page`
            (the truth is a link or None).
        prev_page: `(page, link) -> object`, sent as `paging.prev_page`.
        items: `(page, records) -> object`, sent as the page's records (the
            `rewards` or `redemptions` array): fewer, repeated, others, or
            not a list at all. *records* are the member's own dicts: return
            new ones rather than edit them.
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
        """Whether these lies apply to a request for *path* (as sent)."""
        return self.path is None or fnmatch.fnmatchcase(path, self.path)

    def cut(self, page: int, size: int) -> int:
        """The page size *page* is cut at, given the true *size*."""
        if self.page_size is None:
            return size
        lied = self.page_size(page, size)
        if isinstance(lied, bool) or not isinstance(lied, int) or lied < 1:
            raise ValueError(f"a page_size lie must give an int >= 1, got {lied!r}")
        return lied

    def wait(self, page: int, latency: float) -> float:
        """The seconds *page* waits, given the true *latency*."""
        if self.delay is None:
            return latency
        lied = self.delay(page, latency)
        if isinstance(lied, bool) or not isinstance(lied, int | float) or not lied >= 0:
            raise ValueError(f"a delay lie must give seconds >= 0 (math.inf too), got {lied!r}")
        return lied

    def tell(
        self, page: int, paging: dict[str, Any], records: object
    ) -> tuple[dict[str, Any], object]:
        """What *page* says, given what it would say (or what earlier lies made of it)."""
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
    header. `route` and `user_id` are set when the path names an endpoint,
    `page` when that endpoint is paginated (the rewards listing or the
    redemption history).
    """

    method: str
    path: str
    params: Mapping[str, str]
    keys: tuple[str, ...]
    route: Route | None
    user_id: str | None
    page: int | None


def json_reply(status: int, payload: object) -> Reply:
    """*payload* as a JSON response."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Reply(status=status, headers=(("content-type", "application/json"),), body=body)


def error_reply(status: int, error: str, message: str) -> Reply:
    """The API's error envelope, `{"error": ..., "message": ...}`."""
    return json_reply(status, {"error": error, "message": message})


def parse_request(method: str, raw_path: str, query: str, headers: Mapping[str, str]) -> Incoming:
    """Read a request: *raw_path* still percent-encoded, *query* without the `?`,
    *headers* with lower-case names."""
    pairs = parse_qsl(query, keep_blank_values=True)
    params = {name: value for name, value in pairs if name != "api_key"}
    keys = [value for name, value in pairs if name == "api_key"]
    scheme, _, credential = headers.get("x-ct-authorization", "").strip().partition(" ")
    if scheme.lower() == _AUTH_SCHEME and credential.strip():
        keys.append(credential.strip())

    route = user_id = None
    # Split before decoding: an encoded "/" belongs to the user id.
    segments = raw_path.split("/")
    if len(segments) == 5 and segments[0] == "" and segments[2] == "users" and segments[3]:
        route = _ROUTES.get((segments[1], segments[4]))
        user_id = unquote(segments[3]) if route is not None else None
    page = _requested_page(params.get("page")) if route in _PAGE_LINKS else None
    return Incoming(
        method=method.upper(),
        path=raw_path,
        params=params,
        keys=tuple(keys),
        route=route,
        user_id=user_id,
        page=page,
    )


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
) -> Reply:
    """Answer *request* from *users*' records, as the API does at unix time *now*,
    its pages as *lies* (those matching it) tell them."""
    if request.route is None or request.user_id is None:
        return error_reply(
            404, "page_not_found", "The requested page does not exist or has been removed."
        )
    if request.method != "GET":
        reply = error_reply(
            405, "input_error", f"HTTP method {request.method} is not supported; use GET."
        )
        return attrs.evolve(reply, headers=(*reply.headers, ("allow", "GET")))
    if api_key not in request.keys:
        return error_reply(403, "invalid_auth", "Invalid access credentials.")
    id_type = request.params.get("id_type") or "id"
    if id_type not in _ID_TYPES[request.route]:
        return error_reply(400, "param_error", "Param id_type has invalid value.")
    user = _find_user(users, id_type, request.user_id)
    if user is None:
        return error_reply(400, "page_not_found", "User does not exist.")
    if request.route == "rewards":
        assert request.page is not None
        return _rewards(user, request.params, request.page, lies)
    if request.route == "redemptions":
        assert request.page is not None
        return _redemption_history(user, request.params, request.page, lies)
    return _usable_coupons(user, request.params, now)


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


def _day_start(value: str) -> int | None:
    """Unix seconds at the start of the UTC day *value* (`YYYY-MM-DD`), or None."""
    if not _DATE.fullmatch(value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:  # e.g. 2025-02-30
        return None
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())


def _redeemed_at(record: Mapping[str, Any]) -> int | None:
    when = record.get("date_redeemed")
    # As for `current_quantity`: take the common plain int without parsing.
    return when if type(when) is int else parse_int(when)


def _newest_first(record: Mapping[str, Any]) -> float:
    # A record without a readable date sorts as the oldest.
    when = _redeemed_at(record)
    return -math.inf if when is None else when


def _redemption_history(
    user: FakeUser, params: Mapping[str, str], page: int, lies: Sequence[PagingLies]
) -> Reply:
    size = _redemptions_page_size(params.get("page_size"))
    if size is None:
        return error_reply(
            400,
            "param_error",
            f"Param page_size must be between 1 and {_MAX_REDEMPTIONS_PAGE_SIZE}.",
        )
    bounds = _date_bounds(params)
    if isinstance(bounds, Reply):
        return bounds
    since, until = bounds
    listed = user.redemptions
    if since is not None or until is not None:
        listed = [
            record
            for record in listed
            if (when := _redeemed_at(record)) is not None
            and (since is None or when >= since)
            and (until is None or when < until)
        ]
    if not listed:
        return error_reply(400, "no_data", "There is no redemption history for this user.")
    # `sorted` is stable with reverse=True too: equal dates keep the records' order.
    newest = sorted(listed, key=_newest_first, reverse=True)
    paging, redemptions = _paged("redemptions", newest, page, size, lies)
    return json_reply(200, {"paging": paging, "redemptions": redemptions})


def _redemptions_page_size(raw: str | None) -> int | None:
    # Unlike the rewards listing, this endpoint refuses a page size it cannot
    # serve (an empty value included) instead of serving its default.
    size = _MAX_REDEMPTIONS_PAGE_SIZE if raw is None else parse_int(raw)
    if size is None or not 1 <= size <= _MAX_REDEMPTIONS_PAGE_SIZE:
        return None
    return size


def _date_bounds(params: Mapping[str, str]) -> tuple[int | None, int | None] | Reply:
    """The unix seconds from `start_date` and to `end_date` (exclusive), or the
    error for a parameter that is not a date."""
    days: dict[str, int] = {}
    for name in ("start_date", "end_date"):
        value = params.get(name)
        if value is None:
            continue
        day = _day_start(value)
        if day is None:
            return error_reply(400, "param_error", f"Param {name} must be a date as YYYY-MM-DD.")
        days[name] = day
    # Both bounds are whole UTC days and inclusive: until the end of end_date.
    until = days["end_date"] + _DAY if "end_date" in days else None
    return days.get("start_date"), until


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
