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

import linecache
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from enum import Enum
from types import MappingProxyType, MemberDescriptorType, NoneType, UnionType
from typing import Any, Final, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.errors import ClassValidationError, IterableValidationError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._exceptions import ResponseDecodeError
from ._models import (
    NO_FIELDS,
    Activity,
    ActivityCredit,
    CouponResult,
    EligibilityType,
    FrequencyPeriod,
    Partner,
    Points,
    Redemption,
    RedemptionResult,
    Reward,
    RewardsPage,
    Segment,
    Shipping,
    UsableCoupon,
    User,
)
from ._scalars import BOOLEANS, INTEGER, MomentError, read_flag, read_moment
from ._state import STATE

__all__ = [
    "describe",
    "structure",
    "structure_int",
    "structure_records",
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
    # The User Points page's table labels the total "Total points".
    Points: (("total_points", "Total points"),),
    # The v2.1 data model's names for the record's id and the activity's name.
    Activity: (("id", "user_activity_id"), ("name", "activity_name")),
    # Older pages name the redemption order `redeem_order_id`.
    RedemptionResult: (("order_id", "redeem_order_id"),),
}

# Where a record keeps the id quoted in error messages, in order of preference.
_ID_KEYS: Final[Mapping[type, tuple[str, ...]]] = {
    Reward: ("id",),
    UsableCoupon: ("redeem_order_coupon_id", "reward_order_coupon_id"),
    User: ("id",),
    Points: ("id",),
    Activity: ("id", "user_activity_id"),
    Redemption: ("id",),
    RedemptionResult: ("order_id", "redeem_order_id"),
}

# How error messages name a record of each class in _ID_KEYS; any other class
# (a record without an id) is named by its class name.
_KIND: Final[Mapping[type, str]] = {
    Reward: "reward",
    UsableCoupon: "usable coupon",
    User: "user",
    Points: "points balance",
    Activity: "activity",
    Redemption: "redemption",
    RedemptionResult: "redemption result",
}


_ELIGIBILITY_TYPES: Final = {member.value: member for member in EligibilityType}

_DESCRIBE_LIMIT = 40


def describe(value: object) -> str:
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
def structure_int(value: object, _: object = int) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str) and INTEGER.fullmatch(value.strip()):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise ValueError(f"expected an integer, got {describe(value)}")


def _structure_bool(value: object, _: object) -> bool:
    flag = read_flag(value)
    if flag is not None:
        return flag
    raise ValueError(f"expected a boolean (0/1, true/false), got {describe(value)}")


def _structure_str(value: object, _: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"expected a string, got {describe(value)}")


def _structure_datetime(value: object, _: object) -> datetime:
    try:
        return read_moment(value)
    except MomentError as exc:
        if exc.kind == "range":
            message = f"{exc}: {describe(value)}"
        else:
            message = f"expected a unix timestamp or an ISO 8601 date, got {describe(value)}"
    raise ValueError(message)


def _structure_frequency_period(value: object, _: object) -> FrequencyPeriod:
    # A number the SDK does not know is kept, as an UNKNOWN pseudo-member.
    return FrequencyPeriod(structure_int(value))


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
    raise ValueError(f"expected a segment type such as 'inclusion', got {describe(value)}")


def _structure_json_object(value: object, _: object) -> Mapping[str, Any]:
    # Reward.extra_data copies and freezes it.
    if isinstance(value, Mapping):
        return value
    raise ValueError(f"expected a JSON object, got {describe(value)}")


def _enum_value(member: Enum) -> Any:
    return member.value


# The tuple fields of the models: `User.segments`, `RedemptionResult.codes`.
_LENIENT_TUPLES: Final = (tuple[str, ...], tuple[Mapping[str, Any], ...])


def _lenient_tuple_hook(type_: Any, converter: cattrs.Converter) -> _Hook:
    """Structure a model's `tuple[X, ...]` field from a JSON array.

    null and "" are the empty tuple, and a lone string is one item of a
    tuple of strings (a single coupon code). cattrs' own hook would iterate
    any iterable: a string into its characters, an object into its keys.
    """
    items = homogenous_tuple_structure_factory(type_, converter)
    of_text = get_args(type_)[0] is str

    def structure_tuple(value: object, _: object) -> tuple[Any, ...]:
        if type(value) is list or isinstance(value, (list, tuple)):
            result: tuple[Any, ...] = items(value, type_)
            return result
        if value is None:
            return ()
        if isinstance(value, str):
            if not value.strip():
                return ()
            if of_text:
                return (value,)
        raise ValueError(f"expected a JSON array, got {describe(value)}")

    return structure_tuple


# -- hook factories -----------------------------------------------------------


