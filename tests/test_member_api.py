"""The member API through the public interface, against the fake: each call's
request as the server saw it, and its answer as the SDK typed it."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist, set_testing

from .conftest import ALICE, BOB, requested
from .sample_data import API_KEY

pytestmark = pytest.mark.anyio

BASE_URL = "https://api123.crowdtwist.com"
NOW = datetime(2026, 1, 15, 12, tzinfo=timezone.utc)
PUBLIC, PRIVATE = "ABCl3y7r0s5ukCXz5lCJOCrTZ427pjp5", "ABttp1b92Tb65445rmZL835f263n1q4Y"


@pytest.fixture
def member_fake() -> FakeCrowdTwist:
    """The sample program at a fixed time, as a member app meets it."""
    return FakeCrowdTwist(api_key=API_KEY, base_url=BASE_URL, now=NOW)


def over(fake: FakeCrowdTwist, **options: Any) -> ct.Session:
    return ct.Session(api_key=API_KEY, base_url=BASE_URL, transport=fake.transport(), **options)


def affordable(fake: FakeCrowdTwist, user_index: int = 0) -> dict[str, Any]:
    user = fake.users[user_index]
    for record in user.rewards:
        if (
            int(record["num_points"]) <= user.points
            and int(record["current_quantity"]) > 0
            and record["is_enabled"]
        ):
            return record
    raise AssertionError("no affordable reward")


# -- reads -------------------------------------------------------------------------


async def test_get_reads_the_profile(member_fake: FakeCrowdTwist) -> None:
    alice = member_fake.users[0]
    async with over(member_fake) as session:
        user = await session.users.get(SANDBOX_EMAIL, id_type="email")
        lean = await session.users.get(ALICE, pii=False)
    assert isinstance(user, ct.User)
    assert user.id == alice.id
    assert user.email_address == SANDBOX_EMAIL
    assert user.redeemable_points == alice.points
    assert user.total_points == alice.total_points
    assert SANDBOX_EMAIL not in repr(user)
    assert lean.id == alice.id
    first, second = member_fake.requests
    assert (first.method, first.path, first.params) == (
        "GET",
        "/v2/users/alice@example.com",
        {"id_type": "email"},
    )
    assert second.params == {"pii": "false"}


async def test_a_profile_without_personal_data_is_asked_by_id_only(
    member_fake: FakeCrowdTwist,
) -> None:
    async with over(member_fake) as session:
        with pytest.raises(ValueError, match="pii=False takes id_type 'id' or 'third_party_id'"):
            await session.users.get(SANDBOX_EMAIL, id_type="email", pii=False)
        user = await session.users.get("crm-000101", id_type="third_party_id", pii=False)
    assert user.id == member_fake.users[0].id
    assert user.email_address is None  # the fake leaves personal data out
    assert [r.params for r in member_fake.requests] == [
        {"id_type": "third_party_id", "pii": "false"}
    ]


async def test_get_points_reads_both_balances(member_fake: FakeCrowdTwist) -> None:
    bob = member_fake.users[1]
    async with over(member_fake) as session:
        points = await session.users.get_points(BOB)
    assert (points.id, points.redeemable_points, points.total_points) == (
        bob.id,
        bob.points,
        bob.total_points,
    )
    assert member_fake.requests[0].path == f"/v2/users/{BOB}/points"


async def test_activity_history_reads_every_activity_newest_first(
    member_fake: FakeCrowdTwist,
) -> None:
    alice = member_fake.users[0]
    async with over(member_fake, max_concurrency=3) as session:
        activities = [a async for a in session.users.aiter_activity_history(ALICE)]
    assert len(activities) == len(alice.activities)
    awarded = [a.date_awarded for a in activities if a.date_awarded is not None]
    assert len(awarded) == len(activities)
    assert awarded == sorted(awarded, reverse=True)
    assert {a.id for a in activities} == {str(r["id"]) for r in alice.activities}
    pages = -(-len(alice.activities) // 10)
    assert sorted(r.params["page"] for r in member_fake.requests) == sorted(
        str(n) for n in range(1, pages + 1)
    )


async def test_activity_history_of_a_member_with_none_is_empty(
    member_fake: FakeCrowdTwist,
) -> None:
    async with over(member_fake) as session:
        assert [a async for a in session.users.aiter_activity_history("1003")] == []


async def test_without_date_end_redemptions_are_read_up_to_today() -> None:
    fake = FakeCrowdTwist(api_key=API_KEY, base_url=BASE_URL)  # its clock: now
    today = datetime.now(timezone.utc).date()
    start = today - timedelta(days=300)
    async with over(fake) as session:
        listing = session.users.aiter_redemptions(ALICE, date_start=start)
        redemptions = [r async for r in listing]
    assert {(r.params["date_start"], r.params["date_end"]) for r in fake.requests} == {
        (start.isoformat(), today.isoformat())
    }
    since = datetime.combine(start, datetime.min.time(), timezone.utc)
    assert [r.id for r in redemptions] == _redeemed(fake, since, fake.now)
    assert redemptions  # the sample history has some in any 300 days


async def test_a_two_year_range_is_read_as_two_windows_newest_first(
    member_fake: FakeCrowdTwist,
) -> None:
    async with over(member_fake, max_concurrency=2) as session:
        listing = session.users.aiter_redemptions(
            ALICE, date_start=date(2024, 1, 16), date_end=date(2026, 1, 15)
        )
        redemptions = [r async for r in listing]
    windows = [(r.params["date_start"], r.params["date_end"]) for r in member_fake.requests]
    # Every request of the newer window before any of the older one.
    newer, older = ("2025-01-15", "2026-01-15"), ("2024-01-16", "2025-01-14")
    assert set(windows) == {newer, older}
    assert windows == sorted(windows, key=lambda w: w != newer)
    start = datetime(2024, 1, 16, tzinfo=timezone.utc)
    assert [r.id for r in redemptions] == _redeemed(member_fake, start, NOW)
    dates = [r.date_redeemed for r in redemptions]
    assert dates == sorted(dates, reverse=True)


async def test_only_date_end_reads_the_year_before_it(member_fake: FakeCrowdTwist) -> None:
    async with over(member_fake) as session:
        [r async for r in session.users.aiter_redemptions(ALICE, date_end=date(2025, 12, 31))]
    assert {(r.params["date_start"], r.params["date_end"]) for r in member_fake.requests} == {
        ("2024-12-31", "2025-12-31")
    }


async def test_redemption_dates_are_checked_before_any_request(
    member_fake: FakeCrowdTwist,
) -> None:
    async with over(member_fake) as session:
        with pytest.raises(ValueError, match=r"date_end \(2025-01-01\) is before date_start"):
            session.users.aiter_redemptions(
                ALICE, date_start=date(2025, 2, 1), date_end=date(2025, 1, 1)
            )
        with pytest.raises(TypeError, match=r"date_start must be a datetime\.date"):
            # A datetime is a date to mypy; a UTC day is what the API takes.
            session.users.aiter_redemptions(ALICE, date_start=NOW)
        with pytest.raises(ValueError, match="start_page"):
            session.users.aiter_redemptions(
                ALICE, date_start=date(2023, 1, 1), date_end=date(2025, 1, 1), start_page=2
            )
        with pytest.raises(ValueError, match="page_size"):
            session.users.aiter_redemptions(ALICE, page_size=11)
    assert requested(member_fake) == 0


async def test_redemptions_are_read_under_rewards_as_the_field_table_names_them(
    member_fake: FakeCrowdTwist,
) -> None:
    record = {
        "id": "5000999",
        "reward_id": 64,
        "reward_title": "Free Coffee",
        "points": "250",
        "status": "fulfilled",
        "date_redeemed": 1767225600,
    }
    paging = {"total": 1, "pages": 1, "next_page": None, "prev_page": None}
    member_fake.script(json={"paging": paging, "rewards": [record]}, path="*/redemption_history")
    async with over(member_fake) as session:
        [redemption] = [r async for r in session.users.aiter_redemptions(ALICE)]
    assert (redemption.id, redemption.reward_id, redemption.points) == ("5000999", 64, 250)
    assert redemption.date_redeemed == datetime(2026, 1, 1, tzinfo=timezone.utc)


async def test_the_catalogue_is_read_25_a_page(member_fake: FakeCrowdTwist) -> None:
    async with over(member_fake, max_concurrency=2) as session:
        rewards = [r async for r in session.rewards.aiter_catalog()]
        active = [r async for r in session.rewards.aiter_catalog(active_only=True)]
    assert [r.id for r in rewards] == [str(r["id"]) for r in member_fake.catalog]
    pages = -(-len(member_fake.catalog) // 25)
    everything, filtered = member_fake.requests[:pages], member_fake.requests[pages:]
    # Pages 2.. arrive in any order: they are fetched concurrently.
    assert sorted((r.path, r.params["page"], len(r.params)) for r in everything) == [
        ("/v2.1/rewards", str(n), 1) for n in range(1, pages + 1)
    ]
    assert filtered[0].params == {"active_only": "1", "page": "1"}
    enabled = [str(r["id"]) for r in member_fake.catalog if r["is_enabled"]]
    assert [r.id for r in active] == [i for i in enabled if i in {r.id for r in active}]
    assert len(active) < len(rewards)


async def test_the_catalogue_page_size_is_checked(member_fake: FakeCrowdTwist) -> None:
    async with over(member_fake) as session:
        with pytest.raises(ValueError, match="page_size"):
            session.rewards.aiter_catalog(page_size=26)
        listing = session.rewards.aiter_catalog(page_size=25, max_items=30)
        assert len([r async for r in listing]) == 30
    assert [r.params["page_size"] for r in member_fake.requests] == ["25", "25"]


# -- writes ------------------------------------------------------------------------


async def test_redeem_spends_points_and_shows_in_the_history(
    member_fake: FakeCrowdTwist,
) -> None:
    alice = member_fake.users[0]
    reward = affordable(member_fake)
    before = alice.points
    async with over(member_fake) as session:
        result = await session.users.redeem(
            SANDBOX_EMAIL,
            id_type="email",
            reward_id=reward["id"],
            shipping=ct.Shipping(first_name="Alice", city="New York", country="USA"),
        )
        points = await session.users.get_points(ALICE)
        [latest] = [r async for r in session.users.aiter_redemptions(ALICE, max_items=1)]
    cost = int(reward["num_points"])
    assert result.ending_balance == before - cost == points.redeemable_points
    assert result.reward_id == int(reward["id"])
    assert latest.reward_id == int(reward["id"])
    post = member_fake.requests[0]
    assert post.method == "POST"
    assert post.json == {
        "reward_id": str(reward["id"]),
        "quantity": 1,
        "shipping_first_name": "Alice",
        "shipping_city": "New York",
        "shipping_country": "USA",
    }
    assert post.headers["content-type"] == "application/json"


async def test_insufficient_points_is_a_refusal_with_its_code(
    member_fake: FakeCrowdTwist,
) -> None:
    reward = member_fake.catalog[0]
    carol = member_fake.users[2]  # no points
    async with over(member_fake) as session:
        with pytest.raises(ct.RefusedError) as caught:
            await session.users.redeem(carol.id, reward_id=reward["id"])
    error = caught.value
    assert isinstance(error, ct.APIError)
    assert (error.status_code, error.error) == (403, "insufficient_points")
    assert error.message == "User does not have enough points to redeem reward."
    assert carol.redemptions == []


async def test_the_fake_refuses_past_the_limit_and_when_sold_out(
    member_fake: FakeCrowdTwist,
) -> None:
    one_per_member = next(r for r in member_fake.catalog if r["max_per_user"] == 1)
    sold_out = next(r for r in member_fake.catalog if int(r["current_quantity"]) == 0)
    async with over(member_fake) as session:
        await session.users.redeem(ALICE, reward_id=one_per_member["id"])
        with pytest.raises(ct.RefusedError) as limit:
            await session.users.redeem(ALICE, reward_id=one_per_member["id"])
        with pytest.raises(ct.RefusedError) as gone:
            await session.users.redeem(ALICE, reward_id=sold_out["id"])
        with pytest.raises(ct.NotFoundError) as unknown:
            await session.users.redeem(ALICE, reward_id="999999999")
    assert (limit.value.status_code, limit.value.error) == (403, "over_redeem_limit")
    assert limit.value.message == "User can only redeem 1 of this reward."
    assert (gone.value.status_code, gone.value.error) == (403, "forbidden")
    assert (unknown.value.status_code, unknown.value.error) == (404, "invalid_reward")


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, "insufficient_points", ct.RefusedError),
        (403, "over_redeem_limit", ct.RefusedError),
        (403, "access_denied", ct.RefusedError),
        (403, "sweep_entry_over", ct.RefusedError),
        (403, "forbidden", ct.RefusedError),
        (400, "insufficient_points", ct.RefusedError),
        (403, "invalid_auth", ct.AuthenticationError),
        (403, None, ct.AuthenticationError),
        (404, "invalid_reward", ct.NotFoundError),
        (400, "input_error", ct.BadRequestError),
    ],
)
async def test_the_code_decides_the_class_where_the_status_misleads(
    member_fake: FakeCrowdTwist, status: int, code: str | None, expected: type[ct.APIError]
) -> None:
    body = {"message": "No."} if code is None else {"error": code, "message": "No."}
    member_fake.script(status, json=body, path="*/redemption")
    async with over(member_fake) as session:
        with pytest.raises(ct.APIError) as caught:
            await session.users.redeem(ALICE, reward_id=64)
    assert type(caught.value) is expected
    assert (caught.value.status_code, caught.value.error) == (status, code)
    assert caught.value.message == "No."
    assert caught.value.write_unconfirmed is False


async def test_credit_activity_adds_points_and_an_activity(
    member_fake: FakeCrowdTwist,
) -> None:
    bob = member_fake.users[1]
    before = bob.points
    activity_id = next(iter(member_fake.activity_catalog))
    when = NOW - timedelta(hours=2)
    async with over(member_fake) as session:
        credit = await session.users.credit_activity(
            BOB, activity_id=activity_id, num_points=150, activity_date=when, extra_data={"a": 1}
        )
        points = await session.users.get_points(BOB)
        [latest] = [a async for a in session.users.aiter_activity_history(BOB, max_items=1)]
    assert credit.awarded is True
    assert points.redeemable_points == before + 150
    assert (latest.activity_id, latest.num_points) == (str(activity_id), 150)
    assert member_fake.requests[0].json == {
        "activity_id": str(activity_id),
        "num_points": 150,
        "activity_date": int(when.timestamp()),
        "extra_data": {"a": 1},
    }


async def test_a_coupon_is_used_once_and_unused_once(member_fake: FakeCrowdTwist) -> None:
    alice = member_fake.users[0]
    coupon = next(c for c in alice.coupons if not c.used and not c.is_expired(int(NOW.timestamp())))
    code = coupon.record["code"]
    async with over(member_fake) as session:
        used = await session.coupons.use(code, use_date=NOW)
        assert code not in {c.code for c in await session.users.usable_coupons(ALICE)}
        with pytest.raises(ct.BadRequestError) as again:
            await session.coupons.use(code)
        unused = await session.coupons.unuse(code)
        assert code in {c.code for c in await session.users.usable_coupons(ALICE)}
        with pytest.raises(ct.BadRequestError) as twice:
            await session.coupons.unuse(code)
        with pytest.raises(ct.NotFoundError) as unknown:
            await session.coupons.use("NO-SUCH-CODE")
    assert (used.success, unused.success) == (True, True)
    assert again.value.error == "invalid"
    assert twice.value.error == "not_used"
    assert unknown.value.error == "not_issued"
    assert member_fake.requests[0].json == {
        "coupon_value": code,
        "use_date": "2026-01-15T12:00:00+00:00",
    }
    # A coupon's value is a bearer credential: never in a URL.
    assert all(code not in r.path and code not in str(r.params) for r in member_fake.requests)


async def test_write_arguments_are_checked_before_any_request(
    member_fake: FakeCrowdTwist,
) -> None:
    async with over(member_fake) as session:
        with pytest.raises(ValueError, match="quantity"):
            await session.users.redeem(ALICE, reward_id=64, quantity=0)
        with pytest.raises(TypeError, match="reward_id"):
            await session.users.redeem(ALICE, reward_id=None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="shipping"):
            await session.users.redeem(ALICE, reward_id=64, shipping={"city": "NY"})  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="activity_date must be timezone-aware"):
            await session.users.credit_activity(
                ALICE, activity_id=1, activity_date=datetime(2026, 1, 1)
            )
        with pytest.raises(TypeError, match="extra_data"):
            await session.users.credit_activity(ALICE, activity_id=1, extra_data=[1])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="coupon_value must not be empty"):
            await session.coupons.use(" ")
    assert requested(member_fake) == 0


async def test_post_json_sends_any_write(member_fake: FakeCrowdTwist) -> None:
    activity_id = next(iter(member_fake.activity_catalog))
    async with over(member_fake) as session:
        answer = await session.post_json(
            f"/v2/users/{ALICE}/activities", json={"activity_id": str(activity_id)}
        )
        with pytest.raises(ValueError, match="api_key"):
            await session.post_json("/v2/coupon/use", json={}, params={"api_key": "x"})
    assert answer == {"awarded": True}
    [post] = member_fake.requests
    assert (post.method, post.params, post.json) == ("POST", {}, {"activity_id": str(activity_id)})


# -- signed programs ----------------------------------------------------------------


class Clock:
    """The signer's clock: the fake's time, a second later at each reading."""

    def __init__(self, start: datetime) -> None:
        self.now = start.timestamp()

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def signed(fake: FakeCrowdTwist, private: str = PRIVATE) -> ct.Session:
    fake.hmac_keys = (PUBLIC, PRIVATE)
    auth = ct.CTApiV2Auth(PUBLIC, private, clock=Clock(NOW))
    return ct.Session(base_url=BASE_URL, auth=auth, transport=fake.transport())


async def test_a_signed_read_and_write_are_verified_by_the_fake(
    member_fake: FakeCrowdTwist,
) -> None:
    reward = affordable(member_fake)
    async with signed(member_fake) as session:
        points = await session.users.get_points(ALICE)
        result = await session.users.redeem(ALICE, reward_id=reward["id"])
    assert result.ending_balance == points.redeemable_points - int(reward["num_points"])
    read, write = member_fake.requests
    assert (read.status, write.status) == (200, 200)
    assert write.headers["x-ct-authorization"].startswith(f"CTApiV2Auth {PUBLIC}:")
    assert "api_key" not in write.params
    assert PRIVATE not in repr(session)


async def test_a_tampered_signature_is_refused(member_fake: FakeCrowdTwist) -> None:
    async with signed(member_fake, private=PRIVATE[::-1]) as session:
        with pytest.raises(ct.AuthenticationError) as caught:
            await session.users.get_points(ALICE)
    assert (caught.value.status_code, caught.value.error) == (401, "invalid_auth")
    assert PRIVATE[::-1] not in str(caught.value)
    assert PRIVATE[::-1] not in caught.value.body


async def test_a_retried_signed_request_is_signed_again(member_fake: FakeCrowdTwist) -> None:
    member_fake.script(429, path="*/redemption", headers={"Retry-After": "0"})
    reward = affordable(member_fake)
    with set_testing(True):
        async with signed(member_fake) as session:
            await session.users.redeem(ALICE, reward_id=reward["id"])
    first, second = member_fake.requests
    assert (first.status, second.status) == (429, 200)
    stamps = [r.headers["x-ct-timestamp"] for r in (first, second)]
    signatures = [r.headers["x-ct-authorization"] for r in (first, second)]
    assert stamps[0] != stamps[1]
    assert signatures[0] != signatures[1]
    assert int(stamps[1]) - int(stamps[0]) >= 1000  # milliseconds, as the page's examples


def _redeemed(fake: FakeCrowdTwist, since: datetime, until: datetime) -> list[str]:
    """alice's redemption ids between two moments (whole UTC days), newest first."""
    start = int(datetime.combine(since.date(), datetime.min.time(), timezone.utc).timestamp())
    end = int(
        datetime.combine(
            until.date() + timedelta(days=1), datetime.min.time(), timezone.utc
        ).timestamp()
    )
    records = [r for r in fake.users[0].redemptions if start <= int(r["date_redeemed"]) < end]
    records.sort(key=lambda r: int(r["date_redeemed"]), reverse=True)
    return [str(r["id"]) for r in records]


# -- over a port, on both HTTP stacks -------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_read_and_a_write_on_every_stack(anyio_backend: str) -> None:
    fake = FakeCrowdTwist(api_key=API_KEY, now=NOW)
    alice = fake.users[0]
    reward = affordable(fake)
    backends = ["httpx", "aiohttp"] if anyio_backend == "asyncio" else ["httpx"]
    with fake.serve() as url:
        for backend in backends:
            before = alice.points
            async with ct.Session(
                api_key=API_KEY,
                base_url=url,
                http_backend=backend,  # type: ignore[arg-type]
            ) as session:
                points = await session.users.get_points(SANDBOX_EMAIL, id_type="email")
                result = await session.users.redeem(
                    SANDBOX_EMAIL, id_type="email", reward_id=reward["id"]
                )
            assert points.redeemable_points == before, backend
            assert result.ending_balance == before - int(reward["num_points"]), backend
            post = fake.requests[-1]
            assert (post.method, post.status, post.json) == (
                "POST",
                200,
                {"reward_id": str(reward["id"]), "quantity": 1},
            ), backend
            assert post.headers["content-type"] == "application/json", backend
