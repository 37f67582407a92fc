"""`http_backend="aiohttp"`: how it is chosen, refused, and how its transport behaves.

What the SDK promises on every stack (timeouts, the body cap, retries,
masking, cancellation) is shown on this one by tests/test_faults.py and
tests/test_soak.py; this module covers what only this stack has: its
construction rules, the event loop it needs, translating aiohttp's
exceptions, proxies from the environment and handing connections back.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import aiohttp.log
import anyio
import httpx
import multidict
import pytest
import yarl
from aiohttp.client_reqrep import ConnectionKey

import crowdtwist_async as ct

# Private on purpose: this module unit-tests the aiohttp transport itself (an
# httpx transport, driven by an httpx client) and its pure parts: the
# translation of aiohttp's errors, NO_PROXY, proxy URLs.
from crowdtwist_async._aiohttp import (
    AiohttpTransport,
    _bypasses,
    _parse_proxy,
    translate,
)

from .aiohttp_support import connections_idle, connections_lent, record_client_sessions
from .conftest import API_KEY, BASE_URL
from .wire_support import ALICE, Loopback, Served, loopback, sample_fake

NEEDS_ASYNCIO = (
    "http_backend='aiohttp' needs asyncio; under trio use the default http_backend='httpx'"
)


#: A page of the sample program's rewards, with the key.
PAGE = f"/v2.1/users/{ALICE}/rewards?api_key={API_KEY}"

#: Every logger aiohttp logs to (`aiohttp.log`'s), and their parent.
AIOHTTP_LOGGERS = (
    "aiohttp",
    *sorted(
        logger.name for logger in vars(aiohttp.log).values() if isinstance(logger, logging.Logger)
    ),
)


@pytest.fixture(scope="module")
def port() -> Iterator[Loopback]:
    with loopback(Served(sample_fake())) as app:
        yield app


@pytest.fixture
def server(port: Loopback) -> Served:
    """A fresh fake for this test, answering on the module's port."""
    port.target = Served(sample_fake())
    return port.target


@pytest.fixture
def url(server: Served, port: Loopback) -> str:
    return port.url


@pytest.fixture
def client_sessions(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.ClientSession]:
    """The aiohttp ClientSessions made in this test: the transport's one, once used."""
    return record_client_sessions(monkeypatch)


@pytest.fixture
async def transport(
    client_sessions: list[aiohttp.ClientSession],
) -> AsyncIterator[AiohttpTransport]:
    transport = AiohttpTransport()
    yield transport
    await transport.aclose()


@pytest.fixture
def refused_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def only(client_sessions: list[aiohttp.ClientSession]) -> aiohttp.ClientSession:
    """The one ClientSession the transport made."""
    (client,) = client_sessions
    return client


# -- choosing the backend ------------------------------------------------------


@pytest.mark.slow
def test_importing_the_package_does_not_import_aiohttp() -> None:
    code = (
        "import sys, crowdtwist_async as ct\n"
        f"ct.Session('k', base_url={BASE_URL!r})\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_without_aiohttp_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    # Private on purpose: the module is dropped so its import runs again, as
    # in a process without aiohttp.
    monkeypatch.delitem(sys.modules, "crowdtwist_async._aiohttp")
    with pytest.raises(ModuleNotFoundError) as info:
        ct.Session(API_KEY, base_url=BASE_URL, http_backend="aiohttp")
    assert str(info.value) == (
        'http_backend="aiohttp" needs aiohttp: pip install "crowdtwist-async[aiohttp]"'
    )
    assert info.value.name == "aiohttp"


@pytest.mark.parametrize("given", ["http_client", "transport"])
def test_the_backend_is_not_combined_with_a_client_or_transport(given: str) -> None:
    options: dict[str, Any] = (
        {"http_client": httpx.AsyncClient()}
        if given == "http_client"
        else {"transport": httpx.AsyncHTTPTransport()}
    )
    with pytest.raises(ValueError, match="not both") as info:
        ct.Session(API_KEY, base_url=BASE_URL, http_backend="aiohttp", **options)
    assert str(info.value) == (
        f"pass {given} or http_backend='aiohttp', not both: "
        "http_backend='aiohttp' makes the session's own client"
    )


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="http_backend must be 'httpx' or 'aiohttp', got 'curl'"):
        ct.Session(API_KEY, base_url=BASE_URL, http_backend="curl")  # type: ignore[arg-type]


