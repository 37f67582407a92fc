"""The Live Push receiver: each status it answers, in the order it checks,
through httpx's ASGI transport on both loops, raw ASGI where the order of
messages is the point, and once over uvicorn on a loopback port."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import uvicorn

from crowdtwist_async.push import FEEDS, PushEvent, PushEventError, parse_event, receiver

pytestmark = pytest.mark.anyio

USER = "crowdtwist-hook"
PASSWORD = "pw-7c1d9f-secret"
API_KEY = "GRscvhg53SsDg1gxxsDgcsf123"
EMAIL = "joe.member@example.com"
BASE = "http://receiver.test"

#: One delivery per feed, shaped as the Live Push pages show them.
SAMPLES: dict[str, dict[str, Any]] = {
    "user_redemption": {
        "orderId": 101,
        "orderDate": 1438043367,
        "rewardId": 947563,
        "rewardGroupId": 12345,
        "category": "Gift Cards",
        "title": "$20 Gift Card",
        "description": "$20 to use on our site",
        "color": None,
        "size": None,
    },
    "user_activity": {
        "userActivityId": 12348765,
        "activityId": 198,
        "activityName": "added gender",
        "points": 80,
        "notes": None,
        "title": "Add Your Gender",
    },
    "user_profile": {
        "country": "US",
        "receiveSmsMessages": 0,
        "facebookUserId": None,
        "redeemablePoints": 5200,
        "postalCode": "10001",
        "tierInfo": {"resetDate": "2017-03-23T20:00:00Z", "dateReached": "2017-03-23T19:00:00Z"},
    },
    "points_expiration": {
        "user_id": 348399,
        "email_address": "test@ct.com",
        "third_party_id": "12322",
        "message_date": "2021-05-20T18:25:43.511-04:00",
        "points_expiring": 200,
    },
    "user_segmentation": {
        "user_id": 10,
        "email_address": EMAIL,
        "third_party_id": "user-123",
        "type": "segment",
        "name": "Users in New York",
        "subscription_id": 200,
        "event": "entered",
        "trigger": "segment criteria",
        "date_occurred": "2022-07-27T18:29:18Z",
    },
}

ACCEPTED = {"status": "accepted"}
NOT_ACCEPTED = {"error": "not_accepted"}
CHALLENGE = 'Basic realm="Live Push"'


def body_of(feed: str) -> bytes:
    return json.dumps(SAMPLES[feed]).encode()


class Recorder:
    """An on_event that records each event, failing while `failures` lasts."""

    def __init__(self, failures: int = 0) -> None:
        self.events: list[PushEvent] = []
        self.failures = failures

    async def __call__(self, event: PushEvent) -> None:
        self.events.append(event)
        if self.failures:
            self.failures -= 1
            raise RuntimeError(f"store is down (while saving {EMAIL})")


def client(app: Any, *, root_path: str = "") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, root_path=root_path), base_url=BASE
    )


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- raw ASGI, where what the app sent and when is the point -------------------

Message = dict[str, Any]


def http_scope(
    path: str = "/user_activity", *, headers: list[tuple[bytes, bytes]]
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
    }


AUTH_HEADERS = [(b"authorization", basic(USER, PASSWORD).encode())]


def receive_from(
    messages: list[Message], received: list[Message]
) -> Callable[[], Awaitable[Message]]:
    async def receive() -> Message:
        message = messages[len(received)]
        received.append(message)
        return message

    return receive


# -- routing --------------------------------------------------------------------


@pytest.mark.parametrize("feed", FEEDS)
async def test_each_path_delivers_its_feeds_event(feed: str) -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD))
    async with client(app) as http:
        response = await http.post(f"/{feed}", content=body_of(feed), auth=(USER, PASSWORD))
    assert response.status_code == 200
    assert response.json() == ACCEPTED
    assert response.headers["content-type"] == "application/json"
    assert len(recorder.events) == 1
    event = recorder.events[0]
    assert event.feed == feed
    assert event == parse_event(feed, body_of(feed))
    assert event.delivery_key == parse_event(feed, body_of(feed)).delivery_key


@pytest.mark.parametrize(
    "path",
    ["/", "/user_activity/", "/USER_ACTIVITY", "/user_activity/extra", "/users", "/user_activityx"],
)
async def test_an_unknown_path_is_404_before_credentials(path: str) -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD))
    async with client(app) as http:
        response = await http.post(path, content=body_of("user_activity"))
    assert response.status_code == 404
    assert response.json() == {"error": "not_found"}
    assert recorder.events == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_a_wrong_method_is_405_allowing_post(method: str) -> None:
    recorder = Recorder()
    app = receiver(recorder, api_key=API_KEY)
    async with client(app) as http:
        response = await http.request(
            method,
            "/user_redemption",
            content=body_of("user_redemption"),
            headers={"x-api-key": API_KEY},
        )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"error": "method_not_allowed"}
    assert recorder.events == []


@pytest.mark.parametrize(
    ("root_path", "path"),
    [
        # Servers now put the mount point in `path` too (uvicorn does)...
        ("/hooks/crowdtwist", "/hooks/crowdtwist/user_segmentation"),
        # ...older ones left it out.
        ("/hooks/crowdtwist", "/user_segmentation"),
    ],
)
async def test_a_root_path_is_honoured(root_path: str, path: str) -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD))
    async with client(app, root_path=root_path) as http:
        response = await http.post(
            path, content=body_of("user_segmentation"), auth=(USER, PASSWORD)
        )
        below = await http.post(
            "/hooks/crowdtwist/nope", content=body_of("user_segmentation"), auth=(USER, PASSWORD)
        )
        # A prefix that only starts like the mount point is not it.
        beside = await http.post(
            "/hooks/crowdtwistuser_segmentation",
            content=body_of("user_segmentation"),
            auth=(USER, PASSWORD),
        )
    assert response.status_code == 200
    assert [event.feed for event in recorder.events] == ["user_segmentation"]
    assert below.status_code == 404
    assert beside.status_code == 404


# -- credentials ------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic(USER, "wrong-password"),
        basic("someone-else", PASSWORD),
        basic(USER, PASSWORD + "x"),
        basic(USER, ""),
        basic(USER.upper(), PASSWORD),
        # Not base64, no colon inside, another scheme, no token: all refused.
        "Basic !!not-base64!!",
        "Basic " + base64.b64encode(f"{USER}{PASSWORD}".encode()).decode(),
        "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode().rstrip("="),
        "Bearer " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
        "Basic",
        "",
    ],
    ids=[
        "missing",
        "wrong-password",
        "wrong-username",
        "longer-password",
        "empty-password",
        "username-case",
        "bad-base64",
        "no-colon",
        "no-padding",
        "bearer",
        "no-token",
        "empty",
    ],
)
async def test_wrong_basic_credentials_are_401_with_a_challenge_and_no_echo(
    authorization: str | None,
) -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD))
    headers = {} if authorization is None else {"authorization": authorization}
    async with client(app) as http:
        response = await http.post(
            "/user_redemption", content=body_of("user_redemption"), headers=headers
        )
    assert response.status_code == 401
    assert response.content == b""
    assert response.headers["www-authenticate"] == CHALLENGE
    assert response.headers["content-length"] == "0"
    assert recorder.events == []


async def test_the_basic_scheme_is_case_insensitive_and_the_password_may_hold_colons() -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, "pass:with:colons"))
    token = base64.b64encode(f"{USER}:pass:with:colons".encode()).decode()
    async with client(app) as http:
        response = await http.post(
            "/user_activity",
            content=body_of("user_activity"),
            headers={"authorization": f"bAsIc {token}"},
        )
    assert response.status_code == 200
    assert len(recorder.events) == 1


async def test_two_authorization_headers_are_401() -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD))
    async with client(app) as http:
        response = await http.post(
            "/user_activity",
            content=body_of("user_activity"),
            headers=[
                ("authorization", basic(USER, PASSWORD)),
                ("authorization", basic(USER, PASSWORD)),
            ],
        )
    assert response.status_code == 401
    assert recorder.events == []


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("x-api-key", API_KEY + "x")],
        [("x-api-key", API_KEY[:-1])],
        [("x-api-key", "")],
        [("x-api-key", API_KEY.lower())],
        [("x-api-key", API_KEY), ("x-api-key", API_KEY)],
        # The key in another header is not the key.
        [("authorization", API_KEY)],
    ],
    ids=["missing", "longer", "shorter", "empty", "case", "twice", "other-header"],
)
async def test_a_wrong_api_key_is_401_without_a_basic_challenge(
    headers: list[tuple[str, str]],
) -> None:
    recorder = Recorder()
    app = receiver(recorder, api_key=API_KEY)
    async with client(app) as http:
        response = await http.post(
            "/user_profile", content=body_of("user_profile"), headers=headers
        )
        accepted = await http.post(
            "/user_profile", content=body_of("user_profile"), headers={"X-API-Key": API_KEY}
        )
    assert response.status_code == 401
    assert response.content == b""
    assert "www-authenticate" not in response.headers
    assert accepted.status_code == 200
    assert len(recorder.events) == 1


@pytest.mark.parametrize(
    ("send_basic", "send_key", "status"),
    [(False, False, 401), (True, False, 401), (False, True, 401), (True, True, 200)],
)
async def test_with_both_credentials_configured_both_are_required(
    send_basic: bool, send_key: bool, status: int
) -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD), api_key=API_KEY)
    headers = {}
    if send_basic:
        headers["authorization"] = basic(USER, PASSWORD)
    if send_key:
        headers["x-api-key"] = API_KEY
    async with client(app) as http:
        response = await http.post(
            "/user_activity", content=body_of("user_activity"), headers=headers
        )
    assert response.status_code == status
    assert len(recorder.events) == (1 if status == 200 else 0)
    if status == 401:
        assert response.headers["www-authenticate"] == CHALLENGE


async def test_credentials_are_checked_before_the_body_is_read() -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD), max_body=10)
    received: list[Message] = []
    sent: list[Message] = []
    body = {"type": "http.request", "body": b"x" * 100, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"authorization", basic(USER, "nope").encode()), (b"content-length", b"100")]
    await app(http_scope(headers=headers), receive_from([body], received), send)
    assert received == []
    assert [message.get("status") for message in sent] == [401, None]
    assert recorder.events == []


# -- size -------------------------------------------------------------------------


async def test_max_body_is_inclusive() -> None:
    body = body_of("user_redemption")
    recorder = Recorder()
    at_cap = receiver(recorder, basic_auth=(USER, PASSWORD), max_body=len(body))
    over_cap = receiver(recorder, basic_auth=(USER, PASSWORD), max_body=len(body) - 1)
    async with client(at_cap) as http:
        accepted = await http.post("/user_redemption", content=body, auth=(USER, PASSWORD))
    async with client(over_cap) as http:
        refused = await http.post("/user_redemption", content=body, auth=(USER, PASSWORD))
    assert accepted.status_code == 200
    assert refused.status_code == 413
    assert refused.json() == {"error": "body_too_large"}
    assert len(recorder.events) == 1


async def test_a_content_length_over_max_body_is_413_before_reading() -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD), max_body=1_000)
    received: list[Message] = []
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [*AUTH_HEADERS, (b"content-length", b"1001")]
    chunk = {"type": "http.request", "body": b"{", "more_body": True}
    await app(http_scope(headers=headers), receive_from([chunk], received), send)
    assert received == []
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {"error": "body_too_large"}
    assert recorder.events == []


class Chunks(httpx.AsyncByteStream):
    """A body of *count* chunks, sent chunked (no Content-Length).

    Its own iterator, not an async generator: a receiver that stops reading
    leaves it half read, and an async generator left so would be finalized
    by the garbage collector, outside the test's loop."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk = chunk
        self.left = count
        self.sent = 0

    def __aiter__(self) -> Chunks:
        return self

    async def __anext__(self) -> bytes:
        if not self.left:
            raise StopAsyncIteration
        self.left -= 1
        self.sent += 1
        return self.chunk


