"""Tests for `crowdtwist_async._converter`: the API's payloads, quirks and failures."""

from __future__ import annotations

import copy
import json
import pickle
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

import pytest

from crowdtwist_async import (
    EligibilityType,
    FrequencyPeriod,
    Partner,
    ResponseDecodeError,
    Reward,
    RewardsPage,
    Segment,
    UsableCoupon,
    to_dict,
)

# Private on purpose: this module unit-tests the converter and the payload
# envelopes themselves, a record or a page from a dict, with no session around.
from crowdtwist_async._converter import structure, unstructure
from crowdtwist_async._payload import (
    page_number_from_link,
    structure_coupons,
    structure_rewards_page,
)

from .sample_data import NO_FIELDS, SAMPLES, load

UTC = timezone.utc


def sample_reward(**changes: object) -> dict[str, Any]:
    """The docs' sample reward (without its paging), with *changes* applied."""
    reward = {key: value for key, value in load("rewards_sample.json").items() if key != "paging"}
    reward.update(changes)
    return reward


def sample_coupon(**changes: object) -> dict[str, Any]:
    """The docs' first sample coupon, with *changes* applied."""
    coupon: dict[str, Any] = load("coupons_array.json")[0]
    coupon.update(changes)
    return coupon


def decode_error(data: object, cls: type[object] = Reward) -> ResponseDecodeError:
    with pytest.raises(ResponseDecodeError) as info:
        structure(data, cls)
    return info.value


# -- the docs' samples --------------------------------------------------------


def test_rewards_sample_is_a_one_reward_page() -> None:
    page = structure_rewards_page(load("rewards_sample.json"), 7)

    assert page.number == 7
    assert (page.total, page.pages, page.next_page, page.prev_page) == (133, 14, 2, 21)
    assert page.rewards == (
        Reward(
            id="541043",
            group_id=8116,
            title="Test Reward #7",
            description="Reward with variance and required shipping and phone",
            current_quantity=4,
            num_points=20,
            date_start=datetime(2014, 6, 6, 12, 31, tzinfo=UTC),
            date_end=None,
            date_end_redeemable=None,
            is_enabled=True,
            category_id=2631,
            no_end_date=True,
            total_quantity=9999999,
            max_select_quantity=None,
            max_per_user=2,
            is_shipping_required=False,
            is_phone_number_required=True,
            is_min_age_required=False,
            min_age=None,
            is_digital_download=False,
            sweepstakes_winners=None,
            extra_data=None,
            reference_id="46a6sd ",
            total_coupons=0,
            remaining_coupons=0,
            freq_cap=None,
            freq_period=None,
            freq_period_name=None,
            image="https://cdn.crowdtwist.com/img/v2/image.jpg",
            reward_terms=None,
            min_tier_id=None,
            segment=Segment(
                name="5x login", subscription_id=123, eligibility_type=EligibilityType.INCLUSION
            ),
            partner_info=Partner(id=4869684, name="Acme Car Rentals"),
        ),
    )


def test_rewards_sample_values_and_types() -> None:
    (reward,) = structure_rewards_page(load("rewards_sample.json"), 1).rewards

    assert datetime(2014, 6, 6, 12, 31, tzinfo=UTC).timestamp() == 1402057860
    assert reward.date_start.utcoffset() is not None
    assert reward.date_start.tzinfo is UTC
    assert reward.is_min_age_required is False  # sent as "0"
    assert reward.is_phone_number_required is True
    assert reward.reference_id == "46a6sd "  # kept verbatim, trailing space and all


def test_coupons_sample_is_not_json() -> None:
    # The documented shape: an object of objects. Why structure_coupons() guesses.
    with pytest.raises(json.JSONDecodeError):
        json.loads((SAMPLES / "coupons_sample.txt").read_text(encoding="utf-8"))


def test_coupons_array_holds_the_sample_coupons() -> None:
    text = (SAMPLES / "coupons_sample.txt").read_text(encoding="utf-8")
    for coupon in load("coupons_array.json"):
        assert f'"code":"{coupon["code"]}"' in text


def test_coupons_from_the_docs_sample() -> None:
    first, second = structure_coupons(load("coupons_array.json"))

    assert first == UsableCoupon(
        reward_id=127819,
        redeem_order_id=28184278,
        redeem_order_coupon_id=17298195,
        total_points_redeemed=200,
        ending_balance=22,
        quantity=1,
        code="ACC58191285",
        reward_title="$20 Sunshine Rewards Coupon",
        coupon_category_id=218,
        coupon_category_name="Sunshine Rewards",
        coupon_category_expiration_days=90,
        batch_num=82,
        date_to_expire=datetime(2016, 11, 18, 6, 30, 27, tzinfo=UTC),
        order_date_created=datetime(2016, 11, 10, 23, 32, 40, tzinfo=UTC),
        coupon_date_created=datetime(2016, 11, 9, 15, 43, 31, tzinfo=UTC),
    )
    assert (second.redeem_order_id, second.redeem_order_coupon_id) == (28184282, 17298198)
    assert second.date_to_expire == datetime(2016, 11, 18, 3, 53, 38, tzinfo=UTC)
    assert second.code == "ACC58111301"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        pytest.param("error_invalid_auth.json", "invalid_auth", id="invalid_auth"),
        pytest.param("error_page_not_found.json", "page_not_found", id="page_not_found"),
    ],
)
def test_error_samples_are_error_envelopes(name: str, error: str) -> None:
    body = load(name)

    assert body["error"] == error
    assert isinstance(body["message"], str)
    # Not a coupon listing; telling it from a rewards page is the session's job.
    with pytest.raises(ResponseDecodeError):
        structure_coupons(body)


# -- a full page with every quirk ---------------------------------------------


@pytest.fixture(scope="module")
def full_page() -> RewardsPage:
    return structure_rewards_page(load("rewards_page_full.json"), 2)


def test_full_page_paging(full_page: RewardsPage) -> None:
    assert (full_page.number, full_page.total, full_page.pages) == (2, 23, 3)
    assert (full_page.next_page, full_page.prev_page) == (3, 1)
    assert [reward.id for reward in full_page.rewards] == [str(541040 + i) for i in range(10)]


