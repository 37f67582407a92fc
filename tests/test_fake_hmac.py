"""FakeCrowdTwist(hmac_keys=...) takes only requests signed as CrowdTwist's HMAC page says.

Signatures are made here by hand from the spec's steps (never with the SDK's
signer, which these tests check in turn): StringToSign = METHOD, MD5 of the
body in lower-case hex, Content-Type, X-CT-Timestamp, path and query, joined
by newlines; the signature is the Base64 of the lower-case hex HMAC-SHA256 of
it under the private key. The two worked examples are the derived test
vectors of the API notes (§2c), with the sample keys of CrowdTwist's page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from crowdtwist_async.testing import FakeCrowdTwist
from crowdtwist_async.testing.__main__ import main

# The verifier itself, for the vectors' exact strings (a unit test of the fake's own module).
from crowdtwist_async.testing._hmac import refusal, string_to_sign

from .conftest import API_KEY

pytestmark = pytest.mark.anyio

PUBLIC = "ABCl3y7r0s5ukCXz5lCJOCrTZ427pjp5"
PRIVATE = "ABttp1b92Tb65445rmZL835f263n1q4Y"
#: The page's sample timestamp, milliseconds since the epoch.
VECTOR_MS = 1505325876486
VECTOR_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=VECTOR_MS)
MINUTE_MS = 60_000

#: §2c vector 1: a GET.
GET_URI = "/v2/users/123456789?id_type=id"
GET_SIGNATURE = (
    "YjU4NTIwNjhhYmJkZTJiZGM0ZGM0M2FjNDdiYzdiZGQ0Nzc0N2MxMDhhNThjZTc5NTFiNDlkMjQ4MGYzNmU0Yg=="
)
#: §2c vector 2: a POST with a JSON body.
POST_URI = "/v2/users/alice%40crowdtwist.com/redemption?id_type=email"
POST_BODY = b'{"reward_id":"64","quantity":1}'
POST_SIGNATURE = (
    "ODQ4OTI1ZWNmNTYwYjg2YWQ1YTkwNDQyMzUzODJkY2Q3OTYzYTBhZTkyNTg3YTIzMDc0MzhkNzRlZGM5OGI5Mw=="
)

#: Alice's usable coupons (the sample program's alice is CrowdTwist id 1001).
COUPONS = "/v2/users/1001/usable_coupons"

MISSING = (
    "HMAC headers are required: X-CT-Authorization: CTApiV2Auth <public key>:<signature> "
    "and X-CT-Timestamp."
)
NO_TIMESTAMP = "The X-CT-Timestamp header is missing."
UNKNOWN_KEY = "The HMAC public key is not known."
STALE = "X-CT-Timestamp is more than 15 minutes from the current time."
MISMATCH = "The HMAC signature does not match the request."
UNREADABLE = (
    "X-CT-Timestamp must be a UNIX timestamp in milliseconds (13 digits) or seconds (10 digits)."
)
MALFORMED = "X-CT-Authorization must be CTApiV2Auth <public key>:<signature>."


def sign(
    method: str,
    uri: str,
    timestamp: str,
    *,
    body: bytes = b"",
    content_type: str = "",
    public: str = PUBLIC,
    private: str = PRIVATE,
) -> dict[str, str]:
    """The HMAC headers (and Content-Type, if any) for a request, by the spec's steps."""
    md5 = hashlib.md5(body).hexdigest() if body else ""
    text = f"{method}\n{md5}\n{content_type}\n{timestamp}\n{uri}"
    digest = hmac.new(private.encode(), text.encode(), hashlib.sha256).hexdigest()
    signature = base64.b64encode(digest.encode()).decode()
    headers = {
        "X-CT-Authorization": f"CTApiV2Auth {public}:{signature}",
        "X-CT-Timestamp": timestamp,
    }
    if content_type:
        headers["Content-Type"] = content_type
    return headers