def test_a_session_made_outside_a_loop_connects_on_first_use(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = record_client_sessions(monkeypatch)
    session = ct.Session(API_KEY, base_url=url, http_backend="aiohttp")
    assert session.http_backend == "aiohttp"
    assert made == []

    async def use() -> int:
        async with session:
            page = await session.users.get_rewards_page(ALICE)
        return len(page.rewards)

    assert asyncio.run(use()) == 10
    assert len(made) == 1
    assert made[0].closed  # closed with the session


# -- the event loop it needs ---------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_under_trio_it_is_refused_at_construction() -> None:
    with pytest.raises(RuntimeError) as info:
        ct.Session(API_KEY, base_url=BASE_URL, http_backend="aiohttp")
    assert str(info.value) == NEEDS_ASYNCIO


def test_under_trio_a_session_made_before_is_refused_at_first_use(server: Served, url: str) -> None:
    session = ct.Session(API_KEY, base_url=url, http_backend="aiohttp", max_retries=2)

    async def use() -> None:
        try:
            await session.users.get_rewards_page(ALICE)
        finally:
            await session.aclose()

    with pytest.raises(RuntimeError) as info:
        anyio.run(use, backend="trio")
    assert str(info.value) == NEEDS_ASYNCIO
    # Refused before anything was sent, and not retried.
    assert server.fake.requests == []


def test_a_session_used_on_a_second_loop_says_so(server: Served, url: str) -> None:
    session = ct.Session(API_KEY, base_url=url, http_backend="aiohttp")
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        first.run_until_complete(session.users.get_rewards_page(ALICE))
        with pytest.raises(RuntimeError, match="belong to another event loop"):
            second.run_until_complete(session.users.get_rewards_page(ALICE))
        first.run_until_complete(session.aclose())
    finally:
        first.close()
        second.close()
    assert len(server.fake.requests) == 1


# -- translating aiohttp's exceptions ------------------------------------------

KEYED_URL = yarl.URL(f"{BASE_URL}/v2.1/users/alice/rewards?page=2&api_key={API_KEY}")


def _request_info() -> aiohttp.RequestInfo:
    headers = multidict.CIMultiDictProxy(multidict.CIMultiDict[str]())
    return aiohttp.RequestInfo(KEYED_URL, "GET", headers, KEYED_URL)


def _connection_key() -> ConnectionKey:
    return ConnectionKey(
        host="proxy",
        port=3128,
        is_ssl=False,
        ssl=True,
        proxy=None,
        proxy_auth=None,
        proxy_headers_hash=None,
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            aiohttp.ClientProxyConnectionError(_connection_key(), OSError(111, "refused")),
            httpx.ProxyError,
            id="proxy-unreachable",
        ),
        pytest.param(
            aiohttp.ClientHttpProxyError(_request_info(), (), status=407, message="auth"),
            httpx.ProxyError,
            id="proxy-refused",
        ),
        pytest.param(
            aiohttp.ConnectionTimeoutError(f"Connection timeout to host {KEYED_URL}"),
            httpx.ConnectTimeout,
            id="connect-timeout",
        ),
        pytest.param(aiohttp.SocketTimeoutError("read"), httpx.ReadTimeout, id="read-timeout"),
        pytest.param(aiohttp.ServerTimeoutError("x"), httpx.ReadTimeout, id="server-timeout"),
        pytest.param(
            aiohttp.ClientConnectorError(_connection_key(), OSError(111, "refused")),
            httpx.ConnectError,
            id="refused",
        ),
        pytest.param(
            aiohttp.ServerDisconnectedError(), httpx.RemoteProtocolError, id="disconnected"
        ),
        pytest.param(
            aiohttp.ClientPayloadError("cut short"), httpx.RemoteProtocolError, id="payload"
        ),
        pytest.param(
            aiohttp.ClientResponseError(_request_info(), (), status=400, message="bad status"),
            httpx.RemoteProtocolError,
            id="malformed-response",
        ),
        pytest.param(
            aiohttp.NonHttpUrlClientError(KEYED_URL.with_scheme("ftp")),
            httpx.UnsupportedProtocol,
            id="non-http",
        ),
        pytest.param(aiohttp.InvalidURL(KEYED_URL), httpx.UnsupportedProtocol, id="invalid-url"),
        pytest.param(aiohttp.ClientOSError(104, "reset"), httpx.ReadError, id="os-error"),
        pytest.param(aiohttp.ClientConnectionResetError("closing"), httpx.ReadError, id="reset"),
        pytest.param(asyncio.TimeoutError(), httpx.TimeoutException, id="bare-timeout"),
        pytest.param(aiohttp.ClientError("other"), httpx.TransportError, id="other"),
    ],
)
def test_aiohttp_errors_become_httpx_errors(
    error: BaseException, expected: type[httpx.TransportError]
) -> None:
    request = httpx.Request("GET", str(KEYED_URL))
    translated = translate(error, request)
    assert type(translated) is expected
    assert translated.request is request
    assert str(translated).startswith(f"{type(error).__name__}")
    assert API_KEY not in str(translated)
    assert (translated.__cause__, translated.__context__) == (None, None)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