def test_full_page_documented_reward(full_page: RewardsPage) -> None:
    reward = full_page.rewards[0]

    assert reward.date_start == datetime(2017, 3, 28, 8, tzinfo=UTC)
    assert reward.date_end == datetime(2017, 4, 26, 8, tzinfo=UTC)
    assert reward.extra_data == {
        "city": "New York",
        "state": "New York",
        "country": "USA",
        "postal code": "10010",
    }
    assert (reward.freq_cap, reward.freq_period) == (1, FrequencyPeriod.CALENDAR_DAY)
    assert reward.sweepstakes_winners == 100
    assert reward.segment == Segment(
        name="New York Members", subscription_id=2, eligibility_type=EligibilityType.INCLUSION
    )


def test_full_page_string_quirks(full_page: RewardsPage) -> None:
    strings, words = full_page.rewards[1], full_page.rewards[2]

    assert (strings.is_enabled, strings.no_end_date, strings.is_phone_number_required) == (
        True,
        False,
        False,
    )
    assert (strings.group_id, strings.current_quantity, strings.num_points) == (3453, 750, -3)
    assert strings.date_start == datetime(2017, 3, 28, 8, tzinfo=UTC)
    assert strings.sweepstakes_winners == 100  # from "sweepstake_winners": "100"
    assert (words.is_enabled, words.no_end_date, words.is_shipping_required) == (True, False, True)
    assert words.is_phone_number_required is False
    assert words.date_start == datetime(2017, 3, 28, 8, tzinfo=UTC)
    assert words.date_end == datetime(2017, 4, 26, 8, tzinfo=UTC)
    assert words.date_end_redeemable == datetime(2017, 4, 26, 8, tzinfo=UTC)
    assert words.date_end_redeemable.tzinfo is UTC


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(3, id="nulls"),
        pytest.param(4, id="empty-strings"),
        pytest.param(7, id="absent"),
    ],
)
def test_full_page_missing_optionals(full_page: RewardsPage, index: int) -> None:
    reward = full_page.rewards[index]
    optional = (
        reward.date_end,
        reward.date_end_redeemable,
        reward.max_select_quantity,
        reward.min_age,
        reward.sweepstakes_winners,
        reward.extra_data,
        reward.reference_id,
        reward.freq_cap,
        reward.freq_period,
        reward.freq_period_name,
        reward.reward_terms,
        reward.min_tier_id,
        reward.segment,
        reward.partner_info,
    )

    assert optional == (None,) * len(optional)
    assert reward.title == "10% Off Coupon"


def test_full_page_other_quirks(full_page: RewardsPage) -> None:
    both, floats, nested, padded = (full_page.rewards[i] for i in (5, 6, 8, 9))

    assert both.id == "541045"  # sent as a number
    assert both.sweepstakes_winners == 5  # the documented spelling wins over the drifted one
    assert both.segment is not None
    assert both.segment.eligibility_type is EligibilityType.EXCLUSION
    assert (floats.num_points, floats.is_enabled, floats.no_end_date) == (100, True, False)
    assert floats.date_start == datetime(2017, 3, 28, 8, 0, 0, 500000, tzinfo=UTC)
    assert nested.freq_period is FrequencyPeriod.DAYS_180
    assert nested.freq_cap == 3
    assert nested.date_start == datetime(2017, 3, 28, 8, tzinfo=UTC)  # naive ISO means UTC
    assert nested.segment == Segment(
        name="Gold", subscription_id=2, eligibility_type=EligibilityType.INCLUSION
    )
    assert nested.partner_info == Partner(id=56577, name="Acme Car Rentals")
    assert (padded.is_enabled, padded.max_per_user, padded.min_age) == (True, 42, None)
    assert padded.reference_id == " padded "
    assert padded.freq_period is FrequencyPeriod.LIFETIME


# -- coercion, field by field -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(True, True, id="true"),
        pytest.param(False, False, id="false"),
        pytest.param(1, True, id="int-1"),
        pytest.param(0, False, id="int-0"),
        pytest.param(1.0, True, id="float-1"),
        pytest.param(0.0, False, id="float-0"),
        pytest.param("1", True, id="str-1"),
        pytest.param("0", False, id="str-0"),
        pytest.param("true", True, id="str-true"),
        pytest.param("FALSE", False, id="str-FALSE"),
        pytest.param(" True\n", True, id="str-padded"),
        pytest.param(" 0 ", False, id="str-0-padded"),
    ],
)
def test_bool_accepts(value: object, expected: bool) -> None:
    assert structure(sample_reward(is_enabled=value), Reward).is_enabled is expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(2, id="int-2"),
        pytest.param(-1, id="int-minus-1"),
        pytest.param(0.5, id="float-half"),
        pytest.param("yes", id="yes"),
        pytest.param("2", id="str-2"),
        pytest.param("", id="empty"),
        pytest.param(None, id="null"),
        pytest.param([], id="array"),
        pytest.param({}, id="object"),
    ],
)
def test_bool_rejects(value: object) -> None:
    error = decode_error(sample_reward(is_enabled=value))

    assert (error.field, error.record_id) == ("is_enabled", "541043")
    assert "'is_enabled'" in error.message
    assert "'541043'" in error.message
    assert "expected a boolean" in error.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(12, 12, id="int"),
        pytest.param(-3, -3, id="negative"),
        pytest.param(12.0, 12, id="integral-float"),
        pytest.param("12", 12, id="str"),
        pytest.param(" 12 ", 12, id="str-padded"),
        pytest.param("-3", -3, id="str-negative"),
        pytest.param("+4", 4, id="str-plus"),
    ],
)
def test_int_accepts(value: object, expected: int) -> None:
    reward = structure(sample_reward(num_points=value), Reward)

    assert reward.num_points == expected
    assert type(reward.num_points) is int


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(True, id="bool"),
        pytest.param(12.5, id="fractional-float"),
        pytest.param(float("inf"), id="inf"),
        pytest.param(float("nan"), id="nan"),
        pytest.param("12.5", id="decimal-str"),
        pytest.param("abc", id="word"),
        pytest.param("", id="empty"),
        pytest.param("1_000", id="underscore"),
        pytest.param("١٢", id="arabic-digits"),
        pytest.param("9" * 5000, id="too-many-digits"),
        pytest.param(None, id="null"),
        pytest.param([12], id="array"),
    ],
)
def test_int_rejects(value: object) -> None:
    error = decode_error(sample_reward(num_points=value))

    assert (error.field, error.record_id) == ("num_points", "541043")
    assert "'num_points'" in error.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("Sale", "Sale", id="str"),
        pytest.param(" Sale ", " Sale ", id="verbatim"),
        pytest.param("", "", id="empty-required"),
        pytest.param(7, "7", id="int"),
    ],
)
def test_str_accepts(value: object, expected: str) -> None:
    assert structure(sample_reward(title=value), Reward).title == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(True, id="bool"),
        pytest.param(1.5, id="float"),
        pytest.param(None, id="null"),
        pytest.param(["a"], id="array"),
        pytest.param({"a": 1}, id="object"),
    ],
)
def test_str_rejects(value: object) -> None:
    error = decode_error(sample_reward(title=value))

    assert (error.field, error.record_id) == ("title", "541043")
    assert "expected a string" in error.message


