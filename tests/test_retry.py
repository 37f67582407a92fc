"""The waits between attempts, observed on trio's virtual clock.

trio's MockClock jumps ahead whenever every task is asleep, so a test can let
the SDK sleep a minute and read exactly how long it slept, in no real time.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random

import httpx
import pytest
import respx
import trio
import trio.testing

import crowdtwist_async as ct
from crowdtwist_async.testing import reset_process_state, set_testing

from .conftest import API_KEY, BASE_URL

pytestmark = pytest.mark.anyio

REWARDS_URL = f"{BASE_URL}/v2.1/users/alice/rewards"
EMPTY_PAGE = {"paging": {"total": 0, "pages": 0}, "rewards": []}


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, object]]:
    return "trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}


@pytest.fixture
def at_the_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the full jitter at its ceiling: each backoff is the whole cap."""
    monkeypatch.setattr(random, "uniform", lambda low, high: high)


class Clocked:
    """Answers from a list of responses, noting the virtual time of each request."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.times.append(trio.current_time())
        return self.responses.pop(0)

    @property
    def waits(self) -> list[float]:
        return [later - earlier for earlier, later in itertools.pairwise(self.times)]


async def fetch(answers: Clocked, max_retries: int) -> ct.RewardsPage:
    with respx.mock() as router:
        router.get(REWARDS_URL).mock(side_effect=answers)
        async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=max_retries) as session:
            return await session.users.get_rewards_page("alice")


@pytest.mark.usefixtures("at_the_ceiling")
async def test_backoff_doubles_from_half_a_second_to_eight() -> None:
    answers = Clocked(*[httpx.Response(503)] * 7, httpx.Response(200, json=EMPTY_PAGE))
    page = await fetch(answers, max_retries=7)
    assert page.total == 0
    assert answers.waits == [0.5, 1, 2, 4, 8, 8, 8]


@pytest.mark.usefixtures("at_the_ceiling")
async def test_a_connection_error_backs_off_the_same_way() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        answers.times.append(trio.current_time())
        raise httpx.ConnectError("refused")

    answers = Clocked()
    with respx.mock() as router:
        router.get(REWARDS_URL).mock(side_effect=refuse)
        async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=6) as session:
            with pytest.raises(ct.APIConnectionError):
                await session.users.get_rewards_page("alice")
    assert answers.waits == [0.5, 1, 2, 4, 8, 8]


async def test_jitter_stays_within_the_ceiling() -> None:
    answers = Clocked(*[httpx.Response(503)] * 6, httpx.Response(200, json=EMPTY_PAGE))
    await fetch(answers, max_retries=6)
    ceilings = [0.5, 1, 2, 4, 8, 8]
    assert all(0 <= wait <= cap for wait, cap in zip(answers.waits, ceilings, strict=True))
    # Full jitter: the waits are not simply the ceilings.
    assert answers.waits != ceilings


@pytest.mark.parametrize(("seconds", "requests"), [(60, 2), (61, 1)])
async def test_retry_after_is_slept_on_up_to_a_minute(seconds: int, requests: int) -> None:
    answers = Clocked(
        httpx.Response(429, headers={"Retry-After": str(seconds)}),
        httpx.Response(200, json=EMPTY_PAGE),
    )
    if seconds <= 60:
        await fetch(answers, max_retries=2)
        assert answers.waits == [seconds]
    else:
        with pytest.raises(ct.RateLimitError) as info:
            await fetch(answers, max_retries=2)
        assert info.value.retry_after == seconds
    assert len(answers.times) == requests


@pytest.mark.usefixtures("fast_retries")
async def test_fast_retries_retries_without_waiting() -> None:
    answers = Clocked(
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "30"}),
        httpx.Response(200, json=EMPTY_PAGE),
    )
    start = trio.current_time()
    page = await fetch(answers, max_retries=2)
    assert page.total == 0
    assert answers.waits == [0, 0]
    assert trio.current_time() == start
    # A wait too long to make is still an error, not a retry.
    too_long = Clocked(httpx.Response(429, headers={"Retry-After": "61"}))
    with pytest.raises(ct.RateLimitError):
        await fetch(too_long, max_retries=2)
    assert len(too_long.times) == 1


@pytest.mark.usefixtures("at_the_ceiling")
async def test_each_retry_is_logged_with_its_wait_and_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers: list[httpx.Response | Exception] = [httpx.ConnectError("refused"), httpx.Response(503)]

    def answer(request: httpx.Request) -> httpx.Response:
        got = answers.pop(0) if answers else httpx.Response(200, json=EMPTY_PAGE)
        if isinstance(got, Exception):
            raise got
        return got

    caplog.set_level(logging.DEBUG, logger="crowdtwist_async")
    with respx.mock() as router:
        router.get(REWARDS_URL).mock(side_effect=answer)
        async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=2) as session:
            await session.users.get_rewards_page("alice")
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert retries == [
        "retrying GET /v2.1/users/alice/rewards in 0.50s after APIConnectionError (retry 1)",
        "retrying GET /v2.1/users/alice/rewards in 1.00s after HTTP 503 (retry 2)",
    ]


async def test_set_testing_as_a_context_manager_puts_back_what_it_found() -> None:
    def throttled() -> Clocked:
        return Clocked(
            httpx.Response(503, headers={"Retry-After": "30"}),
            httpx.Response(200, json=EMPTY_PAGE),
        )

    waits = []
    with set_testing(True):
        for switch in (None, False, None):
            with set_testing(switch) if switch is not None else contextlib.nullcontext():
                answers = throttled()
                await fetch(answers, max_retries=1)
                waits.append(answers.waits)
    answers = throttled()
    await fetch(answers, max_retries=1)
    waits.append(answers.waits)
    # On, off inside the inner block, on again after it, and off after the outer.
    assert waits == [[0], [30], [0], [30]]


async def test_set_testing_called_plainly_stays_set_until_called_again() -> None:
    waits = []
    try:
        for testing in (True, False):
            set_testing(testing)  # what it returns is left unused
            answers = Clocked(
                httpx.Response(503, headers={"Retry-After": "30"}),
                httpx.Response(200, json=EMPTY_PAGE),
            )
            await fetch(answers, max_retries=1)
            waits.append(answers.waits)
    finally:
        set_testing(False)
    assert waits == [[0], [30]]


async def test_reset_process_state_turns_the_test_switch_off() -> None:
    waits = []
    with set_testing(True):
        for reset in (False, True):
            if reset:
                reset_process_state()
            answers = Clocked(
                httpx.Response(503, headers={"Retry-After": "30"}),
                httpx.Response(200, json=EMPTY_PAGE),
            )
            await fetch(answers, max_retries=1)
            waits.append(answers.waits)
    assert waits == [[0], [30]]


@pytest.mark.usefixtures("at_the_ceiling")
async def test_the_backoff_and_the_longest_retry_after_are_the_sessions_to_set() -> None:
    retries = ct.Retries(max_retries=4, backoff_base=0.25, backoff_cap=1.0, max_retry_after=5.0)
    answers = Clocked(*[httpx.Response(503)] * 4, httpx.Response(200, json=EMPTY_PAGE))
    with respx.mock() as router:
        router.get(REWARDS_URL).mock(side_effect=answers)
        async with ct.Session(API_KEY, base_url=BASE_URL, retries=retries) as session:
            await session.users.get_rewards_page("alice")
            assert answers.waits == [0.25, 0.5, 1.0, 1.0]
            # A Retry-After past the session's 5 s is not slept on.
            answers = Clocked(httpx.Response(429, headers={"Retry-After": "6"}))
            router.get(REWARDS_URL).mock(side_effect=answers)
            with pytest.raises(ct.RateLimitError) as raised:
                await session.users.get_rewards_page("alice")
    assert raised.value.retry_after == 6.0
    assert len(answers.times) == 1