async def test_a_chunked_body_over_max_body_is_413_once_counted() -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD), max_body=64)
    body = Chunks(b" " * 30, 10)
    request = httpx.Request(
        "POST",
        f"{BASE}/user_activity",
        headers={"authorization": basic(USER, PASSWORD), "transfer-encoding": "chunked"},
        stream=body,
    )
    assert "content-length" not in request.headers
    async with client(app) as http:
        response = await http.send(request)
    assert response.status_code == 413
    assert response.json() == {"error": "body_too_large"}
    # 30, 60, 90 bytes: read up to the chunk that passed 64, no further.
    assert body.sent == 3
    assert recorder.events == []


async def test_a_body_over_max_body_stops_being_read_at_the_cap() -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD), max_body=10)
    chunk = {"type": "http.request", "body": b"1234", "more_body": True}
    received: list[Message] = []
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(http_scope(headers=AUTH_HEADERS), receive_from([chunk] * 10, received), send)
    # 4, 8, 12 bytes: the third chunk passes 10 and no fourth is asked for.
    assert len(received) == 3
    assert sent[0]["status"] == 413
    assert recorder.events == []


async def test_a_chunked_body_under_max_body_is_accepted() -> None:
    recorder = Recorder()
    body = body_of("user_activity")
    app = receiver(recorder, basic_auth=(USER, PASSWORD), max_body=len(body))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 7):
            yield body[start : start + 7]

    async with client(app) as http:
        response = await http.post("/user_activity", content=chunks(), auth=(USER, PASSWORD))
    assert response.status_code == 200
    assert recorder.events == [parse_event("user_activity", body)]