def test_numeric_reward_id_becomes_a_string() -> None:
    assert structure(sample_reward(id=541043), Reward).id == "541043"


JUNE_6 = datetime(2014, 6, 6, 12, 31, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(1402057860, JUNE_6, id="int"),
        pytest.param(1402057860.0, JUNE_6, id="float"),
        pytest.param(1402057860.25, JUNE_6.replace(microsecond=250000), id="fractional"),
        pytest.param("1402057860", JUNE_6, id="str"),
        pytest.param(" 1402057860 ", JUNE_6, id="str-padded"),
        pytest.param("1402057860.5", JUNE_6.replace(microsecond=500000), id="str-fractional"),
        pytest.param("2014-06-06T12:31:00Z", JUNE_6, id="iso-z"),
        pytest.param("2014-06-06T12:31:00z", JUNE_6, id="iso-lower-z"),
        pytest.param("2014-06-06T12:31:00+00:00", JUNE_6, id="iso-utc"),
        pytest.param("2014-06-06T14:31:00+02:00", JUNE_6, id="iso-offset"),
        pytest.param("2014-06-06T12:31:00", JUNE_6, id="iso-naive"),
        pytest.param("2014-06-06 12:31:00.000Z", JUNE_6, id="iso-space-millis"),
        # Read alike on every Python (3.10's fromisoformat refused these).
        pytest.param("2014-06-06T12:31:00.5Z", JUNE_6.replace(microsecond=500000), id="iso-tenth"),
        pytest.param("2014-06-06T18:01:00+0530", JUNE_6, id="iso-offset-no-colon"),
        pytest.param("2014-06-06T18:01:00+05:30", JUNE_6, id="iso-offset-half-hour"),
        pytest.param("2014-06-06T07:31:00-05", JUNE_6, id="iso-offset-hours"),
        pytest.param(
            "2014-06-06T12:31:00.123456789Z",
            JUNE_6.replace(microsecond=123456),
            id="iso-nanoseconds-cut",
        ),
        pytest.param("2014-06-06T12:31:00,25Z", JUNE_6.replace(microsecond=250000), id="iso-comma"),
        pytest.param("2014-06-06t12:31Z", JUNE_6, id="iso-minutes-lower-t"),
        pytest.param("2014-06-06", JUNE_6.replace(hour=0, minute=0), id="iso-date"),
    ],
)
def test_datetime_accepts(value: object, expected: datetime) -> None:
    start = structure(sample_reward(date_start=value), Reward).date_start

    assert start == expected
    assert start.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("abc", "ISO 8601", id="word"),
        pytest.param("2014-13-01T00:00:00Z", "ISO 8601", id="bad-month"),
        pytest.param("2014-06-06T24:00:00Z", "ISO 8601", id="hour-24"),
        pytest.param("2014-06-06T12:31:00+24:00", "ISO 8601", id="offset-a-day"),
        pytest.param("2014-6-6T12:31:00Z", "ISO 8601", id="short-date"),
        pytest.param("2014-06-06T12Z", "ISO 8601", id="hour-only"),
        pytest.param("2014-06-06T12:31:00.Z", "ISO 8601", id="empty-fraction"),
        pytest.param("2014-06-06T12:31:00 +05:30", "ISO 8601", id="space-before-offset"),
        pytest.param("２０１４-06-06", "ISO 8601", id="non-ascii-digits"),
        pytest.param(True, "ISO 8601", id="bool"),
        pytest.param([1402057860], "ISO 8601", id="array"),
        pytest.param(None, "ISO 8601", id="null-required"),
        pytest.param("", "ISO 8601", id="empty-required"),
        pytest.param(10**20, "out of range", id="huge-int"),
        pytest.param(-(10**20), "out of range", id="huge-negative"),
        pytest.param(1e300, "out of range", id="huge-float"),
        pytest.param(float("inf"), "out of range", id="inf"),
        pytest.param(float("nan"), "out of range", id="nan"),
        pytest.param("1e400", "out of range", id="str-overflow"),
        pytest.param("0001-01-01T00:00:00+01:00", "out of range", id="iso-underflow"),
        pytest.param("9999-12-31T23:59:59-01:00", "out of range", id="iso-overflow"),
    ],
)
def test_datetime_rejects(value: object, reason: str) -> None:
    error = decode_error(sample_reward(date_start=value))

    assert (error.field, error.record_id) == ("date_start", "541043")
    assert reason in error.message


@pytest.mark.parametrize(
    "field",
    [
        "date_end",
        "max_select_quantity",
        "min_age",
        "reference_id",
        "freq_cap",
        "freq_period_id",
        "extra_data",
        "segment",
        "partner_info",
    ],
)
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="null"),
        pytest.param("", id="empty"),
        pytest.param(" \t", id="blank"),
    ],
)
def test_optional_fields_take_null_and_blank(field: str, value: object) -> None:
    reward = structure(sample_reward(**{field: value}), Reward)
    attribute = "freq_period" if field == "freq_period_id" else field

    assert getattr(reward, attribute) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(2, FrequencyPeriod.CALENDAR_DAY, id="int"),
        pytest.param("2", FrequencyPeriod.CALENDAR_DAY, id="str"),
        pytest.param(" 11 ", FrequencyPeriod.DAYS_180, id="str-padded"),
        pytest.param(1.0, FrequencyPeriod.HOURS_24, id="integral-float"),
    ],
)
def test_frequency_period_accepts(value: object, expected: FrequencyPeriod) -> None:
    assert structure(sample_reward(freq_period_id=value), Reward).freq_period is expected


