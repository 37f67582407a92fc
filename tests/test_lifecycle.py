"""The Session's lifecycle is httpx.AsyncClient's: where users put one, it holds.

A pytest-asyncio fixture, enter and exit in different tasks, an
AsyncExitStack, a session never entered: none of them may leave a task group
or cancel scope open across the user's code.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import anyio
import pytest
import pytest_asyncio

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist

from .conftest import ALICE, API_KEY, BASE_URL, pages_of
from .transport_support import ClosingTransport

_TRANSPORTS: weakref.WeakKeyDictionary[ct.Session, ClosingTransport] = weakref.WeakKeyDictionary()


def own_session(fake: FakeCrowdTwist) -> ct.Session:
    """A session that makes (and so closes) its own client, answered by *fake*."""
    transport = ClosingTransport(fake.transport().handle_async_request)
    session = ct.Session(API_KEY, base_url=BASE_URL, transport=transport)
    _TRANSPORTS[session] = transport
    return session


def client_of(session: ct.Session) -> ClosingTransport:
    """The transport of the client *session* made: closed when that client is."""
    return _TRANSPORTS[session]


@pytest_asyncio.fixture
async def session(fake: FakeCrowdTwist) -> AsyncIterator[ct.Session]:
    # pytest-asyncio runs a fixture's setup and teardown in different tasks:
    # leaving this block in the teardown task must not raise.
    async with own_session(fake) as session:
        yield session
    assert session.closed
    assert client_of(session).is_closed


@pytest.mark.asyncio
async def test_a_session_fixture_reads_a_listing(session: ct.Session, fake: FakeCrowdTwist) -> None:
    ids = [r.id async for r in session.users.aiter_rewards(ALICE, max_concurrency=3)]
    assert ids == [str(i) for i in range(1, 26)]
    assert sorted(pages_of(fake.requests)) == [1, 2, 3]


@pytest.mark.asyncio
async def test_a_session_fixture_reads_an_entered_listing(
    session: ct.Session, fake: FakeCrowdTwist
) -> None:
    async with session.users.aiter_rewards(ALICE) as rewards:
        ids = [r.id async for r in rewards]
    assert len(ids) == 25
    assert not session.closed


@pytest.mark.asyncio
async def test_enter_and_exit_in_different_asyncio_tasks(fake: FakeCrowdTwist) -> None:
    session = own_session(fake)
    entered = await asyncio.create_task(session.__aenter__())
    assert entered is session
    page = await session.users.get_rewards_page(ALICE, page=3)
    await asyncio.create_task(session.__aexit__(None, None, None))
    assert [r.id for r in page.rewards] == [str(i) for i in range(21, 26)]
    assert session.closed
    assert client_of(session).is_closed


@pytest.mark.anyio
async def test_startup_and_shutdown_hooks_in_different_tasks(fake: FakeCrowdTwist) -> None:
    # As a web framework runs its lifespan: startup in one task, requests in
    # others, shutdown in yet another.
    holder: list[ct.Session] = []

    async def startup() -> None:
        holder.append(await own_session(fake).__aenter__())

    async def request() -> None:
        assert len([r async for r in holder[0].users.aiter_rewards(ALICE)]) == 25

    async def shutdown() -> None:
        await holder[0].__aexit__(None, None, None)

    for hook in (startup, request, request, shutdown):
        async with anyio.create_task_group() as tg:
            tg.start_soon(hook)
    assert holder[0].closed
    assert sorted(pages_of(fake.requests)) == [1, 1, 2, 2, 3, 3]


@pytest.mark.anyio
async def test_an_async_exit_stack_holds_a_session(fake: FakeCrowdTwist) -> None:
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(own_session(fake))
        listing = await stack.enter_async_context(session.users.aiter_rewards(ALICE))
        assert len([r async for r in listing]) == 25
    assert session.closed


@pytest.mark.anyio
async def test_a_session_never_entered_works_until_aclose(fake: FakeCrowdTwist) -> None:
    session = own_session(fake)
    assert len([r async for r in session.users.aiter_rewards(ALICE)]) == 25
    async with session.users.aiter_rewards(ALICE) as rewards:
        assert len([r async for r in rewards]) == 25
    await session.aclose()
    assert session.closed
    assert client_of(session).is_closed
    with pytest.raises(RuntimeError, match="Session is closed"):
        await session.users.get_rewards_page(ALICE)
    with pytest.raises(RuntimeError, match="Session is closed"):
        await session.__aenter__()


@pytest.mark.anyio
async def test_a_session_is_entered_at_most_once(fake: FakeCrowdTwist) -> None:
    session = own_session(fake)
    async with session:
        with pytest.raises(RuntimeError, match="already been entered"):
            await session.__aenter__()
        # The failed second entry did not close it.
        assert not session.closed
    assert session.closed
