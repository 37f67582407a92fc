"""Shared fixtures: both async backends, and sessions on a FakeCrowdTwist's transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal, NamedTuple

import httpx
import pytest
import redis.asyncio

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist, RecordedRequest, set_testing

from .redis_support import RedisServer, running_redis
from .sample_data import API_KEY as API_KEY
from .sample_data import make_reward
from .wire_support import Served, sample_fake

BASE_URL = "https://api123.crowdtwist.com"

#: The CrowdTwist ids of the sample program's alice and bob, whose rewards
#: the `fake` fixture numbers (the default `id_type` is the CrowdTwist id).
ALICE = "1001"
BOB = "1002"


@pytest.fixture(params=[pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


HttpBackend = Literal["httpx", "aiohttp"]


class Stack(NamedTuple):
    """An event loop and the HTTP stack a Session runs on it."""

    loop: str
    http: HttpBackend


#: Every stack a loopback test runs on. aiohttp runs on asyncio only, so there
#: is no trio-aiohttp stack to skip: a module on these stacks overrides
#: `anyio_backend` to return `stack.loop` (conftest's would multiply them by
#: both loops).
STACKS = [
    pytest.param(Stack("asyncio", "httpx"), id="asyncio-httpx"),
    pytest.param(Stack("trio", "httpx"), id="trio-httpx"),
    pytest.param(Stack("asyncio", "aiohttp"), id="asyncio-aiohttp"),
]


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> Stack:
    """Each stack in turn, for a module whose `anyio_backend` is `stack.loop`."""
    assert isinstance(request.param, Stack)
    return request.param


@pytest.fixture
def http_backend(stack: Stack, anyio_backend: object) -> HttpBackend:
    """The `http_backend=` of the stack the test runs on."""
    assert anyio_backend == stack.loop, "override anyio_backend to return stack.loop"
    return stack.http


def offer(fake: FakeCrowdTwist, count: int) -> None:
    """Give alice and bob *count* rewards, "1" to *count* in listing order (the
    docs' sample reward, renumbered); with 0 the listing answers `no_data`."""
    # The same records twice: the fake only reads them.
    records = [make_reward(number) for number in range(1, count + 1)]
    for user in fake.users[:2]:
        user.rewards = list(records)


@pytest.fixture
def fake() -> FakeCrowdTwist:
    """A FakeCrowdTwist taking `API_KEY`, on a fixed clock, with alice's and
    bob's rewards numbered "1" to "25" (`offer` gives them another count)."""
    fake = FakeCrowdTwist(
        api_key=API_KEY, base_url=BASE_URL, now=datetime(2026, 1, 15, 12, tzinfo=timezone.utc)
    )
    offer(fake, 25)
    return fake


def requested(fake: FakeCrowdTwist) -> int:
    """How many requests reached *fake* so far: answered, cancelled or in flight."""
    return len(fake.requests) + len(fake.cancelled) + fake.in_flight


def pages_of(records: Iterable[RecordedRequest]) -> list[int]:
    """The pages recorded requests asked for (`fake.requests`, `fake.cancelled`), in order."""
    numbers: list[int] = []
    for record in records:
        assert record.page is not None, f"{record.path} is not a paginated endpoint"
        numbers.append(record.page)
    return numbers


SessionFactory = Callable[..., ct.Session]


@pytest.fixture
async def make_session(fake: FakeCrowdTwist) -> AsyncIterator[SessionFactory]:
    """Sessions on their own httpx client over `fake.transport()`, at `BASE_URL`
    with `API_KEY`; the clients are closed after the test."""
    clients: list[httpx.AsyncClient] = []

    def factory(**kwargs: object) -> ct.Session:
        client = httpx.AsyncClient(transport=fake.transport())
        clients.append(client)
        options: dict[str, object] = {"api_key": API_KEY, "base_url": BASE_URL}
        options.update(kwargs)
        return ct.Session(http_client=client, **options)  # type: ignore[arg-type]

    yield factory
    for client in clients:
        await client.aclose()


@pytest.fixture
def server() -> Served:
    """A fresh sample program, counting each page's requests as they arrive."""
    return Served(sample_fake())


@pytest.fixture
def url(server: Served) -> Iterator[str]:
    """`server`'s fake on a loopback port (uvicorn), for this test."""
    with server.fake.serve() as base_url:
        yield base_url


@pytest.fixture
def fast_retries() -> Iterator[None]:
    """Retries without their waits, for this test only (`set_testing`)."""
    with set_testing(True):
        yield


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, on a free loopback port."""
    with running_redis(tmp_path) as server:
        yield server


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    """The test's own client of `redis_server`, decoding replies to str."""
    client = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()