@pytest.fixture
def fake() -> FakeCrowdTwist:
    """The sample program, on the vectors' clock, taking only the sample keys' signatures."""
    return FakeCrowdTwist(api_key=API_KEY, now=VECTOR_TIME, hmac_keys=(PUBLIC, PRIVATE))


@pytest.fixture
async def http(fake: FakeCrowdTwist) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
        yield client


def refused(response: httpx.Response) -> str:
    """The message of a 401 `invalid_auth` refusal."""
    assert response.status_code == 401, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == "invalid_auth"
    assert set(body) == {"error", "message"}
    message: str = body["message"]
    return message


# -- the vectors, exactly --------------------------------------------------------------


def test_the_hand_signer_gives_the_vectors_signatures() -> None:
    get = sign("GET", GET_URI, str(VECTOR_MS))
    post = sign("POST", POST_URI, str(VECTOR_MS), body=POST_BODY, content_type="application/json")
    assert get["X-CT-Authorization"] == f"CTApiV2Auth {PUBLIC}:{GET_SIGNATURE}"
    assert post["X-CT-Authorization"] == f"CTApiV2Auth {PUBLIC}:{POST_SIGNATURE}"


def test_the_verifier_signs_the_vectors_strings() -> None:
    assert (
        string_to_sign("GET", "", "", "1505325876486", GET_URI)
        == "GET\n\n\n1505325876486\n/v2/users/123456789?id_type=id"
    )
    assert string_to_sign(
        "POST", "47b589454925c40153cce54c50218cdf", "application/json", "1505325876486", POST_URI
    ) == (
        "POST\n47b589454925c40153cce54c50218cdf\napplication/json\n1505325876486\n"
        "/v2/users/alice%40crowdtwist.com/redemption?id_type=email"
    )


@pytest.mark.parametrize(
    ("method", "raw_path", "query", "body", "content_type", "signature", "raw_digest"),
    [
        (
            "GET",
            "/v2/users/123456789",
            "id_type=id",
            b"",
            None,
            GET_SIGNATURE,
            "tYUgaKu94r3E3EOsR7x73Ud0fBCKWM55UbSdJIDzbks=",
        ),
        (
            "POST",
            "/v2/users/alice%40crowdtwist.com/redemption",
            "id_type=email",
            POST_BODY,
            "application/json",
            POST_SIGNATURE,
            "hIkl7PVguGrVqQRCNTgtzXljoK6SWHojB0ONdO3Ji5M=",
        ),
    ],
)
def test_the_verifier_takes_the_vectors_and_nothing_else(
    method: str,
    raw_path: str,
    query: str,
    body: bytes,
    content_type: str | None,
    signature: str,
    raw_digest: str,
) -> None:
    headers = {
        "x-ct-authorization": f"CTApiV2Auth {PUBLIC}:{signature}",
        "x-ct-timestamp": str(VECTOR_MS),
    }
    if content_type is not None:
        headers["content-type"] = content_type
    request: dict[str, Any] = {
        "method": method,
        "raw_path": raw_path,
        "query": query,
        "headers": headers,
        "body": body,
        "keys": (PUBLIC, PRIVATE),
        "now_ms": VECTOR_MS,
    }
    assert refusal(**request) is None
    # The raw digest Base64-encoded (the other reading of the page) is refused.
    wrong = {**headers, "x-ct-authorization": f"CTApiV2Auth {PUBLIC}:{raw_digest}"}
    assert refusal(**{**request, "headers": wrong}) == MISMATCH
    assert refusal(**{**request, "query": query + "&page=2"}) == MISMATCH
    assert refusal(**{**request, "method": "PUT"}) == MISMATCH
    assert refusal(**{**request, "keys": (PUBLIC, PRIVATE + "x")}) == MISMATCH


