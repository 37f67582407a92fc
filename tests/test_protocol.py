"""The pure functions: URLs, argument checks, response decoding, retry timing."""

from __future__ import annotations

import contextlib
import json
import random
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from http import HTTPStatus

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crowdtwist_async as ct

# Private on purpose: this module unit-tests the pure functions under the
# Session (URLs, argument checks, decoding) and the retry timing with its
# `now=` and `rng=` arguments, input by input.
from crowdtwist_async._protocol import (
    COUPON_ID_TYPES,
    EMPTY_LISTING,
    build_base_url,
    check_api_key,
    check_id_type,
    check_path,
    decode_response,
    encode_user_id,
    is_literal_loopback,
    loads_strict,
    normalize_base_url,
)
from crowdtwist_async._retry import backoff_delay, parse_retry_after
from crowdtwist_async.testing import reset_process_state

from .sample_data import SAMPLES


@contextlib.contextmanager
def decoding_with(decoder: str) -> Iterator[None]:
    """Decode with orjson first (as when the `orjson` extra is installed), or
    with json alone (orjson hidden, as when it is not installed)."""
    with pytest.MonkeyPatch.context() as patch:
        if decoder == "json":
            patch.setitem(sys.modules, "orjson", None)
        reset_process_state()  # the next body decoded looks for orjson again
        try:
            yield
        finally:
            reset_process_state()  # and again once orjson is back


@pytest.fixture(params=["orjson", "json"])
def decoder(request: pytest.FixtureRequest) -> Iterator[str]:
    with decoding_with(request.param):
        yield str(request.param)


NO_HEADERS = httpx.Headers()


@pytest.mark.parametrize(
    ("environment", "client_id", "expected"),
    [
        pytest.param("", 123, "https://api123.crowdtwist.com", id="production"),
        pytest.param("sb-", "123", "https://sb-api123.crowdtwist.com", id="sandbox"),
        pytest.param("sb2-", 7, "https://sb2-api7.crowdtwist.com", id="sandbox-2"),
        pytest.param("de", 9, "https://de-api9.crowdtwist.com", id="dash-added"),
        pytest.param("US2-", 5, "https://us2-api5.crowdtwist.com", id="case-folded"),
    ],
)
def test_build_base_url(environment: str, client_id: str | int, expected: str) -> None:
    assert build_base_url(environment, client_id) == expected


@pytest.mark.parametrize(
    ("environment", "client_id", "message"),
    [
        pytest.param("", "12.evil.com/", "client_id", id="client-id-with-host"),
        pytest.param("sb.evil.com/", 1, "environment", id="environment-with-host"),
        pytest.param("", "", "client_id", id="empty-client-id"),
    ],
)
def test_build_base_url_rejects_junk(environment: str, client_id: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_base_url(environment, client_id)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://api1.crowdtwist.com/", "https://api1.crowdtwist.com", id="slash"),
        pytest.param("https://proxy.example/ct/", "https://proxy.example/ct", id="path-prefix"),
        pytest.param("http://127.0.0.1:8000", "http://127.0.0.1:8000", id="loopback-v4"),
        pytest.param("http://localhost:1", "http://localhost:1", id="localhost"),
        pytest.param("http://[::1]:8080/", "http://[::1]:8080", id="loopback-v6"),
        pytest.param("http://127.45.6.7", "http://127.45.6.7", id="loopback-v4-net"),
        pytest.param("http://LOCALHOST:1", "http://LOCALHOST:1", id="localhost-upper"),
    ],
)
def test_normalize_base_url(url: str, expected: str) -> None:
    assert normalize_base_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.evil.com", id="prefix-name"),
        pytest.param("http://127.0.0.1.attacker.example", id="address-as-subdomain"),
        pytest.param("http://foo.localhost", id="dot-localhost"),
        pytest.param("http://localhost.evil.com", id="localhost-as-subdomain"),
        pytest.param("http://localhost.", id="localhost-fqdn"),
        pytest.param("http://[::2]", id="not-loopback-v6"),
        pytest.param("http://0.0.0.0", id="any-address"),
        pytest.param("http://128.0.0.1", id="next-network"),
        pytest.param("http://127.1", id="short-form"),
    ],
)
def test_plain_http_is_only_for_literal_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="must use https"):
        normalize_base_url(url)
    assert is_literal_loopback(url.removeprefix("http://")) is False


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        pytest.param("http://evil.com/?api_key=SECRET1", "SECRET1", id="http-query"),
        pytest.param("http://user:SECRET2@evil.com", "SECRET2", id="http-userinfo"),
        pytest.param("https://evil.com/?api_key=SECRET3", "SECRET3", id="https-query"),
        pytest.param("https://u:SECRET4@evil.com/x", "SECRET4", id="https-userinfo"),
        pytest.param("https://evil.com/#SECRET5", "SECRET5", id="fragment"),
        pytest.param("ftp://u:SECRET6@evil.com", "SECRET6", id="ftp"),
        pytest.param("https://evil.com:SECRET7/", "SECRET7", id="bad-port"),
    ],
)
def test_base_url_errors_never_echo_what_follows_the_host(url: str, secret: str) -> None:
    with pytest.raises(ValueError, match="base_url") as info:
        normalize_base_url(url)
    assert secret not in str(info.value)


