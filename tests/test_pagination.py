"""The page walker: order, bounds, both forms, endings, errors and cancellation,
on asyncio and trio."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
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


@pytest.fixture(params=[pytest.param("plain", id="plain"), pytest.param("entered", id="entered")])
def form(request: pytest.FixtureRequest) -> str:
    """How the listing is read: plain `async for`, or inside `async with listing`."""
    return str(request.param)


async def read(
    listing: ct.AsyncPaginator[ct.Reward],
    form: str,
    each: Callable[[], Awaitable[object]] | None = None,
) -> tuple[list[str], ct.CrowdTwistError | None]:
    """The ids a consumer got in *form*, and what the listing raised (None if it ended).

    *each* runs in the consumer's loop body after every reward.
    """

    async def consume() -> None:
        async for reward in listing:
            got.append(reward.id)
            if each is not None:
                await each()

    got: list[str] = []
    try:
        if form == "entered":
            async with listing:
                await consume()
        else:
            await consume()
    except ct.CrowdTwistError as exc:
        return got, exc
    return got, None


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


# --- order and bounds ------------------------------------------------------------


async def test_every_reward_once_in_order(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 95
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards("alice", page_size=10), form)
    assert (got, error) == (expected_ids(95), None)
    assert sorted(api.pages_requested) == list(range(1, 11))


async def test_page_one_is_fetched_alone_first(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 50
    api.delay = 0.01
    starts_during_page_one: list[int] = []

    async def hook(page: int) -> None:
        if page == 1:
            starts_during_page_one.append(len(api.pages_requested))

    api.hook = hook
    async with make_session() as session:
        got, _ = await read(session.users.aiter_rewards("alice", max_concurrency=4), form)
    assert got == expected_ids(50)
    assert api.pages_requested[0] == 1
    # When page 1 answered, it was the only page ever asked for.
    assert starts_during_page_one == [1]


@pytest.mark.parametrize("concurrency", [1, 3, 8])
async def test_in_flight_is_bounded_by_the_iteration(
    api: FakeRewardsAPI, make_session: SessionFactory, concurrency: int, form: str
) -> None:
    api.total = 200
    api.delay = 0.01
    async with make_session(max_concurrency=16) as session:
        listing = session.users.aiter_rewards("alice", max_concurrency=concurrency)
        got, _ = await read(listing, form)
    assert got == expected_ids(200)
    assert api.max_in_flight == concurrency
    assert sorted(api.pages_requested) == list(range(1, 21))


async def test_in_flight_is_bounded_by_the_session_across_iterations(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 200
    api.delay = 0.01
    results: dict[int, list[str]] = {}
    async with make_session(max_concurrency=5) as session:

        async def reader(slot: int) -> None:
            listing = session.users.aiter_rewards("alice", max_concurrency=4)
            results[slot], _ = await read(listing, form)

        async with anyio.create_task_group() as tg:
            for slot in range(4):
                tg.start_soon(reader, slot)
    assert all(ids == expected_ids(200) for ids in results.values())
    assert api.max_in_flight == 5
    assert len(api.pages_requested) == 4 * 20


# A plain listing fetches up to 2 x C pages when it needs one (so at most
# 2 x C - 1 beyond the one read); an entered one keeps 4 x C ahead.
@pytest.mark.parametrize(("form", "ahead"), [("plain", 5), ("entered", 12)])
async def test_a_slow_consumer_holds_back_fetching(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str, ahead: int
) -> None:
    api.total = 300
    seen_pages = 0
    ahead_seen: list[int] = []
    async with make_session() as session:
        listing = session.users.aiter_reward_pages("bob", max_concurrency=3)
        async with listing if form == "entered" else contextlib.nullcontext():
            async for page in listing:
                seen_pages += 1
                # Give the walker every chance to run ahead of us.
                for _ in range(20):
                    await anyio.lowlevel.checkpoint()
                ahead_seen.append(len(api.pages_requested) - seen_pages)
                assert page.number == seen_pages
    assert seen_pages == 30
    assert max(ahead_seen) == ahead
    assert sorted(api.pages_requested) == list(range(1, 31))


@pytest.mark.slow
async def test_the_plain_form_runs_nothing_between_items(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 200
    api.delay = 0.002
    windows: list[list[int]] = []
    async with make_session() as session:
        async for reward in session.users.aiter_rewards("alice", max_concurrency=4):
            # Between two items no request is in flight, and none starts.
            assert api.in_flight == 0
            before = len(api.pages_requested)
            await anyio.sleep(0.005)
            assert len(api.pages_requested) == before
            if reward.id.endswith("1"):
                windows.append(sorted(set(api.pages_requested)))
    # Page 1 alone, then windows of 2 x 4 pages, fetched when the consumer
    # needs the first page of each.
    assert windows[:9] == [[1]] + [list(range(1, 10))] * 8
    assert windows[9] == list(range(1, 18))


async def test_break_on_a_named_listing_leaves_nothing_running(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 10_000
    async with make_session() as session:
        listing = session.users.aiter_rewards("bob", max_concurrency=4)
        async for reward in listing:
            if reward.id == "15":
                break
        # The object is still alive; no finalizer has had a reason to run.
        await anyio.sleep(0.05)
        assert api.in_flight == 0
        assert sorted(api.pages_requested) == list(range(1, 10))
        # The session still works after an abandoned listing.
        page = await session.users.get_rewards_page("bob", page=1)
    assert len(page.rewards) == 10
    del listing


async def test_aclose_mid_page_ends_the_listing(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.hook = Blocker(api)
    async with make_session() as session:
        listing = session.users.aiter_rewards("bob", max_concurrency=2)
        async with listing if form == "entered" else contextlib.nullcontext():
            first = await anext(listing)
            # The entered form fetches ahead; the plain one has nothing running.
            await wait_until(lambda: api.in_flight == (2 if form == "entered" else 0))
            await listing.aclose()
            # aclose() returned once the requests it cancelled had ended.
            assert api.in_flight == 0
            assert api.cancelled == (2 if form == "entered" else 0)
            # Not even the other 9 rewards of page 1.
            assert [r.id async for r in listing] == []
    assert first.id == "1"
    assert sorted(api.pages_requested) == ([1, 2, 3] if form == "entered" else [1])


# --- where a listing ends ----------------------------------------------------------


async def test_a_page_count_past_the_total_is_not_followed(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 30
    api.pages_field = lambda _page: 10**9
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards("alice", max_concurrency=4), form)
    assert (got, error) == (expected_ids(30), None)
    # The total says 3 pages of 10, and 30 rewards came: nothing more to ask.
    assert sorted(api.pages_requested) == [1, 2, 3]


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
    api: FakeRewardsAPI, make_session: SessionFactory, pages_value: object, form: str
) -> None:
    api.total = 45
    api.delay = 0.005
    api.pages_field = lambda _page: pages_value
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards("alice", max_concurrency=8), form)
    assert (got, error) == (expected_ids(45), None)
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
async def test_a_next_page_loop_is_not_followed_and_the_shortfall_raises(
    api: FakeRewardsAPI, make_session: SessionFactory, link_target: int, form: str
) -> None:
    api.total = 50
    api.pages_field = lambda _page: None
    api.next_link = lambda page: (
        f"https://x/v2.1/rewards?page={page + 1}"
        if page < 3
        else f"https://x/?page={page + link_target}"
    )
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards("alice"), form)
    assert got == expected_ids(30)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (3, 50, 30)
    assert api.pages_requested == [1, 2, 3]


async def test_links_that_skip_pages_raise_after_what_they_gave(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 50
    api.pages_field = lambda _page: None
    api.next_link = lambda page: {1: "?page=3", 3: "?page=5"}.get(page)
    got: list[str] = []
    async with make_session() as session:
        with pytest.raises(ct.IncompleteListingError) as info:
            async for reward in session.users.aiter_rewards("alice"):
                got.append(reward.id)
    assert got == expected_ids(10) + [str(i) for i in range(21, 31)] + expected_ids(50)[40:]
    assert (info.value.page, info.value.expected_total, info.value.seen) == (5, 50, 30)
    assert api.pages_requested == [1, 3, 5]


async def test_a_reward_seen_twice_is_yielded_once(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # A reward was added before page 2 was read, so reward 10 shifts onto
    # page 2 and every later page starts one earlier.
    api.total_field = lambda page: 30 if page == 1 else 31

    def shifted(page: int, size: int) -> list[dict[str, Any]]:
        first = 1 if page == 1 else (page - 1) * size
        return [make_reward(i) for i in range(first, min(first + size, 31))]

    api.rewards_for = shifted
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards("alice"), form)
        pages = [[r.id for r in p.rewards] async for p in session.users.aiter_reward_pages("alice")]
    assert (got, error) == (expected_ids(30), None)
    # The page view shows the server's pages as they were sent.
    assert pages[1][0] == "10"


async def test_a_listing_that_grows_while_read_is_followed(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # Page 2 reports a third page, and ten more rewards, that did not exist
    # when page 1 was read.
    api.total_field = lambda page: 20 if page == 1 else 30
    api.pages_field = lambda page: 2 if page == 1 else 3
    api.rewards_for = lambda page, size: [
        make_reward(i) for i in range(page * 10 - 9, page * 10 + 1)
    ]
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards("alice", max_concurrency=1), form)
    assert (got, error) == (expected_ids(30), None)
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


async def test_docs_sample_shape_is_read_and_its_total_checked(
    make_session: SessionFactory, api: FakeRewardsAPI, form: str
) -> None:
    from .fakeapi import DOCS_REWARDS_SAMPLE

    async def sample(page: int) -> httpx.Response:
        if page == 1:
            return httpx.Response(200, json=DOCS_REWARDS_SAMPLE)
        # Past the real end the API answers an empty page.
        return httpx.Response(200, json={"paging": {"total": 133, "pages": 14}, "rewards": []})

    api.hook = sample
    async with make_session() as session:
        listing = session.users.aiter_rewards("test@test.com", id_type="email")
        got, error = await read(listing, form)
    # The sample's one reward is read; its claim of 133 rewards is not met,
    # and the listing says so instead of ending after one.
    assert got == ["541043"]
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (2, 133, 1)
    assert api.pages_requested[0] == 1
    assert 2 in api.pages_requested
    assert len(set(api.pages_requested)) == len(api.pages_requested)


# --- errors ------------------------------------------------------------------------


async def test_error_is_raised_after_the_pages_before_it(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 100

    async def fail_page_4(page: int) -> httpx.Response | None:
        if page == 4:
            return httpx.Response(404, json={"error": "page_not_found", "message": "gone"})
        return None

    api.hook = fail_page_4
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards("alice", max_concurrency=4), form)
    assert got == expected_ids(30)
    assert isinstance(error, ct.NotFoundError)
    assert (error.status_code, error.error, error.message) == (404, "page_not_found", "gone")
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
    error = info.value
    assert (error.page, error.expected_total, error.total, error.seen) == (2, 30, 29, 10)
    # One `except` catches every way a listing can come out short.
    assert isinstance(error, ct.IncompleteListingError)
    assert isinstance(error, ct.CrowdTwistError)


async def test_errors_leave_the_session_and_listing_blocks_unwrapped(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    async def missing(page: int) -> httpx.Response:
        return httpx.Response(
            400, json={"error": "page_not_found", "message": "User does not exist."}
        )

    api.hook = missing
    # The task group behind an entered listing must not turn these into
    # ExceptionGroups.
    with pytest.raises(ct.NotFoundError):
        async with make_session() as session:
            await session.users.get_rewards_page("nobody")
    with pytest.raises(ct.NotFoundError):
        async with make_session() as session:
            async for _ in session.users.aiter_rewards("nobody"):
                pass
    with pytest.raises(ct.NotFoundError):
        async with make_session().users.aiter_rewards("nobody") as rewards:
            async for _ in rewards:
                pass
    with pytest.raises(KeyError):
        async with make_session().users.aiter_rewards("nobody") as rewards:
            raise KeyError(rewards)
    with anyio.move_on_after(0.01) as scope:
        async with make_session():
            await anyio.sleep_forever()
    assert scope.cancelled_caught


# --- stopping ------------------------------------------------------------------------


async def test_cancelling_the_consumer_stops_every_request(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.hook = Blocker(api)
    async with make_session() as session:
        listing = session.users.aiter_rewards("alice", max_concurrency=3)
        with anyio.move_on_after(0.05) as scope:
            await read(listing, form)
        assert scope.cancelled_caught
        await settle(api)
    assert api.pages_requested[:1] == [1]
    assert sorted(api.pages_requested[1:]) == [2, 3, 4]
    assert api.cancelled == 3


async def test_a_cancellation_that_wakes_the_consumer_before_reaching_it(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    # Cancelled from the consumer's own task, anyio delivers to the page
    # tasks first; on asyncio a page task that ends sets `done`, and the
    # consumer waiting on it wakes normally, its cancellation still to come.
    api.hook = Blocker(api)
    async with make_session() as session:
        with anyio.CancelScope() as scope:
            async with session.users.aiter_rewards("alice", max_concurrency=2) as rewards:
                async for reward in rewards:
                    if reward.id == "10":  # the last of page 1
                        await wait_until(lambda: api.in_flight == 2)
                        scope.cancel()
        assert scope.cancelled_caught
    assert api.cancelled == 2


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


async def test_an_exception_inside_an_entered_listing_stops_every_request(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.hook = Blocker(api)
    async with make_session() as session:
        with pytest.raises(ZeroDivisionError):
            async with session.users.aiter_rewards("alice") as rewards:
                async for _reward in rewards:
                    await wait_until(lambda: api.in_flight == 4)
                    _ = 1 / 0
        # Stopped when the block was left, not whenever the object goes.
        assert api.in_flight == 0
    assert api.cancelled == 4
    del rewards


async def test_closing_the_session_ends_a_listing_read_elsewhere(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.hook = Blocker(api)
    errors: list[BaseException] = []
    got: list[str] = []
    session = make_session()

    async def reader() -> None:
        try:
            ids, _ = await read(session.users.aiter_rewards("alice", max_concurrency=3), form)
            got.extend(ids)
        except RuntimeError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await wait_until(lambda: api.in_flight == 3)
        await session.aclose()
    assert [str(e) for e in errors] == [
        "the Session was closed while GET /v2.1/users/alice/rewards was in flight"
    ]
    assert api.in_flight == 0
    assert api.cancelled == 3


async def test_a_session_never_entered_reads_listings(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    session = make_session()
    got, error = await read(session.users.aiter_rewards("alice"), form)
    assert (got, error) == (expected_ids(25), None)
    await session.aclose()
    assert session.closed
    with pytest.raises(RuntimeError, match="Session is closed"):
        await collect_ids(session)
    assert sorted(api.pages_requested) == [1, 2, 3]


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
            assert api.in_flight == 0
    assert api.cancelled == 0


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
            with pytest.raises(
                RuntimeError, match=r"^this listing is already being read by another task$"
            ):
                await rewards.__anext__()
            tg.cancel_scope.cancel()


async def test_a_listing_is_entered_once(make_session: SessionFactory) -> None:
    async with make_session() as session:
        listing = session.users.aiter_rewards("alice")
        async with listing:
            with pytest.raises(RuntimeError, match=r"^this listing has already been entered$"):
                await listing.__aenter__()


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


async def test_page_count_goes_by_the_total_when_pages_disagrees(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    # The docs' own table: total 203, pages 10.
    api.total = 203
    api.pages_field = lambda _page: 10
    async with make_session() as session:
        rewards = session.users.aiter_rewards("alice")
        first = await anext(rewards)
        assert (first.id, rewards.page_count) == ("1", 21)
        await rewards.aclose()
