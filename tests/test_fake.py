"""`crowdtwist_async.testing.FakeCrowdTwist`: the documented behaviour, the knobs, the adapters.

Most tests speak HTTP to the fake through its in-process transport from a
plain function (`get`), since what they check does not depend on the event
loop; the adapter tests run on both asyncio and trio.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import anyio
import httpx
import pytest

import crowdtwist_async as ct
import crowdtwist_async.testing as testing
from crowdtwist_async.testing import (
    SANDBOX_EMAIL,
    FakeCoupon,
    FakeCrowdTwist,
    FakeUser,
    RecordedRequest,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
KEY = "test-key-7f3a"
ALICE = "/v2.1/users/1001/rewards"
ALICE_COUPONS = "/v2/users/1001/usable_coupons"
LINK = "https://api[client_id].ct.com/v2.1/rewards?page={}&api_key="

Query = Mapping[str, str]
T = TypeVar("T")


@pytest.fixture
def fake() -> FakeCrowdTwist:
    return FakeCrowdTwist(seed=0, now=NOW, api_key=KEY)


def get_many(
    fake: FakeCrowdTwist,
    requests: list[tuple[str, Query]],
    *,
    auth: bool = True,
    headers: Mapping[str, str] | None = None,
) -> list[httpx.Response]:
    """GET each (path, query) in turn through the fake's transport; the key added if *auth*."""

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
            responses: list[httpx.Response] = []
            for path, query in requests:
                params = {"api_key": fake.api_key, **query} if auth else dict(query)
                responses.append(await client.get(path, params=params, headers=headers))
            return responses

    return anyio.run(run)


def get(fake: FakeCrowdTwist, path: str, **query: str) -> httpx.Response:
    return get_many(fake, [(path, query)])[0]


def read(fake: FakeCrowdTwist, call: Callable[[ct.Users], Awaitable[T]]) -> T:
    """What *call* reads from the fake through the SDK (`session.users`)."""

    async def run() -> T:
        async with ct.Session(
            fake.api_key, base_url=fake.base_url, transport=fake.transport(), max_retries=0
        ) as session:
            return await call(session.users)

    return anyio.run(run)


