"""The records the CrowdTwist API returns, as frozen attrs classes.

Field names follow the vendor documentation (snake_case, as sent on the wire),
except `Reward.freq_period`, which holds the enum the `freq_period_id` key names.
Turning JSON into these classes, with all of the API's quirks, is the job of
`_converter`; these classes only hold already-clean values.

CrowdTwist adds fields and values without notice, so the models are open:
an enum keeps a value it does not know as a pseudo-member named `UNKNOWN`
(`reward.freq_period == 12`), and a record keeps the keys it does not model,
read-only, in `unknown_fields`.

Annotations are evaluated at runtime on purpose (no `from __future__ import
annotations`): cattrs reads them to generate the structuring code.
"""

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, TypeVar, cast

import attrs

__all__ = [
    "NO_FIELDS",
    "Activity",
    "ActivityCredit",
    "CouponResult",
    "EligibilityType",
    "FrequencyPeriod",
    "IdType",
    "IdTypeName",
    "Partner",
    "Points",
    "Redemption",
    "RedemptionResult",
    "Reward",
    "RewardsPage",
    "Segment",
    "Shipping",
    "UsableCoupon",
    "User",
]


class IdType(str, enum.Enum):
    """How the `user_id` of a request identifies the user (the `id_type` parameter).

    Closed, unlike the enums of the responses: a request with a value
    CrowdTwist does not document is a mistake, refused before it is sent.
    Without an `id_type`, CrowdTwist reads `user_id` as the CrowdTwist id.

    Attributes:
        EMAIL: the member's email address (`"email"`).
        FACEBOOK_USER_ID: the member's Facebook user id (`"facebook_user_id"`).
        TWITTER_USER_ID: the member's Twitter user id (`"twitter_user_id"`).
        ID: the member's CrowdTwist id (`"id"`), the server's default.
        THIRD_PARTY_ID: the member's third-party id (`"third_party_id"`).
        USERNAME: the member's username (`"username"`).
        MOBILE_PHONE_NUMBER: the member's mobile phone number
            (`"mobile_phone_number"`); documented for User Rewards, not for
            Usable Coupons: `usable_coupons` refuses it.
    """

    EMAIL = "email"
    FACEBOOK_USER_ID = "facebook_user_id"
    TWITTER_USER_ID = "twitter_user_id"
    ID = "id"
    THIRD_PARTY_ID = "third_party_id"
    USERNAME = "username"
    MOBILE_PHONE_NUMBER = "mobile_phone_number"


IdTypeName = Literal[
    "email",
    "facebook_user_id",
    "twitter_user_id",
    "id",
    "third_party_id",
    "username",
    "mobile_phone_number",
]
"""The documented `id_type` strings (the values of `IdType`), so that a typo fails type checking."""

_E = TypeVar("_E", bound=enum.Enum)


def _unknown_member(cls: type[_E], base: Any, value: object) -> _E:
    """A pseudo-member of *cls* for a *value* it does not know.

    It is an instance of *cls* (and of *base*, so it compares equal to the
    raw value) named `UNKNOWN`; it is not added to the enum, so a server
    sending many odd values cannot grow it.
    """
    member = cast("_E", base.__new__(cls, value))
    member._name_ = "UNKNOWN"
    member._value_ = value
    return member


