"""Cancellation soak over real HTTP: listings abandoned at random points.

200 listings broken out of after a random number of rewards and 200
cancelled from outside after a random time, on asyncio and on trio, with
warnings as errors. Afterwards no task of the SDK is left, and every pooled
connection has been handed back.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator

import anyio
import httpx
import pytest

import crowdtwist_async as ct

from .conftest import API_KEY
from .faultserver import Fault, FaultServer, serve

pytestmark = pytest.mark.anyio

ROUNDS = 200


@pytest.fixture(scope="module")
def slow_server() -> Iterator[tuple[FaultServer, str]]:
    app = FaultServer(total=200)
    # A little latency, so cancellations land while requests are in flight.
    app.script = lambda page, attempt: Fault(delay=random.uniform(0.0, 0.004))
    with serve(app) as url:
        yield app, url


def pool_state(transport: httpx.AsyncHTTPTransport) -> tuple[str, list[bool]]:
    # httpx keeps its httpcore pool private; reading it is the only way to see
    # that no connection is still checked out.
    pool = transport._pool
    return repr(pool), [c.is_idle() or c.is_closed() for c in pool.connections]


async def test_cancellation_soak(slow_server: tuple[FaultServer, str]) -> None:
    _, url = slow_server
    rng = random.Random(20261122)
    transport = httpx.AsyncHTTPTransport()
    baseline = len(anyio.get_running_tasks())
    broken = cancelled = 0
    async with ct.Session(API_KEY, base_url=url, transport=transport, max_concurrency=6) as session:
        for _ in range(ROUNDS):
            stop_after = rng.randrange(0, 200)
            seen = 0
            async for _reward in session.users.aiter_rewards(
                "alice", max_concurrency=rng.choice([1, 2, 4, 8])
            ):
                seen += 1
                if seen > stop_after:
                    broken += 1
                    break
        for _ in range(ROUNDS):
            with anyio.move_on_after(rng.uniform(0.0, 0.03)) as scope:
                async for _reward in session.users.aiter_rewards(
                    "alice", max_concurrency=rng.choice([1, 3, 6])
                ):
                    pass
            cancelled += scope.cancelled_caught
        gc.collect()
        with anyio.fail_after(10):
            while len(anyio.get_running_tasks()) > baseline:
                await anyio.sleep(0.01)
        summary, returned = pool_state(transport)
        assert "Requests: 0 active, 0 queued" in summary
        assert all(returned), summary
    # The random points did exercise both paths, many times.
    assert broken > 150
    assert cancelled > 100
    assert len(anyio.get_running_tasks()) == baseline
