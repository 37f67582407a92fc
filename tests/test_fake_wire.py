"""FakeCrowdTwist's wire faults, the same in process as on a port.

`script()`'s `reset_after`, `trickle`, `chunk_size`, `echo`, a body that is a
function of the real answer's, and `times`; and `serve_raw()` for bytes no
HTTP server would send. Each fault is shown through `fake.transport()` and
through `fake.serve()` (a uvicorn port), on asyncio and trio: the bytes a
client receives, the exception it gets, and the SDK error and attempts a
Session makes of it.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio
import httpx
import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist

from .conftest import API_KEY
from .wire_support import ALICE, Loopback, loopback, sample_fake

pytestmark = pytest.mark.anyio

Where = Literal["transport", "port"]

#: Alice's rewards, page 1 and page 2, with the key.
PAGE_1 = f"/v2.1/users/{ALICE}/rewards?api_key={API_KEY}"
PAGE_2 = f"/v2.1/users/{ALICE}/rewards?page=2&api_key={API_KEY}"
#: What h11 says of a connection dropped before the body's declared end.
CUT = "peer closed connection without sending complete message body"


@pytest.fixture(scope="module")
def port() -> Iterator[Loopback]:
    with loopback(sample_fake()) as app:
        yield app


@pytest.fixture(params=["transport", "port"])
def where(request: pytest.FixtureRequest) -> Where:
    value: Where = request.param
    return value


@pytest.fixture
def fake(where: Where, port: Loopback) -> FakeCrowdTwist:
    """A fresh sample program, reached in process or on the module's port."""
    fake = sample_fake()
    port.target = fake
    return fake


@pytest.fixture
def base_url(fake: FakeCrowdTwist, where: Where, port: Loopback) -> str:
    return fake.base_url if where == "transport" else port.url


