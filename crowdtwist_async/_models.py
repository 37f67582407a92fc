"""The records the CrowdTwist API returns, as frozen attrs classes.

Field names follow the vendor documentation (snake_case, as sent on the wire),
except `Reward.freq_period`, which holds the enum the `freq_period_id` key names.
Turning JSON into these classes, with all of the API's quirks, is the job of
`_converter`; these classes only hold already-clean values.

Annotations are evaluated at runtime on purpose (no `from __future__ import
annotations`): cattrs reads them to generate the structuring code.
"""

import enum
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import attrs

__all__ = [
    "EligibilityType",
    "FrequencyPeriod",
    "IdType",
    "Partner",
    "Reward",
    "RewardsPage",
    "Segment",
    "UsableCoupon",
]


class IdType(str, enum.Enum):
    """How the `user_id` of a request identifies the user (the `id_type` parameter)."""

    EMAIL = "email"
    FACEBOOK_USER_ID = "facebook_user_id"
    TWITTER_USER_ID = "twitter_user_id"
    ID = "id"
    THIRD_PARTY_ID = "third_party_id"
    USERNAME = "username"
    MOBILE_PHONE_NUMBER = "mobile_phone_number"


class FrequencyPeriod(enum.IntEnum):
    """The period a reward's redemption cap (`freq_cap`) applies to."""

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


class EligibilityType(str, enum.Enum):
    """Whether a segment's members are the only ones eligible, or the only ones excluded."""

    INCLUSION = "inclusion"
    EXCLUSION = "exclusion"


@attrs.frozen(kw_only=True)
class Segment:
    """The member segment a reward is restricted to."""

    name: str
    subscription_id: int
    eligibility_type: EligibilityType


@attrs.frozen(kw_only=True)
class Partner:
    """The partner offering a reward."""

    id: int
    name: str


def _read_only_copy(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    # Copy first, so that whoever built the model cannot change it afterwards
    # through the dict they passed in.
    return None if value is None else MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class Reward:
    """A reward the user can redeem points for (one item of the User Rewards response).

    `extra_data` is the client-defined data, read-only; it takes part in
    equality but not in the hash, since a mapping is not hashable.
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

    def __reduce__(self) -> tuple[Any, ...]:
        # A MappingProxyType can be neither pickled nor deep-copied, so
        # `extra_data` travels as a plain dict and is frozen again on arrival:
        # rewards can go to worker processes, caches and `copy.deepcopy`.
        values = {field.name: getattr(self, field.name) for field in attrs.fields(Reward)}
        if self.extra_data is not None:
            values["extra_data"] = dict(self.extra_data)
        return (_rebuild, (Reward, values))


def _rebuild(cls: type[Reward], values: dict[str, Any]) -> Reward:
    return cls(**values)


def _mask_code(code: str) -> str:
    # A coupon code is a bearer credential: repr() output ends up in logs.
    text = str(code)
    visible = text[-4:] if len(text) > 4 else ""
    return repr("*" * (len(text) - len(visible)) + visible)


@attrs.frozen(kw_only=True)
class UsableCoupon:
    """A coupon assigned to the user by a redemption and not used yet.

    Its `repr()` masks all but the last four characters of `code`.
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
