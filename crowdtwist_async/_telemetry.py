"""What the SDK tells an operator: a log line per listing, OpenTelemetry spans,
and `CROWDTWIST_LOG`.

OpenTelemetry is optional (the `otel` extra). It is looked up on the first
request; without `opentelemetry-api`, or with no tracer provider configured
(the API's default), nothing is traced and a request pays one call and a
comparison. With one, each listing is a `crowdtwist.list` span and each HTTP
attempt a client span under it, following the OpenTelemetry HTTP client
conventions. Spans name paths by their template (`/v2/users/{user_id}/...`):
user ids are personal data, and neither they, the key nor any query string
goes into a span.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

import anyio

from ._protocol import says_empty_listing
from ._redact import log_filter
from ._state import STATE

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer

    from ._pagination import Outcome
    from ._retry import Reply

__all__ = [
    "ListingReport",
    "active_tracer",
    "configure_logging",
    "listing_report",
    "path_template",
    "traced_attempts",
]

log = logging.getLogger("crowdtwist_async")

#: The loggers `CROWDTWIST_LOG` shows: the SDK's, and httpx's request lines.
_SHOWN_LOGGERS: Final = ("crowdtwist_async", "httpx")

_LEVELS: Final = {"debug": logging.DEBUG, "info": logging.INFO}


# --- CROWDTWIST_LOG -------------------------------------------------------------


def configure_logging() -> None:
    """Attach a stderr handler as `CROWDTWIST_LOG=debug|info` asks; once a process.

    As `OPENAI_LOG` does: off unless set; the SDK's logger and httpx's get
    the level, and the handler masks the key in every record it writes.
    `reset_process_state` takes both back, and the next call reads it again.
    """
    if STATE.log_read:
        return
    STATE.log_read = True
    value = os.environ.get("CROWDTWIST_LOG", "").strip().lower()
    if not value:
        return
    level = _LEVELS.get(value)
    if level is None:
        warnings.warn(
            f"CROWDTWIST_LOG must be 'debug' or 'info', got {value!r}; it is ignored",
            stacklevel=3,
        )
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # The loggers themselves have the filter (the Session installed it); the
    # handler too, as it also writes what other loggers pass up to these.
    handler.addFilter(log_filter())
    replaced: dict[str, int] = {}
    for name in _SHOWN_LOGGERS:
        logger = logging.getLogger(name)
        replaced[name] = logger.level
        logger.setLevel(level)
        logger.addHandler(handler)
    STATE.log_handler, STATE.log_levels = handler, replaced


# --- path templates -----------------------------------------------------------


def path_template(path: str) -> str:
    """*path* with whatever may name a person or a record replaced: the
    segment after `users` is `{user_id}`, and any other segment that is not
    one of CrowdTwist's own path words (`_RESOURCE_WORDS`), nor an API
    version (`v2.1`) as the first, is `{id}`.

    ```python
    path_template("/v2/users/alice%40example.com/points")  # "/v2/users/{user_id}/points"
    path_template("/v2/members/johnsmith/points")  # "/v2/{id}/{id}/points"
    ```
    """
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if not segment:
            continue
        if index and segments[index - 1] == "users":
            segments[index] = "{user_id}"
        elif segment not in _RESOURCE_WORDS and not (index == 1 and _VERSION.fullmatch(segment)):
            segments[index] = "{id}"
    return "/".join(segments)


_VERSION: Final = re.compile(r"v[0-9]+(?:\.[0-9]+)*")

#: The words CrowdTwist's documentation uses in its paths (the Oracle
#: CrowdTwist developer pages: `/v2/users/[user_id]/points`,
#: `/v2.1/activities/extended`, `/v2/coupon/use`...) and names its resources
#: by. Only these are shown as they are: any other segment may be a user
#: name, an email address or a record's key, digits or not (a caller's
#: `/v2/members/johnsmith/points`), so it becomes `{id}`. A word added here
#: is shown wherever it stands in a path, so add only CrowdTwist's own.
_RESOURCE_WORDS: Final = frozenset(
    {
        "activities",
        "activity_history",
        "badges",
        "code_redemption_campaign",
        "coupon",
        "coupons",
        "extended",
        "points",
        "points_expiration",
        "profile",
        "purchase",
        "redeem",
        "redemption",
        "redemption_history",
        "redemptions",
        "rewards",
        "segments",
        "stream",
        "submit",
        "unuse",
        "usable_coupons",
        "use",
        "users",
    }
)


# --- OpenTelemetry --------------------------------------------------------------


#: The environment variable that names a tracer provider for the API to load.
_ENV_PROVIDER: Final = "OTEL_PYTHON_TRACER_PROVIDER"

#: Not an attribute of the API (a version without the global).
_UNKNOWN: Final = object()


def active_tracer() -> Tracer | None:
    """The SDK's tracer, or None when nothing would record its spans.

    opentelemetry is looked up once (`STATE.otel_api`: False when it is not
    installed); its tracer provider at every call, as one may be set later.
    """
    state = STATE
    api = state.otel_api
    if api is False:
        return None
    if api is None:
        try:
            from opentelemetry import trace
        except ImportError:
            state.otel_api = False
            return None
        state.otel_api = api = trace
        state.otel_named = _ENV_PROVIDER in os.environ
    # While none is set, `get_tracer_provider()` looks the environment up on
    # every call (several µs a request). The API's own global says so at the
    # cost of an attribute read; the environment was read with the API.
    if getattr(api, "_TRACER_PROVIDER", _UNKNOWN) is None and not state.otel_named:
        return None
    provider = api.get_tracer_provider()
    if provider is not state.otel_provider:
        state.otel_provider = provider
        # The API's own defaults record nothing: skip them.
        if isinstance(provider, api.ProxyTracerProvider | api.NoOpTracerProvider):
            state.tracer = None
        else:
            from ._version import __version__

            state.tracer = provider.get_tracer("crowdtwist_async", __version__)
    return state.tracer


def traced_attempts(
    attempt: Callable[[], Awaitable[Reply]],
    tracer: Tracer,
    parent: Context | None,
    *,
    server: tuple[str, int],
    template: str,
    page: int | None,
    listing: bool,
    method: str = "GET",
) -> Callable[[], Awaitable[Reply]]:
    """*attempt*, each call in a client span under *parent* (None: the current span).

    A cancelled attempt is no error, nor is a listing's `no_data` (a 400 the
    listing reads as empty): neither marks its span.
    """
    from opentelemetry.trace import SpanKind, Status, StatusCode

    host, port = server
    resends = 0

    async def run() -> Reply:
        nonlocal resends
        attributes: dict[str, str | int] = {
            "http.request.method": method,
            "server.address": host,
            "server.port": port,
            "url.template": template,
        }
        if resends:
            attributes["http.request.resend_count"] = resends
        if page is not None:
            attributes["crowdtwist.page"] = page
        resends += 1
        with tracer.start_as_current_span(
            f"{method} {template}",
            context=parent,
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                response = await attempt()
            except anyio.get_cancelled_exc_class():
                raise
            except BaseException as exc:
                # The class only: a message may name the user.
                kind = type(exc).__name__
                span.set_attribute("error.type", kind)
                span.set_status(Status(StatusCode.ERROR, kind))
                raise
            status = response[0]
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                if listing and says_empty_listing(status, response[2]):
                    span.set_attribute("crowdtwist.empty_listing", True)
                else:
                    span.set_attribute("error.type", str(status))
                    span.set_status(Status(StatusCode.ERROR))
            return response

    return run


# --- listings -------------------------------------------------------------------


class ListingReport:
    """What one listing tells when it ends: an INFO line, and its span.

    The span starts with the listing's first request (`parent()`), so a
    listing never read leaves no trace; `finish` ends it, once.
    """

    __slots__ = ("_context", "_parent", "_span", "_started", "_template", "_tracer")

    def __init__(self, template: str, tracer: Tracer | None) -> None:
        self._template = template
        self._tracer = tracer
        self._span: Span | None = None
        self._context: Context | None = None
        self._started: float | None = None
        self._parent: Context | None = None
        if tracer is not None:
            from opentelemetry import context

            # The span the listing was made under, whichever task reads it.
            self._parent = context.get_current()

    def parent(self) -> Context | None:
        """The context each request of the listing is traced under."""
        if self._started is None:
            self._started = time.perf_counter()
            tracer = self._tracer
            if tracer is not None:
                from opentelemetry.trace import set_span_in_context

                self._span = tracer.start_span(
                    "crowdtwist.list",
                    context=self._parent,
                    attributes={"url.template": self._template},
                )
                self._context = set_span_in_context(self._span)
        return self._context

    def finish(
        self, outcome: Outcome, *, pages: int, items: int, error: BaseException | None
    ) -> None:
        """Report how the listing ended (a listing that made no request: nothing)."""
        started = self._started
        if started is None:
            return
        self._started = None
        kind = None if error is None else type(error).__name__
        log.info(
            "listing GET %s %s: %d pages read, %d items yielded in %.0f ms%s",
            self._template,
            outcome,
            pages,
            items,
            (time.perf_counter() - started) * 1000,
            "" if kind is None else f" ({kind})",
        )
        span = self._span
        if span is not None:
            from opentelemetry.trace import Status, StatusCode

            self._span = None
            span.set_attributes(
                {
                    "crowdtwist.pages_read": pages,
                    "crowdtwist.items_yielded": items,
                    "crowdtwist.outcome": outcome,
                }
            )
            if kind is not None and outcome == "error":
                span.set_attribute("error.type", kind)
                span.set_status(Status(StatusCode.ERROR, kind))
            span.end()


def listing_report(template: str) -> ListingReport | None:
    """A report for a new listing, or None when neither a log line nor a span
    would be made of it."""
    tracer = active_tracer()
    if tracer is None and not log.isEnabledFor(logging.INFO):
        return None
    return ListingReport(template, tracer)
