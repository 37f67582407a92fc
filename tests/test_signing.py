"""CTApiV2Auth signs each request as CrowdTwist's HMAC page describes (API_PAGES §2).

The expected signatures are the derived vectors of §2c (the sample keys of the
page, timestamp 1505325876486), or computed here with hmac/hashlib straight
from the steps, never with the module's own helpers.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import pickle
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

import crowdtwist_async as ct

# The steps' own functions, to check the docs' texts to sign one by one.
from crowdtwist_async._signing import SignatureEncoding, sign, string_to_sign

from .conftest import BASE_URL

pytestmark = pytest.mark.anyio

#: The sample keys "from the Crowdtwist documentation page" (API_PAGES §2b).
PUBLIC = "ABCl3y7r0s5ukCXz5lCJOCrTZ427pjp5"
PRIVATE = "ABttp1b92Tb65445rmZL835f263n1q4Y"
STAMP = "1505325876486"

GET_PATH = "/v2/users/123456789?id_type=id"
GET_HEX_BASE64 = (
    "YjU4NTIwNjhhYmJkZTJiZGM0ZGM0M2FjNDdiYzdiZGQ0Nzc0N2MxMDhhNThjZTc5NTFiNDlkMjQ4MGYzNmU0Yg=="
)
GET_BASE64 = "tYUgaKu94r3E3EOsR7x73Ud0fBCKWM55UbSdJIDzbks="

POST_PATH = "/v2/users/alice%40crowdtwist.com/redemption?id_type=email"
POST_BODY = b'{"reward_id":"64","quantity":1}'
POST_HEX_BASE64 = (
    "ODQ4OTI1ZWNmNTYwYjg2YWQ1YTkwNDQyMzUzODJkY2Q3OTYzYTBhZTkyNTg3YTIzMDc0MzhkNzRlZGM5OGI5Mw=="
)
POST_BASE64 = "hIkl7PVguGrVqQRCNTgtzXljoK6SWHojB0ONdO3Ji5M="


def fixed_clock(seconds: float = 1505325876.486) -> Callable[[], float]:
    return lambda: seconds


def ticking_clock(*instants: float) -> Callable[[], float]:
    """A clock that reads each instant in turn (and fails if read once more)."""
    readings: Iterator[float] = iter(instants)
    return lambda: next(readings)


def expected(method: str, md5: str, content_type: str, stamp: str, uri: str) -> str:
    """The hex-base64 signature, straight from the steps of API_PAGES §2b."""
    text = f"{method}\n{md5}\n{content_type}\n{stamp}\n{uri}"
    digest = hmac.new(PRIVATE.encode(), text.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode()).decode()


class Seen:
    """What the server saw of each request: target, headers and body."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"ok": True})

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def target(self, index: int = -1) -> str:
        return self.requests[index].url.raw_path.decode("ascii")


@pytest.fixture
def seen() -> Seen:
    return Seen()


def client(seen: Seen) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(seen), base_url=BASE_URL)


# --- the vectors of API_PAGES §2c ------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "signature"),
    [("hex-base64", GET_HEX_BASE64), ("base64", GET_BASE64)],
)
async def test_get_vector(seen: Seen, encoding: SignatureEncoding, signature: str) -> None:
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, signature_encoding=encoding, clock=fixed_clock())
    async with client(seen) as http:
        await http.get("/v2/users/123456789", params={"id_type": "id"}, auth=auth)
    assert seen.target() == GET_PATH
    assert seen.last.headers["X-CT-Timestamp"] == STAMP
    assert seen.last.headers["X-CT-Authorization"] == f"CTApiV2Auth {PUBLIC}:{signature}"
    # A GET signs empty MD5 and Content-Type lines and is sent without one.
    assert "content-type" not in seen.last.headers


