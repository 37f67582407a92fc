"""Behaviour that mutation testing found unguarded, each on every HTTP stack.

- `with_options(timeout=)` reaches the per-step limits httpx (and aiohttp)
  apply, not only the total around the attempt: longer and shorter.
- A request waiting for the rate limiter holds no concurrency slot.
- The body cap is 10 MiB (10,485,760 bytes), inclusive, whether the length
  is declared or the body streams in chunks.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import pytest

import crowdtwist_async as ct

from .conftest import API_KEY, HttpBackend, Stack
from .wire_support import ALICE, Served

pytestmark = pytest.mark.anyio

#: The documented default body cap: 10 MiB.
CAP = 10_485_760


@pytest.fixture
def anyio_backend(stack: Stack) -> str:
    return stack.loop


# -- with_options(timeout=) -------------------------------------------------


@pytest.mark.slow
async def test_a_longer_timeout_from_with_options_lets_a_slow_answer_through(
    server: Served, url: str, http_backend: HttpBackend
) -> None:
    # Every answer starts 1.5 s late: past the session's 0.5 s, within 5 s.
    server.fake.script(delay=1.5, times=None)
    async with ct.Session(
        API_KEY, base_url=url, timeout=0.5, max_retries=0, http_backend=http_backend
    ) as session:
        with pytest.raises(ct.APITimeoutError):
            await session.users.get_rewards_page(ALICE)
        patient = session.with_options(timeout=5.0)
        page = await patient.users.get_rewards_page(ALICE)
    assert len(page.rewards) == 10
    assert patient.timeout == ct.Timeout(total=5.0, connect=3.0)
    assert server.attempts[1] == 2


class Silent:
    """A TCP server that reads and never answers: a TLS handshake stalls."""

    def __init__(self) -> None:
        self.connections = 0

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            self.connections += 1
            try:
                while await stream.receive():
                    pass
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return


@pytest.fixture
async def silent() -> AsyncIterator[tuple[Silent, str]]:
    handler = Silent()
    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1") as listener,
        anyio.create_task_group() as group,
    ):
        group.start_soon(listener.serve, handler.handle)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        yield handler, f"https://127.0.0.1:{port}"
        group.cancel_scope.cancel()


@pytest.mark.slow
async def test_a_shorter_connect_timeout_from_with_options_is_applied(
    silent: tuple[Silent, str], http_backend: HttpBackend
) -> None:
    handler, url = silent
    # No total limit: only the per-step connect limit can end an attempt, so
    # each copy's is what httpx (or aiohttp) must have been given. (The
    # session's own 30 s is not waited for: cancelling an attempt in its TLS
    # handshake leaks the socket in httpcore.)
    lenient = ct.Timeout(total=None, connect=30.0)
    async with ct.Session(
        API_KEY, base_url=url, timeout=lenient, max_retries=0, http_backend=http_backend
    ) as session:
        waited: list[float] = []
        for connect in (0.5, 1.5):
            strict = session.with_options(timeout=ct.Timeout(total=None, connect=connect))
            started = anyio.current_time()
            # Generous: far below the session's 30 s, far above either limit.
            with anyio.fail_after(10), pytest.raises(ct.APITimeoutError) as info:
                await strict.users.get_rewards_page("alice")
            waited.append(anyio.current_time() - started)
            assert str(info.value) == "GET /v2.1/users/alice/rewards timed out (ConnectTimeout)"
    # Each copy waited its own limit: not less (and not the session's 30 s).
    assert waited[0] >= 0.5
    assert waited[1] >= 1.5
    assert handler.connections == 2


# -- the rate limiter before the slot -----------------------------------------


class Gate:
    """A rate limiter that lets the second caller through at once and holds
    the first until told: the order a shared limiter may well choose."""

    def __init__(self) -> None:
        self.callers = 0
        self.first_waiting = anyio.Event()
        self.release_first = anyio.Event()
        self.passed: list[int] = []

    async def acquire(self) -> None:
        self.callers += 1
        me = self.callers
        if me == 1:
            self.first_waiting.set()
            await self.release_first.wait()
        self.passed.append(me)


async def test_a_request_waiting_for_the_limiter_holds_no_slot(
    server: Served, url: str, http_backend: HttpBackend
) -> None:
    gate = Gate()
    pages: dict[int, int] = {}
    async with ct.Session(
        API_KEY,
        base_url=url,
        max_concurrency=1,
        rate_limit=gate,
        max_retries=0,
        http_backend=http_backend,
    ) as session:

        async def fetch(number: int) -> None:
            page = await session.users.get_rewards_page(ALICE, page=number)
            pages[number] = len(page.rewards)

        # Generous: the requests take milliseconds; a held slot takes forever.
        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                group.start_soon(fetch, 1)
                await gate.first_waiting.wait()
                # The only slot is free while request 1 waits in acquire().
                await fetch(2)
                assert pages == {2: 10}
                gate.release_first.set()
    assert pages == {1: 10, 2: 10}
    assert gate.passed == [2, 1]
    assert sorted(server.attempts.items()) == [(1, 1), (2, 1)]


# -- the body cap ----------------------------------------------------------------


def json_of_size(size: int) -> bytes:
    """A JSON string exactly *size* bytes long."""
    return b'"' + b"a" * (size - 2) + b'"'


@pytest.mark.parametrize("framing", ["declared", "streamed"])
async def test_a_body_of_exactly_10_mib_is_accepted(
    server: Served, url: str, http_backend: HttpBackend, framing: str
) -> None:
    body = json_of_size(CAP)
    chunk_size = 65536 if framing == "streamed" else None
    server.fake.script(body=body, chunk_size=chunk_size, times=None)
    async with ct.Session(API_KEY, base_url=url, http_backend=http_backend) as session:
        got = await session.get_json("/v2/users/alice/points")
    assert got == "a" * (CAP - 2)
    assert len(server.fake.requests) == 1


@pytest.mark.parametrize("framing", ["declared", "streamed"])
async def test_a_body_one_byte_over_10_mib_is_refused(
    server: Served, url: str, http_backend: HttpBackend, framing: str
) -> None:
    body = json_of_size(CAP + 1)
    chunk_size = 65536 if framing == "streamed" else None
    server.fake.script(body=body, chunk_size=chunk_size, times=None)
    async with ct.Session(API_KEY, base_url=url, http_backend=http_backend) as session:
        with pytest.raises(ct.ResponseDecodeError) as info:
            await session.get_json("/v2/users/alice/points")
    error = info.value
    assert error.status_code == 200
    detail = "10485761 bytes declared" if framing == "declared" else "over 10485761 bytes"
    assert str(error) == (
        f"HTTP 200 response body is too large ({detail}; the limit is 10485760 bytes)"
    )
    # The same body would come back: not retried.
    assert len(server.fake.requests) == 1


def test_the_default_cap_is_10_mib() -> None:
    assert ct.Limits().max_body_bytes == CAP
    assert json.loads(json_of_size(7)) == "aaaaa"
