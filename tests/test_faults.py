"""Fault injection over real HTTP on 127.0.0.1, on every HTTP stack.

Each test breaks the server in one way and asserts what a consumer of the
listing sees: every reward exactly once and in order, or a typed SDK
exception after the rewards before the broken page, never a listing that is
silently shorter. Every test runs on httpx (asyncio and trio) and on aiohttp
(asyncio): whatever one stack promises, the other keeps.
"""

from __future__ import annotations

import email.utils
import gzip
import logging
import socket
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from typing import Any, Literal
from urllib.parse import quote, quote_plus

import anyio
import anyio.abc
import httpx
import pytest

import crowdtwist_async as ct

from .conftest import API_KEY, BASE_URL, HttpBackend, Stack
from .wire_support import MEMBER, Loopback, Served, listing_fake, loopback

pytestmark = pytest.mark.anyio

JSON = "application/json"


@pytest.fixture
def anyio_backend(stack: Stack) -> str:
    return stack.loop


#: The member's rewards: 5 pages of 10.
TOTAL = 50


@pytest.fixture(scope="module")
def port() -> Iterator[Loopback]:
    with loopback(Served(listing_fake(TOTAL))) as app:
        yield app


@pytest.fixture
def server(port: Loopback) -> Served:
    """A fresh fake for this test, answering on the module's port."""
    port.target = Served(listing_fake(TOTAL))
    return port.target


@pytest.fixture
async def session(port: Loopback, http_backend: HttpBackend) -> AsyncIterator[ct.Session]:
    async with ct.Session(
        API_KEY, base_url=port.url, max_retries=2, timeout=2.0, http_backend=http_backend
    ) as session:
        yield session


async def read(session: ct.Session, **kwargs: Any) -> tuple[list[str], BaseException | None]:
    """The ids a consumer got, and what the listing raised (None if it ended)."""
    got: list[str] = []
    try:
        async for reward in session.users.aiter_rewards(MEMBER, **kwargs):
            got.append(reward.id)
    except ct.CrowdTwistError as exc:
        return got, exc
    return got, None


def ids(first: int, last: int) -> list[str]:
    return [str(i) for i in range(first, last + 1)]


def debug_everything(caplog: pytest.LogCaptureFixture) -> None:
    """Capture every client-side logger at DEBUG, aiohttp's included."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "crowdtwist_async", "anyio", "asyncio", "trio", "aiohttp"):
        caplog.set_level(logging.DEBUG, logger=name)


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A loopback URL where nothing listens: the port is bound, never listened on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


class HangUp:
    """A TCP server that reads each request and closes the connection unanswered."""

    def __init__(self) -> None:
        self.connections = 0
        self.received = b""

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            self.connections += 1
            with anyio.move_on_after(5):
                self.received += await stream.receive()


class RefusingProxy(HangUp):
    """A proxy that answers every request (a CONNECT) with 403."""

    async def handle(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            self.connections += 1
            with anyio.move_on_after(5):
                while b"\r\n\r\n" not in self.received:
                    self.received += await stream.receive()
            await stream.send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")


async def serving(handler: HangUp, body: Callable[[str], Awaitable[None]]) -> None:
    """Run *body* with the URL of a loopback TCP server whose connections *handler* takes."""
    async with (
        await anyio.create_tcp_listener(local_host="127.0.0.1") as listener,
        anyio.create_task_group() as group,
    ):
        group.start_soon(listener.serve, handler.handle)
        await body(f"http://127.0.0.1:{listener.extra(anyio.abc.SocketAttribute.local_port)}")
        group.cancel_scope.cancel()


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy settings in the environment; set the ones a test needs."""
    for name in ("http", "https", "all", "no"):
        monkeypatch.delenv(f"{name}_proxy", raising=False)
        monkeypatch.delenv(f"{name.upper()}_PROXY", raising=False)
    return monkeypatch


async def test_a_clean_listing(server: Served, session: ct.Session) -> None:
    got, error = await read(session)
    assert (got, error) == (ids(1, 50), None)
    assert sorted(server.attempts.items()) == [(p, 1) for p in range(1, 6)]