@pytest.mark.parametrize(
    ("value", "number"),
    [
        pytest.param(0, 0, id="zero"),
        pytest.param(12, 12, id="twelve"),
        pytest.param("12", 12, id="str-twelve"),
        pytest.param(-1, -1, id="negative"),
    ],
)
def test_a_frequency_period_the_sdk_does_not_know_is_kept(value: object, number: int) -> None:
    period = structure(sample_reward(freq_period_id=value), Reward).freq_period

    assert isinstance(period, FrequencyPeriod)
    assert period == number
    assert (period.name, period.value, period.known) == ("UNKNOWN", number, False)
    assert FrequencyPeriod.LIFETIME.known
    # The enum itself is unchanged: no member was added for it.
    assert len(FrequencyPeriod) == 11
    assert number not in [member.value for member in FrequencyPeriod]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("daily", "expected an integer", id="word"),
        pytest.param(True, "expected an integer", id="bool"),
        pytest.param("2.5", "expected an integer", id="decimal"),
    ],
)
def test_frequency_period_rejects(value: object, reason: str) -> None:
    error = decode_error(sample_reward(freq_period_id=value))

    assert (error.field, error.record_id) == ("freq_period_id", "541043")
    assert reason in error.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("inclusion", EligibilityType.INCLUSION, id="inclusion"),
        pytest.param("exclusion", EligibilityType.EXCLUSION, id="exclusion"),
        pytest.param(" Exclusion ", EligibilityType.EXCLUSION, id="mixed-case-padded"),
    ],
)
def test_eligibility_type_accepts(value: object, expected: EligibilityType) -> None:
    segment = {"name": "s", "subscription_id": 1, "eligibility_type": value}
    reward = structure(sample_reward(segment=segment), Reward)

    assert reward.segment is not None
    assert reward.segment.eligibility_type is expected


def test_an_eligibility_type_the_sdk_does_not_know_is_kept() -> None:
    segment = {"name": "s", "subscription_id": 1, "eligibility_type": "premium"}
    reward = structure(sample_reward(segment=segment), Reward)

    assert reward.segment is not None
    kind = reward.segment.eligibility_type
    assert isinstance(kind, EligibilityType)
    assert kind == "premium"
    assert (kind.name, kind.value, kind.known) == ("UNKNOWN", "premium", False)
    assert EligibilityType.INCLUSION.known
    assert len(EligibilityType) == 2
    # It goes back out as it came in.
    assert to_dict(reward)["segment"]["eligibility_type"] == "premium"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("  ", id="blank"),
        pytest.param(1, id="int"),
        pytest.param(None, id="null"),
    ],
)
def test_eligibility_type_rejects(value: object) -> None:
    segment = {"name": "s", "subscription_id": 1, "eligibility_type": value}
    error = decode_error(sample_reward(segment=segment))

    assert (error.field, error.record_id) == ("segment.eligibility_type", "541043")
    assert "expected a segment type" in error.message


def reward_with_new_fields() -> Reward:
    segment = {"name": "s", "subscription_id": 1, "eligibility_type": "inclusion", "tier": 3}
    partner = {"id": 7, "name": "Acme", "logo": "https://x/logo.png"}
    raw = sample_reward(
        segment=segment, partner_info=partner, badge={"color": "gold"}, is_featured=1
    )
    return structure(raw, Reward)


def test_keys_the_sdk_does_not_model_are_kept_read_only() -> None:
    reward = reward_with_new_fields()

    assert dict(reward.unknown_fields) == {"badge": {"color": "gold"}, "is_featured": 1}
    assert reward.segment is not None
    assert reward.partner_info is not None
    assert dict(reward.segment.unknown_fields) == {"tier": 3}
    assert dict(reward.partner_info.unknown_fields) == {"logo": "https://x/logo.png"}
    with pytest.raises(TypeError):
        reward.unknown_fields["badge"] = None  # type: ignore[index]
    coupon = structure(sample_coupon(channel="app"), UsableCoupon)
    assert dict(coupon.unknown_fields) == {"channel": "app"}


def test_documented_renamed_and_drifted_keys_are_not_unknown() -> None:
    # The docs' sample sends `sweepstake_winners` for `sweepstakes_winners`,
    # and `freq_period_id` is read into `freq_period`.
    reward = structure(sample_reward(), Reward)
    coupon = structure(sample_coupon(), UsableCoupon)

    assert "sweepstake_winners" in sample_reward()
    assert reward.unknown_fields is NO_FIELDS
    assert coupon.unknown_fields is NO_FIELDS
    # The inlined reward of the docs' page sample does not take its `paging`.
    page = structure_rewards_page(load("rewards_sample.json"), 1)
    assert page.rewards[0].unknown_fields is NO_FIELDS


def test_records_without_unknown_keys_share_one_empty_mapping() -> None:
    page = structure_rewards_page(load("rewards_page_full.json"), 1)

    # The saved page's last reward carries a key the docs do not list.
    *plain, last = page.rewards
    assert len(plain) == 9
    assert all(reward.unknown_fields is NO_FIELDS for reward in plain)
    assert set(last.unknown_fields) == {"new_field"}
    assert NO_FIELDS == {}


def test_to_dict_leaves_unknown_fields_out_unless_asked() -> None:
    reward = reward_with_new_fields()

    plain = to_dict(reward)
    assert "badge" not in plain
    assert "unknown_fields" not in plain
    assert "tier" not in plain["segment"]
    full = to_dict(reward, unknown_fields=True)
    assert (full["badge"], full["is_featured"]) == ({"color": "gold"}, 1)
    assert (full["segment"]["tier"], full["partner_info"]["logo"]) == (3, "https://x/logo.png")
    # What it wrote reads back as the same record, unknown fields and all.
    again = structure(full, Reward)
    assert again == reward
    assert again.unknown_fields == reward.unknown_fields
    page = RewardsPage(
        number=1, total=1, pages=1, rewards=(reward,), next_page=None, prev_page=None
    )
    assert to_dict(page, unknown_fields=True)["rewards"][0]["badge"] == {"color": "gold"}


def test_unknown_fields_survive_pickle_and_deepcopy_and_stay_out_of_equality() -> None:
    reward = reward_with_new_fields()

    for copied in (pickle.loads(pickle.dumps(reward)), copy.deepcopy(reward)):
        assert copied == reward
        assert copied.unknown_fields == reward.unknown_fields
        assert isinstance(copied.unknown_fields, MappingProxyType)
        assert copied.segment is not None
        assert copied.segment.unknown_fields == {"tier": 3}
    assert reward == structure(
        sample_reward(
            segment={"name": "s", "subscription_id": 1, "eligibility_type": "inclusion"},
            partner_info={"id": 7, "name": "Acme"},
        ),
        Reward,
    )