# -- the body ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feed", "body", "field"),
    [
        ("user_activity", b"not json", None),
        ("user_activity", b"[1, 2]", None),
        ("user_activity", b"", None),
        # Valid JSON, but not the feed's event.
        (
            "user_redemption",
            json.dumps({**SAMPLES["user_redemption"], "orderId": None}).encode(),
            "orderId",
        ),
        ("user_redemption", json.dumps(SAMPLES["user_activity"]).encode(), "orderId"),
        (
            "user_activity",
            json.dumps({**SAMPLES["user_activity"], "points": "eighty"}).encode(),
            "points",
        ),
        (
            "user_segmentation",
            json.dumps({**SAMPLES["user_segmentation"], "date_occurred": "yesterday"}).encode(),
            "date_occurred",
        ),
    ],
    ids=["not-json", "array", "empty", "null-id", "other-feeds-event", "bad-number", "bad-date"],
)
async def test_a_body_that_is_not_the_feeds_event_is_400_naming_the_field(
    feed: str, body: bytes, field: str | None
) -> None:
    recorder = Recorder()
    app = receiver(recorder, api_key=API_KEY)
    with pytest.raises(PushEventError) as expected:
        parse_event(feed, body)
    assert expected.value.field == field
    async with client(app) as http:
        response = await http.post(f"/{feed}", content=body, headers={"x-api-key": API_KEY})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_event", "message": str(expected.value)}
    if field is not None:
        assert f": {field}: " in response.json()["message"]
    assert recorder.events == []


