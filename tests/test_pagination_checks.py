"""A listing is never quietly short and never unbounded: page 1's promise is checked.

Each case is read in both forms (plain `async for` and `async with`), on
asyncio and trio, and asserts what the consumer got, what was raised, and
exactly which pages were asked for.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import crowdtwist_async as ct

from .conftest import SessionFactory
from .fakeapi import FakeRewardsAPI, make_reward
from .test_pagination import expected_ids, form, read

pytestmark = pytest.mark.anyio

__all__ = ["form"]  # the fixture, shared with test_pagination

CONCURRENCY = 4
#: What the issue allows a hostile page count: two windows and a little more.
REQUEST_BUDGET = 2 * CONCURRENCY + 2


def listing(session: ct.Session) -> ct.AsyncPaginator[ct.Reward]:
    return session.users.aiter_rewards("alice", max_concurrency=CONCURRENCY)


EMPTY_PAGE_3 = [
    pytest.param(
        lambda: httpx.Response(200, json={"paging": {"total": 203, "pages": 21}, "rewards": []}),
        id="empty-array",
    ),
    pytest.param(
        lambda: httpx.Response(200, json={"paging": {"total": 203, "pages": 21}, "rewards": None}),
        id="null",
    ),
    pytest.param(
        lambda: httpx.Response(
            400, json={"error": "no_data", "message": "There are no rewards available."}
        ),
        id="no_data",
    ),
    pytest.param(
        lambda: httpx.Response(
            400, json={"error": "no_activities", "message": "There are no rewards available."}
        ),
        id="no_activities",
    ),
]


@pytest.mark.parametrize("answer", EMPTY_PAGE_3)
async def test_an_empty_page_before_the_end_raises_after_the_rewards_before_it(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str, answer: Any
) -> None:
    api.total = 203

    async def page_3_is_empty(page: int) -> httpx.Response | None:
        return answer() if page == 3 else None

    api.hook = page_3_is_empty
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(20)
    assert isinstance(error, ct.IncompleteListingError)
    assert not isinstance(error, ct.ListingChangedError)
    assert (error.page, error.expected_total, error.seen) == (3, 203, 20)
    assert str(error) == (
        "the listing ended short: page 3 was empty, after 20 of the 203 rewards "
        "page 1 announced; read it again"
    )
    # Nothing was asked for twice, and the walk stopped near page 3.
    assert len(set(api.pages_requested)) == len(api.pages_requested)
    assert max(api.pages_requested) <= 3 + 2 * CONCURRENCY


async def test_a_server_that_ignores_the_page_number_raises(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # A cache in front of CrowdTwist answers page 1 whatever page is asked.
    api.total = 50
    api.rewards_for = lambda page, size: [make_reward(i) for i in range(1, 11)]
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(10)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (2, 50, 10)
    assert "page 2 held only rewards already read" in str(error)
    assert sorted(api.pages_requested) == [1, 2, 3, 4, 5]


async def test_a_page_count_below_the_total_is_read_past(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # Page 1 says 3 pages and 50 rewards; page 3 links to page 4.
    api.total = 50
    api.pages_field = lambda page: 3
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(50), None)
    assert sorted(api.pages_requested) == [1, 2, 3, 4, 5]


async def test_a_first_page_larger_than_asked_that_holds_everything_ends_the_listing(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # The server sends 15 rewards on page 1 where the SDK expects 10 a page.
    api.total = 15
    api.page_size_default = 15
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(15), None)
    assert api.pages_requested == [1]


async def test_the_docs_table_total_203_pages_10_gives_all_203(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 203
    api.pages_field = lambda page: 10
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(203), None)
    assert sorted(api.pages_requested) == list(range(1, 22))


async def test_a_billion_pages_of_the_same_five_rewards_end_at_once(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 5
    api.pages_field = lambda page: 10**9
    api.rewards_for = lambda page, size: [make_reward(i) for i in range(1, 6)]
    async with make_session() as session:
        got, error = await read(listing(session), form)
    # All 5 rewards the total promised: the page count is not followed.
    assert (got, error) == (expected_ids(5), None)
    assert api.pages_requested == [1]


async def test_a_billion_pages_of_the_same_rewards_without_a_total_stay_bounded(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total_field = lambda page: None
    api.pages_field = lambda page: 10**9
    api.rewards_for = lambda page, size: [make_reward(i) for i in range(1, 6)]
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(5)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (2, None, 5)
    assert len(api.pages_requested) <= REQUEST_BUDGET
    assert len(set(api.pages_requested)) == len(api.pages_requested)


async def test_a_total_that_is_a_lie_stays_bounded(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # 30 rewards, announced as a billion.
    api.total = 30
    api.total_field = lambda page: 10**9
    api.pages_field = lambda page: 10**8
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(30)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (4, 10**9, 30)
    assert len(api.pages_requested) <= 4 + REQUEST_BUDGET


async def test_without_a_total_the_page_count_is_the_promise(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 50
    api.total_field = lambda page: None
    api.rewards_for = lambda page, size: (
        [] if page == 3 else [make_reward(i) for i in range(page * 10 - 9, page * 10 + 1)]
    )
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(20)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (3, None, 20)
    assert "page 1 announced 5 pages" in str(error)


async def test_without_a_total_the_last_announced_page_ends_it(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 45
    api.total_field = lambda page: None
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(45), None)
    assert sorted(api.pages_requested) == [1, 2, 3, 4, 5]


def shifted_by_one(page: int, size: int) -> list[dict[str, Any]]:
    """Pages after a reward was added to page 1 once page 1 had been read:
    reward 10 moves onto page 2, and the last reward onto a page of its own."""
    first = 1 if page == 1 else (page - 1) * size
    return [make_reward(i) for i in range(first, min(first + size, 31))]


async def test_a_reward_pushed_past_the_last_page_is_fetched(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # Page 1 promised 30; the later pages report 30 too (say, one was
    # added and another removed before page 1), so the walk plans 3 pages,
    # finds 29 new rewards on them, and asks for one more.
    api.total = 30
    api.rewards_for = shifted_by_one
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(30), None)
    assert sorted(api.pages_requested) == [1, 2, 3, 4]


async def test_a_page_past_the_end_that_is_empty_once_the_records_add_up_is_the_end(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # Pages 1-3 hold the 30 records announced, reward 10 among them twice,
    # and the page past the last is empty: the repeat was the server's own
    # (counted in its total), not a record pushed out of reach, so the
    # listing is whole with 29 distinct rewards. (Issue 18: it used to raise
    # "read it again", and reading it again gave the same answer for ever.)
    api.total = 30
    api.rewards_for = lambda page, size: [] if page == 4 else shifted_by_one(page, size)
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(29), None)
    # ceil(30 / 10) + 1 pages at most.
    assert sorted(api.pages_requested) == [1, 2, 3, 4]


async def test_a_page_past_the_end_that_is_empty_after_the_total_is_the_normal_end(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # No usable page count: the links lead one page past the last.
    api.total = 30
    api.pages_field = lambda page: None
    api.next_link = lambda page: f"https://x/?page={page + 1}"
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(30), None)
    assert_links_followed_to_page_3(api, form)


def assert_links_followed_to_page_3(api: FakeRewardsAPI, form: str) -> None:
    """Page 3 holds the last of the 30 announced: the page its link names is
    not needed. A plain listing never asks for it; an entered one may have
    started it when page 3 arrived, and cancels it once page 3 is read."""
    if form == "plain":
        assert api.pages_requested == [1, 2, 3]
    else:
        assert api.pages_requested in ([1, 2, 3], [1, 2, 3, 4])


async def test_a_link_to_a_page_of_repeats_raises(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 30
    api.pages_field = lambda page: None
    api.next_link = lambda page: f"https://x/?page={page + 1}"
    api.rewards_for = lambda page, size: (
        [make_reward(i) for i in range(page * 10 - 9, page * 10 + 1)]
        if page <= 2
        else [make_reward(20)]
    )
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(20)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (3, 30, 20)
    assert api.pages_requested[:3] == [1, 2, 3]
    assert len(api.pages_requested) <= 4


async def test_links_are_not_followed_past_the_request_budget(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # Every page links to the next, and every page has new rewards: the
    # total bounds the walk, which ends once the 30 announced were read.
    api.total = 30
    api.pages_field = lambda page: None
    api.next_link = lambda page: f"https://x/?page={page + 1}"
    api.rewards_for = lambda page, size: [
        make_reward(i) for i in range(page * 10 - 9, page * 10 + 1)
    ]
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(30), None)
    assert_links_followed_to_page_3(api, form)


async def test_the_pages_view_checks_the_same_promise(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 203

    async def page_3_is_empty(page: int) -> httpx.Response | None:
        if page == 3:
            return httpx.Response(200, json={"paging": {"total": 203, "pages": 21}, "rewards": []})
        return None

    api.hook = page_3_is_empty
    numbers: list[int] = []
    async with make_session() as session:
        with pytest.raises(ct.IncompleteListingError) as info:
            async for page in session.users.aiter_reward_pages("alice"):
                numbers.append(page.number)
    assert numbers == [1, 2]
    assert (info.value.page, info.value.seen) == (3, 20)


async def test_an_empty_page_ends_the_walk_at_once(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # One page at a time: nothing after the empty page is ever asked for.
    api.total = 50
    api.rewards_for = lambda page, size: (
        [] if page == 3 else [make_reward(i) for i in range(page * 10 - 9, page * 10 + 1)]
    )
    async with make_session() as session:
        listing = session.users.aiter_rewards("alice", max_concurrency=1)
        got, error = await read(listing, form)
    assert got == expected_ids(20)
    assert isinstance(error, ct.IncompleteListingError)
    assert api.pages_requested == [1, 2, 3]


async def test_without_a_total_or_page_count_a_page_of_repeats_raises(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # Nothing announced at all: the links are followed, and a page that only
    # repeats what was read is still a page the walk cannot explain.
    api.total_field = lambda page: None
    api.pages_field = lambda page: None
    api.next_link = lambda page: f"?page={page + 1}" if page < 3 else None
    api.rewards_for = lambda page, size: [make_reward(i) for i in range(1, 11)]
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(10)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (2, None, 10)
    assert str(error) == (
        "the listing ended short: page 2 held only rewards already read (is something "
        "between you and CrowdTwist ignoring the page number?), after 10 rewards; read it again"
    )


async def test_without_a_total_an_empty_last_announced_page_is_the_end(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total_field = lambda page: None
    api.pages_field = lambda page: 5
    api.rewards_for = lambda page, size: (
        [] if page == 5 else [make_reward(i) for i in range(page * 10 - 9, page * 10 + 1)]
    )
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(40), None)
    assert sorted(api.pages_requested) == [1, 2, 3, 4, 5]


async def test_running_out_of_links_short_of_the_total_says_so(
    api: FakeRewardsAPI, make_session: SessionFactory
) -> None:
    api.total = 50
    api.pages_field = lambda page: None
    api.next_link = lambda page: "?page=2" if page == 1 else None
    async with make_session() as session:
        got, error = await read(listing(session), "plain")
    assert got == expected_ids(20)
    assert isinstance(error, ct.IncompleteListingError)
    assert str(error) == (
        "the listing ended short: no page after page 2 was left to ask for, after 20 of "
        "the 50 rewards page 1 announced; read it again"
    )


async def test_pages_smaller_than_asked_for_are_counted_by_page_1(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # The server sends one reward a page whatever page_size says: page 1's
    # length, not the page size asked for, counts the pages.
    api.total = 3
    api.pages_field = lambda page: 3
    api.rewards_for = lambda page, size: [make_reward(page)] if page <= 3 else []
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(3), None)
    assert sorted(api.pages_requested) == [1, 2, 3]


async def test_an_empty_page_cancels_the_rest_of_its_window(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    # Plain, one request at a time, pages 2 and 3 make one window: page 3,
    # claimed with page 2, is never asked for once page 2 comes back empty.
    api.total = 50
    api.rewards_for = lambda page, size: (
        [] if page == 2 else [make_reward(i) for i in range(page * 10 - 9, page * 10 + 1)]
    )
    async with make_session() as session:
        listing = session.users.aiter_rewards("alice", max_concurrency=1)
        got, error = await read(listing, form)
    assert got == expected_ids(10)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (2, 50, 10)
    assert api.pages_requested == [1, 2]


@pytest.mark.parametrize(
    ("pages", "requested"),
    [
        # Page 1 gives no count: the links are followed, and the counts the
        # later pages give are read without tripping over the missing one.
        pytest.param(lambda page: None if page == 1 else 5, [1, 2, 3, 4, 5], id="later-only"),
        # Page 1 gives the count, the later pages leave it out.
        pytest.param(lambda page: 5 if page == 1 else None, [1, 2, 3, 4, 5], id="first-only"),
    ],
)
async def test_a_page_count_given_by_some_pages_only_is_read(
    api: FakeRewardsAPI,
    make_session: SessionFactory,
    form: str,
    pages: Any,
    requested: list[int],
) -> None:
    api.total = 45
    api.total_field = lambda page: None
    api.pages_field = pages
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(45), None)
    assert sorted(api.pages_requested) == requested


async def test_an_empty_page_1_short_of_its_total_raises(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 5
    api.rewards_for = lambda page, size: []
    async with make_session() as session:
        rewards = listing(session)
        got, error = await read(rewards, form)
        assert rewards.page_count == 1
    assert got == []
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (1, 5, 0)
    assert api.pages_requested == [1]


async def test_a_single_page_without_a_total_counts_one_page(
    api: FakeRewardsAPI, make_session: SessionFactory, form: str
) -> None:
    api.total = 7
    api.total_field = lambda page: None
    async with make_session() as session:
        rewards = listing(session)
        got, error = await read(rewards, form)
        assert (rewards.pages_read, rewards.page_count) == (1, 1)
    assert (got, error) == (expected_ids(7), None)
    assert api.pages_requested == [1]