def test_extra_data_is_a_read_only_copy() -> None:
    client_data = {"city": "New York", "tags": ["a", "b"]}
    reward = structure(sample_reward(extra_data=client_data), Reward)
    client_data["city"] = "Boston"

    assert isinstance(reward.extra_data, MappingProxyType)
    assert reward.extra_data == {"city": "New York", "tags": ["a", "b"]}
    assert hash(reward) == hash(structure(sample_reward(extra_data={"other": 1}), Reward))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param([{"city": "New York"}], id="array"),
        pytest.param("city=New York", id="string"),
        pytest.param(1, id="int"),
        pytest.param(False, id="bool"),
    ],
)
def test_extra_data_rejects(value: object) -> None:
    error = decode_error(sample_reward(extra_data=value))

    assert (error.field, error.record_id) == ("extra_data", "541043")
    assert "expected a JSON object" in error.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"segment": "5x login"}, "segment", id="segment-string"),
        pytest.param({"segment": [1]}, "segment", id="segment-array"),
        pytest.param(
            {"segment": {"name": "s", "subscription_id": "x", "eligibility_type": "inclusion"}},
            "segment.subscription_id",
            id="segment-field",
        ),
        pytest.param(
            {"segment": {"name": "s", "eligibility_type": "inclusion"}},
            "segment.subscription_id",
            id="segment-missing-field",
        ),
        pytest.param({"partner_info": {"id": {}, "name": "n"}}, "partner_info.id", id="partner"),
        pytest.param({"partner_info": 4869684}, "partner_info", id="partner-int"),
    ],
)
def test_nested_record_errors(changes: dict[str, object], field: str) -> None:
    error = decode_error(sample_reward(**changes))

    assert (error.field, error.record_id) == (field, "541043")
    assert repr(field) in error.message


def test_partner_null_is_none() -> None:
    assert structure(sample_reward(partner_info=None), Reward).partner_info is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"sweepstake_winners": 7}, 7, id="drifted"),
        pytest.param({"sweepstake_winners": "7"}, 7, id="drifted-string"),
        pytest.param({"sweepstakes_winners": 5}, 5, id="documented"),
        pytest.param({"sweepstakes_winners": 5, "sweepstake_winners": 7}, 5, id="both"),
        pytest.param({"sweepstakes_winners": None, "sweepstake_winners": 7}, None, id="both-null"),
    ],
)
def test_sweepstakes_winners_spellings(changes: dict[str, object], expected: int | None) -> None:
    # The sample itself sends "sweepstake_winners": null.
    assert structure(sample_reward(**changes), Reward).sweepstakes_winners == expected


def test_drifted_spelling_error_names_the_key_sent() -> None:
    error = decode_error(sample_reward(sweepstake_winners="many"))

    assert (error.field, error.record_id) == ("sweepstake_winners", "541043")


@pytest.mark.parametrize(
    ("changes", "order_id", "coupon_id"),
    [
        pytest.param({}, 28184278, 17298195, id="drifted"),
        pytest.param(
            {"redeem_order_id": 1, "redeem_order_coupon_id": 2}, 1, 2, id="both-documented-wins"
        ),
    ],
)
def test_coupon_id_spellings(changes: dict[str, object], order_id: int, coupon_id: int) -> None:
    coupon = structure(sample_coupon(**changes), UsableCoupon)

    assert (coupon.redeem_order_id, coupon.redeem_order_coupon_id) == (order_id, coupon_id)


def test_coupon_with_documented_spelling_only() -> None:
    raw = sample_coupon()
    raw["redeem_order_id"] = raw.pop("reward_order_id")
    raw["redeem_order_coupon_id"] = raw.pop("reward_order_coupon_id")

    assert structure(raw, UsableCoupon) == structure(sample_coupon(), UsableCoupon)


def test_unknown_keys_are_ignored() -> None:
    reward = structure(sample_reward(brand_new_field={"a": [1]}, another=None), Reward)

    assert reward == structure(sample_reward(), Reward)


@pytest.mark.parametrize("field", ["id", "title", "date_start", "is_enabled", "image"])
def test_missing_required_field(field: str) -> None:
    reward = sample_reward()
    del reward[field]
    error = decode_error(reward)

    assert error.field == field
    assert error.record_id == (None if field == "id" else "541043")
    assert f"field {field!r}: required field is missing" in error.message


@pytest.mark.parametrize(
    ("reward_id", "expected"),
    [
        pytest.param(541043, "541043", id="int"),
        pytest.param([541043], None, id="array"),
        pytest.param(True, None, id="bool"),
        pytest.param("", None, id="empty"),
    ],
)
def test_record_id_in_errors(reward_id: object, expected: str | None) -> None:
    error = decode_error(sample_reward(id=reward_id, num_points="many"))

    assert error.record_id == expected
    if expected is None:
        assert "(id unknown)" in error.message


def test_coupon_error_names_the_coupon() -> None:
    with pytest.raises(ResponseDecodeError) as info:
        structure_coupons([sample_coupon(), sample_coupon(reward_order_coupon_id=5, batch_num="x")])

    error = info.value
    assert (error.field, error.record_id) == ("batch_num", "5")
    assert error.message.startswith("invalid usable coupon '5' at [1]: field 'batch_num': ")


def test_coupon_error_without_the_value() -> None:
    # A bad code must not be echoed: it may be a credential in the wrong shape.
    error = decode_error(sample_coupon(code=["ACC58191285"]), UsableCoupon)

    assert error.field == "code"
    assert "ACC58191285" not in error.message


def test_errors_chain_the_cattrs_error() -> None:
    error = decode_error(sample_reward(date_start="soon"))

    assert error.__cause__ is not None


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(None, id="null"),
        pytest.param("reward", id="string"),
        pytest.param(42, id="int"),
        pytest.param([sample_reward()], id="array"),
    ],
)
def test_structure_non_object(data: object) -> None:
    error = decode_error(data)

    assert (error.field, error.record_id) == (None, None)
    assert error.message.startswith("invalid reward (id unknown): expected a JSON object")


def test_structure_other_types() -> None:
    assert structure(" 12 ", int) == 12
    assert structure("1", bool) is True
    assert structure({"id": "7", "name": "Acme"}, Partner) == Partner(id=7, name="Acme")
    with pytest.raises(ResponseDecodeError, match="invalid int: expected an integer"):
        structure("twelve", int)


def test_structure_page_error_path() -> None:
    page = unstructure(structure_rewards_page(load("rewards_page_full.json"), 2))
    page["rewards"][4]["min_age"] = "old"
    error = decode_error(page, RewardsPage)

    assert (error.field, error.record_id) == ("rewards[4].min_age", "541044")


