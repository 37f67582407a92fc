"""Abandoned listings leave nothing behind: no task, no open response, no warning.

The asyncio tests run under pytest-asyncio and watch the loop's exception
handler, which is where "Task was destroyed but it is pending" goes (it is
logged, not warned). Warnings of any kind are errors in this suite.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
import pytest_asyncio

import crowdtwist_async as ct

from .conftest import API_KEY, BASE_URL
from .sample_data import make_reward


class SlowBody(httpx.AsyncByteStream):
    """A page body that sends half of itself, then stalls until closed."""

    def __init__(self, ledger: Ledger, content: bytes) -> None:
        self.ledger = ledger
        self.content = content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.content[: len(self.content) // 2]
        await anyio.sleep_forever()

    async def aclose(self) -> None:
        self.ledger.closed += 1


class Ledger:
    """Counts response bodies opened and closed by the client."""

    def __init__(self) -> None:
        self.opened = 0
        self.closed = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        rewards = [make_reward(i) for i in range(page * 10 - 9, page * 10 + 1)]
        body = httpx.Response(
            200, json={"paging": {"total": 1000, "pages": 100}, "rewards": rewards}
        ).content
        self.opened += 1
        if page == 1:
            self.closed += 1
            return httpx.Response(200, content=body)
        return httpx.Response(200, stream=SlowBody(self, body))


async def drain() -> None:
    for _ in range(10):
        gc.collect()
        await asyncio.sleep(0.01)


Watched = tuple[Ledger, httpx.AsyncClient]


@pytest_asyncio.fixture
async def watched() -> AsyncIterator[Watched]:
    """A client on a fresh Ledger. Afterwards the event loop must have reported
    nothing: "Task was destroyed but it is pending" is logged, not warned."""
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _l, ctx: errors.append(ctx))
    ledger = Ledger()
    async with httpx.AsyncClient(transport=httpx.MockTransport(ledger.handle)) as client:
        yield ledger, client
    await drain()
    assert errors == []


async def until(condition: Any) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.001)


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["break", "cancel", "raise", "aclose"])
async def test_abandoning_an_entered_listing_mid_body_cleans_up(how: str, watched: Watched) -> None:
    ledger, client = watched
    async with ct.Session(API_KEY, base_url=BASE_URL, http_client=client) as session:
        rewards = session.users.aiter_rewards("alice", max_concurrency=4)
        with anyio.move_on_after(0.05 if how == "cancel" else 5):
            try:
                async with rewards:
                    async for _ in rewards:
                        # Page 1 was read whole; pages 2-5 stall mid-body.
                        await until(lambda: ledger.opened == 5)
                        if how == "break":
                            break
                        if how == "raise":
                            raise LookupError
                        if how == "aclose":
                            await rewards.aclose()
                            assert ledger.closed == 5
                        else:
                            await anyio.sleep_forever()
            except LookupError:
                assert how == "raise"
        # Leaving the block closed every response body the client opened:
        # no connection is left checked out of the pool, and no task runs.
        assert (ledger.opened, ledger.closed) == (5, 5)
        assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["break", "cancel", "aclose-elsewhere"])
async def test_abandoning_a_plain_listing_mid_body_cleans_up(how: str, watched: Watched) -> None:
    ledger, client = watched
    async with ct.Session(API_KEY, base_url=BASE_URL, http_client=client) as session:
        rewards = session.users.aiter_rewards("alice", max_concurrency=4)
        if how == "break":
            async for _ in rewards:
                break
            # Nothing was started past page 1, and nothing will be.
            await drain()
            assert (ledger.opened, ledger.closed) == (1, 1)
        elif how == "cancel":
            with anyio.move_on_after(0.05):
                async for _ in rewards:
                    pass
            assert (ledger.opened, ledger.closed) == (5, 5)
        else:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_read_all, rewards)
                await until(lambda: ledger.opened == 5)
                await rewards.aclose()
            assert (ledger.opened, ledger.closed) == (5, 5)
        assert asyncio.all_tasks() == {asyncio.current_task()}


async def _read_all(rewards: ct.AsyncPaginator[ct.Reward]) -> None:
    async for _ in rewards:
        pass


@pytest.mark.slow
@pytest.mark.asyncio
async def test_closing_the_session_ends_a_listing_in_flight(watched: Watched) -> None:
    ledger, client = watched
    session = ct.Session(API_KEY, base_url=BASE_URL, http_client=client)
    rewards = session.users.aiter_rewards("alice", max_concurrency=3)
    async with rewards:
        assert (await anext(rewards)).id == "1"
        await until(lambda: ledger.opened == 4)
        await session.aclose()
        # Each stalled page ended at once, each as the error it is.
        await until(lambda: ledger.closed == 4)
        with pytest.raises(RuntimeError, match="Session was closed"):
            async for _ in rewards:
                pass
    assert asyncio.all_tasks() == {asyncio.current_task()}
    with pytest.raises(RuntimeError, match="Session is closed"):
        await anext(session.users.aiter_rewards("alice"))


@pytest.mark.anyio
async def test_trio_and_asyncio_leave_no_task_after_break(anyio_backend: str) -> None:
    ledger = Ledger()
    client = httpx.AsyncClient(transport=httpx.MockTransport(ledger.handle))
    baseline = len(anyio.get_running_tasks())
    async with ct.Session(API_KEY, base_url=BASE_URL, http_client=client) as session:
        for _ in range(20):
            async for _ in session.users.aiter_rewards("alice", max_concurrency=2):
                break
            # Without the garbage collector's help: nothing was left to collect.
            assert len(anyio.get_running_tasks()) == baseline
            assert ledger.opened == ledger.closed
    await client.aclose()
