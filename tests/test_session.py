"""Session construction, authentication, lifecycle and retries."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Iterator

import anyio.lowlevel
import httpx
import pytest
import respx

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist

from .conftest import API_KEY, BASE_URL, STACKS, Stack
from .transport_support import ClosingTransport

REWARDS_URL = f"{BASE_URL}/v2.1/users/alice/rewards"
EMPTY_PAGE = {"paging": {"total": 0, "pages": 0}, "rewards": []}


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROWDTWIST_API_KEY", raising=False)
    monkeypatch.delenv("CROWDTWIST_BASE_URL", raising=False)


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


# --- construction ------------------------------------------------------------


@pytest.mark.usefixtures("no_env")
def test_missing_key_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="CROWDTWIST_API_KEY"):
        ct.Session(base_url=BASE_URL)
    with pytest.raises(ValueError, match="no API key"):
        ct.Session(" ", base_url=BASE_URL)


@pytest.mark.usefixtures("no_env")
def test_missing_base_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="client_id"):
        ct.Session(API_KEY)


@pytest.mark.usefixtures("no_env")
def test_key_and_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROWDTWIST_API_KEY", API_KEY)
    monkeypatch.setenv("CROWDTWIST_BASE_URL", "https://sb-api42.crowdtwist.com/")
    session = ct.Session()
    assert session.base_url == "https://sb-api42.crowdtwist.com"
    # An explicit argument beats the environment.
    assert ct.Session(base_url=BASE_URL).base_url == BASE_URL


@pytest.mark.usefixtures("no_env")
def test_base_url_built_from_client_id_and_environment() -> None:
    assert ct.Session(API_KEY, client_id=123).base_url == "https://api123.crowdtwist.com"
    assert (
        ct.Session(API_KEY, client_id=123, environment="sb-").base_url
        == "https://sb-api123.crowdtwist.com"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"auth": "basic"}, ValueError, "auth must be", id="auth"),
        pytest.param({"max_retries": -1}, ValueError, "max_retries", id="retries"),
        pytest.param({"max_concurrency": 0}, ValueError, "max_concurrency", id="concurrency"),
        pytest.param(
            {"max_concurrency": 2.5}, TypeError, "max_concurrency", id="concurrency-float"
        ),
        pytest.param({"base_url": "http://api.crowdtwist.com"}, ValueError, "https", id="http"),
        pytest.param({"http_client": object()}, TypeError, "http_client", id="client"),
        pytest.param({"api_key": 123}, TypeError, "api_key", id="key-type"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception], match: str) -> None:
    options: dict[str, object] = {"api_key": API_KEY, "base_url": BASE_URL, **kwargs}
    with pytest.raises(error, match=match):
        ct.Session(**options)  # type: ignore[arg-type]


def test_repr_hides_the_key() -> None:
    session = ct.Session(API_KEY, base_url=BASE_URL)
    assert API_KEY not in repr(session)
    assert API_KEY not in str(session)
    assert repr(session) == (
        "<Session open base_url='https://api123.crowdtwist.com' auth='query' "
        "api_key='***' max_concurrency=4 max_retries=2>"
    )


# --- authentication ----------------------------------------------------------


@pytest.mark.anyio
async def test_query_auth_sends_the_documented_api_key_parameter(router: respx.MockRouter) -> None:
    route = router.get(REWARDS_URL).respond(json=EMPTY_PAGE)
    async with ct.Session(API_KEY, base_url=BASE_URL) as session:
        await session.users.get_rewards_page("alice")
    request = route.calls.last.request
    assert request.url.params["api_key"] == API_KEY
    assert "x-ct-authorization" not in request.headers
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("crowdtwist-async/")


@pytest.mark.anyio
async def test_header_auth_keeps_the_key_out_of_the_url(router: respx.MockRouter) -> None:
    route = router.get(REWARDS_URL).respond(json=EMPTY_PAGE)
    async with ct.Session(API_KEY, base_url=BASE_URL, auth="header") as session:
        await session.users.get_rewards_page("alice")
    request = route.calls.last.request
    assert request.headers["x-ct-authorization"] == f"CTApiKey {API_KEY}"
    assert API_KEY not in str(request.url)
    assert "api_key" not in request.url.params


# --- lifecycle ---------------------------------------------------------------


@pytest.mark.anyio
async def test_own_client_is_closed_borrowed_client_is_left_open(router: respx.MockRouter) -> None:
    router.get(REWARDS_URL).respond(json=EMPTY_PAGE)
    # The client the session makes gets respx's transport; closing that
    # client closes its transport, which is what is seen from here.
    closed: list[bool] = []
    transport = httpx.AsyncHTTPTransport()
    original_aclose = transport.aclose

    async def aclose() -> None:
        closed.append(True)
        await original_aclose()

    transport.aclose = aclose  # type: ignore[method-assign]
    session = ct.Session(API_KEY, base_url=BASE_URL, transport=transport)
    async with session:
        await session.users.get_rewards_page("alice")
    assert session.closed
    assert closed == [True]

    borrowed = httpx.AsyncClient()
    async with ct.Session(API_KEY, base_url=BASE_URL, http_client=borrowed) as other:
        await other.users.get_rewards_page("alice")
    assert not borrowed.is_closed
    await borrowed.aclose()


@pytest.mark.anyio
async def test_using_a_closed_session_is_a_clear_error(router: respx.MockRouter) -> None:
    route = router.get(REWARDS_URL).respond(json=EMPTY_PAGE)
    session = ct.Session(API_KEY, base_url=BASE_URL)
    await session.aclose()
    await session.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="Session is closed"):
        await session.users.get_rewards_page("alice")
    with pytest.raises(RuntimeError, match="Session is closed"):
        await session.__aenter__()
    assert not route.called
    assert "closed" in repr(session)


@pytest.mark.anyio
async def test_a_session_is_entered_once() -> None:
    async with ct.Session(API_KEY, base_url=BASE_URL) as session:
        with pytest.raises(RuntimeError, match="already been entered"):
            await session.__aenter__()


def test_a_session_can_be_made_before_any_event_loop_runs() -> None:
    import anyio

    session = ct.Session(API_KEY, base_url=BASE_URL)

    async def use() -> int:
        with respx.mock:
            respx.get(REWARDS_URL).respond(json=EMPTY_PAGE)
            async with session:
                page = await session.users.get_rewards_page("alice")
        return page.total or 0

    assert anyio.run(use) == 0


# --- retries -----------------------------------------------------------------


@pytest.mark.anyio
async def test_retryable_statuses_are_retried(router: respx.MockRouter) -> None:
    busy = httpx.Response(503, headers={"Retry-After": "0"}, text="<html>busy</html>")
    route = router.get(REWARDS_URL).mock(
        side_effect=[
            busy,
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.Response(200, json=EMPTY_PAGE),
        ]
    )
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=2) as session:
        page = await session.users.get_rewards_page("alice")
    assert page.total == 0
    assert route.call_count == 3


@pytest.mark.anyio
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 501])
async def test_other_statuses_are_not_retried(router: respx.MockRouter, status: int) -> None:
    route = router.get(REWARDS_URL).respond(status, json={"error": "x", "message": "no"})
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=3) as session:
        with pytest.raises(ct.APIError) as info:
            await session.users.get_rewards_page("alice")
    assert info.value.status_code == status
    assert route.call_count == 1


@pytest.mark.anyio
async def test_exhausted_retries_raise_the_last_error(router: respx.MockRouter) -> None:
    route = router.get(REWARDS_URL).respond(502, headers={"Retry-After": "0"}, text="bad gateway")
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=2) as session:
        with pytest.raises(ct.ServerError) as info:
            await session.users.get_rewards_page("alice")
    assert info.value.status_code == 502
    assert route.call_count == 3


@pytest.mark.anyio
async def test_a_long_retry_after_is_not_slept_on(router: respx.MockRouter) -> None:
    route = router.get(REWARDS_URL).respond(429, headers={"Retry-After": "3600"})
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=5) as session:
        with pytest.raises(ct.RateLimitError) as info:
            await session.users.get_rewards_page("alice")
    assert info.value.retry_after == 3600.0
    assert route.call_count == 1


@pytest.mark.anyio
async def test_connection_errors_become_api_connection_error(router: respx.MockRouter) -> None:
    route = router.get(REWARDS_URL).mock(side_effect=httpx.ConnectError("connection refused"))
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=0) as session:
        with pytest.raises(ct.APIConnectionError) as info:
            await session.users.get_rewards_page("alice")
    assert type(info.value) is ct.APIConnectionError
    assert "ConnectError: connection refused" in str(info.value)
    assert route.call_count == 1


@pytest.mark.anyio
async def test_timeouts_become_api_timeout_error_and_are_retried(router: respx.MockRouter) -> None:
    route = router.get(REWARDS_URL).mock(
        side_effect=[httpx.ReadTimeout("timed out"), httpx.Response(200, json=EMPTY_PAGE)]
    )
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=1) as session:
        page = await session.users.get_rewards_page("alice")
    assert page.rewards == ()
    assert route.call_count == 2

    route.mock(side_effect=httpx.ConnectTimeout("timed out"))
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=0) as session:
        with pytest.raises(ct.APITimeoutError, match="timed out"):
            await session.users.get_rewards_page("alice")


@pytest.mark.anyio
async def test_an_oversized_body_is_refused(router: respx.MockRouter) -> None:
    MAX_BODY_BYTES = ct.Limits().max_body_bytes

    router.get(REWARDS_URL).respond(200, content=b" " * (MAX_BODY_BYTES + 1))
    async with ct.Session(API_KEY, base_url=BASE_URL) as session:
        with pytest.raises(ct.ResponseDecodeError, match="too large") as info:
            await session.users.get_rewards_page("alice")
    assert info.value.status_code == 200


@pytest.mark.anyio
async def test_a_declared_length_over_the_cap_is_refused_before_any_byte(
    router: respx.MockRouter,
) -> None:
    limit = ct.Limits().max_body_bytes
    reads: list[int] = []

    class Watched(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            reads.append(1)
            yield b"{}"

    router.get(REWARDS_URL).respond(
        200, headers={"Content-Length": str(limit + 1)}, stream=Watched()
    )
    async with ct.Session(API_KEY, base_url=BASE_URL) as session:
        with pytest.raises(ct.ResponseDecodeError, match="declared") as info:
            await session.users.get_rewards_page("alice")
    assert reads == []
    assert info.value.status_code == 200
    assert str(limit + 1) in info.value.message


@pytest.mark.anyio
async def test_redirects_are_not_followed(router: respx.MockRouter) -> None:
    route = router.get(REWARDS_URL).respond(
        302, headers={"Location": "https://elsewhere.example/steal"}
    )
    other = router.get("https://elsewhere.example/steal").respond(json=EMPTY_PAGE)
    async with ct.Session(API_KEY, base_url=BASE_URL) as session:
        with pytest.raises(ct.APIError) as info:
            await session.users.get_rewards_page("alice")
    assert info.value.status_code == 302
    assert route.call_count == 1
    assert not other.called


@pytest.mark.anyio
async def test_the_key_is_not_in_errors_or_debug_logs(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    router.get(REWARDS_URL).mock(
        side_effect=[httpx.ConnectError(f"failed for {REWARDS_URL}?api_key={API_KEY}")]
    )
    caplog.set_level(logging.DEBUG, logger="crowdtwist_async")
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=0) as session:
        with pytest.raises(ct.APIConnectionError) as info:
            await session.users.get_rewards_page("alice")
    assert API_KEY not in str(info.value)
    assert API_KEY not in repr(info.value)
    assert API_KEY not in "".join(traceback.format_exception(info.value))
    assert API_KEY not in caplog.text


@pytest.mark.anyio
async def test_a_transport_gets_a_client_the_session_owns() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=EMPTY_PAGE)

    transport = ClosingTransport(handler)
    session = ct.Session(API_KEY, base_url=BASE_URL, transport=transport)
    async with session:
        await session.users.get_rewards_page("alice")
    assert seen == ["/v2.1/users/alice/rewards"]
    assert transport.is_closed
    with pytest.raises(ValueError, match="not both"):
        ct.Session(
            API_KEY,
            base_url=BASE_URL,
            transport=httpx.MockTransport(handler),
            http_client=httpx.AsyncClient(),
        )


# --- per-call options, timeouts, redaction -----------------------------------


@pytest.mark.anyio
async def test_with_options_overrides_retries_and_shares_the_session(
    router: respx.MockRouter,
) -> None:
    busy = httpx.Response(503, headers={"Retry-After": "0"})
    route = router.get(REWARDS_URL).mock(
        side_effect=[busy, busy, httpx.Response(200, json=EMPTY_PAGE)]
    )
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=0) as session:
        patient = session.with_options(max_retries=2)
        assert "max_retries=2" in repr(patient)
        assert patient.max_concurrency == session.max_concurrency
        page = await patient.users.get_rewards_page("alice")
        assert page.total == 0
        assert route.call_count == 3
        route.side_effect = [busy]
        with pytest.raises(ct.ServerError):
            await session.users.get_rewards_page("alice")
        route.mock(return_value=httpx.Response(200, json=EMPTY_PAGE))
        assert [r async for r in patient.users.aiter_rewards("alice")] == []
        with pytest.raises(RuntimeError, match="derived"):
            await patient.__aenter__()
        await patient.aclose()  # the original owns the connections
        assert not session.closed
    assert patient.closed
    with pytest.raises(ValueError, match="max_retries"):
        session.with_options(max_retries=-1)


@pytest.mark.parametrize(
    ("value", "total", "connect"),
    [
        pytest.param(5.0, 5.0, 3.0, id="seconds"),
        pytest.param(1, 1, 1, id="short"),
        pytest.param(None, None, None, id="none"),
        pytest.param(ct.Timeout(total=20.0, connect=2.0), 20.0, 2.0, id="timeout"),
    ],
)
def test_timeout_coercion(
    value: float | ct.Timeout | None, total: float | None, connect: float | None
) -> None:
    timeout = ct.Timeout.coerce(value)
    assert (timeout.total, timeout.connect) == (total, connect)
    assert ct.Timeout(total=10.0, connect=3.0) == ct.DEFAULT_TIMEOUT


@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param(0, ValueError, id="zero"),
        pytest.param(-1.0, ValueError, id="negative"),
        pytest.param(float("inf"), ValueError, id="infinite"),
        pytest.param("10", TypeError, id="string"),
        pytest.param(httpx.Timeout(5.0), TypeError, id="httpx-timeout"),
    ],
)
def test_bad_timeouts(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"timeout|total"):
        ct.Session(API_KEY, base_url=BASE_URL, timeout=value)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_httpx_request_logs_do_not_show_the_key(
    router: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    router.get(REWARDS_URL).respond(json=EMPTY_PAGE)
    caplog.set_level(logging.DEBUG)
    async with ct.Session(API_KEY, base_url=BASE_URL) as session:
        await session.users.get_rewards_page("alice")
    assert "api_key=***" in caplog.text
    assert API_KEY not in caplog.text
    # Other records of the httpx logger pass through untouched.
    logging.getLogger("httpx").info("unrelated %s", "message")
    assert caplog.records[-1].getMessage() == "unrelated message"


@pytest.mark.anyio
async def test_a_body_that_echoes_the_key_is_masked(router: respx.MockRouter) -> None:
    router.get(REWARDS_URL).respond(
        502, text=f"<html>upstream failed for /rewards?api_key={API_KEY}</html>"
    )
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=0) as session:
        with pytest.raises(ct.ServerError) as info:
            await session.users.get_rewards_page("alice")
    assert info.value.body == "<html>upstream failed for /rewards?api_key=***</html>"
    assert API_KEY not in "".join(traceback.format_exception(info.value))


@pytest.mark.anyio
async def test_an_endless_body_is_cut_off_without_reading_it_all(router: respx.MockRouter) -> None:
    MAX_BODY_BYTES = ct.Limits().max_body_bytes

    sent = 0

    class Endless(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            nonlocal sent
            chunk = b" " * (1024 * 1024)
            while True:
                sent += len(chunk)
                # As a network read would, each chunk lets the event loop run.
                await anyio.lowlevel.checkpoint()
                yield chunk

    router.get(REWARDS_URL).respond(200, stream=Endless())
    async with ct.Session(API_KEY, base_url=BASE_URL) as session:
        with pytest.raises(ct.ResponseDecodeError, match="too large"):
            await session.users.get_rewards_page("alice")
    # It stopped one read past the limit, not at the end of an endless body.
    assert MAX_BODY_BYTES < sent <= MAX_BODY_BYTES + 2 * 1024 * 1024


@pytest.mark.anyio
@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_each_retryable_status_is_retried(router: respx.MockRouter, status: int) -> None:
    route = router.get(REWARDS_URL).mock(
        side_effect=[
            httpx.Response(status, headers={"Retry-After": "0"}),
            httpx.Response(200, json=EMPTY_PAGE),
        ]
    )
    async with ct.Session(API_KEY, base_url=BASE_URL, max_retries=1) as session:
        page = await session.users.get_rewards_page("alice")
    assert page.total == 0
    assert route.call_count == 2


# --- paths that a server would resolve upwards (issue 18, #11) ----------------


class RawPaths(httpx.AsyncBaseTransport):
    """Answers every request with *body*, noting each raw path (query cut) it was sent."""

    def __init__(self, body: object) -> None:
        self.body = body
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.raw_path.decode().partition("?")[0])
        return httpx.Response(200, json=self.body)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/v2/%2e%2e/x",
        "/v2/.%2E/x",
        "/v2/%2E./x",
        "/v2/%2e/x",
        "/v2/..;/x",
        "/v2/.;/x",
        "/v2/..;jsessionid=1/x",
        "/v2/..%3b/x",
        "/v2/users/1001/%2E%2E",
    ],
)
async def test_an_encoded_dot_segment_is_refused_before_any_request(path: str) -> None:
    message = (
        "path must not have a '.' or '..' segment, percent-encoded or not, alone or "
        f"before ';' (a server may resolve it); got {path!r}"
    )
    transport = RawPaths({"paging": {"total": 0, "pages": 0}, "items": []})
    async with ct.Session(API_KEY, base_url=BASE_URL, transport=transport) as session:
        with pytest.raises(ValueError) as called:  # noqa: PT011 (the whole message is checked)
            await session.get_json(path)
        with pytest.raises(ValueError) as listed:  # noqa: PT011
            session.paginate(path, items="items")
    assert (str(called.value), str(listed.value)) == (message, message)
    assert transport.paths == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path",
    [
        "/v2/users/.../points",
        "/v2/users/%2E%2E%2E/points",
        "/v2/users/%252E%252E/points",
        "/v2/users/x;../points",
        "/v2/users/..a/points",
    ],
)
async def test_a_segment_of_more_than_dots_is_sent_as_it_is(path: str) -> None:
    transport = RawPaths({"points": 5})
    async with ct.Session(API_KEY, base_url=BASE_URL, transport=transport) as session:
        assert await session.get_json(path) == {"points": 5}
    assert transport.paths == [path]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("user_id", [".", ".."])
def test_a_user_id_of_dots_reaches_the_server_as_one_segment(stack: Stack, user_id: str) -> None:
    # The endpoints encode the id themselves and do not go through the check
    # that refuses dot segments in a caller's path.
    fake = FakeCrowdTwist(api_key=API_KEY)
    fake.script(json=[], path="*/usable_coupons")
    fake.script(json=EMPTY_PAGE, path="*/rewards")
    encoded = user_id.replace(".", "%2E")

    async def use(url: str) -> None:
        async with ct.Session(API_KEY, base_url=url, http_backend=stack.http) as session:
            assert await session.users.usable_coupons(user_id) == ()
            assert [reward async for reward in session.users.aiter_rewards(user_id)] == []

    with fake.serve() as url:
        anyio.run(use, url, backend=stack.loop)
    # The paths as the server received them, still percent-encoded.
    assert [request.path for request in fake.requests] == [
        f"/v2/users/{encoded}/usable_coupons",
        f"/v2.1/users/{encoded}/rewards",
    ]