def error(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


def in_stock(user: FakeUser) -> list[dict[str, Any]]:
    return [r for r in user.rewards if r["current_quantity"] != 0]


def user(fake: FakeCrowdTwist, email: str) -> FakeUser:
    return next(u for u in fake.users if u.email == email)


# -- the sample program -------------------------------------------------------


def test_the_sample_program(fake: FakeCrowdTwist) -> None:
    alice, bob, carol, dave = fake.users
    assert (alice.id, alice.email, alice.username) == (1001, SANDBOX_EMAIL, "alice")
    assert SANDBOX_EMAIL == "alice@example.com"
    assert (len(in_stock(alice)), len(alice.rewards)) == (203, 207)
    assert (len(in_stock(bob)), len(bob.rewards)) == (6, 9)
    assert (carol.rewards, carol.coupons) == ([], [])
    assert len(dave.rewards) == 12
    assert [u.id for u in fake.users] == [1001, 1002, 1003, 1004]
    assert repr(alice).endswith("rewards=[207 rewards], coupons=[5 coupons])")


def test_the_wire_quirks_are_in_the_data(fake: FakeCrowdTwist) -> None:
    rewards = [r for u in fake.users for r in u.rewards]
    flags = {type(r[k]) for r in rewards for k in ("is_enabled", "no_end_date")}
    assert flags == {int, str}
    assert {type(r["id"]) for r in rewards} == {int, str}
    assert any("sweepstake_winners" in r for r in rewards)
    assert any("sweepstakes_winners" in r for r in rewards)
    capped = [r for r in rewards if r["freq_cap"] is not None]
    assert capped
    assert all(isinstance(r["freq_cap"], str) for r in capped)
    assert all(isinstance(r["freq_period_id"], str) for r in capped)
    assert any(r["date_end"] is None for r in rewards)
    assert any(r["segment"] is not None for r in rewards)
    assert any(r["partner_info"] is not None for r in rewards)
    assert any(r["extra_data"] is not None for r in rewards)
    coupons = [c.record for u in fake.users for c in u.coupons]
    assert any("reward_order_id" in c for c in coupons)
    assert any("redeem_order_id" in c for c in coupons)
    assert any(c["date_to_expire"] is None for c in coupons)


# -- rewards paging, as documented ----------------------------------------------


def test_no_page_is_page_1(fake: FakeCrowdTwist) -> None:
    body = get(fake, ALICE).json()
    assert body["paging"] == {
        "total": 203,
        "pages": 21,
        "next_page": LINK.format(2),
        "prev_page": None,
    }
    assert body["rewards"] == in_stock(fake.users[0])[:10]


def test_a_middle_page(fake: FakeCrowdTwist) -> None:
    body = get(fake, ALICE, page="5").json()
    assert body["paging"] == {
        "total": 203,
        "pages": 21,
        "next_page": LINK.format(6),
        "prev_page": LINK.format(4),
    }
    assert body["rewards"] == in_stock(fake.users[0])[40:50]


def test_the_last_page(fake: FakeCrowdTwist) -> None:
    body = get(fake, ALICE, page="21").json()
    assert body["paging"] == {
        "total": 203,
        "pages": 21,
        "next_page": None,
        "prev_page": LINK.format(20),
    }
    assert body["rewards"] == in_stock(fake.users[0])[200:]
    assert len(body["rewards"]) == 3


@pytest.mark.parametrize("page", ["0", "-1", "-300"])
def test_page_zero_or_less_is_empty_and_links_to_page_1(fake: FakeCrowdTwist, page: str) -> None:
    response = get(fake, ALICE, page=page)
    assert response.status_code == 200
    assert response.json() == {
        "paging": {"total": 203, "pages": 21, "next_page": LINK.format(1), "prev_page": None},
        "rewards": [],
    }


@pytest.mark.parametrize("page", ["22", "23", "99999999999999999999"])
def test_a_page_past_the_end_is_empty_and_links_to_the_last(
    fake: FakeCrowdTwist, page: str
) -> None:
    response = get(fake, ALICE, page=page)
    assert response.status_code == 200
    assert response.json() == {
        "paging": {"total": 203, "pages": 21, "next_page": None, "prev_page": LINK.format(21)},
        "rewards": [],
    }


@pytest.mark.parametrize("page", ["", "abc", "1.5", "2x", "٣", "1e3"])
def test_an_invalid_page_is_page_1(fake: FakeCrowdTwist, page: str) -> None:
    first, invalid = get_many(fake, [(ALICE, {}), (ALICE, {"page": page})])
    assert invalid.content == first.content
    assert [r.page for r in fake.requests] == [1, 1]


def test_page_size_below_the_cap(fake: FakeCrowdTwist) -> None:
    body = get(fake, ALICE, page_size="7", page="2").json()
    assert body["paging"] == {
        "total": 203,
        "pages": 29,
        "next_page": LINK.format(3),
        "prev_page": LINK.format(1),
    }
    assert body["rewards"] == in_stock(fake.users[0])[7:14]


@pytest.mark.parametrize("page_size", [None, "10", "11", "500", "0", "-4", "ten", ""])
def test_page_size_defaults_to_and_is_capped_at_10(
    fake: FakeCrowdTwist, page_size: str | None
) -> None:
    query = {} if page_size is None else {"page_size": page_size}
    body = get_many(fake, [(ALICE, query)])[0].json()
    assert len(body["rewards"]) == 10
    assert (body["paging"]["total"], body["paging"]["pages"]) == (203, 21)


@pytest.mark.parametrize(
    ("include_soldout", "total"),
    [(None, 203), ("true", 207), ("TRUE", 207), ("True", 207), ("false", 203), ("1", 203)],
)
def test_include_soldout(fake: FakeCrowdTwist, include_soldout: str | None, total: int) -> None:
    query = {} if include_soldout is None else {"include_soldout": include_soldout}
    pages = get_many(fake, [(ALICE, {**query, "page": str(n)}) for n in range(1, 22)])
    listed = [r for page in pages for r in page.json()["rewards"]]
    assert pages[0].json()["paging"]["total"] == total
    alice = fake.users[0]
    assert listed == (alice.rewards if total == 207 else in_stock(alice))


def test_sold_out_rewards_are_hidden_unless_asked_for(fake: FakeCrowdTwist) -> None:
    bob = fake.users[1]
    hidden, shown = get_many(
        fake,
        [
            ("/v2.1/users/1002/rewards", {}),
            ("/v2.1/users/1002/rewards", {"include_soldout": "true"}),
        ],
    )
    assert hidden.json()["rewards"] == in_stock(bob)
    assert shown.json()["rewards"] == bob.rewards
    assert sum(r["current_quantity"] == 0 for r in shown.json()["rewards"]) == 3
    assert (hidden.json()["paging"]["total"], shown.json()["paging"]["total"]) == (6, 9)


def test_walking_the_links_reads_every_reward_once(fake: FakeCrowdTwist) -> None:
    pages = get_many(fake, [(ALICE, {"page": str(n)}) for n in range(1, 22)])
    bodies = [page.json() for page in pages]
    assert [r for body in bodies for r in body["rewards"]] == in_stock(fake.users[0])
    for number, body in enumerate(bodies, start=1):
        paging = body["paging"]
        assert paging["next_page"] == (LINK.format(number + 1) if number < 21 else None)
        assert paging["prev_page"] == (LINK.format(number - 1) if number > 1 else None)


# -- authentication -----------------------------------------------------------

INVALID_AUTH = error("invalid_auth", "Invalid access credentials.")


def test_the_key_as_a_query_parameter(fake: FakeCrowdTwist) -> None:
    assert get(fake, ALICE).status_code == 200
    assert fake.requests[0].params == {}


def test_the_key_as_a_header(fake: FakeCrowdTwist) -> None:
    for scheme in ("CTApiKey", "ctapikey"):
        (response,) = get_many(
            fake, [(ALICE, {})], auth=False, headers={"X-CT-Authorization": f"{scheme} {KEY}"}
        )
        assert response.status_code == 200


@pytest.mark.parametrize("path", [ALICE, ALICE_COUPONS])
@pytest.mark.parametrize(
    ("query", "headers"),
    [
        pytest.param({}, {}, id="none"),
        pytest.param({"api_key": "wrong"}, {}, id="wrong-query"),
        pytest.param({"api_key": ""}, {}, id="empty-query"),
        pytest.param({}, {"X-CT-Authorization": "CTApiKey wrong"}, id="wrong-header"),
        pytest.param({}, {"X-CT-Authorization": f"Bearer {KEY}"}, id="wrong-scheme"),
        pytest.param({}, {"X-CT-Authorization": KEY}, id="no-scheme"),
    ],
)
def test_a_missing_or_wrong_key_is_403(
    fake: FakeCrowdTwist, path: str, query: Query, headers: Mapping[str, str]
) -> None:
    (response,) = get_many(fake, [(path, query)], auth=False, headers=headers)
    assert response.status_code == 403
    assert response.json() == INVALID_AUTH
    assert fake.requests[0].params == {k: v for k, v in query.items() if k != "api_key"}


# -- finding users --------------------------------------------------------------

ALICE_IDS = {
    "email": "alice@example.com",
    "facebook_user_id": "100004471900101",
    "twitter_user_id": "1457803300101",
    "id": "1001",
    "third_party_id": "crm-000101",
    "username": "alice",
    "mobile_phone_number": "+12125550101",
}


@pytest.mark.parametrize("id_type", list(ALICE_IDS))
def test_each_id_type_finds_the_user(fake: FakeCrowdTwist, id_type: str) -> None:
    user_id = ALICE_IDS[id_type]
    assert fake.users[0].identifier(id_type) == user_id
    rewards, coupons = get_many(
        fake,
        [
            (f"/v2.1/users/{user_id}/rewards", {"id_type": id_type}),
            (f"/v2/users/{user_id}/usable_coupons", {"id_type": id_type}),
        ],
    )
    assert rewards.json()["paging"]["total"] == 203
    if id_type == "mobile_phone_number":
        # Documented for the rewards endpoint only.
        assert coupons.status_code == 400
        assert coupons.json() == error("param_error", "Param id_type has invalid value.")
    else:
        assert len(coupons.json()) == 3


def test_id_type_defaults_to_the_crowdtwist_id(fake: FakeCrowdTwist) -> None:
    by_id, by_email, empty = get_many(
        fake,
        [(ALICE, {}), (f"/v2.1/users/{SANDBOX_EMAIL}/rewards", {}), (ALICE, {"id_type": ""})],
    )
    assert by_id.status_code == 200
    assert by_email.status_code == 400
    assert empty.content == by_id.content


def test_the_user_id_is_one_percent_decoded_segment(fake: FakeCrowdTwist) -> None:
    fake.add_user(username="a/b c+d")
    encoded, upper = get_many(
        fake,
        [
            ("/v2/users/a%2Fb%20c%2Bd/usable_coupons", {"id_type": "username"}),
            ("/v2.1/users/ALICE%40Example.com/rewards", {"id_type": "email"}),
        ],
    )
    # Found, but has no coupons.
    assert encoded.json()["error"] == "no_activities"
    # Email addresses are matched without regard to case.
    assert upper.status_code == 200


@pytest.mark.parametrize("path", [ALICE, ALICE_COUPONS])
def test_an_unknown_user_is_a_400(fake: FakeCrowdTwist, path: str) -> None:
    response = get(fake, path.replace("1001", "999999"))
    assert response.status_code == 400
    assert response.json() == error("page_not_found", "User does not exist.")


@pytest.mark.parametrize("id_type", ["EMAIL", "phone", "crowdtwist_id"])
def test_an_unknown_id_type_is_a_param_error(fake: FakeCrowdTwist, id_type: str) -> None:
    response = get(fake, ALICE, id_type=id_type)
    assert response.status_code == 400
    assert response.json() == error("param_error", "Param id_type has invalid value.")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v2.1/users/1001",
        "/v2/users/1001/rewards",
        "/v2.1/users/1001/usable_coupons",
        "/v2.1/users//rewards",
        "/v2.1/users/1001/rewards/",
        "/v2/rewards",
        "/v2.1/rewards/",
        "/v2/users/1001//",
        "/v2/coupon/used",
    ],
)
def test_any_other_path_is_a_404(fake: FakeCrowdTwist, path: str) -> None:
    response = get(fake, path)
    assert response.status_code == 404
    assert response.json() == error(
        "page_not_found", "The requested page does not exist or has been removed."
    )