async def test_connection_reset_mid_body_is_retried(server: Served, session: ct.Session) -> None:
    server.fake.script(reset_after=100, page=3)
    got, error = await read(session)
    assert (got, error) == (ids(1, 50), None)
    assert server.attempts[3] == 2


@pytest.mark.slow
async def test_connection_reset_every_time_raises_after_earlier_pages(
    server: Served, session: ct.Session
) -> None:
    server.fake.script(reset_after=100, page=3, times=None)
    got, error = await read(session, max_concurrency=1)
    assert got == ids(1, 20)
    assert type(error) is ct.APIConnectionError
    assert "RemoteProtocolError" in str(error)
    assert server.attempts[3] == 3


async def test_truncated_json_is_a_decode_error(server: Served, session: ct.Session) -> None:
    server.fake.script(body=lambda real: real[:-40], page=2, times=None)
    got, error = await read(session)
    assert got == ids(1, 10)
    assert isinstance(error, ct.ResponseDecodeError)
    assert error.status_code == 200
    # Not a transport failure: the same bytes would come back, so no retry.
    assert server.attempts[2] == 1


async def test_a_burst_of_503s_then_success(server: Served, session: ct.Session) -> None:
    busy = {"Content-Type": "text/plain", "Retry-After": "0"}
    for page in range(1, 6):
        server.fake.script(503, body=b"busy", headers=busy, page=page, times=2)
    got, error = await read(session)
    assert (got, error) == (ids(1, 50), None)
    assert sorted(server.attempts.items()) == [(p, 3) for p in range(1, 6)]


@pytest.mark.slow
@pytest.mark.parametrize("form", ["delta-seconds", "http-date"])
async def test_429_with_retry_after_is_honoured(
    server: Served, session: ct.Session, form: str
) -> None:
    def retry_after() -> str:
        if form == "delta-seconds":
            return "1"
        return email.utils.formatdate(time.time() + 2, usegmt=True)

    server.fake.script(
        429, body=b"{}", headers={"Content-Type": JSON, "Retry-After": retry_after()}, page=2
    )
    started = time.monotonic()
    got, error = await read(session)
    assert (got, error) == (ids(1, 50), None)
    assert server.attempts[2] == 2
    # The wait is the behaviour under test; the bound is generous.
    assert time.monotonic() - started >= 0.9


async def test_a_retry_after_beyond_a_minute_raises_rate_limit_error(
    server: Served, session: ct.Session
) -> None:
    server.fake.script(
        429,
        body=b'{"error": "rate_limited"}',
        headers={"Content-Type": JSON, "Retry-After": "600"},
        page=2,
        times=None,
    )
    got, error = await read(session)
    assert got == ids(1, 10)
    assert isinstance(error, ct.RateLimitError)
    assert (error.status_code, error.retry_after, error.error) == (429, 600.0, "rate_limited")
    assert server.attempts[2] == 1


@pytest.mark.slow
async def test_a_response_slower_than_the_timeout(
    server: Served, port: Loopback, http_backend: HttpBackend
) -> None:
    server.fake.script(delay=5.0, page=2, times=None)
    started = time.monotonic()
    async with ct.Session(
        API_KEY, base_url=port.url, max_retries=1, timeout=0.3, http_backend=http_backend
    ) as session:
        got, error = await read(session)
    assert got == ids(1, 10)
    assert isinstance(error, ct.APITimeoutError)
    assert server.attempts[2] == 2
    # Two attempts of 0.3 s and a backoff of at most 0.5 s, far from the 5 s delay.
    assert time.monotonic() - started < 4.0


@pytest.mark.slow
async def test_a_slow_first_attempt_then_a_fast_one(
    server: Served, port: Loopback, http_backend: HttpBackend
) -> None:
    server.fake.script(delay=5.0, page=4)
    async with ct.Session(
        API_KEY, base_url=port.url, max_retries=1, timeout=0.3, http_backend=http_backend
    ) as session:
        got, error = await read(session)
    assert (got, error) == (ids(1, 50), None)