@pytest.mark.parametrize(
    ("key", "auth", "reason"),
    [
        pytest.param("ab\r\nX-Evil: 1", "query", "control character", id="crlf-query"),
        pytest.param("ab\r\nX-Evil: 1", "header", "control character", id="crlf-header"),
        pytest.param("ab\x00cd", "query", "control character", id="nul"),
        pytest.param("ab\x85cd", "query", "control character", id="c1"),
        pytest.param("clé-secrète", "header", "visible ASCII", id="non-ascii-header"),
        pytest.param("two words", "header", "visible ASCII", id="space-header"),
    ],
)
def test_a_key_that_cannot_travel_is_refused(key: str, auth: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        check_api_key(key, auth)
    assert key not in str(info.value)


@pytest.mark.parametrize(
    ("key", "auth"),
    [
        pytest.param("clé-secrète", "query", id="non-ascii-query"),
        pytest.param("two words", "query", id="space-query"),
        pytest.param("k3y+/=~!", "header", id="visible-ascii-header"),
    ],
)
def test_a_key_that_can_travel_is_taken(key: str, auth: str) -> None:
    check_api_key(key, auth)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://api1.crowdtwist.com", id="plain-http"),
        pytest.param("http://10.0.0.1", id="plain-http-private"),
        pytest.param("ftp://api1.crowdtwist.com", id="ftp"),
        pytest.param("api1.crowdtwist.com", id="no-scheme"),
        pytest.param("https://api1.crowdtwist.com?api_key=x", id="query"),
        pytest.param("https://user:pw@api1.crowdtwist.com", id="credentials"),
        pytest.param("https://", id="no-host"),
    ],
)
def test_normalize_base_url_rejects(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        normalize_base_url(url)


@pytest.mark.parametrize(
    ("user_id", "segment"),
    [
        pytest.param("alice@example.com", "alice@example.com", id="email"),
        pytest.param("alice+tag@example.com", "alice%2Btag@example.com", id="plus"),
        pytest.param("a/b?c#d", "a%2Fb%3Fc%23d", id="slash-query-fragment"),
        pytest.param("..", "%2E%2E", id="dot-dot"),
        pytest.param(".", "%2E", id="dot"),
        pytest.param("a..b", "a..b", id="dots-inside"),
        pytest.param("x y%z", "x%20y%25z", id="space-percent"),
        pytest.param(12345, "12345", id="int"),
    ],
)
def test_encode_user_id(user_id: str | int, segment: str) -> None:
    assert encode_user_id(user_id) == segment


def test_encode_user_id_rejects() -> None:
    with pytest.raises(ValueError, match="user_id must not be empty"):
        encode_user_id("  ")
    with pytest.raises(TypeError, match="user_id must be a str or int"):
        encode_user_id(True)
    with pytest.raises(TypeError, match="user_id must be a str or int"):
        encode_user_id(None)  # type: ignore[arg-type]


def test_check_id_type() -> None:
    assert check_id_type(None, frozenset(ct.IdType)) is None
    assert check_id_type("email", frozenset(ct.IdType)) == "email"
    assert check_id_type(ct.IdType.THIRD_PARTY_ID, frozenset(ct.IdType)) == "third_party_id"
    assert check_id_type("mobile_phone_number", frozenset(ct.IdType)) == "mobile_phone_number"
    with pytest.raises(ValueError, match=r"id_type must be one of .*; got 'mobile_phone_number'"):
        check_id_type("mobile_phone_number", COUPON_ID_TYPES)
    with pytest.raises(ValueError, match="got 'EMAIL'"):
        check_id_type("EMAIL", frozenset(ct.IdType))


# --- decode_response ---------------------------------------------------------


def test_decode_success_returns_json() -> None:
    assert decode_response(200, NO_HEADERS, b'{"paging": {}, "rewards": []}') == {
        "paging": {},
        "rewards": [],
    }


@pytest.mark.parametrize(
    ("status", "body", "cls", "code", "message"),
    [
        pytest.param(
            403,
            (SAMPLES / "error_invalid_auth.json").read_bytes(),
            ct.AuthenticationError,
            "invalid_auth",
            "Invalid access credentials.",
            id="docs-invalid-auth",
        ),
        pytest.param(
            400,
            b'{"error": "invalid_auth", "message": "bad key"}',
            ct.AuthenticationError,
            "invalid_auth",
            "bad key",
            id="invalid-auth-code-on-400",
        ),
        pytest.param(401, b"", ct.AuthenticationError, None, "Unauthorized", id="401-empty"),
        pytest.param(
            400,
            b'{"error": "page_not_found", "message": "User does not exist."}',
            ct.NotFoundError,
            "page_not_found",
            "User does not exist.",
            id="docs-user-does-not-exist",
        ),
        pytest.param(404, b"<html>nope</html>", ct.NotFoundError, None, "Not Found", id="404-html"),
        pytest.param(
            403,
            b"<html><h1>403 Forbidden</h1></html>",
            ct.AuthenticationError,
            None,
            "Forbidden",
            id="403-html",
        ),
        pytest.param(
            400,
            b'{"error": "param_error", "message": "Param category has invalid value."}',
            ct.BadRequestError,
            "param_error",
            "Param category has invalid value.",
            id="docs-param-error",
        ),
        # Python 3.13 renamed the phrase after RFC 9110 ("Unprocessable Content").
        pytest.param(422, b"null", ct.BadRequestError, None, HTTPStatus(422).phrase, id="422"),
        pytest.param(
            429,
            b'{"error": "rate_limited"}',
            ct.RateLimitError,
            "rate_limited",
            "Too Many Requests",
            id="429",
        ),
        pytest.param(
            502,
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            ct.ServerError,
            None,
            "Bad Gateway",
            id="502-html",
        ),
        pytest.param(
            500,
            b'{"error": "internal_error", "message": "oops"}',
            ct.ServerError,
            "internal_error",
            "oops",
            id="docs-internal-error",
        ),
        pytest.param(302, b"", ct.APIError, None, "Found", id="redirect"),
        pytest.param(599, b"", ct.ServerError, None, "Unexpected status", id="599"),
        pytest.param(600, b"", ct.APIError, None, "Unexpected status", id="600"),
        pytest.param(499, b"", ct.BadRequestError, None, "Unexpected status", id="499"),
        pytest.param(
            200,
            b'{"error": "invalid_auth", "message": "Invalid access credentials."}',
            ct.AuthenticationError,
            "invalid_auth",
            "Invalid access credentials.",
            id="error-envelope-on-200",
        ),
    ],
)
def test_decode_error_responses(
    status: int, body: bytes, cls: type[ct.APIError], code: str | None, message: str
) -> None:
    with pytest.raises(ct.APIError) as info:
        decode_response(status, httpx.Headers({"X-Request-Id": "req-9"}), body)
    error = info.value
    assert type(error) is cls
    assert (error.status_code, error.error, error.message) == (status, code, message)
    assert error.request_id == "req-9"
    assert error.body == body.decode()
    assert str(error) == f"HTTP {status}{' ' + code if code else ''}: {message}"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        pytest.param(400, "no_data", id="rewards-no-data"),
        pytest.param(400, "no_activities", id="coupons-no-activities"),
        pytest.param(404, "no_data", id="no-data-404"),
        pytest.param(200, "no_data", id="no-data-200"),
    ],
)
def test_decode_empty_listing(status: int, code: str) -> None:
    body = json.dumps({"error": code, "message": "There are no rewards available."}).encode()
    assert decode_response(status, NO_HEADERS, body) is EMPTY_LISTING


