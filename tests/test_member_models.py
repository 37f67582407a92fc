"""The member API's models (issue 20): `ct.User`, `ct.Points`, `ct.Activity`, `ct.Redemption`,
the answers of the writes (`ct.RedemptionResult`, `ct.ActivityCredit`, `ct.CouponResult`)
and `ct.Shipping`, read from the shapes CrowdTwist's pages document and the API sends.
"""

from __future__ import annotations

import contextlib
import copy
import json
import pickle
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crowdtwist_async as ct

# Private on purpose: the structure functions are the payload layer's own,
# tested on any input with no session around.
from crowdtwist_async._converter import structure, to_dict, unstructure
from crowdtwist_async._payload import (
    structure_activity_credit,
    structure_coupon_result,
    structure_points,
    structure_redemption_result,
    structure_user,
)

from .json_support import JSON, mutated
from .sample_data import NO_FIELDS

UTC = timezone.utc

# The real User Profile response of 3 Aug 2021 (the Postman collection), verbatim.
PROFILE_2021 = """
{"id": 261947736, "first_name": "Jacob", "middle_name": null, "last_name": "OracleCrowdTwist", "date_of_birth": null,
 "email_address": "oraclecrowdtwist@gmail.com", "email_is_verified": true, "username": "oraclecrowdtwist",
 "mobile_phone_number": "2098090783", "third_party_id": null, "is_active": true, "gender_id": null, "gender": null,
 "extra_data": null, "continent": "North America", "country": "United States", "us_region": "West", "ca_province": null,
 "state": "CA", "city": "San Francisco", "street_address_1": null, "street_address_2": null, "postal_code": "94111",
 "receive_email_updates": false, "date_receive_email_opt_in": null, "date_receive_email_opt_out": null,
 "total_points": 310, "redeemable_points": 310, "num_points_purchased": 0, "facebook_access_token": null,
 "facebook_user_id": null, "date_fb_token_expires": null, "twitter_oauth_token": null, "twitter_oauth_token_secret": null,
 "pinterest_access_token": null, "pinterest_user_id": null, "inst_access_token": null, "inst_username": null,
 "inst_user_id": null, "activity_stream_opt_in": true, "store_id": null, "date_last_login": 1623193474,
 "date_last_updated": 1627934651, "date_created": 1623193418, "rank": null, "weekly_rank": null, "monthly_rank": null,
 "password": null, "salt": null, "hash_algorithm_id": "5", "password_generated": "0", "lang_pref": null,
 "sign_up_channel_id": "2", "referral_url": "https://www.bowlero.com/mvbrewards-login?_cts_=iuCxccxH",
 "fan_level": "Member",
 "tier_info": {"timeframe_score": null, "tier_score": null,
   "current_level": {"title": "Member", "min_value": 0, "max_value": 100000000, "image_url": null},
   "next_level": null, "levels_above": [], "levels_below": [], "date_assigned": null, "expiration_date": null,
   "reset_date": null, "score_needed_to_reach": null, "score_needed_to_maintain": null,
   "days_until_expiration_date": null, "days_until_reset_date": null, "is_maintenance_mode": null,
   "date_reached": null, "assigned_by_event": null},
 "segments": [], "household_id": null,
 "custom_data": {"opt_in_email": "true", "store_loc": "575"}}
"""

SECRETS = (
    "facebook_access_token",
    "twitter_oauth_token",
    "twitter_oauth_token_secret",
    "pinterest_access_token",
    "inst_access_token",
    "password",
    "salt",
)


