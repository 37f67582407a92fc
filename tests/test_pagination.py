"""The page walker: order, bounds, both forms, endings, errors and cancellation,
on asyncio and trio."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist

from .conftest import (
    ALICE,
    API_KEY,
    BASE_URL,
    BOB,
    SessionFactory,
    offer,
    pages_of,
    requested,
)
from .listing_support import expected_ids, form, read
from .sample_data import DOCS_REWARDS_SAMPLE, make_reward

pytestmark = pytest.mark.anyio

__all__ = ["form"]  # the fixture, from listing_support

#: What a plain-text error page says it is.
TEXT = {"content-type": "text/plain; charset=utf-8"}


async def collect_ids(session: ct.Session, **kwargs: Any) -> list[str]:
    return [r.id async for r in session.users.aiter_rewards(ALICE, **kwargs)]


def block(fake: FakeCrowdTwist) -> None:
    """500 rewards: page 1 is answered at once, every other page held until cancelled."""
    offer(fake, 500)
    fake.lie(delay=lambda page, latency: latency if page == 1 else math.inf)


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll *condition* until it holds; fail after 5 s rather than hang."""
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.001)


async def settle(fake: FakeCrowdTwist) -> None:
    """Let cancellations land."""
    await wait_until(lambda: fake.in_flight == 0)


# --- order and bounds ------------------------------------------------------------


async def test_every_reward_once_in_order(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 95)
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards(ALICE, page_size=10), form)
    assert (got, error) == (expected_ids(95), None)
    assert sorted(pages_of(fake.requests)) == list(range(1, 11))


async def test_page_one_is_fetched_alone_first(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 50)
    fake.latency = 0.01
    starts_during_page_one: list[int] = []

    def total(page: int, total: int) -> int:
        if page == 1:
            starts_during_page_one.append(requested(fake))
        return total

    fake.lie(total=total)
    async with make_session() as session:
        got, _ = await read(session.users.aiter_rewards(ALICE, max_concurrency=4), form)
    assert got == expected_ids(50)
    assert pages_of(fake.requests)[0] == 1
    # When page 1 answered, it was the only page ever asked for.
    assert starts_during_page_one == [1]


@pytest.mark.parametrize("concurrency", [1, 3, 8])
async def test_in_flight_is_bounded_by_the_iteration(
    fake: FakeCrowdTwist, make_session: SessionFactory, concurrency: int, form: str
) -> None:
    offer(fake, 200)
    fake.latency = 0.01
    async with make_session(max_concurrency=16) as session:
        listing = session.users.aiter_rewards(ALICE, max_concurrency=concurrency)
        got, _ = await read(listing, form)
    assert got == expected_ids(200)
    assert fake.max_in_flight == concurrency
    assert sorted(pages_of(fake.requests)) == list(range(1, 21))


async def test_in_flight_is_bounded_by_the_session_across_iterations(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 200)
    fake.latency = 0.01
    results: dict[int, list[str]] = {}
    async with make_session(max_concurrency=5) as session:

        async def reader(slot: int) -> None:
            listing = session.users.aiter_rewards(ALICE, max_concurrency=4)
            results[slot], _ = await read(listing, form)

        async with anyio.create_task_group() as tg:
            for slot in range(4):
                tg.start_soon(reader, slot)
    assert all(ids == expected_ids(200) for ids in results.values())
    assert fake.max_in_flight == 5
    assert len(fake.requests) == 4 * 20


def countdown(window: int) -> list[int]:
    """The pages fetched and not yet read after each page of a plain window of
    *window* pages: the window's pages are all fetched when its first is read."""
    return list(range(window - 1, -1, -1))


