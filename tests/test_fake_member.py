"""`FakeCrowdTwist`'s member API: profile, points, activity history, the
catalogue, and the writes (redeem, credit, use and unuse a coupon) with state.

Requests go through the fake's in-process transport on a plain
`httpx.AsyncClient` (one test reads the catalogue through a `Session`, for
the `Reward` model), and every async test runs on both asyncio and trio.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist, FakeUser

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
NOW_TS = int(NOW.timestamp())
KEY = "test-key-7f3a"
DAY = 86_400
COUPON_REWARD = "453901"  # 500 points, 2 per member, 100 in stock, issues coupons
SHIRT = "453902"  # 2,000 points, 1 per member, ships
SOLD_OUT = "453959"
DISABLED = "453960"
LINK = "https://api[client_id].ct.com/v2.1/{}?page={}&api_key="


@pytest.fixture
def fake() -> FakeCrowdTwist:
    return FakeCrowdTwist(seed=0, now=NOW, api_key=KEY)


@pytest.fixture
async def client(fake: FakeCrowdTwist) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=fake.transport(), base_url=fake.base_url, params={"api_key": KEY}
    ) as client:
        yield client


def error(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def answered(response: httpx.Response) -> tuple[int, Any]:
    """The status and the JSON body of *response*, to compare in one assert."""
    return response.status_code, response.json()


def user(fake: FakeCrowdTwist, number: int) -> FakeUser:
    return next(u for u in fake.users if u.id == number)


def spent(member: FakeUser) -> int:
    return sum(int(r["points"]) for r in member.redemptions if r["status"] != "cancelled")


async def get(client: httpx.AsyncClient, path: str, **params: str) -> httpx.Response:
    return await client.get(path, params={"api_key": KEY, **params})


async def post(client: httpx.AsyncClient, path: str, body: object, **params: str) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(
        path,
        content=raw,
        params={"api_key": KEY, **params},
        headers={"content-type": "application/json"},
    )


async def redeem(
    client: httpx.AsyncClient, member: int | str, reward_id: object, quantity: object = 1
) -> httpx.Response:
    return await post(
        client, f"/v2/users/{member}/redemption", {"reward_id": reward_id, "quantity": quantity}
    )


async def credit(client: httpx.AsyncClient, member: int, body: object) -> httpx.Response:
    return await post(client, f"/v2/users/{member}/activities", body)


async def use(client: httpx.AsyncClient, body: object) -> httpx.Response:
    return await post(client, "/v2/coupon/use", body)


async def unuse(client: httpx.AsyncClient, body: object) -> httpx.Response:
    return await post(client, "/v2/coupon/unuse", body)


async def codes_listed(client: httpx.AsyncClient, member: int) -> list[str]:
    response = await get(client, f"/v2/users/{member}/usable_coupons")
    return [] if response.status_code == 400 else [c["code"] for c in response.json()]


def state(member: FakeUser) -> object:
    """Everything a write may change on *member*, as a comparable copy."""
    return json.loads(
        json.dumps(
            {
                "points": member.points,
                "total": member.total_points,
                "activities": member.activities,
                "redemptions": member.redemptions,
                "rewards": member.rewards,
                "coupons": [[c.record, c.used] for c in member.coupons],
            }
        )
    )


# -- the sample members -------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 7, 42])
def test_the_sample_members_have_consistent_histories(seed: int) -> None:
    fake = FakeCrowdTwist(seed=seed, now=NOW)
    assert [len(u.activities) for u in fake.users] == [48, 8, 0, 8]
    assert [u.points for u in fake.users] == [4_500, 1_800, 0, 2_400]
    for member in fake.users:
        assert member.total_points == sum(int(a["num_points"]) for a in member.activities)
        assert member.points == member.total_points - spent(member)
        # Points are earned before they are spent: never below 0 at any redemption.
        events = sorted(
            [(int(a["date_created"]), 0, int(a["num_points"])) for a in member.activities]
            + [
                (int(r["date_redeemed"]), 1, -int(r["points"]))
                for r in member.redemptions
                if r["status"] != "cancelled"
            ]
        )
        balance = 0
        for _, _, points in events:
            balance += points
            assert balance >= 0
        ids = [int(a["id"]) for a in member.activities]
        assert ids == sorted(ids)
        assert len(set(ids)) == len(ids)
        dates = [int(a["date_created"]) for a in member.activities]
        assert all(NOW_TS - 736 * DAY < d < NOW_TS for d in dates)
    alice = fake.users[0]
    assert alice.activities[0]["name"] == "Joined the program"
    assert {a["activity_id"] for a in alice.activities} <= set(fake.activity_catalog)
    assert repr(alice).endswith(
        "activities=[48 activities], redemptions=[37 redemptions], "
        "rewards=[207 rewards], coupons=[5 coupons])"
    )


def test_new_streams_leave_the_old_bytes_alone() -> None:
    # The members' data and the catalogue draw from streams of their own.
    fake = FakeCrowdTwist(seed=3, now=NOW)
    again = FakeCrowdTwist(seed=3, now=NOW)
    assert state(fake.users[0]) == state(again.users[0])
    assert fake.catalog == again.catalog
    assert fake.users[0].profile == again.users[0].profile
    assert FakeCrowdTwist(seed=4, now=NOW).users[0].activities != fake.users[0].activities


# -- profile and points -----------------------------------------------------------------


async def test_the_profile_with_or_without_a_trailing_slash(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    alice = user(fake, 1001)
    bare = await get(client, "/v2/users/1001")
    slash = await get(client, "/v2/users/alice%40example.com/", id_type="email")
    assert bare.status_code == slash.status_code == 200
    assert bare.content == slash.content
    profile = bare.json()
    assert list(profile)[:6] == [
        "id",
        "first_name",
        "middle_name",
        "last_name",
        "date_of_birth",
        "email_address",
    ]
    assert {
        key: profile[key]
        for key in (
            "id",
            "first_name",
            "last_name",
            "email_address",
            "username",
            "third_party_id",
            "mobile_phone_number",
            "total_points",
            "redeemable_points",
            "num_points_purchased",
            "fan_level",
            "postal_code",
        )
    } == {
        "id": 1001,
        "first_name": "Alice",
        "last_name": "Twist",
        "email_address": "alice@example.com",
        "username": "alice",
        "third_party_id": "crm-000101",
        "mobile_phone_number": "+12125550101",
        "total_points": alice.total_points,
        "redeemable_points": 4_500,
        "num_points_purchased": 0,
        "fan_level": alice.fan_level,
        "postal_code": "10001",
    }
    # The real response's secrets are there, and null.
    for secret in ("facebook_access_token", "twitter_oauth_token_secret", "password", "salt"):
        assert profile[secret] is None
    assert profile["tier_info"]["current_level"]["title"] == alice.fan_level
    assert profile["custom_data"] == {"opt_in_email": "true", "store_loc": "575"}
    assert profile["date_created"] == alice.activities[0]["date_created"]
    # custom_data is sent only when the member has some.
    assert "custom_data" not in (await get(client, "/v2/users/1002")).json()


async def test_the_profile_follows_the_records(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    alice = user(fake, 1001)
    alice.profile["first_name"] = "Alicia"
    alice.profile["loyalty_note"] = "vip"
    alice.points = 12
    profile = (await get(client, "/v2/users/1001")).json()
    assert (profile["first_name"], profile["redeemable_points"]) == ("Alicia", 12)
    assert list(profile)[-1] == "loyalty_note"
    erin = fake.add_user(email="erin@example.com")
    fresh = (await get(client, f"/v2/users/{erin.id}")).json()
    assert (fresh["id"], fresh["email_address"], fresh["first_name"]) == (1005, erin.email, None)
    assert (fresh["is_active"], fresh["email_is_verified"], fresh["segments"]) == (
        True,
        False,
        [],
    )
    assert (fresh["total_points"], fresh["redeemable_points"], fresh["fan_level"]) == (
        0,
        0,
        "Member",
    )


async def test_pii_false_leaves_out_who_the_member_is(client: httpx.AsyncClient) -> None:
    full = (await get(client, "/v2/users/1001")).json()
    for value in ("false", "", "FALSE"):
        bare = (
            await get(client, "/v2/users/crm-000101", id_type="third_party_id", pii=value)
        ).json()
        assert "first_name" not in bare
        assert "email_address" not in bare
        assert "street_address_1" not in bare
        assert (bare["id"], bare["redeemable_points"], bare["city"]) == (
            1001,
            4_500,
            "New York City",
        )
    assert (await get(client, "/v2/users/1001", pii="true")).json() == full
    refused = await get(client, "/v2/users/alice@example.com", id_type="email", pii="false")
    assert answered(refused) == (
        400,
        error("param_error", "Param id_type must be id or third_party_id when pii is false."),
    )


async def test_points(fake: FakeCrowdTwist, client: httpx.AsyncClient) -> None:
    alice, carol = user(fake, 1001), user(fake, 1003)
    response = await get(client, "/v2/users/alice/points", id_type="username")
    assert response.status_code == 200
    assert response.json() == {
        "id": "1001",
        "total_points": alice.total_points,
        "redeemable_points": 4_500,
        "num_points_purchased": 0,
        "fan_level": alice.fan_level,
    }
    assert alice.total_points - 4_500 == spent(alice)
    assert (await get(client, "/v2/users/1003/points")).json() == {
        "id": "1003",
        "total_points": 0,
        "redeemable_points": 0,
        "num_points_purchased": 0,
        "fan_level": carol.fan_level,
    }
    unknown = await get(client, "/v2/users/999/points")
    assert answered(unknown) == (400, error("page_not_found", "User does not exist."))


# -- activity history -----------------------------------------------------------------


def newest_activities(member: FakeUser) -> list[dict[str, Any]]:
    return sorted(member.activities, key=lambda a: int(a["date_created"]), reverse=True)


async def test_the_activity_history_newest_first_in_pages_of_10(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    path = "/v2.1/users/1001/activity_history"
    records: list[dict[str, Any]] = []
    for page in range(1, 6):
        body = (await get(client, path, page=str(page))).json()
        assert body["paging"] == {
            "total": 48,
            "pages": 5,
            "next_page": LINK.format("activity_history", page + 1) if page < 5 else None,
            "prev_page": LINK.format("activity_history", page - 1) if page > 1 else None,
        }
        assert len(body["activities"]) == (10 if page < 5 else 8)
        records += body["activities"]
    assert records == newest_activities(user(fake, 1001))
    assert fake.requests[0].page == 1
    three = (await get(client, path, page_size="3", page="16")).json()
    assert (three["paging"]["pages"], len(three["activities"])) == (16, 3)
    for size in ("11", "0", ""):
        refused = await get(client, path, page_size=size)
        assert answered(refused) == (
            400,
            error("param_error", "Param page_size must be between 1 and 10."),
        )


async def test_the_activity_history_dates_are_inclusive_unix_seconds(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    newest = newest_activities(user(fake, 1001))
    start, end = int(newest[20]["date_created"]), int(newest[5]["date_created"])
    path = "/v2.1/users/1001/activity_history"
    body = (await get(client, path, date_start=str(start), date_end=str(end))).json()
    assert body["paging"]["total"] == 16
    assert body["activities"] == newest[5:15]
    since = (await get(client, path, date_start=str(end))).json()
    assert since["paging"]["total"] == 6
    for params, message in (
        ({"date_start": "2025-01-01"}, "Param date_start must be a unix timestamp."),
        ({"date_end": "-5"}, "Param date_end must be a unix timestamp."),
        (
            {"date_start": str(end), "date_end": str(start)},
            "Param date_end must not be before date_start.",
        ),
    ):
        refused = await get(client, path, **params)
        assert answered(refused) == (400, error("param_error", message))


async def test_a_member_without_activities_is_no_data(client: httpx.AsyncClient) -> None:
    response = await get(client, "/v2.1/users/1003/activity_history")
    assert answered(response) == (
        400,
        error("no_data", "There is no activity history for this user."),
    )
    future = await get(client, "/v2.1/users/1001/activity_history", date_start=str(NOW_TS + 1))
    assert future.json()["error"] == "no_data"


async def test_add_activity(fake: FakeCrowdTwist, client: httpx.AsyncClient) -> None:
    carol = user(fake, 1003)
    older = fake.add_activity(carol)
    record = fake.add_activity(
        carol, activity_id="225", name="Shared a link", date_created=NOW - timedelta(hours=1)
    )
    assert (record["activity_id"], record["date_created"]) == ("225", NOW_TS - 3_600)
    assert older["activity_id"] in fake.activity_catalog
    assert NOW_TS - 30 * DAY <= older["date_created"] < NOW_TS
    body = (await get(client, "/v2.1/users/1003/activity_history")).json()
    assert body["activities"] == [record, older]
    # Records only: the points are the test's to set.
    assert (carol.points, carol.total_points) == (0, 0)
    with pytest.raises(ValueError, match="not one of this fake's users"):
        fake.add_activity(FakeUser(id=5))


# -- the catalogue -----------------------------------------------------------------------


async def test_the_catalogue_in_pages_of_25(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    records: list[dict[str, Any]] = []
    for page in (1, 2, 3):
        body = (await get(client, "/v2.1/rewards", page=str(page))).json()
        assert body["paging"] == {
            "total": 60,
            "pages": 3,
            "next_page": LINK.format("rewards", page + 1) if page < 3 else None,
            "prev_page": LINK.format("rewards", page - 1) if page > 1 else None,
        }
        records += body["rewards"]
    assert [len(records[:25]), len(records[25:50]), len(records[50:])] == [25, 25, 10]
    assert records == fake.catalog
    assert [r["id"] for r in records[:2]] + [r["id"] for r in records[-2:]] == [
        COUPON_REWARD,
        SHIRT,
        SOLD_OUT,
        DISABLED,
    ]
    assert [str(r["id"]) for r in records] == [str(n) for n in range(453_901, 453_961)]
    capped = (await get(client, "/v2.1/rewards", page_size="100")).json()
    assert (capped["paging"]["pages"], len(capped["rewards"])) == (3, 25)
    tens = (await get(client, "/v2.1/rewards", page_size="10", page="6")).json()
    assert (tens["paging"]["pages"], tens["rewards"]) == (6, fake.catalog[50:])
    assert [r.page for r in fake.requests] == [1, 2, 3, 1, 6]


async def test_the_catalogue_filters(fake: FakeCrowdTwist, client: httpx.AsyncClient) -> None:
    async def ids(**params: str) -> list[str]:
        response = await get(client, "/v2.1/rewards", page_size="25", **params)
        if response.status_code == 400:
            assert response.json()["error"] == "no_data"
            return []
        assert response.json()["paging"]["pages"] == 1, "a filter this test reads in one page"
        return [str(r["id"]) for r in response.json()["rewards"]]

    catalog = fake.catalog
    coupons = [str(r["id"]) for r in catalog if r["category_id"] == 2631]
    assert coupons[0] == COUPON_REWARD
    assert await ids(category="  COUPONS ") == coupons
    assert await ids(category="Socks") == []
    assert await ids(featured="1") == [COUPON_REWARD, SHIRT, "453903"]
    cheap = [str(r["id"]) for r in catalog if int(r["num_points"]) <= 100]
    assert 0 < len(cheap) <= 25
    assert await ids(for_points="100") == cheap
    active = (await get(client, "/v2.1/rewards", active_only="1")).json()["paging"]["total"]
    assert active == 59  # all but the disabled one; the sold-out one is active
    # What carol (0 points) may redeem: nothing; bob, with 100 points to spend: the
    # cheap rewards, less the sold-out one.
    assert await ids(redeemable_by="1003") == []
    assert await ids(redeemable_by="1002", for_points="100") == [i for i in cheap if i != SOLD_OUT]
    bad = await get(client, "/v2.1/rewards", for_points="-1")
    assert answered(bad) == (
        400,
        error("param_error", "Param for_points must be a non-negative integer."),
    )
    nobody = await get(client, "/v2.1/rewards", redeemable_by="999")
    assert nobody.json() == error("page_not_found", "User does not exist.")


async def test_the_catalogue_as_the_sdk_reads_it(fake: FakeCrowdTwist) -> None:
    async with ct.Session(
        api_key=KEY, base_url=fake.base_url, transport=fake.transport()
    ) as session:
        rewards = [r async for r in session.rewards.aiter_catalog()]
    assert all(isinstance(r, ct.Reward) for r in rewards)
    assert [r.id for r in rewards] == [str(r["id"]) for r in fake.catalog]
    first = rewards[0]
    assert (first.num_points, first.max_per_user, first.total_coupons) == (500, 2, 1000)
    assert rewards[-1].is_enabled is False


async def test_lies_reach_the_new_listings(fake: FakeCrowdTwist, client: httpx.AsyncClient) -> None:
    fake.lie(path="/v2.1/*", total=lambda page, total: total + 1)
    assert (await get(client, "/v2.1/rewards")).json()["paging"]["total"] == 61
    history = await get(client, "/v2.1/users/1001/activity_history")
    assert history.json()["paging"]["total"] == 49


async def test_add_catalog_reward(fake: FakeCrowdTwist, client: httpx.AsyncClient) -> None:
    record = fake.add_catalog_reward(title="Free Coffee", num_points=100, max_per_user=1)
    assert str(record["id"]) == "453961"
    assert fake.catalog[-1] is record
    page = (await get(client, "/v2.1/rewards", page="3")).json()
    assert page["rewards"][-1] == record


# -- redemption ----------------------------------------------------------------------


async def test_redeeming_twice_spends_points_and_a_third_is_over_the_limit(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    alice = user(fake, 1001)
    reward = fake.catalog[0]
    before = await codes_listed(client, 1001)
    first = await redeem(client, 1001, COUPON_REWARD)
    second = await post(
        client,
        "/v2/users/alice%40example.com/redemption",
        {"reward_id": COUPON_REWARD, "quantity": 1},
        id_type="email",
    )
    assert first.status_code == second.status_code == 200, second.text
    results = [first.json(), second.json()]
    assert [r["ending_balance"] for r in results] == [4_000, 3_500]
    assert alice.points == 3_500
    history = (await get(client, "/v2.2/users/1001/redemption_history")).json()
    assert history["paging"]["total"] == 39
    made = history["redemptions"][:2]
    assert [r["id"] for r in made] == [results[1]["order_id"], results[0]["order_id"]]
    assert made[0] == {
        "id": results[1]["order_id"],
        "reward_id": 453901,
        "reward_title": "$5 Off Your Next Purchase",
        "points": 500,
        "quantity": 1,
        "status": "fulfilled",
        "date_redeemed": NOW_TS,
    }
    codes = [code for result in results for code in result["codes"]]
    assert len(codes) == len(set(codes)) == 2
    assert results[0] == {
        "order_id": made[1]["id"],
        "reward_id": 453901,
        "quantity": 1,
        "total_points_redeemed": 500,
        "ending_balance": 4_000,
        "codes": [codes[0]],
        "digital_download": None,
    }
    listed = await codes_listed(client, 1001)
    assert listed == [*before, *codes]
    coupon = alice.coupons[-1].record
    assert (coupon["redeem_order_id"], coupon["reward_id"], coupon["ending_balance"]) == (
        results[1]["order_id"],
        453901,
        3_500,
    )
    assert (reward["current_quantity"], reward["remaining_coupons"]) == (98, 998)

    snapshot = state(alice)
    third = await redeem(client, 1001, COUPON_REWARD)
    assert answered(third) == (
        403,
        error("over_redeem_limit", "User can only redeem 2 of this reward."),
    )
    assert state(alice) == snapshot
    assert reward["current_quantity"] == 98


async def test_too_few_points_is_insufficient_points_and_changes_nothing(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    bob = user(fake, 1002)
    shirt = fake.catalog[1]
    snapshot = state(bob)
    response = await redeem(client, 1002, SHIRT)
    assert answered(response) == (
        403,
        error("insufficient_points", "User does not have enough points to redeem reward."),
    )
    assert state(bob) == snapshot
    assert bob.points == 1_800
    assert shirt["current_quantity"] == 25
    # With enough points it goes through, and a reward that ships is pending.
    bob.points = 2_000
    done = await post(
        client,
        "/v2/users/1002/redemption",
        {"reward_id": SHIRT, "quantity": 1, "shipping_first_name": "Bob"},
    )
    assert done.status_code == 200
    assert (done.json()["codes"], done.json()["shipping_first_name"]) == ([], "Bob")
    assert (bob.points, bob.redemptions[0]["status"], shirt["current_quantity"]) == (
        0,
        "pending",
        24,
    )
    assert len(bob.coupons) == 1


async def test_quantity_spends_per_unit_and_issues_a_coupon_each(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    alice = user(fake, 1001)
    over = await redeem(client, 1001, int(COUPON_REWARD), 3)
    assert over.json() == error("over_redeem_limit", "User can only redeem 2 of this reward.")
    response = await redeem(client, 1001, int(COUPON_REWARD), "2")
    result = response.json()
    assert (result["total_points_redeemed"], result["ending_balance"]) == (1_000, 3_500)
    assert len(result["codes"]) == 2
    assert [c.record["code"] for c in alice.coupons[-2:]] == result["codes"]
    assert alice.redemptions[0]["quantity"] == 2
    # Cancelled orders do not count against the limit.
    alice.redemptions[0]["status"] = "cancelled"
    assert (await redeem(client, 1001, COUPON_REWARD)).status_code == 200


async def test_rewards_that_cannot_be_redeemed(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    alice = user(fake, 1001)
    expired = fake.add_catalog_reward(
        num_points=10, no_end_date=0, date_end=NOW - timedelta(days=1), date_end_redeemable=None
    )
    later = fake.add_catalog_reward(num_points=10, date_start=NOW + timedelta(days=1))
    snapshot = state(alice)
    invalid = error("invalid_reward", "Reward does not exist, is expired or inactive.")
    for reward_id in ("999999", DISABLED, expired["id"], later["id"]):
        response = await redeem(client, 1001, reward_id)
        assert answered(response) == (404, invalid)
    sold_out = error("forbidden", "The redemption exceeds the current quantity of rewards.")
    response = await redeem(client, 1001, SOLD_OUT)
    assert answered(response) == (403, sold_out)
    fake.catalog[0]["current_quantity"] = 1
    response = await redeem(client, 1001, COUPON_REWARD, 2)
    assert answered(response) == (403, sold_out)
    assert state(alice) == snapshot


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"reward_id=453901", "The request body must be a JSON object."),
        (b"", "The request body must be a JSON object."),
        ([{"reward_id": COUPON_REWARD}], "The request body must be a JSON object."),
        ({"quantity": 1}, "Param reward_id is required."),
        ({"reward_id": "", "quantity": 1}, "Param reward_id is required."),
        ({"reward_id": True, "quantity": 1}, "Param reward_id is required."),
        ({"reward_id": COUPON_REWARD}, "Param quantity is required."),
        ({"reward_id": COUPON_REWARD, "quantity": 0}, "Param quantity must be a positive integer."),
        (
            {"reward_id": COUPON_REWARD, "quantity": "x"},
            "Param quantity must be a positive integer.",
        ),
        (
            {"reward_id": COUPON_REWARD, "quantity": True},
            "Param quantity must be a positive integer.",
        ),
        (
            {"reward_id": COUPON_REWARD, "quantity": 1.5},
            "Param quantity must be a positive integer.",
        ),
    ],
)
async def test_a_bad_redemption_body_is_an_input_error(
    fake: FakeCrowdTwist, client: httpx.AsyncClient, body: object, message: str
) -> None:
    snapshot = state(user(fake, 1001))
    response = await post(client, "/v2/users/1001/redemption", body)
    assert answered(response) == (400, error("input_error", message))
    assert state(user(fake, 1001)) == snapshot


async def test_a_reward_of_the_members_own_listing(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    dave = user(fake, 1004)
    reward = dave.rewards[0]
    reward.update(num_points=300, current_quantity=2, max_per_user=5)
    first = await redeem(client, 1004, reward["id"])
    assert first.json()["ending_balance"] == 2_100
    listing = (await get(client, "/v2.1/users/1004/rewards")).json()["rewards"]
    assert listing[0]["current_quantity"] == 1
    await redeem(client, 1004, reward["id"])
    # Sold out now: the listing leaves it out.
    listing = (await get(client, "/v2.1/users/1004/rewards")).json()["rewards"]
    assert str(reward["id"]) not in [str(r["id"]) for r in listing]
    assert dave.points == 1_800


async def test_a_digital_reward_comes_with_a_download(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    ebook = fake.add_catalog_reward(
        num_points=300, is_digital_download=1, total_coupons=0, current_quantity=5
    )
    result = (await redeem(client, 1004, ebook["id"])).json()
    assert result["digital_download"].startswith("https://cdn.crowdtwist.com/file/")
    assert result["codes"] == []


# -- activity credit ---------------------------------------------------------------------


async def test_crediting_adds_points_and_heads_the_history(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    alice = user(fake, 1001)
    total = alice.total_points
    response = await credit(client, 1001, {"activity_id": "225"})
    assert answered(response) == (200, {"awarded": True})
    assert (alice.points, alice.total_points) == (4_525, total + 25)
    when = NOW_TS - DAY
    response = await credit(
        client,
        1001,
        {
            "activity_id": 410052775,
            "num_points": 150,
            "activity_date": when,
            "extra_data": {"coupon_numbers": "123|456|789"},
        },
    )
    assert response.status_code == 200
    assert (alice.points, alice.total_points) == (4_675, total + 175)
    body = (await get(client, "/v2.1/users/1001/activity_history")).json()
    assert body["paging"]["total"] == 50
    latest, earlier = body["activities"][:2]
    assert latest == {
        "id": latest["id"],
        "activity_id": "410052775",
        "name": "Attended a members' event",
        "num_points": 150,
        "notes": None,
        "date_created": NOW_TS,
        "date_awarded": NOW_TS,
        "activity_date": when,
        "extra_data": {"coupon_numbers": "123|456|789"},
    }
    assert (earlier["activity_id"], earlier["num_points"], earlier["extra_data"]) == (
        "225",
        25,
        None,
    )
    assert latest["id"] > earlier["id"] > max(int(a["id"]) for a in alice.activities[2:])
    points = (await get(client, "/v2/users/1001/points")).json()
    assert (points["redeemable_points"], points["total_points"]) == (4_675, total + 175)


async def test_crediting_carol_gives_her_a_history(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    fake.activity_catalog["999"] = {"name": "Tested the fake", "num_points": 40}
    assert (await credit(client, 1003, {"activity_id": "999"})).status_code == 200
    body = (await get(client, "/v2.1/users/1003/activity_history")).json()
    assert [(a["name"], a["num_points"]) for a in body["activities"]] == [("Tested the fake", 40)]
    assert (user(fake, 1003).points, user(fake, 1003).total_points) == (40, 40)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"activity_id": "12345"}, "Activity does not exist."),
        ({}, "Param activity_id is required."),
        (b"{", "The request body must be a JSON object."),
        (
            {"activity_id": "225", "num_points": -1},
            "Param num_points must be a non-negative integer.",
        ),
        (
            {"activity_id": "225", "num_points": "x"},
            "Param num_points must be a non-negative integer.",
        ),
        (
            {"activity_id": "225", "activity_date": "today"},
            "Param activity_date must be a non-negative integer.",
        ),
        ({"activity_id": "225", "extra_data": [1]}, "Param extra_data must be an object."),
    ],
)
async def test_a_bad_credit_is_an_input_error(
    fake: FakeCrowdTwist, client: httpx.AsyncClient, body: object, message: str
) -> None:
    snapshot = state(user(fake, 1001))
    response = await credit(client, 1001, body)
    assert answered(response) == (400, error("input_error", message))
    assert state(user(fake, 1001)) == snapshot


# -- coupons -------------------------------------------------------------------------------


async def test_a_coupon_is_used_once_and_unused_once(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    alice = user(fake, 1001)
    code = alice.coupons[0].record["code"]
    success = {"success": True, "message": "Successfully submitted"}
    assert code in await codes_listed(client, 1001)

    used = await use(client, {"coupon_value": code, "use_date": "2023-05-20T18:25:43-04:00"})
    assert answered(used) == (200, success)
    assert alice.coupons[0].used is True
    assert code not in await codes_listed(client, 1001)
    again = await use(client, {"coupon_value": code})
    assert answered(again) == (400, error("invalid", "Coupon has already been used."))

    unused = await unuse(client, {"coupon_value": code})
    assert answered(unused) == (200, success)
    assert code in await codes_listed(client, 1001)
    twice = await unuse(client, {"coupon_value": code})
    assert answered(twice) == (400, error("not_used", "Coupon has not been used."))


async def test_a_used_sample_coupon_comes_back_when_unused(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    dave = user(fake, 1004)
    assert await codes_listed(client, 1004) == []
    code = dave.coupons[0].record["code"]
    assert (await unuse(client, {"coupon_value": code})).status_code == 200
    assert await codes_listed(client, 1004) == [code]


async def test_a_redeemed_coupon_can_be_used_at_the_till(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    code = (await redeem(client, 1002, COUPON_REWARD)).json()["codes"][0]
    assert code in await codes_listed(client, 1002)
    assert (await use(client, {"coupon_value": code})).status_code == 200
    assert code not in await codes_listed(client, 1002)


@pytest.mark.parametrize("write", [use, unuse])
async def test_coupon_errors(fake: FakeCrowdTwist, client: httpx.AsyncClient, write: Any) -> None:
    unknown = await write(client, {"coupon_value": "NOPE0000"})
    assert answered(unknown) == (404, error("not_issued", "Coupon has not been issued."))
    code = user(fake, 1001).coupons[0].record["code"]
    # Codes are matched exactly.
    assert (await write(client, {"coupon_value": code.lower()})).status_code == 404
    for body in ({}, {"coupon_value": ""}, {"coupon_value": 7}, b"coupon_value=X"):
        bad = await write(client, body)
        assert answered(bad) == (
            400,
            error(
                "input_error",
                "The request body must be a JSON object."
                if isinstance(body, bytes)
                else "Param coupon_value is required.",
            ),
        )


async def test_use_date_must_be_iso_8601(fake: FakeCrowdTwist, client: httpx.AsyncClient) -> None:
    coupon = user(fake, 1001).coupons[0]
    code = coupon.record["code"]
    bad = await use(client, {"coupon_value": code, "use_date": "20 May 2023"})
    assert answered(bad) == (
        400,
        error("input_error", "Param use_date must be a date and time in ISO 8601."),
    )
    assert coupon.used is False
    assert (await use(client, {"coupon_value": code, "use_date": "2025-06-01T12:00:00Z"})).json()[
        "success"
    ] is True


# -- methods, keys and paths -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v2/users/1001", "GET"),
        ("POST", "/v2/users/1001/points", "GET"),
        ("POST", "/v2.1/users/1001/activity_history", "GET"),
        ("POST", "/v2.1/rewards", "GET"),
        ("GET", "/v2/users/1001/redemption", "POST"),
        ("GET", "/v2/users/1001/activities", "POST"),
        ("GET", "/v2/coupon/use", "POST"),
        ("PUT", "/v2/coupon/unuse", "POST"),
    ],
)
async def test_the_wrong_method_is_a_405(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path, params={"api_key": KEY})
    assert (response.status_code, response.headers["allow"]) == (405, allowed)
    assert response.json() == error(
        "input_error", f"HTTP method {method} is not supported; use {allowed}."
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/users/1001"),
        ("GET", "/v2.1/rewards"),
        ("POST", "/v2/users/1001/redemption"),
        ("POST", "/v2/coupon/use"),
    ],
)
async def test_the_new_routes_need_the_key(fake: FakeCrowdTwist, method: str, path: str) -> None:
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
        response = await client.request(method, path, json={"coupon_value": "X"})
    assert answered(response) == (403, error("invalid_auth", "Invalid access credentials."))


async def test_writes_for_an_unknown_member_or_id_type(
    client: httpx.AsyncClient,
) -> None:
    unknown = await redeem(client, 999, COUPON_REWARD)
    assert answered(unknown) == (400, error("page_not_found", "User does not exist."))
    id_type = await post(
        client, "/v2/users/1001/activities", {"activity_id": "225"}, id_type="phone"
    )
    assert id_type.json() == error("param_error", "Param id_type has invalid value.")


def recorded_bodies(fake: FakeCrowdTwist) -> list[Mapping[str, Any] | None]:
    return [r.json for r in fake.requests]


async def test_the_write_bodies_are_recorded(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    await redeem(client, 1001, COUPON_REWARD)
    await get(client, "/v2/users/1001/points")
    assert recorded_bodies(fake) == [{"reward_id": COUPON_REWARD, "quantity": 1}, None]
