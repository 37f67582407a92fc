"""`FakeCrowdTwist.lie()`: pages that lie about their paging and their items,
on both paginated endpoints, through every adapter; and `cancelled`.

Most tests speak HTTP to the fake through its transport from a plain function
(`get`); the ones about cancellation, ASGI, the served port and the SDK run on
asyncio and trio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import anyio
import httpx
import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist, PagingLies

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
KEY = "test-key-7f3a"
REWARDS = "/v2.1/users/1001/rewards"
HISTORY = "/v2.2/users/1001/redemption_history"
COUPONS = "/v2/users/1001/usable_coupons"
LINK = "https://api[client_id].ct.com/v2.1/rewards?page={}&api_key="
HISTORY_LINK = "https://api[client_id].ct.com/v2.2/redemption_history?page={}&api_key="


@pytest.fixture
def fake() -> FakeCrowdTwist:
    # alice (1001): 203 rewards on offer, 21 pages of 10; 37 redemptions, 4 pages.
    return FakeCrowdTwist(seed=0, now=NOW, api_key=KEY)


def get_many(fake: FakeCrowdTwist, requests: list[tuple[str, Mapping[str, str]]]) -> list[Any]:
    """The JSON bodies of GET each (path, query) through the fake's transport, in turn."""

    async def run() -> list[Any]:
        async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
            bodies = []
            for path, query in requests:
                response = await client.get(path, params={"api_key": KEY, **query})
                bodies.append(response.json())
            return bodies

    return anyio.run(run)


def get(fake: FakeCrowdTwist, path: str, **query: str) -> Any:
    return get_many(fake, [(path, query)])[0]


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [str(record["id"]) for record in records]


# -- each lie -----------------------------------------------------------------------


def test_each_lie_replaces_its_field_and_nothing_else(fake: FakeCrowdTwist) -> None:
    truth = get(fake, REWARDS, page="2")
    fake.lie(total=lambda page, total: 10**9)
    fake.lie(pages=lambda page, pages: "many")
    fake.lie(next_page=lambda page, link: None)
    fake.lie(prev_page=lambda page, link: "https://evil.example.net/?page=7")
    fake.lie(items=lambda page, records: records[:3])
    lied = get(fake, REWARDS, page="2")
    assert lied == {
        "paging": {
            "total": 10**9,
            "pages": "many",
            "next_page": None,
            "prev_page": "https://evil.example.net/?page=7",
        },
        "rewards": truth["rewards"][:3],
    }
    assert truth["paging"] == {
        "total": 203,
        "pages": 21,
        "next_page": LINK.format(3),
        "prev_page": LINK.format(1),
    }


def test_a_lie_is_given_the_page_number_and_the_truth(fake: FakeCrowdTwist) -> None:
    seen: list[tuple[str, int, object]] = []

    def spy(name: str) -> Any:
        def lie(page: int, truth: Any) -> Any:
            seen.append((name, page, truth if name != "items" else ids(truth)))
            return truth

        return lie

    fake.lie(**{name: spy(name) for name in ("total", "pages", "next_page", "prev_page", "items")})
    alice = fake.users[0]
    bodies = get_many(fake, [(REWARDS, {"page": "21"}), (REWARDS, {"page": "x"})])
    assert seen == [
        ("total", 21, 203),
        ("pages", 21, 21),
        ("next_page", 21, None),
        ("prev_page", 21, LINK.format(20)),
        ("items", 21, ids([r for r in alice.rewards if r["current_quantity"] != 0][200:])),
        # A page that is not a number is page 1, to the lies as to the API.
        ("total", 1, 203),
        ("pages", 1, 21),
        ("next_page", 1, LINK.format(2)),
        ("prev_page", 1, None),
        ("items", 1, ids(bodies[1]["rewards"])),
    ]
    # Lies that return the truth change nothing.
    fake.lies.clear()
    assert get_many(fake, [(REWARDS, {"page": "21"}), (REWARDS, {"page": "x"})]) == bodies


def test_lies_depend_on_the_page(fake: FakeCrowdTwist) -> None:
    fake.lie(
        total=lambda page, total: total if page == 1 else total + 1,
        items=lambda page, records: [] if page == 3 else records,
    )
    one, two, three = get_many(fake, [(REWARDS, {"page": str(n)}) for n in (1, 2, 3)])
    assert [one["paging"]["total"], two["paging"]["total"], three["paging"]["total"]] == [
        203,
        204,
        204,
    ]
    assert (len(one["rewards"]), len(two["rewards"]), three["rewards"]) == (10, 10, [])