@pytest.mark.parametrize(
    ("encoding", "signature"),
    [("hex-base64", POST_HEX_BASE64), ("base64", POST_BASE64)],
)
@pytest.mark.parametrize("content_type", [{"Content-Type": "application/json"}, {}])
async def test_post_vector(
    seen: Seen, encoding: SignatureEncoding, signature: str, content_type: dict[str, str]
) -> None:
    # Without a Content-Type of its own, the POST gets application/json, and
    # the signature (the same vector) covers it.
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, signature_encoding=encoding, clock=fixed_clock())
    async with client(seen) as http:
        await http.post(POST_PATH, content=POST_BODY, headers=content_type, auth=auth)
    assert seen.target() == POST_PATH
    assert seen.last.content == POST_BODY
    assert seen.last.headers.get_list("Content-Type") == ["application/json"]
    assert seen.last.headers["X-CT-Timestamp"] == STAMP
    assert seen.last.headers["X-CT-Authorization"] == f"CTApiV2Auth {PUBLIC}:{signature}"


async def test_timestamp_in_seconds(seen: Seen) -> None:
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, timestamp_unit="s", clock=fixed_clock(1505325876.999))
    async with client(seen) as http:
        await http.get("/v2/users/123456789", params={"id_type": "id"}, auth=auth)
    # Ten digits, truncated (a Unix time in seconds), and signed as sent.
    assert seen.last.headers["X-CT-Timestamp"] == "1505325876"
    assert seen.last.headers["X-CT-Authorization"] == (
        f"CTApiV2Auth {PUBLIC}:{expected('GET', '', '', '1505325876', GET_PATH)}"
    )


@pytest.mark.parametrize(
    ("seconds", "stamp"),
    [(1505325876.4864, "1505325876486"), (1505325876.4866, "1505325876487")],
)
async def test_timestamp_is_the_nearest_millisecond(seen: Seen, seconds: float, stamp: str) -> None:
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, clock=fixed_clock(seconds))
    async with client(seen) as http:
        await http.get("/v2/x", auth=auth)
    assert seen.last.headers["X-CT-Timestamp"] == stamp


def test_string_to_sign_vectors() -> None:
    # The StringToSign texts of API_PAGES §2c, and their signatures.
    get = string_to_sign("GET", None, None, STAMP, GET_PATH)
    assert get == f"GET\n\n\n{STAMP}\n{GET_PATH}"
    post = string_to_sign("POST", POST_BODY, "application/json", STAMP, POST_PATH)
    assert post == (
        f"POST\n47b589454925c40153cce54c50218cdf\napplication/json\n{STAMP}\n{POST_PATH}"
    )
    assert [sign(PRIVATE, get), sign(PRIVATE.encode(), post, "base64")] == [
        GET_HEX_BASE64,
        POST_BASE64,
    ]


async def test_default_clock_is_now_in_milliseconds(seen: Seen) -> None:
    before = time.time()
    async with client(seen) as http:
        await http.get("/v2/users/1", auth=ct.CTApiV2Auth(PUBLIC, PRIVATE))
    after = time.time()
    stamp = seen.last.headers["X-CT-Timestamp"]
    assert len(stamp) == 13
    assert round(before * 1000) <= int(stamp) <= round(after * 1000)


# --- exactly the bytes sent ---------------------------------------------------------


async def test_covers_the_encoded_target_and_utf8_body(seen: Seen) -> None:
    body = json.dumps({"activity_id": "225", "notes": "café ☕"}, ensure_ascii=False).encode()
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, clock=fixed_clock())
    async with client(seen) as http:
        await http.post(
            "/v2/users/alice%2B1%40example.com/activities",
            params={"id_type": "email", "note": "café a+b"},
            content=body,
            auth=auth,
        )
    uri = "/v2/users/alice%2B1%40example.com/activities?id_type=email&note=caf%C3%A9+a%2Bb"
    assert seen.target() == uri
    assert seen.last.content == body
    md5 = hashlib.md5(body).hexdigest()
    assert seen.last.headers["X-CT-Authorization"] == (
        f"CTApiV2Auth {PUBLIC}:{expected('POST', md5, 'application/json', STAMP, uri)}"
    )


