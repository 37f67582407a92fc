"""The page walker: order, bounds, endings, errors and cancellation, on asyncio and trio."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

import crowdtwist_async as ct

from .conftest import API_KEY, SessionFactory
from .fakeapi import FakeRewardsAPI, make_reward

pytestmark = pytest.mark.anyio


async def collect_ids(session: ct.Session, **kwargs: Any) -> list[str]:
    return [r.id async for r in session.users.aiter_rewards("alice@example.com", **kwargs)]


def expected_ids(n: int) -> list[str]:
    return [str(i) for i in range(1, n + 1)]


async def test_every_reward_once_in_order(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 95
    async with make_session() as session:
        ids = await collect_ids(session, page_size=10)
    assert ids == expected_ids(95)
    assert sorted(api.pages_requested) == list(range(1, 11))


async def test_page_one_is_fetched_alone_first(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 50
    api.delay = 0.01
    starts_during_page_one: list[int] = []

    async def hook(page: int) -> None:
        if page == 1:
            starts_during_page_one.append(len(api.pages_requested))
        return

    api.hook = hook
    async with make_session() as session:
        ids = await collect_ids(session, max_concurrency=4)
    assert ids == expected_ids(50)
    assert api.pages_requested[0] == 1
    # When page 1 answered, it was the only page ever asked for.
    assert starts_during_page_one == [1]


@pytest.mark.parametrize("concurrency", [1, 3, 8])
async def test_in_flight_is_bounded_by_the_iteration(
    api: FakeRewardsAPI, make_session: SessionFactory, concurrency: int
) -> None:
    api.total = 200
    api.delay = 0.01
    async with make_session(max_concurrency=16) as session:
        ids = await collect_ids(session, max_concurrency=concurrency)
    assert ids == expected_ids(200)
    assert api.max_in_flight == concurrency
    assert sorted(api.pages_requested) == list(range(1, 21))


async def test_in_flight_is_bounded_by_the_session_across_iterations(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 200
    api.delay = 0.01
    results: dict[int, list[str]] = {}
    async with make_session(max_concurrency=5) as session:

        async def read(slot: int) -> None:
            results[slot] = await collect_ids(session, max_concurrency=4)

        async with anyio.create_task_group() as tg:
            for slot in range(4):
                tg.start_soon(read, slot)
    assert all(ids == expected_ids(200) for ids in results.values())
    assert api.max_in_flight == 5
    assert len(api.pages_requested) == 4 * 20


async def test_a_slow_consumer_holds_back_fetching(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 300
    seen_pages = 0
    async with make_session() as session:
        async for page in session.users.aiter_reward_pages("bob", max_concurrency=3):
            seen_pages += 1
            # Give the walker every chance to run ahead of us.
            for _ in range(20):
                await anyio.lowlevel.checkpoint()
            assert len(api.pages_requested) <= seen_pages + 2 * 3
            assert page.number == seen_pages
    assert seen_pages == 30
    assert sorted(api.pages_requested) == list(range(1, 31))


async def test_an_abandoned_listing_stops_fetching(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 10_000
    async with make_session() as session:
        rewards = session.users.aiter_rewards("bob", max_concurrency=4)
        first = await rewards.__anext__()
        for _ in range(50):
            await anyio.lowlevel.checkpoint()
        # The listing has 1000 pages; no more than the look-ahead was asked for.
        assert first.id == "1"
        assert len(api.pages_requested) <= 1 + 2 * 4
        await rewards.aclose()


async def test_hostile_pages_count_ends_at_first_empty_page(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 30
    api.pages_field = lambda _page: 10**9
    async with make_session() as session:
        ids = await collect_ids(session, max_concurrency=4)
    assert ids == expected_ids(30)
    # Page 4 is empty; the walker never ran past the window after it.
    assert 4 in api.pages_requested
    assert len(api.pages_requested) == len(set(api.pages_requested))
    assert max(api.pages_requested) <= 4 + 2 * 4


@pytest.mark.parametrize(
    "pages_value",
    [
        pytest.param(None, id="null"),
        pytest.param(0, id="zero"),
        pytest.param(-3, id="negative"),
        pytest.param("many", id="non-numeric"),
    ],
)
async def test_unusable_pages_falls_back_to_next_page_links(
    api: FakeRewardsAPI, make_session: SessionFactory, pages_value: object
) -> None:
    api.total = 45
    api.delay = 0.005
    api.pages_field = lambda _page: pages_value
    async with make_session() as session:
        ids = await collect_ids(session, max_concurrency=8)
    assert ids == expected_ids(45)
    # One page at a time, in link order; the last page has no next link.
    assert api.pages_requested == [1, 2, 3, 4, 5]
    assert api.max_in_flight == 1


async def test_links_to_a_foreign_host_are_never_requested(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 25
    api.pages_field = lambda _page: None
    api.link_host = "https://evil.example.net"
    async with make_session() as session:
        ids = await collect_ids(session)
    assert ids == expected_ids(25)
    assert {r.url.host for r in api.requests} == {"api123.crowdtwist.com"}
    assert all(r.url.path == "/v2.1/users/alice@example.com/rewards" for r in api.requests)
    assert all(r.url.params["api_key"] == API_KEY for r in api.requests)


@pytest.mark.parametrize(
    "link_target",
    [pytest.param(0, id="to-itself"), pytest.param(-1, id="to-the-previous-page")],
)
async def test_a_next_page_loop_ends_the_listing(
    api: FakeRewardsAPI, make_session: SessionFactory, link_target: int
) -> None:
    api.total = 50
    api.pages_field = lambda _page: None
    api.next_link = lambda page: (
        f"https://x/v2.1/rewards?page={page + 1}"
        if page < 3
        else f"https://x/?page={page + link_target}"
    )
    async with make_session() as session:
        ids = await collect_ids(session)
    assert ids == expected_ids(30)
    assert api.pages_requested == [1, 2, 3]


async def test_links_can_skip_pages(api: FakeRewardsAPI, make_session: SessionFactory) -> None:
    api.total = 50
    api.pages_field = lambda _page: None
    api.next_link = lambda page: {1: "?page=3", 3: "?page=5"}.get(page)
    async with make_session() as session:
        ids = await collect_ids(session)
    assert ids == expected_ids(10) + [str(i) for i in range(21, 31)] + expected_ids(50)[40:]
    assert api.pages_requested == [1, 3, 5]


async def test_a_reward_seen_twice_is_yielded_once(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    # A reward was added before page 2 was read, so reward 10 shifts onto
    # page 2 and every later page starts one earlier.
    api.total = 31

    def shifted(page: int, size: int) -> list[dict[str, Any]]:
        first = 1 if page == 1 else (page - 1) * size
        return [make_reward(i) for i in range(first, min(first + size, 31))]

    api.rewards_for = shifted
    async with make_session() as session:
        ids = await collect_ids(session)
        pages = [[r.id for r in p.rewards] async for p in session.users.aiter_reward_pages("alice")]
    assert ids == expected_ids(30)
    # The page view shows the server's pages as they were sent.
    assert pages[1][0] == "10"


async def test_listing_grows_while_read(api: FakeRewardsAPI, make_session: SessionFactory) -> None:
    api.total = 20
    # Page 2 reports a third page that did not exist when page 1 was read.
    api.pages_field = lambda page: 2 if page == 1 else 3
    api.rewards_for = lambda page, size: [
        make_reward(i) for i in range(page * 10 - 9, page * 10 + 1)
    ]
    async with make_session() as session:
        ids = await collect_ids(session, max_concurrency=1)
    assert ids == expected_ids(30)
    assert api.pages_requested == [1, 2, 3]


async def test_empty_listing_yields_nothing(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 0
    async with make_session() as session:
        assert await collect_ids(session) == []
        assert [p async for p in session.users.aiter_reward_pages("alice")] == []
    assert api.pages_requested == [1, 1]


async def test_no_data_error_is_an_empty_listing(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    async def no_data(page: int) -> httpx.Response:
        body = {"error": "no_data", "message": "There are no rewards available to this client."}
        return httpx.Response(400, json=body)

    api.hook = no_data
    async with make_session() as session:
        assert await collect_ids(session) == []
        page = await session.users.get_rewards_page("alice", page=1)
    assert (page.total, page.pages, page.rewards) == (0, 0, ())
    assert api.pages_requested == [1, 1]


async def test_docs_sample_shape_is_a_one_reward_page(
    make_session: SessionFactory, api: FakeRewardsAPI
) -> None:
    from .fakeapi import DOCS_REWARDS_SAMPLE

    async def sample(page: int) -> httpx.Response:
        if page == 1:
            return httpx.Response(200, json=DOCS_REWARDS_SAMPLE)
        # Past the real end the API answers an empty page.
        return httpx.Response(200, json={"paging": {"total": 133, "pages": 14}, "rewards": []})

    api.hook = sample
    async with make_session() as session:
        rewards = [r async for r in session.users.aiter_rewards("test@test.com", id_type="email")]
    assert [r.id for r in rewards] == ["541043"]
    assert rewards[0].is_min_age_required is False
    # The sample claims 14 pages; page 2 came back empty, which ended it.
    assert api.pages_requested[0] == 1
    assert 2 in api.pages_requested
    assert len(set(api.pages_requested)) == len(api.pages_requested)


async def test_error_is_raised_after_the_pages_before_it(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 100

    async def fail_page_4(page: int) -> httpx.Response | None:
        if page == 4:
            return httpx.Response(404, json={"error": "page_not_found", "message": "gone"})
        return None

    api.hook = fail_page_4
    got: list[str] = []
    async with make_session() as session:
        with pytest.raises(ct.NotFoundError) as info:
            async for reward in session.users.aiter_rewards("alice", max_concurrency=4):
                got.append(reward.id)
    assert got == expected_ids(30)
    assert (info.value.status_code, info.value.error, info.value.message) == (
        404,
        "page_not_found",
        "gone",
    )
    assert api.pages_requested.count(4) == 1


async def test_a_failed_page_is_retried_without_restarting(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 50
    failures = {3: 2}

    async def flaky(page: int) -> httpx.Response | None:
        if failures.get(page, 0) > 0:
            failures[page] -= 1
            return httpx.Response(503, headers={"Retry-After": "0"}, text="busy")
        return None

    api.hook = flaky
    async with make_session(max_retries=2) as session:
        ids = await collect_ids(session)
    assert ids == expected_ids(50)
    assert sorted(api.pages_requested) == [1, 2, 3, 3, 3, 4, 5]


async def test_retries_exhausted_raise_after_earlier_pages(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 50

    async def down(page: int) -> httpx.Response | None:
        if page == 2:
            return httpx.Response(503, headers={"Retry-After": "0"}, text="<html>busy</html>")
        return None

    api.hook = down
    got: list[str] = []
    async with make_session(max_retries=1) as session:
        with pytest.raises(ct.ServerError) as info:
            async for reward in session.users.aiter_rewards("alice"):
                got.append(reward.id)
    assert got == expected_ids(10)
    assert info.value.status_code == 503
    assert info.value.error is None
    assert api.pages_requested.count(2) == 2


class Blocker:
    """Answers page 1 at once and holds every other page until cancelled."""

    def __init__(self, api: FakeRewardsAPI) -> None:
        self.api = api
        api.total = 500

    async def __call__(self, page: int) -> None:
        if page > 1:
            await anyio.sleep_forever()


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll *condition* until it holds; fail after 5 s rather than hang."""
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.001)