def profile(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(PROFILE_2021)
    data.update(changes)
    return data


def decode_error(call: Callable[[], object]) -> ct.ResponseDecodeError:
    with pytest.raises(ct.ResponseDecodeError) as caught:
        call()
    return caught.value


# -- User ---------------------------------------------------------------------


def test_the_real_2021_profile() -> None:
    user = structure_user(profile())

    assert (user.id, user.first_name, user.middle_name, user.last_name) == (
        261947736,
        "Jacob",
        None,
        "OracleCrowdTwist",
    )
    assert (user.email_address, user.email_is_verified, user.username) == (
        "oraclecrowdtwist@gmail.com",
        True,
        "oraclecrowdtwist",
    )
    assert (user.mobile_phone_number, user.third_party_id, user.is_active) == (
        "2098090783",
        None,
        True,
    )
    assert (user.continent, user.country, user.us_region, user.state, user.city) == (
        "North America",
        "United States",
        "West",
        "CA",
        "San Francisco",
    )
    assert user.postal_code == "94111"
    assert (user.receive_email_updates, user.activity_stream_opt_in) == (False, True)
    assert (user.total_points, user.redeemable_points, user.num_points_purchased) == (310, 310, 0)
    assert user.date_created == datetime(2021, 6, 8, 23, 3, 38, tzinfo=UTC)
    assert user.date_created.utcoffset() is not None
    assert user.date_last_login == datetime(2021, 6, 8, 23, 4, 34, tzinfo=UTC)
    assert user.date_last_updated == datetime(2021, 8, 2, 20, 4, 11, tzinfo=UTC)
    assert (user.date_receive_email_opt_in, user.date_receive_email_opt_out) == (None, None)
    assert (user.fan_level, user.lang_pref, user.store_id, user.household_id) == (
        "Member",
        None,
        None,
        None,
    )
    assert (user.gender_id, user.gender, user.extra_data, user.date_of_birth) == (
        None,
        None,
        None,
        None,
    )
    assert user.custom_data == {"opt_in_email": "true", "store_loc": "575"}
    assert user.tier_info is not None
    assert user.tier_info["current_level"] == {
        "title": "Member",
        "min_value": 0,
        "max_value": 100000000,
        "image_url": None,
    }
    assert user.segments == ()


def test_the_profile_keys_not_modelled_secrets_included_are_unknown_fields() -> None:
    user = structure_user(profile())

    assert set(user.unknown_fields) == {
        *SECRETS,
        "facebook_user_id",
        "date_fb_token_expires",
        "pinterest_user_id",
        "inst_username",
        "inst_user_id",
        "rank",
        "weekly_rank",
        "monthly_rank",
        "hash_algorithm_id",
        "password_generated",
        "sign_up_channel_id",
        "referral_url",
    }
    assert user.unknown_fields["hash_algorithm_id"] == "5"
    for name in SECRETS:
        assert not hasattr(user, name)


def test_a_profile_repr_shows_no_personal_data_nor_secrets() -> None:
    tokens = {name: f"{name}-VALUE-{index}x9" for index, name in enumerate(SECRETS)}
    user = structure_user(profile(**tokens, third_party_id="A4364BX"))

    expected = (
        "User(id=261947736, third_party_id='A4364BX', is_active=True, fan_level='Member', "
        "total_points=310, redeemable_points=310)"
    )
    assert repr(user) == expected
    assert str(user) == expected
    assert user.unknown_fields["password"] == "password-VALUE-5x9"
    for text in (repr(user), str(user)):
        for name, value in tokens.items():
            assert value not in text
            assert name not in text
        for personal in ("oraclecrowdtwist", "2098090783", "Jacob", "94111", "San Francisco"):
            assert personal not in text


def test_a_profile_with_the_old_pages_types() -> None:
    # The old page types names and postal_code as Integer and flags as
    # Integer or String; a User Update answer sent gender_id as "2"; tier
    # dates are ISO strings; "" means no value.
    user = structure_user(
        {
            "id": "16",
            "email_is_verified": 1,
            "is_active": "1",
            "receive_email_updates": "false",
            "activity_stream_opt_in": "0",
            "postal_code": 10001,
            "gender_id": "2",
            "gender": "Male",
            "total_points": "1000",
            "date_created": "2021-09-01T23:11:32Z",
            "date_last_login": "1623193474",
            "date_receive_email_opt_in": "",
            "store_id": 575,
            "segments": None,
            "extra_data": {"city": "New York"},
        }
    )

    assert (user.id, user.email_is_verified, user.is_active) == (16, True, True)
    assert (user.receive_email_updates, user.activity_stream_opt_in) == (False, False)
    assert (user.postal_code, user.gender_id, user.gender) == ("10001", 2, "Male")
    assert (user.total_points, user.store_id) == (1000, "575")
    assert user.date_created == datetime(2021, 9, 1, 23, 11, 32, tzinfo=UTC)
    assert user.date_last_login == datetime(2021, 6, 8, 23, 4, 34, tzinfo=UTC)
    assert user.date_receive_email_opt_in is None
    assert user.segments == ()
    assert user.extra_data == {"city": "New York"}
    assert user.unknown_fields is NO_FIELDS


def test_a_profile_without_pii_has_only_its_ids() -> None:
    user = structure_user(
        {"id": 464565755, "third_party_id": "A4364BX", "email_is_verified": True, "is_active": True}
    )

    assert user == ct.User(
        id=464565755, third_party_id="A4364BX", email_is_verified=True, is_active=True
    )
    assert (user.email_address, user.total_points, user.custom_data, user.segments) == (
        None,
        None,
        None,
        (),
    )


def test_profile_mappings_are_read_only_copies() -> None:
    custom = {"store_loc": "575"}
    segment = {"name": "VIP"}
    user = ct.User(id=1, custom_data=custom, segments=[segment], tier_info={"tier_score": 3})
    custom["store_loc"] = "1"
    segment["name"] = "changed"

    assert user.custom_data == {"store_loc": "575"}
    assert user.segments == ({"name": "VIP"},)
    assert type(user.segments) is tuple
    mappings: tuple[Any, ...] = (user.custom_data, user.segments[0], user.tier_info)
    for mapping in mappings:
        with pytest.raises(TypeError):
            mapping["x"] = 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        user.total_points = 5  # type: ignore[misc]
    # Mappings take part in equality, not in the hash.
    assert hash(user) == hash(attrs.evolve(user, custom_data={"store_loc": "2"}))
    assert user != attrs.evolve(user, custom_data={"store_loc": "2"})


def test_profile_segments_are_read_as_objects() -> None:
    user = structure_user(profile(segments=[{"id": 5, "name": "VIP"}]))
    assert user.segments == ({"id": 5, "name": "VIP"},)

    error = decode_error(lambda: structure_user(profile(segments="VIP")))
    assert (error.field, error.record_id) == ("segments", "261947736")
    assert error.message == (
        "invalid user '261947736': field 'segments': expected a JSON array, got string 'VIP'"
    )

    error = decode_error(lambda: structure_user(profile(segments=[{"id": 5}, 7])))
    assert error.field == "segments[1]"
    assert error.message.endswith("expected a JSON object, got int 7")


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"id": None}, "id", "expected an integer, got null"),
        ({"is_active": "maybe"}, "is_active", "expected a boolean (0/1, true/false), got "),
        ({"date_created": "June"}, "date_created", "expected a unix timestamp or an ISO 8601 "),
        ({"custom_data": [1]}, "custom_data", "expected a JSON object, got a JSON array"),
    ],
)
def test_a_bad_profile_field_is_named(changes: dict[str, Any], field: str, reason: str) -> None:
    error = decode_error(lambda: structure_user(profile(**changes)))

    assert error.field == field
    assert f": field {field!r}: {reason}" in error.message