class FrequencyPeriod(enum.IntEnum):
    """The period a reward's redemption cap (`freq_cap`) applies to.

    A period CrowdTwist adds later comes out as `FrequencyPeriod.UNKNOWN`
    pseudo-member that still equals its number: `period == 12`, and
    `period.known` is False. The values are the `freq_period_id` numbers the
    User Rewards page lists.

    Attributes:
        HOURS_24: 1, the last 24 hours.
        CALENDAR_DAY: 2, the calendar day.
        DAYS_7: 3, the last 7 days.
        CALENDAR_WEEK: 4, the calendar week.
        LIFETIME: 5, the member's lifetime.
        CALENDAR_MONTH: 6, the calendar month.
        CALENDAR_YEAR: 7, the calendar year.
        DAYS_365: 8, the last 365 days.
        DAYS_30: 9, the last 30 days.
        DAYS_90: 10, the last 90 days.
        DAYS_180: 11, the last 180 days.
    """

    HOURS_24 = 1
    CALENDAR_DAY = 2
    DAYS_7 = 3
    CALENDAR_WEEK = 4
    LIFETIME = 5
    CALENDAR_MONTH = 6
    CALENDAR_YEAR = 7
    DAYS_365 = 8
    DAYS_30 = 9
    DAYS_90 = 10
    DAYS_180 = 11

    @classmethod
    def _missing_(cls, value: object) -> "FrequencyPeriod | None":
        if type(value) is int:
            return _unknown_member(cls, int, value)
        return None

    @property
    def known(self) -> bool:
        """Whether this is one of the documented periods."""
        return self._name_ in type(self).__members__


class EligibilityType(str, enum.Enum):
    """Whether a segment's members are the only ones eligible, or the only ones excluded.

    A type CrowdTwist adds later comes out as an `EligibilityType.UNKNOWN`
    pseudo-member that still equals its text: `kind == "premium"`, and
    `kind.known` is False.

    Attributes:
        INCLUSION: `"inclusion"`: the reward is available only to the
            segment's members.
        EXCLUSION: `"exclusion"`: the reward is available to everyone except
            the segment's members.
    """

    INCLUSION = "inclusion"
    EXCLUSION = "exclusion"

    @classmethod
    def _missing_(cls, value: object) -> "EligibilityType | None":
        if type(value) is str:
            return _unknown_member(cls, str, value)
        return None

    @property
    def known(self) -> bool:
        """Whether this is one of the documented types."""
        return self._name_ in type(self).__members__


NO_FIELDS: Mapping[str, Any] = MappingProxyType({})
"""The `unknown_fields` of a record that has none: one mapping shared by all."""