def _is_optional(type_: object) -> bool:
    args = get_args(type_)
    return get_origin(type_) in (Union, UnionType) and len(args) == 2 and NoneType in args


def _optional_inner(type_: Any) -> Any:
    """The X of `X | None`."""
    (inner,) = (arg for arg in get_args(type_) if arg is not NoneType)
    return inner


def _optional_hook(type_: Any, converter: cattrs.Converter) -> _Hook:
    """Structure `X | None`: None, "" and blank strings mean "no value"."""
    inner_type = _optional_inner(type_)
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
            raise TypeError(f"expected a JSON object, got {describe(value)}")
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


# -- the fast record hooks -----------------------------------------------------
# cattrs' generated hooks call one hook per field and then the class's
# `__init__`, which for a frozen attrs class sets each field through
# `object.__setattr__`: most of the time goes there, on data that is almost
# always of a type the field takes as it is. The fast converter's record hooks
# are generated here instead: for each field, the common case is tested and
# handled inline (an int that is an int, a 0/1 flag, a unix timestamp, a
# nested object) and anything else goes to the field's own hook, so the quirks
# are handled in one place. The record is made with `object.__new__` and its
# fields set through their slot descriptors, which is what the frozen
# `__init__` does without its per-call overhead. The detailed converter keeps
# cattrs' own hooks: it only runs on bad data, to name the field at fault.

_MISSING: Final = object()

# Unix timestamps `datetime.fromtimestamp` takes on every platform (years
# 1970 to 2999); the hook handles the rest, and the errors.
_TIMESTAMP_RANGE: Final = (0, 32_503_680_000)


# The datetimes of the unix timestamps seen last (`STATE.moments`), shared:
# the same rewards come back page after page and member after member, with
# the same dates, and `datetime.fromtimestamp` costs ten times a lookup. A
# datetime is immutable. At most this many are kept:
_MOMENTS_KEPT: Final = 4096


def _moment(seconds: int) -> datetime:
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    moments = STATE.moments
    if len(moments) >= _MOMENTS_KEPT:
        moments.clear()
    moments[seconds] = moment
    return moment


def _setter(cls: type, name: str) -> Callable[[object, object], None]:
    descriptor = cls.__dict__.get(name)
    if not isinstance(descriptor, MemberDescriptorType):
        raise TypeError(f"{cls.__name__} must be a slotted attrs class to have a fast hook")
    setter: Callable[[object, object], None] = descriptor.__set__
    return setter


def _inline(
    type_: Any, name: str, namespace: dict[str, Any], optional: bool, inner_hook: _Hook
) -> list[str]:
    """Lines that structure `v` as *type_*: the common case inline, else `_hook<name>`.

    For `X | None` (*optional*), None has been dealt with already; a blank
    string goes to the hook, which makes it None. *inner_hook* structures
    *type_* itself (for `X | None`, an X).
    """
    hook = f"_hook{name}(v, _type{name})"
    if type_ is bool:
        # 0/1 and "0"/"1" are how the API sends most flags; True == 1 and
        # 1.0 == 1 as keys, and the hook takes those too. An unhashable value
        # raises TypeError, and goes to the hook to be refused.
        namespace["_BOOLEANS"] = BOOLEANS
        return ["try:", "    v = _BOOLEANS[v]", "except Exception:", f"    v = {hook}"]
    if type_ is int:
        # Counts often come as strings of ASCII digits ("2"): int() them here.
        return [
            "if type(v) is not int:",
            "    if type(v) is str and v.isdecimal() and v.isascii():",
            "        v = int(v)",
            "    else:",
            f"        v = {hook}",
        ]
    if type_ is str:
        blank = " or not v or v.isspace()" if optional else ""
        return [f"if type(v) is not str{blank}:", f"    v = {hook}"]
    if type_ is datetime:
        namespace["_moments"] = STATE.moments
        namespace["_moment"] = _moment
        low, high = _TIMESTAMP_RANGE
        return [
            f"if type(v) is int and {low} <= v <= {high}:",
            "    v = _moments.get(v) or _moment(v)",
            "else:",
            f"    v = {hook}",
        ]
    if isinstance(type_, type) and issubclass(type_, Enum):
        # Each member by its value, and an int enum's by its digits too: the
        # API sends `freq_period_id` as a string.
        members: dict[object, Enum] = {member.value: member for member in type_}
        members.update({str(value): member for value, member in list(members.items())})
        namespace[f"_members{name}"] = members
        return [
            # Not for a bool, which would find member 1 as True.
            "if type(v) is int or type(v) is str:",
            f"    m = _members{name}.get(v)",
            "    v = m if m is not None else " + hook,
            "else:",
            f"    v = {hook}",
        ]
    if attrs.has(type_):
        namespace[f"_inner{name}"] = inner_hook
        namespace[f"_innertype{name}"] = type_
        return [
            "if type(v) is dict:",
            f"    v = _inner{name}(v, _innertype{name})",
            "else:",
            f"    v = {hook}",
        ]
    if type_ == Mapping[str, Any]:
        return ["if type(v) is not dict:", f"    v = {hook}"]
    return [f"v = {hook}"]


