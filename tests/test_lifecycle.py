"""The Session's lifecycle is httpx.AsyncClient's: where users put one, it holds.

A pytest-asyncio fixture, enter and exit in different tasks, an
AsyncExitStack, a session never entered: none of them may leave a task group
or cancel scope open across the user's code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import anyio
import httpx
import pytest
import pytest_asyncio

import crowdtwist_async as ct

from .conftest import API_KEY, BASE_URL
from .fakeapi import FakeRewardsAPI


def own_session(api: FakeRewardsAPI) -> ct.Session:
    """A session that makes (and so closes) its own client."""
    return ct.Session(API_KEY, base_url=BASE_URL, transport=httpx.MockTransport(api.handle))


def client_of(session: ct.Session) -> httpx.AsyncClient:
    return session._shared.sender.client


@pytest_asyncio.fixture
async def session(api: FakeRewardsAPI) -> AsyncIterator[ct.Session]:
    # pytest-asyncio runs a fixture's setup and teardown in different tasks:
    # leaving this block in the teardown task must not raise.
    async with own_session(api) as session:
        yield session
    assert session.closed
    assert client_of(session).is_closed


@pytest.mark.asyncio
async def test_a_session_fixture_reads_a_listing(session: ct.Session, api: FakeRewardsAPI) -> None:
    ids = [r.id async for r in session.users.aiter_rewards("alice", max_concurrency=3)]
    assert ids == [str(i) for i in range(1, 26)]
    assert sorted(api.pages_requested) == [1, 2, 3]


@pytest.mark.asyncio
async def test_a_session_fixture_reads_an_entered_listing(
    session: ct.Session, api: FakeRewardsAPI
) -> None:
    async with session.users.aiter_rewards("alice") as rewards:
        ids = [r.id async for r in rewards]
    assert len(ids) == 25
    assert not session.closed


@pytest.mark.asyncio
async def test_enter_and_exit_in_different_asyncio_tasks(api: FakeRewardsAPI) -> None:
    session = own_session(api)
    entered = await asyncio.create_task(session.__aenter__())
    assert entered is session
    page = await session.users.get_rewards_page("alice", page=3)
    await asyncio.create_task(session.__aexit__(None, None, None))
    assert [r.id for r in page.rewards] == [str(i) for i in range(21, 26)]
    assert session.closed
    assert client_of(session).is_closed


@pytest.mark.anyio
async def test_startup_and_shutdown_hooks_in_different_tasks(api: FakeRewardsAPI) -> None:
    # As a web framework runs its lifespan: startup in one task, requests in
    # others, shutdown in yet another.
    holder: list[ct.Session] = []

    async def startup() -> None:
        holder.append(await own_session(api).__aenter__())

    async def request() -> None:
        assert len([r async for r in holder[0].users.aiter_rewards("alice")]) == 25

    async def shutdown() -> None:
        await holder[0].__aexit__(None, None, None)

    for hook in (startup, request, request, shutdown):
        async with anyio.create_task_group() as tg:
            tg.start_soon(hook)
    assert holder[0].closed
    assert sorted(api.pages_requested) == [1, 1, 2, 2, 3, 3]


@pytest.mark.anyio
async def test_an_async_exit_stack_holds_a_session(api: FakeRewardsAPI) -> None:
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(own_session(api))
        listing = await stack.enter_async_context(session.users.aiter_rewards("alice"))
        assert len([r async for r in listing]) == 25
    assert session.closed


@pytest.mark.anyio
async def test_a_session_never_entered_works_until_aclose(api: FakeRewardsAPI) -> None:
    session = own_session(api)
    assert len([r async for r in session.users.aiter_rewards("alice")]) == 25
    async with session.users.aiter_rewards("alice") as rewards:
        assert len([r async for r in rewards]) == 25
    await session.aclose()
    assert session.closed
    assert client_of(session).is_closed
    with pytest.raises(RuntimeError, match="Session is closed"):
        await session.users.get_rewards_page("alice")
    with pytest.raises(RuntimeError, match="Session is closed"):
        await session.__aenter__()


@pytest.mark.anyio
async def test_a_session_is_entered_at_most_once(api: FakeRewardsAPI) -> None:
    session = own_session(api)
    async with session:
        with pytest.raises(RuntimeError, match="already been entered"):
            await session.__aenter__()
        # The failed second entry did not close it.
        assert not session.closed
    assert session.closed