def test_no_data_with_a_server_error_is_still_an_error() -> None:
    with pytest.raises(ct.ServerError):
        decode_response(503, NO_HEADERS, b'{"error": "no_data"}')


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<html>maintenance</html>", id="html"),
        pytest.param(b'{"paging": {"total": 1', id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe\x00garbage", id="binary"),
        pytest.param(b"[" * 100_000, id="deeply-nested"),
    ],
)
def test_decode_non_json_success(body: bytes, decoder: str) -> None:
    with pytest.raises(ct.ResponseDecodeError, match="not valid JSON") as info:
        decode_response(200, NO_HEADERS, body)
    assert info.value.status_code == 200
    assert len(info.value.body) <= 501


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"paging": {"total": NaN}, "rewards": []}', id="nan"),
        pytest.param(b'{"paging": {"total": Infinity}, "rewards": []}', id="infinity"),
        pytest.param(b'{"rewards": [{"num_points": -Infinity}]}', id="minus-infinity"),
        pytest.param(b'{"rewards": [{"num_points": 1e400}]}', id="overflowing-float"),
    ],
)
def test_json_is_decoded_strictly(body: bytes, decoder: str) -> None:
    with pytest.raises(ct.ResponseDecodeError, match="not valid JSON"):
        decode_response(200, NO_HEADERS, body)