# A plain listing fetches page 1 alone, then a window of up to 2 x C pages,
# then, while the consumer keeps reading, windows of up to 8 x C (so at most
# 8 x C - 1 beyond the one read); an entered one keeps 4 x C ahead.
@pytest.mark.parametrize(
    ("form", "ahead"),
    [
        # C = 3: pages 1, 2-7, 8-31, 32-40.
        pytest.param(
            "plain", [*countdown(1), *countdown(6), *countdown(24), *countdown(9)], id="plain"
        ),
        pytest.param("entered", None, id="entered"),
    ],
)
async def test_a_slow_consumer_holds_back_fetching(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str, ahead: list[int] | None
) -> None:
    offer(fake, 400)
    seen_pages = 0
    ahead_seen: list[int] = []
    async with make_session() as session:
        listing = session.users.aiter_reward_pages(BOB, max_concurrency=3)
        async with listing if form == "entered" else contextlib.nullcontext():
            async for page in listing:
                seen_pages += 1
                # Give the walker every chance to run ahead of us.
                for _ in range(20):
                    await anyio.lowlevel.checkpoint()
                ahead_seen.append(requested(fake) - seen_pages)
                assert page.number == seen_pages
    assert seen_pages == 40
    if ahead is None:
        assert max(ahead_seen) == 12
    else:
        assert ahead_seen == ahead
    assert sorted(pages_of(fake.requests)) == list(range(1, 41))


async def test_a_long_plain_read_grows_its_window(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 600)
    fake.latency = 0.001
    fetched: list[int] = []  # the pages each call that fetched asked for
    most_in_flight: list[int] = []  # the most in flight at once during each
    async with make_session(max_concurrency=8) as session:
        listing = session.users.aiter_reward_pages(BOB, max_concurrency=3)
        while True:
            before = requested(fake)
            fake.max_in_flight = 0
            page = await anext(listing, None)
            if requested(fake) > before:
                fetched.append(requested(fake) - before)
                most_in_flight.append(fake.max_in_flight)
            if page is None:
                break
            assert fake.in_flight == 0
    # Page 1 alone, a first window of 2 x 3 pages, then windows of 8 x 3
    # until the listing's 60 pages are read, 3 requests in flight in each.
    assert fetched == [1, 6, 24, 24, 5]
    assert most_in_flight == [1, 3, 3, 3, 3]
    assert sorted(pages_of(fake.requests)) == list(range(1, 61))


@pytest.mark.parametrize(
    ("last_read", "asked"),
    [
        # C = 3. Page 1 is fetched alone.
        (1, 1),
        # The first window, pages 2-7: a break anywhere in it wastes at most 5.
        (2, 7),
        (7, 7),
        # The consumer read all of it and asked for more: pages 8-31.
        (8, 31),
        (31, 31),
        # And again: pages 32-55.
        (32, 55),
    ],
    ids=lambda value: str(value),
)
async def test_a_break_in_a_plain_listing_leaves_its_window_read(
    fake: FakeCrowdTwist, make_session: SessionFactory, last_read: int, asked: int
) -> None:
    offer(fake, 600)
    async with make_session(max_concurrency=8) as session:
        listing = session.users.aiter_reward_pages(BOB, max_concurrency=3)
        async for page in listing:
            if page.number == last_read:
                break
        assert fake.in_flight == 0
        assert sorted(pages_of(fake.requests)) == list(range(1, asked + 1))
        assert fake.cancelled == []


@pytest.mark.slow
async def test_the_plain_form_runs_nothing_between_items(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 200)
    fake.latency = 0.002
    windows: list[list[int]] = []
    async with make_session() as session:
        async for reward in session.users.aiter_rewards(ALICE, max_concurrency=4):
            # Between two items no request is in flight, and none starts.
            assert fake.in_flight == 0
            before = requested(fake)
            await anyio.sleep(0.005)
            assert requested(fake) == before
            if reward.id.endswith("1"):
                windows.append(sorted(set(pages_of(fake.requests))))
    # Page 1 alone, then a window of 2 x 4 pages, then one of up to 8 x 4
    # (the other 11 here), each fetched when the consumer needs its first page.
    assert windows == [[1]] + [list(range(1, 10))] * 8 + [list(range(1, 21))] * 11