async def test_a_content_type_of_its_own_is_signed_as_sent(seen: Seen) -> None:
    sent = "application/json; charset=utf-8"
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, clock=fixed_clock())
    async with client(seen) as http:
        await http.put("/v2/x", content=b"{}", headers={"Content-Type": sent}, auth=auth)
    assert seen.last.headers.get_list("Content-Type") == [sent]
    md5 = hashlib.md5(b"{}").hexdigest()
    assert seen.last.headers["X-CT-Authorization"] == (
        f"CTApiV2Auth {PUBLIC}:{expected('PUT', md5, sent, STAMP, '/v2/x')}"
    )


async def test_a_streamed_body_is_read_and_covered(seen: Seen) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"coupon_value":'
        yield b'"ABC"}'

    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, clock=fixed_clock())
    async with client(seen) as http:
        await http.post("/v2/coupon/use", content=chunks(), auth=auth)
    body = b'{"coupon_value":"ABC"}'
    assert seen.last.content == body
    md5 = hashlib.md5(body).hexdigest()
    assert seen.last.headers["X-CT-Authorization"] == (
        f"CTApiV2Auth {PUBLIC}:{expected('POST', md5, 'application/json', STAMP, '/v2/coupon/use')}"
    )


async def test_a_write_without_a_body_hashes_the_empty_body(seen: Seen) -> None:
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, clock=fixed_clock())
    async with client(seen) as http:
        await http.post("/v2/x", auth=auth)
    assert seen.last.headers["Content-Type"] == "application/json"
    # The MD5 of no bytes (API_PAGES §2c.3), as the verifying mock computes it.
    empty = "d41d8cd98f00b204e9800998ecf8427e"
    assert seen.last.headers["X-CT-Authorization"] == (
        f"CTApiV2Auth {PUBLIC}:{expected('POST', empty, 'application/json', STAMP, '/v2/x')}"
    )


async def test_a_delete_signs_empty_lines_and_gets_no_content_type(seen: Seen) -> None:
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, clock=fixed_clock())
    async with client(seen) as http:
        await http.delete("/v2/x?a=1", auth=auth)
    assert "content-type" not in seen.last.headers
    assert seen.last.headers["X-CT-Authorization"] == (
        f"CTApiV2Auth {PUBLIC}:{expected('DELETE', '', '', STAMP, '/v2/x?a=1')}"
    )


async def test_a_get_with_a_body_is_refused(seen: Seen) -> None:
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, clock=fixed_clock())
    async with client(seen) as http:
        with pytest.raises(ValueError, match="cannot sign a GET request with a body"):
            await http.request("GET", "/v2/x", content=b"{}", auth=auth)
    assert seen.requests == []


def test_a_sync_client_is_signed_too(seen: Seen) -> None:
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, clock=fixed_clock())
    with httpx.Client(transport=httpx.MockTransport(seen), base_url=BASE_URL) as http:
        http.post(POST_PATH, content=POST_BODY, auth=auth)
    assert seen.last.headers["X-CT-Authorization"] == f"CTApiV2Auth {PUBLIC}:{POST_HEX_BASE64}"


# --- a new timestamp and signature for every send ---------------------------------


async def test_each_send_is_signed_anew(seen: Seen) -> None:
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, clock=ticking_clock(1505325876.486, 1505325877.001))
    async with client(seen) as http:
        for _ in range(2):
            await http.get("/v2/users/123456789", params={"id_type": "id"}, auth=auth)
    stamps = [request.headers["X-CT-Timestamp"] for request in seen.requests]
    assert stamps == [STAMP, "1505325877001"]
    signatures = [request.headers["X-CT-Authorization"] for request in seen.requests]
    assert signatures == [
        f"CTApiV2Auth {PUBLIC}:{GET_HEX_BASE64}",
        f"CTApiV2Auth {PUBLIC}:{expected('GET', '', '', '1505325877001', GET_PATH)}",
    ]


