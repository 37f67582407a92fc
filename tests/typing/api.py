"""Pins the public API's types: checked by mypy, never run.

A change that alters what users' code sees (a parameter renamed, a return type
widened) fails `mypy` here before it reaches them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any

import httpx

import crowdtwist_async as ct


async def typed_use() -> None:
    session = ct.Session(
        "KEY",
        base_url="https://api1.crowdtwist.com",
        client_id=None,
        environment="sb-",
        auth="header",
        timeout=ct.Timeout(total=5.0, connect=1.0),
        max_retries=0,
        max_concurrency=8,
        rate_limit=25.0,
        http_client=httpx.AsyncClient(),
    )
    with_objects = ct.Session(
        "KEY",
        base_url="https://api1.crowdtwist.com",
        retries=ct.Retries(max_retries=1, backoff_base=0.1, backoff_cap=1.0, max_retry_after=5.0),
        limits=ct.Limits(max_concurrency=2, rate_limit=None, max_body_bytes=1 << 20),
    )
    held_retries: ct.Retries = with_objects.retries
    held_limits: ct.Limits = with_objects.limits
    del held_retries, held_limits
    async with session:
        rewards: ct.AsyncPaginator[ct.Reward] = session.users.aiter_rewards(
            "alice@example.com",
            id_type=ct.IdType.EMAIL,
            page_size=10,
            include_soldout=True,
            max_concurrency=4,
        )
        async for reward in rewards:
            title: str = reward.title
            start: datetime = reward.date_start
            period: ct.FrequencyPeriod | None = reward.freq_period
            segment: ct.Segment | None = reward.segment
            partner: ct.Partner | None = reward.partner_info
            unknown: Mapping[str, Any] = reward.unknown_fields
            known: bool = period.known if period is not None else True
            full: dict[str, Any] = ct.to_dict(reward, unknown_fields=True)
            del title, start, period, segment, partner, unknown, known, full
        async with session.users.aiter_reward_pages("alice", id_type="email") as pages:
            async for page in pages:
                numbers: tuple[int, int | None, int | None] = (page.number, page.total, page.pages)
                items: tuple[ct.Reward, ...] = page.rewards
                del numbers, items
        one: ct.RewardsPage = await session.users.get_rewards_page("alice", page=3, id_type="email")
        # A typo in id_type fails type checking (the ignore would otherwise be unused).
        session.users.aiter_rewards("alice", id_type="emial")  # type: ignore[arg-type]
        name: ct.IdTypeName = "third_party_id"
        session.users.aiter_rewards("alice", id_type=name)
        # The listing options are typed keyword arguments: a misspelt one, or
        # one of the wrong type, fails type checking.
        session.users.aiter_rewards("alice", page_sise=5)  # type: ignore[call-arg]
        session.users.aiter_rewards("alice", max_items="5")  # type: ignore[arg-type]
        options: ct.ListingOptions = {"page_size": 5, "start_page": 2, "max_items": 50}
        resumed: ct.AsyncPaginator[ct.Reward] = session.users.aiter_rewards("alice", **options)
        del resumed
        coupons: tuple[ct.UsableCoupon, ...] = await session.users.usable_coupons(
            "alice", id_type="email", expired=False
        )
        del one, coupons
    limits: ct.Limits = session.limits
    retries: ct.Retries = session.with_options(max_retries=5).retries
    timeout: ct.Timeout = session.timeout
    concurrency: int = limits.max_concurrency
    rate: float | None = limits.rate_limit
    attempts: int = retries.max_retries
    del timeout, concurrency, rate, attempts
    unentered = ct.Session("KEY", base_url="https://api1.crowdtwist.com")
    listing = unentered.users.aiter_rewards("alice")
    try:
        async for reward in listing:
            del reward
    except ct.IncompleteListingError as exc:
        where: int = exc.page
        expected: int | None = exc.expected_total
        seen: int = exc.seen
        del where, expected, seen
        if isinstance(exc, ct.ListingChangedError):
            lower: int = exc.total
            promised: int = exc.expected_total
            del lower, promised
    await listing.aclose()
    await unentered.aclose()
    try:
        await session.aclose()
    except ct.RateLimitError as exc:
        wait: float | None = exc.retry_after
        del wait
    except ct.APIError as exc:
        status: int = exc.status_code
        code: str | None = exc.error
        del status, code
    except ct.ResponseDecodeError as exc:
        field: str | None = exc.field
        del field


async def typed_member_api() -> None:
    signer = ct.CTApiV2Auth("PUBLIC", "PRIVATE", timestamp_unit="s", signature_encoding="base64")
    async with ct.Session(client_id=123, auth=signer) as session:
        user: ct.User = await session.users.get("alice@example.com", id_type="email", pii=False)
        user_id: int = user.id
        redeemable: int | None = user.redeemable_points
        points: ct.Points = await session.users.get_points(1001)
        balance: int = points.redeemable_points + points.total_points
        activities: ct.AsyncPaginator[ct.Activity] = session.users.aiter_activity_history(
            "alice", id_type="username", page_size=10, max_items=20
        )
        async for activity in activities:
            earned: int = activity.num_points
            awarded: datetime | None = activity.date_awarded
            del earned, awarded
        redemptions: ct.AsyncPaginator[ct.Redemption] = session.users.aiter_redemptions(
            1001, date_start=date(2024, 1, 1), date_end=date(2025, 12, 31), max_concurrency=2
        )
        async for redemption in redemptions:
            when: datetime = redemption.date_redeemed
            spent: int | None = redemption.points
            del when, spent
        # Dates are days: a datetime is refused at runtime, and a str by mypy.
        session.users.aiter_redemptions(1001, date_start="2025-01-01")  # type: ignore[arg-type]
        catalog: ct.AsyncPaginator[ct.Reward] = session.rewards.aiter_catalog(
            category="Gift Cards", active_only=True, for_points=500, page_size=25
        )
        del catalog
        result: ct.RedemptionResult = await session.users.redeem(
            "alice@example.com",
            id_type="email",
            reward_id=64,
            quantity=2,
            shipping=ct.Shipping(first_name="Alice", city="New York", country="USA"),
        )
        order: int | None = result.order_id
        codes: tuple[str, ...] = result.codes
        credit: ct.ActivityCredit = await session.users.credit_activity(
            1001,
            activity_id="410052775",
            num_points=150,
            activity_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
            extra_data={"store": 575},
        )
        accepted: bool | None = credit.awarded
        used: ct.CouponResult = await session.coupons.use(
            "1X3FJ9K003", use_date=datetime(2026, 1, 1, tzinfo=timezone.utc)
        )
        unused: ct.CouponResult = await session.coupons.unuse("1X3FJ9K003")
        ok: bool | None = used.success and unused.success
        answer: Any = await session.post_json("/v2/coupon/use", json={"coupon_value": "X"})
        del user_id, redeemable, balance, order, codes, accepted, ok, answer
        try:
            await session.users.redeem(1001, reward_id="64")
        except ct.RefusedError as exc:
            why: str | None = exc.error
            del why
        except ct.WriteNotConfirmedError as exc:
            method: str = exc.method
            timed_out: bool = exc.timed_out
            del method, timed_out
        except ct.CrowdTwistError as exc:
            unconfirmed: bool = exc.write_unconfirmed
            del unconfirmed


async def typed_testing() -> None:
    from crowdtwist_async.testing import (
        SANDBOX_EMAIL,
        FakeCrowdTwist,
        FakeUser,
        RecordedRequest,
        set_testing,
    )

    set_testing(True)
    with set_testing(False) as nothing:
        assert nothing is None

    fake = FakeCrowdTwist(seed=1, latency=0.01, jitter=0.0, failure_rate=0.0, retry_after=None)
    fake.script(status=503, body=b"busy", headers={"Retry-After": "0"}, page=2)
    user: FakeUser = fake.add_user(email="zed@example.com")
    fake.add_reward(user, title="A reward")
    async with ct.Session(
        api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport()
    ) as session:
        listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
        read: int = listing.pages_read
        count: int | None = listing.page_count
        del read, count
    requests: list[RecordedRequest] = fake.requests
    with fake.serve(port=0) as url:
        base: str = url
        del base
    del requests
