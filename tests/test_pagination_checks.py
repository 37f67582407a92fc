"""A listing is never quietly short and never unbounded: page 1's promise is checked.

Each case is read in both forms (plain `async for` and `async with`), on
asyncio and trio, and asserts what the consumer got, what was raised, and
exactly which pages were asked for.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist

from .conftest import ALICE, SessionFactory, offer
from .listing_support import (
    PAGE_SIZE,
    expected_ids,
    form,
    numbered,
    page_of_ten,
    pages_asked,
    read,
    shifted_by_one,
)
from .sample_data import make_reward

pytestmark = pytest.mark.anyio

__all__ = ["form"]  # the fixture, from listing_support

CONCURRENCY = 4
#: What the issue allows a hostile page count: two windows and a little more.
REQUEST_BUDGET = 2 * CONCURRENCY + 2


def listing(session: ct.Session) -> ct.AsyncPaginator[ct.Reward]:
    return session.users.aiter_rewards(ALICE, max_concurrency=CONCURRENCY)


#: Page 3's answer, as (status, JSON body).
EMPTY_PAGE_3 = [
    pytest.param((200, {"paging": {"total": 203, "pages": 21}, "rewards": []}), id="empty-array"),
    pytest.param((200, {"paging": {"total": 203, "pages": 21}, "rewards": None}), id="null"),
    pytest.param(
        (400, {"error": "no_data", "message": "There are no rewards available."}), id="no_data"
    ),
    pytest.param(
        (400, {"error": "no_activities", "message": "There are no rewards available."}),
        id="no_activities",
    ),
]


@pytest.mark.parametrize("answer", EMPTY_PAGE_3)
async def test_an_empty_page_before_the_end_raises_after_the_rewards_before_it(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str, answer: tuple[int, object]
) -> None:
    offer(fake, 203)
    status, body = answer
    # Page 3 is asked for once (asserted below), so one scripted answer is enough.
    fake.script(status, json=body, page=3)
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
    asked = pages_asked(fake)
    assert len(set(asked)) == len(asked)
    assert max(asked) <= 3 + 2 * CONCURRENCY


async def test_a_server_that_ignores_the_page_number_raises(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # A cache in front of CrowdTwist answers page 1 whatever page is asked.
    offer(fake, 50)
    fake.lie(items=lambda page, _: numbered(1, 10))
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(10)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (2, 50, 10)
    assert "page 2 held only rewards already read" in str(error)
    assert sorted(pages_asked(fake)) == [1, 2, 3, 4, 5]


async def test_a_page_count_below_the_total_is_read_past(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # Page 1 says 3 pages and 50 rewards; page 3 links to page 4.
    offer(fake, 50)
    fake.lie(pages=lambda page, _: 3)
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(50), None)
    assert sorted(pages_asked(fake)) == [1, 2, 3, 4, 5]


async def test_a_first_page_larger_than_asked_that_holds_everything_ends_the_listing(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # The server sends 15 rewards on page 1 where the SDK expects 10 a page.
    offer(fake, 15)
    fake.lie(page_size=lambda page, _: 15)
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(15), None)
    assert pages_asked(fake) == [1]


async def test_the_docs_table_total_203_pages_10_gives_all_203(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 203)
    fake.lie(pages=lambda page, _: 10)
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(203), None)
    assert sorted(pages_asked(fake)) == list(range(1, 22))


async def test_a_billion_pages_of_the_same_five_rewards_end_at_once(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 5)
    fake.lie(pages=lambda page, _: 10**9, items=lambda page, _: numbered(1, 5))
    async with make_session() as session:
        got, error = await read(listing(session), form)
    # All 5 rewards the total promised: the page count is not followed.
    assert (got, error) == (expected_ids(5), None)
    assert pages_asked(fake) == [1]


async def test_a_billion_pages_of_the_same_rewards_without_a_total_stay_bounded(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    fake.lie(
        total=lambda page, _: None,
        pages=lambda page, _: 10**9,
        items=lambda page, _: numbered(1, 5),
    )
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(5)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (2, None, 5)
    asked = pages_asked(fake)
    assert len(asked) <= REQUEST_BUDGET
    assert len(set(asked)) == len(asked)


async def test_a_total_that_is_a_lie_stays_bounded(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # 30 rewards, announced as a billion.
    offer(fake, 30)
    fake.lie(total=lambda page, _: 10**9, pages=lambda page, _: 10**8)
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(30)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (4, 10**9, 30)
    assert len(pages_asked(fake)) <= 4 + REQUEST_BUDGET


async def test_without_a_total_the_page_count_is_the_promise(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 50)
    fake.lie(
        total=lambda page, _: None,
        items=lambda page, _: [] if page == 3 else page_of_ten(page),
    )
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(20)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (3, None, 20)
    assert "page 1 announced 5 pages" in str(error)


async def test_without_a_total_the_last_announced_page_ends_it(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 45)
    fake.lie(total=lambda page, _: None)
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(45), None)
    assert sorted(pages_asked(fake)) == [1, 2, 3, 4, 5]


async def test_a_reward_pushed_past_the_last_page_is_fetched(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # Page 1 promised 30; the later pages report 30 too (say, one was
    # added and another removed before page 1), so the walk plans 3 pages,
    # finds 29 new rewards on them, and asks for one more.
    offer(fake, 30)
    fake.lie(items=lambda page, _: shifted_by_one(page, PAGE_SIZE))
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(30), None)
    assert sorted(pages_asked(fake)) == [1, 2, 3, 4]


async def test_a_page_past_the_end_that_is_empty_once_the_records_add_up_is_the_end(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # Pages 1-3 hold the 30 records announced, reward 10 among them twice,
    # and the page past the last is empty: the repeat was the server's own
    # (counted in its total), not a record pushed out of reach, so the
    # listing is whole with 29 distinct rewards. (Issue 18: it used to raise
    # "read it again", and reading it again gave the same answer for ever.)
    offer(fake, 30)
    fake.lie(items=lambda page, _: [] if page == 4 else shifted_by_one(page, PAGE_SIZE))
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(29), None)
    # ceil(30 / 10) + 1 pages at most.
    assert sorted(pages_asked(fake)) == [1, 2, 3, 4]


def link_to_next(page: int, _: object) -> str:
    """A `next_page` on every page, the last included: one page past the end."""
    return f"https://x/?page={page + 1}"


async def test_a_page_past_the_end_that_is_empty_after_the_total_is_the_normal_end(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # No usable page count: the links lead one page past the last.
    offer(fake, 30)
    fake.lie(pages=lambda page, _: None, next_page=link_to_next)
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(30), None)
    assert_links_followed_to_page_3(fake, form)


def assert_links_followed_to_page_3(fake: FakeCrowdTwist, form: str) -> None:
    """Page 3 holds the last of the 30 announced: the page its link names is
    not needed. A plain listing never asks for it; an entered one may have
    started it when page 3 arrived, and cancels it once page 3 is read."""
    if form == "plain":
        assert pages_asked(fake) == [1, 2, 3]
    else:
        assert pages_asked(fake) in ([1, 2, 3], [1, 2, 3, 4])


async def test_a_link_to_a_page_of_repeats_raises(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 30)
    fake.lie(
        pages=lambda page, _: None,
        next_page=link_to_next,
        items=lambda page, _: page_of_ten(page) if page <= 2 else [make_reward(20)],
    )
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert got == expected_ids(20)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (3, 30, 20)
    asked = pages_asked(fake)
    assert asked[:3] == [1, 2, 3]
    assert len(asked) <= 4


async def test_links_are_not_followed_past_the_request_budget(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # Every page links to the next, and every page has new rewards: the
    # total bounds the walk, which ends once the 30 announced were read.
    offer(fake, 30)
    fake.lie(
        pages=lambda page, _: None,
        next_page=link_to_next,
        items=lambda page, _: page_of_ten(page),
    )
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(30), None)
    assert_links_followed_to_page_3(fake, form)


async def test_the_pages_view_checks_the_same_promise(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 203)
    fake.script(json={"paging": {"total": 203, "pages": 21}, "rewards": []}, page=3)
    numbers: list[int] = []
    async with make_session() as session:
        with pytest.raises(ct.IncompleteListingError) as info:
            async for page in session.users.aiter_reward_pages(ALICE):
                numbers.append(page.number)
    assert numbers == [1, 2]
    assert (info.value.page, info.value.seen) == (3, 20)


async def test_an_empty_page_ends_the_walk_at_once(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # One page at a time: nothing after the empty page is ever asked for.
    offer(fake, 50)
    fake.lie(items=lambda page, _: [] if page == 3 else page_of_ten(page))
    async with make_session() as session:
        listing = session.users.aiter_rewards(ALICE, max_concurrency=1)
        got, error = await read(listing, form)
    assert got == expected_ids(20)
    assert isinstance(error, ct.IncompleteListingError)
    assert pages_asked(fake) == [1, 2, 3]


async def test_without_a_total_or_page_count_a_page_of_repeats_raises(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # Nothing announced at all: the links are followed, and a page that only
    # repeats what was read is still a page the walk cannot explain.
    fake.lie(
        total=lambda page, _: None,
        pages=lambda page, _: None,
        next_page=lambda page, _: f"?page={page + 1}" if page < 3 else None,
        items=lambda page, _: numbered(1, 10),
    )
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
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    fake.lie(
        total=lambda page, _: None,
        pages=lambda page, _: 5,
        items=lambda page, _: [] if page == 5 else page_of_ten(page),
    )
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(40), None)
    assert sorted(pages_asked(fake)) == [1, 2, 3, 4, 5]


async def test_running_out_of_links_short_of_the_total_says_so(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 50)
    fake.lie(
        pages=lambda page, _: None,
        next_page=lambda page, _: "?page=2" if page == 1 else None,
    )
    async with make_session() as session:
        got, error = await read(listing(session), "plain")
    assert got == expected_ids(20)
    assert isinstance(error, ct.IncompleteListingError)
    assert str(error) == (
        "the listing ended short: no page after page 2 was left to ask for, after 20 of "
        "the 50 rewards page 1 announced; read it again"
    )


async def test_pages_smaller_than_asked_for_are_counted_by_page_1(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # The server sends one reward a page whatever page_size says: page 1's
    # length, not the page size asked for, counts the pages.
    offer(fake, 3)
    fake.lie(
        pages=lambda page, _: 3,
        items=lambda page, _: [make_reward(page)] if page <= 3 else [],
    )
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(3), None)
    assert sorted(pages_asked(fake)) == [1, 2, 3]


async def test_an_empty_page_cancels_the_rest_of_its_window(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # Plain, one request at a time, pages 2 and 3 make one window: page 3,
    # claimed with page 2, is never asked for once page 2 comes back empty.
    offer(fake, 50)
    fake.lie(items=lambda page, _: [] if page == 2 else page_of_ten(page))
    async with make_session() as session:
        listing = session.users.aiter_rewards(ALICE, max_concurrency=1)
        got, error = await read(listing, form)
    assert got == expected_ids(10)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (2, 50, 10)
    assert pages_asked(fake) == [1, 2]


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
    fake: FakeCrowdTwist,
    make_session: SessionFactory,
    form: str,
    pages: Callable[[int], int | None],
    requested: list[int],
) -> None:
    offer(fake, 45)
    fake.lie(total=lambda page, _: None, pages=lambda page, _: pages(page))
    async with make_session() as session:
        got, error = await read(listing(session), form)
    assert (got, error) == (expected_ids(45), None)
    assert sorted(pages_asked(fake)) == requested


async def test_an_empty_page_1_short_of_its_total_raises(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 5)
    fake.lie(items=lambda page, _: [])
    async with make_session() as session:
        rewards = listing(session)
        got, error = await read(rewards, form)
        assert rewards.page_count == 1
    assert got == []
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (1, 5, 0)
    assert pages_asked(fake) == [1]


async def test_a_single_page_without_a_total_counts_one_page(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 7)
    fake.lie(total=lambda page, _: None)
    async with make_session() as session:
        rewards = listing(session)
        got, error = await read(rewards, form)
        assert (rewards.pages_read, rewards.page_count) == (1, 1)
    assert (got, error) == (expected_ids(7), None)
    assert pages_asked(fake) == [1]
