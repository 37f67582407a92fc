"""Shared fixtures: both async backends, and a fake rewards API on a MockTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

import crowdtwist_async as ct

from .fakeapi import FakeRewardsAPI

API_KEY = "sk-test-Zq8vN3pL0xW2"
BASE_URL = "https://api123.crowdtwist.com"


@pytest.fixture(params=[pytest.param("asyncio", id="asyncio"), pytest.param("trio", id="trio")])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


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