@asynccontextmanager
async def client(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    transport = fake.transport() if where == "transport" else None
    async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
        yield http


@asynccontextmanager
async def session(
    fake: FakeCrowdTwist, where: Where, base_url: str, **options: Any
) -> AsyncIterator[ct.Session]:
    transport = fake.transport() if where == "transport" else None
    async with ct.Session(API_KEY, base_url=base_url, transport=transport, **options) as made:
        yield made


async def real_body(fake: FakeCrowdTwist, target: str) -> bytes:
    """What the fake truly answers to *target*, asked in process."""
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as http:
        response = await http.get(target)
    assert response.status_code == 200
    return response.content


async def received(http: httpx.AsyncClient, target: str) -> tuple[list[bytes], Exception | None]:
    """The raw pieces of *target*'s body as read, and what reading it raised."""
    pieces: list[bytes] = []
    async with http.stream("GET", target) as response:
        try:
            async for piece in response.aiter_raw():
                pieces.append(piece)
        except httpx.TransportError as exc:
            return pieces, exc
    return pieces, None


def statuses(fake: FakeCrowdTwist) -> list[tuple[int | None, int | None]]:
    return [(request.page, request.status) for request in fake.requests]


# -- reset_after ----------------------------------------------------------------


async def test_reset_after_sends_that_many_bytes_then_drops(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> None:
    whole = await real_body(fake, PAGE_1)
    fake.script(reset_after=100, page=1)
    async with client(fake, where, base_url) as http:
        pieces, error = await received(http, PAGE_1)
    assert b"".join(pieces) == whole[:100]
    assert type(error) is httpx.RemoteProtocolError
    assert str(error) == f"{CUT} (received 100 bytes, expected {len(whole)})"
    # The in-process look at the real page is recorded too.
    assert statuses(fake) == [(1, 200), (1, 200)]


async def test_a_drop_after_the_whole_body_is_no_failure(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> None:
    whole = await real_body(fake, PAGE_1)
    fake.script(reset_after=len(whole), page=1)
    async with client(fake, where, base_url) as http:
        pieces, error = await received(http, PAGE_1)
    assert (b"".join(pieces), error) == (whole, None)


async def test_a_drop_without_a_length_fails_even_after_every_byte(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> None:
    whole = await real_body(fake, PAGE_1)
    fake.script(reset_after=len(whole), chunk_size=1000, page=1)
    async with client(fake, where, base_url) as http:
        pieces, error = await received(http, PAGE_1)
    assert b"".join(pieces) == whole
    assert type(error) is httpx.RemoteProtocolError
    assert str(error) == f"{CUT} (incomplete chunked read)"


async def test_a_session_retries_a_dropped_page_once_and_gives_up_on_every_time(
    fake: FakeCrowdTwist, where: Where, base_url: str, fast_retries: None
) -> None:
    fake.script(reset_after=100, page=1)
    fake.script(reset_after=100, page=2, times=None)
    async with session(fake, where, base_url, max_retries=2) as made:
        first = await made.users.get_rewards_page(ALICE, page=1)
        with pytest.raises(ct.APIConnectionError) as info:
            await made.users.get_rewards_page(ALICE, page=2)
    assert len(first.rewards) == 10
    assert type(info.value) is ct.APIConnectionError
    assert "failed: RemoteProtocolError: peer closed connection" in str(info.value)
    assert statuses(fake) == [(1, 200), (1, 200), (2, 200), (2, 200), (2, 200)]


# -- trickle ----------------------------------------------------------------------


async def test_trickle_sends_the_body_16_bytes_at_a_time(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> None:
    whole = await real_body(fake, PAGE_1)
    fake.script(trickle=0.001, page=1)
    started = anyio.current_time()
    async with client(fake, where, base_url) as http:
        pieces, error = await received(http, PAGE_1)
    assert (b"".join(pieces), error) == (whole, None)
    # The pauses are the behaviour: one between each two of the pieces.
    assert anyio.current_time() - started >= 0.001 * (len(whole) // 16 - 1)
    if where == "transport":
        # A socket may merge pieces; in process each arrives as it was sent.
        assert [len(piece) for piece in pieces[:-1]] == [16] * (len(pieces) - 1)
        assert len(pieces) == -(-len(whole) // 16)


async def test_trickle_with_a_chunk_size_sends_pieces_of_that_size(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> None:
    whole = await real_body(fake, PAGE_1)
    fake.script(trickle=0.001, chunk_size=500, page=1)
    async with client(fake, where, base_url) as http:
        pieces, error = await received(http, PAGE_1)
    assert (b"".join(pieces), error) == (whole, None)
    if where == "transport":
        assert [len(piece) for piece in pieces] == [
            min(500, len(whole) - start) for start in range(0, len(whole), 500)
        ]


async def test_a_trickle_slower_than_the_timeout_is_a_timeout(
    fake: FakeCrowdTwist, where: Where, base_url: str, fast_retries: None
) -> None:
    # 16 bytes every 50 ms: the page would take seconds; the limit is 0.3 s.
    fake.script(trickle=0.05, page=1, times=None)
    async with session(fake, where, base_url, timeout=0.3, max_retries=1) as made:
        with pytest.raises(ct.APITimeoutError) as info:
            await made.users.get_rewards_page(ALICE)
    assert type(info.value) is ct.APITimeoutError
    # Both attempts got their status line: they were answered, then cut off.
    assert statuses(fake) == [(1, 200), (1, 200)]


# -- chunk_size: no length ------------------------------------------------------------


async def test_chunk_size_sends_the_body_without_a_length(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> None:
    whole = await real_body(fake, PAGE_1)
    fake.script(chunk_size=100, page=1)
    async with client(fake, where, base_url) as http, http.stream("GET", PAGE_1) as response:
        pieces = [piece async for piece in response.aiter_raw()]
    assert "content-length" not in response.headers
    assert response.headers["transfer-encoding"] == "chunked"
    assert b"".join(pieces) == whole
    if where == "transport":
        assert [len(piece) for piece in pieces] == [
            min(100, len(whole) - start) for start in range(0, len(whole), 100)
        ]


async def test_a_stream_over_the_cap_without_a_length_is_refused(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> None:
    fake.script(body=b" " * 1001, chunk_size=100, times=None)
    limits = ct.Limits(max_body_bytes=1000)
    async with session(fake, where, base_url, limits=limits, max_retries=2) as made:
        with pytest.raises(ct.ResponseDecodeError) as info:
            await made.get_json("/v2/users/alice/points")
    assert info.value.status_code == 200
    assert str(info.value) == (
        "HTTP 200 response body is too large (over 1001 bytes; the limit is 1000 bytes)"
    )
    # The same body would come back: not retried.
    assert statuses(fake) == [(None, 200)]


# -- bodies: encodings, rewrites, echoes ------------------------------------------------


async def test_a_content_encoding_that_does_not_match_the_bytes(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> None:
    fake.script(body=b"xx", headers={"Content-Encoding": "gzip"}, page=1, times=None)
    async with session(fake, where, base_url, max_retries=2) as made:
        with pytest.raises(ct.ResponseDecodeError) as info:
            await made.users.get_rewards_page(ALICE)
    assert info.value.status_code == 200
    assert str(info.value) == (
        "HTTP 200 response body could not be decoded (gzip): "
        "Error -3 while decompressing data: incorrect header check"
    )
    assert statuses(fake) == [(1, 200)]


async def test_a_body_function_rewrites_the_real_answer(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> None:
    fake.script(body=gzip.compress, headers={"Content-Encoding": "gzip"}, page=1)
    fake.script(207, body=lambda body: body.replace(b'"rewards"', b'"prizes"'), page=2)
    async with client(fake, where, base_url) as http:
        zipped = await http.get(PAGE_1)
        renamed = await http.get(PAGE_2)
        plain = await http.get(PAGE_1)
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content
    assert json.loads(zipped.content)["rewards"][0]["id"] == plain.json()["rewards"][0]["id"]
    assert renamed.status_code == 207
    assert set(renamed.json()) == {"paging", "prizes"}


async def test_echo_sends_the_request_target_back(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> None:
    fake.script(500, echo=True, headers={"Content-Type": "text/plain"})
    async with client(fake, where, base_url) as http:
        response = await http.get(PAGE_2)
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain"
    assert response.content == PAGE_2.encode()


async def test_a_script_without_a_body_sends_the_real_answer(
    fake: FakeCrowdTwist, where: Where, base_url: str
) -> None:
    whole = await real_body(fake, PAGE_1)
    fake.script(delay=0.0, headers={"X-Scripted": "yes"}, page=1)
    fake.script(503, page=1)
    async with client(fake, where, base_url) as http:
        real = await http.get(PAGE_1)
        empty = await http.get(PAGE_1)
    assert (real.status_code, real.headers["x-scripted"], real.content) == (200, "yes", whole)
    assert (empty.status_code, empty.content) == (503, b"")


# -- times ------------------------------------------------------------------------------


async def test_times_serves_that_many_requests_and_none_serves_every_one(
    fake: FakeCrowdTwist, where: Where, base_url: str, fast_retries: None
) -> None:
    fake.script(503, page=1, times=2)
    fake.script(502, page=2, times=None)
    async with session(fake, where, base_url, max_retries=2) as made:
        first = await made.users.get_rewards_page(ALICE, page=1)
        for _ in range(2):
            with pytest.raises(ct.ServerError) as info:
                await made.users.get_rewards_page(ALICE, page=2)
            assert info.value.status_code == 502
        again = await made.users.get_rewards_page(ALICE, page=1)
    assert (len(first.rewards), len(again.rewards)) == (10, 10)
    assert statuses(fake) == [(1, 503), (1, 503), (1, 200), *[(2, 502)] * 6, (1, 200)]


def test_script_checks_its_arguments() -> None:
    fake = FakeCrowdTwist()
    with pytest.raises(ValueError, match="times must be at least 1, got 0"):
        fake.script(times=0)
    with pytest.raises(ValueError, match="reset_after must be at least 0, got -1"):
        fake.script(reset_after=-1)
    with pytest.raises(ValueError, match="chunk_size must be at least 1, got 0"):
        fake.script(chunk_size=0)
    with pytest.raises(TypeError, match="chunk_size must be an int, got float"):
        fake.script(chunk_size=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="trickle must be a finite number of seconds"):
        fake.script(trickle=float("inf"))
    with pytest.raises(ValueError, match="pass echo or a body"):
        fake.script(echo=True, body=b"x")
    with pytest.raises(TypeError, match="body must be bytes, str or a function, got int"):
        fake.script(body=5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        fake.script(json={}, body=b"x")
    # Nothing was queued by a refused call.
    assert fake.requests == []


# -- the served port's log ----------------------------------------------------------------


async def test_a_scripted_drop_logs_no_error_on_the_served_port(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="uvicorn.error")
    fake = sample_fake()
    fake.script(reset_after=10)
    with fake.serve() as url:
        async with httpx.AsyncClient(base_url=url) as http:
            pieces, error = await received(http, PAGE_1)
    assert (len(b"".join(pieces)), type(error)) == (10, httpx.RemoteProtocolError)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


# -- serve_raw ---------------------------------------------------------------------------


async def test_serve_raw_writes_the_reply_byte_for_byte_and_records_it(
    fast_retries: None,
) -> None:
    fake = sample_fake()
    heads: list[bytes] = []

    def reply(head: bytes) -> bytes:
        heads.append(head)
        return b"SSH-2.0-OpenSSH_9.6\r\n"

    with fake.serve_raw(reply) as url:
        async with ct.Session(API_KEY, base_url=url, max_retries=1) as made:
            with pytest.raises(ct.APIConnectionError) as info:
                await made.users.get_rewards_page(ALICE, page=2)
    assert type(info.value) is ct.APIConnectionError
    assert len(heads) == 2
    assert heads[0].startswith(f"GET {PAGE_2} HTTP/1.1\r\n".encode())
    assert heads[0].endswith(b"\r\n\r\n")
    assert [(r.method, r.path, r.params, r.page, r.status) for r in fake.requests] == [
        ("GET", f"/v2.1/users/{ALICE}/rewards", {"page": "2"}, 2, None)
    ] * 2


async def test_serve_raw_serves_the_fake_where_the_reply_is_none(fast_retries: None) -> None:
    fake = sample_fake()

    def page_3_is_not_http(head: bytes) -> bytes | None:
        return b"HTTP/1.1 2OO OK\r\n\r\n" if b"page=3&" in head else None

    got: list[str] = []
    with fake.serve_raw(page_3_is_not_http) as url:
        async with ct.Session(API_KEY, base_url=url, max_retries=1) as made:
            with pytest.raises(ct.APIConnectionError):
                async for reward in made.users.aiter_rewards(ALICE, max_concurrency=1):
                    got.append(reward.id)
    assert len(got) == 20
    assert statuses(fake) == [(1, 200), (2, 200), (3, None), (3, None)]


async def test_serve_raw_keeps_the_fakes_scripts_and_wire_faults() -> None:
    fake = sample_fake()
    whole = await real_body(fake, PAGE_1)
    fake.script(reset_after=100, page=1)
    fake.script(chunk_size=1000, page=1)
    fake.script(429, json={"error": "slow_down"}, page=1)
    with fake.serve_raw(lambda head: None) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            cut, cut_error = await received(http, PAGE_1)
            async with http.stream("GET", PAGE_1) as chunked:
                streamed = b"".join([piece async for piece in chunked.aiter_raw()])
            limited = await http.get(PAGE_1)
    assert b"".join(cut) == whole[:100]
    assert str(cut_error) == f"{CUT} (received 100 bytes, expected {len(whole)})"
    assert chunked.headers["transfer-encoding"] == "chunked"
    assert streamed == whole
    assert (limited.status_code, limited.json()) == (429, {"error": "slow_down"})
    assert statuses(fake)[1:] == [(1, 200), (1, 200), (1, 429)]


async def test_serve_raw_with_reset_ends_each_connection_with_a_tcp_reset(
    fast_retries: None,
) -> None:
    fake = sample_fake()
    with fake.serve_raw(lambda head: b"", reset=True) as url:
        async with ct.Session(API_KEY, base_url=url, max_retries=2) as made:
            with pytest.raises(ct.APIConnectionError) as info:
                await made.users.usable_coupons(ALICE)
    assert type(info.value) is ct.APIConnectionError
    assert [(r.path, r.status) for r in fake.requests] == [
        (f"/v2/users/{ALICE}/usable_coupons", None)
    ] * 3
