"""A Session's options as value objects: `Session(retries=, limits=)` beside
the shortcuts `max_retries=`, `max_concurrency=` and `rate_limit=`, each said
once, checked before any request, and each taking effect."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist

from .conftest import ALICE, SessionFactory, offer

pytestmark = pytest.mark.anyio


class Forbidden(httpx.AsyncBaseTransport):
    """A transport that fails the test if a request reaches it."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request should be sent, got {request.method} {request.url}")


class Unlimited:
    async def acquire(self) -> None:
        pass


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param(
            {"retries": ct.Retries(), "max_retries": 1},
            ValueError,
            "pass retries=Retries(...) or max_retries=, not both (Retries(max_retries=...) says it once)",
            id="retries-and-max_retries",
        ),
        pytest.param(
            {"limits": ct.Limits(), "max_concurrency": 2},
            ValueError,
            "pass limits=Limits(...) or max_concurrency=, not both (Limits(max_concurrency=...) says it once)",
            id="limits-and-max_concurrency",
        ),
        pytest.param(
            {"limits": ct.Limits(), "rate_limit": 5.0},
            ValueError,
            "pass limits=Limits(...) or rate_limit=, not both (Limits(rate_limit=...) says it once)",
            id="limits-and-rate_limit",
        ),
        pytest.param(
            {"limits": ct.Limits(rate_limit=5.0), "rate_limit": Unlimited()},
            ValueError,
            "pass a RateLimiter as rate_limit= or limits=Limits(rate_limit=...), not both",
            id="limits-rate-and-a-limiter",
        ),
        pytest.param(
            {"retries": 3},
            TypeError,
            "retries must be a crowdtwist_async.Retries, got int",
            id="retries-not-a-Retries",
        ),
        pytest.param(
            {"limits": {"max_concurrency": 2}},
            TypeError,
            "limits must be a crowdtwist_async.Limits, got dict",
            id="limits-not-a-Limits",
        ),
        pytest.param(
            {"max_retries": -1},
            ValueError,
            "max_retries must be at least 0, got -1",
            id="max_retries",
        ),
        pytest.param(
            {"max_concurrency": 0},
            ValueError,
            "max_concurrency must be at least 1, got 0",
            id="max_concurrency",
        ),
    ],
)
def test_options_are_said_once_and_checked_before_any_request(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        ct.Session("KEY", base_url="https://api1.crowdtwist.com", transport=Forbidden(), **options)
    assert str(raised.value) == message


def test_the_session_holds_the_options_it_was_given() -> None:
    retries = ct.Retries(max_retries=5, backoff_base=0.1, backoff_cap=2.0, max_retry_after=9.0)
    limits = ct.Limits(max_concurrency=7, rate_limit=3.0, max_body_bytes=4096)
    session = ct.Session(
        "KEY", base_url="https://api1.crowdtwist.com", retries=retries, limits=limits
    )
    assert (session.retries, session.limits, session.max_concurrency) == (retries, limits, 7)
    shortcut = ct.Session(
        "KEY",
        base_url="https://api1.crowdtwist.com",
        max_retries=0,
        max_concurrency=2,
        rate_limit=1.5,
    )
    assert shortcut.retries == ct.Retries(max_retries=0)
    assert shortcut.limits == ct.Limits(max_concurrency=2, rate_limit=1.5)
    default = ct.Session("KEY", base_url="https://api1.crowdtwist.com")
    assert (default.retries, default.limits) == (ct.Retries(), ct.Limits())


@pytest.mark.usefixtures("fast_retries")
@pytest.mark.parametrize(("max_retries", "requests"), [(0, 1), (3, 4)])
async def test_retries_set_how_often_a_request_is_tried(
    fake: FakeCrowdTwist, make_session: SessionFactory, max_retries: int, requests: int
) -> None:
    fake.failure_rate = 1.0  # every request: 503
    async with make_session(retries=ct.Retries(max_retries=max_retries)) as session:
        with pytest.raises(ct.ServerError):
            await session.users.get_rewards_page(ALICE)
    assert [r.status for r in fake.requests] == [503] * requests


async def test_limits_bound_the_requests_in_flight(
    fake: FakeCrowdTwist, make_session: SessionFactory
) -> None:
    offer(fake, 100)
    fake.latency = 0.05
    async with make_session(limits=ct.Limits(max_concurrency=2)) as session:
        got = [reward.id async for reward in session.users.aiter_rewards(ALICE)]
    assert len(got) == 100
    # The session's limit is also each listing's default: two at a time.
    assert fake.max_in_flight == 2


async def test_limits_set_the_body_cap(fake: FakeCrowdTwist, make_session: SessionFactory) -> None:
    offer(fake, 10)
    async with make_session(limits=ct.Limits(max_body_bytes=2000)) as session:
        with pytest.raises(ct.ResponseDecodeError) as raised:
            await session.users.get_rewards_page(ALICE)
    assert raised.value.status_code == 200
    assert "the limit is 2000 bytes" in str(raised.value)
    assert len(fake.requests) == 1