# -- on_event ---------------------------------------------------------------------


async def test_on_event_raising_is_503_and_a_retry_is_accepted() -> None:
    recorder = Recorder(failures=1)
    app = receiver(recorder, basic_auth=(USER, PASSWORD))
    body = body_of("user_redemption")
    async with client(app) as http:
        first = await http.post("/user_redemption", content=body, auth=(USER, PASSWORD))
        retry = await http.post("/user_redemption", content=body, auth=(USER, PASSWORD))
    assert first.status_code == 503
    assert first.json() == NOT_ACCEPTED
    # Nothing of the exception goes back to the sender.
    assert EMAIL not in first.text
    assert retry.status_code == 200
    assert retry.json() == ACCEPTED
    assert len(recorder.events) == 2
    assert recorder.events[0] == recorder.events[1]
    assert (
        recorder.events[0].delivery_key == recorder.events[1].delivery_key == "user_redemption:101"
    )


async def test_a_sync_on_event_is_503_not_a_crash() -> None:
    calls: list[PushEvent] = []

    def not_async(event: PushEvent) -> None:
        calls.append(event)

    app = receiver(not_async, api_key=API_KEY)  # type: ignore[arg-type]
    async with client(app) as http:
        response = await http.post(
            "/user_activity", content=body_of("user_activity"), headers={"x-api-key": API_KEY}
        )
    assert response.status_code == 503
    assert len(calls) == 1