async def test_break_on_a_named_listing_leaves_nothing_running(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 10_000)
    async with make_session() as session:
        listing = session.users.aiter_rewards(BOB, max_concurrency=4)
        async for reward in listing:
            if reward.id == "15":
                break
        # The object is still alive; no finalizer has had a reason to run.
        await anyio.sleep(0.05)
        assert fake.in_flight == 0
        assert sorted(pages_of(fake.requests)) == list(range(1, 10))
        # The session still works after an abandoned listing.
        page = await session.users.get_rewards_page(BOB, page=1)
    assert len(page.rewards) == 10
    del listing


async def test_aclose_mid_page_ends_the_listing(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    block(fake)
    async with make_session() as session:
        listing = session.users.aiter_rewards(BOB, max_concurrency=2)
        async with listing if form == "entered" else contextlib.nullcontext():
            first = await anext(listing)
            # The entered form fetches ahead; the plain one has nothing running.
            await wait_until(lambda: fake.in_flight == (2 if form == "entered" else 0))
            await listing.aclose()
            # aclose() returned once the requests it cancelled had ended.
            assert fake.in_flight == 0
            assert len(fake.cancelled) == (2 if form == "entered" else 0)
            # Not even the other 9 rewards of page 1.
            assert [r.id async for r in listing] == []
    assert first.id == "1"
    asked = pages_of(fake.requests + fake.cancelled)
    assert sorted(asked) == ([1, 2, 3] if form == "entered" else [1])


# --- where a listing ends ----------------------------------------------------------


async def test_a_page_count_past_the_total_is_not_followed(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 30)
    fake.lie(pages=lambda page, pages: 10**9)
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards(ALICE, max_concurrency=4), form)
    assert (got, error) == (expected_ids(30), None)
    # The total says 3 pages of 10, and 30 rewards came: nothing more to ask.
    assert sorted(pages_of(fake.requests)) == [1, 2, 3]


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
    fake: FakeCrowdTwist, make_session: SessionFactory, pages_value: object, form: str
) -> None:
    offer(fake, 45)
    fake.latency = 0.005
    fake.lie(pages=lambda page, pages: pages_value)
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards(ALICE, max_concurrency=8), form)
    assert (got, error) == (expected_ids(45), None)
    # One page at a time, in link order; the last page has no next link.
    assert pages_of(fake.requests) == [1, 2, 3, 4, 5]
    assert fake.max_in_flight == 1


async def test_links_to_a_foreign_host_are_never_requested(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 25)
    fake.lie(
        pages=lambda page, pages: None,
        next_page=lambda page, link: (
            link and link.replace("https://api[client_id].ct.com", "https://evil.example.net")
        ),
    )
    hosts: list[str] = []

    async def note(request: httpx.Request) -> None:
        hosts.append(request.url.host)

    client = httpx.AsyncClient(transport=fake.transport(), event_hooks={"request": [note]})
    async with (
        client,
        ct.Session(api_key=API_KEY, base_url=BASE_URL, http_client=client) as session,
    ):
        ids = await collect_ids(session)
    assert ids == expected_ids(25)
    assert hosts == ["api123.crowdtwist.com"] * 3
    assert all(r.path == f"/v2.1/users/{ALICE}/rewards" for r in fake.requests)
    # The fake answers a request without API_KEY with 403.
    assert [r.status for r in fake.requests] == [200] * 3


@pytest.mark.parametrize(
    "link_target",
    [pytest.param(0, id="to-itself"), pytest.param(-1, id="to-the-previous-page")],
)
async def test_a_next_page_loop_is_not_followed_and_the_shortfall_raises(
    fake: FakeCrowdTwist, make_session: SessionFactory, link_target: int, form: str
) -> None:
    offer(fake, 50)
    fake.lie(
        pages=lambda page, pages: None,
        next_page=lambda page, link: (
            f"https://x/v2.1/rewards?page={page + 1}"
            if page < 3
            else f"https://x/?page={page + link_target}"
        ),
    )
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards(ALICE), form)
    assert got == expected_ids(30)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (3, 50, 30)
    assert pages_of(fake.requests) == [1, 2, 3]


