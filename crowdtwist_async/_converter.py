"""JSON payloads to models and back, absorbing the CrowdTwist API's quirks.

The API sends booleans as 0/1 or "0"/"1", numbers as strings, unix timestamps,
"" for "no value", and spells some keys two ways; its documented samples are
not even the shapes it documents. All of that is handled here, by cattrs hooks.

Two converters share one configuration: a fast one without detailed
validation does all the work on good data; when it fails, the same input goes
through a detailed-validation one, only to learn which field was wrong. Every
failure leaves this module as a `ResponseDecodeError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType, NoneType, UnionType
from typing import TYPE_CHECKING, Any, Final, TypeVar, Union, get_args, get_origin
from urllib.parse import parse_qs

import attrs
import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._exceptions import ResponseDecodeError
from ._models import (
    EligibilityType,
    FrequencyPeriod,
    Partner,
    Reward,
    RewardsPage,
    Segment,
    UsableCoupon,
)

if TYPE_CHECKING:
    from enum import Enum

__all__ = [
    "page_number_from_link",
    "structure",
    "structure_coupons",
    "structure_rewards_page",
    "to_dict",
    "unstructure",
]

T = TypeVar("T")

_Hook = Callable[[Any, Any], Any]

# The Python field name, where it differs from the documented key.
_RENAMED: Final[Mapping[type, Mapping[str, str]]] = {
    Reward: {"freq_period": "freq_period_id"},
}

# (documented key, drifted spelling the API also sends); the documented one wins.
_DRIFTED: Final[Mapping[type, tuple[tuple[str, str], ...]]] = {
    Reward: (("sweepstakes_winners", "sweepstake_winners"),),
    UsableCoupon: (
        ("redeem_order_id", "reward_order_id"),
        ("redeem_order_coupon_id", "reward_order_coupon_id"),
    ),
}

# Where a record keeps the id quoted in error messages, in order of preference.
_ID_KEYS: Final[Mapping[type, tuple[str, ...]]] = {
    Reward: ("id",),
    UsableCoupon: ("redeem_order_coupon_id", "reward_order_coupon_id"),
}

_KIND: Final[Mapping[type, str]] = {Reward: "reward", UsableCoupon: "usable coupon"}

# Any of these at the top level of a rewards page means the reward was inlined
# there, as in the documented sample.
_REWARD_KEYS: Final = frozenset(a.name for a in attrs.fields(Reward) if a.default is attrs.NOTHING)

# ASCII only: int() and float() also take other scripts' digits and "1_000".
_INTEGER = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_ISO_8601 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?)?"
    r"(?:[Zz]|([+-])([0-9]{2})(?::?([0-9]{2}))?)?",
    re.ASCII,
)

# 1.0 and 0.0 hash like 1 and 0, so JSON floats match too.
_BOOLEANS: Final[Mapping[object, bool]] = {
    1: True,
    0: False,
    "1": True,
    "0": False,
    "true": True,
    "false": False,
}
_ELIGIBILITY_TYPES: Final = {member.value: member for member in EligibilityType}

_DESCRIBE_LIMIT = 40


def _describe(value: object) -> str:
    """Name *value* briefly for an error message.

    Containers are only named: their repr may be huge, or hold a coupon code
    (a credential). Strings are shown, but a string is never a bad str value.
    """
    if isinstance(value, str):
        cut = value if len(value) <= _DESCRIBE_LIMIT else value[:_DESCRIBE_LIMIT] + "…"
        return f"string {cut!r}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        # repr() of an int beyond 4300 digits raises ValueError.
        return f"int {value!r}" if value.bit_length() <= 64 else "a very large int"
    if isinstance(value, float):
        return f"float {value!r}"
    if isinstance(value, Mapping):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    return type(value).__name__


# -- leaf hooks ---------------------------------------------------------------
# Each starts with the type-exact case good data takes, for speed; the
# lenient cases come after. bool is a subclass of int and never counts as one.


# The default lets other code call it with the value alone.
def _structure_int(value: object, _: object = int) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise ValueError(f"expected an integer, got {_describe(value)}")


def _structure_bool(value: object, _: object) -> bool:
    if value is True or value is False:
        return value
    kind = type(value)
    if kind is int or kind is str or kind is float:
        flag = _BOOLEANS.get(value)
        if flag is None and isinstance(value, str):
            flag = _BOOLEANS.get(value.strip().lower())
        if flag is not None:
            return flag
    raise ValueError(f"expected a boolean (0/1, true/false), got {_describe(value)}")


def _structure_str(value: object, _: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {_describe(value)}")


def _structure_datetime(value: object, _: object) -> datetime:
    if type(value) is int or type(value) is float:
        return _from_timestamp(value)
    if isinstance(value, str):
        text = value.strip()
        if _INTEGER.fullmatch(text):
            return _from_timestamp(int(text))
        if _DECIMAL.fullmatch(text):
            return _from_timestamp(float(text))
        return _from_iso_8601(text)
    raise ValueError(f"expected a unix timestamp or an ISO 8601 date, got {_describe(value)}")


def _from_timestamp(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"timestamp out of range: {_describe(seconds)}") from None


def _from_iso_8601(text: str) -> datetime:
    """Parse an ISO 8601 date and time the same way on every Python.

    `datetime.fromisoformat` grew between 3.10 and 3.11 ("Z", "+0530", a
    fraction of any length), so the SDK reads the format itself: a date, then
    optionally "T" or a space and hh:mm[:ss[.fraction]], then optionally "Z"
    or an offset ±hh[[:]mm]. A fraction finer than microseconds is cut, and a
    time without an offset is taken as UTC.
    """
    match = _ISO_8601.fullmatch(text)
    if match is None:
        raise ValueError(f"expected a unix timestamp or an ISO 8601 date, got {_describe(text)}")
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
        raise ValueError(
            f"expected a unix timestamp or an ISO 8601 date, got {_describe(text)}"
        ) from None
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"date out of range: {_describe(text)}") from None


def _structure_frequency_period(value: object, _: object) -> FrequencyPeriod:
    # A number the SDK does not know is kept, as an UNKNOWN pseudo-member.
    return FrequencyPeriod(_structure_int(value))


def _structure_eligibility_type(value: object, _: object) -> EligibilityType:
    if isinstance(value, str):
        member = _ELIGIBILITY_TYPES.get(value)
        if member is None:
            member = _ELIGIBILITY_TYPES.get(value.strip().lower())
        if member is not None:
            return member
        if value.strip():
            # A type CrowdTwist added: kept as it was sent, as a pseudo-member.
            return EligibilityType(value)
    raise ValueError(f"expected a segment type such as 'inclusion', got {_describe(value)}")


def _structure_json_object(value: object, _: object) -> Mapping[str, Any]:
    # Reward.extra_data copies and freezes it.
    if isinstance(value, Mapping):
        return value
    raise ValueError(f"expected a JSON object, got {_describe(value)}")


def _enum_value(member: Enum) -> Any:
    return member.value


# -- hook factories -----------------------------------------------------------


def _is_optional(type_: object) -> bool:
    args = get_args(type_)
    return get_origin(type_) in (Union, UnionType) and len(args) == 2 and NoneType in args


def _optional_hook(type_: Any, converter: cattrs.Converter) -> _Hook:
    """Structure `X | None`: None, "" and blank strings mean "no value"."""
    (inner_type,) = (arg for arg in get_args(type_) if arg is not NoneType)
    inner = converter.get_structure_hook(inner_type)

    def structure_optional(value: object, _: object) -> object:
        if value is None:
            return None
        if type(value) is str and (not value or value.isspace()):
            return None
        return inner(value, inner_type)

    return structure_optional


def _overrides(cls: type) -> dict[str, Any]:
    """The generated code's view of *cls*: renamed keys, and no `unknown_fields`,
    which is filled (or left empty) by the record hook itself."""
    # Typed Any: mypy checks a **dict against every keyword parameter, the
    # boolean _cattrs_* options included.
    options: dict[str, Any] = {
        name: override(rename=key) for name, key in _RENAMED.get(cls, {}).items()
    }
    if "unknown_fields" in attrs.fields_dict(cls):
        options["unknown_fields"] = override(omit=True)
    return options


def _wire_keys(cls: type) -> frozenset[str]:
    """Every key of a *cls* record the SDK reads: documented, renamed or drifted."""
    renamed = _RENAMED.get(cls, {})
    keys = {renamed.get(field.name, field.name) for field in attrs.fields(cls)}
    keys.discard("unknown_fields")
    return frozenset(keys | {variant for _, variant in _DRIFTED.get(cls, ())})


def _record_hook(cls: Any, converter: cattrs.Converter) -> _Hook:
    """Structure an attrs class from a JSON object under its documented key names.

    The keys it does not model are kept in the record's `unknown_fields`.
    """
    generated = make_dict_structure_fn(cls, converter, **_overrides(cls))
    drifted = _DRIFTED.get(cls, ())
    known = _wire_keys(cls)
    keeps_unknown = "unknown_fields" in attrs.fields_dict(cls)

    def structure_record(value: object, _: object) -> object:
        # type() first: isinstance() against an ABC is slow.
        if type(value) is not dict and not isinstance(value, Mapping):
            raise TypeError(f"expected a JSON object, got {_describe(value)}")
        raw = value
        for documented, variant in drifted:
            # Copy only when the drifted spelling is actually there.
            if variant in value and documented not in value:
                value = {**value, documented: value[variant]}
        record = generated(value, cls)
        if keeps_unknown and not raw.keys() <= known:
            unknown = {key: item for key, item in raw.items() if key not in known}
            # The record is frozen; this is its construction, finished.
            object.__setattr__(record, "unknown_fields", MappingProxyType(unknown))
        return record

    return structure_record


def _record_unstructure_hook(cls: Any, converter: cattrs.Converter) -> Callable[[Any], Any]:
    return make_dict_unstructure_fn(cls, converter, **_overrides(cls))


def _configure(converter: cattrs.Converter) -> cattrs.Converter:
    # Class hooks go to singledispatch, which would otherwise send the enums to
    # the int and str hooks and bool to the int one: register each exactly.
    for cls, hook in (
        (int, _structure_int),
        (bool, _structure_bool),
        (str, _structure_str),
        (datetime, _structure_datetime),
        (FrequencyPeriod, _structure_frequency_period),
        (EligibilityType, _structure_eligibility_type),
    ):
        converter.register_structure_hook(cls, hook)
    converter.register_structure_hook_func(lambda t: t == Mapping[str, Any], _structure_json_object)
    converter.register_structure_hook_factory(_is_optional, _optional_hook)
    converter.register_structure_hook_factory(attrs.has, _record_hook)

    converter.register_unstructure_hook(datetime, datetime.isoformat)
    # The str-based enum would otherwise be passed through as the member itself.
    converter.register_unstructure_hook(EligibilityType, _enum_value)
    converter.register_unstructure_hook(FrequencyPeriod, _enum_value)
    converter.register_unstructure_hook_func(lambda t: t == Mapping[str, Any], dict)
    converter.register_unstructure_hook_factory(attrs.has, _record_unstructure_hook)
    return converter


_converter: Final = _configure(cattrs.Converter(detailed_validation=False))
_detailed_converter: Final = _configure(cattrs.Converter(detailed_validation=True))


# -- error reporting ----------------------------------------------------------


def _record_id(raw: object, cls: type) -> str | None:
    if not isinstance(raw, Mapping):
        return None
    for key in _ID_KEYS[cls]:
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if type(value) is int and value.bit_length() <= 64:
            return str(value)
    return None


def _wire_key(cls: type, name: str, raw: object) -> str:
    key = _RENAMED.get(cls, {}).get(name, name)
    if isinstance(raw, Mapping) and key not in raw:
        for documented, variant in _DRIFTED.get(cls, ()):
            if documented == key and variant in raw:
                return variant
    return key


def _decode_error(
    exc: Exception, raw: object, cls: type, location: str | None
) -> ResponseDecodeError:
    """Explain the detailed converter's failure on *raw* as a `ResponseDecodeError`.

    Follows the first failing attribute or item down to the leaf error, keeping
    the path in the API's key names and the id of the innermost record on it.
    *location* says where *raw* sat in the payload, e.g. "rewards[3]".
    """
    path = ""
    kind = _KIND.get(cls)
    record_id = None
    node = raw
    while isinstance(exc, (ClassValidationError, IterableValidationError)):
        if isinstance(exc, ClassValidationError):
            owner = exc.cl
            if owner in _ID_KEYS:
                kind, record_id = _KIND[owner], _record_id(node, owner)
            with_field, without_field = exc.group_exceptions()
            if not with_field:
                exc = without_field[0]
                continue
            exc, field_note = with_field[0]
            key = _wire_key(owner, field_note.name, node)
            path = f"{path}.{key}" if path else key
            node = node.get(key) if isinstance(node, Mapping) else None
        else:
            with_index, without_index = exc.group_exceptions()
            if not with_index:
                exc = without_index[0]
                continue
            exc, index_note = with_index[0]
            index = index_note.index
            path = f"{path}[{index}]"
            node = node[index] if isinstance(node, list) and isinstance(index, int) else None

    # Generated code reads required keys with o[key]: a KeyError is a missing field.
    reason = "required field is missing" if isinstance(exc, KeyError) else str(exc)
    if kind is None:
        subject = f"invalid {getattr(cls, '__name__', cls)}"
    elif record_id is None:
        subject = f"invalid {kind} (id unknown)"
    else:
        subject = f"invalid {kind} {record_id!r}"
    where = f" at {location}" if location else ""
    named = f": field {path!r}" if path else ""
    return ResponseDecodeError(
        f"{subject}{where}{named}: {reason or type(exc).__name__}",
        field=path or location,
        record_id=record_id,
    )


def _structure_detailed(data: object, cls: type[T], location: str | None) -> T:
    try:
        return _detailed_converter.structure(data, cls)
    except Exception as exc:
        raise _decode_error(exc, data, cls, location) from exc


def _structure_records(items: list[Any], cls: type[T], location: str) -> tuple[T, ...]:
    hook = _converter.get_structure_hook(cls)
    try:
        return tuple([hook(item, cls) for item in items])
    except Exception:  # the fast converter cannot say what failed: find out
        return tuple(
            [
                _structure_detailed(item, cls, f"{location}[{index}]")
                for index, item in enumerate(items)
            ]
        )


# -- public functions ---------------------------------------------------------


def structure(data: object, cls: type[T]) -> T:
    """Build a *cls* (a model, or any type the models use) from JSON-like *data*.

    Raises:
        ResponseDecodeError: *data* does not fit *cls*.
    """
    try:
        return _converter.structure(data, cls)
    except Exception:  # the fast converter cannot say what failed: find out
        return _structure_detailed(data, cls, None)


def unstructure(obj: object) -> Any:
    """Turn a model into JSON-compatible data under the API's key names.

    Datetimes become ISO 8601 strings and enums their values; `structure`
    turns the result back into an equal model.
    """
    return _converter.unstructure(obj)


def to_dict(
    model: Reward | UsableCoupon | RewardsPage | Segment | Partner, *, unknown_fields: bool = False
) -> dict[str, Any]:
    """A model as a JSON-ready dict, under the API's own key names.

    Datetimes become ISO 8601 strings, enums their values, `freq_period`
    goes back under `freq_period_id`: what `json.dumps` can write and the SDK
    reads back unchanged. With `unknown_fields=True`, the keys the SDK does
    not model are put back beside the others, as the API sent them.

    ```python
    line = json.dumps(ct.to_dict(reward))
    ```
    """
    if not isinstance(model, Reward | UsableCoupon | RewardsPage | Segment | Partner):
        raise TypeError(f"to_dict takes a crowdtwist_async model, got {type(model).__name__}")
    result: dict[str, Any] = _converter.unstructure(model)
    if unknown_fields:
        _put_back_unknown(model, result)
    return result


def _put_back_unknown(model: object, data: dict[str, Any]) -> None:
    """Add each record's `unknown_fields` to its dict in *data*, nested ones included."""
    for key, value in getattr(model, "unknown_fields", {}).items():
        data.setdefault(key, value)
    if isinstance(model, RewardsPage):
        for reward, item in zip(model.rewards, data["rewards"], strict=True):
            _put_back_unknown(reward, item)
    elif isinstance(model, Reward):
        for name in ("segment", "partner_info"):
            if getattr(model, name) is not None:
                _put_back_unknown(getattr(model, name), data[name])