async def test_the_answer_waits_for_on_event_to_return() -> None:
    order: list[str] = []
    entered = anyio.Event()
    release = anyio.Event()

    async def slow(event: PushEvent) -> None:
        order.append("on_event started")
        entered.set()
        await release.wait()
        order.append("on_event returned")

    async def send(message: Message) -> None:
        order.append(f"{message['type']} {message.get('status', '')}".strip())

    app = receiver(slow, basic_auth=(USER, PASSWORD))
    messages: list[Message] = [
        {"type": "http.request", "body": body_of("user_activity"), "more_body": False}
    ]
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(app, http_scope(headers=AUTH_HEADERS), receive_from(messages, []), send)
        await entered.wait()
        for _ in range(20):
            await anyio.lowlevel.checkpoint()
        assert order == ["on_event started"]
        release.set()
    assert order == [
        "on_event started",
        "on_event returned",
        "http.response.start 200",
        "http.response.body",
    ]


async def test_a_disconnect_mid_body_calls_nothing_and_sends_nothing() -> None:
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD))
    body = body_of("user_activity")
    messages: list[Message] = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.disconnect"},
    ]
    received: list[Message] = []
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(http_scope(headers=AUTH_HEADERS), receive_from(messages, received), send)
    assert len(received) == 2
    assert sent == []
    assert recorder.events == []


async def test_deliveries_await_their_on_event_concurrently() -> None:
    # Each on_event waits until all of them have started: under a lock that
    # lets one at a time in, the first would wait forever.
    count = 8
    started = 0
    all_in = anyio.Event()
    statuses: list[int] = []

    async def on_event(event: PushEvent) -> None:
        nonlocal started
        started += 1
        if started == count:
            all_in.set()
        await all_in.wait()

    app = receiver(on_event, basic_auth=(USER, PASSWORD))

    async def deliver(http: httpx.AsyncClient, number: int) -> None:
        body = json.dumps({**SAMPLES["user_activity"], "userActivityId": number}).encode()
        response = await http.post("/user_activity", content=body, auth=(USER, PASSWORD))
        statuses.append(response.status_code)

    # Generous: a deadlock fails here rather than at pytest's timeout.
    with anyio.fail_after(60):
        async with client(app) as http, anyio.create_task_group() as tasks:
            for number in range(count):
                tasks.start_soon(deliver, http, number)
    assert statuses == [200] * count
    assert started == count


# -- the ASGI protocol ----------------------------------------------------------


async def test_lifespan_is_acknowledged() -> None:
    app = receiver(Recorder(), api_key=API_KEY)
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive_from(messages, []), send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]


async def test_a_websocket_is_refused() -> None:
    app = receiver(Recorder(), api_key=API_KEY)

    async def send(message: Message) -> None:
        raise AssertionError("nothing is sent")

    with pytest.raises(ValueError, match="HTTP only"):
        await app({"type": "websocket", "path": "/user_activity"}, receive_from([], []), send)