def test_only_get_is_served(fake: FakeCrowdTwist) -> None:
    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=fake.transport()) as client:
            return await client.post(f"{fake.base_url}{ALICE}", params={"api_key": KEY})

    response = anyio.run(post)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["error"] == "input_error"


# -- empty listings -------------------------------------------------------------


def test_a_user_without_rewards_is_no_data(fake: FakeCrowdTwist) -> None:
    response = get(fake, "/v2.1/users/carol/rewards", id_type="username")
    assert response.status_code == 400
    assert response.json() == error("no_data", "There are no rewards available to this client.")


def test_a_user_without_usable_coupons_is_no_activities(fake: FakeCrowdTwist) -> None:
    carol, dave = get_many(
        fake,
        [("/v2/users/1003/usable_coupons", {}), ("/v2/users/1004/usable_coupons", {})],
    )
    for response in (carol, dave):
        assert response.status_code == 400
        assert response.json() == error(
            "no_activities", "There are no rewards available to this user."
        )


# -- usable coupons -------------------------------------------------------------


def test_usable_means_assigned_unused_and_unexpired(fake: FakeCrowdTwist) -> None:
    coupons = fake.users[0].coupons
    now = int(NOW.timestamp())
    assert [(c.used, c.is_expired(now), c.expires_at is None) for c in coupons] == [
        (False, False, False),
        (False, False, False),
        (False, False, True),
        (True, False, False),
        (False, True, False),
    ]
    assert get(fake, ALICE_COUPONS).json() == [c.record for c in coupons[:3]]