async def test_an_html_502_page(server: Served, session: ct.Session) -> None:
    page_502 = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    server.fake.script(
        502,
        body=page_502,
        headers={"Content-Type": "text/html", "Retry-After": "0"},
        page=5,
        times=None,
    )
    got, error = await read(session, max_concurrency=2)
    assert got == ids(1, 40)
    assert isinstance(error, ct.ServerError)
    assert (error.status_code, error.error, error.message) == (502, None, "Bad Gateway")
    assert error.body == page_502.decode()
    assert server.attempts[5] == 3


async def test_a_200_that_is_not_json(server: Served, session: ct.Session) -> None:
    server.fake.script(
        body=b"<html>Maintenance</html>", headers={"Content-Type": "text/html"}, page=3, times=None
    )
    got, error = await read(session)
    assert got == ids(1, 20)
    assert isinstance(error, ct.ResponseDecodeError)
    assert (error.status_code, error.body) == (200, "<html>Maintenance</html>")


async def test_a_reward_moving_from_page_3_to_page_2(server: Served, session: ct.Session) -> None:
    # Reward 12 is removed once page 2 has been served: reward 21 moves from
    # page 3 to page 2, which was already read, and page 3 starts at 22.
    (member,) = (user for user in server.fake.users if str(user.id) == MEMBER)
    shifted = [reward for reward in member.rewards if reward["id"] != "12"]

    def removed(page: int) -> bool:
        return server.attempts[2] >= 1 and page >= 3

    server.fake.lie(
        items=lambda page, rewards: (
            shifted[(page - 1) * 10 : page * 10] if removed(page) else rewards
        ),
        total=lambda page, total: len(shifted) if removed(page) else total,
    )
    got, error = await read(session, max_concurrency=1)
    assert got == ids(1, 20)
    assert isinstance(error, ct.ListingChangedError)
    assert (error.page, error.expected_total, error.total) == (3, 50, 49)


async def test_next_page_on_a_foreign_host_is_never_followed(
    server: Served, session: ct.Session
) -> None:
    evil = listing_fake(TOTAL)
    with evil.serve() as evil_url:
        server.fake.lie(
            pages=lambda page, pages: None,
            next_page=lambda page, link: (
                f"{evil_url}/v2.1/users/{MEMBER}/rewards?page={page + 1}" if page < 5 else None
            ),
        )
        got, error = await read(session)
    assert (got, error) == (ids(1, 50), None)
    assert evil.requests == []
    assert sorted(server.attempts.items()) == [(p, 1) for p in range(1, 6)]


async def test_a_billion_pages(server: Served, session: ct.Session) -> None:
    server.fake.lie(pages=lambda page, pages: 10**9)
    got, error = await read(session, max_concurrency=4)
    assert (got, error) == (ids(1, 50), None)
    # The total says 5 pages, and they held all 50 rewards: nothing more to ask.
    assert sorted(server.attempts.items()) == [(p, 1) for p in range(1, 6)]


async def test_a_billion_pages_and_no_total(server: Served, session: ct.Session) -> None:
    server.fake.lie(pages=lambda page, pages: 10**9, total=lambda page, total: None)
    got, error = await read(session, max_concurrency=4)
    # Without a total, the page count was the promise, and page 6 broke it.
    assert got == ids(1, 50)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (6, None, 50)
    assert max(server.attempts) <= 6 + 4
    assert set(server.attempts.values()) == {1}


async def test_a_next_page_loop(server: Served, session: ct.Session) -> None:
    server.fake.lie(
        pages=lambda page, pages: None,
        next_page=lambda page, link: f"https://x/?page={page + 1 if page < 3 else 2}",
    )
    got, error = await read(session)
    assert got == ids(1, 30)
    assert isinstance(error, ct.IncompleteListingError)
    assert (error.page, error.expected_total, error.seen) == (3, 50, 30)
    assert sorted(server.attempts.items()) == [(1, 1), (2, 1), (3, 1)]


