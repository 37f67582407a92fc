"""Shared fixtures: both async backends, and a fake rewards API on a MockTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Literal, NamedTuple

import httpx
import pytest
import redis.asyncio

import crowdtwist_async as ct
from crowdtwist_async.testing import set_testing

from .fakeapi import FakeRewardsAPI
from .redis_support import RedisServer, running_redis

API_KEY = "sk-test-Zq8vN3pL0xW2"
BASE_URL = "https://api123.crowdtwist.com"


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


@pytest.fixture
def api() -> FakeRewardsAPI:
    return FakeRewardsAPI(api_key=API_KEY)


SessionFactory = Callable[..., ct.Session]


@pytest.fixture
async def make_session(api: FakeRewardsAPI) -> AsyncIterator[SessionFactory]:
    """Sessions wired to `api` through httpx's MockTransport; closed after the test."""
    clients: list[httpx.AsyncClient] = []

    def factory(**kwargs: object) -> ct.Session:
        client = httpx.AsyncClient(transport=httpx.MockTransport(api.handle))
        clients.append(client)
        options: dict[str, object] = {"api_key": API_KEY, "base_url": BASE_URL}
        options.update(kwargs)
        return ct.Session(http_client=client, **options)  # type: ignore[arg-type]

    yield factory
    for client in clients:
        await client.aclose()


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
