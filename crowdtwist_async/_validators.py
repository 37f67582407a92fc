"""The attrs validators of the option value classes (`Timeout`, `Limits`, `Retries`).

Apart from `_config` so that `_retry`, which holds `Retries`, and `_config`,
which gathers every option's default, both use them without importing each
other both ways.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["check_count", "check_positive", "check_seconds"]


def check_positive(unit: str) -> Any:
    """A validator: None, or a positive finite number of *unit*."""

    def check(_instance: Any, attribute: Any, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{attribute.name} must be {unit} or None, got {value!r}")
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{attribute.name} must be positive and finite, got {value!r}")

    return check


def check_count(low: int) -> Any:
    """A validator: an int of at least *low*."""

    def check(_instance: Any, attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{attribute.name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{attribute.name} must be at least {low}, got {value}")

    return check


check_seconds = check_positive("a number of seconds")