def test_a_profile_without_an_id_is_refused() -> None:
    data = profile()
    del data["id"]

    error = decode_error(lambda: structure_user(data))
    assert (error.field, error.record_id) == ("id", None)
    assert error.message == "invalid user (id unknown): field 'id': required field is missing"


def test_a_profile_that_is_not_an_object_is_refused() -> None:
    error = decode_error(lambda: structure_user([PROFILE_2021]))

    assert error.message == "invalid user (id unknown): expected a JSON object, got a JSON array"


def test_profile_to_dict_leaves_the_secrets_out_unless_asked() -> None:
    user = structure_user(profile(password="hunter2"))

    plain = to_dict(user)
    assert "password" not in plain
    assert plain["date_created"] == "2021-06-08T23:03:38+00:00"
    assert plain["custom_data"] == {"opt_in_email": "true", "store_loc": "575"}
    assert plain["segments"] == []
    assert to_dict(user, unknown_fields=True)["password"] == "hunter2"
    assert structure_user(json.loads(json.dumps(plain))) == user


# -- Points ---------------------------------------------------------------------


def test_points_as_the_api_sends_them() -> None:
    points = structure_points(
        {
            "id": "1001",
            "total_points": 4200,
            "redeemable_points": 3100,
            "num_points_purchased": 0,
            "fan_level": "Gold",
        }
    )

    assert points == ct.Points(
        id=1001, total_points=4200, redeemable_points=3100, num_points_purchased=0, fan_level="Gold"
    )
    assert points.unknown_fields is NO_FIELDS