def _frozen_fields(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if value is NO_FIELDS or not value:
        return NO_FIELDS
    return MappingProxyType(dict(value))


def _unknown_fields() -> Any:
    """The `unknown_fields` field every record has.

    Kept out of equality, hashing and repr: two records that say the same
    about what the SDK models are the same record.
    """
    return attrs.field(
        default=NO_FIELDS, converter=_frozen_fields, eq=False, hash=False, repr=False
    )


def _reduce_record(record: Any) -> tuple[Any, ...]:
    # A MappingProxyType can be neither pickled nor deep-copied, so mappings
    # travel as plain dicts and are frozen again on arrival: records can go to
    # worker processes, caches and `copy.deepcopy`.
    values = {}
    for field in attrs.fields(type(record)):
        value = getattr(record, field.name)
        if isinstance(value, MappingProxyType):
            value = dict(value)
        elif type(value) is tuple and any(isinstance(item, MappingProxyType) for item in value):
            value = tuple(
                dict(item) if isinstance(item, MappingProxyType) else item for item in value
            )
        values[field.name] = value
    return (_rebuild, (type(record), values))


def _rebuild(cls: type[Any], values: dict[str, Any]) -> Any:
    return cls(**values)


@attrs.frozen(kw_only=True)
class Segment:
    """The member segment a reward is restricted to (the SEGMENT OBJECT of a reward).

    Attributes:
        name: the segment's name (`"New York Members"`).
        subscription_id: the segment's identifier.
        eligibility_type: whether only the segment's members may redeem the
            reward (`INCLUSION`), or everyone but them (`EXCLUSION`).
        unknown_fields: the keys of the response this class does not model,
            read-only (empty unless CrowdTwist added a field); not part of
            equality, hashing or repr.
    """

    name: str
    subscription_id: int
    eligibility_type: EligibilityType
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record


@attrs.frozen(kw_only=True)
class Partner:
    """The partner offering a reward (the PARTNER OBJECT of a reward, `partner_info`).

    Attributes:
        id: the partner's id.
        name: the partner's name (`"Acme Car Rentals"`).
        unknown_fields: the keys of the response this class does not model,
            read-only (empty unless CrowdTwist added a field); not part of
            equality, hashing or repr.
    """

    id: int
    name: str
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record


def _read_only_copy(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    # Copy first, so that whoever built the model cannot change it afterwards
    # through the dict they passed in.
    return None if value is None else MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class Reward:
    """A reward the user can redeem points for (one item of the User Rewards response).

    `extra_data` is the client-defined data, read-only; it takes part in
    equality but not in the hash, since a mapping is not hashable.
    `unknown_fields` holds, read-only, the keys of the response this class
    does not model (empty unless CrowdTwist added a field). The dates are
    sent as unix timestamps and held as aware UTC datetimes.

    Attributes:
        id: the internal CrowdTwist reward id, of this reward variation, as
            text: the `reward_id` that `redeem` takes.
        group_id: the reward's group: the variations of one reward (sizes,
            colours) share it.
        title: the reward's title.
        description: the reward's description.
        current_quantity: how many of this reward are available now.
        num_points: the points a member must redeem to be issued the reward.
        date_start: when the reward first becomes available.
        date_end: when the reward stops being available, or None.
        date_end_redeemable: when the reward stops being available for
            redemption, or None.
        is_enabled: whether the reward is enabled.
        category_id: the reward's category id.
        no_end_date: whether the reward has no end date.
        total_quantity: the total number of this reward that is available.
        max_select_quantity: the most of this reward a member can select, or
            None.
        max_per_user: the most of this reward a member can redeem.
        is_shipping_required: whether a redemption needs a shipping address
            (`redeem(..., shipping=...)`).
        is_phone_number_required: whether a redemption needs a phone number.
        is_min_age_required: whether the reward has a minimum age.
        min_age: the minimum age to redeem the reward, or None.
        is_digital_download: whether the reward is a digital download.
        sweepstakes_winners: for a sweepstakes, the total number of potential
            winners, or None (also read as `sweepstake_winners`, the sample's
            spelling).
        extra_data: the client-defined additional data, read-only, or None.
        reference_id: the custom identifier set in Control Center for the
            reward or variation, as sent (not stripped), or None.
        total_coupons: for a code reward, the number of coupons uploaded.
        remaining_coupons: for a code reward, the number of coupons not
            redeemed yet.
        freq_cap: how many redemptions may take place per `freq_period`, or
            None.
        freq_period: the period `freq_cap` counts over (the `freq_period_id`
            key), or None.
        freq_period_name: the name of that period (`"Calendar Day"`), or None.
        image: the URL of the reward's image.
        reward_terms: for a sweepstakes with a terms and conditions file, the
            URL of the PDF, or None.
        min_tier_id: the minimum tier a member must be at (the ids come from
            the CrowdTwist team), or None.
        segment: the member segment the reward is restricted to, or None.
        partner_info: the partner offering the reward, or None.
        unknown_fields: the keys of the response this class does not model,
            read-only (empty unless CrowdTwist added a field); not part of
            equality, hashing or repr.
    """

    id: str
    group_id: int
    title: str
    description: str
    current_quantity: int
    num_points: int
    date_start: datetime
    date_end: datetime | None = None
    date_end_redeemable: datetime | None = None
    is_enabled: bool
    category_id: int
    no_end_date: bool
    total_quantity: int
    max_select_quantity: int | None = None
    max_per_user: int
    is_shipping_required: bool
    is_phone_number_required: bool
    is_min_age_required: bool
    min_age: int | None = None
    is_digital_download: bool
    sweepstakes_winners: int | None = None
    extra_data: Mapping[str, Any] | None = attrs.field(
        default=None, converter=_read_only_copy, hash=False
    )
    reference_id: str | None = None
    total_coupons: int
    remaining_coupons: int
    freq_cap: int | None = None
    freq_period: FrequencyPeriod | None = None
    freq_period_name: str | None = None
    image: str
    reward_terms: str | None = None
    min_tier_id: int | None = None
    segment: Segment | None = None
    partner_info: Partner | None = None
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record


def _mask_code(code: str) -> str:
    # A coupon code is a bearer credential: repr() output ends up in logs.
    text = str(code)
    visible = text[-4:] if len(text) > 4 else ""
    return repr("*" * (len(text) - len(visible)) + visible)


@attrs.frozen(kw_only=True)
class UsableCoupon:
    """A coupon assigned to the user by a redemption and not used yet.

    Its `repr()` masks all but the last four characters of `code`.
    `unknown_fields` holds the keys of the response this class does not model.
    The dates are sent as unix timestamps and held as aware UTC datetimes.

    Attributes:
        reward_id: the id of the reward redeemed to receive the coupon.
        redeem_order_id: the id of the redemption order that assigned the
            coupon (also read as `reward_order_id`, the sample's spelling).
        redeem_order_coupon_id: the id of the redemption order coupon record
            that assigned it (also read as `reward_order_coupon_id`).
        total_points_redeemed: the points redeemed in that redemption order.
        ending_balance: the member's redeemable points after that order.
        quantity: the quantity of that redemption order.
        code: the coupon code, a bearer credential (masked in `repr()`).
        reward_title: the reward's title when it was redeemed.
        coupon_category_id: the id of the coupon's category.
        coupon_category_name: the category's name when the coupon was assigned.
        coupon_category_expiration_days: the category's number of days after
            which its coupons expire, or None when they do not expire.
        batch_num: the coupon's batch number (a serial number, incremented
            each time a batch of coupons is generated).
        date_to_expire: when the coupon expires, or None when it does not.
        order_date_created: when the redemption order that assigned the
            coupon took place.
        coupon_date_created: when the coupon was generated (before it was
            assigned by a redemption).
        unknown_fields: the keys of the response this class does not model,
            read-only (empty unless CrowdTwist added a field); not part of
            equality, hashing or repr.
    """

    reward_id: int
    redeem_order_id: int
    redeem_order_coupon_id: int
    total_points_redeemed: int
    ending_balance: int
    quantity: int
    code: str = attrs.field(repr=_mask_code)
    reward_title: str
    coupon_category_id: int
    coupon_category_name: str
    coupon_category_expiration_days: int | None = None
    batch_num: int
    date_to_expire: datetime | None = None
    order_date_created: datetime
    coupon_date_created: datetime
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record


@attrs.frozen(kw_only=True)
class RewardsPage:
    """One page of a user's rewards.

    `next_page` and `prev_page` are page numbers taken from the response's
    links; the links themselves are not kept because the API builds them with
    the wrong host and path. `total` and `pages` are None when the response
    did not state them usably, which means "unknown"; an empty listing has
    `pages == 0`.

    Attributes:
        number: the page's number, as asked for.
        total: the total number of rewards in the listing, or None when unknown.
        pages: the total number of pages, or None when unknown.
        rewards: the page's rewards, in the server's order.
        next_page: the number of the next page, from the response's link, or
            None when there is none.
        prev_page: the number of the previous page, from the response's link,
            or None when there is none.
    """

    number: int
    total: int | None
    pages: int | None
    rewards: tuple[Reward, ...]
    next_page: int | None
    prev_page: int | None


# -- the member API -----------------------------------------------------------
# Profile, points, histories and the answers of the writes. The pages that
# document them disagree with each other and with what the API sends (see the
# class docstrings); `_converter` reads every spelling seen.


def _read_only_copies(value: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    return tuple(MappingProxyType(dict(item)) for item in value)


def _mapping_field() -> Any:
    """An optional client-defined JSON object, held as a read-only copy.

    In equality, not in the hash: a mapping is not hashable.
    """
    return attrs.field(default=None, converter=_read_only_copy, hash=False)


@attrs.frozen(kw_only=True)
class User:
    """A loyalty member's profile (User Profile, `GET /v2/users/{user_id}`).

    Only `id` is sure to be there: with `pii=false` the API leaves the
    personal fields out, so every other field is optional (None). The pages
    disagree on most types (the old one types names as Integer and
    `postal_code` as Integer, the live API sends JSON booleans and
    `"94111"`), so the model takes each as the API may send it: flags as
    `true`/`1`/`"0"`, numbers as strings, a numeric `postal_code` as text,
    timestamps as unix seconds or ISO 8601 (aware, UTC).

    `extra_data`, `tier_info` and `custom_data` are the JSON objects as sent,
    read-only; `segments` a tuple of them. Fields the SDK does not model
    (`facebook_user_id`, `rank`, `referral_url`, ...) are kept in
    `unknown_fields`; so are the credentials the real response carries
    (`facebook_access_token`, `twitter_oauth_token`, `password`, `salt`,
    ...), deliberately not modelled.

    `repr()` (and so `str()`) shows only `id`, `third_party_id`,
    `is_active`, `fan_level`, `total_points` and `redeemable_points`: the rest
    is personal data, and a repr ends up in logs.

    ```python
    user = await session.users.get("alice@example.com", id_type="email")
    print(user.redeemable_points, user.fan_level)
    ```

    Attributes:
        id: the member's CrowdTwist id (the `"id"` id type).
        first_name: the member's first name.
        middle_name: the member's middle name.
        last_name: the member's last name.
        date_of_birth: the member's date of birth, the text as sent (its
            format is documented nowhere).
        email_address: the member's email address.
        email_is_verified: whether the email address is verified (a verified
            one is required for reward redemption).
        username: the member's username.
        mobile_phone_number: the member's mobile phone number.
        third_party_id: the member's third-party id (the `"third_party_id"`
            id type).
        is_active: the `is_active` flag as sent: whether the member is active
            (the page's description of it is cut short).
        gender_id: the id of the member's gender, as sent under `gender_id`.
        gender: the member's gender, as text (`"Male"`).
        extra_data: the client-defined additional data, read-only.
        continent: the member's continent (`"North America"`).
        country: the member's country (`"United States"`).
        us_region: the member's US region (`"Northeast"`).
        ca_province: the member's Canadian province.
        state: the member's state (`"NY"`).
        city: the member's city.
        street_address_1: the first line of the member's street address.
        street_address_2: the second line of the member's street address.
        postal_code: the member's postal code, as text.
        receive_email_updates: whether the member receives email updates.
        date_receive_email_opt_in: when the member opted in to email updates.
        date_receive_email_opt_out: when the member opted out of them.
        total_points: the member's total points, ever earned.
        redeemable_points: the points the member can redeem now.
        num_points_purchased: the points the member purchased.
        activity_stream_opt_in: the `activity_stream_opt_in` flag as sent:
            whether the member opted in to the activity stream.
        store_id: the store id the API sends under `store_id`.
        date_last_login: when the member last logged in.
        date_last_updated: when the profile was last updated.
        date_created: when the member's profile was created.
        lang_pref: the member's language preference, as sent under
            `lang_pref`.
        fan_level: the member's fan level, the title of their tier as sent
            (`"Member"`).
        tier_info: the member's tier (current and next level, scores, dates),
            read-only.
        segments: the member's segments, each read-only; empty when none.
        household_id: the id of the member's household.
        custom_data: the program's custom fields for the member
            (`{"opt_in_email": "true"}`), read-only.
        unknown_fields: the keys of the response this class does not model,
            read-only (empty unless CrowdTwist added a field); not part
            of equality, hashing or repr.
    """

    id: int
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    date_of_birth: str | None = None  # its format is documented nowhere
    email_address: str | None = None
    email_is_verified: bool | None = None
    username: str | None = None
    mobile_phone_number: str | None = None
    third_party_id: str | None = None
    is_active: bool | None = None
    gender_id: int | None = None
    gender: str | None = None
    extra_data: Mapping[str, Any] | None = _mapping_field()
    continent: str | None = None
    country: str | None = None
    us_region: str | None = None
    ca_province: str | None = None
    state: str | None = None
    city: str | None = None
    street_address_1: str | None = None
    street_address_2: str | None = None
    postal_code: str | None = None
    receive_email_updates: bool | None = None
    date_receive_email_opt_in: datetime | None = None
    date_receive_email_opt_out: datetime | None = None
    total_points: int | None = None
    redeemable_points: int | None = None
    num_points_purchased: int | None = None
    activity_stream_opt_in: bool | None = None
    store_id: str | None = None
    date_last_login: datetime | None = None
    date_last_updated: datetime | None = None
    date_created: datetime | None = None
    lang_pref: str | None = None
    fan_level: str | None = None
    tier_info: Mapping[str, Any] | None = _mapping_field()
    segments: tuple[Mapping[str, Any], ...] = attrs.field(
        default=(), converter=_read_only_copies, hash=False
    )
    household_id: str | None = None
    custom_data: Mapping[str, Any] | None = _mapping_field()
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record

    def __repr__(self) -> str:
        # An allow-list, so that a field added later stays out of logs.
        return (
            f"User(id={self.id!r}, third_party_id={self.third_party_id!r}, "
            f"is_active={self.is_active!r}, fan_level={self.fan_level!r}, "
            f"total_points={self.total_points!r}, "
            f"redeemable_points={self.redeemable_points!r})"
        )


@attrs.frozen(kw_only=True)
class Points:
    """A member's points balance (User Points, `GET /v2/users/{user_id}/points`).

    The page's table labels the total "Total points" where the profile and
    the live API say `total_points`: both keys are read, `total_points`
    winning when both are sent. The page types `id` as String, the profile as
    Integer: either is read as an int.

    Attributes:
        id: the member's CrowdTwist id.
        total_points: the member's total points, ever earned.
        redeemable_points: the points the member can redeem now.
        num_points_purchased: the points the member purchased, or None.
        fan_level: the member's fan level (`"New Fan"`), or None.
        unknown_fields: the keys of the response this class does not model,
            read-only (empty unless CrowdTwist added a field); not part of
            equality, hashing or repr.
    """

    id: int
    total_points: int
    redeemable_points: int
    num_points_purchased: int | None = None
    fan_level: str | None = None
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record


@attrs.frozen(kw_only=True)
class Activity:
    """An activity the member was credited for.

    One item of User Activity History v2.1
    (`GET /v2.1/users/{user_id}/activity_history`).

    The v2.1 page is not public; the fields are the legacy v2 page's plus the
    record's own `id`, which the v2.1 data model calls `user_activity_id`
    (as it calls `name` `activity_name`): both spellings are read, the
    first winning. `activity_id` names the kind of activity and is text (the
    credit call sends it as a string, the legacy history types it String).
    The legacy page types the dates as String: unix seconds as text are
    read too. The dates are held as aware UTC datetimes.

    Attributes:
        id: the record's own id (`user_activity_id`), or None.
        activity_id: the internal CrowdTwist activity id: which kind of
            activity it was (what `credit_activity` takes), as text.
        name: the activity's name (`"Shared a link"`; `activity_name`), or
            None.
        num_points: the points the activity was credited with.
        notes: the notes the API sends with the record, or None.
        date_created: when the activity was recorded, or None.
        date_awarded: the date the API sends as `date_awarded`, or None.
        activity_date: when the member did the activity (a credit's
            `activity_date`), or None.
        show_as_locked_by_tier: the `show_as_locked_by_tier` flag as sent, or
            None.
        min_tier_id: the minimum tier id the API sends with the activity, or
            None.
        extra_data: the extra data set with the credit (User Activity
            Credit's `extra_data`), read-only, or None.
        unknown_fields: the keys of the response this class does not model,
            read-only (empty unless CrowdTwist added a field); not part of
            equality, hashing or repr.
    """

    id: str | None = None
    activity_id: str
    name: str | None = None
    num_points: int
    notes: str | None = None
    date_created: datetime | None = None
    date_awarded: datetime | None = None
    activity_date: datetime | None = None
    show_as_locked_by_tier: bool | None = None
    min_tier_id: int | None = None
    extra_data: Mapping[str, Any] | None = _mapping_field()
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record


@attrs.frozen(kw_only=True)
class Redemption:
    """A reward the member redeemed.

    One item of User Redemption History v2.2
    (`GET /v2.2/users/{user_id}/redemption_history`).

    The page's field list for these records is not public; the fields are the
    ones the API is seen to send. `id` is text, like `Reward.id`; numbers
    sent as strings are read as ints. `status` is open text ("pending",
    "fulfilled", "cancelled", ...).

    Attributes:
        id: the redemption's id, as text.
        reward_id: the id of the reward redeemed.
        reward_title: the title of the reward redeemed, or None.
        points: the points the API sends under `points` for the redemption,
            or None.
        quantity: how many of the reward were redeemed, or None.
        status: the redemption's status, as sent (`"pending"`), or None.
        date_redeemed: when the reward was redeemed (aware, UTC).
        unknown_fields: the keys of the response this class does not model,
            read-only (empty unless CrowdTwist added a field); not part of
            equality, hashing or repr.
    """

    id: str
    reward_id: int
    reward_title: str | None = None
    points: int | None = None
    quantity: int | None = None
    status: str | None = None
    date_redeemed: datetime
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record


def _mask_codes(codes: tuple[str, ...]) -> str:
    masked = [_mask_code(code) for code in codes]
    return f"({masked[0]},)" if len(masked) == 1 else f"({', '.join(masked)})"


def _mask_optional_code(value: str | None) -> str:
    return "None" if value is None else _mask_code(value)


@attrs.frozen(kw_only=True)
class RedemptionResult:
    """The answer to a redemption (User Redemption).

    The answer of `POST /v2/users/{user_id}/redemption`. The page's response
    table is not public; the fields are those of the redemption order in
    CrowdTwist's data model (`order_id`, which older pages call
    `redeem_order_id`: both are read) and in Usable Coupons
    (`total_points_redeemed`, `ending_balance`). Every field is optional: a
    redemption that succeeded must never fail to be read. For the same reason,
    `structure_redemption_result` keeps a value it cannot read in
    `unknown_fields`, under its key, rather than failing.

    `codes` are the coupon codes the redemption issued, bearer credentials:
    `repr()` masks all but their last four characters, as it masks
    `digital_download` (a download link may be one too).

    Attributes:
        order_id: the id of the redemption order (`redeem_order_id` on older
            pages), or None.
        reward_id: the id of the reward redeemed, or None.
        quantity: the quantity redeemed, or None.
        total_points_redeemed: the points the order redeemed, or None.
        ending_balance: the member's redeemable points after the order, or
            None.
        codes: the coupon codes the redemption issued, bearer credentials
            (masked in `repr()`); empty when it issued none.
        digital_download: what the API sends under `digital_download` for
            the redemption (masked in `repr()`), or None.
        unknown_fields: the keys of the response this class does not model,
            read-only (empty unless CrowdTwist added a field); not part of
            equality, hashing or repr.
    """

    order_id: int | None = None
    reward_id: int | None = None
    quantity: int | None = None
    total_points_redeemed: int | None = None
    ending_balance: int | None = None
    codes: tuple[str, ...] = attrs.field(default=(), repr=_mask_codes)
    digital_download: str | None = attrs.field(default=None, repr=_mask_optional_code)
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record


@attrs.frozen(kw_only=True)
class ActivityCredit:
    """The answer to an activity credit (User Activity Credit): `{"awarded": true}`.

    The answer of `POST /v2/users/{user_id}/activities`. An acknowledgement
    only: CrowdTwist queues the award, and frequency caps may still stop it.
    `awarded` is None when the answer does not say; a value that cannot be
    read is kept in `unknown_fields`.

    Attributes:
        awarded: whether CrowdTwist accepted the award, to process it (not
            that the points were added), or None.
        unknown_fields: the keys of the response this class does not model,
            read-only (empty unless CrowdTwist added a field); not part of
            equality, hashing or repr.
    """

    awarded: bool | None = None
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record


@attrs.frozen(kw_only=True)
class CouponResult:
    """The answer to Use Coupon and Unuse Coupon.

    The answer of `POST /v2/coupon/use` and `POST /v2/coupon/unuse`:
    `{"success": true, "message": "Successfully submitted"}`. Both fields are
    optional, and a value that cannot be read is kept in `unknown_fields`:
    the coupon's state has changed either way.

    Attributes:
        success: True if the request was successful, or None.
        message: the answer's message (`"Successfully submitted"`), or None.
        unknown_fields: the keys of the response this class does not model,
            read-only (empty unless CrowdTwist added a field); not part of
            equality, hashing or repr.
    """

    success: bool | None = None
    message: str | None = None
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record


def _optional_text(instance: object, attribute: "attrs.Attribute[Any]", value: object) -> None:
    # The value is not quoted: it is personal data.
    if value is not None and not isinstance(value, str):
        raise TypeError(
            f"{type(instance).__name__}.{attribute.name} must be a str or None, "
            f"got {type(value).__name__}"
        )


def _mask_personal(value: str | None) -> str:
    return "None" if value is None else "'***'"


def _shipping_field(*, personal: bool = True) -> Any:
    return attrs.field(
        default=None, validator=_optional_text, repr=_mask_personal if personal else True
    )


@attrs.frozen(kw_only=True)
class Shipping:
    """Where a redeemed reward is shipped, for `redeem(..., shipping=Shipping(...))`.

    The `shipping_*` fields of a User Redemption request. Every field is
    optional text; only the fields set (not None) are sent, each as
    `shipping_<field>`. The page lists `shipping_postal_code` only in
    CrowdTwist's data model, not in its (truncated) request table; it is sent
    like the others. A value that is not a str raises TypeError at
    construction. `repr()` masks all but `country`: the rest is personal data.

    ```python
    shipping = ct.Shipping(first_name="John", last_name="Doe", street_address_1="25 1st Avenue",
                           city="New York", state="NY", postal_code="10001", country="USA")
    shipping.to_fields()["shipping_city"]  # "New York"
    ```

    Attributes:
        first_name: the recipient's first name (`shipping_first_name`), or
            None (the default).
        last_name: the recipient's last name (`shipping_last_name`), or None.
        street_address_1: the first line of the street address
            (`shipping_street_address_1`), or None.
        street_address_2: the second line of the street address
            (`shipping_street_address_2`), or None.
        city: the city (`shipping_city`), or None.
        state: the state (`shipping_state`), or None.
        postal_code: the postal code (`shipping_postal_code`), or None.
        country: the country (`shipping_country`), or None; the only field
            `repr()` shows.
        phone_number: the phone number of the member redeeming the reward
            (`shipping_phone_number`), or None.
    """

    first_name: str | None = _shipping_field()
    last_name: str | None = _shipping_field()
    street_address_1: str | None = _shipping_field()
    street_address_2: str | None = _shipping_field()
    city: str | None = _shipping_field()
    state: str | None = _shipping_field()
    postal_code: str | None = _shipping_field()
    country: str | None = _shipping_field(personal=False)
    phone_number: str | None = _shipping_field()

    __reduce__ = _reduce_record

    def to_fields(self) -> dict[str, str]:
        """The request body's `shipping_<field>` keys, for the fields set.

        Returns:
            A new dict from each `shipping_<field>` key to its value, for the
            fields that are not None.
        """
        fields: dict[str, str] = {}
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if value is not None:
                fields[f"shipping_{field.name}"] = value
        return fields