def _fast_record_hook(cls: Any, converter: cattrs.Converter) -> _Hook:
    """Generate the fast converter's hook for the attrs class *cls* (see above)."""
    if any(field.validator is not None for field in attrs.fields(cls)):
        # Validators run in `__init__`, which the fast hook skips: a class
        # with some (`Shipping`, made by callers rather than read from
        # responses) is built by cattrs' hook, through `__init__`.
        return _record_hook(cls, converter)
    renamed = _RENAMED.get(cls, {})
    drifted = dict(_DRIFTED.get(cls, ()))
    namespace: dict[str, Any] = {
        "_cls": cls,
        "_new": object.__new__,
        "_Mapping": Mapping,
        "_describe": describe,
        "_MISSING": _MISSING,
        "_known": _wire_keys(cls),
        "_NO_FIELDS": NO_FIELDS,
        "_freeze": MappingProxyType,
    }
    lines = [
        "def structure_record(d, _):",
        # type() first: isinstance() against an ABC is slow.
        "    if type(d) is not dict and not isinstance(d, _Mapping):",
        "        raise TypeError(f'expected a JSON object, got {_describe(d)}')",
        "    o = _new(_cls)",
    ]
    for index, field in enumerate(attrs.fields(cls)):
        name = str(index)
        if isinstance(field.converter, attrs.Converter):
            raise TypeError(f"{cls.__name__}.{field.name}: no fast hook for attrs.Converter")
        namespace[f"_set{name}"] = _setter(cls, field.name)
        if field.name == "unknown_fields":
            lines += [
                "    if _known.issuperset(d):",
                f"        _set{name}(o, _NO_FIELDS)",
                "    else:",
                f"        _set{name}(o, _freeze({{k: x for k, x in d.items() if k not in _known}}))",  # noqa: E501
            ]
            continue
        key = renamed.get(field.name, field.name)
        optional = _is_optional(field.type)
        missing = _missing(cls, field, name, optional, namespace)
        if optional and field.converter is not None and field.converter(None) is not None:
            raise TypeError(f"{cls.__name__}.{field.name}: its converter must keep None")
        inner = _optional_inner(field.type) if optional else field.type
        namespace[f"_type{name}"] = field.type
        namespace[f"_hook{name}"] = converter.get_structure_hook(field.type)
        body = _inline(inner, name, namespace, optional, converter.get_structure_hook(inner))
        if field.converter is not None:
            namespace[f"_convert{name}"] = field.converter
            body.append(f"v = _convert{name}(v)")
        if optional:
            # The value None is None; the hook of `X | None` turns "" into None.
            body = ["if v is not None:", *_indent(body)]
        body = _indent(body)
        lines += _read(key, drifted.get(key), missing)
        lines += body
        lines.append(f"    _set{name}(o, v)")
    lines.append("    return o")
    source = "\n".join(lines) + "\n"
    filename = f"<fast structure hook for {cls.__module__}.{cls.__qualname__}>"
    # In linecache, a traceback through the hook shows its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    hook: _Hook = namespace["structure_record"]
    return hook


def _missing(
    cls: type, field: attrs.Attribute[Any], name: str, optional: bool, namespace: dict[str, Any]
) -> str | None:
    """What a missing key of *field* reads as in the generated code: None for
    a KeyError (a required field, as in cattrs' code), or an expression."""
    if field.default is attrs.NOTHING:
        return None
    if field.default is None and optional:
        return "None"
    if type(field.default) is tuple and not optional:
        # Immutable, so shared by every record, as `__init__` shares it.
        namespace[f"_default{name}"] = field.default
        return f"_default{name}"
    raise TypeError(f"{cls.__name__}.{field.name}: a fast hook needs no default, None or a tuple")


def _read(key: str, variant: str | None, missing: str | None) -> list[str]:
    """Lines that read *key* (or its drifted spelling *variant*) into `v`.

    *missing* is what a missing key reads as, None for a KeyError.
    """
    if missing is None:
        read, read_variant = f"d[{key!r}]", f"d[{variant!r}]"
    else:
        read, read_variant = f"d.get({key!r}, {missing})", f"d.get({variant!r}, {missing})"
    if variant is None:
        return [f"    v = {read}"]
    # The documented spelling wins when both are there, even as null.
    return [
        f"    v = d.get({key!r}, _MISSING)",
        "    if v is _MISSING:",
        f"        v = {read_variant}",
    ]


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


