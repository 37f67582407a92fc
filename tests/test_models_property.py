"""Tests for the models, and properties of the models' converter.

The properties: no input makes the converter raise anything but
`ResponseDecodeError`, and every valid model survives unstructure/structure.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, get_args

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdtwist_async import (
    EligibilityType,
    FrequencyPeriod,
    IdType,
    IdTypeName,
    Partner,
    ResponseDecodeError,
    Reward,
    RewardsPage,
    Segment,
    UsableCoupon,
)

# Private on purpose: the properties are the converter's and the payload
# envelopes' own, on any input, with no session around.
from crowdtwist_async._converter import structure, unstructure
from crowdtwist_async._payload import structure_coupons, structure_rewards_page

from .json_support import JSON, mutated
from .sample_data import load

UTC = timezone.utc


SAMPLE_REWARD: dict[str, Any] = {
    key: value for key, value in load("rewards_sample.json").items() if key != "paging"
}
SAMPLE_COUPON: dict[str, Any] = load("coupons_array.json")[0]


# -- the models ---------------------------------------------------------------


def test_enum_values_are_the_documented_ones() -> None:
    assert [member.value for member in IdType] == [
        "email",
        "facebook_user_id",
        "twitter_user_id",
        "id",
        "third_party_id",
        "username",
        "mobile_phone_number",
    ]
    # The typing alias names exactly the enum's values, in the same order.
    assert get_args(IdTypeName) == tuple(member.value for member in IdType)
    assert [member.value for member in FrequencyPeriod] == list(range(1, 12))
    assert FrequencyPeriod(2) is FrequencyPeriod.CALENDAR_DAY
    assert FrequencyPeriod(11) is FrequencyPeriod.DAYS_180
    assert [member.value for member in EligibilityType] == ["inclusion", "exclusion"]


def test_models_are_frozen_and_hashable() -> None:
    reward = structure(dict(SAMPLE_REWARD, extra_data={"city": "New York"}), Reward)

    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        reward.title = "changed"  # type: ignore[misc]
    assert hash(reward) == hash(structure(dict(SAMPLE_REWARD, extra_data={"city": "x"}), Reward))
    assert (
        len({reward, structure(dict(SAMPLE_REWARD, extra_data={"city": "New York"}), Reward)}) == 1
    )


def test_extra_data_is_read_only_even_when_built_by_hand() -> None:
    client_data = {"city": "New York"}
    reward = attrs.evolve(structure(SAMPLE_REWARD, Reward), extra_data=client_data)
    client_data["city"] = "Boston"

    assert reward.extra_data == {"city": "New York"}
    with pytest.raises(TypeError):
        reward.extra_data["city"] = "Boston"  # type: ignore[index]


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        pytest.param("ACC58191285", "'*******1285'", id="docs"),
        pytest.param("12345", "'*2345'", id="five"),
        pytest.param("1234", "'****'", id="four"),
        pytest.param("", "''", id="empty"),
    ],
)
def test_coupon_repr_masks_the_code(code: str, shown: str) -> None:
    coupon = attrs.evolve(structure(SAMPLE_COUPON, UsableCoupon), code=code)

    assert f"code={shown}," in repr(coupon)
    assert coupon.code == code
    if len(code) > 4:
        assert code not in repr(coupon)
        assert code not in str(coupon)


# -- never anything but ResponseDecodeError -----------------------------------

REWARDS = mutated(SAMPLE_REWARD)
PAGING = JSON | st.fixed_dictionaries(
    {}, optional=dict.fromkeys(("total", "pages", "next_page", "prev_page"), JSON)
)
COUPONS = mutated(SAMPLE_COUPON)


def decodes_or_raises_decode_error(decode: Callable[[object], object], payload: object) -> None:
    """Any exception but `ResponseDecodeError` propagates, failing the test."""
    with contextlib.suppress(ResponseDecodeError):
        decode(payload)


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_arbitrary_json_never_escapes(payload: object) -> None:
    decodes_or_raises_decode_error(lambda p: structure_rewards_page(p, 1), payload)
    decodes_or_raises_decode_error(structure_coupons, payload)
    decodes_or_raises_decode_error(lambda p: structure(p, Reward), payload)
    decodes_or_raises_decode_error(lambda p: structure(p, UsableCoupon), payload)


@settings(max_examples=150, deadline=None)
@given(st.lists(REWARDS, max_size=3), PAGING)
def test_mutated_rewards_never_escape(rewards: list[dict[str, Any]], paging: object) -> None:
    decodes_or_raises_decode_error(
        lambda p: structure_rewards_page(p, 1), {"paging": paging, "rewards": rewards}
    )
    for reward in rewards:
        decodes_or_raises_decode_error(lambda p: structure(p, Reward), reward)
        decodes_or_raises_decode_error(lambda p: structure_rewards_page(p, 1), reward)


@settings(max_examples=100, deadline=None)
@given(st.lists(COUPONS, max_size=3))
def test_mutated_coupons_never_escape(coupons: list[dict[str, Any]]) -> None:
    decodes_or_raises_decode_error(structure_coupons, coupons)
    decodes_or_raises_decode_error(structure_coupons, {"usable_coupons": coupons})
    for coupon in coupons:
        decodes_or_raises_decode_error(structure_coupons, coupon)


# -- unstructure, then structure, gives the model back ------------------------

INTS = st.integers(min_value=-(2**63), max_value=2**63)
# "" and blank strings mean "no value" in optional fields, so they cannot round-trip.
PRESENT_TEXT = st.text(max_size=20).filter(lambda text: text.strip() != "")
DATETIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | INTS | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)

SEGMENTS = st.builds(
    Segment,
    name=st.text(max_size=20),
    subscription_id=INTS,
    eligibility_type=st.sampled_from(EligibilityType),
)
PARTNERS = st.builds(Partner, id=INTS, name=st.text(max_size=20))

REWARD_MODELS = st.builds(
    Reward,
    id=st.text(max_size=12),
    group_id=INTS,
    title=st.text(max_size=20),
    description=st.text(max_size=20),
    current_quantity=INTS,
    num_points=INTS,
    date_start=DATETIMES,
    date_end=st.none() | DATETIMES,
    date_end_redeemable=st.none() | DATETIMES,
    is_enabled=st.booleans(),
    category_id=INTS,
    no_end_date=st.booleans(),
    total_quantity=INTS,
    max_select_quantity=st.none() | INTS,
    max_per_user=INTS,
    is_shipping_required=st.booleans(),
    is_phone_number_required=st.booleans(),
    is_min_age_required=st.booleans(),
    min_age=st.none() | INTS,
    is_digital_download=st.booleans(),
    sweepstakes_winners=st.none() | INTS,
    extra_data=st.none() | st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4),
    reference_id=st.none() | PRESENT_TEXT,
    total_coupons=INTS,
    remaining_coupons=INTS,
    freq_cap=st.none() | INTS,
    freq_period=st.none() | st.sampled_from(FrequencyPeriod),
    freq_period_name=st.none() | PRESENT_TEXT,
    image=st.text(max_size=20),
    reward_terms=st.none() | PRESENT_TEXT,
    min_tier_id=st.none() | INTS,
    segment=st.none() | SEGMENTS,
    partner_info=st.none() | PARTNERS,
)

COUPON_MODELS = st.builds(
    UsableCoupon,
    reward_id=INTS,
    redeem_order_id=INTS,
    redeem_order_coupon_id=INTS,
    total_points_redeemed=INTS,
    ending_balance=INTS,
    quantity=INTS,
    code=st.text(max_size=20),
    reward_title=st.text(max_size=20),
    coupon_category_id=INTS,
    coupon_category_name=st.text(max_size=20),
    coupon_category_expiration_days=st.none() | INTS,
    batch_num=INTS,
    date_to_expire=st.none() | DATETIMES,
    order_date_created=DATETIMES,
    coupon_date_created=DATETIMES,
)

PAGE_NUMBERS = st.none() | st.integers(min_value=1, max_value=10**6)
PAGE_MODELS = st.builds(
    RewardsPage,
    number=st.integers(min_value=1, max_value=10**6),
    total=st.none() | st.integers(min_value=0, max_value=10**6),
    pages=PAGE_NUMBERS,
    rewards=st.lists(REWARD_MODELS, max_size=2).map(tuple),
    next_page=PAGE_NUMBERS,
    prev_page=PAGE_NUMBERS,
)


@settings(max_examples=100, deadline=None)
@given(st.one_of(REWARD_MODELS, COUPON_MODELS, SEGMENTS, PARTNERS, PAGE_MODELS))
def test_round_trip(model: Reward | UsableCoupon | Segment | Partner | RewardsPage) -> None:
    data = unstructure(model)

    assert structure(data, type(model)) == model
    # JSON-compatible: going through JSON text changes nothing.
    assert structure(json.loads(json.dumps(data)), type(model)) == model


def test_rewards_survive_pickle_and_deepcopy() -> None:
    import copy
    import pickle

    reward = structure(dict(SAMPLE_REWARD, extra_data={"city": "New York"}), Reward)
    for clone in (pickle.loads(pickle.dumps(reward)), copy.deepcopy(reward), copy.copy(reward)):
        assert clone == reward
        assert clone.extra_data == {"city": "New York"}
        with pytest.raises(TypeError):
            clone.extra_data["city"] = "Boston"  # type: ignore[index]
    plain = structure(SAMPLE_REWARD, Reward)
    assert pickle.loads(pickle.dumps(plain)) == plain
    coupon = structure(SAMPLE_COUPON, UsableCoupon)
    assert pickle.loads(pickle.dumps(coupon)) == coupon
