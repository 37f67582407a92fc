"""`FakeCrowdTwist.script()`: how each argument is checked, and what a script sends.

Pins the contract of `script()` as a caller sees it through the fake's
transport: the exception class and message of every rejected argument (and
which one is reported when several are wrong), that a rejected script queues
nothing, and the status, headers, body and framing of what an accepted one
sends, how often, and to which requests.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest

from crowdtwist_async.testing import FakeCrowdTwist, RecordedRequest

pytestmark = pytest.mark.anyio

KEY = "script-key-51c2"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
#: Alice's rewards (203 of them, 21 pages), and her usable coupons.
REWARDS = "/v2.1/users/1001/rewards"
COUPONS = "/v2/users/1001/usable_coupons"


@pytest.fixture
def fake() -> FakeCrowdTwist:
    return FakeCrowdTwist(seed=0, now=NOW, api_key=KEY)


async def get(fake: FakeCrowdTwist, *targets: str) -> list[httpx.Response]:
    """GET each target (path and query, as sent) in turn through the fake's transport."""
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
        return [await client.get(target) for target in targets]


def with_key(path: str, query: str = "") -> str:
    return f"{path}?{query}&api_key={KEY}" if query else f"{path}?api_key={KEY}"


def rewrite(body: bytes) -> bytes:
    return body.upper()


# -- argument checks ------------------------------------------------------------------

REJECTED: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"status": 600}, ValueError, "an HTTP status must be an int from 100 to 599, got 600"),
    ({"status": 99}, ValueError, "an HTTP status must be an int from 100 to 599, got 99"),
    ({"status": True}, ValueError, "an HTTP status must be an int from 100 to 599, got True"),
    ({"status": "200"}, ValueError, "an HTTP status must be an int from 100 to 599, got '200'"),
    ({"delay": "1"}, TypeError, "delay must be a number of seconds, got str"),
    ({"delay": -0.5}, ValueError, "delay must be a finite number of seconds >= 0, got -0.5"),
    ({"delay": math.inf}, ValueError, "delay must be a finite number of seconds >= 0, got inf"),
    ({"trickle": True}, TypeError, "trickle must be a number of seconds, got bool"),
    ({"trickle": math.nan}, ValueError, "trickle must be a finite number of seconds >= 0, got nan"),
    ({"reset_after": 1.5}, TypeError, "reset_after must be an int, got float"),
    ({"reset_after": -1}, ValueError, "reset_after must be at least 0, got -1"),
    ({"chunk_size": False}, TypeError, "chunk_size must be an int, got bool"),
    ({"chunk_size": 0}, ValueError, "chunk_size must be at least 1, got 0"),
    ({"times": "2"}, TypeError, "times must be an int, got str"),
    ({"times": 0}, ValueError, "times must be at least 1, got 0"),
    ({"json": {}, "body": b"x"}, ValueError, "pass json or body, not both"),
    ({"json": None, "body": "x"}, ValueError, "pass json or body, not both"),
    ({"json": [], "body": rewrite}, ValueError, "pass json or body, not both"),
    ({"echo": True, "json": {}}, ValueError, "pass echo or a body (json or body), not both"),
    ({"echo": True, "body": b""}, ValueError, "pass echo or a body (json or body), not both"),
    ({"echo": True, "body": rewrite}, ValueError, "pass echo or a body (json or body), not both"),
    ({"body": 5}, TypeError, "body must be bytes, str or a function, got int"),
    ({"status": 500, "body": [b"x"]}, TypeError, "body must be bytes, str or a function, got list"),
    ({"json": object()}, TypeError, "Object of type object is not JSON serializable"),
]