def page_number_from_link(link: object) -> int | None:
    """Return the positive integer `page` query parameter of *link*, else None.

    Only the query matters: the API's links carry a wrong host and path (the
    documented ones, like "https://api[client_id].ct.com/...", are not even
    valid URLs, which `urllib.parse.urlsplit` rejects).
    """
    if not isinstance(link, str):
        return None
    query = link.partition("#")[0].partition("?")[2]
    values = parse_qs(query).get("page")
    if not values:
        return None
    return _positive_int(values[0])


def _lenient_int(value: object) -> int | None:
    try:
        return _structure_int(value)
    except ValueError:
        return None


def _positive_int(value: object) -> int | None:
    number = _lenient_int(value)
    return number if number is not None and number > 0 else None


def _count(value: object) -> int | None:
    number = _lenient_int(value)
    return number if number is not None and number >= 0 else None


def structure_rewards_page(payload: object, number: int) -> RewardsPage:
    """Build page *number* of a user's rewards from the decoded JSON *payload*.

    Besides the documented `{"paging": {...}, "rewards": [...]}`, accepts the
    documented sample's shape, one reward's fields inlined beside `paging`.
    A `total` or `pages` that is not a count (negative, not a number) becomes
    None, "unknown".

    Raises:
        ResponseDecodeError: the payload or one of its rewards does not fit.
    """
    if not isinstance(payload, Mapping):
        raise ResponseDecodeError(
            f"invalid rewards page: expected a JSON object, got {_describe(payload)}",
            field="rewards",
        )
    rewards = payload.get("rewards")
    if rewards is None:
        if _REWARD_KEYS.isdisjoint(payload):
            records: tuple[Reward, ...] = ()
        else:
            # `paging` belongs to the page, not to the reward inlined beside it.
            inlined = {key: value for key, value in payload.items() if key != "paging"}
            records = (structure(inlined, Reward),)
    elif isinstance(rewards, list):
        records = _structure_records(rewards, Reward, "rewards")
    else:
        raise ResponseDecodeError(
            f"invalid rewards page: field 'rewards': expected a JSON array, "
            f"got {_describe(rewards)}",
            field="rewards",
        )

    paging = payload.get("paging")
    if not isinstance(paging, Mapping):
        paging = {}
    return RewardsPage(
        number=number,
        total=_count(paging.get("total")),
        pages=_count(paging.get("pages")),
        rewards=records,
        next_page=page_number_from_link(paging.get("next_page")),
        prev_page=page_number_from_link(paging.get("prev_page")),
    )


def structure_coupons(payload: object) -> tuple[UsableCoupon, ...]:
    """Build the user's usable coupons from the decoded JSON *payload*.

    The documented sample is not valid JSON, so the real shape is uncertain;
    accepted are a JSON array of coupons, a single coupon object, and an
    object holding exactly one array (e.g. `{"usable_coupons": [...]}`).

    Raises:
        ResponseDecodeError: the payload or one of its coupons does not fit.
    """
    if isinstance(payload, list):
        return _structure_records(payload, UsableCoupon, "")
    if isinstance(payload, Mapping):
        if "reward_id" in payload or "code" in payload:
            return (structure(payload, UsableCoupon),)
        arrays = [(key, value) for key, value in payload.items() if isinstance(value, list)]
        if len(arrays) == 1:
            key, items = arrays[0]
            return _structure_records(items, UsableCoupon, str(key))
    raise ResponseDecodeError(
        "invalid usable coupons: expected a JSON array of coupons, a coupon, or an "
        f"object holding one array of coupons; got {_describe(payload)}"
    )