@pytest.mark.parametrize(
    ("expired", "listed"),
    [(None, [0, 1, 2]), ("false", [0, 1, 2]), ("true", [0, 1, 2, 4]), ("TRUE", [0, 1, 2, 4])],
)
def test_expired_true_adds_the_expired_unused_coupons(
    fake: FakeCrowdTwist, expired: str | None, listed: list[int]
) -> None:
    query = {} if expired is None else {"expired": expired}
    response = get_many(fake, [(ALICE_COUPONS, query)])[0]
    coupons = fake.users[0].coupons
    assert response.json() == [coupons[i].record for i in listed]


def test_expired_true_for_a_user_with_only_expired_coupons(fake: FakeCrowdTwist) -> None:
    dave = fake.users[3]
    body = get(fake, "/v2/users/1004/usable_coupons", expired="true").json()
    assert body == [c.record for c in dave.coupons[1:]]


def test_coupons_expire_as_the_clock_moves_and_vanish_once_used(fake: FakeCrowdTwist) -> None:
    alice = fake.users[0]
    fake.now = NOW + timedelta(days=365)
    assert get(fake, ALICE_COUPONS).json() == [alice.coupons[2].record]
    alice.coupons[2].used = True
    assert get(fake, ALICE_COUPONS).json()["error"] == "no_activities"


