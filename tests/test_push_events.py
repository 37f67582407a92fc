"""Live Push events (issue 21): each feed's model read from CrowdTwist's documented samples, the
quirks, the errors (naming the field, never a value), the delivery keys and `event_body`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdtwist_async.push import (
    FEEDS,
    PointsExpirationEvent,
    PushEvent,
    PushEventError,
    UserActivityEvent,
    UserProfileEvent,
    UserRedemptionEvent,
    UserSegmentationEvent,
    event_body,
    parse_event,
)

from .json_support import JSON, mutated

UTC = timezone.utc

# The field tables' sample values (LivePushUserRedemption.html), as JSON.
REDEMPTION = {
    "orderId": 101,
    "orderDate": 1438043367,
    "rewardId": 947563,
    "rewardGroupId": 12345,
    "category": "Gift Cards",
    "title": "$20 Gift Card",
    "description": "$20 to use on our site",
    "color": None,
    "size": None,
    "referenceId": None,
    "rewardExtraData": None,
}
# LivePushUserActivity.html; activityExtraData is typed String, its sample JSON text.
ACTIVITY = {
    "userActivityId": 12348765,
    "activityId": 198,
    "activityName": "added gender",
    "points": 80,
    "notes": None,
    "referenceId": 123,
    "activityExtraData": '{"apporderid":"1"}',
    "thirdPartyId": None,
    "title": "Add Your Gender",
}
# PushUserProfile-withTiersv2.html
PROFILE = {
    "country": "US",
    "receiveSmsMessages": 0,
    "facebookUserId": None,
    "redeemablePoints": 5200,
    "postalCode": "10001",
    "tierInfo": {"resetDate": "2017-03-23T20:00:00Z", "dateReached": "2017-03-23T19:00:00Z"},
}
# LivePushPointsExpiration.htm (its groups' nesting is not seen: read flat).
POINTS_EXPIRATION = {
    "user_id": 348399,
    "email_address": "test@ct.com",
    "third_party_id": "12322",
    "message_date": "2021-05-20T18:25:43.511-04:00",
    "last_qualified_date": "2021-05-20T18:25:43.511-04:00",
    "expiration_date": "2021-05-20T18:25:43.511-04:00",
    "points_expiring": 200,
    "points_expired": 0,
}
# LivePushUserSegmentation.htm's sample request, verbatim.
SEGMENTATION_TEXT = '{ "user_id": 10, "email_address": "joe@example.com", "third_party_id": "user-123", "type": "segment", "name": "Users in New York", "subscription_id": 200, "event": "entered", "trigger": "segment criteria", "date_occurred": "2022-07-27T18:29:18Z" }'
SEGMENTATION: dict[str, Any] = json.loads(SEGMENTATION_TEXT)

SAMPLES: dict[str, dict[str, Any]] = {
    "user_redemption": REDEMPTION,
    "user_activity": ACTIVITY,
    "user_profile": PROFILE,
    "points_expiration": POINTS_EXPIRATION,
    "user_segmentation": SEGMENTATION,
}
CLASSES: dict[str, type[Any]] = {
    "user_redemption": UserRedemptionEvent,
    "user_activity": UserActivityEvent,
    "user_profile": UserProfileEvent,
    "points_expiration": PointsExpirationEvent,
    "user_segmentation": UserSegmentationEvent,
}
# Every wire name each model reads.
WIRE_NAMES: dict[str, list[str]] = {
    "user_redemption": [*REDEMPTION, "translatedTitle", "translatedDescription"],
    "user_activity": [*ACTIVITY, "description", "translatedTitle", "translatedDescription"],
    "user_profile": list(PROFILE),
    "points_expiration": list(POINTS_EXPIRATION),
    "user_segmentation": list(SEGMENTATION),
}
DIGEST_FEEDS = ["user_profile", "points_expiration", "user_segmentation"]

EXPIRY = datetime(2021, 5, 20, 22, 25, 43, 511000, tzinfo=UTC)


def body(data: dict[str, Any]) -> str:
    return json.dumps(data)


def parse(feed: str, data: dict[str, Any]) -> PushEvent:
    return parse_event(feed, body(data))


def digest_key(feed: str, canonical: str) -> str:
    return f"{feed}:sha256:{hashlib.sha256(canonical.encode()).hexdigest()}"


# -- each feed from the documented samples ------------------------------------


def test_feeds_are_the_five_paths_and_each_class_names_its_own() -> None:
    assert tuple(CLASSES) == FEEDS
    assert [cls.feed for cls in CLASSES.values()] == list(FEEDS)
    for feed, cls in CLASSES.items():
        assert type(parse(feed, SAMPLES[feed])) is cls


def test_redemption_from_the_documented_samples() -> None:
    event = parse_event("user_redemption", body(REDEMPTION).encode())
    assert event == UserRedemptionEvent(
        order_id=101,
        order_date=datetime(2015, 7, 28, 0, 29, 27, tzinfo=UTC),
        reward_id=947563,
        reward_group_id=12345,
        category="Gift Cards",
        title="$20 Gift Card",
        description="$20 to use on our site",
    )
    assert event.delivery_key == "user_redemption:101"
    assert event.order_date.utcoffset() is not None
    assert (event.color, event.size, event.reference_id, event.reward_extra_data) == (None,) * 4
    assert (event.translated_title, event.translated_description) == (None, None)
    assert event.unknown_fields == {}


def test_activity_from_the_documented_samples_keeps_the_extra_data_string_as_sent() -> None:
    event = parse("user_activity", ACTIVITY)
    assert event == UserActivityEvent(
        user_activity_id=12348765,
        activity_id=198,
        activity_name="added gender",
        points=80,
        reference_id=123,
        activity_extra_data='{"apporderid":"1"}',
        title="Add Your Gender",
    )
    assert event.delivery_key == "user_activity:12348765"
    assert (event.notes, event.third_party_id, event.description) == (None, None, None)


def test_extra_data_sent_as_an_object_is_a_read_only_mapping() -> None:
    event = parse("user_activity", {**ACTIVITY, "activityExtraData": {"apporderid": "1"}})
    assert isinstance(event, UserActivityEvent)
    assert event.activity_extra_data == {"apporderid": "1"}
    with pytest.raises(TypeError):
        event.activity_extra_data["apporderid"] = "2"  # type: ignore[index]
    redemption = parse("user_redemption", {**REDEMPTION, "rewardExtraData": {"sku": 7}})
    assert isinstance(redemption, UserRedemptionEvent)
    assert redemption.reward_extra_data == {"sku": 7}


def test_profile_from_the_documented_samples() -> None:
    event = parse("user_profile", PROFILE)
    assert isinstance(event, UserProfileEvent)
    assert (event.country, event.receive_sms_messages, event.facebook_user_id) == (
        "US",
        False,
        None,
    )
    assert (event.redeemable_points, event.postal_code) == (5200, "10001")
    assert event.tier_info == {
        "resetDate": "2017-03-23T20:00:00Z",
        "dateReached": "2017-03-23T19:00:00Z",
    }
    with pytest.raises(TypeError):
        event.tier_info["resetDate"] = None  # type: ignore[index]
    # The documented canonical form: sorted keys, no spaces, nulls left out, 0/1 booleans.
    canonical = '{"country":"US","postalCode":"10001","receiveSmsMessages":0,"redeemablePoints":5200,"tierInfo":{"dateReached":"2017-03-23T19:00:00Z","resetDate":"2017-03-23T20:00:00Z"}}'
    assert event.delivery_key == digest_key("user_profile", canonical)
    assert event_body(event) == canonical


def test_points_expiration_from_the_documented_samples_dates_in_utc() -> None:
    event = parse("points_expiration", POINTS_EXPIRATION)
    assert event == PointsExpirationEvent(
        user_id=348399,
        email_address="test@ct.com",
        third_party_id="12322",
        message_date=EXPIRY,
        last_qualified_date=EXPIRY,
        expiration_date=EXPIRY,
        points_expiring=200,
        points_expired=0,
    )
    assert isinstance(event, PointsExpirationEvent)
    assert event.expiration_date is not None
    assert event.expiration_date.tzinfo is UTC
    assert event.delivery_key.startswith("points_expiration:sha256:")


def test_segmentation_from_the_sample_request_verbatim() -> None:
    event = parse_event("user_segmentation", SEGMENTATION_TEXT)
    assert event == UserSegmentationEvent(
        user_id=10,
        email_address="joe@example.com",
        third_party_id="user-123",
        type="segment",
        name="Users in New York",
        subscription_id=200,
        event="entered",
        trigger="segment criteria",
        date_occurred=datetime(2022, 7, 27, 18, 29, 18, tzinfo=UTC),
    )
    canonical = '{"date_occurred":"2022-07-27T18:29:18Z","email_address":"joe@example.com","event":"entered","name":"Users in New York","subscription_id":200,"third_party_id":"user-123","trigger":"segment criteria","type":"segment","user_id":10}'
    assert event.delivery_key == (
        "user_segmentation:sha256:15ac7f51c358809aced6479c2307da8c0a5f089de044baaf1e59471804381879"
    )
    assert event.delivery_key == digest_key("user_segmentation", canonical)


def test_an_enum_value_crowdtwist_adds_later_is_kept() -> None:
    event = parse(
        "user_segmentation", {**SEGMENTATION, "trigger": "segment disabled.", "event": "paused"}
    )
    assert isinstance(event, UserSegmentationEvent)
    assert (event.trigger, event.event) == ("segment disabled.", "paused")


# -- the quirks ---------------------------------------------------------------


def test_numbers_as_strings_and_floats_read_as_the_documented_sample() -> None:
    quirky = {
        **REDEMPTION,
        "orderId": "101",
        "orderDate": "1438043367",
        "rewardId": " 947563 ",
        "rewardGroupId": 12345.0,
    }
    assert parse("user_redemption", quirky) == parse("user_redemption", REDEMPTION)
    activity = parse("user_activity", {**ACTIVITY, "points": "-80", "referenceId": "123"})
    assert isinstance(activity, UserActivityEvent)
    assert (activity.points, activity.reference_id) == (-80, 123)
    # An id that looks numeric is text either way.
    profile = parse("user_profile", {"postalCode": 10001})
    assert isinstance(profile, UserProfileEvent)
    assert profile.postal_code == "10001"


@pytest.mark.parametrize(
    ("sent", "read"),
    [(0, False), (1, True), ("0", False), ("1", True), (True, True), (False, False),
     ("true", True), (" FALSE ", False), (1.0, True), ("", None), (None, None)],
)  # fmt: skip
def test_receive_sms_messages_reads_every_boolean_spelling(sent: object, read: bool | None) -> None:
    event = parse("user_profile", {**PROFILE, "receiveSmsMessages": sent})
    assert isinstance(event, UserProfileEvent)
    assert event.receive_sms_messages is read


def test_missing_and_empty_optional_fields_are_none() -> None:
    required = {
        key: REDEMPTION[key]
        for key in ("orderId", "orderDate", "rewardId", "rewardGroupId", "title", "description")
    }
    event = parse("user_redemption", {**required, "category": "", "color": " "})
    assert event == parse("user_redemption", REDEMPTION | {"category": None})
    assert isinstance(event, UserRedemptionEvent)
    assert (event.category, event.color) == (None, None)
    # No field of the three digest feeds is documented as required.
    for feed in DIGEST_FEEDS:
        empty = parse(feed, {})
        assert type(empty) is CLASSES[feed]
        assert empty.delivery_key == digest_key(feed, "{}")


def test_a_required_string_may_be_empty() -> None:
    event = parse("user_redemption", {**REDEMPTION, "description": ""})
    assert isinstance(event, UserRedemptionEvent)
    assert event.description == ""


def test_unknown_fields_are_kept_read_only_out_of_repr_and_put_back_by_event_body() -> None:
    extra = {"quantity": "1", "shipping": {"city": "Springfield"}, "firstName": "Alice"}
    event = parse("user_redemption", {**REDEMPTION, **extra})
    assert event.unknown_fields == extra
    with pytest.raises(TypeError):
        event.unknown_fields["quantity"] = "2"  # type: ignore[index]
    assert "Alice" not in repr(event)
    assert "Springfield" not in repr(event)
    assert json.loads(event_body(event)) == {
        key: value for key, value in {**REDEMPTION, **extra}.items() if value is not None
    }


def test_iso_dates_with_an_offset_are_normalised_to_utc() -> None:
    offset = parse(
        "user_segmentation", {**SEGMENTATION, "date_occurred": "2022-07-27T14:29:18-04:00"}
    )
    zulu = parse("user_segmentation", SEGMENTATION)
    assert isinstance(offset, UserSegmentationEvent)
    assert offset.date_occurred == datetime(2022, 7, 27, 18, 29, 18, tzinfo=UTC)
    assert offset.date_occurred is not None
    assert offset.date_occurred.tzinfo is UTC
    # The same instant is the same event: the same key.
    assert offset.delivery_key == zulu.delivery_key
    # An ISO 8601 orderDate (not the documented unix seconds) is read too.
    iso = parse("user_redemption", {**REDEMPTION, "orderDate": "2015-07-28T02:29:27+02:00"})
    assert iso == parse("user_redemption", REDEMPTION)


# -- errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feed", "sent", "field", "text"),
    [
        ("user_redemption", b"not json", None, "user_redemption: the body is not JSON (Expecting value at line 1 column 1)"),
        ("user_redemption", "[1, 2]", None, "user_redemption: expected a JSON object, got a JSON array"),
        ("user_redemption", '"order"', None, "user_redemption: expected a JSON object, got a string"),
        ("user_redemption", body({k: v for k, v in REDEMPTION.items() if k != "orderId"}), "orderId", "user_redemption: orderId: required field is missing"),
        ("user_redemption", body({**REDEMPTION, "orderId": None}), "orderId", "user_redemption: orderId: expected an integer, got null"),
        ("user_redemption", body({**REDEMPTION, "orderId": "alice@example.com"}), "orderId", "user_redemption: orderId: expected an integer, got a string"),
        ("user_redemption", body({**REDEMPTION, "orderDate": {"at": 1}}), "orderDate", "user_redemption: orderDate: expected a unix timestamp or an ISO 8601 date, got a JSON object"),
        ("user_redemption", body({**REDEMPTION, "orderDate": "yesterday"}), "orderDate", "user_redemption: orderDate: expected a unix timestamp or an ISO 8601 date, got a string"),
        ("user_redemption", body({**REDEMPTION, "orderDate": "2015-13-01T00:00:00Z"}), "orderDate", "user_redemption: orderDate: not a valid ISO 8601 date"),
        ("user_redemption", body({**REDEMPTION, "orderDate": 10**20}), "orderDate", "user_redemption: orderDate: timestamp out of range"),
        ("user_redemption", body({**REDEMPTION, "orderId": "9" * 5000}), "orderId", "user_redemption: orderId: expected an integer, got a string of too many digits"),
        ("user_activity", body({**ACTIVITY, "title": None}), "title", "user_activity: title: expected a string, got null"),
        ("user_activity", body({**ACTIVITY, "activityExtraData": [1]}), "activityExtraData", "user_activity: activityExtraData: expected a JSON object or a string, got a JSON array"),
        ("user_profile", body({"tierInfo": "gold"}), "tierInfo", "user_profile: tierInfo: expected a JSON object, got a string"),
        ("user_profile", body({"receiveSmsMessages": 2}), "receiveSmsMessages", "user_profile: receiveSmsMessages: expected a boolean (0/1, true/false), got an integer"),
        ("user_segmentation", body({"date_occurred": "9999-12-31T23:59:59-01:00"}), "date_occurred", "user_segmentation: date_occurred: date out of range"),
        ("points_expiration", '{"points_expiring": NaN}', None, "points_expiration: the body is not JSON (a number out of range, NaN or Infinity)"),
        ("points_expiration", '{"points_expiring": 1e400}', None, "points_expiration: the body is not JSON (a number out of range, NaN or Infinity)"),
        ("user_segmentation", b'{"name": "\xff"}', None, "user_segmentation: the body is not JSON (not UTF-8 text)"),
        ("user_segmentation", '{"name": "\\ud800"}', None, "user_segmentation: a string holds an unpaired UTF-16 surrogate"),
        ("user_segmentation", '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}", None, "user_segmentation: the body is nested too deeply"),
    ],
)  # fmt: skip
def test_a_body_that_is_not_the_feeds_event_is_a_push_event_error_naming_the_field(
    feed: str, sent: str | bytes, field: str | None, text: str
) -> None:
    with pytest.raises(PushEventError) as caught:
        parse_event(feed, sent)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.feed, error.field, str(error)) == (feed, field, text)
    assert error.message == text.split(": ", 2 if field else 1)[-1]
    # The decoder's error holds the whole body: not chained.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_the_error_never_holds_a_value_from_the_body() -> None:
    with pytest.raises(PushEventError) as caught:
        parse("user_redemption", {**REDEMPTION, "rewardId": "alice@example.com"})
    assert caught.value.field == "rewardId"
    assert "alice" not in str(caught.value)
    assert "alice" not in repr(caught.value.args)


def test_a_push_event_error_survives_pickling() -> None:
    error = PushEventError("user_redemption", "orderId", "required field is missing")
    copied = pickle.loads(pickle.dumps(error))
    assert (copied.feed, copied.field, copied.message, str(copied)) == (
        "user_redemption",
        "orderId",
        "required field is missing",
        "user_redemption: orderId: required field is missing",
    )


def test_a_feed_that_is_not_one_of_the_five_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown Live Push feed 'user_points'") as caught:
        parse_event("user_points", "{}")
    assert not isinstance(caught.value, PushEventError)


# -- delivery keys ------------------------------------------------------------


def test_redemption_and_activity_keys_are_their_documented_ids() -> None:
    assert parse(
        "user_redemption", {**REDEMPTION, "orderId": "202", "title": "x"}
    ).delivery_key == ("user_redemption:202")
    assert (
        parse("user_activity", {**ACTIVITY, "points": 5}).delivery_key == "user_activity:12348765"
    )


@pytest.mark.parametrize("feed", DIGEST_FEEDS)
def test_a_digest_key_ignores_key_order_and_whitespace_but_not_values(feed: str) -> None:
    sample = SAMPLES[feed]
    key = parse(feed, sample).delivery_key
    assert key.startswith(f"{feed}:sha256:")
    assert len(key) == len(f"{feed}:sha256:") + 64
    reordered = dict(reversed(list(sample.items())))
    spaced = json.dumps(reordered, indent=4, separators=(" ,  ", " :\t"))
    assert parse_event(feed, spaced).delivery_key == key
    first = next(iter(sample))
    changed = {**sample, first: 1 if sample[first] != 1 else 2}
    assert parse(feed, changed).delivery_key != key
    # An unknown field is part of the event too.
    assert parse(feed, {**sample, "lang": "en"}).delivery_key != key


def test_an_event_built_by_hand_has_the_key_parse_event_gives() -> None:
    built = UserSegmentationEvent(
        user_id=10,
        email_address="joe@example.com",
        third_party_id="user-123",
        type="segment",
        name="Users in New York",
        subscription_id=200,
        event="entered",
        trigger="segment criteria",
        date_occurred=datetime(2022, 7, 27, 18, 29, 18, tzinfo=UTC),
    )
    assert built.delivery_key == parse_event("user_segmentation", SEGMENTATION_TEXT).delivery_key
    with pytest.raises(ValueError, match="aware"):
        UserSegmentationEvent(date_occurred=datetime(2022, 7, 27))
    plus_two = timezone(timedelta(hours=2))
    local = UserSegmentationEvent(date_occurred=datetime(2022, 7, 27, 20, 29, 18, tzinfo=plus_two))
    assert local.date_occurred is not None
    assert local.date_occurred.tzinfo is UTC
    assert (
        local.delivery_key
        == parse_event(
            "user_segmentation", '{"date_occurred": "2022-07-27T18:29:18Z"}'
        ).delivery_key
    )


# -- event_body ---------------------------------------------------------------


def test_event_body_is_compact_sorted_json_under_the_wire_names() -> None:
    event = parse("user_redemption", {**REDEMPTION, "orderId": "101", "quantity": 2})
    assert event_body(event) == (
        '{"category":"Gift Cards","description":"$20 to use on our site","orderDate":1438043367,'
        '"orderId":101,"quantity":2,"rewardGroupId":12345,"rewardId":947563,"title":"$20 Gift Card"}'
    )


QUIRKY: list[tuple[str, dict[str, Any]]] = [
    *SAMPLES.items(),
    ("user_redemption", {**REDEMPTION, "orderDate": "2015-07-28T00:29:27.250+02:00", "rewardExtraData": {"a": [1, None]}, "quantity": "1"}),
    ("user_activity", {**ACTIVITY, "activityExtraData": {"apporderid": "1"}, "userId": 77, "notes": "é ☃"}),
    ("user_profile", {**PROFILE, "receiveSmsMessages": "1", "firstName": "Alice", "password": None}),
    ("points_expiration", {**POINTS_EXPIRATION, "inactivity": {"points_expiring": 200}, "message_date": "2021-05-20T18:25:43.000123Z"}),
    ("user_segmentation", {**SEGMENTATION, "user_id": "10", "date_occurred": "2022-07-27T14:29:18-04:00"}),
]  # fmt: skip


@pytest.mark.parametrize(("feed", "data"), QUIRKY)
def test_event_body_reads_back_as_an_equal_event_with_the_same_key(
    feed: str, data: dict[str, Any]
) -> None:
    event = parse(feed, data)
    again = parse_event(feed, event_body(event))
    assert again == event
    assert again.delivery_key == event.delivery_key
    assert again.unknown_fields == event.unknown_fields
    assert event_body(again) == event_body(event)


def test_a_redemption_date_with_a_fraction_goes_back_exactly() -> None:
    event = parse("user_redemption", {**REDEMPTION, "orderDate": "1438043367.25"})
    assert isinstance(event, UserRedemptionEvent)
    assert event.order_date == datetime(2015, 7, 28, 0, 29, 27, 250000, tzinfo=UTC)
    assert json.loads(event_body(event))["orderDate"] == "2015-07-28T00:29:27.250Z"


def test_event_body_refuses_what_is_not_an_event() -> None:
    with pytest.raises(TypeError, match="got dict"):
        event_body(REDEMPTION)  # type: ignore[arg-type]


# -- repr, pickling -----------------------------------------------------------

PERSONAL = {
    "user_redemption": {**REDEMPTION, "emailAddress": "alice@example.com", "firstName": "Alice"},
    "user_activity": {**ACTIVITY, "thirdPartyId": "tp-4242", "notes": "call Alice on 555-0100"},
    "user_profile": {**PROFILE, "postalCode": "90210", "facebookUserId": "fb-4242", "lastName": "Liddell"},
    "points_expiration": {**POINTS_EXPIRATION, "email_address": "alice@example.com", "third_party_id": "tp-4242"},
    "user_segmentation": {**SEGMENTATION, "email_address": "alice@example.com", "third_party_id": "tp-4242"},
}  # fmt: skip


@pytest.mark.parametrize("feed", FEEDS)
def test_repr_shows_the_feed_and_key_and_no_personal_data(feed: str) -> None:
    event = parse(feed, PERSONAL[feed])
    shown = repr(event)
    assert shown == str(event)
    assert shown.startswith(
        f"{type(event).__name__}(feed={feed!r}, delivery_key={event.delivery_key!r}, "
    )
    for secret in ("alice", "Alice", "4242", "555-0100", "90210", "Liddell"):
        assert secret not in shown


def test_repr_of_the_segmentation_sample() -> None:
    event = parse_event("user_segmentation", SEGMENTATION_TEXT)
    assert repr(event) == (
        f"UserSegmentationEvent(feed='user_segmentation', delivery_key={event.delivery_key!r}, "
        "user_id=10, type='segment', subscription_id=200, event='entered', "
        "trigger='segment criteria', date_occurred=datetime.datetime(2022, 7, 27, 18, 29, 18, "
        "tzinfo=datetime.timezone.utc))"
    )


@pytest.mark.parametrize(("feed", "data"), QUIRKY)
def test_events_pickle_and_deep_copy(feed: str, data: dict[str, Any]) -> None:
    event = parse(feed, data)
    for copied in (pickle.loads(pickle.dumps(event)), copy.deepcopy(event)):
        assert copied == event
        assert copied.delivery_key == event.delivery_key
        assert copied.unknown_fields == event.unknown_fields
        assert event_body(copied) == event_body(event)
    assert hash(pickle.loads(pickle.dumps(event))) == hash(event)


# -- any JSON object ----------------------------------------------------------


def _bodies(feed: str) -> st.SearchStrategy[dict[str, Any]]:
    names = st.sampled_from(WIRE_NAMES[feed]) | st.text(max_size=8)
    return mutated(SAMPLES[feed]) | st.dictionaries(names, JSON, max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(FEEDS).flatmap(lambda feed: st.tuples(st.just(feed), _bodies(feed))))
def test_any_json_object_is_an_event_or_a_push_event_error(
    case: tuple[str, dict[str, Any]],
) -> None:
    feed, data = case
    failure: PushEventError | None = None
    try:
        event = parse(feed, data)
    except PushEventError as error:
        failure = error
    if failure is not None:
        assert failure.feed == feed
        assert failure.field is None or failure.field in WIRE_NAMES[feed]
        return
    assert type(event) is CLASSES[feed]
    again = parse_event(feed, event_body(event))
    assert again == event
    assert again.delivery_key == event.delivery_key
    assert again.unknown_fields == event.unknown_fields


@pytest.mark.parametrize(
    ("feed", "sample"), [("user_redemption", REDEMPTION), ("user_activity", ACTIVITY)]
)
def test_the_member_id_is_read_when_sent(feed: str, sample: dict[str, object]) -> None:
    with_member = parse_event(feed, json.dumps({**sample, "userId": "1001"}))
    without = parse_event(feed, json.dumps(sample))
    assert isinstance(with_member, UserRedemptionEvent | UserActivityEvent)
    assert isinstance(without, UserRedemptionEvent | UserActivityEvent)
    assert (with_member.user_id, without.user_id) == (1001, None)
    assert "userId" not in with_member.unknown_fields
    # The same delivery: the key is the order's or the activity's.
    assert with_member.delivery_key == without.delivery_key
    assert json.loads(event_body(with_member))["userId"] == 1001
