"""Small value classes that configure a Session."""

from __future__ import annotations

import math
from typing import Any

import attrs
import httpx

__all__ = ["Timeout"]


def _check_seconds(_instance: Any, attribute: Any, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{attribute.name} must be a number of seconds or None, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{attribute.name} must be positive and finite, got {value!r}")


@attrs.frozen
class Timeout:
    """Time limits for one attempt of one request, in seconds (None: no limit).

    `total` bounds the whole attempt: connecting, sending and reading the
    whole body, so a server that trickles bytes cannot hold a request forever.
    `connect` is shorter, so a dead host fails fast. A retry gets fresh limits.

    **Usage**

    ```python
    ct.Session(timeout=ct.Timeout(total=30.0, connect=5.0))
    ct.Session(timeout=5.0)  # total 5 s, connect 3 s
    ```
    """

    total: float | None = attrs.field(default=10.0, validator=_check_seconds)
    connect: float | None = attrs.field(default=3.0, validator=_check_seconds)

    @classmethod
    def coerce(cls, value: float | Timeout | None) -> Timeout:
        """A `Timeout` from a number of seconds (the total), a `Timeout`, or None."""
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
        """The per-operation limits for httpx; `total` is enforced around them."""
        return httpx.Timeout(self.total, connect=self.connect)
