"""`Session(rate_limit=...)` with a `RateLimiter` object: asked once per attempt,
retries included, and what it raises ends the request unsent."""

from __future__ import annotations

import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist

pytestmark = pytest.mark.anyio


class Counting:
    """A limiter that lets everything through and counts who asked, and when."""

    def __init__(self, fake: FakeCrowdTwist) -> None:
        self.fake = fake
        self.acquired = 0
        #: How many requests the fake had answered at each acquire.
        self.answered_before: list[int] = []

    async def acquire(self) -> None:
        self.acquired += 1
        self.answered_before.append(len(self.fake.requests))


class Down:
    """A limiter whose store cannot be reached."""

    def __init__(self) -> None:
        self.acquired = 0

    async def acquire(self) -> None:
        self.acquired += 1
        raise ct.RateLimiterError("the rate limiter's Redis did not answer within 1.0 s")


@pytest.fixture
def fake() -> FakeCrowdTwist:
    return FakeCrowdTwist()


def session_for(fake: FakeCrowdTwist, limiter: ct.RateLimiter) -> ct.Session:
    return ct.Session(
        api_key=fake.api_key,
        base_url=fake.base_url,
        transport=fake.transport(),
        rate_limit=limiter,
        max_concurrency=1,
    )


async def test_every_attempt_asks_the_limiter_retries_included(
    fake: FakeCrowdTwist, fast_retries: None
) -> None:
    limiter = Counting(fake)
    fake.script(503, json={"error": "internal_error", "message": "busy"})
    async with session_for(fake, limiter) as session:
        coupons = await session.users.usable_coupons(SANDBOX_EMAIL, id_type="email")
    assert len(coupons) == 3
    assert [r.status for r in fake.requests] == [503, 200]
    assert limiter.acquired == 2
    # Asked before each attempt: before the first was answered, then before the retry.
    assert limiter.answered_before == [0, 1]


async def test_a_listing_asks_once_per_page(fake: FakeCrowdTwist) -> None:
    limiter = Counting(fake)
    async with session_for(fake, limiter) as session:
        rewards = [r async for r in session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")]
    assert len(rewards) == 203
    assert limiter.acquired == 21 == len(fake.requests)
    assert limiter.answered_before == list(range(21))
    assert session.limits.rate_limit is None


async def test_what_the_limiter_raises_ends_the_request_unsent(fake: FakeCrowdTwist) -> None:
    limiter = Down()
    async with session_for(fake, limiter) as session:
        with pytest.raises(ct.RateLimiterError) as caught:
            await session.users.get_rewards_page(SANDBOX_EMAIL, id_type="email")
    assert str(caught.value) == "the rate limiter's Redis did not answer within 1.0 s"
    assert isinstance(caught.value, ct.CrowdTwistError)
    assert limiter.acquired == 1  # not retried
    assert fake.requests == []


async def test_a_listing_raises_what_the_limiter_raises(fake: FakeCrowdTwist) -> None:
    async with session_for(fake, Down()) as session:
        listing = session.paginate("/v2.2/users/1001/redemption_history", items="redemptions")
        with pytest.raises(ct.RateLimiterError):
            [item async for item in listing]
    assert fake.requests == []


def test_a_number_is_still_requests_per_second() -> None:
    session = ct.Session(api_key="k", base_url="https://api1.crowdtwist.com", rate_limit=50)
    assert session.limits.rate_limit == 50


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("50", TypeError, "rate_limit must be requests per second or None, got '50'"),
        (0, ValueError, "rate_limit must be positive and finite, got 0"),
        (object, TypeError, "rate_limit must be requests per second or None, got <class 'object'>"),
    ],
)
def test_anything_else_is_refused(value: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        ct.Session(api_key="k", base_url="https://api1.crowdtwist.com", rate_limit=value)  # type: ignore[arg-type]
    assert str(caught.value) == message