# -- rewards page shapes ------------------------------------------------------


def test_page_with_rewards_list() -> None:
    page = structure_rewards_page(
        {"paging": {"total": 2, "pages": 1}, "rewards": [sample_reward(), sample_reward(id="2")]},
        1,
    )

    assert [reward.id for reward in page.rewards] == ["541043", "2"]
    assert (page.total, page.pages, page.next_page, page.prev_page) == (2, 1, None, None)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"paging": {"total": 0}, "rewards": []}, id="empty-list"),
        pytest.param({"paging": {"total": 0}, "rewards": None}, id="null"),
        pytest.param({"paging": {"total": 0}}, id="missing"),
        pytest.param({}, id="empty-object"),
    ],
)
def test_page_without_rewards(payload: dict[str, Any]) -> None:
    assert structure_rewards_page(payload, 1).rewards == ()


def test_page_with_inlined_reward_and_null_rewards() -> None:
    page = structure_rewards_page({**load("rewards_sample.json"), "rewards": None}, 1)

    assert [reward.id for reward in page.rewards] == ["541043"]


def test_page_with_inlined_broken_reward() -> None:
    with pytest.raises(ResponseDecodeError) as info:
        structure_rewards_page({**load("rewards_sample.json"), "num_points": "lots"}, 1)

    assert (info.value.field, info.value.record_id) == ("num_points", "541043")


@pytest.mark.parametrize(
    "paging",
    [
        pytest.param(None, id="null"),
        pytest.param([133, 14], id="array"),
        pytest.param("133", id="string"),
        pytest.param({}, id="empty"),
    ],
)
def test_page_without_usable_paging(paging: object) -> None:
    page = structure_rewards_page({"paging": paging, "rewards": [sample_reward()]}, 3)

    assert (page.number, page.total, page.pages, page.next_page, page.prev_page) == (
        3,
        None,
        None,
        None,
        None,
    )
    assert len(page.rewards) == 1


def test_page_without_paging_key() -> None:
    page = structure_rewards_page({"rewards": []}, 1)

    assert (page.total, page.pages, page.next_page, page.prev_page) == (None, None, None, None)


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        pytest.param(133, 133, id="int"),
        pytest.param("133", 133, id="str"),
        pytest.param(0, 0, id="zero"),
        pytest.param(133.0, 133, id="integral-float"),
        pytest.param(-1, None, id="negative"),
        pytest.param("many", None, id="word"),
        pytest.param(True, None, id="bool"),
        pytest.param(None, None, id="null"),
    ],
)
def test_page_total(total: object, expected: int | None) -> None:
    assert structure_rewards_page({"paging": {"total": total}}, 1).total == expected


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        pytest.param(14, 14, id="int"),
        pytest.param("14", 14, id="str"),
        pytest.param(" 14 ", 14, id="str-padded"),
        pytest.param(14.0, 14, id="integral-float"),
        pytest.param(0, 0, id="zero"),
        pytest.param(-2, None, id="negative"),
        pytest.param("fourteen", None, id="word"),
        pytest.param(14.5, None, id="fractional"),
        pytest.param(True, None, id="bool"),
        pytest.param(None, None, id="null"),
        pytest.param({}, None, id="object"),
    ],
)
def test_page_pages(pages: object, expected: int | None) -> None:
    assert structure_rewards_page({"paging": {"pages": pages}}, 1).pages == expected


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="array"),
        pytest.param("rewards", id="string"),
        pytest.param(42, id="int"),
    ],
)
def test_page_payload_not_an_object(payload: object) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        structure_rewards_page(payload, 1)

    assert (info.value.field, info.value.record_id) == ("rewards", None)
    assert "expected a JSON object" in info.value.message


@pytest.mark.parametrize(
    "rewards",
    [
        pytest.param("none", id="string"),
        pytest.param({"0": {}}, id="object"),
        pytest.param(10, id="int"),
        pytest.param(False, id="bool"),
    ],
)
def test_page_rewards_not_a_list(rewards: object) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        structure_rewards_page({"paging": {}, "rewards": rewards}, 1)

    assert info.value.field == "rewards"
    assert "expected a JSON array" in info.value.message


@pytest.mark.parametrize(
    "item",
    [
        pytest.param(3, id="int"),
        pytest.param("541043", id="string"),
        pytest.param(None, id="null"),
        pytest.param([sample_reward()], id="array"),
    ],
)
def test_page_item_not_an_object(item: object) -> None:
    rewards = [sample_reward(id=str(i)) for i in range(3)] + [item]
    with pytest.raises(ResponseDecodeError) as info:
        structure_rewards_page({"rewards": rewards}, 1)

    assert (info.value.field, info.value.record_id) == ("rewards[3]", None)
    assert info.value.message.startswith("invalid reward (id unknown) at rewards[3]: ")


def test_page_item_with_a_bad_field() -> None:
    rewards = [sample_reward(id=str(i)) for i in range(3)]
    rewards.append(sample_reward(id="X-9", date_start="yesterday"))
    with pytest.raises(ResponseDecodeError) as info:
        structure_rewards_page({"rewards": rewards}, 1)

    error = info.value
    assert (error.field, error.record_id) == ("date_start", "X-9")
    assert error.message == (
        "invalid reward 'X-9' at rewards[3]: field 'date_start': "
        "expected a unix timestamp or an ISO 8601 date, got string 'yesterday'"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        pytest.param(None, "got null", id="null"),
        pytest.param(2, "got int 2", id="int"),
        pytest.param(2**64 - 1, f"got int {2**64 - 1}", id="int-64-bits"),
        pytest.param(2**64, "got a very large int", id="int-65-bits"),
        pytest.param(1.5, "got float 1.5", id="float"),
        pytest.param({"a": 1}, "got a JSON object", id="object"),
        pytest.param([1, 2], "got a JSON array", id="array"),
        pytest.param("x" * 40, f"got string {'x' * 40!r}", id="string-at-the-limit"),
        pytest.param("x" * 41, f"got string {'x' * 40 + '…'!r}", id="string-cut"),
    ],
)
def test_a_bad_value_is_described_briefly(value: object, shown: str) -> None:
    error = decode_error(sample_reward(is_enabled=value))

    assert error.message.endswith(f"expected a boolean (0/1, true/false), {shown}")