# -- the SDK reads everything the fake serves ---------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_page_and_coupon_list_structures(seed: int) -> None:
    fake = FakeCrowdTwist(seed=seed, now=NOW)

    async def read_everything(users: ct.Users) -> None:
        for member in fake.users:
            for soldout in (False, True):
                first = await users.get_rewards_page(member.id, include_soldout=soldout)
                if first.total == 0:
                    # The fake's "no data" answer, which the SDK reads as an empty page.
                    assert not member.rewards
                    assert (first.pages, first.rewards) == (0, ())
                    continue
                pages = first.pages
                assert pages is not None
                structured = [first] + [
                    await users.get_rewards_page(member.id, page=number, include_soldout=soldout)
                    for number in range(2, pages + 2)
                ]
                got = [reward for page in structured for reward in page.rewards]
                assert [r.id for r in got] == [
                    str(r["id"]) for r in member.rewards if soldout or r["current_quantity"]
                ]
                assert first.prev_page is None
                assert first.next_page == (2 if pages > 1 else None)
                assert (structured[-1].rewards, structured[-1].prev_page) == ((), pages)
            for expired in (False, True):
                coupons = await users.usable_coupons(member.id, expired=expired)
                assert [c.code for c in coupons] == [
                    c.record["code"]
                    for c in member.coupons
                    if not c.used and (expired or not c.is_expired(int(NOW.timestamp())))
                ]

    read(fake, read_everything)


# -- determinism --------------------------------------------------------------------


def everything(fake: FakeCrowdTwist) -> list[bytes]:
    requests: list[tuple[str, Query]] = []
    for member in fake.users:
        requests += [
            (f"/v2.1/users/{member.id}/rewards", {"page": str(n), "include_soldout": "true"})
            for n in range(23)
        ]
        requests += [(f"/v2/users/{member.id}/usable_coupons", {"expired": "true"})]
    return [r.content for r in get_many(fake, requests)]


def test_the_same_seed_serves_the_same_bytes() -> None:
    one, two = FakeCrowdTwist(seed=7, now=NOW), FakeCrowdTwist(seed=7, now=NOW)
    assert everything(one) == everything(two)


def test_another_seed_serves_other_data() -> None:
    assert everything(FakeCrowdTwist(seed=0, now=NOW)) != everything(
        FakeCrowdTwist(seed=1, now=NOW)
    )


def test_now_defaults_to_the_current_time() -> None:
    before = datetime.now(timezone.utc)
    assert before <= FakeCrowdTwist().now <= datetime.now(timezone.utc)


# -- adding data ----------------------------------------------------------------------


def test_add_user_reward_and_coupon(fake: FakeCrowdTwist) -> None:
    erin = fake.add_user(email="erin@example.com", third_party_id="crm-9")
    assert (erin.id, erin.rewards, erin.coupons) == (1005, [], [])
    assert fake.users[-1] is erin
    reward = fake.add_reward(
        erin, title="Free Coffee", num_points=100, date_end=NOW + timedelta(days=7)
    )
    assert (reward["title"], reward["num_points"]) == ("Free Coffee", 100)
    assert reward["date_end"] == int(NOW.timestamp()) + 7 * 86400
    fake.add_reward(erin, current_quantity=0)
    coupon = fake.add_coupon(erin, code="SAVE10", date_to_expire=None)
    fake.add_coupon(erin, used=True)
    fake.add_coupon(erin, date_to_expire=NOW - timedelta(seconds=1))
    assert isinstance(coupon, FakeCoupon)

    rewards, soldout, coupons = get_many(
        fake,
        [
            ("/v2.1/users/crm-9/rewards", {"id_type": "third_party_id"}),
            ("/v2.1/users/1005/rewards", {"include_soldout": "true"}),
            ("/v2/users/erin@example.com/usable_coupons", {"id_type": "email"}),
        ],
    )
    assert rewards.json()["rewards"] == [reward]
    assert soldout.json()["paging"]["total"] == 2
    assert [c["code"] for c in coupons.json()] == ["SAVE10"]
    (coupon_read,) = read(fake, lambda users: users.usable_coupons(1005))
    assert coupon_read.date_to_expire is None


def test_a_field_given_under_one_spelling_replaces_the_other(fake: FakeCrowdTwist) -> None:
    member = fake.users[2]
    # Both spellings at once is allowed, to test a client's precedence.
    reward = fake.add_reward(member, sweepstakes_winners=5, sweepstake_winners=None)
    assert (reward["sweepstakes_winners"], reward["sweepstake_winners"]) == (5, None)
    reward = fake.add_reward(member, sweepstake_winners=7)
    assert "sweepstakes_winners" not in reward
    coupon = fake.add_coupon(member, reward_order_id=1, redeem_order_coupon_id=2)
    assert (coupon.record["reward_order_id"], coupon.record["redeem_order_coupon_id"]) == (1, 2)
    assert "redeem_order_id" not in coupon.record
    assert "reward_order_coupon_id" not in coupon.record
    page = read(fake, lambda users: users.get_rewards_page(1003))
    assert [r.sweepstakes_winners for r in page.rewards] == [5, 7]


