"""The key is masked in every form it can take, wherever it can surface."""

from __future__ import annotations

import logging
import traceback
from urllib.parse import quote, quote_plus

import httpx
import pytest
import respx

import crowdtwist_async as ct

# Private on purpose: this module unit-tests the masking itself (every form of
# the key, the log filter), besides where the key surfaces through the API.
from crowdtwist_async._redact import (
    KeyMask,
    install_log_filter,
    log_filter,
    mask_query_keys,
)

from .conftest import BASE_URL

#: A key with the characters a URL encodes: it travels as k3y%2Bw%2Fx%3Dz9.
KEY = "k3y+w/x=z9"
ENCODED = quote_plus(KEY)
REWARDS_URL = f"{BASE_URL}/v2.1/users/alice/rewards"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param("GET /r?api_key=abc123&page=2", "GET /r?api_key=***&page=2", id="middle"),
        pytest.param("GET /r?page=2&api_key=abc123", "GET /r?page=2&api_key=***", id="last"),
        pytest.param("api_key=abc123", "api_key=***", id="alone"),
        pytest.param("x API_KEY=abc123 y", "x API_KEY=*** y", id="case-and-space"),
        pytest.param("/r?not_api_key=abc", "/r?not_api_key=abc", id="another-parameter"),
    ],
)
def test_the_query_parameter_is_masked_whole(text: str, masked: str) -> None:
    assert mask_query_keys(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param(f"key {KEY} here", "key *** here", id="raw"),
        pytest.param(f"url ?api_key={ENCODED}&x", "url ?api_key=***&x", id="query-encoded"),
        pytest.param(f"{quote(KEY, safe='')}", "***", id="path-encoded"),
        pytest.param(f"{ENCODED.lower()}", "***", id="lower-case-hex"),
        pytest.param("k3y+w/x=z", "k3y+w/x=z", id="a-prefix-is-not-the-key"),
    ],
)
def test_every_form_of_the_key_is_masked(text: str, masked: str) -> None:
    mask = KeyMask(KEY)
    assert mask(text) == masked
    assert mask.found_in(text) == (masked != text)


@pytest.mark.anyio
async def test_an_error_echoing_the_encoded_key_shows_it_nowhere() -> None:
    echo = f"upstream failed for {REWARDS_URL}?api_key={ENCODED}&page=1 (key {KEY})"
    with respx.mock(assert_all_called=True) as router:
        route = router.get(REWARDS_URL).respond(
            500,
            json={"error": f"internal_error {ENCODED}", "message": echo},
            headers={"x-request-id": f"req-{KEY}"},
        )
        async with ct.Session(KEY, base_url=BASE_URL, max_retries=0) as session:
            with pytest.raises(ct.ServerError) as info:
                await session.users.get_rewards_page("alice")
    # The key did travel, encoded, as the documented parameter.
    assert route.calls.last.request.url.params["api_key"] == KEY
    assert ENCODED in str(route.calls.last.request.url)
    error = info.value
    assert error.message == (f"upstream failed for {REWARDS_URL}?api_key=***&page=1 (key ***)")
    assert error.request_id == "req-***"
    assert error.error == "internal_error ***"
    shown = [
        str(error),
        repr(error),
        error.message,
        error.body,
        str(error.request_id),
        str(error.error),
        *map(str, error.args),
        "".join(traceback.format_exception(error)),
    ]
    for text in shown:
        assert KEY not in text
        assert ENCODED.lower() not in text.lower()


@pytest.mark.anyio
async def test_a_connection_error_naming_the_url_shows_no_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with respx.mock() as router:
        router.get(REWARDS_URL).mock(
            side_effect=httpx.ConnectError(f"cannot reach {REWARDS_URL}?api_key={ENCODED}")
        )
        async with ct.Session(KEY, base_url=BASE_URL, max_retries=1) as session:
            with pytest.raises(ct.APIConnectionError) as info:
                await session.users.get_rewards_page("alice")
    assert "api_key=***" in str(info.value)
    for text in (str(info.value), repr(info.value), caplog.text):
        assert KEY not in text
        assert ENCODED not in text


@pytest.mark.parametrize("auth", ["query", "header"])
def test_a_key_with_a_line_break_is_refused_at_construction(auth: str) -> None:
    with pytest.raises(ValueError, match="control character") as info:
        ct.Session("ab\r\nX-Evil: 1", base_url=BASE_URL, auth=auth)  # type: ignore[arg-type]
    assert "X-Evil" not in str(info.value)


def test_a_header_key_must_be_visible_ascii() -> None:
    with pytest.raises(ValueError, match="visible ASCII"):
        ct.Session("clé-secrète", base_url=BASE_URL, auth="header")
    # In the query it is percent-encoded, so it can travel there.
    assert ct.Session("clé-secrète", base_url=BASE_URL).base_url == BASE_URL


@pytest.mark.parametrize(
    ("msg", "args", "shown"),
    [
        pytest.param("GET /r?api_key=abc&x=1", None, "GET /r?api_key=***&x=1", id="in-msg"),
        pytest.param("GET %s", ("/r?api_key=abc",), "GET /r?api_key=***", id="in-args"),
        pytest.param("GET %s %d", ("/r", 200), "GET /r 200", id="untouched"),
    ],
)
def test_the_httpx_log_filter_masks_only_what_it_must(
    msg: str, args: tuple[object, ...] | None, shown: str
) -> None:
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, msg, args, None)
    assert log_filter().filter(record) is True
    assert record.getMessage() == shown
    if "api_key" not in shown:
        # Records without a key keep their arguments, for handlers that use them.
        assert record.args == args


def test_the_httpx_log_filter_masks_a_key_in_mapping_arguments() -> None:
    # logging.info("GET %(url)s", {"url": ...}) keeps the mapping as record.args.
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "GET %(url)s", ({"url": "/r?api_key=abc"},), None
    )
    assert isinstance(record.args, dict)
    assert log_filter().filter(record) is True
    assert record.getMessage() == "GET /r?api_key=***"


@pytest.mark.parametrize(
    ("key", "text"),
    [
        # quote_plus writes the space as "+"; only quote(safe="") also encodes "/".
        pytest.param("a b/c", "x a%20b%2Fc y", id="space-and-slash-path-encoded"),
        # The raw key is a prefix of its encoded form: the longer one is masked whole.
        pytest.param("k3y%", "x k3y%25 y", id="key-inside-its-encoded-form"),
    ],
)
def test_an_encoded_key_is_masked_whole(key: str, text: str) -> None:
    assert KeyMask(key)(text) == "x *** y"


def test_the_log_filter_is_installed_once_on_each_named_logger() -> None:
    names = ("crowdtwist-test-a", "crowdtwist-test-b")
    loggers = [logging.getLogger(name) for name in names]
    try:
        install_log_filter(names)
        install_log_filter(names)
        assert [logger.filters for logger in loggers] == [[log_filter()], [log_filter()]]
        assert log_filter() not in logging.getLogger().filters
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter())
