"""What the SDK tells an operator: OpenTelemetry spans, the listing log line,
`CROWDTWIST_LOG`, and the credentials kept out of all of them.

Span tests record with the OpenTelemetry SDK provider of `otel_support`,
installed once for the whole run and recording only inside the `spans`
fixture. What depends on the process as a whole (no OpenTelemetry, the API's
default provider, `CROWDTWIST_LOG`, read once) runs in a subprocess.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio
import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import crowdtwist_async as ct

# Private on purpose: pure functions tested input by input, which spans and
# log records show only for the paths and texts a session happens to send:
# the span name's path template, and the masking of credential headers.
from crowdtwist_async._redact import mask_query_keys
from crowdtwist_async._telemetry import path_template
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist

from . import otel_support

pytestmark = pytest.mark.anyio

T = TypeVar("T")

#: A key that could not turn up anywhere by chance.
KEY = "sk-live-Zq8vN3pL0xW2"
REWARDS = "/v2.1/users/{user_id}/rewards"
HOST = "sandbox.crowdtwist.test"
ROOT = Path(__file__).resolve().parent.parent

Form = Literal["plain", "entered"]


# -- fixtures and helpers ------------------------------------------------------


@pytest.fixture(scope="session")
def otel_provider() -> TracerProvider:
    """The SDK provider, set as the global one once for the whole run."""
    return otel_support.install()


@pytest.fixture
def spans(otel_provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
    """The spans ended during the test (none of any other test's)."""
    with otel_support.recording() as exporter:
        yield exporter


@pytest.fixture
def fake() -> FakeCrowdTwist:
    return FakeCrowdTwist(api_key=KEY)


def make_session(fake: FakeCrowdTwist, **options: Any) -> ct.Session:
    options.setdefault("transport", fake.transport())
    return ct.Session(api_key=fake.api_key, base_url=fake.base_url, **options)


@pytest.fixture
async def session(fake: FakeCrowdTwist) -> AsyncIterator[ct.Session]:
    async with make_session(fake) as session:
        yield session


@pytest.fixture(params=["plain", "entered"])
def form(request: pytest.FixtureRequest) -> Form:
    """How the listing is read: a plain `async for`, or inside `async with listing:`."""
    return request.param  # type: ignore[no-any-return]


async def read(listing: ct.AsyncPaginator[T], form: Form) -> list[T]:
    if form == "entered":
        async with listing:
            return [item async for item in listing]
    return [item async for item in listing]


async def read_failing(
    listing: ct.AsyncPaginator[T], form: Form
) -> tuple[list[T], ct.CrowdTwistError]:
    """What the listing yielded before it raised, and what it raised."""
    items: list[T] = []
    with pytest.raises(ct.CrowdTwistError) as info:
        if form == "entered":
            async with listing:
                async for item in listing:
                    items.append(item)
        else:
            async for item in listing:
                items.append(item)
    return items, info.value


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def listing_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == "crowdtwist.list"]


def the_listing_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (listing,) = listing_spans(exporter)
    assert listing.kind is SpanKind.INTERNAL
    return listing