class TestOnTheWire:
    """What the transport raises over loopback: httpx's errors, with no aiohttp chain."""

    async def test_a_refused_connection(
        self, transport: AiohttpTransport, refused_url: str
    ) -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.ConnectError) as info:
                await client.get(f"{refused_url}/?api_key={API_KEY}")
        assert str(info.value).startswith("ClientConnectorError: Cannot connect to host 127.0.0.1")
        assert (info.value.__cause__, info.value.__context__) == (None, None)

    async def test_a_body_cut_short(
        self,
        transport: AiohttpTransport,
        client_sessions: list[aiohttp.ClientSession],
        server: Served,
        url: str,
    ) -> None:
        server.fake.script(reset_after=100, times=None)
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.RemoteProtocolError) as info:
                await client.get(f"{url}{PAGE}")
            assert connections_lent(only(client_sessions)) == 0
        assert str(info.value).startswith("ClientPayloadError: ")
        assert (info.value.__cause__, info.value.__context__) == (None, None)

    async def test_a_read_timeout(
        self, transport: AiohttpTransport, server: Served, url: str
    ) -> None:
        server.fake.script(delay=2.0, times=None)
        timeout = httpx.Timeout(10.0, read=0.2)
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as client:
            with pytest.raises(httpx.ReadTimeout) as info:
                await client.get(f"{url}{PAGE}")
        assert API_KEY not in str(info.value)
        assert (info.value.__cause__, info.value.__context__) == (None, None)