def test_points_with_the_pages_spelling_and_numbers_as_strings() -> None:
    points = structure_points(
        {
            "id": "16",
            "Total points": "1000",
            "redeemable_points": "900",
            "num_points_purchased": "0",
            "fan_level": "New Fan",
        }
    )

    assert (points.id, points.total_points, points.redeemable_points) == (16, 1000, 900)
    assert (points.num_points_purchased, points.fan_level) == (0, "New Fan")
    # A documented spelling is not an unknown field.
    assert points.unknown_fields is NO_FIELDS


def test_points_documented_spelling_wins() -> None:
    points = structure_points(
        {"id": 16, "total_points": 5, "Total points": 7, "redeemable_points": 5}
    )

    assert points.total_points == 5


@pytest.mark.parametrize("key", ["total_points", "Total points"])
def test_a_bad_points_total_names_the_key_sent(key: str) -> None:
    error = decode_error(
        lambda: structure_points({"id": "16", key: "lots", "redeemable_points": 5})
    )

    assert (error.field, error.record_id) == (key, "16")
    assert error.message == (
        f"invalid points balance '16': field {key!r}: expected an integer, got string 'lots'"
    )


def test_points_without_a_total_are_refused() -> None:
    error = decode_error(lambda: structure_points({"id": 16, "redeemable_points": 5}))

    assert error.field == "total_points"
    assert error.message.endswith("field 'total_points': required field is missing")


# -- Activity ---------------------------------------------------------------------


def test_an_activity_as_the_fake_sends_it() -> None:
    activity = structure(
        {
            "id": 7000123,
            "activity_id": "225",
            "name": "Shared a link",
            "num_points": 100,
            "notes": None,
            "date_created": 1425404945,
            "date_awarded": 1425404945,
            "extra_data": None,
        },
        ct.Activity,
    )

    assert activity == ct.Activity(
        id="7000123",
        activity_id="225",
        name="Shared a link",
        num_points=100,
        date_created=datetime(2015, 3, 3, 17, 49, 5, tzinfo=UTC),
        date_awarded=datetime(2015, 3, 3, 17, 49, 5, tzinfo=UTC),
    )


def test_an_activity_with_the_data_models_spellings_and_quirks() -> None:
    activity = structure(
        {
            "user_activity_id": "7000124",
            "activity_id": 225,
            "activity_name": "Shared a link",
            "num_points": "1000",
            "date_created": "1425404945",
            "activity_date": "2018-04-12T12:06:37-04:00",
            "show_as_locked_by_tier": "1",
            "min_tier_id": "1",
            "extra_data": {"url": "http://www.someurl.com/shared.html"},
        },
        ct.Activity,
    )

    assert (activity.id, activity.activity_id, activity.name) == (
        "7000124",
        "225",
        "Shared a link",
    )
    assert (activity.num_points, activity.show_as_locked_by_tier, activity.min_tier_id) == (
        1000,
        True,
        1,
    )
    assert activity.date_created == datetime(2015, 3, 3, 17, 49, 5, tzinfo=UTC)
    assert activity.activity_date == datetime(2018, 4, 12, 16, 6, 37, tzinfo=UTC)
    assert activity.extra_data == {"url": "http://www.someurl.com/shared.html"}
    assert activity.unknown_fields is NO_FIELDS
    assert (
        structure(
            {"activity_id": "1", "num_points": 0, "show_as_locked_by_tier": "0"}, ct.Activity
        ).show_as_locked_by_tier
        is False
    )


def test_an_activity_with_both_spellings_keeps_the_documented_one() -> None:
    activity = structure(
        {
            "id": 1,
            "user_activity_id": 2,
            "name": "a",
            "activity_name": "b",
            "activity_id": "9",
            "num_points": 1,
        },
        ct.Activity,
    )

    assert (activity.id, activity.name) == ("1", "a")


def test_a_bad_activity_names_itself_by_either_id() -> None:
    error = decode_error(
        lambda: structure(
            {"user_activity_id": 7000124, "activity_id": "225", "num_points": "many"}, ct.Activity
        )
    )

    assert (error.field, error.record_id) == ("num_points", "7000124")
    assert error.message == (
        "invalid activity '7000124': field 'num_points': expected an integer, got string 'many'"
    )


# -- Redemption ---------------------------------------------------------------------


