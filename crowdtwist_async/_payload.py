"""Response envelopes: a decoded body to a `RewardsPage` or a tuple of coupons.

The pure layer beside `_protocol`: `_protocol` turns a response into decoded
JSON (or `EMPTY_LISTING`, or an exception); this module finds the records in
that JSON, whatever envelope the API put them in, and the page numbers in its
links; `_converter` builds each record. "Nothing to list" has one form from
here on: a `RewardsPage` with no rewards, or `()`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeVar
from urllib.parse import unquote_plus

import attrs

from ._converter import describe, structure, structure_int, structure_records
from ._exceptions import CrowdTwistError, ResponseDecodeError
from ._models import (
    ActivityCredit,
    CouponResult,
    Points,
    RedemptionResult,
    Reward,
    RewardsPage,
    UsableCoupon,
    User,
)
from ._page import Page
from ._protocol import EMPTY_LISTING

__all__ = [
    "empty_page",
    "page_number_from_link",
    "record_id",
    "structure_activity_credit",
    "structure_coupon_result",
    "structure_coupons",
    "structure_listing_page",
    "structure_points",
    "structure_redemption_result",
    "structure_rewards_page",
    "structure_user",
]

T = TypeVar("T")

# Any of these at the top level of a rewards page means the reward was inlined
# there, as in the documented sample.
_REWARD_KEYS: Final = frozenset(a.name for a in attrs.fields(Reward) if a.default is attrs.NOTHING)


def empty_page(number: int) -> RewardsPage:
    """Page *number* of a listing the API says is empty (`no_data`): total 0."""
    return RewardsPage(number=number, total=0, pages=0, rewards=(), next_page=None, prev_page=None)


def page_number_from_link(link: object) -> int | None:
    """Return the positive integer `page` query parameter of *link*, else None.

    Only the query matters: the API's links carry a wrong host and path (the
    documented ones, like "https://api[client_id].ct.com/...", are not even
    valid URLs, which `urllib.parse.urlsplit` rejects). Read as `parse_qs`
    reads it (the first `page=` wins) without decoding every other parameter.
    """
    if not isinstance(link, str):
        return None
    query = link.partition("#")[0].partition("?")[2]
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        # As parse_qs: a parameter without a value does not count, and names
        # and values are percent- and plus-decoded. A name with a "+" decodes
        # with a space in it, so only "%" can make one read "page".
        if not equals or not value:
            continue
        if "%" in name:
            name = unquote_plus(name)
        if name == "page":
            # The usual "page=3", quickly (int() refuses over 4300 digits).
            number: int | None
            if value.isdecimal() and value.isascii() and len(value) < 20:
                number = int(value)
            else:
                number = _lenient_int(unquote_plus(value))
            return number if number is not None and number > 0 else None
    return None


def _lenient_int(value: object) -> int | None:
    try:
        return structure_int(value)
    except ValueError:
        return None


def _count(value: object) -> int | None:
    number = _lenient_int(value)
    return number if number is not None and number >= 0 else None


def structure_rewards_page(payload: object, number: int) -> RewardsPage:
    """Build page *number* of a user's rewards from the decoded JSON *payload*.

    Besides the documented `{"paging": {...}, "rewards": [...]}`, accepts the
    documented sample's shape, one reward's fields inlined beside `paging`,
    and `EMPTY_LISTING` (`no_data`), which is an empty page with total 0.
    A `total` or `pages` that is not a count (negative, not a number) becomes
    None, "unknown".

    Raises:
        ResponseDecodeError: the payload or one of its rewards does not fit.
    """
    if payload is EMPTY_LISTING:
        return empty_page(number)
    # type() first: isinstance() against an ABC is slow.
    if type(payload) is not dict and not isinstance(payload, Mapping):
        raise ResponseDecodeError(
            f"invalid rewards page: expected a JSON object, got {describe(payload)}",
            field="rewards",
        )
    rewards = payload.get("rewards")
    if rewards is None:
        if _REWARD_KEYS.isdisjoint(payload):
            records: tuple[Reward, ...] = ()
        else:
            # `paging` belongs to the page, not to the reward inlined beside it.
            inlined = {key: value for key, value in payload.items() if key != "paging"}
            records = (structure(inlined, Reward),)
    elif type(rewards) is list or isinstance(rewards, list):
        records = structure_records(rewards, Reward, "rewards")
    else:
        raise ResponseDecodeError(
            f"invalid rewards page: field 'rewards': expected a JSON array, "
            f"got {describe(rewards)}",
            field="rewards",
        )

    paging = _paging(payload)
    return RewardsPage(
        number=number,
        total=_count(paging.get("total")),
        pages=_count(paging.get("pages")),
        rewards=records,
        next_page=page_number_from_link(paging.get("next_page")),
        prev_page=page_number_from_link(paging.get("prev_page")),
    )


def _paging(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    paging = payload.get("paging")
    if type(paging) is not dict and not isinstance(paging, Mapping):
        return {}
    return paging


def structure_listing_page(
    payload: object,
    number: int,
    items: str | tuple[str, ...],
    build: Callable[[Mapping[str, Any]], T] | None,
) -> Page[T, None]:
    """Build page *number* of any listing in the `paging` envelope from *payload*.

    The records are the JSON objects in `payload[items]` (`null`: none),
    each given to *build*, or, without it, kept as a read-only mapping. An
    exception from *build* becomes a `ResponseDecodeError` naming the item.
    A payload without *items* is refused, naming the keys it has: a wrong
    `items=` must not read as an empty listing. Several names in *items*
    (where the docs disagree on it) are tried in order; the first present
    is read.

    Raises:
        ResponseDecodeError: the payload or one of its records does not fit.
    """
    if payload is EMPTY_LISTING:
        return Page(number=number, total=0, pages=0, items=(), next_page=None, source=None)
    names = (items,) if isinstance(items, str) else items
    if type(payload) is not dict and not isinstance(payload, Mapping):
        raise ResponseDecodeError(
            f"invalid page {number}: expected a JSON object, got {describe(payload)}",
            field=names[0],
        )
    key = next((name for name in names if name in payload), None)
    if key is None:
        # The keys only: the values may be personal data.
        keys = ", ".join(repr(str(name)) for name in payload) or "none"
        wanted = " or ".join(repr(name) for name in names)
        raise ResponseDecodeError(
            f"invalid page {number}: no {wanted} in it (its keys: {keys}); "
            "check the items= of the listing",
            field=names[0],
        )
    raw = payload[key]
    if raw is None:
        raw = []
    elif type(raw) is not list and not isinstance(raw, list):
        raise ResponseDecodeError(
            f"invalid page {number}: field {key!r}: expected a JSON array, got {describe(raw)}",
            field=key,
        )
    records = _listing_records(raw, number, key, build)
    paging = _paging(payload)
    return Page(
        number=number,
        total=_count(paging.get("total")),
        pages=_count(paging.get("pages")),
        items=records,
        next_page=page_number_from_link(paging.get("next_page")),
        source=None,
    )


def _listing_records(
    raw: list[Any], number: int, items: str, build: Callable[[Mapping[str, Any]], T] | None
) -> list[Any]:
    """The records of page *number*: each JSON object read-only, or built."""
    records: list[Any] = []
    for index, record in enumerate(raw):
        if type(record) is not dict and not isinstance(record, Mapping):
            raise ResponseDecodeError(
                f"invalid page {number}: {items}[{index}]: expected a JSON object, "
                f"got {describe(record)}",
                field=f"{items}[{index}]",
            )
        if build is None:
            records.append(MappingProxyType(record))
            continue
        try:
            records.append(build(record))
        except CrowdTwistError:
            raise
        except Exception as exc:
            name = record_id(record)
            raise ResponseDecodeError(
                f"invalid page {number}: {items}[{index}]: structure raised "
                f"{type(exc).__name__}: {exc}",
                field=f"{items}[{index}]",
                record_id=None if name is None else str(name),
            ) from exc
    return records


def record_id(item: object) -> Hashable | None:
    """The `id` of a record, a mapping's or an object's, as text; None without one.

    The API sends numbers as strings at times, so `5000123` and `"5000123"`
    are the same record.
    """
    value = item.get("id") if isinstance(item, Mapping) else getattr(item, "id", None)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None


def structure_coupons(payload: object) -> tuple[UsableCoupon, ...]:
    """Build the user's usable coupons from the decoded JSON *payload*.

    The documented sample is not valid JSON, so the real shape is uncertain;
    accepted are a JSON array of coupons, a single coupon object, and an
    object holding exactly one array (e.g. `{"usable_coupons": [...]}`).
    `EMPTY_LISTING` (`no_activities`) is `()`.

    Raises:
        ResponseDecodeError: the payload or one of its coupons does not fit.
    """
    if payload is EMPTY_LISTING:
        return ()
    if isinstance(payload, list):
        return structure_records(payload, UsableCoupon, "")
    if isinstance(payload, Mapping):
        if "reward_id" in payload or "code" in payload:
            return (structure(payload, UsableCoupon),)
        arrays = [(key, value) for key, value in payload.items() if isinstance(value, list)]
        if len(arrays) == 1:
            key, items = arrays[0]
            return structure_records(items, UsableCoupon, str(key))
    raise ResponseDecodeError(
        "invalid usable coupons: expected a JSON array of coupons, a coupon, or an "
        f"object holding one array of coupons; got {describe(payload)}"
    )


# -- the member API -------------------------------------------------------------


def structure_user(payload: object) -> User:
    """Build a member's profile (User Profile v2) from the decoded JSON *payload*.

    Raises:
        ResponseDecodeError: the payload is not a profile object, or a field does not fit.
    """
    return structure(payload, User)


def structure_points(payload: object) -> Points:
    """Build a member's points (User Points v2) from the decoded JSON *payload*.

    Raises:
        ResponseDecodeError: the payload is not a points object, or a field does not fit.
    """
    return structure(payload, Points)


def structure_redemption_result(payload: object) -> RedemptionResult:
    """Build the answer to a redemption (User Redemption v2) from *payload*.

    See `_structure_answer`: the redemption has happened, so what can be read
    is read and the rest kept in `unknown_fields`.

    Raises:
        ResponseDecodeError: the payload is neither a JSON object nor null.
    """
    return _structure_answer(payload, RedemptionResult, "redemption")


def structure_activity_credit(payload: object) -> ActivityCredit:
    """Build the answer to an activity credit (User Activity Credit v2) from *payload*.

    Raises:
        ResponseDecodeError: the payload is neither a JSON object nor null.
    """
    return _structure_answer(payload, ActivityCredit, "activity credit")


def structure_coupon_result(payload: object) -> CouponResult:
    """Build the answer to Use Coupon or Unuse Coupon from *payload*.

    Raises:
        ResponseDecodeError: the payload is neither a JSON object nor null.
    """
    return _structure_answer(payload, CouponResult, "coupon update")


_A = TypeVar("_A", RedemptionResult, ActivityCredit, CouponResult)


def _structure_answer(payload: object, cls: type[_A], what: str) -> _A:
    """Read the answer to a write that CrowdTwist carried out.

    A write must not look failed once it has succeeded: the caller would send
    it again (redeem twice). So the answer's fields are all optional, `null`
    is an answer that says nothing, and a field whose value does not fit is
    left None with the value kept, under its key, in `unknown_fields`. Only
    an answer that is not a JSON object at all is refused, saying that the
    write itself went through.
    """
    if payload is None:
        return cls()
    if type(payload) is not dict and not isinstance(payload, Mapping):
        raise ResponseDecodeError(
            f"invalid {what} answer: expected a JSON object, got {describe(payload)} "
            f"(CrowdTwist accepted the {what}: do not send it again)"
        )
    data = dict(payload)
    unreadable: dict[str, Any] = {}
    while True:  # each round removes a key, so it ends
        try:
            record = structure(data, cls)
        except ResponseDecodeError as exc:
            key = exc.field if exc.field in data else _top_key(exc.field)
            if key is None or key not in data:
                raise
            unreadable[key] = data.pop(key)
            continue
        break
    if unreadable:
        record = attrs.evolve(record, unknown_fields={**record.unknown_fields, **unreadable})
    return record


def _top_key(field: str | None) -> str | None:
    """The top-level key of a `ResponseDecodeError.field` path ("codes[1]": "codes")."""
    if not field:
        return None
    return field.split("[", 1)[0].split(".", 1)[0] or None