async def test_the_get_vector_is_accepted(fake: FakeCrowdTwist, http: httpx.AsyncClient) -> None:
    fake.add_user(id=123456789)
    response = await http.get(
        GET_URI,
        headers={
            "X-CT-Authorization": f"CTApiV2Auth {PUBLIC}:{GET_SIGNATURE}",
            "X-CT-Timestamp": "1505325876486",
        },
    )
    assert response.status_code == 200, response.text
    assert fake.requests[-1].path == "/v2/users/123456789"


async def test_the_post_vector_is_accepted(fake: FakeCrowdTwist, http: httpx.AsyncClient) -> None:
    fake.add_user(email="alice@crowdtwist.com")
    headers = {
        "X-CT-Authorization": f"CTApiV2Auth {PUBLIC}:{POST_SIGNATURE}",
        "X-CT-Timestamp": "1505325876486",
        "Content-Type": "application/json",
    }
    response = await http.post(POST_URI, content=POST_BODY, headers=headers)
    # Accepted: the order itself is judged, and the program has no reward 64.
    assert (response.status_code, response.json()["error"]) == (404, "invalid_reward")
    # The same request with the body changed after signing is refused.
    changed = await http.post(POST_URI, content=POST_BODY.replace(b"1}", b"2}"), headers=headers)
    assert refused(changed) == MISMATCH
    # And with another Content-Type than the one signed.
    retyped = {**headers, "Content-Type": "application/json; charset=utf-8"}
    assert refused(await http.post(POST_URI, content=POST_BODY, headers=retyped)) == MISMATCH


# -- refusals, each with its own message ------------------------------------------------


async def test_a_signed_request_is_answered(http: httpx.AsyncClient) -> None:
    response = await http.get(COUPONS, headers=sign("GET", COUPONS, str(VECTOR_MS)))
    assert response.status_code == 200
    assert len(response.json()) >= 1


async def test_a_tampered_signature_is_refused(http: httpx.AsyncClient) -> None:
    headers = sign("GET", COUPONS, str(VECTOR_MS))
    scheme, _, credential = headers["X-CT-Authorization"].partition(" ")
    # One character of the signature changed.
    flipped = credential[:-3] + ("A" if credential[-3] != "A" else "B") + credential[-2:]
    headers["X-CT-Authorization"] = f"{scheme} {flipped}"
    assert refused(await http.get(COUPONS, headers=headers)) == MISMATCH


async def test_a_signature_for_another_request_is_refused(http: httpx.AsyncClient) -> None:
    headers = sign("GET", COUPONS, str(VECTOR_MS))
    response = await http.get(COUPONS, params={"expired": "true"}, headers=headers)
    assert refused(response) == MISMATCH


async def test_a_missing_timestamp_is_refused(http: httpx.AsyncClient) -> None:
    headers = sign("GET", COUPONS, str(VECTOR_MS))
    del headers["X-CT-Timestamp"]
    assert refused(await http.get(COUPONS, headers=headers)) == NO_TIMESTAMP


@pytest.mark.parametrize("minutes", [16, -16])
async def test_a_timestamp_16_minutes_off_is_refused(http: httpx.AsyncClient, minutes: int) -> None:
    timestamp = str(VECTOR_MS + minutes * MINUTE_MS)
    response = await http.get(COUPONS, headers=sign("GET", COUPONS, timestamp))
    assert refused(response) == STALE


@pytest.mark.parametrize("sign_of", [1, -1])
async def test_a_timestamp_a_second_inside_15_minutes_is_accepted(
    http: httpx.AsyncClient, sign_of: int
) -> None:
    timestamp = str(VECTOR_MS + sign_of * (15 * MINUTE_MS - 1000))
    response = await http.get(COUPONS, headers=sign("GET", COUPONS, timestamp))
    assert response.status_code == 200


async def test_the_window_is_judged_by_fake_now(
    fake: FakeCrowdTwist, http: httpx.AsyncClient
) -> None:
    headers = sign("GET", COUPONS, str(VECTOR_MS))
    fake.now = VECTOR_TIME + timedelta(minutes=15, milliseconds=1)
    assert refused(await http.get(COUPONS, headers=headers)) == STALE
    fake.now = VECTOR_TIME + timedelta(minutes=15)
    assert (await http.get(COUPONS, headers=headers)).status_code == 200