def test_items_may_be_anything_json(fake: FakeCrowdTwist) -> None:
    fake.lie(items=lambda page, records: None if page == 2 else {"oops": len(records)})
    one, two = get_many(fake, [(REWARDS, {}), (REWARDS, {"page": "2"})])
    assert (one["rewards"], two["rewards"]) == ({"oops": 10}, None)


def test_a_page_size_lie_cuts_and_counts_the_pages(fake: FakeCrowdTwist) -> None:
    sizes: list[tuple[int, int]] = []

    def by_15(page: int, size: int) -> int:
        sizes.append((page, size))
        return 15

    fake.lie(page_size=by_15, total=lambda page, total: total)
    first, last = get_many(fake, [(REWARDS, {}), (REWARDS, {"page": "14", "page_size": "5"})])
    everything = get_many(fake, [(REWARDS, {"page": "1", "page_size": "10"})])[0]["rewards"]
    assert sizes == [(1, 10), (14, 5), (1, 10)]
    assert first["paging"] == {
        "total": 203,
        "pages": 14,
        "next_page": LINK.format(2),
        "prev_page": None,
    }
    assert len(first["rewards"]) == 15
    assert ids(everything) == ids(first["rewards"])
    assert last["paging"]["next_page"] is None
    assert len(last["rewards"]) == 203 - 13 * 15


@pytest.mark.parametrize("size", [0, -1, 2.5, True, "10"])
def test_a_page_size_lie_must_give_a_whole_size(fake: FakeCrowdTwist, size: object) -> None:
    fake.lie(page_size=lambda page, truth: size)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match=r"^a page_size lie must give an int >= 1, got "):
        get(fake, REWARDS)


# -- which requests they apply to ----------------------------------------------------


def test_lies_apply_to_the_redemption_history_too(fake: FakeCrowdTwist) -> None:
    truth = get(fake, HISTORY, page="2")
    fake.lie(pages=lambda page, pages: pages * 2, items=lambda page, records: records[::-1])
    lied = get(fake, HISTORY, page="2")
    assert truth["paging"] == {
        "total": 37,
        "pages": 4,
        "next_page": HISTORY_LINK.format(3),
        "prev_page": HISTORY_LINK.format(1),
    }
    assert lied == {
        "paging": {**truth["paging"], "pages": 8},
        "redemptions": truth["redemptions"][::-1],
    }


def test_a_path_pattern_limits_the_lies_to_its_endpoint(fake: FakeCrowdTwist) -> None:
    fake.lie(path="/v2.1/*", total=lambda page, total: -1)
    fake.lie(path="*/redemption_history", total=lambda page, total: -2)
    fake.lie(path="/v2.1/users/1002/*", total=lambda page, total: -3)
    rewards, history, coupons = get_many(fake, [(REWARDS, {}), (HISTORY, {}), (COUPONS, {})])
    assert (rewards["paging"]["total"], history["paging"]["total"]) == (-1, -2)
    assert len(coupons) == 3  # not a page: no paging to lie about


def test_lies_apply_in_order_each_to_what_the_last_made(fake: FakeCrowdTwist) -> None:
    first = fake.lie(total=lambda page, total: total * 10, items=lambda page, records: records[:4])
    second = fake.lie(total=lambda page, total: total + 1, items=lambda page, records: records[1:])
    assert fake.lies == [first, second]
    body = get(fake, REWARDS)
    assert body["paging"]["total"] == 2031
    assert len(body["rewards"]) == 3
    fake.lies.remove(first)
    assert get(fake, REWARDS)["paging"]["total"] == 204
    fake.lies.clear()
    assert get(fake, REWARDS)["paging"]["total"] == 203


def test_errors_and_scripted_responses_tell_the_truth(fake: FakeCrowdTwist) -> None:
    fake.lie(total=lambda page, total: 0, items=lambda page, records: [])
    fake.script(json={"paging": {"total": 5}, "rewards": [{"id": "9"}]}, page=2)
    carol = "/v2.1/users/1003/rewards"  # carol has no rewards
    scripted, missing, empty = get_many(
        fake, [(REWARDS, {"page": "2"}), ("/v2.1/users/999/rewards", {}), (carol, {})]
    )
    assert scripted == {"paging": {"total": 5}, "rewards": [{"id": "9"}]}
    assert missing == {"error": "page_not_found", "message": "User does not exist."}
    assert empty == {
        "error": "no_data",
        "message": "There are no rewards available to this client.",
    }