async def test_a_session_signs_each_retry_anew(fast_retries: None) -> None:
    statuses = iter([503, 200])
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(next(statuses), json={"total_points": 5})

    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE, clock=ticking_clock(1505325876.486, 1505325878.25))
    async with ct.Session(
        base_url=BASE_URL, auth=auth, transport=httpx.MockTransport(handler)
    ) as session:
        answer = await session.get_json(
            "/v2/users/alice%40crowdtwist.com/points", params={"id_type": "email"}
        )
    assert answer == {"total_points": 5}
    uri = "/v2/users/alice%40crowdtwist.com/points?id_type=email"
    # No api_key of the session's own: the signer is the credential.
    assert [request.url.raw_path.decode() for request in requests] == [uri, uri]
    assert [request.headers["X-CT-Timestamp"] for request in requests] == [
        STAMP,
        "1505325878250",
    ]
    assert [request.headers["X-CT-Authorization"] for request in requests] == [
        f"CTApiV2Auth {PUBLIC}:{expected('GET', '', '', STAMP, uri)}",
        f"CTApiV2Auth {PUBLIC}:{expected('GET', '', '', '1505325878250', uri)}",
    ]


# --- never a key where it could leak ----------------------------------------------


def test_repr_shows_no_key() -> None:
    auth = ct.CTApiV2Auth(PUBLIC, PRIVATE)
    assert repr(auth) == (
        "CTApiV2Auth(public_key='ABCl…', private_key='***', "
        "timestamp_unit='ms', signature_encoding='hex-base64')"
    )
    assert str(auth) == repr(auth)
    assert PRIVATE not in repr(auth)
    assert PUBLIC[:5] not in repr(auth)


def test_repr_of_a_short_public_key_shows_none_of_it() -> None:
    auth = ct.CTApiV2Auth("PUB12345", PRIVATE, timestamp_unit="s", signature_encoding="base64")
    assert repr(auth) == (
        "CTApiV2Auth(public_key='***', private_key='***', "
        "timestamp_unit='s', signature_encoding='base64')"
    )


@pytest.mark.parametrize("copier", [pickle.dumps, copy.copy, copy.deepcopy])
def test_cannot_be_pickled_or_copied(copier: Callable[[object], object]) -> None:
    with pytest.raises(TypeError, match="cannot be pickled or copied") as info:
        copier(ct.CTApiV2Auth(PUBLIC, PRIVATE))
    assert PRIVATE not in str(info.value)


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"public_key": PUBLIC.encode()}, TypeError, "public_key must be a str, got bytes"),
        ({"private_key": PRIVATE.encode()}, TypeError, "private_key must be a str, got bytes"),
        ({"private_key": None}, TypeError, "private_key must be a str, got NoneType"),
        ({"public_key": ""}, ValueError, "public_key must not be empty"),
        ({"private_key": ""}, ValueError, "private_key must not be empty"),
        ({"public_key": PUBLIC + ":x"}, ValueError, "public_key must be printable ASCII"),
        ({"public_key": PUBLIC + " x"}, ValueError, "public_key must be printable ASCII"),
        ({"public_key": PUBLIC + "\n"}, ValueError, "public_key must be printable ASCII"),
        ({"public_key": PUBLIC + "é"}, ValueError, "public_key must be printable ASCII"),
        ({"timestamp_unit": "us"}, ValueError, "timestamp_unit must be 'ms' or 's', got 'us'"),
        (
            {"signature_encoding": "hex"},
            ValueError,
            "signature_encoding must be 'hex-base64' or 'base64', got 'hex'",
        ),
        ({"clock": 5}, TypeError, "clock must be callable or None, got int"),
    ],
)
def test_bad_arguments_name_the_argument_not_the_keys(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    given: dict[str, Any] = {"public_key": PUBLIC, "private_key": PRIVATE, **arguments}
    with pytest.raises(error) as info:
        ct.CTApiV2Auth(**given)
    text = str(info.value)
    assert text.startswith(message)
    assert PRIVATE not in text
    assert PUBLIC[:5] not in text