async def test_links_that_skip_pages_raise_after_what_they_gave(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 50)
    fake.lie(
        pages=lambda page, pages: None,
        next_page=lambda page, link: {1: "?page=3", 3: "?page=5"}.get(page),
    )
    got: list[str] = []
    async with make_session() as session:
        with pytest.raises(ct.IncompleteListingError) as info:
            async for reward in session.users.aiter_rewards(ALICE):
                got.append(reward.id)
    assert got == expected_ids(10) + [str(i) for i in range(21, 31)] + expected_ids(50)[40:]
    assert (info.value.page, info.value.expected_total, info.value.seen) == (5, 50, 30)
    assert pages_of(fake.requests) == [1, 3, 5]


async def test_a_reward_seen_twice_is_yielded_once(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # A reward was added before page 2 was read, so reward 10 shifts onto
    # page 2 and every later page starts one earlier. (The fake holds 25
    # rewards: its pages count 3.)
    def shifted(page: int, size: int) -> list[dict[str, Any]]:
        first = 1 if page == 1 else (page - 1) * size
        return [make_reward(i) for i in range(first, min(first + size, 31))]

    fake.lie(
        total=lambda page, total: 30 if page == 1 else 31,
        items=lambda page, records: shifted(page, 10),
    )
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards(ALICE), form)
        pages = [[r.id for r in p.rewards] async for p in session.users.aiter_reward_pages(ALICE)]
    assert (got, error) == (expected_ids(30), None)
    # The page view shows the server's pages as they were sent.
    assert pages[1][0] == "10"


async def test_a_listing_that_grows_while_read_is_followed(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # Page 2 reports a third page, and ten more rewards, that did not exist
    # when page 1 was read.
    fake.lie(
        total=lambda page, total: 20 if page == 1 else 30,
        pages=lambda page, pages: 2 if page == 1 else 3,
        items=lambda page, records: [make_reward(i) for i in range(page * 10 - 9, page * 10 + 1)],
    )
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards(ALICE, max_concurrency=1), form)
    assert (got, error) == (expected_ids(30), None)
    assert pages_of(fake.requests) == [1, 2, 3]