@pytest.mark.parametrize("auth", ["query", "header"])
async def test_the_key_appears_in_no_log_and_no_traceback(
    server: Served,
    port: Loopback,
    caplog: pytest.LogCaptureFixture,
    auth: Literal["query", "header"],
    http_backend: HttpBackend,
) -> None:
    debug_everything(caplog)
    # The failing page echoes the request back, key and all, as some proxies do.
    server.fake.script(
        502,
        body=f"bad gateway for ?api_key={API_KEY}",
        headers={"Content-Type": "text/plain"},
        page=2,
        times=None,
    )
    async with ct.Session(
        API_KEY, base_url=port.url, auth=auth, max_retries=1, http_backend=http_backend
    ) as session:
        page = await session.users.get_rewards_page(MEMBER, page=1)
        got, error = await read(session)
    assert len(page.rewards) == 10
    assert got == ids(1, 10)
    assert isinstance(error, ct.ServerError)
    # The loopback server's own access log shows the URLs it received, as
    # any server's would; everything on the client's side is checked.
    client_records = [r for r in caplog.records if not r.name.startswith("uvicorn")]
    texts = [
        *(logging.Formatter("%(name)s %(message)s").format(r) for r in client_records),
        "".join(traceback.format_exception(error)),
        str(error),
        repr(error),
        error.body,
        repr(session),
    ]
    # The SDK, and on their own stack httpx and httpcore, did log at DEBUG
    # (aiohttp's stack sends without httpx: the SDK logs its request lines).
    loggers = {"crowdtwist_async"}
    if http_backend == "httpx":
        loggers |= {"httpx", "httpcore.http11"}
    assert loggers <= {r.name for r in client_records}
    request_lines = [r for r in client_records if r.getMessage().startswith("HTTP Request: GET")]
    assert len(request_lines) >= 3  # page 1, page 2 tried twice, and what ran beside them
    assert {r.name for r in request_lines} == {
        "httpx" if http_backend == "httpx" else "crowdtwist_async"
    }
    assert all(API_KEY not in text for text in texts)


async def test_an_oversized_body_without_a_length(server: Served, session: ct.Session) -> None:
    server.fake.script(body=b" " * (64 * 1024 * 1024), chunk_size=65536, page=2, times=None)
    got, error = await read(session)
    assert got == ids(1, 10)
    assert isinstance(error, ct.ResponseDecodeError)
    assert "too large" in str(error)
    assert server.attempts[2] == 1


@pytest.mark.slow
async def test_a_trickling_body_hits_the_total_timeout(
    server: Served, port: Loopback, http_backend: HttpBackend
) -> None:
    # A few bytes every 50 ms: no read ever waits long, the whole body would
    # take seconds. Only the total limit on the attempt ends it.
    server.fake.script(trickle=0.05, page=2, times=None)
    started = time.monotonic()
    async with ct.Session(
        API_KEY, base_url=port.url, max_retries=1, timeout=0.5, http_backend=http_backend
    ) as session:
        got, error = await read(session, max_concurrency=1)
    assert got == ids(1, 10)
    assert type(error) is ct.APITimeoutError
    assert server.attempts[2] == 2
    # Two attempts of 0.5 s and a backoff of at most 0.5 s; the body needs 30 s.
    assert time.monotonic() - started < 10.0


async def test_a_declared_length_over_the_cap_is_refused_unread(
    server: Served, session: ct.Session
) -> None:
    limit = ct.Limits().max_body_bytes
    server.fake.script(body=b" " * (limit + 1), page=2, times=None)
    got, error = await read(session, max_concurrency=1)
    assert got == ids(1, 10)
    assert type(error) is ct.ResponseDecodeError
    assert error.status_code == 200
    assert f"{limit + 1} bytes declared" in str(error)
    # The same body would come back: not retried.
    assert server.attempts[2] == 1


async def test_a_gzip_page_is_decoded(server: Served, session: ct.Session) -> None:
    server.fake.script(body=gzip.compress, headers={"Content-Encoding": "gzip"}, times=None)
    got, error = await read(session)
    assert (got, error) == (ids(1, 50), None)


async def test_a_gzip_bomb_is_capped_by_its_decoded_size(
    server: Served, session: ct.Session
) -> None:
    # 64 KiB on the wire, within the cap; 64 MiB decoded, far over it.
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))
    server.fake.script(body=bomb, headers={"Content-Encoding": "gzip"}, page=2, times=None)
    got, error = await read(session, max_concurrency=1)
    assert got == ids(1, 10)
    assert type(error) is ct.ResponseDecodeError
    assert "too large" in str(error)
    assert server.attempts[2] == 1