# -- construction -----------------------------------------------------------------


async def _nothing(event: PushEvent) -> None:
    pass


def test_credentials_are_required() -> None:
    with pytest.raises(ValueError, match="basic_auth") as raised:
        receiver(_nothing)
    assert "api_key" in str(raised.value)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"basic_auth": [USER, PASSWORD]}, TypeError, "basic_auth must be a"),
        ({"basic_auth": (USER,)}, TypeError, "basic_auth must be a"),
        ({"basic_auth": (USER, PASSWORD, "x")}, TypeError, "basic_auth must be a"),
        ({"basic_auth": (USER, PASSWORD.encode())}, TypeError, "basic_auth must be a"),
        ({"basic_auth": ("", PASSWORD)}, ValueError, "username must not be empty"),
        ({"basic_auth": ("a:b", PASSWORD)}, ValueError, "must not contain ':'"),
        ({"api_key": API_KEY.encode()}, TypeError, "api_key must be a str"),
        ({"api_key": ""}, ValueError, "api_key must not be empty"),
        ({"api_key": f" {API_KEY}"}, ValueError, "whitespace"),
        ({"api_key": f"{API_KEY}\r\n"}, ValueError, "control character"),
        ({"api_key": API_KEY, "max_body": 0}, ValueError, "max_body must be at least 1"),
        ({"api_key": API_KEY, "max_body": True}, TypeError, "max_body must be an int"),
        ({"api_key": API_KEY, "max_body": 1024.0}, TypeError, "max_body must be an int"),
    ],
)
def test_bad_arguments_are_refused_without_showing_the_secret(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as raised:
        receiver(_nothing, **kwargs)
    assert PASSWORD not in str(raised.value)
    assert API_KEY not in str(raised.value)


def test_on_event_must_be_callable() -> None:
    with pytest.raises(TypeError, match="on_event must be an async callable"):
        receiver("not a function", api_key=API_KEY)  # type: ignore[arg-type]


def test_the_repr_shows_no_secret() -> None:
    app = receiver(_nothing, basic_auth=(USER, PASSWORD), api_key=API_KEY, max_body=2048)
    shown = repr(app)
    assert shown == "<Live Push receiver (basic_auth + api_key), max_body=2048>"
    assert (
        repr(receiver(_nothing, api_key=API_KEY))
        == "<Live Push receiver (api_key), max_body=1048576>"
    )
    for secret in (USER, PASSWORD, API_KEY):
        assert secret not in shown
        assert secret not in str(app)


# -- logs -------------------------------------------------------------------------


def _secrets(feed: str) -> list[str]:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return [USER, PASSWORD, API_KEY, token, EMAIL, parse_event(feed, body_of(feed)).delivery_key]


async def test_info_logs_one_line_per_delivery_with_no_credential_or_member_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="crowdtwist_async.push")
    recorder = Recorder()
    app = receiver(recorder, basic_auth=(USER, PASSWORD), api_key=API_KEY)
    body = body_of("user_segmentation")
    assert EMAIL.encode() in body
    async with client(app) as http:
        response = await http.post(
            "/user_segmentation",
            content=body,
            auth=(USER, PASSWORD),
            headers={"x-api-key": API_KEY},
        )
    assert response.status_code == 200
    records = [record for record in caplog.records if record.name == "crowdtwist_async.push"]
    assert [record.levelno for record in records] == [logging.INFO]
    message = records[0].getMessage()
    assert message.startswith("live push feed=user_segmentation status=200 duration=")
    for secret in _secrets("user_segmentation"):
        assert secret not in caplog.text


