"""Cancellation soak over real HTTP: listings abandoned at random points.

200 listings broken out of after a random number of rewards and 200
cancelled from outside after a random time, each read plain or entered at
random, on asyncio and on trio, with warnings as errors. No task of the SDK
outlives a listing, and afterwards every pooled connection has been handed
back.
"""

from __future__ import annotations

import contextlib
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
            listing = session.users.aiter_rewards("alice", max_concurrency=rng.choice([1, 2, 4, 8]))
            entered = rng.random() < 0.5
            async with listing if entered else contextlib.nullcontext():
                async for _reward in listing:
                    seen += 1
                    if seen > stop_after:
                        broken += 1
                        break
            if not entered:
                # A plain listing has nothing running between items.
                assert len(anyio.get_running_tasks()) == baseline
        for _ in range(ROUNDS):
            listing = session.users.aiter_rewards("alice", max_concurrency=rng.choice([1, 3, 6]))
            with anyio.move_on_after(rng.uniform(0.0, 0.03)) as scope:
                async with listing if rng.random() < 0.5 else contextlib.nullcontext():
                    async for _reward in listing:
                        pass
            cancelled += scope.cancelled_caught
            assert len(anyio.get_running_tasks()) == baseline
        summary, returned = pool_state(transport)
        assert "Requests: 0 active, 0 queued" in summary
        assert all(returned), summary
    # The random points did exercise both paths, many times.
    assert broken > 150
    assert cancelled > 100
    assert len(anyio.get_running_tasks()) == baseline