async def test_empty_listing_yields_nothing(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    # An empty listing as a page, not as the no_data error the fake sends a
    # member without rewards (the next test): total 0, 0 pages, no rewards.
    offer(fake, 1)
    fake.lie(
        total=lambda page, total: 0,
        pages=lambda page, pages: 0,
        items=lambda page, records: [],
    )
    async with make_session() as session:
        assert await collect_ids(session) == []
        assert [p async for p in session.users.aiter_reward_pages(ALICE)] == []
    assert pages_of(fake.requests) == [1, 1]


async def test_no_data_error_is_an_empty_listing(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    # The fake answers a member without rewards with 400 no_data.
    offer(fake, 0)
    async with make_session() as session:
        assert await collect_ids(session) == []
        page = await session.users.get_rewards_page(ALICE, page=1)
    assert (page.total, page.pages, page.rewards) == (0, 0, ())
    assert [(r.page, r.status) for r in fake.requests] == [(1, 400), (1, 400)]


async def test_docs_sample_shape_is_read_and_its_total_checked(
    make_session: SessionFactory, fake: FakeCrowdTwist, form: str
) -> None:
    fake.script(json=DOCS_REWARDS_SAMPLE, page=1)
    for page in range(2, 15):
        # Past the real end the API answers an empty page.
        fake.script(json={"paging": {"total": 133, "pages": 14}, "rewards": []}, page=page)
    async with make_session() as session:
        listing = session.users.aiter_rewards("test@test.com", id_type="email")
        got, error = await read(listing, form)
    # The sample's one reward is read; its claim of 133 rewards is not met,
    # and the listing says so instead of ending after one.
    assert got == ["541043"]
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (2, 133, 1)
    asked = pages_of(fake.requests + fake.cancelled)
    assert pages_of(fake.requests)[0] == 1
    assert 2 in asked
    assert len(set(asked)) == len(asked)


# --- errors ------------------------------------------------------------------------


async def test_error_is_raised_after_the_pages_before_it(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 100)
    fake.script(404, json={"error": "page_not_found", "message": "gone"}, page=4)
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards(ALICE, max_concurrency=4), form)
    assert got == expected_ids(30)
    assert isinstance(error, ct.NotFoundError)
    assert (error.status_code, error.error, error.message) == (404, "page_not_found", "gone")
    assert pages_of(fake.requests + fake.cancelled).count(4) == 1


async def test_a_failed_page_is_retried_without_restarting(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 50)
    for _ in range(2):
        fake.script(503, body="busy", headers={"Retry-After": "0", **TEXT}, page=3)
    async with make_session(max_retries=2) as session:
        ids = await collect_ids(session)
    assert ids == expected_ids(50)
    assert sorted(pages_of(fake.requests)) == [1, 2, 3, 3, 3, 4, 5]


async def test_retries_exhausted_raise_after_earlier_pages(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 50)
    # Page 2 fails every time it is asked for, here twice (a third time, the
    # fake would answer it).
    for _ in range(2):
        fake.script(503, body="<html>busy</html>", headers={"Retry-After": "0", **TEXT}, page=2)
    got: list[str] = []
    async with make_session(max_retries=1) as session:
        with pytest.raises(ct.ServerError) as info:
            async for reward in session.users.aiter_rewards(ALICE):
                got.append(reward.id)
    assert got == expected_ids(10)
    assert info.value.status_code == 503
    assert info.value.error is None
    assert pages_of(fake.requests + fake.cancelled).count(2) == 2


async def test_a_listing_that_shrinks_while_read_raises_instead_of_ending_short(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    # Reward 5 is removed just after page 1 was read: reward 11 moves onto
    # page 1, already read, and no page returns it any more. Page 2's lower
    # total gives the change away.
    def listing(page: int) -> list[int]:
        return list(range(1, 31)) if page == 1 else [i for i in range(1, 31) if i != 5]

    offer(fake, 30)
    fake.lie(
        total=lambda page, total: len(listing(page)),
        items=lambda page, records: [
            make_reward(i) for i in listing(page)[(page - 1) * 10 : page * 10]
        ],
    )
    got: list[str] = []
    async with make_session() as session:
        with pytest.raises(ct.ListingChangedError) as info:
            async for reward in session.users.aiter_rewards(ALICE, max_concurrency=1):
                got.append(reward.id)
    assert got == expected_ids(10)
    error = info.value
    assert (error.page, error.expected_total, error.total, error.seen) == (2, 30, 29, 10)
    # One `except` catches every way a listing can come out short.
    assert isinstance(error, ct.IncompleteListingError)
    assert isinstance(error, ct.CrowdTwistError)


async def test_errors_leave_the_session_and_listing_blocks_unwrapped(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    # "nobody" is no member of the fake's: 400 page_not_found, "User does not exist.".
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
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    block(fake)
    async with make_session() as session:
        listing = session.users.aiter_rewards(ALICE, max_concurrency=3)
        with anyio.move_on_after(0.05) as scope:
            await read(listing, form)
        assert scope.cancelled_caught
        await settle(fake)
    assert pages_of(fake.requests) == [1]
    assert sorted(pages_of(fake.cancelled)) == [2, 3, 4]
    assert len(fake.cancelled) == 3


async def test_a_cancellation_that_wakes_the_consumer_before_reaching_it(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    # Cancelled from the consumer's own task, anyio delivers to the page
    # tasks first; on asyncio a page task that ends sets `done`, and the
    # consumer waiting on it wakes normally, its cancellation still to come.
    block(fake)
    async with make_session() as session:
        with anyio.CancelScope() as scope:
            async with session.users.aiter_rewards(ALICE, max_concurrency=2) as rewards:
                async for reward in rewards:
                    if reward.id == "10":  # the last of page 1
                        await wait_until(lambda: fake.in_flight == 2)
                        scope.cancel()
        assert scope.cancelled_caught
    assert len(fake.cancelled) == 2


async def test_leaving_an_entered_listing_early_cancels_its_requests(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    block(fake)
    session = make_session()
    async with session.users.aiter_rewards(ALICE, max_concurrency=2) as rewards:
        async for reward in rewards:
            assert reward.id == "1"
            await wait_until(lambda: fake.in_flight == 2)
            break
    assert fake.in_flight == 0
    assert len(fake.cancelled) == 2
    await session.aclose()


async def test_an_exception_inside_an_entered_listing_stops_every_request(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    block(fake)
    async with make_session() as session:
        with pytest.raises(ZeroDivisionError):
            async with session.users.aiter_rewards(ALICE) as rewards:
                async for _reward in rewards:
                    await wait_until(lambda: fake.in_flight == 4)
                    _ = 1 / 0
        # Stopped when the block was left, not whenever the object goes.
        assert fake.in_flight == 0
    assert len(fake.cancelled) == 4
    del rewards


async def test_closing_the_session_ends_a_listing_read_elsewhere(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    block(fake)
    errors: list[BaseException] = []
    got: list[str] = []
    session = make_session()

    async def reader() -> None:
        try:
            ids, _ = await read(session.users.aiter_rewards(ALICE, max_concurrency=3), form)
            got.extend(ids)
        except RuntimeError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await wait_until(lambda: fake.in_flight == 3)
        await session.aclose()
    assert [str(e) for e in errors] == [
        f"the Session was closed while GET /v2.1/users/{ALICE}/rewards was in flight"
    ]
    assert fake.in_flight == 0
    assert len(fake.cancelled) == 3


async def test_a_session_never_entered_reads_listings(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    session = make_session()
    got, error = await read(session.users.aiter_rewards(ALICE), form)
    assert (got, error) == (expected_ids(25), None)
    await session.aclose()
    assert session.closed
    with pytest.raises(RuntimeError, match="Session is closed"):
        await collect_ids(session)
    assert sorted(pages_of(fake.requests)) == [1, 2, 3]


async def test_a_finished_listing_stays_finished(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    async with make_session() as session:
        rewards = session.users.aiter_rewards(ALICE)
        assert len([r async for r in rewards]) == 25
        assert [r async for r in rewards] == []
    assert sorted(pages_of(fake.requests)) == [1, 2, 3]


async def test_many_abandoned_listings_leave_nothing_behind(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 1000)
    fake.latency = 0.001
    async with make_session(max_concurrency=8) as session:
        for stop_after in range(0, 60, 7):
            count = 0
            async for _ in session.users.aiter_rewards(ALICE, max_concurrency=4):
                count += 1
                if count > stop_after:
                    break
            assert fake.in_flight == 0
    assert len(fake.cancelled) == 0


async def test_one_listing_is_read_by_one_task_at_a_time(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    fake.lie(delay=lambda page, latency: math.inf)
    async with make_session() as session:
        rewards = session.users.aiter_rewards(ALICE)
        async with anyio.create_task_group() as tg:
            tg.start_soon(rewards.__anext__)
            await wait_until(lambda: fake.in_flight == 1)
            with pytest.raises(
                RuntimeError, match=r"^this listing is already being read by another task$"
            ):
                await rewards.__anext__()
            tg.cancel_scope.cancel()


async def test_a_listing_is_entered_once(make_session: SessionFactory) -> None:
    async with make_session() as session:
        listing = session.users.aiter_rewards(ALICE)
        async with listing:
            with pytest.raises(RuntimeError, match=r"^this listing has already been entered$"):
                await listing.__aenter__()


async def test_progress_is_reported_in_pages(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 45)
    progress: list[tuple[int, int | None]] = []
    async with make_session() as session:
        rewards = session.users.aiter_rewards(ALICE)
        assert (rewards.pages_read, rewards.page_count) == (0, None)
        async for reward in rewards:
            if reward.id.endswith("1"):
                progress.append((rewards.pages_read, rewards.page_count))
    assert progress == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


async def test_page_count_goes_by_the_total_when_pages_disagrees(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    # The docs' own table: total 203, pages 10.
    offer(fake, 203)
    fake.lie(pages=lambda page, pages: 10)
    async with make_session() as session:
        rewards = session.users.aiter_rewards(ALICE)
        first = await anext(rewards)
        assert (first.id, rewards.page_count) == ("1", 21)
        await rewards.aclose()