def test_a_redemption_with_numbers_as_strings() -> None:
    redemption = structure(
        {
            "id": "5000101",
            "reward_id": "64",
            "reward_title": "Free ct.Shipping on Your Next Order",
            "points": "500",
            "quantity": "2",
            "status": "pending",
            "date_redeemed": "1623193418",
        },
        ct.Redemption,
    )

    assert redemption == ct.Redemption(
        id="5000101",
        reward_id=64,
        reward_title="Free ct.Shipping on Your Next Order",
        points=500,
        quantity=2,
        status="pending",
        date_redeemed=datetime(2021, 6, 8, 23, 3, 38, tzinfo=UTC),
    )


def test_a_redemption_as_the_fake_sends_it() -> None:
    redemption = structure(
        {
            "id": 5000102,
            "reward_id": 3001,
            "reward_title": "Mug",
            "points": 250,
            "status": "fulfilled",
            "date_redeemed": 1623193418,
        },
        ct.Redemption,
    )

    assert (redemption.id, redemption.points, redemption.quantity) == ("5000102", 250, None)


def test_a_redemption_without_its_date_is_refused() -> None:
    error = decode_error(lambda: structure({"id": 5, "reward_id": 64}, ct.Redemption))

    assert (error.field, error.record_id) == ("date_redeemed", "5")
    assert error.message == (
        "invalid redemption '5': field 'date_redeemed': required field is missing"
    )


# -- the answers of the writes --------------------------------------------------


def test_an_empty_redemption_answer_reads() -> None:
    result = structure_redemption_result({})

    assert result == ct.RedemptionResult()
    assert (result.order_id, result.reward_id, result.quantity) == (None, None, None)
    assert (result.total_points_redeemed, result.ending_balance) == (None, None)
    assert (result.codes, result.digital_download) == ((), None)
    assert structure_redemption_result(None) == ct.RedemptionResult()


def test_a_full_redemption_answer() -> None:
    result = structure_redemption_result(
        {
            "order_id": "9001",
            "reward_id": 64,
            "quantity": "1",
            "total_points_redeemed": 500,
            "ending_balance": "3600",
            "codes": ["ACC58191285", "ACC58191286"],
            "digital_download": "https://cdn.example.com/d/8fa3c2/ebook.pdf",
        }
    )

    assert (result.order_id, result.reward_id, result.quantity) == (9001, 64, 1)
    assert (result.total_points_redeemed, result.ending_balance) == (500, 3600)
    assert result.codes == ("ACC58191285", "ACC58191286")
    assert repr(result) == (
        "RedemptionResult(order_id=9001, reward_id=64, quantity=1, total_points_redeemed=500, "
        "ending_balance=3600, codes=('*******1285', '*******1286'), "
        "digital_download='**************************************.pdf')"
    )
    for text in (repr(result), str(result)):
        assert "ACC58191285" not in text
        assert "8fa3c2" not in text


def test_a_redemption_answer_with_one_code_and_the_old_order_id() -> None:
    result = structure_redemption_result({"redeem_order_id": 77, "codes": "ACC58191285"})

    assert (result.order_id, result.codes) == (77, ("ACC58191285",))
    assert "codes=('*******1285',)" in repr(result)
    assert result.unknown_fields is NO_FIELDS
    assert structure_redemption_result({"codes": ""}).codes == ()


def test_a_redemption_answer_keeps_what_it_cannot_read() -> None:
    # The redemption happened: a value the SDK cannot read must not turn it
    # into an error the caller would retry.
    result = structure_redemption_result(
        {
            "order_id": "9001",
            "ending_balance": "a lot",
            "codes": [{"code": "ACC58191285"}],
            "status": "ok",
        }
    )

    assert (result.order_id, result.ending_balance, result.codes) == (9001, None, ())
    assert dict(result.unknown_fields) == {
        "ending_balance": "a lot",
        "codes": [{"code": "ACC58191285"}],
        "status": "ok",
    }
    assert "ACC58191285" not in repr(result)


def test_a_write_answer_that_is_not_an_object_says_the_write_went_through() -> None:
    error = decode_error(lambda: structure_redemption_result([1]))

    assert error.message == (
        "invalid redemption answer: expected a JSON object, got a JSON array "
        "(CrowdTwist accepted the redemption: do not send it again)"
    )
    assert error.field is None