async def test_a_refused_connection_is_a_connection_error(
    refused_url: str, http_backend: HttpBackend
) -> None:
    async with ct.Session(
        API_KEY, base_url=refused_url, max_retries=1, http_backend=http_backend
    ) as session:
        with pytest.raises(ct.APIConnectionError) as info:
            await session.users.get_rewards_page("alice")
    # Not APITimeoutError: nothing timed out.
    assert type(info.value) is ct.APIConnectionError
    assert "failed: ConnectError:" in str(info.value)


@pytest.mark.slow
async def test_a_server_that_hangs_up_before_answering(http_backend: HttpBackend) -> None:
    hangup = HangUp()

    async def body(url: str) -> None:
        async with ct.Session(
            API_KEY, base_url=url, max_retries=2, http_backend=http_backend
        ) as session:
            with pytest.raises(ct.APIConnectionError) as info:
                await session.users.get_rewards_page("alice")
        assert type(info.value) is ct.APIConnectionError
        assert "failed: RemoteProtocolError:" in str(info.value)

    await serving(hangup, body)
    # Three attempts. aiohttp itself sends an idempotent request once more
    # when the connection drops before the response (RFC 9112, 9.3.1.1).
    assert hangup.connections == 3 * (2 if http_backend == "aiohttp" else 1)
    assert hangup.received.startswith(b"GET /v2.1/users/alice/rewards?")


async def test_http_proxy_from_the_environment_is_used(
    server: Served,
    port: Loopback,
    refused_url: str,
    http_backend: HttpBackend,
    no_proxies: pytest.MonkeyPatch,
) -> None:
    # Nothing listens at the base URL: only the proxy (the loopback server,
    # which answers absolute-form requests) can answer.
    no_proxies.setenv("HTTP_PROXY", port.url)
    async with ct.Session(API_KEY, base_url=refused_url, http_backend=http_backend) as session:
        page = await session.users.get_rewards_page(MEMBER)
    assert len(page.rewards) == 10
    assert [request.path for request in server.fake.requests] == [f"/v2.1/users/{MEMBER}/rewards"]
    assert [sent["host"] for sent in server.headers] == [refused_url.removeprefix("http://")]


async def test_no_proxy_from_the_environment_is_honoured(
    server: Served,
    port: Loopback,
    refused_url: str,
    http_backend: HttpBackend,
    no_proxies: pytest.MonkeyPatch,
) -> None:
    no_proxies.setenv("HTTP_PROXY", refused_url)
    no_proxies.setenv("NO_PROXY", "example.com,127.0.0.1")
    async with ct.Session(API_KEY, base_url=port.url, http_backend=http_backend) as session:
        page = await session.users.get_rewards_page(MEMBER)
    assert len(page.rewards) == 10
    assert [request.path for request in server.fake.requests] == [f"/v2.1/users/{MEMBER}/rewards"]


async def test_https_proxy_from_the_environment_is_used(
    http_backend: HttpBackend, no_proxies: pytest.MonkeyPatch
) -> None:
    proxy = RefusingProxy()

    async def body(url: str) -> None:
        no_proxies.setenv("HTTPS_PROXY", url)
        async with ct.Session(
            API_KEY, base_url=BASE_URL, max_retries=0, http_backend=http_backend
        ) as session:
            with pytest.raises(ct.APIConnectionError) as info:
                await session.users.get_rewards_page("alice")
        assert type(info.value) is ct.APIConnectionError
        assert "failed: ProxyError:" in str(info.value)
        assert API_KEY not in str(info.value)

    await serving(proxy, body)
    assert proxy.connections == 1
    # The tunnel names only the host: the path and the key never reach the proxy.
    assert proxy.received.startswith(b"CONNECT api123.crowdtwist.com:443 HTTP/1.1\r\n")
    assert API_KEY.encode() not in proxy.received


