"""Request bodies reach FakeCrowdTwist whole through every adapter, and are recorded.

The in-process transport, the fake as an ASGI app (under `httpx.ASGITransport`),
`serve()` (uvicorn on a port) and `serve_raw()` (the fake's own HTTP/1.1 server,
which reads bodies itself): each hands the body to the fake as it was sent, a
chunked one too, and `fake.requests` keeps it with the request's headers. The
statuses are not asserted: the write routes are not this file's subject.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal

import httpx
import pytest

from crowdtwist_async.testing import FakeCrowdTwist, RecordedRequest

from .conftest import API_KEY
from .wire_support import sample_fake

pytestmark = pytest.mark.anyio

Adapter = Literal["transport", "asgi", "port", "raw"]

#: Use Coupon's path and a body as its page shows it (the code is unknown to the fake).
USE = "/v2/coupon/use"
PAYLOAD = {"coupon_value": "NOT-ISSUED-1", "use_date": "2023-05-20T18:25:43-04:00"}
WIRE_JSON = b'{"coupon_value": "NOT-ISSUED-1", "use_date": "2023-05-20T18:25:43-04:00"}'
#: 300 KB, with the blank line that ends a request head inside it, and every byte value.
BINARY = b"\r\n\r\n" + bytes(range(256)) * 1200
#: A raw reply for `serve_raw`.
TEAPOT = b"HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


@pytest.fixture(params=["transport", "asgi", "port", "raw"])
def adapter(request: pytest.FixtureRequest) -> Adapter:
    value: Adapter = request.param
    return value


@pytest.fixture
def fake() -> FakeCrowdTwist:
    return sample_fake()


@contextmanager
def base_url_of(fake: FakeCrowdTwist, adapter: Adapter) -> Iterator[str]:
    if adapter == "port":
        with fake.serve() as url:
            yield url
    elif adapter == "raw":
        with fake.serve_raw(lambda head: None) as url:
            yield url
    else:
        yield fake.base_url


@asynccontextmanager
async def client(fake: FakeCrowdTwist, adapter: Adapter) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client reaching *fake* through *adapter*, sending `API_KEY`."""
    transport: httpx.AsyncBaseTransport | None = None
    if adapter == "transport":
        transport = fake.transport()
    elif adapter == "asgi":
        transport = httpx.ASGITransport(app=fake)
    with base_url_of(fake, adapter) as url:
        async with httpx.AsyncClient(
            transport=transport, base_url=url, params={"api_key": API_KEY}
        ) as http:
            yield http


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    """A request body httpx sends chunked (no length known), in *parts*."""
    for part in parts:
        yield part


def only(fake: FakeCrowdTwist) -> RecordedRequest:
    assert len(fake.requests) == 1, fake.requests
    return fake.requests[0]


async def test_a_json_body_arrives_whole_and_is_recorded(
    fake: FakeCrowdTwist, adapter: Adapter
) -> None:
    async with client(fake, adapter) as http:
        await http.post(USE, content=WIRE_JSON, headers={"Content-Type": "application/json"})
    recorded = only(fake)
    assert (recorded.method, recorded.path, recorded.params) == ("POST", USE, {})
    assert recorded.body == WIRE_JSON
    assert recorded.json == PAYLOAD
    assert recorded.headers["content-type"] == "application/json"
    assert recorded.headers["content-length"] == str(len(WIRE_JSON))


async def test_a_chunked_body_arrives_whole_and_is_recorded(
    fake: FakeCrowdTwist, adapter: Adapter
) -> None:
    parts = (
        b'{"coupon_value": ',
        b'"NOT-ISSUED-1", ',
        b'"use_date": ',
        b'"2023-05-20T18:25:43-04:00"}',
    )
    async with client(fake, adapter) as http:
        await http.post(USE, content=pieces(*parts), headers={"Content-Type": "application/json"})
    recorded = only(fake)
    assert recorded.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in recorded.headers
    assert recorded.body == b"".join(parts) == WIRE_JSON
    assert recorded.json == PAYLOAD


async def test_a_large_binary_body_arrives_byte_for_byte(
    fake: FakeCrowdTwist, adapter: Adapter
) -> None:
    async with client(fake, adapter) as http:
        await http.put(USE, content=BINARY, headers={"Content-Type": "application/octet-stream"})
        # The next request on the connection (one per connection on `raw`)
        # is read from its own start: the first body did not run into it.
        await http.post(USE, json=PAYLOAD)
    first, second = fake.requests
    assert (first.method, first.body, first.json) == ("PUT", BINARY, None)
    assert (second.method, second.json) == ("POST", PAYLOAD)


async def test_a_get_records_an_empty_body_and_its_headers(
    fake: FakeCrowdTwist, adapter: Adapter
) -> None:
    async with client(fake, adapter) as http:
        response = await http.get("/v2/users/1001/usable_coupons", headers={"X-Trace": "t-1"})
        assert response.status_code == 200
    recorded = only(fake)
    assert (recorded.body, recorded.json, recorded.status) == (b"", None, 200)
    assert recorded.headers["x-trace"] == "t-1"
    assert recorded.headers["user-agent"].startswith("python-httpx/")


async def test_a_script_predicate_sees_the_body(fake: FakeCrowdTwist, adapter: Adapter) -> None:
    fake.script(409, json={"error": "seen"}, when=lambda r: r.json == PAYLOAD, times=None)
    async with client(fake, adapter) as http:
        matching = await http.post(USE, json=PAYLOAD)
        other = await http.post(USE, json={"coupon_value": "OTHER"})
    assert matching.status_code == 409
    assert other.status_code != 409
    assert [r.json for r in fake.requests] == [PAYLOAD, {"coupon_value": "OTHER"}]


async def test_a_raw_reply_records_the_body_too(fake: FakeCrowdTwist) -> None:
    with fake.serve_raw(lambda head: TEAPOT if head.startswith(b"POST ") else None) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            response = await http.post(USE, content=pieces(b'{"a": ', b"1}"))
    assert response.status_code == 418
    recorded = only(fake)
    assert (recorded.status, recorded.body, recorded.json) == (418, b'{"a": 1}', {"a": 1})


async def test_a_client_gone_mid_body_is_not_answered_nor_recorded(fake: FakeCrowdTwist) -> None:
    received: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"coupon_value": ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    messages = iter(received)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": USE,
        "raw_path": USE.encode(),
        "query_string": f"api_key={API_KEY}".encode(),
        "headers": [(b"content-type", b"application/json")],
    }
    await fake(scope, receive, send)
    assert (sent, fake.requests, fake.cancelled) == ([], [], [])


def test_headers_take_no_part_in_equality_or_repr() -> None:
    shown = RecordedRequest(
        method="POST",
        path=USE,
        params={},
        page=None,
        status=200,
        headers={"x-ct-authorization": f"CTApiKey {API_KEY}"},
        body=b"{}",
    )
    bare = RecordedRequest(method="POST", path=USE, params={}, page=None, status=200, body=b"{}")
    assert shown == bare
    assert bare.headers == {}
    assert API_KEY not in repr(shown)
    assert shown != RecordedRequest(
        method="POST", path=USE, params={}, page=None, status=200, body=b"[]"
    )


@pytest.mark.parametrize(
    ("body", "decoded"),
    [(b"", None), (b"not json", None), (b"\xff\xfe", None), (b"null", None), (b"[1, 2]", [1, 2])],
)
def test_json_is_the_decoded_body_or_none(body: bytes, decoded: object) -> None:
    recorded = RecordedRequest(
        method="POST", path=USE, params={}, page=None, status=None, body=body
    )
    assert recorded.json == decoded