async def test_a_failing_on_event_logs_its_class_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crowdtwist_async.push")
    app = receiver(Recorder(failures=1), basic_auth=(USER, PASSWORD), api_key=API_KEY)
    async with client(app) as http:
        response = await http.post(
            "/user_segmentation",
            content=body_of("user_segmentation"),
            auth=(USER, PASSWORD),
            headers={"x-api-key": API_KEY},
        )
    assert response.status_code == 503
    records = [record for record in caplog.records if record.name == "crowdtwist_async.push"]
    assert [(record.levelno, record.exc_info) for record in records] == [
        (logging.ERROR, None),
        (logging.INFO, None),
    ]
    assert "RuntimeError" in records[0].getMessage()
    assert "status=503" in records[1].getMessage()
    # The exception's message holds the email: it is not logged.
    for secret in _secrets("user_segmentation"):
        assert secret not in caplog.text


async def test_refusals_log_feed_and_status_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="crowdtwist_async.push")
    app = receiver(Recorder(), basic_auth=(USER, PASSWORD))
    async with client(app) as http:
        await http.post(f"/{EMAIL}", content=b"{}")
        await http.get("/user_activity")
        await http.post("/user_activity", content=b"{}", auth=(USER, "guess"))
        await http.post("/user_activity", content=b"{}", auth=(USER, PASSWORD))
    lines = [record.getMessage().rpartition(" duration=")[0] for record in caplog.records]
    assert lines == [
        "live push feed=- status=404",
        "live push feed=user_activity status=405",
        "live push feed=user_activity status=401",
        "live push feed=user_activity status=400",
    ]
    assert EMAIL not in caplog.text
    assert "guess" not in caplog.text


# -- over a real server -------------------------------------------------------------


@contextmanager
def served(app: Any, *, root_path: str = "") -> Iterator[str]:
    """*app* on uvicorn in a thread on a loopback port, lifespan on (as
    `crowdtwist_async/testing/_server.py` serves the fake)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(
        app,
        interface="asgi3",
        lifespan="on",
        root_path=root_path,
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        host, port = sock.getsockname()
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
    assert not thread.is_alive()


@pytest.mark.slow
async def test_over_uvicorn() -> None:
    # on_event runs on the server's thread: a list append is safe there.
    recorder = Recorder(failures=1)
    app = receiver(recorder, basic_auth=(USER, PASSWORD), api_key=API_KEY, max_body=4096)
    redemption = body_of("user_redemption")
    credentials: dict[str, Any] = {"auth": (USER, PASSWORD), "headers": {"x-api-key": API_KEY}}

    async def oversize() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b" " * 1000

    with served(app, root_path="/hooks") as url:
        async with httpx.AsyncClient(base_url=url) as http:
            failed = await http.post("/user_redemption", content=redemption, **credentials)
            retried = await http.post("/user_redemption", content=redemption, **credentials)
            wrong = await http.post("/user_redemption", content=redemption, auth=(USER, "guess"))
            unknown = await http.post("/user_redemption/", content=redemption, **credentials)
            method = await http.get("/user_redemption", **credentials)
            invalid = await http.post("/user_redemption", content=b"{}", **credentials)
            declared = await http.post("/user_redemption", content=b" " * 4097, **credentials)
        # A new connection: the server closes one whose body it did not read.
        async with httpx.AsyncClient(base_url=url) as http:
            chunked = await http.post("/user_redemption", content=oversize(), **credentials)
    assert (failed.status_code, failed.json()) == (503, NOT_ACCEPTED)
    assert (retried.status_code, retried.json()) == (200, ACCEPTED)
    assert (wrong.status_code, wrong.content, wrong.headers["www-authenticate"]) == (
        401,
        b"",
        CHALLENGE,
    )
    assert unknown.status_code == 404
    assert (method.status_code, method.headers["allow"]) == (405, "POST")
    assert invalid.status_code == 400
    assert invalid.json() == {
        "error": "invalid_event",
        "message": "user_redemption: orderId: required field is missing",
    }
    assert declared.status_code == 413
    assert chunked.status_code == 413
    assert [event.delivery_key for event in recorder.events] == ["user_redemption:101"] * 2
