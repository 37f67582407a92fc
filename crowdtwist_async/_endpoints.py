"""The endpoint objects a `Session` hands out: they build requests and read pages."""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Final, TypeVar

from ._models import IdType, IdTypeName, Reward, RewardsPage, UsableCoupon
from ._pagination import AsyncPaginator, Page, Select, new_items, reward_page, whole_reward_page
from ._payload import structure_coupons, structure_rewards_page
from ._protocol import COUPON_ID_TYPES, MAX_PAGE_SIZE, check_id_type, check_int, encode_user_id

if TYPE_CHECKING:
    from ._session import Session

__all__ = ["Users"]

_REWARD_ID_TYPES = frozenset(IdType)

#: How spans and logs name the paths: a user id is personal data.
_REWARDS: Final = "/v2.1/users/{user_id}/rewards"
_COUPONS: Final = "/v2/users/{user_id}/usable_coupons"

_reward_id: Final = attrgetter("id")

T = TypeVar("T")


class Users:
    """The `/users/{user_id}/...` endpoints, reached as `session.users`.

    `user_id` is whatever `id_type` says it is (an email address, a username,
    a CrowdTwist id...); `id_type=None` leaves the choice to the server, whose
    default is the CrowdTwist id. Built on the session's own engine, the one
    `session.get_json` and `session.paginate` use.
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def aiter_rewards(
        self,
        user_id: str | int,
        *,
        id_type: IdType | IdTypeName | None = None,
        page_size: int | None = None,
        include_soldout: bool = False,
        max_concurrency: int | None = None,
        start_page: int = 1,
        max_items: int | None = None,
    ) -> AsyncPaginator[Reward]:
        """Every reward available to the user, in order, each one once.

        The first page is fetched first; the rest concurrently, at most
        `max_concurrency` at a time (default: the session's). `start_page`
        starts at a later page (a batch job going on from `resume_page`);
        `max_items` stops after that many rewards, asking for no page that
        cannot add to them. Arguments are checked here, before any request.

        ```python
        async for reward in session.users.aiter_rewards("alice@example.com", id_type="email"):
            print(reward.id, reward.title, reward.num_points)
        ```
        """
        return self._paginator(
            new_items,
            user_id,
            id_type,
            page_size,
            include_soldout,
            max_concurrency,
            start_page,
            max_items,
        )

    def aiter_reward_pages(
        self,
        user_id: str | int,
        *,
        id_type: IdType | IdTypeName | None = None,
        page_size: int | None = None,
        include_soldout: bool = False,
        max_concurrency: int | None = None,
        start_page: int = 1,
        max_items: int | None = None,
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
        return self._paginator(
            whole_reward_page,
            user_id,
            id_type,
            page_size,
            include_soldout,
            max_concurrency,
            start_page,
            max_items,
        )

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
        path, params = _rewards_query(user_id, id_type, page_size, include_soldout)

        def parse(payload: object) -> RewardsPage:
            return structure_rewards_page(payload, number)

        return await self._session._call(
            path,
            {**params, "page": str(number)},
            parse,
            template=_REWARDS,
            listing=True,
            page=number,
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
        return await self._session._call(
            path, params, structure_coupons, template=_COUPONS, listing=True
        )

    def _paginator(
        self,
        select: Select[Reward, RewardsPage, T],
        user_id: str | int,
        id_type: IdType | IdTypeName | None,
        page_size: int | None,
        include_soldout: bool,
        max_concurrency: int | None,
        start_page: int,
        max_items: int | None,
    ) -> AsyncPaginator[T]:
        path, params = _rewards_query(user_id, id_type, page_size, include_soldout)
        return self._session._listing(
            path,
            params,
            template=_REWARDS,
            parse_page=_rewards_page,
            select=select,
            key=_reward_id,
            page_size=page_size,
            max_concurrency=max_concurrency,
            start_page=start_page,
            max_items=max_items,
            noun="rewards",
        )


def _rewards_page(payload: object, number: int) -> Page[Reward, RewardsPage]:
    return reward_page(structure_rewards_page(payload, number))


def _rewards_query(
    user_id: str | int,
    id_type: IdType | IdTypeName | None,
    page_size: int | None,
    include_soldout: bool,
) -> tuple[str, dict[str, str]]:
    """Check a rewards query's arguments; return its path and parameters."""
    path = f"/v2.1/users/{encode_user_id(user_id)}/rewards"
    params = _id_type_param(check_id_type(id_type, _REWARD_ID_TYPES))
    if page_size is not None:
        params["page_size"] = str(check_int("page_size", page_size, low=1, high=MAX_PAGE_SIZE))
    if _flag("include_soldout", include_soldout) == "true":
        params["include_soldout"] = "true"
    return path, params


def _id_type_param(value: str | None) -> dict[str, str]:
    return {} if value is None else {"id_type": value}


def _flag(name: str, value: bool) -> str:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return "true" if value else "false"