@pytest.mark.parametrize(("arguments", "error", "message"), REJECTED)
async def test_a_bad_argument_is_refused_and_nothing_is_queued(
    fake: FakeCrowdTwist, arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        fake.script(**arguments)
    assert type(info.value) is error
    assert str(info.value) == message
    (response,) = await get(fake, with_key(REWARDS))
    assert response.status_code == 200
    assert response.json()["paging"]["total"] == 203


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"status": 0, "delay": -1, "json": {}, "body": b"x"}, "an HTTP status must be"),
        ({"delay": -1, "trickle": -1, "reset_after": -1}, "delay must be"),
        ({"trickle": -1, "reset_after": -1, "times": 0}, "trickle must be"),
        ({"reset_after": -1, "chunk_size": 0, "times": 0}, "reset_after must be"),
        ({"chunk_size": 0, "times": 0, "echo": True, "json": {}}, "chunk_size must be"),
        ({"times": 0, "json": {}, "body": b"x"}, "times must be"),
        ({"json": {}, "body": b"x", "echo": True}, "pass json or body, not both"),
        ({"echo": True, "body": 5}, "pass echo or a body"),
    ],
)
def test_of_several_bad_arguments_the_first_checked_is_reported(
    fake: FakeCrowdTwist, arguments: dict[str, Any], message: str
) -> None:
    # The order: status, delay, trickle, reset_after, chunk_size, times, then the body.
    with pytest.raises((TypeError, ValueError)) as info:
        fake.script(**arguments)
    assert str(info.value).startswith(message)


# -- what a script sends --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        (b"raw", b"raw"),
        (bytearray(b"array"), b"array"),
        (memoryview(b"view"), b"view"),
        ("caf\u00e9", "caf\u00e9".encode()),
    ],
)
async def test_a_body_is_sent_as_bytes_with_status_200_and_no_headers(
    fake: FakeCrowdTwist, body: Any, sent: bytes
) -> None:
    fake.script(body=body)
    (response,) = await get(fake, COUPONS)  # no key: a scripted body comes first
    assert (response.status_code, response.content) == (200, sent)
    assert list(response.headers.items()) == [("content-length", str(len(sent)))]


async def test_json_is_sent_as_it_was_when_scripted(fake: FakeCrowdTwist) -> None:
    payload: dict[str, Any] = {"ok": True, "name": "caf\u00e9"}
    fake.script(418, json=payload)
    fake.script(json=None)
    payload["ok"] = False
    teapot, null = await get(fake, COUPONS, COUPONS)
    assert teapot.status_code == 418
    assert teapot.content == '{"ok":true,"name":"caf\u00e9"}'.encode()
    assert teapot.headers["content-type"] == "application/json"
    assert (null.status_code, null.content) == (200, b"null")


async def test_an_empty_body_beside_json_is_ignored(fake: FakeCrowdTwist) -> None:
    fake.script(json=[1], body=b"")
    fake.script(json=[2], body="")
    first, second = await get(fake, COUPONS, COUPONS)
    assert (first.content, second.content) == (b"[1]", b"[2]")


async def test_a_status_alone_sends_an_empty_body(fake: FakeCrowdTwist) -> None:
    fake.script(503)
    (response,) = await get(fake, with_key(REWARDS))
    assert (response.status_code, response.content) == (503, b"")
    assert list(response.headers.items()) == [("content-length", "0")]
    assert [r.status for r in fake.requests] == [503]


async def test_echo_sends_the_target_as_sent(fake: FakeCrowdTwist) -> None:
    fake.script(echo=True)
    fake.script(500, echo=True, headers={"Content-Type": "text/plain"})
    target = with_key("/v2.1/users/a%2Fb/rewards", "page=2&x=%C3%A9")
    plain, error = await get(fake, target, "/nowhere")
    assert (plain.status_code, plain.content) == (200, target.encode())
    assert "content-type" not in plain.headers
    assert (error.status_code, error.content) == (500, b"/nowhere")
    assert error.headers["content-type"] == "text/plain"


async def test_headers_are_lower_cased_replace_their_namesakes_and_leave_framing_alone(
    fake: FakeCrowdTwist,
) -> None:
    fake.script(
        json=[],
        headers={
            "Content-Type": "text/html",
            "X-Trace": "7",
            "CONTENT-LENGTH": "999",
            "Transfer-Encoding": "chunked",
        },
    )
    (response,) = await get(fake, COUPONS)
    assert list(response.headers.items()) == [
        ("content-type", "text/html"),
        ("x-trace", "7"),
        ("content-length", "2"),
    ]