@pytest.mark.parametrize(
    ("payload", "awarded"),
    [
        pytest.param({"awarded": True}, True, id="true"),
        pytest.param({"awarded": "1"}, True, id="string-1"),
        pytest.param({"awarded": 0}, False, id="zero"),
        pytest.param({}, None, id="empty"),
        pytest.param(None, None, id="null"),
    ],
)
def test_activity_credit_answers(payload: object, awarded: bool | None) -> None:
    credit = structure_activity_credit(payload)

    assert credit == ct.ActivityCredit(awarded=awarded)
    assert credit.awarded is awarded
    assert credit.unknown_fields is NO_FIELDS


def test_an_unreadable_activity_credit_answer_is_kept() -> None:
    credit = structure_activity_credit({"awarded": "queued"})

    assert credit.awarded is None
    assert dict(credit.unknown_fields) == {"awarded": "queued"}
    assert decode_error(lambda: structure_activity_credit("yes")).message.startswith(
        "invalid activity credit answer: expected a JSON object, got string 'yes'"
    )


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        pytest.param(
            {"success": True, "message": "Successfully submitted"},
            ct.CouponResult(success=True, message="Successfully submitted"),
            id="documented",
        ),
        pytest.param(
            {"success": "0", "message": ""},
            ct.CouponResult(success=False, message=None),
            id="quirky",
        ),
        pytest.param({}, ct.CouponResult(), id="empty"),
    ],
)
def test_coupon_answers(payload: object, expected: ct.CouponResult) -> None:
    assert structure_coupon_result(payload) == expected


def test_an_unreadable_coupon_answer_is_kept() -> None:
    result = structure_coupon_result({"success": "sure", "message": ["done"], "code": 3})

    assert (result.success, result.message) == (None, None)
    assert dict(result.unknown_fields) == {"success": "sure", "message": ["done"], "code": 3}


# -- Shipping ---------------------------------------------------------------------


def test_shipping_fields_are_the_bodys_keys() -> None:
    shipping = ct.Shipping(
        first_name="John",
        last_name="Doe",
        street_address_1="25 1st Avenue",
        street_address_2="Apt 7C",
        city="New York",
        state="NY",
        postal_code="10001",
        country="USA",
        phone_number="2125551234",
    )

    assert shipping.to_fields() == {
        "shipping_first_name": "John",
        "shipping_last_name": "Doe",
        "shipping_street_address_1": "25 1st Avenue",
        "shipping_street_address_2": "Apt 7C",
        "shipping_city": "New York",
        "shipping_state": "NY",
        "shipping_postal_code": "10001",
        "shipping_country": "USA",
        "shipping_phone_number": "2125551234",
    }
    assert ct.Shipping(city="Boston", street_address_2="").to_fields() == {
        "shipping_street_address_2": "",
        "shipping_city": "Boston",
    }
    assert ct.Shipping().to_fields() == {}


def test_shipping_repr_masks_all_but_the_country() -> None:
    shipping = ct.Shipping(first_name="John", postal_code="10001", country="USA")

    assert repr(shipping) == (
        "Shipping(first_name='***', last_name=None, street_address_1=None, "
        "street_address_2=None, city=None, state=None, postal_code='***', country='USA', "
        "phone_number=None)"
    )
    assert "John" not in str(shipping)


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [("postal_code", 10001, "int"), ("phone_number", 2125551234, "int"), ("city", b"NY", "bytes")],
)
def test_shipping_takes_only_text(field: str, value: Any, kind: str) -> None:
    with pytest.raises(TypeError) as caught:
        ct.Shipping(**{field: value})

    assert str(caught.value) == f"Shipping.{field} must be a str or None, got {kind}"
    # The value is personal data: not in the message.
    assert str(value) not in str(caught.value)
    with pytest.raises(TypeError, match=f"Shipping.{field} must be"):
        attrs.evolve(ct.Shipping(), **{field: value})


def test_shipping_reads_and_writes_json() -> None:
    shipping = structure({"city": "Boston", "postal_code": 2134, "state": ""}, ct.Shipping)

    assert shipping == ct.Shipping(city="Boston", postal_code="2134")
    assert to_dict(shipping)["city"] == "Boston"


# -- every record: pickle, deepcopy, round trip -----------------------------------