# Where orjson and json differ on their own: orjson refuses these, json takes them.
JSON_EDGES = [
    b'{"total": 123456789012345678901234567890}',
    b'{"total": -18446744073709551617}',
    b'{"total": -9223372036854775809, "pages": 18446744073709551616}',
    b"[18446744073709551615, -9223372036854775808, 9999999999999999999]",
    b'{"points": 1e400}',
    b'{"points": -1E+999}',
    b"\xef\xbb\xbf{}",
    '{"a": 1}'.encode("utf-16"),
    b'{"title": "\\ud800"}',
    b"[" * 500 + b"]" * 500,
    b"[" * 2000 + b"]" * 2000,
    b'{"a": 1, "a": 2}',
    b'{"a": 1.0, "b": 1e400, "c": -0.0, "d": 1E2}',
    b' \n {"a": [true, false, null]} \t',
    b'"\xe2\x82\xac"',
    b'{"a": NaN}',
    b'{"a": 1,}',
    b"\xff",
]


def loaded(body: bytes) -> object:
    try:
        value = loads_strict(body)
    except (ValueError, RecursionError) as exc:
        return type(exc).__mro__[-3]  # ValueError or RecursionError
    return repr(value)  # repr tells 1 from 1.0 and True from 1


@pytest.mark.parametrize("body", JSON_EDGES)
def test_orjson_and_json_accept_the_same_bodies_alike(body: bytes) -> None:
    with decoding_with("orjson"):
        with_orjson = loaded(body)
    with decoding_with("json"):
        assert with_orjson == loaded(body)