async def test_a_timestamp_in_seconds_is_accepted(http: httpx.AsyncClient) -> None:
    seconds = str(VECTOR_MS // 1000)
    assert len(seconds) == 10
    response = await http.get(COUPONS, headers=sign("GET", COUPONS, seconds))
    assert response.status_code == 200


@pytest.mark.parametrize("timestamp", ["1505325876.486", "150532587648", "yesterday", ""])
async def test_an_unreadable_timestamp_is_refused(http: httpx.AsyncClient, timestamp: str) -> None:
    response = await http.get(COUPONS, headers=sign("GET", COUPONS, timestamp))
    assert refused(response) == UNREADABLE


async def test_a_wrong_public_key_is_refused(http: httpx.AsyncClient) -> None:
    headers = sign("GET", COUPONS, str(VECTOR_MS), public="ABCotherpublickey")
    assert refused(await http.get(COUPONS, headers=headers)) == UNKNOWN_KEY


@pytest.mark.parametrize(
    "authorization", ["CTApiV2Auth", f"CTApiV2Auth {PUBLIC}", f"CTApiV2Auth :{GET_SIGNATURE}"]
)
async def test_a_malformed_authorization_is_refused(
    http: httpx.AsyncClient, authorization: str
) -> None:
    headers = {"X-CT-Authorization": authorization, "X-CT-Timestamp": str(VECTOR_MS)}
    assert refused(await http.get(COUPONS, headers=headers)) == MALFORMED


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"api_key": API_KEY}, {}),
        ({}, {"X-CT-Authorization": f"CTApiKey {API_KEY}"}),
        ({}, {}),
    ],
    ids=["query", "header", "nothing"],
)
async def test_an_api_key_alone_is_refused(
    http: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str]
) -> None:
    response = await http.get(COUPONS, params=params, headers=headers)
    assert refused(response) == MISSING


async def test_each_refusal_says_what_is_wrong(http: httpx.AsyncClient) -> None:
    good = sign("GET", COUPONS, str(VECTOR_MS))
    cases: list[Mapping[str, str]] = [
        {},
        {"X-CT-Authorization": "CTApiV2Auth nope", "X-CT-Timestamp": str(VECTOR_MS)},
        {"X-CT-Authorization": good["X-CT-Authorization"]},
        sign("GET", COUPONS, str(VECTOR_MS), public="other"),
        sign("GET", COUPONS, "soon"),
        sign("GET", COUPONS, str(VECTOR_MS + 16 * MINUTE_MS)),
        sign("GET", COUPONS, str(VECTOR_MS), private="other"),
    ]
    messages = [refused(await http.get(COUPONS, headers=headers)) for headers in cases]
    assert len(set(messages)) == len(cases)


async def test_a_signed_request_may_carry_the_api_key_it_signs(http: httpx.AsyncClient) -> None:
    uri = f"{COUPONS}?api_key={API_KEY}"
    response = await http.get(uri, headers=sign("GET", uri, str(VECTOR_MS)))
    assert response.status_code == 200


async def test_an_email_path_is_signed_as_sent_on_a_port(fake: FakeCrowdTwist) -> None:
    uri = "/v2/users/alice%40example.com/usable_coupons?id_type=email"
    with fake.serve() as url:
        async with httpx.AsyncClient(base_url=url) as client:
            good = await client.get(uri, headers=sign("GET", uri, str(VECTOR_MS)))
            decoded = "/v2/users/alice@example.com/usable_coupons?id_type=email"
            bad = await client.get(uri, headers=sign("GET", decoded, str(VECTOR_MS)))
    assert good.status_code == 200
    assert refused(bad) == MISMATCH
    assert fake.requests[0].path == "/v2/users/alice%40example.com/usable_coupons"