def attempt_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The client spans, by page, then in the order they started."""
    attempts = [span for span in exporter.get_finished_spans() if span.kind is SpanKind.CLIENT]
    return sorted(
        attempts, key=lambda span: (attributes(span).get("crowdtwist.page", 0), start(span))
    )


def start(span: ReadableSpan) -> int:
    assert span.start_time is not None
    return span.start_time


def pages_of(attempts: list[ReadableSpan]) -> list[int]:
    return [attributes(span)["crowdtwist.page"] for span in attempts]


def listing_attributes(
    outcome: str, pages: int, items: int, *, template: str = REWARDS, error: str | None = None
) -> dict[str, Any]:
    expected: dict[str, Any] = {
        "url.template": template,
        "crowdtwist.pages_read": pages,
        "crowdtwist.items_yielded": items,
        "crowdtwist.outcome": outcome,
    }
    if error is not None:
        expected["error.type"] = error
    return expected


def attempt_attributes(
    page: int | None,
    status: int | None = 200,
    *,
    template: str = REWARDS,
    resends: int = 0,
    error: str | None = None,
    host: str = HOST,
    port: int = 443,
) -> dict[str, Any]:
    expected: dict[str, Any] = {
        "http.request.method": "GET",
        "server.address": host,
        "server.port": port,
        "url.template": template,
    }
    if resends:
        expected["http.request.resend_count"] = resends
    if page is not None:
        expected["crowdtwist.page"] = page
    if status is not None:
        expected["http.response.status_code"] = status
    if error is not None:
        expected["error.type"] = error
    return expected


def ids(span: ReadableSpan) -> tuple[int, int]:
    context = span.context
    assert context is not None
    return context.trace_id, context.span_id


def assert_child_of(child: ReadableSpan, parent: ReadableSpan) -> None:
    trace_id, span_id = ids(parent)
    assert child.parent is not None
    assert (child.parent.trace_id, child.parent.span_id) == (trace_id, span_id)
    assert ids(child)[0] == trace_id


def assert_page_attempts(
    exporter: InMemorySpanExporter, listing: ReadableSpan, pages: range
) -> None:
    """One successful attempt span per page of *pages*, each a child of *listing*."""
    attempts = attempt_spans(exporter)
    assert pages_of(attempts) == list(pages)
    for attempt in attempts:
        assert attempt.name == f"GET {REWARDS}"
        assert attempt.kind is SpanKind.CLIENT
        assert attributes(attempt) == attempt_attributes(attributes(attempt)["crowdtwist.page"])
        assert attempt.status.status_code is StatusCode.UNSET
        assert_child_of(attempt, listing)


# -- spans: a listing ----------------------------------------------------------


async def test_a_listing_is_a_span_over_one_client_span_per_page(
    session: ct.Session, spans: InMemorySpanExporter, form: Form
) -> None:
    rewards = await read(session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email"), form)
    assert len(rewards) == 203
    listing = the_listing_span(spans)
    assert attributes(listing) == listing_attributes("complete", 21, 203)
    assert listing.status.status_code is StatusCode.UNSET
    assert listing.parent is None
    assert_page_attempts(spans, listing, range(1, 22))
    assert len(spans.get_finished_spans()) == 22


async def test_the_listing_span_is_under_the_span_the_listing_was_made_in(
    session: ct.Session, spans: InMemorySpanExporter, form: Form
) -> None:
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("job"):
        listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
    # Read under another span: the listing keeps the one it was made in.
    with tracer.start_as_current_span("elsewhere"):
        rewards = await read(listing, form)
    assert len(rewards) == 203
    (job,) = (span for span in spans.get_finished_spans() if span.name == "job")
    (elsewhere,) = (span for span in spans.get_finished_spans() if span.name == "elsewhere")
    listed = the_listing_span(spans)
    assert_child_of(listed, job)
    assert ids(listed)[0] != ids(elsewhere)[0]
    assert_page_attempts(spans, listed, range(1, 22))


async def test_a_retried_page_is_two_attempt_spans(
    fake: FakeCrowdTwist,
    session: ct.Session,
    spans: InMemorySpanExporter,
    form: Form,
    fast_retries: None,
) -> None:
    fake.script(503, page=2)
    rewards = await read(session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email"), form)
    assert len(rewards) == 203
    listing = the_listing_span(spans)
    assert attributes(listing) == listing_attributes("complete", 21, 203)
    attempts = attempt_spans(spans)
    assert pages_of(attempts) == [1, 2, 2, *range(3, 22)]
    failed, retried = attempts[1:3]
    assert attributes(failed) == attempt_attributes(2, 503, error="503")
    assert failed.status.status_code is StatusCode.ERROR
    assert attributes(retried) == attempt_attributes(2, 200, resends=1)
    assert retried.status.status_code is StatusCode.UNSET
    assert start(failed) < start(retried)
    for attempt in attempts:
        assert_child_of(attempt, listing)


@pytest.mark.parametrize(
    ("status", "page", "error", "pages_read"),
    [
        pytest.param(404, 3, "NotFoundError", 2, id="404-on-page-3"),
        pytest.param(500, 2, "ServerError", 1, id="500-on-page-2-no-retries"),
    ],
)
async def test_an_error_that_ends_the_listing_is_on_its_span(
    fake: FakeCrowdTwist,
    spans: InMemorySpanExporter,
    form: Form,
    status: int,
    page: int,
    error: str,
    pages_read: int,
) -> None:
    fake.script(status, page=page)
    # One page at a time: no request is in flight when the error arrives.
    async with make_session(fake, max_retries=0, max_concurrency=1) as session:
        listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
        rewards, raised = await read_failing(listing, form)
    assert type(raised).__name__ == error
    assert len(rewards) == pages_read * 10
    listed = the_listing_span(spans)
    assert attributes(listed) == listing_attributes(
        "error", pages_read, pages_read * 10, error=error
    )
    assert listed.status.status_code is StatusCode.ERROR
    assert listed.status.description == error
    attempts = attempt_spans(spans)
    assert pages_of(attempts) == list(range(1, page + 1))
    assert [attributes(attempt) for attempt in attempts] == [
        *(attempt_attributes(number) for number in range(1, page)),
        attempt_attributes(page, status, error=str(status)),
    ]
    assert attempts[-1].status.status_code is StatusCode.ERROR
    for attempt in attempts:
        assert_child_of(attempt, listed)


async def test_a_plain_listing_left_by_break_is_stopped_once_dropped(
    session: ct.Session, spans: InMemorySpanExporter
) -> None:
    listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
    seen = 0
    async for _ in listing:
        seen += 1
        if seen == 5:
            break
    # Nothing tells a plain listing that `break` left it: it is still open.
    assert listing_spans(spans) == []
    del listing
    gc.collect()
    listed = the_listing_span(spans)
    assert attributes(listed) == listing_attributes("stopped", 1, 5)
    assert listed.status.status_code is StatusCode.UNSET
    assert_page_attempts(spans, listed, range(1, 2))


async def test_a_listing_closed_with_aclose_is_stopped(
    session: ct.Session, spans: InMemorySpanExporter
) -> None:
    listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
    seen = 0
    async for _ in listing:
        seen += 1
        if seen == 5:
            break
    await listing.aclose()
    listed = the_listing_span(spans)
    assert attributes(listed) == listing_attributes("stopped", 1, 5)
    assert listed.status.status_code is StatusCode.UNSET
    assert_page_attempts(spans, listed, range(1, 2))


async def test_an_entered_listing_left_early_is_stopped(
    session: ct.Session, spans: InMemorySpanExporter
) -> None:
    seen = 0
    async with session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email") as listing:
        async for _ in listing:
            seen += 1
            if seen == 5:
                break
    listed = the_listing_span(spans)
    assert attributes(listed) == listing_attributes("stopped", 1, 5)
    assert listed.status.status_code is StatusCode.UNSET
    # Pages after the first may have been asked for ahead, and cut off.
    attempts = attempt_spans(spans)
    assert attributes(attempts[0]) == attempt_attributes(1)
    for attempt in attempts:
        assert_child_of(attempt, listed)


async def test_max_items_asks_for_the_pages_it_needs_only(
    session: ct.Session, spans: InMemorySpanExporter, form: Form
) -> None:
    listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email", max_items=25)
    assert len(await read(listing, form)) == 25
    listed = the_listing_span(spans)
    assert attributes(listed) == listing_attributes("complete", 3, 25)
    assert_page_attempts(spans, listed, range(1, 4))
    assert len(spans.get_finished_spans()) == 4


class FailingTransport(httpx.AsyncBaseTransport):
    """Fails the first request for page 2 with a connection error."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.failed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.failed and request.url.params.get("page") == "2":
            self.failed = True
            raise httpx.ConnectError("connection refused", request=request)
        return await self._inner.handle_async_request(request)


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["APITimeoutError", "APIConnectionError"])
async def test_an_attempt_that_gets_no_response_names_the_error(
    fake: FakeCrowdTwist,
    spans: InMemorySpanExporter,
    form: Form,
    fast_retries: None,
    fault: str,
) -> None:
    transport: httpx.AsyncBaseTransport = fake.transport()
    if fault == "APITimeoutError":
        fake.script(delay=60.0, page=2)
    else:
        transport = FailingTransport(transport)
    async with make_session(fake, transport=transport, timeout=0.5, max_retries=1) as session:
        listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
        assert len(await read(listing, form)) == 203
    listed = the_listing_span(spans)
    assert attributes(listed) == listing_attributes("complete", 21, 203)
    attempts = attempt_spans(spans)
    assert pages_of(attempts) == [1, 2, 2, *range(3, 22)]
    failed, retried = attempts[1:3]
    assert attributes(failed) == attempt_attributes(2, None, error=fault)
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == fault
    assert attributes(retried) == attempt_attributes(2, 200, resends=1)
    # The exception is not recorded: its message names the user's path.
    assert failed.events == ()


