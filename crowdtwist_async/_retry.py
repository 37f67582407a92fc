"""The retry policy, in one place: which outcomes are tried again, how long
to wait in between, and the loop that does it.

A read (GET) is idempotent, so a connection error, a timeout or a retryable
status is simply tried again, after a wait the `Retries` policy and the
server's `Retry-After` decide. A write is tried again only when CrowdTwist
cannot have carried it out: its connection was never made (see
`_errors.transport_error`), or it was answered 429. `set_testing` skips the
waits, for test suites.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from types import TracebackType
from typing import Final

import anyio
import attrs

from ._exceptions import APIConnectionError, WriteNotConfirmedError
from ._state import STATE
from ._validators import check_count, check_seconds

__all__ = [
    "RETRYABLE_STATUSES",
    "RETRYABLE_WRITE_STATUSES",
    "Reply",
    "Retries",
    "backoff_delay",
    "parse_retry_after",
    "retry_delay",
    "send_with_retries",
    "set_testing",
]

log = logging.getLogger("crowdtwist_async")

#: Statuses worth another attempt at a read, which is idempotent.
RETRYABLE_STATUSES: Final = frozenset({408, 429, 500, 502, 503, 504})

#: ... and at a write: only a rate limit proves the request was not processed.
RETRYABLE_WRITE_STATUSES: Final = frozenset({429})

#: What one attempt gives back (`_attempt.Sender.send`) and the loop hands on:
#: the status, the headers and the whole body.
Reply = tuple[int, Mapping[str, str], bytes]


@attrs.frozen
class Retries:
    """When a failed request is tried again, and how long to wait in between.

    For a read, connection errors, timeouts and 408/429/500/502/503/504
    responses are retried up to `max_retries` times; for a write, only a
    connection that was never made and a 429 (see `WriteNotConfirmedError`).
    Each waits a full-jitter exponential backoff
    (uniform in 0..min(`backoff_cap`, `backoff_base` x 2**retry) seconds) or
    the server's `Retry-After`. A `Retry-After` longer than `max_retry_after`
    is not slept on: the error is raised, with `.retry_after` set.

    A Session's are in `session.retries`; change them per call with
    `session.with_options(max_retries=...)`.

    Attributes:
        max_retries: how many times a failed request is tried again after its
            first attempt: an int of at least 0 (default 2; 0: never).
        backoff_base: the backoff's first ceiling, in seconds, doubled at each
            retry: a positive number (default 0.5).
        backoff_cap: the most seconds a backoff may wait: a positive number
            (default 8.0).
        max_retry_after: the longest `Retry-After`, in seconds, that is waited
            for; past it, the response's error is raised without waiting: a
            positive number (default 60.0).

    Raises:
        TypeError: if a field is not of its type (an int; a number).
        ValueError: if a field is out of its bounds.

    Example:
        ```python
        ct.Session(retries=ct.Retries(max_retries=5, backoff_cap=2.0))
        ```
    """

    max_retries: int = attrs.field(default=2, validator=check_count(0))
    backoff_base: float = attrs.field(default=0.5, validator=check_seconds)
    backoff_cap: float = attrs.field(default=8.0, validator=check_seconds)
    max_retry_after: float = attrs.field(default=60.0, validator=check_seconds)


# --- the test switch ------------------------------------------------------------
# Process-wide on purpose, as stamina's switch is: a test suite turns it on
# once, for every Session its code under test makes (`STATE.skip_waits`).


class _RestoreTesting:
    """What `set_testing` returns: leaving it as a context manager restores
    the state before the call; used as a plain call, it does nothing more."""

    __slots__ = ("_previous",)

    def __init__(self, previous: bool) -> None:
        self._previous = previous

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        STATE.skip_waits = self._previous


def set_testing(testing: bool) -> AbstractContextManager[None]:
    """Skip the waits between retries (`True`), or wait again (`False`).

    For test suites, yours included: failures are still retried as often as
    `max_retries` allows, and a `Retry-After` too long to wait for still
    raises `RateLimitError`, but no backoff or `Retry-After` is slept on.
    It takes effect at once, for the whole process; used as a context
    manager (as stamina's is), it puts back the state it found on leaving.

    Args:
        testing: True to skip the waits, False to wait again.

    Returns:
        A context manager that, on leaving its `with` block, puts back the
        state found before the call; ignore it for a plain call.

    Example:
        ```python
        from crowdtwist_async.testing import set_testing

        set_testing(True)  # e.g. in a session-scoped fixture or conftest.py

        with set_testing(True):  # or for one block, then as it was
            ...
        ```
    """
    restore = _RestoreTesting(STATE.skip_waits)
    STATE.skip_waits = bool(testing)
    return restore


# --- the loop -------------------------------------------------------------------


async def send_with_retries(
    attempt: Callable[[], Awaitable[Reply]], retries: Retries, path: str, method: str = "GET"
) -> Reply:
    """Run *attempt* until it gives a final response, or raise its last error.

    A response is final when its status is not retryable (for a write, any
    but 429), when the retries are used up, or when the server asks for a
    longer wait than the policy allows; the caller turns it into data or an
    exception. A `WriteNotConfirmedError` is never retried.
    """
    statuses = RETRYABLE_STATUSES if method == "GET" else RETRYABLE_WRITE_STATUSES
    retry = 0
    while True:
        try:
            status, headers, body = await attempt()
        except WriteNotConfirmedError:
            raise
        except APIConnectionError as exc:
            if retry >= retries.max_retries:
                raise
            delay = backoff_delay(retry, base=retries.backoff_base, cap=retries.backoff_cap)
            reason = type(exc).__name__
        else:
            wait = retry_delay(status, headers, retry, retries, statuses)
            if wait is None:
                return status, headers, body
            delay, reason = wait, f"HTTP {status}"
        retry += 1
        if STATE.skip_waits:
            delay = 0.0
        log.debug("retrying %s %s in %.2fs after %s (retry %d)", method, path, delay, reason, retry)
        await anyio.sleep(delay)


def retry_delay(
    status: int,
    headers: Mapping[str, str],
    retry: int,
    retries: Retries,
    statuses: frozenset[int] = RETRYABLE_STATUSES,
) -> float | None:
    """Seconds to wait before retrying a response, or None to not retry it."""
    if status not in statuses or retry >= retries.max_retries:
        return None
    wait = parse_retry_after(headers)
    if wait is None:
        return backoff_delay(retry, base=retries.backoff_base, cap=retries.backoff_cap)
    # A long wait is the caller's decision: the error carries retry_after.
    return wait if wait <= retries.max_retry_after else None


# --- the waits --------------------------------------------------------------------


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the server asks us to wait, from `retry-after-ms` or `Retry-After`.

    `Retry-After` may be delta-seconds or an HTTP-date; a date in the past
    means zero. Anything unparsable is ignored (None).
    """
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            value = float(millis) / 1000
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
        return max(seconds, 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def backoff_delay(
    retry: int, *, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**retry)]."""
    ceiling = min(cap, base * (2 ** min(retry, 32)))
    return (rng or random).uniform(0.0, ceiling)
