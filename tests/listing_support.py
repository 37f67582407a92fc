"""What test_pagination, test_pagination_checks and test_listing_counts share:
numbered rewards, the two forms of reading a listing (the `form` fixture and
`read`), the pages a listing asked a FakeCrowdTwist for, and pages shifted by
an insert."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist

from .conftest import pages_of
from .sample_data import make_reward

#: The rewards listing's page size when none is asked for (the fake's, as CrowdTwist's).
PAGE_SIZE = 10


@asynccontextmanager
async def session_on(fake: FakeCrowdTwist) -> AsyncIterator[ct.Session]:
    """A Session on *fake*'s in-process transport, with its key and base URL."""
    async with ct.Session(
        api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport()
    ) as session:
        yield session


def expected_ids(n: int) -> list[str]:
    """The ids of rewards "1" to *n*, in listing order."""
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


def numbered(first: int, last: int) -> list[dict[str, Any]]:
    """Rewards "first" to "last", as `offer` numbers them."""
    return [make_reward(i) for i in range(first, last + 1)]


def page_of_ten(page: int) -> list[dict[str, Any]]:
    """Page *page* of pages of ten numbered rewards, however many were offered."""
    return numbered(page * 10 - 9, page * 10)


def pages_asked(fake: FakeCrowdTwist) -> list[int]:
    """Every page the listing asked *fake* for: the answered ones in the order
    answered (the order asked, where the walk asks one page at a time), then
    the ones it cancelled."""
    # Counted once the listing is done: a page still in flight is in neither list.
    assert fake.in_flight == 0
    return pages_of(fake.requests) + pages_of(fake.cancelled)


def shifted_by_one(page: int, size: int) -> list[dict[str, Any]]:
    """Pages after a reward was added to page 1 once page 1 had been read:
    reward 10 moves onto page 2, and the last reward onto a page of its own."""
    first = 1 if page == 1 else (page - 1) * size
    return [make_reward(i) for i in range(first, min(first + size, 31))]