def test_a_bad_bool_is_described_as_itself() -> None:
    error = decode_error(sample_reward(date_start=True))

    assert error.message.endswith("expected a unix timestamp or an ISO 8601 date, got True")


@pytest.mark.parametrize(
    ("record_id", "kept"),
    [
        pytest.param(2**64 - 1, str(2**64 - 1), id="int-64-bits"),
        pytest.param(2**64, None, id="int-65-bits"),
        pytest.param("  ", None, id="blank"),
    ],
)
def test_an_error_names_a_record_id_that_is_plausible(record_id: object, kept: str | None) -> None:
    error = decode_error(sample_reward(id=record_id, date_start="yesterday"))

    assert error.record_id == kept


def test_a_bad_coupon_listing_names_what_it_got() -> None:
    with pytest.raises(ResponseDecodeError) as info:
        structure_coupons("not coupons")

    assert info.value.message == (
        "invalid usable coupons: expected a JSON array of coupons, a coupon, or an "
        "object holding one array of coupons; got string 'not coupons'"
    )


# -- coupon listing shapes ----------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(load("coupons_array.json"), id="array"),
        pytest.param({"usable_coupons": load("coupons_array.json")}, id="wrapped"),
        pytest.param({"data": load("coupons_array.json"), "count": 2}, id="wrapped-with-count"),
    ],
)
def test_coupon_listings(payload: object) -> None:
    coupons = structure_coupons(payload)

    assert [coupon.redeem_order_coupon_id for coupon in coupons] == [17298195, 17298198]


def test_single_coupon_object() -> None:
    (coupon,) = structure_coupons(sample_coupon())

    assert coupon.code == "ACC58191285"


def test_empty_coupon_listings() -> None:
    assert structure_coupons([]) == ()
    assert structure_coupons({"usable_coupons": []}) == ()


@pytest.mark.parametrize("missing", ["reward_id", "code"])
def test_single_coupon_object_missing_a_field(missing: str) -> None:
    # Either key is enough to recognise a coupon, so the other one is reported missing.
    payload = {key: value for key, value in sample_coupon().items() if key != missing}
    with pytest.raises(ResponseDecodeError) as info:
        structure_coupons(payload)

    assert (info.value.field, info.value.record_id) == (missing, "17298195")


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(42, id="int"),
        pytest.param("x", id="string"),
        pytest.param(None, id="null"),
        pytest.param(True, id="bool"),
        pytest.param({}, id="empty-object"),
        pytest.param({"a": 1}, id="no-array"),
        pytest.param({"a": [], "b": []}, id="two-arrays"),
    ],
)
def test_coupon_listing_garbage(payload: object) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        structure_coupons(payload)

    assert (info.value.field, info.value.record_id) == (None, None)
    assert info.value.message.startswith("invalid usable coupons: ")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param([1], "[0]", id="array"),
        pytest.param({"usable_coupons": [sample_coupon(), "x"]}, "usable_coupons[1]", id="wrapped"),
    ],
)
def test_coupon_listing_item_not_an_object(payload: object, field: str) -> None:
    with pytest.raises(ResponseDecodeError) as info:
        structure_coupons(payload)

    assert (info.value.field, info.value.record_id) == (field, None)


# -- links --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        pytest.param("https://api[client_id].ct.com/v2.1/rewards?page=2&api_key=", 2, id="docs"),
        pytest.param(
            "https://api[client_id].ct.com/v2.1/rewards?page=21&api_key=", 21, id="docs-prev"
        ),
        pytest.param("http://example.ct.com/v2.1/rewards?page=3", 3, id="docs-table"),
        pytest.param("https://h/x?api_key=K&page=4#top", 4, id="page-last"),
        pytest.param("/v2.1/rewards?page=5", 5, id="relative"),
        pytest.param("?page=6", 6, id="query-only"),
        pytest.param("rewards?page=%37", 7, id="percent-encoded"),
        pytest.param("rewards?page=+8+", 8, id="padded"),
        pytest.param("rewards?page=9&page=10", 9, id="repeated"),
        pytest.param("http://[::1/rewards?page=11", 11, id="broken-host"),
        pytest.param(None, None, id="null"),
        pytest.param(2, None, id="int"),
        pytest.param("", None, id="empty"),
        pytest.param("page=2", None, id="no-question-mark"),
        pytest.param("rewards?page=abc", None, id="word"),
        pytest.param("rewards?page=0", None, id="zero"),
        pytest.param("rewards?page=-1", None, id="negative"),
        pytest.param("rewards?page=1.5", None, id="decimal"),
        pytest.param("rewards?page=", None, id="blank"),
        pytest.param("rewards?api_key=", None, id="no-page"),
        pytest.param("rewards#frag?page=2", None, id="page-in-fragment"),
        pytest.param("rewards?page=" + "9" * 5000, None, id="too-many-digits"),
        pytest.param("\x00?\x00=&&&==", None, id="junk"),
    ],
)
def test_page_number_from_link(link: object, expected: int | None) -> None:
    assert page_number_from_link(link) == expected


# -- unstructure --------------------------------------------------------------


def test_unstructure_uses_the_api_names_and_json_types() -> None:
    reward = structure(
        sample_reward(freq_period_id="2", sweepstake_winners=4, extra_data={"city": "NYC"}), Reward
    )
    data = unstructure(reward)

    assert data["freq_period_id"] == 2
    assert type(data["freq_period_id"]) is int
    assert "freq_period" not in data
    assert data["sweepstakes_winners"] == 4
    assert data["date_start"] == "2014-06-06T12:31:00+00:00"
    assert data["date_end"] is None
    assert data["extra_data"] == {"city": "NYC"}
    assert type(data["extra_data"]) is dict
    assert data["segment"] == {
        "name": "5x login",
        "subscription_id": 123,
        "eligibility_type": "inclusion",
    }
    assert type(data["segment"]["eligibility_type"]) is str
    assert json.loads(json.dumps(data)) == data


def test_unstructure_coupon() -> None:
    (coupon, _) = structure_coupons(load("coupons_array.json"))
    data = unstructure(coupon)

    assert (data["redeem_order_id"], data["redeem_order_coupon_id"]) == (28184278, 17298195)
    assert data["code"] == "ACC58191285"
    assert data["date_to_expire"] == "2016-11-18T06:30:27+00:00"


