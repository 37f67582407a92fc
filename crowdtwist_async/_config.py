"""Small value classes that configure a Session, and every default, stated once.

The command line's help and the Session's signature both read their defaults
from here, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
import httpx

# `Retries` lives with the rest of the retry policy; its default is here.
from ._retry import Retries
from ._validators import check_count, check_positive, check_seconds

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "Limits",
    "Retries",
    "Timeout",
    "merge_limits",
    "merge_retries",
]


@attrs.frozen
class Timeout:
    """Time limits for one attempt of one request, in seconds (None: no limit).

    `total` bounds the whole attempt: connecting, sending and reading the
    whole body, so a server that trickles bytes cannot hold a request forever.
    `connect` is shorter, so a dead host fails fast. A retry gets fresh limits.

    Attributes:
        total: the most seconds one attempt may take, from connecting to the
            body's last byte: a positive number, or None for no limit
            (default 10.0).
        connect: the most seconds making the connection may take: a positive
            number, or None for no limit (default 3.0).

    Raises:
        TypeError: if a limit is neither a number nor None.
        ValueError: if a limit is not positive and finite.

    Example:
        ```python
        ct.Session(timeout=ct.Timeout(total=30.0, connect=5.0))
        ct.Session(timeout=5.0)  # total 5 s, connect 3 s
        ```
    """

    total: float | None = attrs.field(default=10.0, validator=check_seconds)
    connect: float | None = attrs.field(default=3.0, validator=check_seconds)

    @classmethod
    def coerce(cls, value: float | Timeout | None) -> Timeout:
        """A `Timeout` from a number of seconds (the total), a `Timeout`, or None.

        What a Session does with its `timeout` argument: a number is the
        total, with connecting held to at most the default 3 s of it; None
        is no limit at all.

        Args:
            value: a number of seconds (the total), a `Timeout` (returned as
                it is), or None (no limits).

        Returns:
            The `Timeout`.

        Raises:
            TypeError: if *value* is not a number, a `Timeout` or None.
            ValueError: if *value* is a number that is not positive and finite.
        """
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(total=None, connect=None)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(
                f"timeout must be seconds, a crowdtwist_async.Timeout or None, got {value!r}"
            )
        connect = cls().connect
        return cls(total=value, connect=value if connect is None else min(value, connect))

    def for_httpx(self) -> httpx.Timeout:
        """The per-operation limits for httpx; `total` is enforced around them.

        Returns:
            An `httpx.Timeout`: `connect` to connect, `total` for each read,
            write and wait for a pooled connection.
        """
        return httpx.Timeout(self.total, connect=self.connect)


@attrs.frozen
class Limits:
    """What a Session allows at once, across every task that shares it.

    `max_concurrency` requests in flight (also the default for each listing),
    at most `rate_limit` requests started a second, retries included (None:
    no limit), and response bodies of at most `max_body_bytes` (a page of 10
    rewards is a few KiB; anything near the limit is not a page).

    Attributes:
        max_concurrency: the most requests in flight at once, across every
            task sharing the session, and each listing's default
            `max_concurrency`: an int of at least 1 (default 4).
        rate_limit: the most requests started a second, retries included: a
            positive number, or None for no limit (default None).
        max_body_bytes: the largest response body read, in bytes; a larger
            one raises `ResponseDecodeError`, unretried: an int of at least 1
            (default 10 MiB).

    Raises:
        TypeError: if a field is not of its type (an int; a number or None).
        ValueError: if a field is out of its bounds.

    Example:
        ```python
        ct.Session(limits=ct.Limits(max_concurrency=8, rate_limit=20.0))
        ```
    """

    max_concurrency: int = attrs.field(default=4, validator=check_count(1))
    rate_limit: float | None = attrs.field(
        default=None, validator=check_positive("requests per second")
    )
    max_body_bytes: int = attrs.field(default=10 * 1024 * 1024, validator=check_count(1))


DEFAULT_TIMEOUT: Final = Timeout()
"""The timeout a Session uses by default: 10 s per attempt, 3 s to connect.

A web app should fail fast on a dead host but give a slow page time.
"""
DEFAULT_RETRIES: Final = Retries()
DEFAULT_LIMITS: Final = Limits()


def merge_retries(retries: Retries | None, max_retries: int | None) -> Retries:
    """A Session's `Retries`: *retries* (default `DEFAULT_RETRIES`), or the
    shortcut `max_retries` on the defaults; not both."""
    if retries is not None and not isinstance(retries, Retries):
        raise TypeError(f"retries must be a crowdtwist_async.Retries, got {type(retries).__name__}")
    if retries is not None and max_retries is not None:
        raise ValueError(
            "pass retries=Retries(...) or max_retries=, not both "
            "(Retries(max_retries=...) says it once)"
        )
    base = DEFAULT_RETRIES if retries is None else retries
    return base if max_retries is None else attrs.evolve(base, max_retries=max_retries)


def merge_limits(
    limits: Limits | None, max_concurrency: int | None, rate_limit: float | None
) -> Limits:
    """A Session's `Limits`: *limits* (default `DEFAULT_LIMITS`), or the
    shortcuts `max_concurrency` and `rate_limit` (requests a second) on the
    defaults; not both."""
    if limits is not None and not isinstance(limits, Limits):
        raise TypeError(f"limits must be a crowdtwist_async.Limits, got {type(limits).__name__}")
    shortcuts = (("max_concurrency", max_concurrency), ("rate_limit", rate_limit))
    given: dict[str, Any] = {name: value for name, value in shortcuts if value is not None}
    if limits is None:
        return attrs.evolve(DEFAULT_LIMITS, **given)
    if given:
        name = next(iter(given))
        raise ValueError(
            f"pass limits=Limits(...) or {name}=, not both (Limits({name}=...) says it once)"
        )
    return limits