def test_adding_refuses_clashing_ids_and_strangers(fake: FakeCrowdTwist) -> None:
    with pytest.raises(ValueError, match="already has email"):
        fake.add_user(email=SANDBOX_EMAIL)
    with pytest.raises(ValueError, match="already has id"):
        fake.add_user(id=1001)
    with pytest.raises(ValueError, match="not one of this fake's users"):
        fake.add_reward(FakeUser(id=5))
    with pytest.raises(ValueError, match="id_type must be one of"):
        fake.users[0].identifier("phone")


def test_the_knobs_are_checked_when_set(fake: FakeCrowdTwist) -> None:
    with pytest.raises(ValueError, match="failure_rate"):
        fake.failure_rate = 1.5
    with pytest.raises(ValueError, match="latency"):
        fake.latency = -0.1
    with pytest.raises(TypeError, match="jitter"):
        fake.jitter = "0.1"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="at least one"):
        fake.failure_statuses = ()
    with pytest.raises(ValueError, match="599"):
        FakeCrowdTwist(failure_statuses=[503, 600])
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeCrowdTwist(now=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="api_key"):
        FakeCrowdTwist(api_key=" ")
    with pytest.raises(ValueError, match="delay"):
        fake.script(delay=float("inf"))
    with pytest.raises(ValueError, match="not both"):
        fake.script(json={}, body=b"x")
    assert (fake.latency, fake.failure_rate, fake.failure_statuses) == (0.0, 0.0, (503,))


# -- faults ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_latency_delays_every_response(fake: FakeCrowdTwist) -> None:
    fake.latency = 0.2
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        started = time.monotonic()
        response = await client.get(f"{fake.base_url}{ALICE}", params={"api_key": KEY})
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert elapsed >= 0.2


def test_jitter_keeps_the_latency_above_its_lower_bound(fake: FakeCrowdTwist) -> None:
    fake.latency, fake.jitter = 0.03, 0.02
    started = time.monotonic()
    get_many(fake, [(ALICE, {})] * 4)
    # Four responses of at least 0.01 s each.
    assert time.monotonic() - started >= 0.04


@pytest.mark.parametrize(
    ("statuses", "code"), [((503,), "internal_error"), ((429,), "too_many_requests")]
)
def test_failure_rate_1_fails_every_request(
    fake: FakeCrowdTwist, statuses: tuple[int, ...], code: str
) -> None:
    fake.failure_rate = 1.0
    fake.failure_statuses = statuses
    fake.retry_after = 2
    responses = get_many(fake, [(ALICE, {}), (ALICE_COUPONS, {}), ("/nowhere", {})])
    for response in responses:
        assert response.status_code == statuses[0]
        assert response.headers["retry-after"] == "2"
        assert response.json()["error"] == code
    assert [r.status for r in fake.requests] == [statuses[0]] * 3


def test_failures_are_drawn_from_the_seeded_rng() -> None:
    def statuses(seed: int) -> list[int]:
        fake = FakeCrowdTwist(
            seed=seed, now=NOW, failure_rate=0.5, failure_statuses=(500, 502, 503)
        )
        return [r.status_code for r in get_many(fake, [(ALICE, {})] * 40)]

    drawn = statuses(3)
    assert drawn == statuses(3)
    assert drawn != statuses(4)
    assert {200, 500, 502, 503} == set(drawn)
    # The failure draws do not disturb the data.
    assert everything(FakeCrowdTwist(seed=3, now=NOW, failure_rate=0.0)) == everything(
        FakeCrowdTwist(seed=3, now=NOW)
    )


def test_without_retry_after_no_header_is_sent(fake: FakeCrowdTwist) -> None:
    fake.failure_rate = 1.0
    response = get(fake, ALICE)
    assert response.status_code == 503
    assert "retry-after" not in response.headers


def test_scripted_responses_are_served_once_each_in_order(fake: FakeCrowdTwist) -> None:
    html = b"<html><body>502 Bad Gateway</body></html>"
    fake.script(502, body=html, headers={"Content-Type": "text/html", "Content-Length": "1"})
    fake.script(429, json={"error": "slow_down"}, headers={"Retry-After": "1"})
    fake.script(200, body="not json")
    gateway, limited, garbled, real = get_many(fake, [(ALICE, {})] * 4)
    assert (gateway.status_code, gateway.content) == (502, html)
    assert gateway.headers["content-type"] == "text/html"
    assert gateway.headers["content-length"] == str(len(html))
    assert (limited.status_code, limited.json()) == (429, {"error": "slow_down"})
    assert limited.headers["retry-after"] == "1"
    assert (garbled.status_code, garbled.content) == (200, b"not json")
    assert real.json()["paging"]["total"] == 203
    assert [r.status for r in fake.requests] == [502, 429, 200, 200]