def test_a_lie_is_a_frozen_value_checked_when_made() -> None:
    lies = PagingLies(total=lambda page, total: 1)
    with pytest.raises(AttributeError):
        lies.total = None  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"^total must be a function of \(page, truth\) or None"):
        PagingLies(total=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^path must be an fnmatch pattern"):
        PagingLies(path=b"/v2.1/*")  # type: ignore[arg-type]
    assert (lies.matches("/anything"), PagingLies(path="/v2.1/*").matches(HISTORY)) == (True, False)


# -- delay and cancellation ------------------------------------------------------------


@pytest.mark.anyio
async def test_a_delay_lie_holds_a_page_until_the_client_gives_up(fake: FakeCrowdTwist) -> None:
    latencies: list[tuple[int, float]] = []

    def hold_page_2(page: int, latency: float) -> float:
        latencies.append((page, latency))
        return math.inf if page == 2 else latency

    fake.latency = 0.001
    fake.lie(delay=hold_page_2)
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
        first = await client.get(REWARDS, params={"api_key": KEY})
        with anyio.move_on_after(0.05) as scope:
            await client.get(REWARDS, params={"api_key": KEY, "page": "2"})
        third = await client.get(REWARDS, params={"api_key": KEY, "page": "3"})
        coupons = await client.get(COUPONS, params={"api_key": KEY})
    assert scope.cancelled_caught
    assert (first.status_code, third.status_code, coupons.status_code) == (200, 200, 200)
    # Only pages are delayed, each given the latency it would have waited.
    assert latencies == [(1, 0.001), (2, 0.001), (3, 0.001)]
    assert [(r.page, r.status) for r in fake.requests] == [(1, 200), (3, 200), (None, 200)]
    assert [(r.path, r.page, r.status) for r in fake.cancelled] == [(REWARDS, 2, None)]
    assert fake.in_flight == 0


@pytest.mark.anyio
async def test_a_scripted_delay_wins_over_a_delay_lie(fake: FakeCrowdTwist) -> None:
    fake.lie(delay=lambda page, latency: math.inf)
    fake.script(503, delay=0, page=1)
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
        response = await client.get(REWARDS, params={"api_key": KEY})
    assert response.status_code == 503
    assert fake.cancelled == []


@pytest.mark.parametrize("seconds", [-1, math.nan, "1"])
def test_a_delay_lie_must_give_seconds(fake: FakeCrowdTwist, seconds: object) -> None:
    fake.lie(delay=lambda page, latency: seconds)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match=r"^a delay lie must give seconds >= 0"):
        get(fake, REWARDS)
    assert fake.in_flight == 0


# -- every adapter, and the SDK -----------------------------------------------------------


@pytest.mark.anyio
async def test_lies_are_told_through_asgi_and_the_served_port(fake: FakeCrowdTwist) -> None:
    fake.lie(pages=lambda page, pages: None, next_page=lambda page, link: None)
    asgi = httpx.ASGITransport(app=fake)
    async with httpx.AsyncClient(transport=asgi, base_url="http://fake") as client:
        over_asgi = (await client.get(REWARDS, params={"api_key": KEY})).json()
    with fake.serve() as base_url:
        async with httpx.AsyncClient(base_url=base_url, trust_env=False) as client:
            served = (await client.get(REWARDS, params={"api_key": KEY})).json()
    assert over_asgi == served
    assert served["paging"] == {"total": 203, "pages": None, "next_page": None, "prev_page": None}


@pytest.mark.anyio
async def test_the_sdk_reads_a_listing_whose_pages_lie(fake: FakeCrowdTwist) -> None:
    # No page count: the SDK follows the links, one page at a time; page 3
    # says there is no next page, 30 rewards short of its total.
    fake.lie(
        pages=lambda page, pages: None,
        next_page=lambda page, link: link if page < 3 else None,
    )
    session = ct.Session(api_key=KEY, base_url=fake.base_url, transport=fake.transport())
    async with session:
        listing = session.users.aiter_rewards(1001, max_concurrency=4)
        got: list[str] = []
        with pytest.raises(ct.IncompleteListingError) as info:
            async for reward in listing:
                got.append(reward.id)
    expected = [str(r["id"]) for r in fake.users[0].rewards if r["current_quantity"] != 0][:30]
    assert got == expected
    assert (info.value.page, info.value.expected_total, info.value.seen) == (3, 203, 30)
    assert [r.page for r in fake.requests] == [1, 2, 3]
    assert fake.max_in_flight == 1