async def test_a_cancelled_listing_is_cancelled_not_an_error(
    session: ct.Session, spans: InMemorySpanExporter, form: Form
) -> None:
    listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
    seen = 0
    with anyio.CancelScope() as scope:
        if form == "entered":
            async with listing:
                async for _ in listing:
                    seen += 1
                    if seen == 10:
                        scope.cancel()
        else:
            async for _ in listing:
                seen += 1
                if seen == 10:
                    scope.cancel()
    assert scope.cancelled_caught
    assert seen == 10
    listed = the_listing_span(spans)
    assert attributes(listed) == listing_attributes("cancelled", 1, 10)
    assert listed.status.status_code is StatusCode.UNSET
    attempts = attempt_spans(spans)
    assert attributes(attempts[0]) == attempt_attributes(1)
    for attempt in attempts:
        assert_child_of(attempt, listed)
        # A cancelled attempt is no error, on either loop.
        assert attempt.status.status_code is StatusCode.UNSET
        assert "error.type" not in attributes(attempt)


async def in_flight(fake: FakeCrowdTwist, count: int) -> None:
    """Wait until the fake is answering *count* requests; fail after 5 s."""
    with anyio.fail_after(5):
        while fake.in_flight < count:
            await anyio.sleep(0.001)


async def test_pages_cancelled_by_leaving_the_block_are_no_errors(
    fake: FakeCrowdTwist, spans: InMemorySpanExporter
) -> None:
    fake.latency = 0.05
    async with make_session(fake) as session:
        listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email", max_concurrency=4)
        async with listing:
            async for _ in listing:
                await in_flight(fake, 4)
                break
    listed = the_listing_span(spans)
    assert attributes(listed) == listing_attributes("stopped", 1, 1)
    attempts = attempt_spans(spans)
    # Pages 2-5 were in flight when the block was left, and were cancelled.
    assert pages_of(attempts) == [1, 2, 3, 4, 5]
    for attempt in attempts[1:]:
        assert "http.response.status_code" not in attributes(attempt)
        assert "error.type" not in attributes(attempt)
        assert attempt.status.status_code is StatusCode.UNSET
    # The listing ends after every request it made.
    assert listed.end_time is not None
    assert all(a.end_time is not None and a.end_time <= listed.end_time for a in attempts)


async def test_the_listing_span_ends_after_its_requests_on_aclose(
    fake: FakeCrowdTwist, spans: InMemorySpanExporter
) -> None:
    fake.latency = 0.05
    async with make_session(fake) as session:
        listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email", max_concurrency=4)
        async with listing:
            await listing.__anext__()
            await in_flight(fake, 4)
            await listing.aclose()
    listed = the_listing_span(spans)
    assert attributes(listed)["crowdtwist.outcome"] == "stopped"
    attempts = attempt_spans(spans)
    assert len(attempts) == 5
    assert listed.end_time is not None
    assert all(a.end_time is not None and a.end_time <= listed.end_time for a in attempts)


async def test_get_rewards_page_names_its_page(
    session: ct.Session, spans: InMemorySpanExporter
) -> None:
    page = await session.users.get_rewards_page(SANDBOX_EMAIL, id_type="email", page=3)
    assert page.number == 3
    (attempt,) = attempt_spans(spans)
    assert attributes(attempt) == attempt_attributes(3)
    assert listing_spans(spans) == []