def test_unstructure_page() -> None:
    page = structure_rewards_page(load("rewards_page_full.json"), 2)
    data = unstructure(page)

    assert type(data["rewards"]) is list
    assert (data["number"], data["next_page"], data["prev_page"]) == (2, 3, 1)
    assert json.loads(json.dumps(data)) == data
    assert structure(data, RewardsPage) == page


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("rewards_sample.json", id="docs-sample"),
        pytest.param("rewards_page_full.json", id="full-page"),
    ],
)
def test_rewards_round_trip(name: str) -> None:
    for reward in structure_rewards_page(load(name), 1).rewards:
        assert structure(unstructure(reward), Reward) == reward


def test_coupons_round_trip() -> None:
    for coupon in structure_coupons(load("coupons_array.json")):
        assert structure(unstructure(coupon), UsableCoupon) == coupon


# -- edges the mutation audit found untested ----------------------------------


@pytest.mark.parametrize(
    ("value", "cls", "message"),
    [
        pytest.param(1.5, str, "invalid str: expected a string, got float 1.5", id="str"),
        pytest.param(
            10**15,
            datetime,
            "invalid datetime: timestamp out of range: int 1000000000000000",
            id="timestamp",
        ),
        pytest.param(
            "2014-13-01",
            datetime,
            "invalid datetime: expected a unix timestamp or an ISO 8601 date, "
            "got string '2014-13-01'",
            id="iso-bad-month",
        ),
        pytest.param(
            "9999-12-31T23:00:00-05:00",
            datetime,
            "invalid datetime: date out of range: string '9999-12-31T23:00:00-05:00'",
            id="iso-overflow",
        ),
        pytest.param(
            3,
            EligibilityType,
            "invalid EligibilityType: expected a segment type such as 'inclusion', got int 3",
            id="eligibility-type",
        ),
        pytest.param((1, 2), int, "invalid int: expected an integer, got tuple", id="not-json"),
        pytest.param(
            "abc",
            int | None,
            "invalid int | None: expected an integer, got string 'abc'",
            id="a-type-without-a-name",
        ),
    ],
)
def test_an_error_names_the_type_and_the_value_it_got(
    value: object, cls: Any, message: str
) -> None:
    error = decode_error(value, cls)

    assert (error.message, error.field, error.record_id) == (message, None, None)


def test_a_bad_json_object_field_names_what_it_got() -> None:
    error = decode_error(sample_reward(extra_data=[1]))

    assert error.message == (
        "invalid reward '541043': field 'extra_data': expected a JSON object, got a JSON array"
    )


@pytest.fixture
def kolkata_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is UTC+05:30 for the test."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        yield
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.usefixtures("kolkata_local_time")
def test_a_time_without_an_offset_is_utc_whatever_the_local_zone() -> None:
    assert time.localtime(0).tm_gmtoff == 5 * 3600 + 1800  # the zone took
    start = structure(sample_reward(date_start="2014-06-06T12:31:00"), Reward).date_start

    assert start == JUNE_6
    assert start.tzinfo is UTC


def test_the_documented_spelling_is_named_when_both_are_sent_and_it_is_bad() -> None:
    error = decode_error(sample_reward(sweepstakes_winners="many", sweepstake_winners=3))

    assert error.field == "sweepstakes_winners"
    assert error.message == (
        "invalid reward '541043': field 'sweepstakes_winners': expected an integer, "
        "got string 'many'"
    )


@pytest.mark.parametrize(
    ("data", "cls", "field", "reason"),
    [
        pytest.param(
            ["7", "x"], list[int], "[1]", "expected an integer, got string 'x'", id="list"
        ),
        # cattrs iterates an object where an array is expected: its keys are the items.
        pytest.param(
            {"a": 1}, list[int], "[0]", "expected an integer, got string 'a'", id="object"
        ),
        pytest.param(
            (sample_reward(), sample_reward(date_start="yesterday")),
            tuple[Reward, ...],
            "[1].date_start",
            "expected a unix timestamp or an ISO 8601 date, got string 'yesterday'",
            id="tuple-of-records",
        ),
    ],
)
def test_an_error_in_a_sequence_names_the_index(
    data: object, cls: Any, field: str, reason: str
) -> None:
    error = decode_error(data, cls)

    assert error.field == field
    assert error.message.endswith(f": field {field!r}: {reason}")


def test_a_sequence_of_the_wrong_length_is_reported() -> None:
    error = decode_error([1], tuple[int, int])

    assert (
        error.message == "invalid tuple: Not enough values in [1] to structure as tuple[int, int]"
    )
    assert error.field is None


class _Unreadable(Mapping[str, Any]):
    """A mapping that fails, without a message, when it is copied."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError


def test_a_record_that_fails_to_build_is_a_decode_error_naming_the_failure() -> None:
    # Not a field's value but the record's construction (the copy of extra_data).
    error = decode_error(sample_reward(extra_data=_Unreadable()))

    assert (error.message, error.field, error.record_id) == (
        "invalid reward '541043': RuntimeError",
        None,
        "541043",
    )
    assert isinstance(error.__cause__, Exception)


def test_a_key_named_unknown_fields_is_itself_an_unknown_field() -> None:
    reward = structure(sample_reward(unknown_fields={"a": 1}), Reward)

    assert dict(reward.unknown_fields) == {"unknown_fields": {"a": 1}}


def test_a_record_that_is_not_an_object_says_what_it_got() -> None:
    error = decode_error(42)

    assert error.message == "invalid reward (id unknown): expected a JSON object, got int 42"


def test_a_bad_record_in_a_read_only_mapping_names_its_field() -> None:
    error = decode_error(MappingProxyType(sample_reward(date_start="yesterday")))

    assert (error.field, error.record_id) == ("date_start", "541043")
    assert error.message == (
        "invalid reward '541043': field 'date_start': expected a unix timestamp or an "
        "ISO 8601 date, got string 'yesterday'"
    )


def test_the_text_none_is_no_known_enum_value() -> None:
    # Neither the int enum's digits nor the str enum's values include "None".
    error = decode_error(sample_reward(freq_period_id="None"))
    assert (error.field, error.record_id) == ("freq_period_id", "541043")
    assert error.message.endswith("expected an integer, got string 'None'")

    segment = {"name": "s", "subscription_id": 1, "eligibility_type": "None"}
    reward = structure(sample_reward(segment=segment), Reward)
    assert reward.segment is not None
    kind = reward.segment.eligibility_type
    assert (kind.name, kind.value, kind.known) == ("UNKNOWN", "None", False)


def test_an_int_subclass_is_read_as_a_plain_int() -> None:
    value = structure(FrequencyPeriod(3), int)

    assert (value, type(value)) == (3, int)
