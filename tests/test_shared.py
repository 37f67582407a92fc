"""One Session shared by many tasks: bounded in flight, paced, fair, never stuck.

Observed at the server: the FakeCrowdTwist served on a real loopback port
counts the requests in flight and records when each one arrived.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import anyio
import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist

pytestmark = pytest.mark.anyio


@pytest.fixture
def served() -> Iterator[tuple[FakeCrowdTwist, str]]:
    fake = FakeCrowdTwist(seed=0, latency=0.005, jitter=0.003)
    with fake.serve(port=0) as url:
        yield fake, url


@pytest.mark.slow
async def test_200_tasks_never_exceed_the_session_limit(
    served: tuple[FakeCrowdTwist, str],
) -> None:
    fake, url = served
    counts: list[int] = []
    async with ct.Session(fake.api_key, base_url=url, max_concurrency=8) as session:

        async def member(n: int) -> None:
            if n % 4 == 0:
                listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
                counts.append(len([r async for r in listing]))
            else:
                page = await session.users.get_rewards_page(
                    SANDBOX_EMAIL, id_type="email", page=1 + n % 21
                )
                counts.append(len(page.rewards))

        async with anyio.create_task_group() as tg:
            for n in range(200):
                tg.start_soon(member, n)
    assert len(counts) == 200
    assert counts.count(203) == 50
    assert fake.max_in_flight == 8
    assert len(fake.requests) == 150 + 50 * 21


@pytest.mark.slow
async def test_a_rate_limit_holds_over_two_seconds(served: tuple[FakeCrowdTwist, str]) -> None:
    fake, url = served
    answered = [0] * 40
    async with ct.Session(fake.api_key, base_url=url, max_concurrency=16, rate_limit=50) as session:

        async def hammer(task: int) -> None:
            while True:
                await session.users.get_rewards_page(SANDBOX_EMAIL, id_type="email")
                answered[task] += 1

        with anyio.move_on_after(2.0):
            async with anyio.create_task_group() as tg:
                for task in range(40):
                    tg.start_soon(hammer, task)
    served_count = len([r for r in fake.requests if r.status == 200])
    # Paced: at most 50 a second for 2 seconds (and the one a burst allows),
    # within 10%. How many fewer a loaded machine serves is its own speed, so
    # the floor is the pacer's order instead: the 40 tasks asked first, were
    # given the first 40 start times (0.8 s of them), and none was starved.
    assert served_count <= 110
    assert min(answered) >= 1


@pytest.mark.slow
async def test_abandoned_listings_neither_starve_nor_block_others(
    served: tuple[FakeCrowdTwist, str],
) -> None:
    fake, url = served
    rng = random.Random(7)
    finished: list[int] = []
    async with ct.Session(fake.api_key, base_url=url, max_concurrency=4, rate_limit=400) as session:

        async def quitter() -> None:
            stop, seen = rng.randrange(1, 60), 0
            async for _ in session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email"):
                seen += 1
                if seen >= stop:
                    break

        async def reader(slot: int) -> None:
            listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
            assert len([r async for r in listing]) == 203
            finished.append(slot)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                for slot in range(30):
                    tg.start_soon(quitter)
                    tg.start_soon(reader, slot)
    assert sorted(finished) == list(range(30))


@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param(0, ValueError, id="zero"),
        pytest.param(-5, ValueError, id="negative"),
        pytest.param(float("nan"), ValueError, id="nan"),
        pytest.param("50", TypeError, id="string"),
    ],
)
def test_bad_rate_limits(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="rate_limit"):
        ct.Session("key", base_url="https://x.crowdtwist.com", rate_limit=value)  # type: ignore[arg-type]