def test_records_survive_pickle_and_deepcopy() -> None:
    records: list[Any] = [
        structure_user(profile(segments=[{"name": "VIP"}], password="x")),
        structure_points({"id": 1, "Total points": 3, "redeemable_points": 2, "extra": 1}),
        structure(
            {"id": 1, "activity_id": "2", "num_points": 3, "extra_data": {"a": 1}}, ct.Activity
        ),
        structure({"id": 1, "reward_id": 2, "date_redeemed": 3}, ct.Redemption),
        structure_redemption_result({"order_id": 1, "codes": ["ABCDEFGH"], "odd": {"x": 1}}),
        structure_activity_credit({"awarded": True}),
        structure_coupon_result({"success": True, "message": "ok"}),
        ct.Shipping(city="Boston", country="US"),
    ]
    for record in records:
        for clone in (pickle.loads(pickle.dumps(record)), copy.deepcopy(record)):
            assert clone == record
            assert type(clone) is type(record)
            assert dict(getattr(clone, "unknown_fields", {})) == dict(
                getattr(record, "unknown_fields", {})
            )
    user = pickle.loads(pickle.dumps(records[0]))
    assert user.unknown_fields["password"] == "x"
    with pytest.raises(TypeError):
        user.segments[0]["name"] = "changed"
    with pytest.raises(TypeError):
        user.custom_data["store_loc"] = "1"


# -- never anything but ResponseDecodeError ---------------------------------------

SAMPLE_ACTIVITY = {
    "user_activity_id": 7,
    "activity_id": "225",
    "name": "Shared a link",
    "num_points": 100,
    "date_created": 1425404945,
    "show_as_locked_by_tier": "1",
    "extra_data": {"a": 1},
}
SAMPLE_REDEMPTION = {"id": "5", "reward_id": 64, "points": "5", "date_redeemed": 1623193418}
SAMPLE_RESULT = {"order_id": 1, "reward_id": 64, "codes": ["ABCDEFGH"], "ending_balance": 5}


def decodes_or_raises_decode_error(decode: Callable[[object], object], payload: object) -> None:
    """Any exception but `ResponseDecodeError` propagates, failing the test."""
    with contextlib.suppress(ct.ResponseDecodeError):
        decode(payload)


@settings(max_examples=100, deadline=None)
@given(
    JSON,
    mutated(profile()),
    mutated({"id": 1, "total_points": 2, "Total points": 3, "redeemable_points": 4}),
    mutated(SAMPLE_ACTIVITY),
    mutated(SAMPLE_REDEMPTION),
)
def test_arbitrary_input_never_escapes(
    anything: object,
    user: dict[str, Any],
    points: dict[str, Any],
    activity: dict[str, Any],
    redemption: dict[str, Any],
) -> None:
    for payload in (anything, user, points, activity, redemption):
        decodes_or_raises_decode_error(structure_user, payload)
        decodes_or_raises_decode_error(structure_points, payload)
        decodes_or_raises_decode_error(lambda p: structure(p, ct.Activity), payload)
        decodes_or_raises_decode_error(lambda p: structure(p, ct.Redemption), payload)
        decodes_or_raises_decode_error(lambda p: structure(p, ct.Shipping), payload)


@settings(max_examples=100, deadline=None)
@given(mutated(SAMPLE_RESULT) | JSON, mutated({"awarded": True, "success": "1", "message": "m"}))
def test_a_write_answer_that_is_an_object_always_reads(result: object, other: object) -> None:
    # The write went through: any JSON object (or null) is read, never refused.
    for payload in (result, other):
        if payload is not None and not isinstance(payload, dict):
            decodes_or_raises_decode_error(structure_redemption_result, payload)
            continue
        read = structure_redemption_result(payload)
        assert isinstance(read, ct.RedemptionResult)
        assert isinstance(structure_activity_credit(payload), ct.ActivityCredit)
        assert isinstance(structure_coupon_result(payload), ct.CouponResult)
        if isinstance(payload, dict):
            # Every key sent is either read into a field or kept.
            modelled = {"order_id", "reward_id", "quantity", "total_points_redeemed"}
            modelled |= {"ending_balance", "codes", "digital_download", "redeem_order_id"}
            assert set(payload) - modelled <= set(read.unknown_fields)


# -- unstructure, then structure, gives the record back ---------------------------

INTS = st.integers(min_value=-(2**63), max_value=2**63)
# "" and blank strings mean "no value" in optional fields, so they cannot round-trip.
PRESENT_TEXT = st.text(max_size=20).filter(lambda text: text.strip() != "")
OPTIONAL_TEXT = st.none() | PRESENT_TEXT
OPTIONAL_INTS = st.none() | INTS
OPTIONAL_BOOLS = st.none() | st.booleans()
DATETIMES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
OPTIONAL_DATETIMES = st.none() | DATETIMES
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | INTS | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
OBJECTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4)
OPTIONAL_OBJECTS = st.none() | OBJECTS

