"""One Session, one event loop: on a second one it says so, on both HTTP stacks.

A Session's pooled connections belong to the loop they were made on. Under a
second `asyncio.run` (or trio's, then asyncio's) they fail obscurely ("Event
loop is closed", a hang); the Session refuses instead, before anything is
sent, and `aclose()` on the second loop closes the session without touching
the first loop's connections.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Literal

import anyio
import pytest

import crowdtwist_async as ct

from .conftest import API_KEY, HttpBackend
from .wire_support import ALICE, Served

OTHER_LOOP = (
    "this Session's connections belong to another event loop: "
    "make a Session on the loop that uses it"
)


@pytest.fixture
def abandoned() -> Iterator[None]:
    """Collect what a session left on a dead loop, without its ResourceWarnings.

    The first loop's connections cannot be closed once that loop is gone: the
    garbage collector closes their sockets, and says so.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        yield
        gc.collect()


def rewards_of(session: ct.Session) -> Callable[[], Coroutine[Any, Any, int]]:
    async def use() -> int:
        page = await session.users.get_rewards_page(ALICE)
        return len(page.rewards)

    return use


@pytest.mark.parametrize("http_backend", ["httpx", "aiohttp"])
def test_a_second_asyncio_run_is_refused_before_sending(
    server: Served, url: str, http_backend: HttpBackend, abandoned: None
) -> None:
    session = ct.Session(API_KEY, base_url=url, http_backend=http_backend, max_retries=2)
    use = rewards_of(session)
    assert asyncio.run(use()) == 10
    with pytest.raises(RuntimeError) as info:
        asyncio.run(use())
    assert str(info.value) == OTHER_LOOP
    # A copy made by with_options shares the connections, and the refusal.
    copy = session.with_options(max_retries=0)
    with pytest.raises(RuntimeError, match=r"^this Session's connections belong"):
        asyncio.run(rewards_of(copy)())
    # Nothing was sent, nothing retried, no "Event loop is closed" chained.
    assert len(server.fake.requests) == 1
    assert info.value.__context__ is None
    assert info.value.__cause__ is None
    # Closing on a third loop neither crashes nor touches the first's sockets.
    asyncio.run(session.aclose())
    assert session.closed
    with pytest.raises(RuntimeError, match=r"^this Session is closed; make a new one$"):
        asyncio.run(use())


@pytest.mark.parametrize("order", [("trio", "asyncio"), ("asyncio", "trio")])
def test_trio_then_asyncio_and_back_is_refused(
    server: Served, url: str, order: tuple[str, str], abandoned: None
) -> None:
    session = ct.Session(API_KEY, base_url=url, max_retries=2)
    use = rewards_of(session)
    first, second = order
    assert anyio.run(use, backend=first) == 10
    with pytest.raises(RuntimeError) as info:
        anyio.run(use, backend=second)
    assert str(info.value) == OTHER_LOOP
    assert len(server.fake.requests) == 1
    anyio.run(session.aclose, backend=second)
    assert session.closed


@pytest.mark.parametrize("http_backend", ["httpx", "aiohttp"])
def test_a_session_made_outside_any_loop_runs_on_the_first(
    server: Served, url: str, http_backend: HttpBackend
) -> None:
    # Made before a loop runs, used and closed on one: no refusal, no leak.
    session = ct.Session(API_KEY, base_url=url, http_backend=http_backend)

    async def main() -> int:
        async with session:
            first = await rewards_of(session)()
            second = await rewards_of(session)()
        return first + second

    assert asyncio.run(main()) == 20
    assert len(server.fake.requests) == 2


@pytest.mark.parametrize("auth", ["query", "header"])
@pytest.mark.parametrize("http_backend", ["httpx", "aiohttp"])
def test_closing_on_the_loop_that_used_it_closes_the_connections(
    url: str, http_backend: HttpBackend, auth: Literal["query", "header"]
) -> None:
    # Under `filterwarnings = error`: a socket left open would fail this test.
    session = ct.Session(API_KEY, base_url=url, http_backend=http_backend, auth=auth)
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(rewards_of(session)()) == 10
        loop.run_until_complete(session.aclose())
    finally:
        loop.close()
    assert session.closed
