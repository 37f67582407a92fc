"""The endpoint objects a `Session` hands out: they build requests and read pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from ._models import IdType, IdTypeName, Reward, RewardsPage, UsableCoupon
from ._pagination import AsyncPaginator, FetchPage, Select, new_rewards, whole_page
from ._payload import structure_coupons, structure_rewards_page
from ._protocol import COUPON_ID_TYPES, MAX_PAGE_SIZE, check_id_type, check_int, encode_user_id

__all__ = ["Get", "Users"]

_REWARD_ID_TYPES = frozenset(IdType)

T = TypeVar("T")


class Get(Protocol):
    """What the endpoints need of a Session: GET a path with these query
    parameters (retried, checked, decoded) and parse the JSON into T."""

    def __call__(
        self, path: str, params: dict[str, str], parse: Callable[[object], T], /
    ) -> Awaitable[T]: ...


class Users:
    """The `/users/{user_id}/...` endpoints, reached as `session.users`.

    `user_id` is whatever `id_type` says it is (an email address, a username,
    a CrowdTwist id...); `id_type=None` leaves the choice to the server, whose
    default is the CrowdTwist id.
    """

    def __init__(self, get: Get, max_concurrency: int) -> None:
        self._get = get
        self._max_concurrency = max_concurrency

    def aiter_rewards(
        self,
        user_id: str | int,
        *,
        id_type: IdType | IdTypeName | None = None,
        page_size: int | None = None,
        include_soldout: bool = False,
        max_concurrency: int | None = None,
    ) -> AsyncPaginator[Reward]:
        """Every reward available to the user, in order, each one once.

        Page 1 is fetched first; the rest concurrently, at most
        `max_concurrency` at a time (default: the session's). Arguments are
        checked here, before any request.

        ```python
        async for reward in session.users.aiter_rewards("alice@example.com", id_type="email"):
            print(reward.id, reward.title, reward.num_points)
        ```
        """
        return self._paginator(
            new_rewards, user_id, id_type, page_size, include_soldout, max_concurrency
        )

    def aiter_reward_pages(
        self,
        user_id: str | int,
        *,
        id_type: IdType | IdTypeName | None = None,
        page_size: int | None = None,
        include_soldout: bool = False,
        max_concurrency: int | None = None,
    ) -> AsyncPaginator[RewardsPage]:
        """Every non-empty page of the user's rewards, in page order.

        Pages are yielded as the server sent them; unlike `aiter_rewards`,
        a reward that shifted onto the next page while the listing was read
        appears on both.

        ```python
        async for page in session.users.aiter_reward_pages("alice@example.com", id_type="email"):
            print(f"page {page.number}/{page.pages}: {len(page.rewards)} rewards")
        ```
        """
        return self._paginator(
            whole_page, user_id, id_type, page_size, include_soldout, max_concurrency
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
        fetch, _ = self._listing(user_id, id_type, page_size, include_soldout, None)
        return await fetch(number)

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
        return await self._get(path, params, structure_coupons)

    def _paginator(
        self,
        select: Select[T],
        user_id: str | int,
        id_type: IdType | IdTypeName | None,
        page_size: int | None,
        include_soldout: bool,
        max_concurrency: int | None,
    ) -> AsyncPaginator[T]:
        fetch, concurrency = self._listing(
            user_id, id_type, page_size, include_soldout, max_concurrency
        )
        return AsyncPaginator(
            fetch,
            max_concurrency=concurrency,
            page_size=MAX_PAGE_SIZE if page_size is None else page_size,
            select=select,
        )

    def _listing(
        self,
        user_id: str | int,
        id_type: IdType | IdTypeName | None,
        page_size: int | None,
        include_soldout: bool,
        max_concurrency: int | None,
    ) -> tuple[FetchPage, int]:
        """Check a rewards query's arguments and return its page fetcher."""
        path = f"/v2.1/users/{encode_user_id(user_id)}/rewards"
        params = _id_type_param(check_id_type(id_type, _REWARD_ID_TYPES))
        if page_size is not None:
            params["page_size"] = str(check_int("page_size", page_size, low=1, high=MAX_PAGE_SIZE))
        if _flag("include_soldout", include_soldout) == "true":
            params["include_soldout"] = "true"
        concurrency = (
            self._max_concurrency
            if max_concurrency is None
            else check_int("max_concurrency", max_concurrency, low=1)
        )
        get = self._get

        async def fetch(number: int) -> RewardsPage:
            def parse(payload: object) -> RewardsPage:
                return structure_rewards_page(payload, number)

            return await get(path, {**params, "page": str(number)}, parse)

        return fetch, concurrency


def _id_type_param(value: str | None) -> dict[str, str]:
    return {} if value is None else {"id_type": value}


def _flag(name: str, value: bool) -> str:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return "true" if value else "false"