USERS = st.builds(
    ct.User,
    id=INTS,
    **dict.fromkeys(
        (
            "first_name",
            "middle_name",
            "last_name",
            "date_of_birth",
            "email_address",
            "username",
            "mobile_phone_number",
            "third_party_id",
            "gender",
            "continent",
            "country",
            "us_region",
            "ca_province",
            "state",
            "city",
            "street_address_1",
            "street_address_2",
            "postal_code",
            "store_id",
            "lang_pref",
            "fan_level",
            "household_id",
        ),
        OPTIONAL_TEXT,
    ),
    **dict.fromkeys(
        (
            "email_is_verified",
            "is_active",
            "receive_email_updates",
            "activity_stream_opt_in",
        ),
        OPTIONAL_BOOLS,
    ),
    **dict.fromkeys(
        ("gender_id", "total_points", "redeemable_points", "num_points_purchased"),
        OPTIONAL_INTS,
    ),
    **dict.fromkeys(
        (
            "date_receive_email_opt_in",
            "date_receive_email_opt_out",
            "date_last_login",
            "date_last_updated",
            "date_created",
        ),
        OPTIONAL_DATETIMES,
    ),
    **dict.fromkeys(("extra_data", "tier_info", "custom_data"), OPTIONAL_OBJECTS),
    segments=st.lists(OBJECTS, max_size=3).map(tuple),
)
POINTS = st.builds(
    ct.Points,
    id=INTS,
    total_points=INTS,
    redeemable_points=INTS,
    num_points_purchased=OPTIONAL_INTS,
    fan_level=OPTIONAL_TEXT,
)
ACTIVITIES = st.builds(
    ct.Activity,
    id=OPTIONAL_TEXT,
    activity_id=st.text(max_size=12),
    name=OPTIONAL_TEXT,
    num_points=INTS,
    notes=OPTIONAL_TEXT,
    date_created=OPTIONAL_DATETIMES,
    date_awarded=OPTIONAL_DATETIMES,
    activity_date=OPTIONAL_DATETIMES,
    show_as_locked_by_tier=OPTIONAL_BOOLS,
    min_tier_id=OPTIONAL_INTS,
    extra_data=OPTIONAL_OBJECTS,
)
REDEMPTIONS = st.builds(
    ct.Redemption,
    id=st.text(max_size=12),
    reward_id=INTS,
    reward_title=OPTIONAL_TEXT,
    points=OPTIONAL_INTS,
    quantity=OPTIONAL_INTS,
    status=OPTIONAL_TEXT,
    date_redeemed=DATETIMES,
)
RESULTS = st.builds(
    ct.RedemptionResult,
    order_id=OPTIONAL_INTS,
    reward_id=OPTIONAL_INTS,
    quantity=OPTIONAL_INTS,
    total_points_redeemed=OPTIONAL_INTS,
    ending_balance=OPTIONAL_INTS,
    codes=st.lists(st.text(max_size=12), max_size=3).map(tuple),
    digital_download=OPTIONAL_TEXT,
)
CREDITS = st.builds(ct.ActivityCredit, awarded=OPTIONAL_BOOLS)
COUPON_RESULTS = st.builds(ct.CouponResult, success=OPTIONAL_BOOLS, message=OPTIONAL_TEXT)
SHIPPINGS = st.builds(
    ct.Shipping,
    **dict.fromkeys(
        (
            "first_name",
            "last_name",
            "street_address_1",
            "street_address_2",
            "city",
            "state",
            "postal_code",
            "country",
            "phone_number",
        ),
        OPTIONAL_TEXT,
    ),
)


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        USERS,
        POINTS,
        ACTIVITIES,
        REDEMPTIONS,
        RESULTS,
        CREDITS,
        COUPON_RESULTS,
        SHIPPINGS,
    )
)
def test_round_trip(model: Any) -> None:
    data = unstructure(model)

    assert structure(data, type(model)) == model
    # JSON-compatible: going through JSON text changes nothing.
    assert structure(json.loads(json.dumps(data)), type(model)) == model
    assert to_dict(model) == data
