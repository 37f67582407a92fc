"""The one reading of CrowdTwist's quirky scalars: flags sent as 0/1, "0"/"1"
or "true"/"false", and dates: unix timestamps and ISO 8601 text to aware UTC
datetimes, the same on every supported Python.

The API sends unix seconds (as numbers or as text) and ISO 8601 dates with
"Z", an offset or neither; `datetime.fromisoformat` grew between 3.10 and
3.11 ("Z", "+0530", a fraction of any length), so the format is read here.
The records (`_converter`) and the Live Push events (`_push_events`) both
read their flags with `read_flag` and their dates with `read_moment`, and
each words its own errors (a `MomentError`'s message never shows the value).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Final, Literal

__all__ = ["BOOLEANS", "DECIMAL", "INTEGER", "ISO_8601", "MomentError", "read_flag", "read_moment"]

# ASCII only: int() and float() also take other scripts' digits and "1_000".
INTEGER: Final = re.compile(r"[+-]?[0-9]+", re.ASCII)
DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
#: A date, then optionally "T" or a space and hh:mm[:ss[.fraction]], then
#: optionally "Z" or an offset ±hh[[:]mm].
ISO_8601: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?)?"
    r"(?:[Zz]|([+-])([0-9]{2})(?::?([0-9]{2}))?)?",
    re.ASCII,
)

#: The flags the API sends, by value. 1.0 and 0.0 hash like 1 and 0, so JSON
#: floats match too.
BOOLEANS: Final[Mapping[object, bool]] = {
    1: True,
    0: False,
    "1": True,
    "0": False,
    "true": True,
    "false": False,
}


def read_flag(value: object) -> bool | None:
    """*value* as a flag: a JSON boolean, 0/1 (numbers or text) or
    "true"/"false" (any case, padded); None when it is none of them."""
    if value is True or value is False:
        return value
    kind = type(value)
    if kind is int or kind is str or kind is float:
        flag = BOOLEANS.get(value)
        if flag is None and isinstance(value, str):
            flag = BOOLEANS.get(value.strip().lower())
        return flag
    return None


Kind = Literal["type", "format", "invalid", "range"]


class MomentError(ValueError):
    """Not a moment. `kind` says why: not a number or a string (`type`), text
    that is not ISO 8601 (`format`), ISO 8601 naming no real moment (a month
    13: `invalid`), or a moment no datetime holds (`range`)."""

    def __init__(self, message: str, kind: Kind) -> None:
        super().__init__(message)
        self.kind: Kind = kind


_NOT_A_MOMENT: Final = "expected a unix timestamp or an ISO 8601 date"


def read_moment(value: object) -> datetime:
    """*value* (unix seconds, as a number or text, or ISO 8601 text) as an
    aware UTC datetime; a time without an offset is UTC, and a fraction finer
    than microseconds is cut. `MomentError` otherwise."""
    if type(value) is int or type(value) is float:
        return _from_unix(value)
    if isinstance(value, str):
        text = value.strip()
        if INTEGER.fullmatch(text):
            try:
                seconds = int(text)
            except ValueError:  # more digits than int() converts
                raise MomentError("timestamp out of range", "range") from None
            return _from_unix(seconds)
        if DECIMAL.fullmatch(text):
            return _from_unix(float(text))
        return _from_iso_8601(text)
    raise MomentError(_NOT_A_MOMENT, "type")


def _from_unix(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise MomentError("timestamp out of range", "range") from None


def _from_iso_8601(text: str) -> datetime:
    match = ISO_8601.fullmatch(text)
    if match is None:
        raise MomentError(_NOT_A_MOMENT, "format")
    year, month, day, hour, minute, second, fraction, sign, zone_h, zone_m = match.groups()
    try:
        offset = timezone.utc
        if sign is not None:
            delta = timedelta(hours=int(zone_h), minutes=int(zone_m or 0))
            offset = timezone(-delta if sign == "-" else delta)
        parsed = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=offset,
        )
    except ValueError:  # a month 13, a 25th hour, an offset of a day or more
        raise MomentError("not a valid ISO 8601 date", "invalid") from None
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise MomentError("date out of range", "range") from None
