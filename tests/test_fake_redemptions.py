"""`FakeCrowdTwist`'s User Redemption History (v2.2): the sample, paging, filters, errors.

Every request goes through the fake's in-process transport on a plain
`httpx.AsyncClient` (not a `Session`, whose redemption support is written
elsewhere), and every async test runs on both asyncio and trio.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist, FakeUser, RecordedRequest

UTC = timezone.utc
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
KEY = "test-key-7f3a"
ALICE = "/v2.2/users/1001/redemption_history"
ERIN = "/v2.2/users/erin/redemption_history"  # id_type=username, once `erin_redeems` adds her
LINK = "https://api[client_id].ct.com/v2.2/redemption_history?page={}&api_key="
DAY = 86_400

ALICE_IDS = {
    "email": "alice@example.com",
    "facebook_user_id": "100004471900101",
    "twitter_user_id": "1457803300101",
    "id": "1001",
    "third_party_id": "crm-000101",
    "username": "alice",
    "mobile_phone_number": "+12125550101",
}


@pytest.fixture
def fake() -> FakeCrowdTwist:
    return FakeCrowdTwist(seed=0, now=NOW, api_key=KEY)


@pytest.fixture
async def client(fake: FakeCrowdTwist) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
        yield client


async def get(
    client: httpx.AsyncClient,
    path: str = ALICE,
    params: Mapping[str, str] | None = None,
    *,
    auth: bool = True,
    headers: Mapping[str, str] | None = None,
    **query: str,
) -> httpx.Response:
    """GET *path* with *params* and *query*, the key added as a query parameter if *auth*."""
    merged = {**(params or {}), **query}
    return await client.get(
        path, params={"api_key": KEY, **merged} if auth else merged, headers=headers
    )


async def read_all(
    client: httpx.AsyncClient, path: str = ALICE, **query: str
) -> tuple[int, list[dict[str, Any]]]:
    """The total and every record of a history, following the `next_page` links."""
    total, records, page = None, [], 1
    while True:
        response = await get(client, path, query, page=str(page))
        assert response.status_code == 200, response.text
        body = response.json()
        total = body["paging"]["total"] if total is None else total
        assert body["paging"]["total"] == total
        records += body["redemptions"]
        link = body["paging"]["next_page"]
        if link is None:
            return total, records
        match = re.fullmatch(re.escape(LINK).replace(r"\{\}", "([0-9]+)"), link)
        assert match, link
        assert int(match[1]) == page + 1
        page += 1


def error(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def erin_redeems(fake: FakeCrowdTwist, *moments: datetime) -> list[dict[str, Any]]:
    """Add a member, username "erin", with a redemption at each of *moments*;
    return their records, in that order."""
    erin = fake.add_user(username="erin")
    return [fake.add_redemption(erin, date_redeemed=moment) for moment in moments]


def newest_first(user: FakeUser) -> list[dict[str, Any]]:
    """*user*'s redemptions as the history should list them, worked out here."""
    return sorted(user.redemptions, key=lambda r: int(r["date_redeemed"]), reverse=True)