def _configure(converter: cattrs.Converter, record_hook: Callable[..., _Hook]) -> cattrs.Converter:
    # Class hooks go to singledispatch, which would otherwise send the enums to
    # the int and str hooks and bool to the int one: register each exactly.
    for cls, hook in (
        (int, structure_int),
        (bool, _structure_bool),
        (str, _structure_str),
        (datetime, _structure_datetime),
        (FrequencyPeriod, _structure_frequency_period),
        (EligibilityType, _structure_eligibility_type),
    ):
        converter.register_structure_hook(cls, hook)
    converter.register_structure_hook_func(lambda t: t == Mapping[str, Any], _structure_json_object)
    converter.register_structure_hook_factory(_is_optional, _optional_hook)
    converter.register_structure_hook_factory(lambda t: t in _LENIENT_TUPLES, _lenient_tuple_hook)
    converter.register_structure_hook_factory(attrs.has, record_hook)

    converter.register_unstructure_hook(datetime, datetime.isoformat)
    # The str-based enum would otherwise be passed through as the member itself.
    converter.register_unstructure_hook(EligibilityType, _enum_value)
    converter.register_unstructure_hook(FrequencyPeriod, _enum_value)
    converter.register_unstructure_hook_func(lambda t: t == Mapping[str, Any], dict)
    converter.register_unstructure_hook_factory(attrs.has, _record_unstructure_hook)
    return converter


_converter: Final = _configure(cattrs.Converter(detailed_validation=False), _fast_record_hook)
_detailed_converter: Final = _configure(cattrs.Converter(detailed_validation=True), _record_hook)


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

    Names the path in the API's key names and the id of the innermost record
    on it (see `_failing_leaf`). *location* says where *raw* sat in the
    payload, e.g. "rewards[3]".
    """
    leaf, path, kind, record_id = _failing_leaf(exc, raw, cls)
    # Generated code reads required keys with o[key]: a KeyError is a missing field.
    reason = "required field is missing" if isinstance(leaf, KeyError) else str(leaf)
    if kind is None:
        subject = f"invalid {getattr(cls, '__name__', cls)}"
    elif record_id is None:
        subject = f"invalid {kind} (id unknown)"
    else:
        subject = f"invalid {kind} {record_id!r}"
    where = f" at {location}" if location else ""
    named = f": field {path!r}" if path else ""
    return ResponseDecodeError(
        f"{subject}{where}{named}: {reason or type(leaf).__name__}",
        field=path or location,
        record_id=record_id,
    )


def _failing_leaf(
    exc: Exception, raw: object, cls: type
) -> tuple[Exception, str, str | None, str | None]:
    """Follow the first failing attribute or item of *exc* down to the leaf
    error: that error, the path to it, and the kind and id of the innermost
    record on the path that has an id."""
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
    return exc, path, kind, record_id


def _structure_detailed(data: object, cls: type[T], location: str | None) -> T:
    try:
        return _detailed_converter.structure(data, cls)
    except Exception as exc:
        raise _decode_error(exc, data, cls, location) from exc


def structure_records(items: list[Any], cls: type[T], location: str) -> tuple[T, ...]:
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


_MODELS: Final = (
    Reward,
    UsableCoupon,
    RewardsPage,
    Segment,
    Partner,
    User,
    Points,
    Activity,
    Redemption,
    RedemptionResult,
    ActivityCredit,
    CouponResult,
    Shipping,
)


def to_dict(
    model: Reward
    | UsableCoupon
    | RewardsPage
    | Segment
    | Partner
    | User
    | Points
    | Activity
    | Redemption
    | RedemptionResult
    | ActivityCredit
    | CouponResult
    | Shipping,
    *,
    unknown_fields: bool = False,
) -> dict[str, Any]:
    """A model as a JSON-ready dict, under the API's own key names.

    Datetimes become ISO 8601 strings, enums their values, `freq_period`
    goes back under `freq_period_id`: what `json.dumps` can write and the SDK
    reads back unchanged. With `unknown_fields=True`, the keys the SDK does
    not model are put back beside the others, as the API sent them (for a
    `User`, that includes the credentials its profile carries).

    Args:
        model: a model the SDK returned (or built): a `Reward`, a `User`, a
            `RewardsPage`, a `Shipping`...
        unknown_fields: whether to put back the keys the SDK does not model,
            as the API sent them (default False).

    Returns:
        A new dict of JSON types only, keyed as the API keys it.

    Raises:
        TypeError: if *model* is not one of the SDK's models.

    Example:
        ```python
        line = json.dumps(ct.to_dict(reward))
        ```
    """
    if not isinstance(model, _MODELS):
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
