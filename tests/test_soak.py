"""Cancellation soak over real HTTP: listings abandoned at random points.

200 listings broken out of after a random number of rewards and 200
cancelled from outside after a random time, each read plain or entered at
random, on httpx (asyncio and trio) and on aiohttp (asyncio), with warnings
as errors. No task of the SDK outlives a listing, and afterwards every pooled
connection has been handed back.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import anyio
import httpx
import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist

from .aiohttp_support import connections_lent, record_client_sessions
from .conftest import API_KEY, HttpBackend, Stack
from .wire_support import ALICE, sample_fake

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROUNDS = 200


@pytest.fixture
def anyio_backend(stack: Stack) -> str:
    return stack.loop


@pytest.fixture(scope="module")
def slow_server() -> Iterator[tuple[FakeCrowdTwist, str]]:
    app = sample_fake()
    # A little latency (0 to 4 ms), so cancellations land while requests are in flight.
    app.latency = app.jitter = 0.002
    with app.serve() as url:
        yield app, url


class Counted(httpx.AsyncBaseTransport):
    """A real transport whose responses are counted as they open and close.

    httpx hands a connection back to its pool when the response is closed,
    so opened == closed means no connection is left checked out.
    """

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.opened = 0
        self.closed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.opened += 1
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_ClosedOnce(self, response),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


class _ClosedOnce(httpx.AsyncByteStream):
    def __init__(self, counter: Counted, response: httpx.Response) -> None:
        self._counter = counter
        self._response = response
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._response.aiter_raw():
            yield chunk

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            self._counter.closed += 1
        await self._response.aclose()


def checked_out(made: list[aiohttp.ClientSession]) -> int:
    """How many connections the session's aiohttp client has lent out and not had back."""
    assert len(made) == 1
    return connections_lent(made[0])


async def test_cancellation_soak(
    slow_server: tuple[FakeCrowdTwist, str],
    http_backend: HttpBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, url = slow_server
    made = record_client_sessions(monkeypatch)
    rng = random.Random(20261122)
    # httpx's pool is observed through a counting transport; aiohttp's
    # connector keeps its own count.
    transport = Counted() if http_backend == "httpx" else None
    options: dict[str, Any] = (
        {"transport": transport} if transport is not None else {"http_backend": http_backend}
    )
    requests_before = len(app.requests)
    baseline = len(anyio.get_running_tasks())
    broken = cancelled = 0
    async with ct.Session(API_KEY, base_url=url, max_concurrency=6, **options) as session:
        for _ in range(ROUNDS):
            stop_after = rng.randrange(0, 200)
            seen = 0
            listing = session.users.aiter_rewards(ALICE, max_concurrency=rng.choice([1, 2, 4, 8]))
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
            listing = session.users.aiter_rewards(ALICE, max_concurrency=rng.choice([1, 3, 6]))
            with anyio.move_on_after(rng.uniform(0.0, 0.03)) as scope:
                async with listing if rng.random() < 0.5 else contextlib.nullcontext():
                    async for _reward in listing:
                        pass
            cancelled += scope.cancelled_caught
            assert len(anyio.get_running_tasks()) == baseline
        # Every response the pool handed out was closed, so handed back.
        if transport is not None:
            assert transport.opened == transport.closed
            assert transport.opened >= ROUNDS
        else:
            assert checked_out(made) == 0
        assert len(app.requests) - requests_before >= ROUNDS
    # The random points did exercise both paths, many times.
    assert broken > 150
    assert cancelled > 100
    assert len(anyio.get_running_tasks()) == baseline