# -- handing connections back ---------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
class TestConnections:
    async def test_a_body_read_whole_goes_back_to_the_pool(
        self,
        transport: AiohttpTransport,
        client_sessions: list[aiohttp.ClientSession],
        server: Served,
        url: str,
    ) -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            for _ in range(3):
                response = await client.get(f"{url}{PAGE}")
                assert response.status_code == 200
            pool = only(client_sessions)
            # One connection, kept alive and reused, none lent out.
            assert connections_lent(pool) == 0
            assert connections_idle(pool) == 1
        assert len(server.fake.requests) == 3

    async def test_closing_a_body_cut_short_frees_its_connection_at_once(
        self,
        transport: AiohttpTransport,
        client_sessions: list[aiohttp.ClientSession],
        server: Served,
        url: str,
    ) -> None:
        server.fake.script(body=b" " * (8 * 1024 * 1024), chunk_size=65536, times=None)
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.send(client.build_request("GET", url), stream=True)
            async for _chunk in response.aiter_raw():
                break
            assert connections_lent(only(client_sessions)) == 1
            # Closed inside a cancelled scope, as after a timeout: nothing may
            # wait, and the connection must still be freed. `response` is
            # still referenced, so the garbage collector cannot be what frees it.
            with anyio.CancelScope() as scope:
                scope.cancel()
                await response.aclose()
            assert connections_lent(only(client_sessions)) == 0
            assert connections_idle(only(client_sessions)) == 0

    async def test_aclose_closes_the_aiohttp_session_even_when_cancelled(
        self, url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        made = record_client_sessions(monkeypatch)
        session = ct.Session(API_KEY, base_url=url, http_backend="aiohttp")
        await session.users.get_rewards_page(ALICE)
        await session.users.get_rewards_page(ALICE)
        assert len(made) == 1
        assert not made[0].closed
        with anyio.CancelScope() as scope:
            scope.cancel()
            await session.aclose()
        assert made[0].closed


# -- proxies from the environment --------------------------------------------------


@pytest.mark.parametrize(
    ("no_proxy", "url", "bypassed"),
    [
        ("", "https://api1.crowdtwist.com/", False),
        ("*", "https://api1.crowdtwist.com/", True),
        ("crowdtwist.com", "https://api1.crowdtwist.com/", True),
        ("crowdtwist.com", "https://crowdtwist.com/", True),
        ("crowdtwist.com", "https://evilcrowdtwist.com/", False),
        (".crowdtwist.com", "https://api1.crowdtwist.com/", True),
        (".crowdtwist.com", "https://crowdtwist.com/", False),
        ("other.example, API1.crowdtwist.com ", "https://api1.crowdtwist.com/", True),
        ("api1.crowdtwist.com:443", "https://api1.crowdtwist.com/", True),
        ("api1.crowdtwist.com:8443", "https://api1.crowdtwist.com/", False),
        ("127.0.0.1", "http://127.0.0.1:8000/", True),
        ("::1", "http://[::1]:8000/", True),
        ("[::1]:8000", "http://[::1]:8000/", True),
        ("[::1]:9000", "http://[::1]:8000/", False),
    ],
)
def test_no_proxy_is_read_as_httpx_reads_it(no_proxy: str, url: str, bypassed: bool) -> None:
    assert _bypasses(no_proxy, httpx.URL(url)) is bypassed


def test_proxy_credentials_travel_in_a_header() -> None:
    proxy = _parse_proxy("http://us%40er:p%3Ass@proxy.example:3128")
    assert proxy.url == yarl.URL("http://proxy.example:3128")
    # base64 of "us@er:p:ss"
    assert proxy.headers == {"Proxy-Authorization": "Basic dXNAZXI6cDpzcw=="}
    bare = _parse_proxy("proxy.example:3128")
    assert (bare.url, bare.headers) == (yarl.URL("http://proxy.example:3128"), None)


# -- logging -------------------------------------------------------------------------


@pytest.mark.slow
def test_every_aiohttp_logger_masks_the_key(caplog: pytest.LogCaptureFixture) -> None:
    ct.Session(API_KEY, base_url=BASE_URL, http_backend="aiohttp")
    # One filter on each (the SDK's), seen at work below.
    filters = [logging.getLogger(name).filters for name in AIOHTTP_LOGGERS]
    assert [len(each) for each in filters] == [1] * len(AIOHTTP_LOGGERS)
    caplog.set_level(logging.DEBUG)
    for name in AIOHTTP_LOGGERS:
        logging.getLogger(name).debug("GET %s", f"{BASE_URL}/x?api_key={API_KEY}&page=2")
    assert [r.getMessage() for r in caplog.records] == [
        f"GET {BASE_URL}/x?api_key=***&page=2"
    ] * len(AIOHTTP_LOGGERS)


# -- the direct path --------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_unsigned_request_builds_no_httpx_object_and_a_signed_one_takes_httpx(
    server: Served, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Requests go straight through aiohttp: the httpx client is not asked to
    # build or send anything, and no httpx Response is made. A signer is an
    # httpx auth flow, so a signed request takes the client (on the same
    # aiohttp connections).
    built: list[str] = []
    responses: list[int] = []
    build_request = httpx.AsyncClient.build_request
    response_init = httpx.Response.__init__

    def recording_build(client: httpx.AsyncClient, method: str, *args: Any, **kwargs: Any) -> Any:
        built.append(method)
        return build_request(client, method, *args, **kwargs)

    def recording_response(response: httpx.Response, status_code: int, **kwargs: Any) -> None:
        responses.append(status_code)
        response_init(response, status_code, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "build_request", recording_build)
    monkeypatch.setattr(httpx.Response, "__init__", recording_response)
    server.fake.hmac_keys = ("PUBLIC", "PRIVATE")
    signer = ct.CTApiV2Auth("PUBLIC", "PRIVATE")
    async with ct.Session(base_url=url, auth=signer, http_backend="aiohttp") as signed:
        await signed.users.get_points(ALICE)
    assert (built, responses) == (["GET"], [200])
    server.fake.hmac_keys = None
    async with ct.Session(API_KEY, base_url=url, http_backend="aiohttp") as session:
        points = await session.users.get_points(ALICE)
        page = await session.users.get_rewards_page(ALICE, page=2)
    assert (points.redeemable_points, page.number) == (4500, 2)
    assert (built, responses) == (["GET"], [200])
    assert [request.path.rsplit("/", 1)[-1] for request in server.fake.requests] == [
        "points",
        "points",
        "rewards",
    ]


def test_a_request_on_its_way_shows_no_key_in_its_repr() -> None:
    # Private: the request the engine hands both wires carries the key in its
    # URL (auth="query") or headers (auth="header"); a traceback or a log of
    # it must not show it.
    from crowdtwist_async._exchange import Outgoing

    outgoing = Outgoing(
        "GET",
        f"https://api123.crowdtwist.com/v2/users/1/points?api_key={API_KEY}",
        {"X-CT-Authorization": f"CTApiKey {API_KEY}"},
        None,
        httpx.Timeout(1.0),
    )
    assert repr(outgoing) == (
        "<Outgoing GET https://api123.crowdtwist.com/v2/users/1/points?api_key=***>"
    )
    assert API_KEY not in str(outgoing)
