"""The CrowdTwist calls: each listing declared once, and the resource objects a
`Session` hands out, which build requests and hand them to its engine.

To add a paginated read: declare its `ListingSpec` here (its path, how a page
reads, which items are the same record) and a method that checks its own
arguments and calls `self._engine.listing(SPEC, path, params, new_items,
options)`; `**options: Unpack[ListingOptions]` gives it every listing option,
checked by the engine. A single read calls `self._engine.get`.
"""

from __future__ import annotations

from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from ._engine import Engine
from ._listing import ListingOptions, ListingSpec, check_page_size
from ._models import IdType, IdTypeName, Reward, RewardsPage, UsableCoupon
from ._page import Page, new_items
from ._pagination import AsyncPaginator
from ._payload import (
    record_id,
    structure_coupons,
    structure_listing_page,
    structure_rewards_page,
)
from ._protocol import COUPON_ID_TYPES, MAX_PAGE_SIZE, check_id_type, check_int, encode_user_id

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["REDEMPTION_HISTORY", "REWARDS", "Users"]

T = TypeVar("T")

_REWARD_ID_TYPES: Final = frozenset(IdType)

#: How spans and logs name the path: a user id is personal data.
_COUPONS: Final = "/v2/users/{user_id}/usable_coupons"


def _rewards_page(payload: object, number: int) -> Page[Reward, RewardsPage]:
    page = structure_rewards_page(payload, number)
    return Page(
        number=page.number,
        total=page.total,
        pages=page.pages,
        items=page.rewards,
        next_page=page.next_page,
        source=page,
    )


def _whole_page(page: Page[Reward, RewardsPage], fresh: list[Reward]) -> tuple[RewardsPage]:
    """What `aiter_reward_pages` yields for a page: as the server sent it, or
    cut to the rewards `max_items` leaves."""
    source = page.source
    if page.items is source.rewards:
        return (source,)
    return (attrs.evolve(source, rewards=tuple(page.items)),)


#: User Rewards v2.1: the rewards a user may redeem, 10 a page at most.
REWARDS: Final = ListingSpec(
    template="/v2.1/users/{user_id}/rewards",
    parse_page=_rewards_page,
    key=attrgetter("id"),
    noun="rewards",
    max_page_size=MAX_PAGE_SIZE,
)

#: User Redemption History v2.2, its records as read-only mappings under
#: `redemptions` (the typed call comes with the member API).
REDEMPTION_HISTORY: Final = ListingSpec[Any, None](
    template="/v2.2/users/{user_id}/redemption_history",
    parse_page=partial(structure_listing_page, items="redemptions", build=None),
    key=record_id,
    noun="redemptions",
    max_page_size=MAX_PAGE_SIZE,
)


class Users:
    """The `/users/{user_id}/...` endpoints, reached as `session.users`.

    `user_id` is whatever `id_type` says it is (an email address, a username,
    a CrowdTwist id...); `id_type=None` leaves the choice to the server, whose
    default is the CrowdTwist id. Built on the session's own engine, the one
    `session.get_json` and `session.paginate` use.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def aiter_rewards(
        self,
        user_id: str | int,
        *,
        id_type: IdType | IdTypeName | None = None,
        include_soldout: bool = False,
        **options: Unpack[ListingOptions],
    ) -> AsyncPaginator[Reward]:
        """Every reward available to the user, in order, each one once.

        The first page is fetched first; the rest concurrently, at most
        `max_concurrency` at a time (default: the session's). `page_size`
        is at most 10. `start_page` starts at a later page (a batch job
        going on from `resume_page`); `max_items` stops after that many
        rewards, asking for no page that cannot add to them (see
        `ListingOptions`). Arguments are checked here, before any request.

        ```python
        async for reward in session.users.aiter_rewards("alice@example.com", id_type="email"):
            print(reward.id, reward.title, reward.num_points)
        ```
        """
        path, params = _rewards_query(user_id, id_type, include_soldout)
        return self._engine.listing(REWARDS, path, params, new_items, options)

    def aiter_reward_pages(
        self,
        user_id: str | int,
        *,
        id_type: IdType | IdTypeName | None = None,
        include_soldout: bool = False,
        **options: Unpack[ListingOptions],
    ) -> AsyncPaginator[RewardsPage]:
        """Every non-empty page of the user's rewards, in page order.

        Pages are yielded as the server sent them; unlike `aiter_rewards`,
        a reward that shifted onto the next page while the listing was read
        appears on both. `max_items` counts rewards, as `aiter_rewards`
        does: the page that reaches it is cut to fit.

        ```python
        async for page in session.users.aiter_reward_pages("alice@example.com", id_type="email"):
            print(f"page {page.number}/{page.pages}: {len(page.rewards)} rewards")
        ```
        """
        path, params = _rewards_query(user_id, id_type, include_soldout)
        return self._engine.listing(REWARDS, path, params, _whole_page, options)

    async def get_rewards_page(
        self,
        user_id: str | int,
        *,
        page: int = 1,
        id_type: IdType | IdTypeName | None = None,
        page_size: int | None = None,
        include_soldout: bool = False,
    ) -> RewardsPage:
        """One page of the user's rewards.

        A user with no rewards (`no_data`) gives an empty page with total 0.
        A page past the end is empty too, as the API makes it.
        """
        number = check_int("page", page, low=1)
        path, params = _rewards_query(user_id, id_type, include_soldout)
        if page_size is not None:
            params["page_size"] = str(check_page_size(page_size, REWARDS.max_page_size))
        params["page"] = str(number)

        def parse(payload: object) -> RewardsPage:
            return structure_rewards_page(payload, number)

        return await self._engine.get(
            path, params, parse, template=REWARDS.template, listing=True, page=number
        )

    async def usable_coupons(
        self,
        user_id: str | int,
        *,
        id_type: IdType | IdTypeName | None = None,
        expired: bool | None = None,
    ) -> tuple[UsableCoupon, ...]:
        """The user's coupons that were assigned and not yet used.

        `expired=True` sends `expired=true`, asking for expired (still unused)
        coupons too; `False` sends `expired=false`, leaving them out; `None`
        leaves the parameter out and the choice to the server. A user with
        none (`no_activities`) gives `()`.
        """
        path = f"/v2/users/{encode_user_id(user_id)}/usable_coupons"
        params = _id_type_param(check_id_type(id_type, COUPON_ID_TYPES))
        if expired is not None:
            params["expired"] = _flag("expired", expired)
        return await self._engine.get(
            path, params, structure_coupons, template=_COUPONS, listing=True
        )


def _rewards_query(
    user_id: str | int, id_type: IdType | IdTypeName | None, include_soldout: bool
) -> tuple[str, dict[str, str]]:
    """Check a rewards query's arguments; return its path and parameters."""
    path = f"/v2.1/users/{encode_user_id(user_id)}/rewards"
    params = _id_type_param(check_id_type(id_type, _REWARD_ID_TYPES))
    if _flag("include_soldout", include_soldout) == "true":
        params["include_soldout"] = "true"
    return path, params


def _id_type_param(value: str | None) -> dict[str, str]:
    return {} if value is None else {"id_type": value}


def _flag(name: str, value: bool) -> str:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return "true" if value else "false"