def test_a_scripted_response_waits_for_the_request_it_matches(fake: FakeCrowdTwist) -> None:
    fake.script(500, page=3)
    fake.script(504, path="*/usable_coupons")
    fake.script(418, when=lambda request: request.params.get("id_type") == "username")
    responses = get_many(
        fake,
        [
            (ALICE, {"page": "1"}),
            (ALICE, {"page": "3"}),
            (ALICE, {"page": "3"}),
            ("/v2.1/users/alice/rewards", {"id_type": "username"}),
            (ALICE_COUPONS, {}),
            (ALICE_COUPONS, {}),
        ],
    )
    assert [r.status_code for r in responses] == [200, 500, 200, 418, 504, 200]


def test_a_scripted_response_may_bypass_authentication(fake: FakeCrowdTwist) -> None:
    fake.script(200, json=[])
    (response,) = get_many(fake, [(ALICE_COUPONS, {})], auth=False)
    assert (response.status_code, response.json()) == (200, [])


@pytest.mark.anyio
async def test_a_scripted_delay_replaces_the_latency(fake: FakeCrowdTwist) -> None:
    fake.latency = 5.0
    fake.script(200, json=[], delay=0.0)
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        with anyio.fail_after(2):
            response = await client.get(f"{fake.base_url}{ALICE}")
    assert response.json() == []


# -- recording ---------------------------------------------------------------------------


def test_requests_are_recorded_without_the_key(fake: FakeCrowdTwist) -> None:
    get_many(
        fake,
        [
            (ALICE, {"page": "2", "page_size": "5"}),
            (f"/v2.1/users/{SANDBOX_EMAIL}/rewards", {"id_type": "email", "page": "x"}),
            (ALICE_COUPONS, {"expired": "true"}),
        ],
    )
    assert fake.requests == [
        RecordedRequest(
            method="GET", path=ALICE, params={"page": "2", "page_size": "5"}, page=2, status=200
        ),
        RecordedRequest(
            method="GET",
            path=f"/v2.1/users/{SANDBOX_EMAIL}/rewards",
            params={"id_type": "email", "page": "x"},
            page=1,
            status=200,
        ),
        RecordedRequest(
            method="GET", path=ALICE_COUPONS, params={"expired": "true"}, page=None, status=200
        ),
    ]
    assert all(KEY not in repr(r) for r in fake.requests)


@pytest.mark.anyio
async def test_requests_in_flight_are_counted(fake: FakeCrowdTwist) -> None:
    fake.latency = 0.1
    async with httpx.AsyncClient(transport=fake.transport()) as client:

        async def one() -> None:
            await client.get(f"{fake.base_url}{ALICE}", params={"api_key": KEY})

        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(one)
            with anyio.fail_after(2):
                while fake.in_flight < 5:
                    await anyio.sleep(0.005)
    assert (fake.in_flight, fake.max_in_flight, len(fake.requests)) == (0, 5, 5)