# -- the knob -------------------------------------------------------------------------


async def test_hmac_keys_may_be_set_and_unset_later() -> None:
    fake = FakeCrowdTwist(api_key=API_KEY, now=VECTOR_TIME)
    async with httpx.AsyncClient(transport=fake.transport(), base_url=fake.base_url) as client:
        assert (await client.get(COUPONS, params={"api_key": API_KEY})).status_code == 200
        # Without hmac_keys a signature is no credential: API keys as before.
        signed = await client.get(COUPONS, headers=sign("GET", COUPONS, str(VECTOR_MS)))
        assert signed.status_code == 403
        fake.hmac_keys = (PUBLIC, PRIVATE)
        assert refused(await client.get(COUPONS, params={"api_key": API_KEY})) == MISSING
        resigned = await client.get(COUPONS, headers=sign("GET", COUPONS, str(VECTOR_MS)))
        assert resigned.status_code == 200
        fake.hmac_keys = None
        assert (await client.get(COUPONS, params={"api_key": API_KEY})).status_code == 200


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ([PUBLIC, PRIVATE], TypeError),
        ((PUBLIC,), TypeError),
        ((PUBLIC, PRIVATE, "x"), TypeError),
        ((PUBLIC, b"private"), TypeError),
        (PUBLIC, TypeError),
        (("", PRIVATE), ValueError),
        ((PUBLIC, ""), ValueError),
        (("pub:lic", PRIVATE), ValueError),
        (("pub lic", PRIVATE), ValueError),
    ],
)
def test_bad_hmac_keys_are_refused_without_showing_them(value: object, error: type) -> None:
    with pytest.raises(error) as raised:
        FakeCrowdTwist(hmac_keys=value)  # type: ignore[arg-type]
    assert PRIVATE not in str(raised.value)
    fake = FakeCrowdTwist()
    with pytest.raises(error):
        fake.hmac_keys = value  # type: ignore[assignment]
    assert fake.hmac_keys is None


def test_the_keys_are_never_shown(fake: FakeCrowdTwist) -> None:
    assert fake.hmac_keys == (PUBLIC, PRIVATE)
    assert PRIVATE not in repr(fake)
    assert PUBLIC not in repr(fake)


# -- the serve command ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (PUBLIC + PRIVATE, "argument --hmac-keys: expected PUBLIC:PRIVATE"),
        (f"{PUBLIC}:", "hmac_keys: the private key must be non-empty"),
        (f":{PRIVATE}", "hmac_keys: the public key must be non-empty, without spaces or ':'"),
        (
            f"pub lic:{PRIVATE}",
            "hmac_keys: the public key must be non-empty, without spaces or ':'",
        ),
    ],
)
def test_the_serve_command_refuses_bad_hmac_keys_without_showing_them(
    capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", "0", "--hmac-keys", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.rstrip().endswith(f"error: {message}")
    assert PRIVATE not in err


@pytest.mark.slow
def test_the_serve_command_takes_only_signed_requests_with_hmac_keys() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "crowdtwist_async.testing", "serve", "--port", str(port)]
    options = ["--hmac-keys", f"{PUBLIC}:{PRIVATE}", "--now", str(VECTOR_MS // 1000)]
    process = subprocess.Popen(
        [*command, *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 20
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
            while True:
                try:
                    signed = client.get(COUPONS, headers=sign("GET", COUPONS, str(VECTOR_MS)))
                    break
                except httpx.TransportError:
                    assert process.poll() is None, process.communicate()[1]
                    assert time.monotonic() < deadline, "the command did not start serving"
                    time.sleep(0.05)
            unsigned = client.get(COUPONS, params={"api_key": "sandbox-api-key"})
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert signed.status_code == 200
    assert refused(unsigned) == MISSING
    assert process.returncode == 0, err
    assert f"HMAC:     public key {PUBLIC}; sign every request" in out
    assert "API key" not in out
    assert PRIVATE not in out + err
