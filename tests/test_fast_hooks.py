"""The fast converter's generated record hooks against cattrs' own.

The fast hooks handle the common cases inline and set fields through the
slot descriptors; the detailed converter keeps cattrs' generated hooks over
the same leaf hooks. On any input, both must build the same record, down to
the type of every value and the unknown fields, or both must fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdtwist_async import Partner, Reward, Segment, UsableCoupon

# Private on purpose: this module compares the converter's two halves (the
# generated fast hooks and cattrs' own) and property-tests the link parser.
from crowdtwist_async._converter import (
    _converter,
    _detailed_converter,
    _fast_record_hook,
    structure,
)
from crowdtwist_async._payload import page_number_from_link
from crowdtwist_async.testing import reset_process_state

from .json_support import JSON
from .sample_data import NO_FIELDS
from .test_models_property import SAMPLE_COUPON, SAMPLE_REWARD

# What the API sends, and what it could: per field, exact types and every quirk.
QUIRKS = (
    st.sampled_from(
        [None, "", " ", "0", "1", "true", "FALSE", " 1 ", "12", "+7", "-3", "0012", "1_000"]
    )
    | st.sampled_from(["١٢", "²", "2.0", "2.5", "1e3", "inclusion", " Exclusion ", "premium"])
    | st.sampled_from(["2014-06-06T12:31:00Z", "2024-01-01 10:00:00.5+0530", "1402057860"])
    | st.sampled_from([True, False, 0, 1, 2, 12, -1, 1.0, 0.0, 2.5, 10**20, 2**70, -(10**12)])
    | st.sampled_from([1402057860, 32503680000, 32503680001, 1402057860.5, [], {}, [1]])
    | st.integers()
    | JSON
)
NESTED = st.fixed_dictionaries(
    {},
    optional={
        "name": QUIRKS,
        "subscription_id": QUIRKS,
        "eligibility_type": QUIRKS,
        "id": QUIRKS,
        "extra": QUIRKS,
    },
)


def changed(record: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """*record* with some fields given quirky values, some removed, some added."""
    keys = sorted(record)
    return st.builds(
        lambda replaced, removed, added: {
            **{key: value for key, value in record.items() if key not in removed},
            **replaced,
            **added,
        },
        st.dictionaries(st.sampled_from(keys), QUIRKS | NESTED, max_size=6),
        st.sets(st.sampled_from(keys), max_size=2),
        st.dictionaries(
            st.sampled_from(["sweepstake_winners", "reward_order_id", "new_field", "Id"]),
            QUIRKS,
            max_size=2,
        ),
    )


def shape(value: object) -> object:
    """*value* with the type of everything in it spelled out: `1 == True` and
    `1 == 1.0`, but a record holding True where it should hold 1 is wrong."""
    if attrs.has(type(value)):
        cls: Any = type(value)
        fields = {field.name: shape(getattr(value, field.name)) for field in attrs.fields(cls)}
        return (type(value), fields)
    if isinstance(value, dict | type(NO_FIELDS)):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [shape(item) for item in value]
    if isinstance(value, datetime):
        return (datetime, value.isoformat())
    return (type(value), value)


def outcome(converter: Any, data: object, cls: type) -> object:
    try:
        return shape(converter.structure(data, cls))
    except Exception:
        return "fails"


@settings(max_examples=400, deadline=None)
@given(changed(dict(SAMPLE_REWARD, sweepstake_winners=3)))
def test_fast_and_cattrs_hooks_agree_on_rewards(data: dict[str, Any]) -> None:
    assert outcome(_converter, data, Reward) == outcome(_detailed_converter, data, Reward)


@settings(max_examples=200, deadline=None)
@given(changed(SAMPLE_COUPON))
def test_fast_and_cattrs_hooks_agree_on_coupons(data: dict[str, Any]) -> None:
    assert outcome(_converter, data, UsableCoupon) == outcome(
        _detailed_converter, data, UsableCoupon
    )


@settings(max_examples=200, deadline=None)
@given(NESTED)
def test_fast_and_cattrs_hooks_agree_on_nested_records(data: dict[str, Any]) -> None:
    for cls in (Segment, Partner):
        assert outcome(_converter, data, cls) == outcome(_detailed_converter, data, cls)


def test_the_common_cases_take_the_inline_paths() -> None:
    reward = structure(
        dict(
            SAMPLE_REWARD,
            id="541043",
            is_enabled="1",
            no_end_date=0,
            freq_period_id="3",
            freq_cap="2",
            date_start=1402057860,
            segment={"name": "s", "subscription_id": 7, "eligibility_type": "exclusion"},
        ),
        Reward,
    )
    assert shape(reward)[1]["is_enabled"] == (bool, True)  # type: ignore[index]
    assert reward.no_end_date is False
    assert reward.freq_period is not None
    assert reward.freq_period.name == "DAYS_7"
    assert reward.freq_cap == 2
    assert reward.date_start.isoformat() == "2014-06-06T12:31:00+00:00"
    assert reward.segment is not None
    assert reward.segment.subscription_id == 7
    assert reward.unknown_fields is NO_FIELDS
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        reward.title = "changed"  # type: ignore[misc]


def test_a_bool_is_no_frequency_period_and_no_count() -> None:
    with pytest.raises(Exception, match="freq_period_id"):
        structure(dict(SAMPLE_REWARD, freq_period_id=True), Reward)
    with pytest.raises(Exception, match="group_id"):
        structure(dict(SAMPLE_REWARD, group_id=True), Reward)


def test_a_class_the_fast_hooks_cannot_build_is_refused_or_handed_to_cattrs() -> None:
    @attrs.frozen
    class Validated:
        count: int = attrs.field(validator=attrs.validators.ge(0))

    @attrs.frozen
    class Defaulted:
        count: int = 3

    @attrs.frozen(slots=False)
    class Unslotted:
        count: int

    def zero_for_none(value: int | None) -> int | None:
        return value or 0

    @attrs.frozen
    class Converted:
        count: int | None = attrs.field(default=None, converter=zero_for_none)

    for cls in (Validated, Defaulted, Unslotted, Converted):
        attrs.resolve_types(cls, locals())

    # A class with validators gets cattrs' own hook, which runs them.
    validated = _fast_record_hook(Validated, _converter)
    assert validated({"count": 2}, Validated) == Validated(count=2)
    with pytest.raises(ValueError, match="must be >= 0"):
        validated({"count": -1}, Validated)
    with pytest.raises(TypeError, match=r"Defaulted\.count: a fast hook needs no default"):
        _fast_record_hook(Defaulted, _converter)
    with pytest.raises(TypeError, match="Unslotted must be a slotted attrs class"):
        _fast_record_hook(Unslotted, _converter)
    with pytest.raises(TypeError, match=r"Converted\.count: its converter must keep None"):
        _fast_record_hook(Converted, _converter)


def started_at(seconds: int) -> datetime:
    return structure(dict(SAMPLE_REWARD, date_start=seconds), Reward).date_start


def test_a_timestamp_seen_before_gives_the_same_datetime_until_a_reset() -> None:
    reset_process_state()
    first = started_at(1402057860)
    assert first == datetime.fromtimestamp(1402057860, timezone.utc)
    assert started_at(1402057860) is first
    # Forgotten by the hooks already made too: an equal datetime, made anew.
    reset_process_state()
    again = started_at(1402057860)
    assert again == first
    assert again is not first
    assert started_at(1402057860) is again


QUERY_PARTS = st.sampled_from(
    ["page", "Page", "pa%67e", "pa+ge", "page ", "api_key", "", "=", "&", "%", "+"]
) | st.text(alphabet="pag=&%+2019 ;#x", max_size=6)


@settings(max_examples=500, deadline=None)
@given(st.lists(QUERY_PARTS, max_size=8).map("".join))
def test_the_page_of_a_link_is_read_as_parse_qs_reads_it(query: str) -> None:
    values = parse_qs(query.partition("#")[0]).get("page")
    try:
        expected = int(values[0].strip()) if values else None
    except ValueError:
        expected = None
    if expected is not None and (expected <= 0 or not values[0].strip().isascii()):  # type: ignore[index]
        expected = None
    assert page_number_from_link(f"https://api[client_id].ct.com/v2.1/rewards?{query}") == expected


def test_the_shared_datetimes_are_bounded() -> None:
    reset_process_state()
    first = started_at(1)
    # Ten thousand other timestamps later (a few thousand are kept), the
    # first is no longer kept: made anew, equal.
    for seconds in range(2, 10_002):
        assert started_at(seconds) == datetime.fromtimestamp(seconds, timezone.utc)
    again = started_at(1)
    assert again == first == datetime.fromtimestamp(1, timezone.utc)
    assert again is not first


def test_an_optional_field_with_a_default_other_than_none_is_refused() -> None:
    @attrs.frozen
    class OptionalDefaulted:
        count: int | None = 3

    attrs.resolve_types(OptionalDefaulted, locals())

    with pytest.raises(
        TypeError,
        match=r"^OptionalDefaulted\.count: a fast hook needs no default, None or a tuple$",
    ):
        _fast_record_hook(OptionalDefaulted, _converter)


def test_the_generated_hook_handles_fields_in_any_order_and_of_any_type() -> None:
    # unknown_fields need not come last, and a type without an inline case
    # (float here) always goes to its own hook.
    @attrs.frozen(kw_only=True)
    class Measured:
        unknown_fields: Mapping[str, Any] = attrs.field(default=NO_FIELDS)
        ratio: float

    attrs.resolve_types(Measured, globals(), locals())
    hook = _fast_record_hook(Measured, _converter)

    record = hook({"ratio": 0.5, "extra": 1}, Measured)
    assert (record.ratio, dict(record.unknown_fields)) == (0.5, {"extra": 1})
    with pytest.raises(TypeError):
        hook({"ratio": {"not": "a number"}}, Measured)