DOCUMENTS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(DOCUMENTS, st.booleans())
def test_orjson_and_json_agree_on_any_document(value: object, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    with decoding_with("orjson"):
        with_orjson = loaded(body)
    with decoding_with("json"):
        assert with_orjson == loaded(body) == repr(value)


@pytest.fixture
def forgotten(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test that changes what the SDK finds: forgotten before, and after
    (before `monkeypatch` puts back what it changed)."""
    reset_process_state()
    yield
    reset_process_state()


@pytest.mark.usefixtures("forgotten")
def test_orjson_is_found_on_first_use_and_looked_up_again_after_a_reset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import orjson

    decoded: list[bytes | str] = []

    def counted(body: bytes | str) -> object:
        decoded.append(body)
        return orjson_loads(body)

    orjson_loads = orjson.loads
    monkeypatch.setattr(orjson, "loads", counted)
    assert loads_strict(b'{"a": [1]}') == {"a": [1]}
    assert decoded == [b'{"a": [1]}']
    # Looked up once: orjson hidden now still decodes, until the next look.
    monkeypatch.setitem(sys.modules, "orjson", None)
    assert loads_strict(b"[2]") == [2]
    assert decoded == [b'{"a": [1]}', b"[2]"]
    # Without orjson, json does it all.
    reset_process_state()
    assert loads_strict(b"[3, 4.5]") == [3, 4.5]
    assert decoded == [b'{"a": [1]}', b"[2]"]


def test_rate_limit_error_carries_retry_after() -> None:
    with pytest.raises(ct.RateLimitError) as info:
        decode_response(429, httpx.Headers({"Retry-After": "120"}), b"")
    assert info.value.retry_after == 120.0


# --- retry timing ------------------------------------------------------------

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({}, None, id="none"),
        pytest.param({"Retry-After": "3"}, 3.0, id="seconds"),
        pytest.param({"Retry-After": " 1.5 "}, 1.5, id="fractional"),
        pytest.param({"Retry-After": "Sun, 22 Nov 2026 12:00:30 GMT"}, 30.0, id="http-date"),
        pytest.param({"Retry-After": "Sun, 22 Nov 2026 11:00:00 GMT"}, 0.0, id="date-in-past"),
        pytest.param({"Retry-After": "-5"}, None, id="negative"),
        pytest.param({"Retry-After": "soon"}, None, id="junk"),
        pytest.param({"Retry-After": "nan"}, None, id="nan"),
        pytest.param({"retry-after-ms": "250", "Retry-After": "9"}, 0.25, id="ms-wins"),
        pytest.param({"retry-after-ms": "x", "Retry-After": "9"}, 9.0, id="bad-ms-falls-back"),
        pytest.param({"retry-after-ms": "0", "Retry-After": "9"}, 0.0, id="ms-zero"),
        pytest.param({"retry-after-ms": "-5", "Retry-After": "3"}, 3.0, id="negative-ms"),
        pytest.param({"retry-after-ms": "inf", "Retry-After": "3"}, 3.0, id="infinite-ms"),
        pytest.param({"Retry-After": "0"}, 0.0, id="zero"),
        pytest.param({"Retry-After": "0.5"}, 0.5, id="under-a-second"),
        pytest.param(
            {"Retry-After": "Sun, 22 Nov 2026 12:00:30 -0000"}, 30.0, id="http-date-no-zone"
        ),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(httpx.Headers(headers), now=NOW) == expected


def test_parse_retry_after_reads_the_clock() -> None:
    # Without `now`, an HTTP date is measured from the current UTC time.
    wait = parse_retry_after(httpx.Headers({"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}))
    assert wait is not None
    assert 2_000_000_000 < wait < 3_000_000_000


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        pytest.param("[::1]", True, id="bracketed-v6"),
        pytest.param("::1", True, id="bare-v6"),
        pytest.param("127.0.0.1", True, id="v4"),
        pytest.param("localhost", True, id="localhost"),
    ],
)
def test_is_literal_loopback(host: str, loopback: bool) -> None:
    assert is_literal_loopback(host) is loopback


def test_backoff_is_full_jitter_doubling_to_a_cap() -> None:
    rng = random.Random(7)
    for retry, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (60, 8.0)]:
        delays = [backoff_delay(retry, base=0.5, cap=8.0, rng=rng) for _ in range(400)]
        assert all(0.0 <= d <= ceiling for d in delays)
        # Full jitter spreads over the whole range, not just near the ceiling.
        assert min(delays) < ceiling * 0.1
        assert max(delays) > ceiling * 0.9


# --- edges the mutation audit found untested ---------------------------------


def test_the_empty_listing_marker_names_itself() -> None:
    assert repr(EMPTY_LISTING) == "EMPTY_LISTING"


@pytest.mark.parametrize("status", [300, 301, 304])
def test_a_3xx_with_a_json_body_is_an_error_not_data(status: int) -> None:
    # Redirects are not followed: a JSON body on one is not the page asked for.
    with pytest.raises(ct.APIError) as info:
        decode_response(status, NO_HEADERS, b'{"paging": {}, "rewards": []}')
    assert type(info.value) is ct.APIError
    assert info.value.status_code == status


def test_no_data_with_status_500_is_still_an_error() -> None:
    with pytest.raises(ct.ServerError) as info:
        decode_response(500, NO_HEADERS, b'{"error": "no_data"}')
    assert (info.value.status_code, info.value.error) == (500, "no_data")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"error": "maintenance", "paging": {"total": 0}}', id="with-paging"),
        pytest.param(b'{"error": "maintenance", "rewards": []}', id="with-rewards"),
    ],
)
def test_a_page_that_also_has_an_error_key_is_data(body: bytes) -> None:
    assert decode_response(200, NO_HEADERS, body) == json.loads(body)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        pytest.param(b'{"error": 42, "message": ["bad"]}', None, "Bad Request", id="not-text"),
        pytest.param(b'{"error": "", "message": ""}', None, "Bad Request", id="empty-text"),
        pytest.param(
            b'{"error": "bad_thing", "message": 0}', "bad_thing", "Bad Request", id="zero"
        ),
    ],
)
def test_an_error_code_or_message_that_is_not_text_is_ignored(
    body: bytes, code: str | None, message: str
) -> None:
    with pytest.raises(ct.BadRequestError) as info:
        decode_response(400, NO_HEADERS, body)
    assert (info.value.error, info.value.message) == (code, message)
    assert str(info.value) == f"HTTP 400{' ' + code if code else ''}: {message}"


def test_a_user_id_is_refused_with_an_exact_reason() -> None:
    with pytest.raises(TypeError, match=r"^user_id must be a str or int, got float$"):
        encode_user_id(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^user_id must not be empty$"):
        encode_user_id("")


@pytest.mark.parametrize(
    ("url", "error", "message"),
    [
        pytest.param(b"https://x", TypeError, "base_url must be a str, got bytes", id="bytes"),
        pytest.param(
            "api1.crowdtwist.com",
            ValueError,
            "base_url must be an absolute https URL such as https://api123.crowdtwist.com",
            id="no-scheme",
        ),
        pytest.param(
            "http://evil.com:8080/x?y",
            ValueError,
            "base_url must use https (plain http is allowed only for 127.0.0.1, ::1 and "
            "localhost), got 'http://evil.com:8080'",
            id="http-name",
        ),
    ],
)
def test_a_base_url_is_refused_with_an_exact_reason(
    url: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        normalize_base_url(url)  # type: ignore[arg-type]
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("key", "auth", "message"),
    [
        pytest.param(
            "a\nb",
            "query",
            "api_key contains a control character (a line break, a tab or the like); "
            "check how it was read",
            id="control",
        ),
        pytest.param(
            "a b",
            "header",
            "api_key must be visible ASCII (no spaces) to travel in the X-CT-Authorization "
            'header; use auth="query" for this key',
            id="header",
        ),
    ],
)
def test_a_key_is_refused_with_an_exact_reason(key: str, auth: str, message: str) -> None:
    with pytest.raises(ValueError) as info:  # noqa: PT011 (the whole message is checked)
        check_api_key(key, auth)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        pytest.param("http://[::2]", "http://[::2]", id="v6-without-port"),
        pytest.param("http://[::2]:80/x", "http://[::2]:80", id="v6-with-port"),
        pytest.param("http://evil.com", "http://evil.com", id="name-without-port"),
    ],
)
def test_a_refused_http_url_is_shown_by_scheme_host_and_port(url: str, shown: str) -> None:
    with pytest.raises(ValueError, match="must use https") as info:
        normalize_base_url(url)
    assert str(info.value).endswith(f", got {shown!r}")


def test_a_user_name_without_a_password_is_refused_too() -> None:
    with pytest.raises(ValueError, match="must not carry credentials"):
        normalize_base_url("https://user@api1.crowdtwist.com")


def test_only_trailing_slashes_are_cut_from_the_path() -> None:
    assert normalize_base_url("https://proxy.example/APIX//") == "https://proxy.example/APIX"


@pytest.mark.usefixtures("decoder")
def test_text_is_decoded_as_bytes_are() -> None:
    assert loads_strict('{"a": [1, 2.5, "\\u20ac"]}') == {"a": [1, 2.5, "€"]}


def test_headers_are_read_by_their_lowercase_names_from_any_mapping() -> None:
    # The pure functions take any Mapping; httpx.Headers ignores case, a dict does not.
    headers = {"retry-after": "7", "x-request-id": "req-1"}
    assert parse_retry_after(headers) == 7.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    with pytest.raises(ct.RateLimitError) as info:
        decode_response(429, headers, b"")
    assert (info.value.retry_after, info.value.request_id) == (7.0, "req-1")


# --- base URLs read alike on Python 3.10 to 3.13 (issue 18, #10) -------------

FORM = "base_url must be an absolute https URL such as https://api123.crowdtwist.com"
HTTP_ONLY = "base_url must use https (plain http is allowed only for 127.0.0.1, ::1 and localhost)"
HTTPX = "base_url has a host or port that httpx cannot use,"


def blank(char: str, index: int) -> str:
    return f"base_url must not hold a control character or whitespace: {char!r} at index {index}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        # urllib.parse drops tabs and line breaks, and leading C0 characters
        # on some patch releases only; httpx refuses the rest.
        pytest.param("https://api1.crowdtwist.com/\x00", blank("\x00", 28), id="nul-path"),
        pytest.param("http://127.0.0.1\x00:8000", blank("\x00", 16), id="nul-host"),
        pytest.param("\x00https://api1.crowdtwist.com", blank("\x00", 0), id="nul-first"),
        pytest.param("https://api1.crowd\ttwist.com", blank("\t", 18), id="tab-host"),
        pytest.param("ht\ttps://api1.crowdtwist.com", blank("\t", 2), id="tab-scheme"),
        pytest.param("https://api1.crowdtwist.com/c\nt", blank("\n", 29), id="newline-path"),
        pytest.param("https://api1.crowdtwist.com\r\n/x", blank("\r", 27), id="crlf"),
        pytest.param("https://api1 .crowdtwist.com", blank(" ", 12), id="space-host"),
        pytest.param("https://api1.crowdtwist.com/c t", blank(" ", 29), id="space-path"),
        pytest.param("https://api1.crowdtwist.com/\x7f", blank("\x7f", 28), id="delete"),
        pytest.param("https://api1.crowdtwist.com/\x85x", blank("\x85", 28), id="c1-next-line"),
        pytest.param("https://api1.crowdtwist.com/\xa0x", blank("\xa0", 28), id="no-break-space"),
        pytest.param(
            "https://api1.crowdtwist.com/\u2028x", blank("\u2028", 28), id="line-separator"
        ),
        pytest.param("https://api1.crowdtwist.com/\u3000x", blank("\u3000", 28), id="ideographic"),
        # Python 3.11.4+ refuses these while splitting, with its own words
        # (which may repeat the URL); 3.10 reads a host from them.
        pytest.param("https://[evil.com]", FORM, id="name-in-brackets"),
        pytest.param("http://[127.0.0.1]", FORM, id="v4-in-brackets"),
        pytest.param("https://[v1.fe]", FORM, id="ipvfuture"),
        pytest.param("https://]x[", FORM, id="brackets-reversed"),
        pytest.param("https://[::1", FORM, id="bracket-unclosed"),
        pytest.param("https://[::1]x", FORM, id="junk-after-brackets"),
        pytest.param("https://api1.crowdtwist.com:+443", FORM, id="signed-port"),
        pytest.param("https://api1.crowdtwist.com:\u0664\u0664\u0663", FORM, id="arabic-port"),
        pytest.param("https://api1.crowdtwist.com:1:2", FORM, id="two-ports"),
        pytest.param("https://u:SECRET\u2100@evil.com", FORM, id="nfkc-netloc"),
        pytest.param("https://@SECRET[@api1.crowdtwist.com", FORM, id="bracket-in-user"),
        # What urllib reads as a name and httpx refuses.
        pytest.param(
            "https://127.0.0.01/x", f"{HTTPX} got 'https://127.0.0.01'", id="octal-looking"
        ),
        pytest.param(
            "https://api1\u200b.crowdtwist.com",
            f"{HTTPX} got 'https://api1\\u200b.crowdtwist.com'",
            id="zero-width",
        ),
        # IPv4-mapped addresses are read as the IPv4 address they map.
        pytest.param(
            "http://[::ffff:10.0.0.1]",
            f"{HTTP_ONLY}, got 'http://[::ffff:10.0.0.1]'",
            id="mapped-private",
        ),
        pytest.param(
            "http://[::ffff:8.8.8.8]:80/x",
            f"{HTTP_ONLY}, got 'http://[::ffff:8.8.8.8]:80'",
            id="mapped-public",
        ),
        # The deprecated IPv4-compatible form is no loopback on any version.
        pytest.param(
            "http://[::127.0.0.1]", f"{HTTP_ONLY}, got 'http://[::127.0.0.1]'", id="v4-compatible"
        ),
    ],
)
def test_a_hostile_base_url_is_refused_alike_everywhere(url: str, message: str) -> None:
    with pytest.raises(ValueError) as info:  # noqa: PT011 (the whole message is checked)
        normalize_base_url(url)
    assert str(info.value) == message
    # The Session says the same, before httpx could read the URL its own way.
    with pytest.raises(ValueError) as through_session:  # noqa: PT011
        ct.Session("sk-test", base_url=url)
    assert str(through_session.value) == message
    assert "SECRET" not in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "http://[::ffff:127.0.0.1]:8000", "http://[::ffff:127.0.0.1]:8000", id="mapped"
        ),
        pytest.param("http://[::ffff:7f00:1]/", "http://[::ffff:7f00:1]", id="mapped-hex"),
        pytest.param(
            "http://[::FFFF:127.9.8.7]/ct/", "http://[::FFFF:127.9.8.7]/ct", id="mapped-net"
        ),
        pytest.param(
            "http://[0:0:0:0:0:ffff:127.0.0.1]",
            "http://[0:0:0:0:0:ffff:127.0.0.1]",
            id="mapped-long",
        ),
        # Whitespace around the URL (a line read from a file) is cut.
        pytest.param(" https://api1.crowdtwist.com/\n", "https://api1.crowdtwist.com", id="around"),
    ],
)
def test_a_base_url_is_accepted_alike_everywhere(url: str, expected: str) -> None:
    assert normalize_base_url(url) == expected
    assert ct.Session("sk-test", base_url=url).base_url == expected


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        pytest.param("::ffff:127.0.0.1", True, id="mapped"),
        pytest.param("[::ffff:7f00:1]", True, id="mapped-hex-bracketed"),
        pytest.param("::ffff:127.255.255.254", True, id="mapped-net-end"),
        pytest.param("::ffff:128.0.0.1", False, id="mapped-next-network"),
        pytest.param("::ffff:0.0.0.0", False, id="mapped-any"),
        pytest.param("::127.0.0.1", False, id="v4-compatible"),
        pytest.param("::ffff:0:127.0.0.1", False, id="v4-translated"),
    ],
)
def test_an_ipv4_mapped_address_is_loopback_as_its_ipv4_address_is(
    host: str, loopback: bool
) -> None:
    assert is_literal_loopback(host) is loopback


# --- dot segments, however spelled (issue 18, #11) ----------------------------

DOT_SEGMENT = (
    "path must not have a '.' or '..' segment, percent-encoded or not, alone or before ';' "
    "(a server may resolve it); got "
)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/v2/%2e%2e/x", id="encoded-lower"),
        pytest.param("/v2/%2E%2E/x", id="encoded-upper"),
        pytest.param("/v2/.%2E/x", id="half-encoded"),
        pytest.param("/v2/%2e./x", id="half-encoded-other"),
        pytest.param("/v2/%2e/x", id="encoded-dot"),
        pytest.param("/v2/..;/x", id="parameter"),
        pytest.param("/v2/.;/x", id="dot-parameter"),
        pytest.param("/v2/..;jsessionid=1/x", id="named-parameter"),
        pytest.param("/v2/%2e%2e;a=b;c/x", id="encoded-parameters"),
        pytest.param("/v2/..%3B/x", id="encoded-semicolon"),
        pytest.param("/v2/users/1001/%2E%2E", id="last"),
        pytest.param("/%2e%2e", id="first"),
    ],
)
def test_a_dot_segment_however_spelled_is_refused(path: str) -> None:
    with pytest.raises(ValueError) as info:  # noqa: PT011 (the whole message is checked)
        check_path(path)
    assert str(info.value) == DOT_SEGMENT + repr(path)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/v2/users/.../points", id="three-dots"),
        pytest.param("/v2/users/a..b/points", id="dots-inside"),
        pytest.param("/v2/users/..a/points", id="dots-first"),
        pytest.param("/v2/users/%2E%2E%2E/points", id="three-encoded"),
        pytest.param("/v2/users/%252E%252E/points", id="encoded-percent"),
        pytest.param("/v2/users/x;../points", id="dots-in-parameter"),
        pytest.param("/v2/users/..%2Fadmin/points", id="encoded-slash"),
    ],
)
def test_a_segment_that_only_holds_dots_is_taken(path: str) -> None:
    assert check_path(path) == path