async def test_no_data_outside_a_listing_is_an_error(
    session: ct.Session, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(ct.BadRequestError):
        await session.get_json("/v2.1/users/1003/rewards")
    (attempt,) = attempt_spans(spans)
    assert attributes(attempt)["error.type"] == "400"
    assert attempt.status.status_code is StatusCode.ERROR


async def test_an_empty_listing_is_complete(
    session: ct.Session, spans: InMemorySpanExporter, form: Form
) -> None:
    # carol has no rewards: the API answers `no_data`, the listing yields nothing.
    listing = session.users.aiter_rewards("carol@example.com", id_type="email")
    assert await read(listing, form) == []
    listed = the_listing_span(spans)
    assert attributes(listed) == listing_attributes("complete", 0, 0)
    assert listed.status.status_code is StatusCode.UNSET
    (attempt,) = attempt_spans(spans)
    # `no_data` is a 400 the listing reads as empty: no error.
    assert attributes(attempt) == {
        **attempt_attributes(1, 400),
        "crowdtwist.empty_listing": True,
    }
    assert attempt.status.status_code is StatusCode.UNSET
    assert_child_of(attempt, listed)


async def test_concurrent_listings_keep_their_own_attempts(
    session: ct.Session, spans: InMemorySpanExporter, form: Form
) -> None:
    counts: dict[str, int] = {}

    async def read_user(user: str) -> None:
        listing = session.users.aiter_rewards(user, id_type="email")
        counts[user] = len(await read(listing, form))

    async with anyio.create_task_group() as group:
        group.start_soon(read_user, SANDBOX_EMAIL)
        group.start_soon(read_user, "dave@example.com")
    assert counts == {SANDBOX_EMAIL: 203, "dave@example.com": 12}
    listings = sorted(
        listing_spans(spans), key=lambda span: attributes(span)["crowdtwist.items_yielded"]
    )
    assert [attributes(span) for span in listings] == [
        listing_attributes("complete", 2, 12),
        listing_attributes("complete", 21, 203),
    ]
    for listed, pages in zip(listings, (2, 21), strict=True):
        children = [
            span
            for span in attempt_spans(spans)
            if span.parent is not None and span.parent.span_id == ids(listed)[1]
        ]
        assert pages_of(children) == list(range(1, pages + 1))
    assert len(spans.get_finished_spans()) == 2 + 2 + 21


async def test_the_listing_line_is_logged_at_info(
    fake: FakeCrowdTwist, caplog: pytest.LogCaptureFixture, form: Form
) -> None:
    caplog.set_level(logging.INFO, logger="crowdtwist_async")
    fake.script(404, page=3)
    async with make_session(fake, max_concurrency=1) as session:
        listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
        await read_failing(listing, form)
        assert len(await read(session.users.aiter_rewards(1001, max_items=25), form)) == 25
    lines = [record.getMessage() for record in caplog.records if record.name == "crowdtwist_async"]
    assert len(lines) == 2
    assert re.fullmatch(
        r"listing GET /v2\.1/users/\{user_id\}/rewards error: "
        r"2 pages read, 20 items yielded in \d+ ms \(NotFoundError\)",
        lines[0],
    ), lines
    assert re.fullmatch(
        r"listing GET /v2\.1/users/\{user_id\}/rewards complete: "
        r"3 pages read, 25 items yielded in \d+ ms",
        lines[1],
    ), lines


async def test_get_json_is_one_client_span_under_the_current_span(
    session: ct.Session, spans: InMemorySpanExporter
) -> None:
    with trace.get_tracer("tests").start_as_current_span("job"):
        coupons = await session.get_json(
            "/v2/users/alice%40example.com/usable_coupons", params={"id_type": "email"}
        )
    assert len(coupons) == 3
    assert listing_spans(spans) == []
    (job,) = (span for span in spans.get_finished_spans() if span.name == "job")
    (attempt,) = attempt_spans(spans)
    assert attempt.name == "GET /v2/users/{user_id}/usable_coupons"
    assert attributes(attempt) == attempt_attributes(
        None, 200, template="/v2/users/{user_id}/usable_coupons"
    )
    assert_child_of(attempt, job)
    assert len(spans.get_finished_spans()) == 2


async def test_paginate_names_its_listing_by_template(
    session: ct.Session, spans: InMemorySpanExporter, form: Form
) -> None:
    template = "/v2.2/users/{user_id}/redemption_history"
    listing = session.paginate("/v2.2/users/1001/redemption_history", items="redemptions")
    assert len(await read(listing, form)) == 37
    listed = the_listing_span(spans)
    assert attributes(listed) == listing_attributes("complete", 4, 37, template=template)
    attempts = attempt_spans(spans)
    assert [attributes(attempt) for attempt in attempts] == [
        attempt_attributes(page, template=template) for page in range(1, 5)
    ]
    assert [attempt.name for attempt in attempts] == [f"GET {template}"] * 4
    for attempt in attempts:
        assert_child_of(attempt, listed)


@pytest.mark.parametrize(
    ("base_url", "host", "port"),
    [
        pytest.param("https://api123.crowdtwist.com", "api123.crowdtwist.com", 443, id="https"),
        pytest.param("http://localhost", "localhost", 80, id="http"),
        pytest.param("https://ct.test:8443", "ct.test", 8443, id="port"),
        pytest.param("http://127.0.0.1:8000", "127.0.0.1", 8000, id="ip"),
    ],
)
async def test_the_server_is_named_from_the_base_url(
    spans: InMemorySpanExporter, base_url: str, host: str, port: int
) -> None:
    fake = FakeCrowdTwist(api_key=KEY, base_url=base_url)
    async with make_session(fake) as session:
        await session.get_json("/v2/users/1001/usable_coupons")
    (attempt,) = attempt_spans(spans)
    assert attributes(attempt) == attempt_attributes(
        None, 200, template="/v2/users/{user_id}/usable_coupons", host=host, port=port
    )


async def test_no_span_holds_the_key_the_user_or_a_query(
    fake: FakeCrowdTwist, spans: InMemorySpanExporter, fast_retries: None
) -> None:
    fake.script(503, page=2)
    fake.script(delay=60.0, page=3)
    fake.script(404, path="*/redemption_history", page=2)
    async with make_session(fake, auth="query", timeout=0.5, max_retries=1) as session:
        rewards = await read(session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email"), "plain")
        coupons = await session.get_json(
            "/v2/users/alice%40example.com/usable_coupons", params={"id_type": "email"}
        )
        raw = await session.get_json(
            "/v2/users/alice@example.com/usable_coupons", params={"id_type": "email"}
        )
        history = session.paginate(
            "/v2.2/users/alice%40example.com/redemption_history",
            items="redemptions",
            params={"id_type": "email"},
            max_concurrency=1,
        )
        _, raised = await read_failing(history, "plain")
    assert (len(rewards), len(coupons), len(raw)) == (203, 3, 3)
    assert isinstance(raised, ct.NotFoundError)
    # The email did travel, in the paths.
    assert {request.path for request in fake.requests} == {
        "/v2.1/users/alice@example.com/rewards",
        "/v2/users/alice%40example.com/usable_coupons",
        "/v2/users/alice@example.com/usable_coupons",
        "/v2.2/users/alice%40example.com/redemption_history",
    }
    recorded = spans.get_finished_spans()
    # 2 listings; 21 + 2 retries rewards attempts, 2 coupons, 2 history pages.
    assert len(recorded) == 2 + 23 + 2 + 2
    forbidden = [KEY, SANDBOX_EMAIL, "alice%40example.com", "alice", "api_key", "?", "1001"]
    for span in recorded:
        texts = [span.name, str(span.status.description)]
        for name, value in attributes(span).items():
            texts += [name, str(value)]
        assert span.events == ()
        assert span.links == ()
        for text in texts:
            for secret in forbidden:
                assert secret not in text, (span.name, text)


class SpanProbe(httpx.AsyncBaseTransport):
    """Notes whether the span current while each request is sent records."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.recording: list[bool] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        span = trace.get_current_span()
        assert span.get_span_context().is_valid
        self.recording.append(span.is_recording())
        return await self._inner.handle_async_request(request)


async def test_spans_are_recorded_while_a_test_asks(
    fake: FakeCrowdTwist, spans: InMemorySpanExporter
) -> None:
    probe = SpanProbe(fake.transport())
    async with make_session(fake, transport=probe) as session:
        await read(session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email"), "plain")
    assert probe.recording == [True] * 21
    assert len(spans.get_finished_spans()) == 22


async def test_outside_a_recording_test_no_span_is_kept(
    otel_provider: TracerProvider, fake: FakeCrowdTwist
) -> None:
    # The SDK provider is the global one, so the SDK does trace (the probe
    # finds a valid span around every request)...
    assert trace.get_tracer_provider() is otel_provider
    probe = SpanProbe(fake.transport())
    async with make_session(fake, transport=probe) as session:
        listing = session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")
        seen = 0
        async for _ in listing:
            seen += 1
            if seen == 15:
                break
        del listing
        gc.collect()
        assert (
            len(await read(session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email"), "entered"))
            == 203
        )
    # ...but makes spans that record nothing, and keeps none: for pages 1 to
    # 9 of the first listing (page 1, then a window of 2 x 4), and all 21 of the second.
    assert probe.recording == [False] * (9 + 21)
    assert otel_support.EXPORTER.get_finished_spans() == ()


# -- without OpenTelemetry, or with its default provider --------------------------


def run_python(
    code: str, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CROWDTWIST_", "OTEL_")) and name != "PYTHONWARNINGS"
    }
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=environ,
        check=False,
    )


# Private on purpose: whether the SDK has looked OpenTelemetry up yet, and the
# tracer it found, are process state with no public view; a fresh interpreter
# prints them.
READ_REWARDS = """
import sys

import anyio

import crowdtwist_async as ct
from crowdtwist_async import _telemetry
from crowdtwist_async._state import STATE
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist


async def read_rewards():
    fake = FakeCrowdTwist()
    async with ct.Session(
        api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport()
    ) as session:
        rewards = [r async for r in session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")]
    return len(rewards), len(fake.requests)
"""

WITHOUT_OPENTELEMETRY = f"""
import sys

sys.modules["opentelemetry"] = None
{READ_REWARDS}

async def main():
    print(*await read_rewards())
    print(STATE.otel_api, _telemetry.active_tracer())
    print("opentelemetry.trace" in sys.modules)


anyio.run(main, backend=sys.argv[1])
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_without_opentelemetry_a_listing_works_untraced(backend: str) -> None:
    result = run_python(WITHOUT_OPENTELEMETRY, backend)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "203 21\nFalse None\nFalse\n"
    assert result.stderr == ""


WITH_THE_DEFAULT_PROVIDER = f"""
{READ_REWARDS}

from opentelemetry import trace


async def main():
    if sys.argv[2] == "noop":
        trace.set_tracer_provider(trace.NoOpTracerProvider())
    fake = FakeCrowdTwist()
    ct.Session(api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport())
    # Not even looked up before the first request.
    print(STATE.otel_api)
    print(*await read_rewards())
    print(STATE.otel_api is trace, _telemetry.active_tracer())
    if sys.argv[2] == "noop":
        return
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    # A provider set later is picked up by the next request.
    print(*await read_rewards())
    print(sorted(span.name for span in exporter.get_finished_spans())[-2:])
    print(len(exporter.get_finished_spans()))


anyio.run(main, backend=sys.argv[1])
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_with_the_default_provider_nothing_is_traced_until_one_is_set(backend: str) -> None:
    result = run_python(WITH_THE_DEFAULT_PROVIDER, backend, "default")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "None\n"
        "203 21\n"
        "True None\n"
        "203 21\n"
        "['GET /v2.1/users/{user_id}/rewards', 'crowdtwist.list']\n"
        "22\n"
    )
    assert result.stderr == ""


@pytest.mark.slow
def test_with_the_no_op_provider_nothing_is_traced() -> None:
    result = run_python(WITH_THE_DEFAULT_PROVIDER, "asyncio", "noop")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "None\n203 21\nTrue None\n"
    assert result.stderr == ""


# -- path templates ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v2/users/alice%40example.com/points", "/v2/users/{user_id}/points"),
        ("/v2/users/alice@example.com/points", "/v2/users/{user_id}/points"),
        ("/v2.2/users/1001/redemption_history", "/v2.2/users/{user_id}/redemption_history"),
        ("/v2.1/users/bob/rewards", "/v2.1/users/{user_id}/rewards"),
        ("/v2.1/users/alice", "/v2.1/users/{user_id}"),
        ("/v2/rewards/3401", "/v2/rewards/{id}"),
        ("/v2/rewards/3401/partners/77", "/v2/rewards/{id}/{id}/{id}"),
        ("/v2/activities", "/v2/activities"),
        ("/v2.1/rewards", "/v2.1/rewards"),
        ("/v2.1/users/", "/v2.1/users/"),
        ("/v2.1/users", "/v2.1/users"),
        ("/v2.1/users//rewards", "/v2.1/users//rewards"),
        # A user named "users" is one user id, and what follows is kept.
        ("/v2/users/users/points", "/v2/users/{user_id}/points"),
        # A word CrowdTwist does not use in its paths may name someone.
        ("/v2/lookup/alice@example.com", "/v2/{id}/{id}"),
        ("/v2/lookup/alice%40example.com/points", "/v2/{id}/{id}/points"),
        ("/v2/codes/%E2%9C%93", "/v2/{id}/{id}"),
        ("/", "/"),
        # Only an API version is kept as the first segment.
        ("/alice@example.com/points", "/{id}/points"),
        ("/1001/x", "/{id}/{id}"),
        ("/v2.2.1/x", "/v2.2.1/{id}"),
        ("/v2x1/x", "/{id}/{id}"),
        ("/rewards", "/rewards"),
    ],
)
def test_path_template(path: str, template: str) -> None:
    assert path_template(path) == template


@pytest.mark.parametrize(
    ("path", "template"),
    [
        # A record named by letters alone is still a record (issue 18, #9).
        ("/v2/members/johnsmith/points", "/v2/{id}/{id}/points"),
        ("/v2/rewards/johnsmith", "/v2/rewards/{id}"),
        ("/v2/users/alice/badges/gold", "/v2/users/{user_id}/badges/{id}"),
        ("/v2.2/partners/acme/redemption_history", "/v2.2/{id}/{id}/redemption_history"),
        # CrowdTwist's own words stay, as documented and in no other spelling.
        ("/v2/users/alice/points_expiration", "/v2/users/{user_id}/points_expiration"),
        ("/v2.1/activities/extended", "/v2.1/activities/extended"),
        (
            "/v2/users/1001/activity_history/extended",
            "/v2/users/{user_id}/activity_history/extended",
        ),
        ("/v2/coupon/use", "/v2/coupon/use"),
        ("/v2/coupon/unuse", "/v2/coupon/unuse"),
        ("/v2/code_redemption_campaign/submit", "/v2/code_redemption_campaign/submit"),
        ("/v2.1/users/bob/badges", "/v2.1/users/{user_id}/badges"),
        ("/v2/stream", "/v2/stream"),
        ("/v2/Rewards", "/v2/{id}"),
        ("/v2/rewards;jsessionid=a1", "/v2/{id}"),
        # A version is kept only as the first segment.
        ("/v2/rewards/v2", "/v2/rewards/{id}"),
        ("/v2/v2.1/rewards", "/v2/{id}/rewards"),
        ("/johnsmith/points", "/{id}/points"),
        # The id the SDK encodes for "..": one user id.
        ("/v2.1/users/%2E%2E/rewards", "/v2.1/users/{user_id}/rewards"),
    ],
)
def test_every_segment_not_a_crowdtwist_word_is_an_id(path: str, template: str) -> None:
    assert path_template(path) == template


def answer_empty_object(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={})


def answer_one_redemption(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200, json={"paging": {"total": 1, "pages": 1}, "redemptions": [{"id": 7}]}
    )


async def test_a_name_in_a_path_the_sdk_has_no_template_for_stays_out_of_spans(
    fake: FakeCrowdTwist, spans: InMemorySpanExporter
) -> None:
    transport = httpx.MockTransport(answer_empty_object)
    async with make_session(fake, transport=transport) as session:
        assert await session.get_json("/v2/members/johnsmith/points") == {}
    (attempt,) = attempt_spans(spans)
    assert attempt.name == "GET /v2/{id}/{id}/points"
    assert attributes(attempt) == attempt_attributes(None, 200, template="/v2/{id}/{id}/points")


async def test_a_listing_of_a_path_named_by_letters_is_traced_by_its_template(
    fake: FakeCrowdTwist, spans: InMemorySpanExporter
) -> None:
    template = "/v2.2/{id}/{id}/redemption_history"
    transport = httpx.MockTransport(answer_one_redemption)
    async with make_session(fake, transport=transport) as session:
        listing = session.paginate(
            "/v2.2/members/johnsmith/redemption_history", items="redemptions"
        )
        assert await read(listing, "plain") == [{"id": 7}]
    assert attributes(the_listing_span(spans)) == listing_attributes(
        "complete", 1, 1, template=template
    )
    (attempt,) = attempt_spans(spans)
    assert attempt.name == f"GET {template}"
    assert attributes(attempt) == attempt_attributes(1, 200, template=template)


# -- CROWDTWIST_LOG ------------------------------------------------------------------

LISTING_SCRIPT = f"""
import logging

import anyio

import crowdtwist_async as ct
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist


async def main():
    fake = FakeCrowdTwist(api_key={KEY!r})
    session = ct.Session(api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport())
    async with session:
        rewards = [r async for r in session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")]
    assert len(rewards) == 203
    # One handler, the same on the SDK's logger and on httpx's.
    handlers = [logging.getLogger(name).handlers for name in ("crowdtwist_async", "httpx")]
    print(len(handlers[0]) == 1 and handlers[0] == handlers[1])


anyio.run(main)
"""

LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) (?P<logger>\S+): (?P<message>.*)"
)
LISTING_LINE = re.compile(
    r"listing GET /v2\.1/users/\{user_id\}/rewards complete: "
    r"21 pages read, 203 items yielded in \d+ ms"
)
DEBUG_LINE = re.compile(r"GET /v2\.1/users/alice@example\.com/rewards -> 200 \(\d+ bytes, \d+ ms\)")


def request_line(page: int) -> str:
    return (
        f"HTTP Request: GET https://{HOST}/v2.1/users/alice@example.com/rewards"
        f'?id_type=email&page={page}&api_key=*** "HTTP/1.1 200 OK"'
    )


@pytest.mark.slow
@pytest.mark.parametrize("value", ["info", "debug", " INFO "])
def test_crowdtwist_log_shows_the_listing_and_the_requests(value: str) -> None:
    result = run_python(LISTING_SCRIPT, env={"CROWDTWIST_LOG": value})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "True\n"
    assert KEY not in result.stderr
    lines = result.stderr.splitlines()
    parsed = [LINE.fullmatch(line) for line in lines]
    assert None not in parsed, result.stderr
    records = [(m["level"], m["logger"], m["message"]) for m in parsed if m is not None]
    listings = [r for r in records if r[1] == "crowdtwist_async" and r[0] == "INFO"]
    assert len(listings) == 1
    assert LISTING_LINE.fullmatch(listings[0][2]), listings
    requests = [r for r in records if r[1] == "httpx"]
    assert sorted(requests) == sorted(("INFO", "httpx", request_line(n)) for n in range(1, 22))
    debug = [r for r in records if r[0] == "DEBUG"]
    if value.strip().lower() == "debug":
        assert len(debug) == 21
        for _, logger, message in debug:
            assert logger == "crowdtwist_async"
            assert DEBUG_LINE.fullmatch(message), message
    else:
        assert debug == []
    assert len(records) == 1 + 21 + len(debug)


CHILD_LOGGERS_SCRIPT = f"""
import logging

import crowdtwist_async as ct

ct.Session(api_key={KEY!r}, base_url="https://{HOST}")
# Read at the first Session only: a second adds no second handler.
ct.Session(api_key={KEY!r}, base_url="https://{HOST}")
logging.getLogger("httpx.extra").info("GET /r?page=2&api_key={KEY}")
logging.getLogger("crowdtwist_async.extra").info("signed: X-CT-User-Token: TOKEN-1")
logging.getLogger("crowdtwist_async").debug("not shown at info")
"""


@pytest.mark.slow
def test_crowdtwist_log_masks_what_child_loggers_pass_up() -> None:
    result = run_python(CHILD_LOGGERS_SCRIPT, env={"CROWDTWIST_LOG": "info"})
    assert result.returncode == 0, result.stderr
    messages = []
    for line in result.stderr.splitlines():
        match = LINE.fullmatch(line)
        assert match is not None, result.stderr
        messages.append((match["level"], match["logger"], match["message"]))
    assert messages == [
        ("INFO", "httpx.extra", "GET /r?page=2&api_key=***"),
        ("INFO", "crowdtwist_async.extra", "signed: X-CT-User-Token: ***"),
    ]


@pytest.mark.slow
def test_without_crowdtwist_log_nothing_is_written() -> None:
    result = run_python(LISTING_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False\n"
    assert result.stderr == ""


@pytest.mark.slow
def test_an_unknown_crowdtwist_log_is_named_in_a_warning_and_ignored() -> None:
    result = run_python(LISTING_SCRIPT, env={"CROWDTWIST_LOG": "verbose"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False\n"
    # The warning points at the line that made the Session.
    ((line, source),) = (
        (number, text)
        for number, text in enumerate(LISTING_SCRIPT.splitlines(), 1)
        if "ct.Session(" in text
    )
    warning = (
        f"<string>:{line}: UserWarning: CROWDTWIST_LOG must be 'debug' or 'info', "
        "got 'verbose'; it is ignored"
    )
    # Python 3.13 also shows the source line of code run with -c.
    assert result.stderr.splitlines() in ([warning], [warning, f"  {source.strip()}"])
    assert KEY not in result.stderr


# -- credential headers in logs ----------------------------------------------------

#: The headers a signing `httpx.Auth` sets whose values are secret.
SECRET_HEADERS = {"x-ct-authorization", "x-ct-user-token"}


class SigningAuth(httpx.Auth):
    """Signs each request as CrowdTwist's HMAC scheme would: a signature and a user token."""

    def __init__(self, authorization: str) -> None:
        self._authorization = authorization
        self.signed: list[httpx.Request] = []

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        number = len(self.signed) + 1
        request.headers["X-CT-Authorization"] = self._authorization.format(n=number)
        request.headers["X-CT-Timestamp"] = "1767225600"
        request.headers["X-CT-User-Token"] = f"TOKEN-{number}"
        self.signed.append(request)
        yield request


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(f"CTApiKey {KEY}", id="key-in-header"),
        pytest.param("CTApiV2Auth pub:SIGNATURE-{n}", id="signature"),
    ],
)
async def test_credential_headers_are_never_logged(
    fake: FakeCrowdTwist, caplog: pytest.LogCaptureFixture, authorization: str
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore.http11", "crowdtwist_async"):
        caplog.set_level(logging.DEBUG, logger=name)
    auth = SigningAuth(authorization)
    async with ct.Session(auth=auth, base_url=fake.base_url, transport=fake.transport()) as session:
        if authorization.startswith("CTApiKey"):
            coupons = await session.users.usable_coupons(SANDBOX_EMAIL, id_type="email")
            assert len(coupons) == 3
        else:
            with pytest.raises(ct.AuthenticationError) as info:
                await session.users.usable_coupons(SANDBOX_EMAIL, id_type="email")
            assert info.value.status_code == 403
    (request,) = auth.signed
    secrets = [request.headers["X-CT-Authorization"], "TOKEN-1"]
    assert secrets[0] == authorization.format(n=1)
    raw = request.headers.raw
    headers = dict(request.headers)

    logging.getLogger("httpx").info(
        "request headers:\r\n"
        + "\r\n".join(f"{name.decode()}: {value.decode()}" for name, value in raw)
    )
    logging.getLogger("httpcore.http11").debug("send_request_headers.started headers=%r", raw)
    logging.getLogger("crowdtwist_async").debug("signed with %s", headers)

    logged = [record.getMessage() for record in caplog.records[-3:]]
    assert logged == [
        "request headers:\r\n"
        + "\r\n".join(
            f"{name.decode()}: {'***' if name.lower().decode() in SECRET_HEADERS else value.decode()}"
            for name, value in raw
        ),
        "send_request_headers.started headers="
        + repr(
            [
                (name, b"***" if name.lower().decode() in SECRET_HEADERS else value)
                for name, value in raw
            ]
        ),
        "signed with "
        + str(
            {name: "***" if name in SECRET_HEADERS else value for name, value in headers.items()}
        ),
    ]
    assert [message.count("***") for message in logged] == [2, 2, 2]
    for secret in [*secrets, KEY, "SIGNATURE-", "TOKEN-"]:
        assert secret not in caplog.text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param(
            "X-CT-Authorization: CTApiV2Auth pub:SIGNATURE-1",
            "X-CT-Authorization: ***",
            id="name-value",
        ),
        pytest.param(
            "x-ct-user-token: TOKEN-1\r\nX-CT-Timestamp: 1767225600",
            "x-ct-user-token: ***\r\nX-CT-Timestamp: 1767225600",
            id="name-value-lines",
        ),
        pytest.param(
            "{'x-ct-user-token': 'TOKEN-1', 'accept': 'application/json'}",
            "{'x-ct-user-token': '***', 'accept': 'application/json'}",
            id="dict",
        ),
        pytest.param(
            '{"X-CT-Authorization": "CTApiV2Auth pub:SIG", "X-CT-Timestamp": "1767225600"}',
            '{"X-CT-Authorization": "***", "X-CT-Timestamp": "1767225600"}',
            id="json",
        ),
        pytest.param(
            "[(b'X-CT-Authorization', b'CTApiV2Auth pub:SIG'), (b'X-CT-User-Token', b'TOKEN-1')]",
            "[(b'X-CT-Authorization', b'***'), (b'X-CT-User-Token', b'***')]",
            id="raw-pairs",
        ),
        pytest.param(
            "{b'x-ct-authorization': b'CTApiKey sk-live'}",
            "{b'x-ct-authorization': b'***'}",
            id="bytes-dict",
        ),
        pytest.param(
            "GET /r?page=2&api_key=sk-live-1 X-CT-User-Token=TOKEN-1",
            "GET /r?page=2&api_key=*** X-CT-User-Token=***",
            id="key-and-header",
        ),
        pytest.param(
            "{'x-ct-user-token': ['TOKEN-1'], 'accept': 'application/json'}",
            "{'x-ct-user-token': ***",
            id="a-list-masks-to-the-line-end",
        ),
        pytest.param(
            """{'x-ct-user-token': "TOK'EN-1"}\nnext line""",
            "{'x-ct-user-token': ***\nnext line",
            id="a-quote-inside-masks-to-the-line-end",
        ),
        pytest.param("X-CT-Timestamp: 1767225600", "X-CT-Timestamp: 1767225600", id="not-a-secret"),
        pytest.param("Authorization: Bearer abc", "Authorization: Bearer abc", id="another-header"),
    ],
)
def test_mask_query_keys_masks_credential_headers(text: str, masked: str) -> None:
    assert mask_query_keys(text) == masked