# -- the three ways in ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_session_reads_alices_whole_listing_in_process(fake: FakeCrowdTwist) -> None:
    fake.latency = 0.002
    session = ct.Session(
        api_key=fake.api_key,
        base_url=fake.base_url,
        transport=fake.transport(),
        max_concurrency=3,
    )
    async with session:
        rewards = [r async for r in session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")]
        coupons = await session.users.usable_coupons(SANDBOX_EMAIL, id_type="email")
        empty = await session.users.get_rewards_page(1003)
    assert [r.id for r in rewards] == [str(r["id"]) for r in in_stock(fake.users[0])]
    assert len(rewards) == 203
    assert [c.code for c in coupons] == [c.record["code"] for c in fake.users[0].coupons[:3]]
    assert (empty.total, empty.rewards) == (0, ())
    pages = [r.page for r in fake.requests if r.path == f"/v2.1/users/{SANDBOX_EMAIL}/rewards"]
    assert sorted(filter(None, pages)) == list(range(1, 22))
    assert fake.max_in_flight == 3


@pytest.mark.anyio
async def test_a_session_sees_injected_failures(fake: FakeCrowdTwist) -> None:
    fake.script(
        503, json={"error": "internal_error", "message": "down"}, headers={"Retry-After": "0"}
    )
    fake.failure_rate, fake.failure_statuses = 1.0, (500,)
    session = ct.Session(
        api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport(), max_retries=1
    )
    async with session:
        with pytest.raises(ct.ServerError) as info:
            await session.users.get_rewards_page(1001)
    assert info.value.status_code == 500
    assert [r.status for r in fake.requests] == [503, 500]


@pytest.mark.anyio
async def test_the_fake_is_an_asgi_app(fake: FakeCrowdTwist) -> None:
    transport = httpx.ASGITransport(app=fake)
    async with httpx.AsyncClient(transport=transport, base_url="http://fake") as client:
        page = await client.get(
            "/v2.1/users/alice%40example.com/rewards",
            params={"id_type": "email", "page": "21", "api_key": KEY},
        )
        missing = await client.get("/v3/anything")
    assert page.json()["paging"] == {
        "total": 203,
        "pages": 21,
        "next_page": None,
        "prev_page": LINK.format(20),
    }
    assert page.headers["content-length"] == str(len(page.content))
    assert missing.status_code == 404
    session = ct.Session(
        api_key=KEY, base_url="https://fake.test", transport=httpx.ASGITransport(app=fake)
    )
    async with session:
        coupons = await session.users.usable_coupons(1001, expired=True)
    assert len(coupons) == 4


@pytest.mark.anyio
async def test_the_asgi_app_acknowledges_lifespan_events(fake: FakeCrowdTwist) -> None:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await fake({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    with pytest.raises(ValueError, match="HTTP only"):
        await fake({"type": "websocket"}, receive, send)


@pytest.mark.anyio
async def test_serve_runs_on_a_loopback_port(fake: FakeCrowdTwist) -> None:
    with fake.serve(port=0) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        assert int(base_url.rsplit(":", 1)[1]) > 0
        async with ct.Session(api_key=fake.api_key, base_url=base_url, auth="header") as session:
            rewards = [r async for r in session.users.aiter_rewards(1002, include_soldout=True)]
    assert len(rewards) == 9
    assert fake.requests[0].path == "/v2.1/users/1002/rewards"
    with pytest.raises(httpx.ConnectError):  # stopped
        async with httpx.AsyncClient(trust_env=False) as client:
            await client.get(base_url)


def test_serve_refuses_a_non_loopback_host(fake: FakeCrowdTwist) -> None:
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "127.evil.example"):
        with pytest.raises(ValueError, match="allow_remote"), fake.serve(host=host):
            pass


def test_serve_without_uvicorn_says_what_to_install(
    fake: FakeCrowdTwist, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(ImportError, match=r'pip install "crowdtwist-async\[serve\]"'), fake.serve():
        pass


def test_the_command_refuses_a_non_loopback_host(capsys: pytest.CaptureFixture[str]) -> None:
    from crowdtwist_async.testing.__main__ import main

    with pytest.raises(SystemExit) as info:
        main(["serve", "--host", "0.0.0.0", "--port", "0"])
    assert info.value.code == 2
    assert "--allow-remote" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def command() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes to terminate after the test, whatever happens in it."""
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


@pytest.mark.slow
def test_the_serve_command(command: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "crowdtwist_async.testing", "serve", "--port", str(port)),
            *("--seed", "0", "--api-key", KEY, "--latency", "0.001", "--failure-rate", "0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    command.append(process)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    with httpx.Client(base_url=base_url, trust_env=False, timeout=2) as client:
        while True:
            try:
                response = client.get(ALICE, params={"api_key": KEY, "page": "21"})
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the command did not start serving"
                time.sleep(0.05)
    assert response.status_code == 200
    assert len(response.json()["rewards"]) == 3
    process.terminate()
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert f"base URL: {base_url}" in out
    assert f"API key:  {KEY}" in out
    assert SANDBOX_EMAIL in out


# -- the public surface ----------------------------------------------------------------------


def test_the_public_surface() -> None:
    assert testing.__all__ == sorted(testing.__all__, key=lambda n: (not n.isupper(), n))
    public = {n for n in dir(testing) if not n.startswith("_")}
    assert set(testing.__all__) == public
    for name in testing.__all__:
        value = getattr(testing, name)
        if isinstance(value, type):
            assert value.__doc__, name
    for method in ("add_user", "add_reward", "add_coupon", "script", "transport", "serve"):
        assert getattr(FakeCrowdTwist, method).__doc__, method