async def settle(api: FakeRewardsAPI) -> None:
    """Let cancellations land."""
    await wait_until(lambda: api.in_flight == 0)


async def test_break_stops_every_request(api: FakeRewardsAPI, make_session: SessionFactory) -> None:
    api.hook = Blocker(api)
    async with make_session() as session:
        async for _reward in session.users.aiter_rewards("alice", max_concurrency=4):
            await wait_until(lambda: api.in_flight == 4)
            break
        gc.collect()
        await settle(api)
        assert api.in_flight == 0
        assert api.cancelled == 4
        # The session still works after an abandoned listing.
        page = await session.users.get_rewards_page("alice", page=1)
    assert len(page.rewards) == 10


async def test_cancelling_the_consumer_stops_every_request(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.hook = Blocker(api)
    got: list[str] = []
    async with make_session() as session:
        with anyio.move_on_after(0.05) as scope:
            async for reward in session.users.aiter_rewards("alice", max_concurrency=3):
                got.append(reward.id)
        assert scope.cancelled_caught
        await settle(api)
    assert got == expected_ids(10)
    assert api.cancelled == 3


async def test_exception_in_the_consumer_stops_every_request(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.hook = Blocker(api)
    async with make_session() as session:
        with pytest.raises(ZeroDivisionError):
            async for _reward in session.users.aiter_rewards("alice"):
                await wait_until(lambda: api.in_flight == 4)
                _ = 1 / 0
        gc.collect()
        await settle(api)
    assert api.cancelled == 4


async def test_leaving_the_session_stops_a_listing_read_elsewhere(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.hook = Blocker(api)
    errors: list[BaseException] = []
    got: list[str] = []
    reader_waiting = anyio.Event()

    async def reader(rewards: ct.AsyncPaginator[ct.Reward]) -> None:
        try:
            async for reward in rewards:
                got.append(reward.id)
                if reward.id == "10":
                    reader_waiting.set()
        except RuntimeError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg, make_session() as session:
        tg.start_soon(reader, session.users.aiter_rewards("alice"))
        await reader_waiting.wait()
        await anyio.sleep(0.01)
    assert got == expected_ids(10)
    assert [str(e) for e in errors] == ["the Session was closed while the listing was read"]
    assert api.in_flight == 0


async def test_listing_needs_a_home_for_its_tasks(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    session = make_session()
    with pytest.raises(RuntimeError, match="async with Session"):
        await collect_ids(session)
    assert api.requests == []
    # Entering the listing itself gives its requests a home.
    async with session.users.aiter_rewards("alice") as rewards:
        ids = [r.id async for r in rewards]
    assert ids == expected_ids(25)
    await session.aclose()


async def test_leaving_an_entered_listing_early_cancels_its_requests(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.hook = Blocker(api)
    session = make_session()
    async with session.users.aiter_rewards("alice", max_concurrency=2) as rewards:
        async for reward in rewards:
            assert reward.id == "1"
            await wait_until(lambda: api.in_flight == 2)
            break
    assert api.in_flight == 0
    assert api.cancelled == 2
    await session.aclose()


async def test_a_finished_listing_stays_finished(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    async with make_session() as session:
        rewards = session.users.aiter_rewards("alice")
        assert len([r async for r in rewards]) == 25
        assert [r async for r in rewards] == []
    assert sorted(api.pages_requested) == [1, 2, 3]


async def test_many_abandoned_listings_leave_nothing_behind(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 1000
    api.delay = 0.001
    async with make_session(max_concurrency=8) as session:
        for stop_after in range(0, 60, 7):
            count = 0
            async for _ in session.users.aiter_rewards("alice", max_concurrency=4):
                count += 1
                if count > stop_after:
                    break
        gc.collect()
        await settle(api)
    assert api.in_flight == 0


async def test_one_listing_is_read_by_one_task_at_a_time(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    async def block_all(page: int) -> None:
        await anyio.sleep_forever()

    api.hook = block_all
    async with make_session() as session:
        rewards = session.users.aiter_rewards("alice")
        async with anyio.create_task_group() as tg:
            tg.start_soon(rewards.__anext__)
            await wait_until(lambda: api.in_flight == 1)
            with pytest.raises(RuntimeError, match="already being read by another task"):
                await rewards.__anext__()
            tg.cancel_scope.cancel()


async def test_a_listing_that_shrinks_while_read_raises_instead_of_ending_short(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    # Reward 5 is removed just after page 1 was read: reward 11 moves onto
    # page 1, already read, and no page returns it any more. Page 2's lower
    # total gives the change away.
    def listing(page: int) -> list[int]:
        return list(range(1, 31)) if page == 1 else [i for i in range(1, 31) if i != 5]

    api.rewards_for = lambda page, size: [
        make_reward(i) for i in listing(page)[(page - 1) * size : page * size]
    ]

    async def set_total(page: int) -> None:
        api.total = len(listing(page))

    api.hook = set_total
    got: list[str] = []
    async with make_session() as session:
        with pytest.raises(ct.ListingChangedError) as info:
            async for reward in session.users.aiter_rewards("alice", max_concurrency=1):
                got.append(reward.id)
    assert got == expected_ids(10)
    assert (info.value.page, info.value.expected_total, info.value.total) == (2, 30, 29)
    assert isinstance(info.value, ct.CrowdTwistError)


async def test_progress_is_reported_in_pages(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 45
    progress: list[tuple[int, int | None]] = []
    async with make_session() as session:
        rewards = session.users.aiter_rewards("alice")
        assert (rewards.pages_read, rewards.page_count) == (0, None)
        async for reward in rewards:
            if reward.id.endswith("1"):
                progress.append((rewards.pages_read, rewards.page_count))
    assert progress == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


async def test_errors_leave_the_session_and_listing_blocks_unwrapped(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    async def missing(page: int) -> httpx.Response:
        return httpx.Response(
            400, json={"error": "page_not_found", "message": "User does not exist."}
        )

    api.hook = missing
    # The task groups behind both blocks must not turn these into ExceptionGroups.
    with pytest.raises(ct.NotFoundError):
        async with make_session() as session:
            await session.users.get_rewards_page("nobody")
    with pytest.raises(ct.NotFoundError):
        async with make_session() as session:
            async for _ in session.users.aiter_rewards("nobody"):
                pass
    with pytest.raises(KeyError):
        async with make_session().users.aiter_rewards("nobody") as rewards:
            raise KeyError(rewards)
    with anyio.move_on_after(0.01) as scope:
        async with make_session():
            await anyio.sleep_forever()
    assert scope.cancelled_caught