@pytest.mark.slow
@pytest.mark.parametrize("auth", ["query", "header"])
async def test_no_log_record_holds_the_key_in_any_form(
    server: Served,
    port: Loopback,
    refused_url: str,
    caplog: pytest.LogCaptureFixture,
    auth: Literal["query", "header"],
    http_backend: HttpBackend,
) -> None:
    # A key that a URL carries percent-encoded, as k3y%2Bw%2Fx%3Dz9.
    key = "k3y+w/x=z9"
    debug_everything(caplog)
    server.fake.api_key = key
    # Page 2 is a 500 whose body is the request's URL, key and all.
    server.fake.script(500, echo=True, headers={"Content-Type": "text/plain"}, page=2, times=None)
    options: dict[str, Any] = {"auth": auth, "max_retries": 1, "http_backend": http_backend}
    async with ct.Session(key, base_url=port.url, **options) as session:
        page = await session.users.get_rewards_page(MEMBER, page=1)
        got, error = await read(session, max_concurrency=1)
    async with ct.Session(key, base_url=refused_url, **options) as session:
        with pytest.raises(ct.APIConnectionError) as refused:
            await session.users.get_rewards_page("alice")
    assert len(page.rewards) == 10
    assert got == ids(1, 10)
    assert isinstance(error, ct.ServerError)
    assert error.status_code == 500
    if auth == "query":
        # The echo did carry the key: it was masked, not missing.
        assert error.body is not None
        assert "api_key=***" in error.body
    client_records = [r for r in caplog.records if not r.name.startswith("uvicorn")]
    # The responses (page 1 twice, page 2's 500 twice) and the retries (of the
    # 500 and of the refusal) were all logged.
    messages = [r.getMessage() for r in client_records]
    assert sum(m.startswith("HTTP Request: GET") for m in messages) == 4
    assert sum(m.startswith("retrying GET") for m in messages) == 2
    assert [m for m in messages if holds_key(m, key)] == []
    assert not holds_key(str(refused.value), key)


def holds_key(text: str, key: str) -> bool:
    """Whether *text* holds *key* as it is or percent-encoded either way, in any
    case (`%2b` is `%2B`)."""
    forms = {key, quote_plus(key), quote(key, safe="")}
    return any(form.lower() in text.lower() for form in forms)


class Stamper(httpx.Auth):
    """Signs each attempt with a new stamp, as an HMAC signer's timestamp would be.

    The fake takes only its key, so the signer also sends that, as a query
    parameter: the signature headers are what is under test.
    """

    def __init__(self) -> None:
        self.stamps = 0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.stamps += 1
        request.url = request.url.copy_merge_params({"api_key": API_KEY})
        request.headers["X-CT-Timestamp"] = str(self.stamps)
        request.headers["X-CT-Authorization"] = f"CTApiV2Auth pub:sig-{self.stamps}"
        yield request


async def test_an_auth_flow_signs_every_attempt_on_the_wire(
    port: Loopback, server: Served, http_backend: HttpBackend
) -> None:
    server.fake.script(503, page=2)
    stamper = Stamper()
    async with ct.Session(
        base_url=port.url, auth=stamper, max_concurrency=1, http_backend=http_backend
    ) as session:
        got, error = await read(session, max_concurrency=1)
    assert error is None
    assert got == ids(1, 50)
    # Page 2 was sent twice, signed afresh each time; no key of the SDK's own.
    assert stamper.stamps == 6
    assert [
        (request.page, sent["x-ct-timestamp"], sent["x-ct-authorization"])
        for request, sent in zip(server.fake.requests, server.headers, strict=True)
    ] == [
        (page, str(stamp), f"CTApiV2Auth pub:sig-{stamp}")
        for stamp, page in enumerate([1, 2, 2, 3, 4, 5], start=1)
    ]


async def test_a_cookie_a_response_sets_is_neither_kept_nor_sent_back(
    server: Served, session: ct.Session
) -> None:
    # CrowdTwist sets no cookie the SDK needs, so none is kept (no jar to
    # parse them into on every response): the next request carries none.
    server.fake.script(headers={"Set-Cookie": "visit=1; Path=/"}, page=1)
    first = await session.users.get_rewards_page(MEMBER, page=1)
    second = await session.users.get_rewards_page(MEMBER, page=2)
    assert (first.number, second.number) == (1, 2)
    assert [request.page for request in server.fake.requests] == [1, 2]
    assert [request.headers.get("cookie") for request in server.fake.requests] == [None, None]
