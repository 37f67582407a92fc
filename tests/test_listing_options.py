"""The listing options, spelled once (`ct.ListingOptions`) and checked once.

Every listing method takes them the same way and refuses the same mistakes
with the same words, before any request. A new paginated endpoint is one
declaration (`ListingSpec`) and inherits all of it: the redemption history,
declared beside the rewards, shows it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist

from .listing_support import session_on

pytestmark = pytest.mark.anyio

Listing = Callable[..., ct.AsyncPaginator[Any]]


@pytest.fixture
def fake() -> FakeCrowdTwist:
    return FakeCrowdTwist(seed=0)


@pytest.fixture
async def session(fake: FakeCrowdTwist) -> AsyncIterator[ct.Session]:
    async with session_on(fake) as session:
        yield session


def listings(session: ct.Session) -> dict[str, Listing]:
    """Each listing method, bound to alice, taking only the listing options."""
    return {
        "aiter_rewards": lambda **o: session.users.aiter_rewards(
            SANDBOX_EMAIL, id_type="email", **o
        ),
        "aiter_reward_pages": lambda **o: session.users.aiter_reward_pages(
            SANDBOX_EMAIL, id_type="email", **o
        ),
        "paginate": lambda **o: session.paginate(
            "/v2.2/users/1001/redemption_history", items="redemptions", **o
        ),
    }


METHODS = ["aiter_rewards", "aiter_reward_pages", "paginate"]

BAD_OPTIONS = [
    pytest.param({"page_size": 0}, ValueError, "page_size must be", id="page_size-0"),
    pytest.param({"page_size": "5"}, TypeError, "page_size must be an int", id="page_size-str"),
    pytest.param({"page_size": True}, TypeError, "page_size must be an int", id="page_size-bool"),
    pytest.param(
        {"max_concurrency": 0}, ValueError, "max_concurrency must be at least 1", id="conc-0"
    ),
    pytest.param({"start_page": 0}, ValueError, "start_page must be at least 1", id="start-0"),
    pytest.param(
        {"start_page": None}, TypeError, "start_page must be an int, got NoneType", id="start-none"
    ),
    pytest.param({"max_items": 0}, ValueError, "max_items must be at least 1", id="max-0"),
    pytest.param(
        {"max_items": 3, "page_size": 5},
        ValueError,
        r"max_items \(3\) must be at least page_size \(5\)",
        id="max-below-page",
    ),
    pytest.param(
        {"page_sise": 5}, TypeError, "unexpected keyword argument 'page_sise'", id="misspelt"
    ),
]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(("options", "error", "words"), BAD_OPTIONS)
async def test_every_listing_refuses_the_same_options_before_any_request(
    session: ct.Session,
    fake: FakeCrowdTwist,
    method: str,
    options: dict[str, object],
    error: type[Exception],
    words: str,
) -> None:
    with pytest.raises(error, match=words):
        listings(session)[method](**options)
    assert fake.requests == []


@pytest.mark.parametrize("method", METHODS)
async def test_every_listing_reads_the_same_options(
    session: ct.Session, fake: FakeCrowdTwist, method: str
) -> None:
    listing = listings(session)[method](page_size=2, start_page=3, max_items=4, max_concurrency=1)
    got = [item async for item in listing]
    pages = [request.page for request in fake.requests]
    sizes = {request.params.get("page_size") for request in fake.requests}
    # Pages 3 and 4 of 2 hold the 4 items; page 3 is read alone, page 4 after.
    assert pages == [3, 4]
    assert sizes == {"2"}
    assert listing.resume_page == 5
    if method == "aiter_reward_pages":
        assert [len(page.rewards) for page in got] == [2, 2]
    else:
        assert len(got) == 4


@pytest.mark.parametrize("method", METHODS)
async def test_a_small_max_items_is_the_page_size_sent_by_every_listing(
    session: ct.Session, fake: FakeCrowdTwist, method: str
) -> None:
    listing = listings(session)[method](max_items=3)
    [item async for item in listing]
    assert [(r.page, r.params.get("page_size")) for r in fake.requests] == [(1, "3")]


async def test_the_page_size_bound_is_the_endpoints_own(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    # User Rewards documents at most 10 a page; a path of the caller's has no bound.
    with pytest.raises(ValueError, match="page_size must be between 1 and 10, got 11"):
        session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email", page_size=11)
    with pytest.raises(ValueError, match="page_size must be between 1 and 10, got 11"):
        await session.users.get_rewards_page(SANDBOX_EMAIL, id_type="email", page_size=11)
    # A path of the caller's has no bound the SDK knows: it is sent, and the
    # server (here the fake, as CrowdTwist documents) refuses it.
    listing = session.paginate(
        "/v2.2/users/1001/redemption_history", items="redemptions", page_size=11, max_items=11
    )
    with pytest.raises(ct.BadRequestError):
        [item async for item in listing]
    assert fake.requests[0].params["page_size"] == "11"


async def test_options_passed_as_one_mapping(session: ct.Session, fake: FakeCrowdTwist) -> None:
    options: ct.ListingOptions = {"page_size": 5, "max_items": 10}
    rewards = [
        r async for r in session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email", **options)
    ]
    assert len(rewards) == 10
    assert [r.page for r in fake.requests] == [1, 2]


async def test_the_redemption_history_takes_every_listing_option(fake: FakeCrowdTwist) -> None:
    # Declared like `REWARDS` (one `ListingSpec`), `aiter_redemptions` gets the
    # whole walk: the options, the concurrent pages, the completeness checks.
    async with session_on(fake) as session:
        listing = session.users.aiter_redemptions(
            SANDBOX_EMAIL, id_type="email", page_size=10, max_concurrency=2
        )
        redemptions = [item async for item in listing]
        with pytest.raises(ValueError, match="page_size must be between 1 and 10, got 11"):
            session.users.aiter_redemptions(SANDBOX_EMAIL, id_type="email", page_size=11)
    # alice has 37 redemptions: pages 1 to 4 of 10, each once, every id once.
    assert len(redemptions) == 37
    assert len({item.id for item in redemptions}) == 37
    assert sorted(r.params["page"] for r in fake.requests) == ["1", "2", "3", "4"]