def day(text: str) -> int:
    """Unix seconds at the start of the UTC day *text* (`YYYY-MM-DD`)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def digest(records: object) -> str:
    return hashlib.sha256(
        json.dumps(records, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def rewards_and_coupons(fake: FakeCrowdTwist) -> list[dict[str, Any]]:
    return [
        {"id": u.id, "rewards": u.rewards, "coupons": [[c.record, c.used] for c in u.coupons]}
        for u in fake.users
    ]


# -- the sample program -------------------------------------------------------


def test_the_sample_history(fake: FakeCrowdTwist) -> None:
    alice, bob, carol, dave = fake.users
    assert [len(u.redemptions) for u in fake.users] == [37, 3, 0, 0]
    assert (carol.redemptions, dave.redemptions) == ([], [])
    records = alice.redemptions + bob.redemptions
    ids = [int(r["id"]) for r in records]
    assert len(set(ids)) == 40
    now = int(NOW.timestamp())
    dates = [r["date_redeemed"] for r in records]
    assert all(type(d) is int and now - 730 * DAY <= d < now for d in dates)
    # Spread over the two years, not bunched at one end.
    assert min(dates) < now - 600 * DAY
    assert max(dates) > now - 60 * DAY
    assert all(
        set(r) == {"id", "reward_id", "reward_title", "points", "status", "date_redeemed"}
        for r in records
    )
    assert "redemptions=[37 redemptions]" in repr(alice)
    assert repr(alice).endswith("rewards=[207 rewards], coupons=[5 coupons])")


def test_the_string_number_quirk_is_in_the_sample(fake: FakeCrowdTwist) -> None:
    records = [r for u in fake.users for r in u.redemptions]
    assert {type(r["id"]) for r in records} == {int, str}
    strings = [r for r in records if isinstance(r["id"], str)]
    # The id and the points of one record come as strings together, digits only.
    assert all(isinstance(r["points"], str) for r in strings)
    assert all(r["id"].isdigit() and r["points"].isdigit() for r in strings)
    assert all(type(r["points"]) is int for r in records if type(r["id"]) is int)
    assert len(strings) == 4  # of 40: about one in five, on seed 0


# Computed on commit 84a3f66, before the redemption history was added, with
#   fake = FakeCrowdTwist(seed=seed, now=NOW, api_key="test-key")
#   digest(fake.users[0].rewards), digest(rewards_and_coupons(fake))
# (the functions above): the redemptions are drawn from a stream of their own,
# so the records that were there before must not have moved by a byte.
BEFORE_REDEMPTIONS = {
    0: (
        "2e5c48a5df597d5d1240ce73043fcbbde31230acf5e2eb675117ea3b12d4bfb0",
        "de1249b44d6cc4a0fb80461edc2879ab7ef266aadc5b5d123245dbf3d2e9bdf1",
    ),
    1: (
        "9e60e9ea5f27f40b975bfeb9ab48fff9d7e5240a107dc8a5937acf2db644fc9f",
        "f1a6635661d9076ccb6b7b049a17d941fa5aeb462eb224ed7051a8a35a470958",
    ),
}


@pytest.mark.parametrize("seed", sorted(BEFORE_REDEMPTIONS))
def test_the_rewards_and_coupons_did_not_change(seed: int) -> None:
    fake = FakeCrowdTwist(seed=seed, now=NOW, api_key="test-key")
    alice_rewards, everything = BEFORE_REDEMPTIONS[seed]
    assert digest(fake.users[0].rewards) == alice_rewards
    assert digest(rewards_and_coupons(fake)) == everything


def test_adding_a_redemption_leaves_the_next_reward_as_it_was() -> None:
    one, two = FakeCrowdTwist(seed=0, now=NOW), FakeCrowdTwist(seed=0, now=NOW)
    two.add_redemption(two.users[2])
    assert one.add_reward(one.users[2]) == two.add_reward(two.users[2])


# -- paging -------------------------------------------------------------------


@pytest.mark.anyio
async def test_alices_history_pages_newest_first(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    expected = newest_first(fake.users[0])
    # Stored oldest first: the listing's order is the fake's doing.
    assert expected != fake.users[0].redemptions
    bodies = [(await get(client, page=str(n), page_size="10")).json() for n in (1, 2, 3, 4)]
    for number, body in enumerate(bodies, start=1):
        assert body["paging"] == {
            "total": 37,
            "pages": 4,
            "next_page": LINK.format(number + 1) if number < 4 else None,
            "prev_page": LINK.format(number - 1) if number > 1 else None,
        }
        ids = [r["id"] for r in body["redemptions"]]
        assert ids == [r["id"] for r in expected[(number - 1) * 10 : number * 10]]
        assert body["redemptions"] == expected[(number - 1) * 10 : number * 10]
    assert [len(b["redemptions"]) for b in bodies] == [10, 10, 10, 7]
    listed = [r for b in bodies for r in b["redemptions"]]
    dates = [r["date_redeemed"] for r in listed]
    assert dates == sorted(dates, reverse=True)
    distinct = {str(r["id"]) for r in listed}
    assert len(distinct) == 37
    assert distinct == {str(r["id"]) for r in fake.users[0].redemptions}


@pytest.mark.anyio
async def test_page_and_page_size_default_to_1_and_10(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    default = await get(client)
    explicit = await get(client, page="1", page_size="10")
    invalid_page = await get(client, page="x")
    assert default.content == explicit.content == invalid_page.content
    assert default.json()["paging"]["next_page"] == LINK.format(2)
    assert [r.page for r in fake.requests] == [1, 1, 1]


@pytest.mark.anyio
async def test_a_smaller_page_size(fake: FakeCrowdTwist, client: httpx.AsyncClient) -> None:
    body = (await get(client, page="3", page_size="7")).json()
    assert body["paging"] == {
        "total": 37,
        "pages": 6,
        "next_page": LINK.format(4),
        "prev_page": LINK.format(2),
    }
    assert body["redemptions"] == newest_first(fake.users[0])[14:21]


@pytest.mark.anyio
@pytest.mark.parametrize("page_size", ["11", "0", "x", "-1", "100", "1.5", ""])
async def test_a_page_size_outside_1_to_10_is_refused(
    client: httpx.AsyncClient, page_size: str
) -> None:
    response = await get(client, page_size=page_size)
    assert response.status_code == 400
    assert response.json() == error("param_error", "Param page_size must be between 1 and 10.")


@pytest.mark.anyio
@pytest.mark.parametrize("page", ["5", "6", "99999999999999999999"])
async def test_a_page_past_the_end_is_empty_and_links_to_the_last(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await get(client, page=page)
    assert response.status_code == 200
    assert response.json() == {
        "paging": {"total": 37, "pages": 4, "next_page": None, "prev_page": LINK.format(4)},
        "redemptions": [],
    }


@pytest.mark.anyio
@pytest.mark.parametrize("page", ["0", "-3"])
async def test_page_zero_or_less_is_empty_and_links_to_page_1(
    client: httpx.AsyncClient, page: str
) -> None:
    response = await get(client, page=page)
    assert response.status_code == 200
    assert response.json() == {
        "paging": {"total": 37, "pages": 4, "next_page": LINK.format(1), "prev_page": None},
        "redemptions": [],
    }


@pytest.mark.anyio
async def test_walking_the_links_reads_every_redemption_once(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    total, records = await read_all(client, page_size="4")
    assert (total, len(records)) == (37, 37)
    assert records == newest_first(fake.users[0])
    assert [r.page for r in fake.requests] == list(range(1, 11))


@pytest.mark.anyio
async def test_equal_dates_keep_the_order_they_were_added_in(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    same = NOW - timedelta(days=3)
    first, newer, second, third = erin_redeems(fake, same, NOW - timedelta(days=1), same, same)
    body = (await get(client, ERIN, id_type="username")).json()
    assert body["redemptions"] == [newer, first, second, third]


# -- date filters ---------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-06-01", "2024-12-31"),
        ("2025-01-01", None),
        (None, "2024-01-15"),
        ("2023-09-10", "2024-09-10"),
    ],
)
async def test_date_start_and_date_end_filter_by_the_redemption_date(
    fake: FakeCrowdTwist, client: httpx.AsyncClient, start: str | None, end: str | None
) -> None:
    since = -math.inf if start is None else day(start)
    until = math.inf if end is None else day(end) + DAY
    expected = [r for r in newest_first(fake.users[0]) if since <= int(r["date_redeemed"]) < until]
    assert 0 < len(expected) < 37
    query = {"date_start": start, "date_end": end}
    total, records = await read_all(client, **{k: v for k, v in query.items() if v is not None})
    assert total == len(records) == len(expected)
    assert records == expected


@pytest.mark.anyio
async def test_the_date_bounds_are_whole_utc_days_inclusive(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    added = erin_redeems(
        fake,
        datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC),  # the day before: out
        datetime(2025, 1, 1, 0, 0, 0, tzinfo=UTC),  # the first second: in
        datetime(2025, 1, 15, 9, 30, tzinfo=timezone(timedelta(hours=-5))),  # in
        datetime(2025, 1, 31, 23, 59, 59, tzinfo=UTC),  # the last second: in
        datetime(2025, 2, 1, 0, 0, 0, tzinfo=UTC),  # the day after: out
    )
    query = {"id_type": "username", "date_start": "2025-01-01", "date_end": "2025-01-31"}
    body = (await get(client, ERIN, query)).json()
    assert body["paging"]["total"] == 3
    assert body["redemptions"] == [added[3], added[2], added[1]]
    # A start date alone runs to the newest redemption.
    since = (await get(client, ERIN, id_type="username", date_start="2025-02-01")).json()
    assert since["redemptions"] == [added[4]]


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["date_start", "date_end"])
@pytest.mark.parametrize(
    "value", ["2025-13-01", "2025-02-30", "20250101", "2025-1-1", "yesterday", "", "２０２５-01-01"]
)
async def test_an_invalid_date_is_a_param_error(
    client: httpx.AsyncClient, name: str, value: str
) -> None:
    response = await get(client, ALICE, {name: value})
    assert response.status_code == 400
    assert response.json() == error("param_error", f"Param {name} must be a date as YYYY-MM-DD.")


@pytest.mark.anyio
async def test_a_range_without_redemptions_is_no_data(client: httpx.AsyncClient) -> None:
    for query in (
        {"date_start": "2025-06-02"},
        {"date_start": "2025-06-02", "date_end": "2025-06-30"},
    ):
        response = await get(client, ALICE, query)
        assert response.status_code == 400
        assert response.json() == error("no_data", "There is no redemption history for this user.")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2025-03-01", "2025-02-28", "Param date_end must not be before date_start."),
        ("2024-01-01", "2025-01-02", "Date range should not exceed more than a year."),
        ("2023-02-28", "2024-02-29", "Date range should not exceed more than a year."),
    ],
)
async def test_a_range_backwards_or_over_a_year_is_a_param_error(
    client: httpx.AsyncClient, start: str, end: str, message: str
) -> None:
    response = await get(client, ALICE, date_start=start, date_end=end)
    assert response.status_code == 400
    assert response.json() == error("param_error", message)


@pytest.mark.anyio
async def test_a_range_up_to_the_same_day_a_year_later_is_served(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    # The SDK's windows run from a day to the same day a year later (from a
    # 29 February: the 1st of March a year before), both days included.
    added = erin_redeems(
        fake,
        datetime(2023, 2, 28, 23, 59, 59, tzinfo=UTC),  # the day before: out
        datetime(2023, 3, 1, 0, 0, 0, tzinfo=UTC),  # in
        datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),  # in
    )
    leap = {"date_start": "2023-03-01", "date_end": "2024-02-29"}
    assert (await get(client, ERIN, leap, id_type="username")).json()["redemptions"] == [
        added[2],
        added[1],
    ]
    year = {"date_start": "2023-02-28", "date_end": "2024-02-28"}
    assert (await get(client, ERIN, year, id_type="username")).json()["redemptions"] == [
        added[1],
        added[0],
    ]
    one_day = {"date_start": "2024-02-29", "date_end": "2024-02-29"}
    assert (await get(client, ERIN, one_day, id_type="username")).json()["redemptions"] == [
        added[2]
    ]


@pytest.mark.anyio
async def test_start_date_and_end_date_are_not_crowdtwists_names(
    client: httpx.AsyncClient,
) -> None:
    # Unknown parameters are ignored, as the API ignores them: the whole history.
    response = await get(client, ALICE, start_date="2025-06-02", end_date="2025-06-30")
    assert response.status_code == 200
    assert response.json()["paging"]["total"] == 37


# -- users, keys and errors -------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("user_id", ["1003", "1004"])
async def test_a_user_without_redemptions_is_no_data(
    client: httpx.AsyncClient, user_id: str
) -> None:
    response = await get(client, f"/v2.2/users/{user_id}/redemption_history")
    assert response.status_code == 400
    assert response.json() == error("no_data", "There is no redemption history for this user.")


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "headers"),
    [
        pytest.param({}, {}, id="none"),
        pytest.param({"api_key": "wrong"}, {}, id="wrong-query"),
        pytest.param({}, {"X-CT-Authorization": f"Bearer {KEY}"}, id="wrong-scheme"),
    ],
)
async def test_a_missing_or_wrong_key_is_403(
    fake: FakeCrowdTwist,
    client: httpx.AsyncClient,
    query: dict[str, str],
    headers: dict[str, str],
) -> None:
    response = await get(client, ALICE, query, auth=False, headers=headers)
    assert response.status_code == 403
    assert response.json() == error("invalid_auth", "Invalid access credentials.")
    assert [r.status for r in fake.requests] == [403]


@pytest.mark.anyio
async def test_the_key_as_a_header(client: httpx.AsyncClient) -> None:
    response = await get(client, auth=False, headers={"X-CT-Authorization": f"CTApiKey {KEY}"})
    assert response.json()["paging"]["total"] == 37


@pytest.mark.anyio
async def test_id_type_email_finds_alice_without_regard_to_case(
    client: httpx.AsyncClient,
) -> None:
    for email in (SANDBOX_EMAIL, "Alice@Example.COM"):
        path = f"/v2.2/users/{email.replace('@', '%40')}/redemption_history"
        response = await get(client, path, id_type="email")
        assert response.status_code == 200
        assert response.json()["paging"]["total"] == 37
    by_id = await get(client, f"/v2.2/users/{SANDBOX_EMAIL}/redemption_history")
    assert by_id.json() == error("page_not_found", "User does not exist.")


@pytest.mark.anyio
@pytest.mark.parametrize("id_type", list(ALICE_IDS))
async def test_each_id_type_finds_the_user(client: httpx.AsyncClient, id_type: str) -> None:
    path = f"/v2.2/users/{ALICE_IDS[id_type]}/redemption_history"
    response = await get(client, path, id_type=id_type)
    assert response.json()["paging"]["total"] == 37


@pytest.mark.anyio
async def test_unknown_users_id_types_methods_and_versions(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    unknown = await get(client, "/v2.2/users/999999/redemption_history")
    assert (unknown.status_code, unknown.json()) == (
        400,
        error("page_not_found", "User does not exist."),
    )
    id_type = await get(client, id_type="phone")
    assert (id_type.status_code, id_type.json()) == (
        400,
        error("param_error", "Param id_type has invalid value."),
    )
    post = await client.post(ALICE, params={"api_key": KEY})
    assert (post.status_code, post.headers["allow"]) == (405, "GET")
    for path in ("/v2.1/users/1001/redemption_history", "/v2.2/users/1001/rewards"):
        assert (await get(client, path)).status_code == 404


# -- adding, recording, scripting -------------------------------------------------------


@pytest.mark.anyio
async def test_add_redemption(fake: FakeCrowdTwist, client: httpx.AsyncClient) -> None:
    erin = fake.add_user(email="erin@example.com")
    older = fake.add_redemption(erin)
    record = fake.add_redemption(
        erin, reward_title="Free Coffee", points=250, date_redeemed=NOW - timedelta(hours=1)
    )
    assert (record["reward_title"], record["points"]) == ("Free Coffee", 250)
    assert record["date_redeemed"] == int(NOW.timestamp()) - 3600
    assert erin.redemptions == [older, record]
    # Made in the month before `now`, with an id no other redemption has.
    assert int(NOW.timestamp()) - 30 * DAY <= older["date_redeemed"] < int(NOW.timestamp())
    ids = [str(r["id"]) for u in fake.users for r in u.redemptions]
    assert len(ids) == len(set(ids)) == 42
    body = (
        await get(client, "/v2.2/users/erin@example.com/redemption_history", id_type="email")
    ).json()
    assert body == {
        "paging": {"total": 2, "pages": 1, "next_page": None, "prev_page": None},
        "redemptions": [record, older],
    }
    with pytest.raises(ValueError, match="not one of this fake's users"):
        fake.add_redemption(FakeUser(id=5))


@pytest.mark.anyio
async def test_the_page_is_recorded_and_scripts_match_it(
    fake: FakeCrowdTwist, client: httpx.AsyncClient
) -> None:
    fake.script(503, page=2, path="*/redemption_history")
    first = await get(client, page="1")
    second = await get(client, page="2", date_start="2024-01-01")
    again = await get(client, page="2", date_start="2024-01-01")
    coupons = await get(client, "/v2/users/1001/usable_coupons")
    assert [r.status_code for r in (first, second, again, coupons)] == [200, 503, 200, 200]
    assert fake.requests[1] == RecordedRequest(
        method="GET",
        path=ALICE,
        params={"page": "2", "date_start": "2024-01-01"},
        page=2,
        status=503,
    )
    assert [r.page for r in fake.requests] == [1, 2, 2, None]
