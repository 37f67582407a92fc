"""Completeness counts what the server sent, and a listing says where to go on.

The listing defects of issue 18, each read through the public API on asyncio
and trio (and in both forms where the form matters): a later `start_page`
learns the server's page size instead of assuming one, repeats the server
counted in its `total` make no whole listing fail, a checkpoint loop always
moves, a listing that raised or was cancelled never ends quietly when read
again, and `resume_page` is None once any kind of walk is done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import anyio
import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist

from .conftest import ALICE, SessionFactory, offer, requested
from .listing_support import (
    PAGE_SIZE,
    expected_ids,
    form,
    numbered,
    pages_asked,
    read,
    shifted_by_one,
)
from .sample_data import make_reward

pytestmark = pytest.mark.anyio

__all__ = ["form"]  # the fixture, from listing_support

REWARDS = f"/v2.1/users/{ALICE}/rewards"


def sizes_asked(fake: FakeCrowdTwist) -> list[str | None]:
    """The `page_size` of every request that reached *fake*, answered or cancelled."""
    assert fake.in_flight == 0
    return [record.params.get("page_size") for record in (*fake.requests, *fake.cancelled)]


def ids_of(item: Any) -> str:
    return str(item.id if isinstance(item, ct.Reward) else item["id"])


def open_listing(session: ct.Session, entry: str, **options: Any) -> ct.AsyncPaginator[Any]:
    if entry == "paginate":
        return session.paginate(REWARDS, items="rewards", **options)
    return session.users.aiter_rewards(ALICE, **options)


async def drain(listing: ct.AsyncPaginator[Any], form: str) -> list[str]:
    got: list[str] = []
    async with listing if form == "entered" else contextlib.nullcontext():
        async for item in listing:
            got.append(ids_of(item))
    return got


def server_pages_by(fake: FakeCrowdTwist, size: int) -> None:
    """Make *fake* page by *size* where no `page_size` is asked for (the
    server's own default need not be the SDK's)."""
    # The fake cannot tell an unasked size from one asking for its default:
    # the tests that use this check `sizes_asked` to see that none was asked.
    fake.lie(page_size=lambda page, asked: size if asked == PAGE_SIZE else asked)


ENTRIES = [
    pytest.param("aiter_rewards", id="aiter_rewards"),
    pytest.param("paginate", id="paginate"),
]


# --- a later start page without page_size ----------------------------------------


@pytest.mark.parametrize("entry", ENTRIES)
async def test_a_later_start_page_learns_the_page_size_from_its_paging(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str, entry: str
) -> None:
    # The server pages by 5 when not asked: {"total": 23, "pages": 5}. Page 2
    # is full, so the 5 items before it are counted, and 18 are left.
    offer(fake, 23)
    server_pages_by(fake, 5)
    async with make_session() as session:
        listing = open_listing(session, entry, start_page=2)
        got = await drain(listing, form)
    assert got == [str(i) for i in range(6, 24)]
    assert sorted(pages_asked(fake)) == [2, 3, 4, 5]
    assert sizes_asked(fake) == [None] * 4
    assert listing.resume_page is None


async def test_a_later_start_page_that_is_the_last_learns_the_size_too(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    # Page 5 of 23 by 5 holds 3: (23 - 3) / 4 is the size, and pages agree.
    offer(fake, 23)
    server_pages_by(fake, 5)
    async with make_session() as session:
        listing = open_listing(session, "paginate", start_page=5)
        assert await drain(listing, "plain") == ["21", "22", "23"]
    assert pages_asked(fake) == [5]
    assert sizes_asked(fake) == [None]
    assert listing.resume_page is None


async def test_a_later_start_page_whose_paging_cannot_say_raises_before_any_item(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # Without `pages`, page 2 of 5 items in 23 is full (size 5) or the last
    # (size 18): the items before it cannot be counted, so nothing is promised.
    offer(fake, 23)
    server_pages_by(fake, 5)
    fake.lie(pages=lambda page, _: None)
    async with make_session() as session:
        got, error = await read(open_listing(session, "paginate", start_page=2), form)
    assert got == []
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (2, None, 0)
    assert str(error) == (
        "page 2's paging (total 23, pages None, 5 items on it) does not say the server's "
        "page size, so the items before page 2 cannot be counted; pass page_size= to "
        "start at page 2"
    )
    assert pages_asked(fake) == [2]
    assert sizes_asked(fake) == [None]


async def test_a_later_start_page_with_page_size_needs_no_paging(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 23)
    fake.lie(pages=lambda page, _: None)
    async with make_session() as session:
        listing = open_listing(session, "paginate", start_page=2, page_size=5)
        assert await drain(listing, "plain") == [str(i) for i in range(6, 24)]
    assert sizes_asked(fake) == ["5"] * 4


@pytest.mark.parametrize("chunk", [14, 20, 100])
@pytest.mark.parametrize("entry", ENTRIES)
async def test_the_checkpoint_loop_reads_everything_when_the_server_pages_by_7(
    fake: FakeCrowdTwist, make_session: SessionFactory, chunk: int, entry: str
) -> None:
    offer(fake, 30)
    server_pages_by(fake, 7)
    got: list[str] = []
    starts: list[int] = []
    page: int | None = 1
    async with make_session() as session:
        while page is not None and len(starts) < 10:
            starts.append(page)
            listing = open_listing(session, entry, start_page=page, max_items=chunk)
            got += await drain(listing, "plain")
            page = listing.resume_page
    assert page is None
    assert set(sizes_asked(fake)) == {None}
    assert list(dict.fromkeys(got)) == expected_ids(30)
    if chunk == 14:
        # Whole pages each time: nothing read twice.
        assert (got, starts) == (expected_ids(30), [1, 3, 5])
    elif chunk == 20:
        # Each chunk ends 6 items into its third page, which the next reads again.
        assert starts == [1, 3]
        assert len(got) == 30 + 6
    else:
        assert (got, starts) == (expected_ids(30), [1])


# --- repeats the server counted --------------------------------------------------


def with_two_repeats(page: int, size: int) -> list[dict[str, Any]]:
    """30 records, as the server lists them, with ids 9 and 10 twice."""
    listed = [*range(1, 11), 9, 10, *range(11, 29)]
    return [make_reward(i) for i in listed[(page - 1) * size : page * size]]


async def test_repeats_counted_in_the_total_make_a_whole_listing(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 30)
    fake.lie(items=lambda page, _: with_two_repeats(page, PAGE_SIZE))
    async with make_session() as session:
        listing = session.users.aiter_rewards(ALICE, max_concurrency=4)
        got, error = await read(listing, form)
    assert (got, error) == (expected_ids(28), None)
    # The page past the last is asked for once (an insertion could have
    # pushed a record there); it holds nothing, and the 30 records add up.
    assert sorted(pages_asked(fake)) == [1, 2, 3, 4]
    assert listing.resume_page is None


async def test_repeats_of_a_callers_key_make_a_whole_listing(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 30)
    fake.lie(items=lambda page, _: with_two_repeats(page, PAGE_SIZE))
    async with make_session() as session:
        listing = session.paginate(REWARDS, items="rewards", key=lambda item: int(item["id"]))
        got = await drain(listing, form)
    assert got == expected_ids(28)
    assert listing.resume_page is None


async def test_a_record_pushed_past_the_end_is_still_read(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # Reward 10 was met twice because one was inserted before it while the
    # total stayed (another went): reward 30 is on the page past the last.
    offer(fake, 30)
    fake.lie(items=lambda page, _: shifted_by_one(page, PAGE_SIZE))
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards(ALICE), form)
    assert (got, error) == (expected_ids(30), None)


async def test_records_that_do_not_add_up_still_raise(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # 29 records where 30 were announced, one of them a repeat: short by one.
    def short(page: int, size: int) -> list[dict[str, Any]]:
        listed = [*range(1, 11), 10, *range(11, 29)]
        return [make_reward(i) for i in listed[(page - 1) * size : page * size]]

    offer(fake, 30)
    fake.lie(items=lambda page, _: short(page, PAGE_SIZE))
    async with make_session() as session:
        got, error = await read(session.users.aiter_rewards(ALICE), form)
    assert got == expected_ids(28)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (4, 30, 28)


# --- max_items smaller than a page ------------------------------------------------


@pytest.mark.parametrize("entry", ENTRIES)
async def test_a_checkpoint_loop_smaller_than_a_page_moves(
    fake: FakeCrowdTwist, make_session: SessionFactory, entry: str
) -> None:
    offer(fake, 23)
    got: list[str] = []
    listings = 0
    page: int | None = 1
    async with make_session() as session:
        while page is not None and listings < 20:
            listing = open_listing(session, entry, start_page=page, max_items=5)
            got += await drain(listing, "plain")
            listings += 1
            page = listing.resume_page
    # Without a page size of its own, the listing asks for pages of 5.
    assert (got, listings, page) == (expected_ids(23), 5, None)
    assert set(sizes_asked(fake)) == {"5"}


async def test_max_items_below_an_explicit_page_size_is_refused_before_any_request(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    async with make_session() as session:
        for entry in ("aiter_rewards", "paginate"):
            with pytest.raises(
                ValueError, match=r"^max_items \(5\) must be at least page_size \(10\)"
            ):
                open_listing(session, entry, max_items=5, page_size=10)
    assert requested(fake) == 0


async def test_resume_page_refuses_to_go_round_in_circles(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    # The server sends pages of 10 whatever page_size was asked for.
    offer(fake, 23)
    fake.lie(
        items=lambda page, _: numbered(page * 10 - 9, min(page * 10, 23)),
        pages=lambda page, _: 3,
    )
    async with make_session() as session:
        listing = session.users.aiter_rewards(ALICE, max_items=5)
        assert await drain(listing, "plain") == expected_ids(5)
    with pytest.raises(ValueError, match="inside page 1, its first page") as raised:
        _ = listing.resume_page
    assert "would read the same rewards again" in str(raised.value)


# --- a listing that raised or was cancelled ----------------------------------------


async def test_a_listing_that_raised_raises_again(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    offer(fake, 50)
    # Twice, should the listing ask again: page 3 is gone, not gone once.
    for _ in range(2):
        fake.script(404, json={"error": "page_not_found", "message": "gone"}, page=3)
    got: list[str] = []
    async with make_session() as session:
        listing = session.users.aiter_rewards(ALICE)
        async with listing if form == "entered" else contextlib.nullcontext():
            with pytest.raises(ct.NotFoundError) as first:
                async for reward in listing:
                    got.append(reward.id)
            with pytest.raises(ct.NotFoundError) as again:
                async for reward in listing:
                    got.append(reward.id)
    assert got == expected_ids(20)
    assert again.value is first.value
    assert listing.resume_page == 3


async def test_a_listing_that_was_cancelled_cannot_go_on_quietly(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 203)
    got: list[str] = []
    async with make_session() as session:
        listing = session.users.aiter_rewards(ALICE)
        with anyio.CancelScope() as scope:
            async for reward in listing:
                got.append(reward.id)
                if len(got) == 10:
                    # Page 2 is asked for at the next step, which is cancelled.
                    scope.cancel()
        assert scope.cancelled_caught
        with pytest.raises(RuntimeError, match=r"^this listing was cancelled after 10 rewards"):
            async for reward in listing:
                got.append(reward.id)
    assert got == expected_ids(10)
    assert listing.resume_page == 2


# --- resume_page once the walk is done -----------------------------------------------


def pages_only(fake: FakeCrowdTwist) -> None:
    fake.lie(total=lambda page, _: None)


def links_only(fake: FakeCrowdTwist) -> None:
    fake.lie(pages=lambda page, _: None)


def links_and_no_total(fake: FakeCrowdTwist) -> None:
    fake.lie(pages=lambda page, _: None, total=lambda page, _: None)


def links_back_at_the_end(fake: FakeCrowdTwist) -> None:
    # The last page links to page 1, as a wrapping server might.
    fake.lie(
        pages=lambda page, _: None,
        total=lambda page, _: None,
        next_page=lambda page, _: f"https://x/?page={page + 1 if page < 3 else 1}",
    )


def links_past_the_total(fake: FakeCrowdTwist) -> None:
    # The last page links two pages on, past any page the total allows:
    # the walk ends there, with no page left to ask for.
    fake.lie(
        pages=lambda page, _: None,
        next_page=lambda page, _: f"https://x/?page={page + 1 if page < 3 else page + 2}",
    )


WALKS: list[Any] = [
    pytest.param(lambda fake: None, id="total-and-pages"),
    pytest.param(pages_only, id="pages-only"),
    pytest.param(links_only, id="links-and-total"),
    pytest.param(links_and_no_total, id="links-only"),
    pytest.param(links_back_at_the_end, id="links-back"),
    pytest.param(links_past_the_total, id="links-past-the-total"),
]


@pytest.mark.parametrize("total", [30, 25])
@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("start", [1, 2])
async def test_max_items_ending_at_the_last_item_leaves_nothing_to_resume(
    fake: FakeCrowdTwist,
    make_session: SessionFactory,
    form: str,
    walk: Callable[[FakeCrowdTwist], None],
    start: int,
    total: int,
) -> None:
    offer(fake, total)
    walk(fake)
    left = total - (start - 1) * 10
    async with make_session() as session:
        # With page_size: from page 2, a walk without `pages` could not count otherwise.
        listing = session.users.aiter_rewards(ALICE, start_page=start, max_items=left, page_size=10)
        got = await drain(listing, form)
        pages = session.users.aiter_reward_pages(
            ALICE, start_page=start, max_items=left, page_size=10
        )
        sizes = [len(page.rewards) async for page in pages]
    assert got == [str(i) for i in range((start - 1) * 10 + 1, total + 1)]
    assert sum(sizes) == left
    assert listing.resume_page is None
    assert pages.resume_page is None


@pytest.mark.parametrize("walk", WALKS)
async def test_a_walk_read_to_its_end_leaves_nothing_to_resume(
    fake: FakeCrowdTwist,
    make_session: SessionFactory,
    form: str,
    walk: Callable[[FakeCrowdTwist], None],
) -> None:
    offer(fake, 30)
    walk(fake)
    async with make_session() as session:
        listing = session.users.aiter_rewards(ALICE)
        got = await drain(listing, form)
    assert got == expected_ids(30)
    assert listing.resume_page is None


async def test_links_that_run_past_the_total_end_a_walk_with_repeats(
    fake: FakeCrowdTwist, make_session: SessionFactory, form: str
) -> None:
    # 30 records with two repeats, no page count, and page 3 links to page 5,
    # past any page the total allows: the walk ends with no page left to ask
    # for, the records add up, and nothing is left to resume.
    offer(fake, 30)
    fake.lie(items=lambda page, _: with_two_repeats(page, PAGE_SIZE))
    links_past_the_total(fake)
    async with make_session() as session:
        listing = session.users.aiter_rewards(ALICE)
        got, error = await read(listing, form)
    assert (got, error) == (expected_ids(28), None)
    assert pages_asked(fake) == [1, 2, 3]
    assert listing.resume_page is None
