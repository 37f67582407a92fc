"""The retry loop: attempts of one request until one answers for good.

Every CrowdTwist request the SDK makes is an idempotent GET, so a connection
error, a timeout or a retryable status is simply tried again, after a wait
the `Retries` policy and the server's `Retry-After` decide.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from types import TracebackType

import anyio
import httpx

from ._attempt import Response
from ._config import Retries
from ._exceptions import APIConnectionError
from ._protocol import RETRYABLE_STATUSES, backoff_delay, parse_retry_after

__all__ = ["retry_delay", "send_with_retries", "set_testing"]

log = logging.getLogger("crowdtwist_async")


class _Mode:
    """Whether the waits between attempts are skipped (see `set_testing`)."""

    skip_waits = False


# Process-wide on purpose, as stamina's switch is: a test suite turns it on
# once, for every Session its code under test makes.
_MODE = _Mode()


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
        _MODE.skip_waits = self._previous


def set_testing(testing: bool) -> AbstractContextManager[None]:
    """Skip the waits between retries (`True`), or wait again (`False`).

    For test suites, yours included: failures are still retried as often as
    `max_retries` allows, and a `Retry-After` too long to wait for still
    raises `RateLimitError`, but no backoff or `Retry-After` is slept on.
    It takes effect at once, for the whole process; used as a context
    manager (as stamina's is), it puts back the state it found on leaving.

    ```python
    from crowdtwist_async.testing import set_testing

    set_testing(True)  # e.g. in a session-scoped fixture or conftest.py

    with set_testing(True):  # or for one block, then as it was
        ...
    ```
    """
    restore = _RestoreTesting(_MODE.skip_waits)
    _MODE.skip_waits = bool(testing)
    return restore


async def send_with_retries(
    attempt: Callable[[], Awaitable[Response]], retries: Retries, path: str
) -> Response:
    """Run *attempt* until it gives a final response, or raise its last error.

    A response is final when its status is not retryable, when the retries
    are used up, or when the server asks for a longer wait than the policy
    allows; the caller turns it into data or an exception.
    """
    retry = 0
    while True:
        try:
            status, headers, body = await attempt()
        except APIConnectionError as exc:
            if retry >= retries.max_retries:
                raise
            delay = backoff_delay(retry, base=retries.backoff_base, cap=retries.backoff_cap)
            reason = type(exc).__name__
        else:
            wait = retry_delay(status, headers, retry, retries)
            if wait is None:
                return status, headers, body
            delay, reason = wait, f"HTTP {status}"
        retry += 1
        if _MODE.skip_waits:
            delay = 0.0
        log.debug("retrying GET %s in %.2fs after %s (retry %d)", path, delay, reason, retry)
        await anyio.sleep(delay)


def retry_delay(status: int, headers: httpx.Headers, retry: int, retries: Retries) -> float | None:
    """Seconds to wait before retrying a response, or None to not retry it."""
    if status not in RETRYABLE_STATUSES or retry >= retries.max_retries:
        return None
    wait = parse_retry_after(headers)
    if wait is None:
        return backoff_delay(retry, base=retries.backoff_base, cap=retries.backoff_cap)
    # A long wait is the caller's decision: the error carries retry_after.
    return wait if wait <= retries.max_retry_after else None