async def test_without_a_body_the_real_answer_is_sent_reshaped(fake: FakeCrowdTwist) -> None:
    fake.script(headers={"X-Trace": "1", "Content-Type": "text/plain"})
    fake.script(503, body=rewrite)
    fake.script(body=rewrite)
    (real,) = await get(FakeCrowdTwist(seed=0, now=NOW, api_key=KEY), with_key(COUPONS))
    traced, busy, refused = await get(fake, with_key(COUPONS), with_key(COUPONS), COUPONS)
    assert traced.status_code == 200
    assert traced.content == real.content
    assert traced.headers["x-trace"] == "1"
    assert traced.headers.get_list("content-type") == ["text/plain"]
    assert (busy.status_code, busy.content) == (503, real.content.upper())
    assert busy.headers["content-type"] == "application/json"
    # The real answer to a request without the key is a 403, and stays one.
    assert refused.status_code == 403
    assert refused.content == b'{"ERROR":"INVALID_AUTH","MESSAGE":"INVALID ACCESS CREDENTIALS."}'
    assert [r.status for r in fake.requests] == [200, 503, 403]


async def test_times_counts_the_requests_a_script_serves(fake: FakeCrowdTwist) -> None:
    fake.script(502, times=2)
    responses = await get(fake, *[with_key(COUPONS)] * 3)
    assert [r.status_code for r in responses] == [502, 502, 200]
    fake.script(504, times=None)
    responses = await get(fake, *[with_key(COUPONS)] * 5)
    assert [r.status_code for r in responses] == [504] * 5


async def test_each_request_takes_the_first_script_that_matches_it(
    fake: FakeCrowdTwist,
) -> None:
    pages: list[int | None] = []

    def spy(request: RecordedRequest) -> bool:
        pages.append(request.page)
        return request.page == 4

    fake.script(501, path="*/usable_coupons")
    fake.script(502, page=2, path="/v2.1/*")
    fake.script(503, when=spy)
    fake.script(504, page=2)
    targets = [with_key(REWARDS, f"page={n}") for n in (1, 2, 2, 4, 4)]
    responses = await get(fake, *targets, with_key(COUPONS))
    assert [r.status_code for r in responses] == [200, 502, 504, 503, 200, 501]
    # The predicate saw only the requests the scripts before it let through,
    # and none once its script was spent.
    assert pages == [1, 2, 4]


async def test_the_wire_arguments_travel_with_the_script(fake: FakeCrowdTwist) -> None:
    fake.script(json={"a": "bcdefgh"}, chunk_size=4)
    fake.script(json={"a": "bcdefgh"}, reset_after=5)
    (chunked,) = await get(fake, COUPONS)
    assert chunked.content == b'{"a":"bcdefgh"}'
    assert chunked.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in chunked.headers
    with pytest.raises(httpx.RemoteProtocolError) as info:
        await get(fake, COUPONS)
    assert "(received 5 bytes, expected 15)" in str(info.value)


async def test_a_script_sending_the_real_answer_sends_it_as_the_lies_tell_it(
    fake: FakeCrowdTwist,
) -> None:
    fake.lie(total=lambda page, total: total + 1000)
    fake.script(headers={"X-Trace": "1"})
    fake.script(503, body=lambda real: real.replace(b'"total":1203', b'"total":-1'))
    fake.script(json={"paging": {"total": 5}})
    traced, rewritten, own = await get(fake, *[with_key(REWARDS)] * 3)
    assert (traced.status_code, traced.json()["paging"]["total"]) == (200, 1203)
    assert traced.headers["x-trace"] == "1"
    assert (rewritten.status_code, rewritten.json()["paging"]["total"]) == (503, -1)
    assert own.json() == {"paging": {"total": 5}}
