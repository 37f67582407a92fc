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
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, TypeVar, cast

import attrs

__all__ = [
    "NO_FIELDS",
    "EligibilityType",
    "FrequencyPeriod",
    "IdType",
    "IdTypeName",
    "Partner",
    "Reward",
    "RewardsPage",
    "Segment",
    "UsableCoupon",
]


class IdType(str, enum.Enum):
    """How the `user_id` of a request identifies the user (the `id_type` parameter).

    Closed, unlike the enums of the responses: a request with a value
    CrowdTwist does not document is a mistake, refused before it is sent.
    """

    EMAIL = "email"
    FACEBOOK_USER_ID = "facebook_user_id"
    TWITTER_USER_ID = "twitter_user_id"
    ID = "id"
    THIRD_PARTY_ID = "third_party_id"
    USERNAME = "username"
    MOBILE_PHONE_NUMBER = "mobile_phone_number"


#: The documented `id_type` strings, so that a typo fails type checking.
IdTypeName = Literal[
    "email",
    "facebook_user_id",
    "twitter_user_id",
    "id",
    "third_party_id",
    "username",
    "mobile_phone_number",
]

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
    `period.known` is False.
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


#: The `unknown_fields` of a record that has none: one mapping shared by all.
NO_FIELDS: Mapping[str, Any] = MappingProxyType({})


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
        values[field.name] = dict(value) if isinstance(value, MappingProxyType) else value
    return (_rebuild, (type(record), values))


def _rebuild(cls: type[Any], values: dict[str, Any]) -> Any:
    return cls(**values)


@attrs.frozen(kw_only=True)
class Segment:
    """The member segment a reward is restricted to."""

    name: str
    subscription_id: int
    eligibility_type: EligibilityType
    unknown_fields: Mapping[str, Any] = _unknown_fields()

    __reduce__ = _reduce_record


@attrs.frozen(kw_only=True)
class Partner:
    """The partner offering a reward."""

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
    does not model (empty unless CrowdTwist added a field).
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
    """

    number: int
    total: int | None
    pages: int | None
    rewards: tuple[Reward, ...]
    next_page: int | None
    prev_page: int | None
