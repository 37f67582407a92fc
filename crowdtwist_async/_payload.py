"""Response envelopes: a decoded body to a `RewardsPage` or a tuple of coupons.

The pure layer beside `_protocol`: `_protocol` turns a response into decoded
JSON (or `EMPTY_LISTING`, or an exception); this module finds the records in
that JSON, whatever envelope the API put them in, and the page numbers in its
links; `_converter` builds each record. "Nothing to list" has one form from
here on: a `RewardsPage` with no rewards, or `()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import unquote_plus

import attrs

from ._converter import describe, structure, structure_int, structure_records
from ._exceptions import ResponseDecodeError
from ._models import Reward, RewardsPage, UsableCoupon
from ._protocol import EMPTY_LISTING

__all__ = ["empty_page", "page_number_from_link", "structure_coupons", "structure_rewards_page"]

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

    paging = payload.get("paging")
    if type(paging) is not dict and not isinstance(paging, Mapping):
        paging = {}
    return RewardsPage(
        number=number,
        total=_count(paging.get("total")),
        pages=_count(paging.get("pages")),
        rewards=records,
        next_page=page_number_from_link(paging.get("next_page")),
        prev_page=page_number_from_link(paging.get("prev_page")),
    )


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
