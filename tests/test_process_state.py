"""`reset_process_state`: what the SDK looked up or set up once for the whole
process is looked up again, as in a fresh process.

The decoder choice is in test_protocol, the timestamp cache in
test_fast_hooks, the test switch in test_retry; here, OpenTelemetry and
`CROWDTWIST_LOG`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist, reset_process_state

from . import otel_support
from .conftest import API_KEY, BASE_URL

pytestmark = pytest.mark.anyio

SHOWN_LOGGERS = ("crowdtwist_async", "httpx")


@pytest.fixture(autouse=True)
def forgotten(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts from a fresh process's state, and leaves one behind
    (before `monkeypatch` puts back what the test changed)."""
    reset_process_state()
    yield
    reset_process_state()


async def spans_of_one_request(fake: FakeCrowdTwist) -> int:
    """How many spans one request of a Session leaves, with a provider set."""
    with otel_support.recording() as exporter:
        async with ct.Session(
            api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport()
        ) as session:
            page = await session.users.get_rewards_page(SANDBOX_EMAIL, id_type="email")
        assert len(page.rewards) == 10
        return len(exporter.get_finished_spans())


async def test_opentelemetry_is_looked_up_once_and_again_after_a_reset() -> None:
    fake = FakeCrowdTwist()
    assert await spans_of_one_request(fake) == 1
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "opentelemetry", None)
        # Found before: still traced, until it is looked up again.
        assert await spans_of_one_request(fake) == 1
        reset_process_state()
        assert await spans_of_one_request(fake) == 0
    # Back, but found missing: untraced, until it is looked up again.
    assert await spans_of_one_request(fake) == 0
    reset_process_state()
    assert await spans_of_one_request(fake) == 1
    assert len(fake.requests) == 5


def shown_loggers() -> list[tuple[int, list[logging.Handler]]]:
    """The level and handlers of each logger `CROWDTWIST_LOG` shows."""
    loggers = [logging.getLogger(name) for name in SHOWN_LOGGERS]
    return [(logger.level, list(logger.handlers)) for logger in loggers]


def test_crowdtwist_log_is_read_again_after_a_reset_and_its_handler_taken_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = shown_loggers()
    sdk = logging.getLogger("crowdtwist_async")
    monkeypatch.setenv("CROWDTWIST_LOG", "debug")
    ct.Session(API_KEY, base_url=BASE_URL)
    (sdk_level, sdk_handlers), (httpx_level, httpx_handlers) = shown_loggers()
    assert (sdk_level, httpx_level) == (logging.DEBUG, logging.DEBUG)
    [handler] = [h for h in sdk_handlers if h not in before[0][1]]
    assert handler in httpx_handlers
    sdk.debug("GET /r?api_key=%s", API_KEY)
    assert capsys.readouterr().err.endswith(" DEBUG crowdtwist_async: GET /r?api_key=***\n")

    # Read once: set otherwise, it changes nothing until the next look.
    monkeypatch.setenv("CROWDTWIST_LOG", "info")
    ct.Session(API_KEY, base_url=BASE_URL)
    assert shown_loggers() == [(logging.DEBUG, sdk_handlers), (logging.DEBUG, httpx_handlers)]

    # Taken off, the levels put back; then read again, as at the first Session.
    reset_process_state()
    assert shown_loggers() == before
    sdk.info("not shown")
    assert capsys.readouterr().err == ""
    ct.Session(API_KEY, base_url=BASE_URL)
    (sdk_level, sdk_handlers), (httpx_level, _) = shown_loggers()
    assert (sdk_level, httpx_level) == (logging.INFO, logging.INFO)
    assert len(sdk_handlers) == len(before[0][1]) + 1
    sdk.info("shown")
    assert capsys.readouterr().err.endswith(" INFO crowdtwist_async: shown\n")
