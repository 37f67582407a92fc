"""The CrowdTwist calls: each listing declared once, and the resource objects a
`Session` hands out (`Users`, `Rewards`, `Coupons`), which check their
arguments, build requests and hand them to its engine.

To add a paginated read: declare its `ListingSpec` here (its path, how a page
reads, which items are the same record) and a method that checks its own
arguments and calls `self._engine.listing(SPEC, path, params, new_items,
options)`; `**options: Unpack[ListingOptions]` gives it every listing option,
checked by the engine. A single read calls `self._engine.get(path, params,
structure_x, ...)`; a write `self._engine.write("POST", path, params, body,
structure_x, ...)`, which brings the write's retry rule with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from ._converter import structure
from ._engine import Engine
from ._listing import ListingOptions, ListingSpec, check_page_size
from ._models import (
    Activity,
    ActivityCredit,
    CouponResult,
    IdType,
    IdTypeName,
    Points,
    Redemption,
    RedemptionResult,
    Reward,
    RewardsPage,
    Shipping,
    UsableCoupon,
    User,
)
from ._page import Page, new_items
from ._pagination import AsyncPaginator
from ._payload import (
    record_id,
    structure_activity_credit,
    structure_coupon_result,
    structure_coupons,
    structure_listing_page,
    structure_points,
    structure_redemption_result,
    structure_rewards_page,
    structure_user,
)
from ._protocol import COUPON_ID_TYPES, MAX_PAGE_SIZE, check_id_type, check_int, encode_user_id

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "ACTIVITY_HISTORY",
    "CATALOG",
    "REDEMPTION_HISTORY",
    "REWARDS",
    "Coupons",
    "Rewards",
    "Users",
    "date_windows",
]

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


def _records_of(cls: type[T]) -> Callable[[Mapping[str, Any]], T]:
    """Build one listing record as *cls*."""
    return partial(structure, cls=cls)


#: User Redemption History v2.2, 10 a page at most. The page's field table
#: names the list `rewards`, its household sample `redemptions`: both are read.
REDEMPTION_HISTORY: Final = ListingSpec[Redemption, None](
    template="/v2.2/users/{user_id}/redemption_history",
    parse_page=partial(
        structure_listing_page, items=("rewards", "redemptions"), build=_records_of(Redemption)
    ),
    key=record_id,
    noun="redemptions",
    max_page_size=MAX_PAGE_SIZE,
)

#: User Activity History v2.1, 10 a page at most (its page could not be read;
#: the list is named as the household activity history names it).
ACTIVITY_HISTORY: Final = ListingSpec[Activity, None](
    template="/v2.1/users/{user_id}/activity_history",
    parse_page=partial(structure_listing_page, items="activities", build=_records_of(Activity)),
    key=record_id,
    noun="activities",
    max_page_size=MAX_PAGE_SIZE,
)

#: Rewards v2.1: the program's catalogue, 25 a page by default and at most.
CATALOG: Final = ListingSpec(
    template="/v2.1/rewards",
    parse_page=_rewards_page,
    key=attrgetter("id"),
    noun="rewards",
    max_page_size=25,
    default_page_size=25,
)

_USER: Final = "/v2/users/{user_id}"

#: The only ids a profile without personal data can be asked by.
_PII_FREE_ID_TYPES: Final = frozenset({"id", "third_party_id"})


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
        """Every reward available to the user, in order, each one once (User Rewards v2.1).

        The first page is fetched first; the rest concurrently, at most
        `max_concurrency` at a time (default: the session's). `page_size`
        is at most 10. `start_page` starts at a later page (a batch job
        going on from `resume_page`); `max_items` stops after that many
        rewards, asking for no page that cannot add to them (see
        `ListingOptions`). Arguments are checked here, before any request.
        A user with no rewards (`no_data`) gives an empty listing.

        ```python
        async for reward in session.users.aiter_rewards("alice@example.com", id_type="email"):
            print(reward.id, reward.title, reward.num_points)
        ```

        Args:
            user_id: the member, as `id_type` says (an email address, a CrowdTwist id...).
            id_type: what `user_id` is (default None: not sent, and the server reads a
                CrowdTwist id).
            include_soldout: whether to include the rewards that cannot be redeemed
                because they are sold out (default False: not sent).
            **options: the listing options (`page_size`, `max_concurrency`, `start_page`,
                `max_items`): see `ListingOptions`.

        Returns:
            The listing, an `AsyncPaginator` of `Reward`; nothing is sent until it is
            iterated.

        Raises:
            TypeError: if user_id is not a str or int, include_soldout is not a bool, or an
                option is unknown or not an int (before any request).
            ValueError: if user_id is empty, id_type is not one of `IdType`, or an option is
                out of bounds (`page_size` not 1..10, `max_items` below `page_size`...)
                (before any request).
            NotFoundError: while iterating, if the user does not exist (`page_not_found`).
            IncompleteListingError: while iterating, if the listing ended short of what its
                first page announced (`ListingChangedError`: it changed while read).
            CrowdTwistError: any other failure (see the error tree in the guide).
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

        Args:
            user_id: the member, as `id_type` says (an email address, a CrowdTwist id...).
            id_type: what `user_id` is (default None: not sent, and the server reads a
                CrowdTwist id).
            include_soldout: whether to include the rewards that cannot be redeemed
                because they are sold out (default False: not sent).
            **options: the listing options (`page_size`, `max_concurrency`, `start_page`,
                `max_items`): see `ListingOptions`.

        Returns:
            The listing, an `AsyncPaginator` of `RewardsPage`; nothing is sent until it
            is iterated.

        Raises:
            TypeError: if user_id is not a str or int, include_soldout is not a bool, or an
                option is unknown or not an int (before any request).
            ValueError: if user_id is empty, id_type is not one of `IdType`, or an option is
                out of bounds (`page_size` not 1..10, `max_items` below `page_size`...)
                (before any request).
            NotFoundError: while iterating, if the user does not exist (`page_not_found`).
            IncompleteListingError: while iterating, if the listing ended short of what its
                first page announced (`ListingChangedError`: it changed while read).
            CrowdTwistError: any other failure (see the error tree in the guide).
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
        """One page of the user's rewards (User Rewards v2.1).

        A user with no rewards (`no_data`) gives an empty page with total 0.
        A page past the end is empty too, as the API makes it.

        Args:
            user_id: the member, as `id_type` says (an email address, a CrowdTwist id...).
            page: the page's number, at least 1 (default 1).
            id_type: what `user_id` is (default None: not sent, and the server reads a
                CrowdTwist id).
            page_size: the rewards a page holds, 1..10 (default None: not sent, and the
                server holds 10).
            include_soldout: whether to include the rewards that cannot be redeemed
                because they are sold out (default False: not sent).

        Returns:
            The page, with its rewards and the listing's `total` and `pages`.

        Raises:
            TypeError: if user_id is not a str or int, page or page_size is not an int, or
                include_soldout is not a bool (before any request).
            ValueError: if user_id is empty, id_type is not one of `IdType`, page is below 1
                or page_size is not 1..10 (before any request).
            NotFoundError: if the user does not exist (`page_not_found`).
            RuntimeError: if the session was closed.
            CrowdTwistError: any other failure (see the error tree in the guide).
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
        """The user's coupons that were assigned and not yet used (Usable Coupons v2).

        `expired=True` sends `expired=true`, asking for expired (still unused)
        coupons too; `False` sends `expired=false`, leaving them out; `None`
        leaves the parameter out and the choice to the server. A user with
        none (`no_activities`) gives `()`.

        Args:
            user_id: the member, as `id_type` says (an email address, a CrowdTwist id...).
            id_type: what `user_id` is, any `IdType` but `"mobile_phone_number"`, which
                this endpoint does not take (default None: not sent, and the server reads a
                CrowdTwist id).
            expired: whether to include the expired coupons (default None: not sent).

        Returns:
            The coupons, in the server's order; `()` when there are none.

        Raises:
            TypeError: if user_id is not a str or int, or expired is not a bool (before any
                request).
            ValueError: if user_id is empty, or id_type is `"mobile_phone_number"` or not
                one of `IdType` (before any request).
            NotFoundError: if the user does not exist (`page_not_found`).
            RuntimeError: if the session was closed.
            CrowdTwistError: any other failure (see the error tree in the guide).
        """
        path = f"/v2/users/{encode_user_id(user_id)}/usable_coupons"
        params = _id_type_param(check_id_type(id_type, COUPON_ID_TYPES))
        if expired is not None:
            params["expired"] = _flag("expired", expired)
        return await self._engine.get(
            path, params, structure_coupons, template=_COUPONS, listing=True
        )

    # -- the member ----------------------------------------------------------------

    async def get(
        self,
        user_id: str | int,
        *,
        id_type: IdType | IdTypeName | None = None,
        pii: bool | None = None,
    ) -> User:
        """The member's profile (User Profile v2).

        `pii=False` sends `pii=false`, asking for the profile without personal
        data (CrowdTwist then takes only `id_type="id"` or `"third_party_id"`);
        None leaves it out, and the server sends it all. `repr()` of the
        result shows no personal data.

        ```python
        user = await session.users.get("alice@example.com", id_type="email")
        print(user.id, user.first_name, user.redeemable_points)
        ```

        Args:
            user_id: the member, as `id_type` says (an email address, a CrowdTwist id...).
            id_type: what `user_id` is (default None: not sent, and the server reads a
                CrowdTwist id).
            pii: False for the profile without personal data, True to send `pii=true`
                (default None: not sent, and the server sends personal data).

        Returns:
            The member's profile.

        Raises:
            TypeError: if user_id is not a str or int, or pii is not a bool (before any
                request).
            ValueError: if user_id is empty, id_type is not one of `IdType`, or pii is False
                and id_type is neither `"id"` nor `"third_party_id"` (before any request).
            NotFoundError: if the user does not exist (`page_not_found`).
            RuntimeError: if the session was closed.
            CrowdTwistError: any other failure (see the error tree in the guide).
        """
        path, params = _user_query(user_id, id_type, "")
        if pii is not None:
            params["pii"] = _flag("pii", pii)
            if not pii and params.get("id_type", "id") not in _PII_FREE_ID_TYPES:
                raise ValueError(
                    "pii=False takes id_type 'id' or 'third_party_id' only (CrowdTwist's "
                    f"rule), got {params['id_type']!r}"
                )
        return await self._engine.get(path, params, structure_user, template=_USER, listing=False)

    async def get_points(
        self, user_id: str | int, *, id_type: IdType | IdTypeName | None = None
    ) -> Points:
        """The member's points (User Points v2).

        `redeemable_points` to spend, `total_points` ever earned.

        ```python
        points = await session.users.get_points("alice@example.com", id_type="email")
        print(points.redeemable_points, points.total_points)
        ```

        Args:
            user_id: the member, as `id_type` says (an email address, a CrowdTwist id...).
            id_type: what `user_id` is (default None: not sent, and the server reads a
                CrowdTwist id).

        Returns:
            The member's points.

        Raises:
            TypeError: if user_id is not a str or int (before any request).
            ValueError: if user_id is empty or id_type is not one of `IdType` (before any
                request).
            NotFoundError: if the user does not exist (`page_not_found`).
            RuntimeError: if the session was closed.
            CrowdTwistError: any other failure (see the error tree in the guide).
        """
        path, params = _user_query(user_id, id_type, "/points")
        return await self._engine.get(
            path, params, structure_points, template=_USER + "/points", listing=False
        )

    def aiter_activity_history(
        self,
        user_id: str | int,
        *,
        id_type: IdType | IdTypeName | None = None,
        **options: Unpack[ListingOptions],
    ) -> AsyncPaginator[Activity]:
        """Every activity the member was credited for (User Activity History v2.1).

        Newest first, each once, read as `aiter_rewards` reads: pages
        concurrently, checked against what the first page announced.
        `page_size` is at most 10. A member with none gives an empty listing.

        ```python
        activities = session.users.aiter_activity_history("alice@example.com", id_type="email")
        async for activity in activities:
            print(activity.date_awarded, activity.name, activity.num_points)
        ```

        Args:
            user_id: the member, as `id_type` says (an email address, a CrowdTwist id...).
            id_type: what `user_id` is (default None: not sent, and the server reads a
                CrowdTwist id).
            **options: the listing options (`page_size`, `max_concurrency`, `start_page`,
                `max_items`): see `ListingOptions`.

        Returns:
            The listing, an `AsyncPaginator` of `Activity`; nothing is sent until it is
            iterated.

        Raises:
            TypeError: if user_id is not a str or int, or an option is unknown or not an int
                (before any request).
            ValueError: if user_id is empty, id_type is not one of `IdType`, or an option is
                out of bounds (`page_size` not 1..10, `max_items` below `page_size`...)
                (before any request).
            NotFoundError: while iterating, if the user does not exist (`page_not_found`).
            IncompleteListingError: while iterating, if the listing ended short of what its
                first page announced (`ListingChangedError`: it changed while read).
            CrowdTwistError: any other failure (see the error tree in the guide).
        """
        path, params = _user_query(user_id, id_type, "/activity_history", version="v2.1")
        return self._engine.listing(ACTIVITY_HISTORY, path, params, new_items, options)

    def aiter_redemptions(
        self,
        user_id: str | int,
        *,
        id_type: IdType | IdTypeName | None = None,
        date_start: date | None = None,
        date_end: date | None = None,
        **options: Unpack[ListingOptions],
    ) -> AsyncPaginator[Redemption]:
        """Every reward the member redeemed (User Redemption History v2.2).

        Newest first, each once. `page_size` is at most 10.

        Dates are UTC days, both included, sent as `YYYY-MM-DD`. With
        neither, none is sent and the server chooses the range. A missing
        `date_end` is today (UTC) when `date_start` is given; a missing
        `date_start` is a year before `date_end`. CrowdTwist answers at most
        a year at a time: a longer range is read as consecutive windows of at
        most a year, newest first, as one listing (`start_page` then needs a
        range of a year at most).

        ```python
        from datetime import date

        redemptions = session.users.aiter_redemptions(
            "alice@example.com", id_type="email", date_start=date(2025, 1, 1)
        )
        async for redemption in redemptions:
            print(redemption.date_redeemed, redemption.reward_title, redemption.points)
        ```

        Args:
            user_id: the member, as `id_type` says (an email address, a CrowdTwist id...).
            id_type: what `user_id` is (default None: not sent, and the server reads a
                CrowdTwist id).
            date_start: the first day of the range, included (default None).
            date_end: the last day of the range, included, not before date_start
                (default None).
            **options: the listing options (`page_size`, `max_concurrency`, `start_page`,
                `max_items`): see `ListingOptions`.

        Returns:
            The listing, an `AsyncPaginator` of `Redemption`; nothing is sent until it is
            iterated.

        Raises:
            TypeError: if user_id is not a str or int, a date is not a `datetime.date` (a
                `datetime` is refused), or an option is unknown or not an int (before any
                request).
            ValueError: if user_id is empty, id_type is not one of `IdType`, date_end is
                before date_start, start_page is not 1 for a range of more than a year, or an
                option is out of bounds (`page_size` not 1..10, `max_items` below `page_size`...)
                (before any request).
            NotFoundError: while iterating, if the user does not exist (`page_not_found`).
            IncompleteListingError: while iterating, if the listing ended short of what its
                first page announced (`ListingChangedError`: it changed while read).
            CrowdTwistError: any other failure (see the error tree in the guide).
        """
        path, params = _user_query(user_id, id_type, "/redemption_history", version="v2.2")
        windows = date_windows(date_start, date_end)
        return self._engine.listing(REDEMPTION_HISTORY, path, params, new_items, options, windows)

    # -- writes ------------------------------------------------------------------

    async def redeem(
        self,
        user_id: str | int,
        *,
        reward_id: str | int,
        quantity: int = 1,
        shipping: Shipping | None = None,
        id_type: IdType | IdTypeName | None = None,
    ) -> RedemptionResult:
        """Redeem a reward for the member (User Redemption v2): spends points.

        `reward_id` is the reward variation's id (`Reward.id`). `shipping`
        gives the address a reward that ships needs. A refusal by a business
        rule (too few points, over the reward's limit) raises `RefusedError`
        with CrowdTwist's code in `.error`. Sent once: a failure after the
        request was sent raises at once, with `write_unconfirmed` True (see
        `WriteNotConfirmedError`).

        ```python
        try:
            result = await session.users.redeem("alice@example.com", id_type="email", reward_id=64)
        except ct.RefusedError as exc:
            print(exc.error)  # "insufficient_points"
        else:
            print(result.order_id, result.ending_balance)
        ```

        Args:
            user_id: the member, as `id_type` says (an email address, a CrowdTwist id...).
            reward_id: the reward variation's id, a non-empty str or an int.
            quantity: how many to redeem, at least 1 (default 1).
            shipping: the shipping address, for a reward that ships (default None: none
                sent).
            id_type: what `user_id` is (default None: not sent, and the server reads a
                CrowdTwist id).

        Returns:
            CrowdTwist's answer: the order, the points balance after it, the coupon codes.

        Raises:
            TypeError: if user_id or reward_id is not a str or int, quantity is not an int,
                or shipping is not a `Shipping` (before any request).
            ValueError: if user_id or reward_id is empty, id_type is not one of `IdType`, or
                quantity is below 1 (before any request).
            RefusedError: if a business rule refused it (`insufficient_points`,
                `over_redeem_limit`, `access_denied`, `forbidden`, `sweep_entry_over`):
                nothing was done.
            NotFoundError: if the user does not exist (`page_not_found`), or the reward does
                not, is expired or inactive (`invalid_reward`, sent with 404).
            WriteNotConfirmedError: if the connection dropped or timed out after the request
                was sent: CrowdTwist may have carried it out; check before sending it again.
            RuntimeError: if the session was closed.
            CrowdTwistError: any other failure (see the error tree in the guide).
        """
        path, params = _user_query(user_id, id_type, "/redemption")
        body: dict[str, object] = {
            "reward_id": _identifier("reward_id", reward_id),
            "quantity": check_int("quantity", quantity, low=1),
        }
        if shipping is not None:
            if not isinstance(shipping, Shipping):
                raise TypeError(
                    f"shipping must be a crowdtwist_async.Shipping, got {type(shipping).__name__}"
                )
            body.update(shipping.to_fields())
        return await self._engine.write(
            "POST", path, params, body, structure_redemption_result, template=_USER + "/redemption"
        )

    async def credit_activity(
        self,
        user_id: str | int,
        *,
        activity_id: str | int,
        num_points: int | None = None,
        activity_date: datetime | None = None,
        extra_data: Mapping[str, Any] | None = None,
        id_type: IdType | IdTypeName | None = None,
    ) -> ActivityCredit:
        """Credit the member for an activity (User Activity Credit v2).

        `num_points` overrides the activity's own points; `activity_date` (a
        timezone-aware datetime, sent as unix seconds) is when it was done,
        where the program enabled it; `extra_data` is any JSON object kept
        with the credit. CrowdTwist queues the award: `awarded` says it was
        accepted, and frequency caps may still keep points from being added.
        Sent once, as `redeem` is.

        ```python
        await session.users.credit_activity(
            "alice@example.com", id_type="email", activity_id=410052775
        )
        ```

        Args:
            user_id: the member, as `id_type` says (an email address, a CrowdTwist id...).
            activity_id: the internal CrowdTwist activity id, a non-empty str or an int
                (sent as text).
            num_points: the points to award instead of the activity's own, at least 0
                (default None: the activity's own).
            activity_date: when the member did the activity, timezone-aware (default None:
                not sent).
            extra_data: a JSON object kept with the credit (default None: not sent).
            id_type: what `user_id` is (default None: not sent, and the server reads a
                CrowdTwist id).

        Returns:
            CrowdTwist's acknowledgement (`awarded`).

        Raises:
            TypeError: if user_id or activity_id is not a str or int, num_points is not an
                int, activity_date is not a datetime, or extra_data is not a mapping or not
                JSON (before any request).
            ValueError: if user_id or activity_id is empty, id_type is not one of `IdType`,
                num_points is negative or activity_date is naive (before any request).
            NotFoundError: if the user does not exist (`page_not_found`).
            WriteNotConfirmedError: if the connection dropped or timed out after the request
                was sent: CrowdTwist may have carried it out; check before sending it again.
            RuntimeError: if the session was closed.
            CrowdTwistError: any other failure (see the error tree in the guide).
        """
        path, params = _user_query(user_id, id_type, "/activities")
        body: dict[str, object] = {"activity_id": _identifier("activity_id", activity_id)}
        if num_points is not None:
            body["num_points"] = check_int("num_points", num_points, low=0)
        if activity_date is not None:
            body["activity_date"] = int(_aware("activity_date", activity_date).timestamp())
        if extra_data is not None:
            if not isinstance(extra_data, Mapping):
                raise TypeError(
                    f"extra_data must be a mapping (a JSON object), got {type(extra_data).__name__}"
                )
            body["extra_data"] = dict(extra_data)
        return await self._engine.write(
            "POST", path, params, body, structure_activity_credit, template=_USER + "/activities"
        )


class Rewards:
    """The program's rewards, reached as `session.rewards`."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def aiter_catalog(
        self,
        *,
        category: str | None = None,
        active_only: bool | None = None,
        featured: bool | None = None,
        for_points: int | None = None,
        redeemable_by: str | int | None = None,
        **options: Unpack[ListingOptions],
    ) -> AsyncPaginator[Reward]:
        """Every reward of the program (Rewards v2.1), each once.

        Read as `aiter_rewards` reads. `page_size` is at most 25, and 25 by
        default.

        The filters are CrowdTwist's, left out when None: `category` (by
        name), `active_only` (enabled and within its dates), `featured`,
        `for_points` (costing at most that many points) and `redeemable_by`
        (a CrowdTwist user id: what that member may redeem).

        ```python
        async for reward in session.rewards.aiter_catalog(active_only=True):
            print(reward.id, reward.title, reward.num_points)
        ```

        Args:
            category: the category's name, a non-empty str (default None: every
                category).
            active_only: whether to list only the active rewards, sent as `1` or `0`
                (default None: not sent).
            featured: whether to list only the featured rewards, sent as `1` or `0`
                (default None: not sent).
            for_points: a number of points, at least 0 (default None: not sent).
            redeemable_by: a member's CrowdTwist id, a non-empty str or an int (default
                None: not sent).
            **options: the listing options (`page_size`, `max_concurrency`, `start_page`,
                `max_items`): see `ListingOptions`.

        Returns:
            The listing, an `AsyncPaginator` of `Reward`; nothing is sent until it is
            iterated.

        Raises:
            TypeError: if category is not a str, active_only or featured is not a bool,
                for_points is not an int, redeemable_by is not a str or int, or an option
                is unknown or not an int (before any request).
            ValueError: if category or redeemable_by is empty, for_points is negative, or an
                option is out of bounds (`page_size` not 1..25, `max_items` below `page_size`...)
                (before any request).
            IncompleteListingError: while iterating, if the listing ended short of what its
                first page announced (`ListingChangedError`: it changed while read).
            CrowdTwistError: any other failure (see the error tree in the guide).
        """
        params: dict[str, str] = {}
        if category is not None:
            params["category"] = _text("category", category)
        for name, value in (("active_only", active_only), ("featured", featured)):
            if value is not None:
                params[name] = "1" if _flag(name, value) == "true" else "0"
        if for_points is not None:
            params["for_points"] = str(check_int("for_points", for_points, low=0))
        if redeemable_by is not None:
            params["redeemable_by"] = _identifier("redeemable_by", redeemable_by)
        return self._engine.listing(CATALOG, "/v2.1/rewards", params, new_items, options)


class Coupons:
    """Coupons at the till, reached as `session.coupons`: mark one used, or not.

    A coupon's value is a bearer credential: it travels in the body, never in
    a URL, a log line or a span.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def use(self, coupon_value: str, *, use_date: datetime | None = None) -> CouponResult:
        """Mark a coupon used (Use Coupon v2).

        `use_date` (timezone-aware) is when, sent as ISO 8601. A coupon not
        issued, or used already, raises the `APIError` CrowdTwist's code says
        (`not_issued`, ...). Sent once, as a write is.

        ```python
        await session.coupons.use("1X3FJ9K003")
        ```

        Args:
            coupon_value: the coupon's value (its code), a non-empty str.
            use_date: when the member used the coupon, timezone-aware (default None: not
                sent).

        Returns:
            CrowdTwist's answer (`success`, `message`).

        Raises:
            TypeError: if coupon_value is not a str or use_date is not a datetime (before
                any request).
            ValueError: if coupon_value is empty or use_date is naive (before any request).
            NotFoundError: if CrowdTwist answers 404, as it does for a coupon never issued
                (`not_issued`).
            BadRequestError: if CrowdTwist refuses it with another 4xx; its code
                is in `.error`.
            WriteNotConfirmedError: if the connection dropped or timed out after the request
                was sent: CrowdTwist may have carried it out; check before sending it again.
            RuntimeError: if the session was closed.
            CrowdTwistError: any other failure (see the error tree in the guide).
        """
        body: dict[str, object] = {"coupon_value": _text("coupon_value", coupon_value)}
        if use_date is not None:
            body["use_date"] = _aware("use_date", use_date).isoformat(timespec="seconds")
        return await self._engine.write(
            "POST", "/v2/coupon/use", {}, body, structure_coupon_result, template="/v2/coupon/use"
        )

    async def unuse(self, coupon_value: str) -> CouponResult:
        """Mark a used coupon unused, to be used again (Unuse Coupon v2).

        One not used raises `not_used`; one never issued `not_issued`. Sent
        once, as a write is.

        Args:
            coupon_value: the coupon's value (its code), a non-empty str.

        Returns:
            CrowdTwist's answer (`success`, `message`).

        Raises:
            TypeError: if coupon_value is not a str (before any request).
            ValueError: if coupon_value is empty (before any request).
            NotFoundError: if CrowdTwist answers 404, as it does for a coupon never issued
                (`not_issued`).
            BadRequestError: if CrowdTwist refuses it with another 4xx (`not_used`...); its code
                is in `.error`.
            WriteNotConfirmedError: if the connection dropped or timed out after the request
                was sent: CrowdTwist may have carried it out; check before sending it again.
            RuntimeError: if the session was closed.
            CrowdTwistError: any other failure (see the error tree in the guide).
        """
        body = {"coupon_value": _text("coupon_value", coupon_value)}
        return await self._engine.write(
            "POST",
            "/v2/coupon/unuse",
            {},
            body,
            structure_coupon_result,
            template="/v2/coupon/unuse",
        )


def date_windows(
    date_start: date | None, date_end: date | None, *, today: date | None = None
) -> list[dict[str, str]]:
    """The `date_start`/`date_end` parameters of each request a date range
    needs: windows of at most a year, newest first (none: no dates sent)."""
    if date_start is None and date_end is None:
        return []
    if date_end is None:
        date_end = today or datetime.now(timezone.utc).date()
    end = _day("date_end", date_end)
    start = _year_before(end) if date_start is None else _day("date_start", date_start)
    if end < start:
        raise ValueError(f"date_end ({end}) is before date_start ({start})")
    windows = []
    while end >= start:
        first = max(start, _year_before(end))
        windows.append({"date_start": first.isoformat(), "date_end": end.isoformat()})
        end = first - timedelta(days=1)
    return windows


def _year_before(day: date) -> date:
    """The same day a year earlier (a 29 February: the 1st of March)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return date(day.year - 1, 3, 1)


def _day(name: str, value: object) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{name} must be a datetime.date (a UTC day), got {type(value).__name__}")
    return value


def _aware(name: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (e.g. tzinfo=timezone.utc)")
    return value


def _identifier(name: str, value: object) -> str:
    """An id sent as text (`reward_id`, `activity_id`): a non-empty str or an int."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(name, value)


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def _user_query(
    user_id: str | int,
    id_type: IdType | IdTypeName | None,
    tail: str,
    *,
    version: str = "v2",
) -> tuple[str, dict[str, str]]:
    """Check a member call's arguments; return its path and parameters."""
    path = f"/{version}/users/{encode_user_id(user_id)}{tail}"
    return path, _id_type_param(check_id_type(id_type, _REWARD_ID_TYPES))


def _rewards_query(
    user_id: str | int, id_type: IdType | IdTypeName | None, include_soldout: bool
) -> tuple[str, dict[str, str]]:
    """Check a rewards query's arguments; return its path and parameters."""
    path, params = _user_query(user_id, id_type, "/rewards", version="v2.1")
    if _flag("include_soldout", include_soldout) == "true":
        params["include_soldout"] = "true"
    return path, params


def _id_type_param(value: str | None) -> dict[str, str]:
    return {} if value is None else {"id_type": value}


def _flag(name: str, value: bool) -> str:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return "true" if value else "false"
