"""The fake's records: users, their rewards, coupons and redemptions, and the
seeded sample program.

Rewards, coupons and redemptions are kept as the JSON objects the API sends
(dicts under the wire's key names, quirks included), so what a test puts in is
exactly what goes out. Only the facts the wire does not carry, such as whether
a coupon has been used, live beside them.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Final

import attrs

from .._models import IdType

__all__ = [
    "CATEGORY_NAMES",
    "FIRST_CATALOG_REWARD_ID",
    "ID_TYPES",
    "SANDBOX_EMAIL",
    "FakeCoupon",
    "FakeUser",
    "MemberFactory",
    "RecordFactory",
    "RedemptionFactory",
    "activity_catalog",
    "default_profile",
    "fan_level",
    "parse_int",
    "sample_catalog",
    "sample_users",
    "timestamp",
    "with_fields",
]

SANDBOX_EMAIL: Final = "alice@example.com"
"""The email of the sample program's best-stocked member (CrowdTwist id 1001)."""

#: Every documented `id_type`; each is also the name of a `FakeUser` attribute.
ID_TYPES: Final = tuple(member.value for member in IdType)

_INTEGER: Final = re.compile(r"[+-]?[0-9]+", re.ASCII)

_DAY: Final = 86_400


def timestamp(moment: datetime) -> int:
    """Whole unix seconds, as the API sends dates."""
    return int(moment.timestamp())


def parse_int(value: object) -> int | None:
    """An integer from a JSON number or a string of ASCII digits, else None.

    Query parameters are strings, and in the wire's records a number may be one.
    The fake's own on purpose: it is what the SDK's converter is tested against.
    """
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        try:
            return int(value)
        except ValueError:  # more digits than int() will parse
            return None
    return None


def _count_repr(noun: str) -> Callable[[list[Any]], str]:
    # A user's 200 rewards would drown any assertion message.
    return lambda items: f"[{len(items)} {noun}]"


@attrs.define(kw_only=True)
class FakeCoupon:
    """A coupon assigned to a user: its wire record, and whether it was used.

    A used coupon is never listed; set `used = True` to play the Commerce
    Purchase API telling CrowdTwist about a purchase.

    Attributes:
        record: the JSON object `usable_coupons` sends; edit it freely.
        used: whether the coupon was used (default False): a used coupon is
            never listed.
    """

    record: dict[str, Any]
    used: bool = False

    @property
    def expires_at(self) -> int | None:
        """`record["date_to_expire"]` as unix seconds, or None if it never expires."""
        return parse_int(self.record.get("date_to_expire"))

    def is_expired(self, now: int) -> bool:
        """Whether the expiry date has passed at *now* (unix seconds).

        Args:
            now: the moment to judge at, in unix seconds.

        Returns:
            True if the coupon has an expiry date and it is at or before *now*.
        """
        expires = self.expires_at
        return expires is not None and expires <= now


def default_profile() -> dict[str, Any]:
    """The profile fields of a member nobody has filled in yet."""
    return {
        "email_is_verified": False,
        "is_active": True,
        "receive_email_updates": False,
        "num_points_purchased": 0,
        "activity_stream_opt_in": True,
        "segments": [],
    }


@attrs.define(kw_only=True)
class FakeUser:
    """A program member: ids, points, a profile, activities, redemptions, rewards, coupons.

    One id per documented `id_type`. Crediting an activity adds to both
    `points` and `total_points`, redeeming spends `points` only. Each
    history lists its records newest first (`date_created`,
    `date_redeemed`), records of the same second in list order; a write
    through the API puts its record first. Lists and records may be edited
    while the fake serves.

    Attributes:
        id: the CrowdTwist id (`id_type="id"`).
        email: the email address (`id_type="email"`), or None.
        username: the username (`id_type="username"`), or None.
        facebook_user_id: the Facebook user id (`id_type="facebook_user_id"`), or None.
        twitter_user_id: the Twitter user id (`id_type="twitter_user_id"`), or None.
        third_party_id: the program's own id for the member
            (`id_type="third_party_id"`), or None.
        mobile_phone_number: the mobile phone number
            (`id_type="mobile_phone_number"`), or None.
        points: the redeemable points (default 0).
        total_points: the points ever earned (default 0).
        fan_level: the member's fan level, sent as `fan_level` (default `"Member"`), or None.
        profile: the User Profile fields other than the ids, the points and
            `fan_level` (which come from the attributes), under their wire
            names; a key it lacks is sent as null.
        activities: the JSON objects the activity history sends, in any order.
        redemptions: the JSON objects the redemption history sends, in any order.
        rewards: the JSON objects the rewards listing sends, in listing order;
            one whose `current_quantity` is 0 is sold out.
        coupons: the coupons assigned to the member (`FakeCoupon`s).
    """

    id: int
    email: str | None = None
    username: str | None = None
    facebook_user_id: str | None = None
    twitter_user_id: str | None = None
    third_party_id: str | None = None
    mobile_phone_number: str | None = None
    points: int = 0
    total_points: int = 0
    fan_level: str | None = "Member"
    # Personal data: kept out of the repr, as the SDK keeps it out of its own.
    profile: dict[str, Any] = attrs.field(factory=default_profile, repr=False)
    activities: list[dict[str, Any]] = attrs.field(factory=list, repr=_count_repr("activities"))
    # Before `rewards`, not after `coupons`: the repr has always ended with
    # the rewards and coupons counts, and assertions may rely on it.
    redemptions: list[dict[str, Any]] = attrs.field(factory=list, repr=_count_repr("redemptions"))
    rewards: list[dict[str, Any]] = attrs.field(factory=list, repr=_count_repr("rewards"))
    coupons: list[FakeCoupon] = attrs.field(factory=list, repr=_count_repr("coupons"))

    def identifier(self, id_type: str) -> str | None:
        """This user's id of the given `id_type` (e.g. `"email"`), as a string.

        Args:
            id_type: a documented `id_type`: `"id"`, `"email"`, `"username"`,
                `"facebook_user_id"`, `"twitter_user_id"`, `"third_party_id"`
                or `"mobile_phone_number"`.

        Returns:
            The id as a string, or None when the member has none of that type.

        Raises:
            ValueError: if `id_type` is not a documented one.
        """
        if id_type not in ID_TYPES:
            raise ValueError(f"id_type must be one of {', '.join(ID_TYPES)}; got {id_type!r}")
        value = getattr(self, id_type)
        return None if value is None else str(value)


# -- realistic records --------------------------------------------------------


@attrs.frozen
class _Item:
    title: str
    description: str
    kind: str
    points: tuple[int, ...]
    variants: tuple[str, ...] = ()


_CATEGORIES: Final[Mapping[str, int]] = {
    "coupon": 2631,
    "merchandise": 2632,
    "experience": 2633,
    "sweepstakes": 2634,
    "digital": 2635,
    "donation": 2636,
}

_APPAREL: Final = tuple(
    f"{color} / {size}" for color in ("Navy", "Heather Grey", "Forest Green") for size in "SML"
)

_CATALOG: Final = (
    _Item(
        "$5 Off Your Next Purchase",
        "Take $5 off any purchase of $25 or more.",
        "coupon",
        (250, 500),
    ),
    _Item(
        "$10 Off Orders Over $50",
        "Save $10 on an order of $50 or more, online or in store.",
        "coupon",
        (500, 750),
    ),
    _Item(
        "$20 Sunshine Rewards Coupon", "A $20 coupon for your next visit.", "coupon", (1000, 1500)
    ),
    _Item(
        "10% Off Coupon", "Receive a 10% off coupon when you redeem 1000 points.", "coupon", (1000,)
    ),
    _Item("15% Off Any Full-Price Item", "One full-price item, 15% off.", "coupon", (1200, 1500)),
    _Item(
        "Free Shipping on Your Next Order",
        "Free standard shipping, no minimum.",
        "coupon",
        (150, 200),
    ),
    _Item("Free Regular Coffee", "Any size, any roast, on us.", "coupon", (100, 150)),
    _Item(
        "Café Gift Card",
        "A gift card for our partner cafés.",
        "coupon",
        (1500, 2500),
        ("$10", "$15", "$25"),
    ),
    _Item(
        "Logo T-Shirt",
        "Soft ring-spun cotton with the club logo.",
        "merchandise",
        (1500, 2000),
        _APPAREL,
    ),
    _Item(
        "Crewneck Sweatshirt",
        "Midweight fleece, embroidered logo.",
        "merchandise",
        (3500, 4000),
        _APPAREL,
    ),
    _Item("Knit Beanie", "One size fits most.", "merchandise", (1200,), ("Navy", "Red", "Black")),
    _Item("Canvas Tote Bag", "Heavy canvas, inside pocket.", "merchandise", (800, 1000)),
    _Item(
        "Insulated Water Bottle",
        "Keeps drinks cold for 24 hours.",
        "merchandise",
        (1800, 2200),
        ("20 oz", "32 oz"),
    ),
    _Item(
        "Baseball Cap", "Adjustable strap, curved brim.", "merchandise", (1400,), ("Navy", "Khaki")
    ),
    _Item("Enamel Pin Set", "Three collectible pins.", "merchandise", (600,)),
    _Item(
        "Movie Night for Two",
        "Two tickets and a large popcorn at Northwind Cinemas.",
        "experience",
        (2500, 3000),
    ),
    _Item(
        "Behind-the-Scenes Stadium Tour",
        "A guided tour for up to four guests.",
        "experience",
        (5000,),
    ),
    _Item("Cooking Class with Chef Ana", "A two-hour hands-on class.", "experience", (6000, 7500)),
    _Item("Wine Tasting for Two", "Six wines, one sommelier, 21+ only.", "experience", (4000,)),
    _Item(
        "Win a Weekend in Miami",
        "Flights and two nights for two. No purchase necessary.",
        "sweepstakes",
        (100, 250),
    ),
    _Item(
        "Win Courtside Tickets",
        "Two courtside seats at a game of your choice.",
        "sweepstakes",
        (200,),
    ),
    _Item("Win a Year of Coffee", "One drink a day for a year.", "sweepstakes", (50, 100)),
    _Item("Win a Mountain Bike", "A full-suspension trail bike.", "sweepstakes", (150,)),
    _Item("Exclusive Wallpaper Pack", "Ten phone and desktop wallpapers.", "digital", (50, 100)),
    _Item(
        "E-Book: 30 Quick Weeknight Dinners", "A digital cookbook, PDF and EPUB.", "digital", (300,)
    ),
    _Item("Members-Only Playlist", "A curated playlist, updated monthly.", "digital", (25, 50)),
    _Item(
        "Donate 500 Points to the Food Bank", "We turn your points into meals.", "donation", (500,)
    ),
    _Item("Plant a Tree", "One tree planted in your name.", "donation", (250,)),
)

_FREQUENCY_PERIODS: Final = (
    ("1", "24 Hours"),
    ("2", "Calendar Day"),
    ("3", "7 Days"),
    ("4", "Calendar Week"),
    ("5", "Lifetime"),
    ("6", "Calendar Month"),
    ("9", "30 Days"),
)
_SEGMENTS: Final = (
    {"name": "New York Members", "subscription_id": 2, "eligibility_type": "inclusion"},
    {"name": "5x login", "subscription_id": 123, "eligibility_type": "inclusion"},
    {"name": "Employees", "subscription_id": 7, "eligibility_type": "exclusion"},
)
_PARTNERS: Final = (
    {"id": 56577, "name": "Acme Car Rentals"},
    {"id": 60210, "name": "Brightside Coffee Co."},
    {"id": 61877, "name": "Northwind Cinemas"},
)
_EXTRA_DATA: Final = (
    {"city": "New York", "state": "New York", "country": "USA", "postal code": "10010"},
    {"city": "Chicago", "state": "Illinois", "country": "USA", "postal code": "60601"},
    {"city": "Toronto", "state": "Ontario", "country": "Canada", "postal code": "M5V 2T6"},
)
_COUPON_CATEGORIES: Final = (
    # (id, name, expiration days or None, ((reward title, points), ...))
    (
        218,
        "Sunshine Rewards",
        90,
        (
            ("$5 Sunshine Rewards Coupon", 50),
            ("$10 Sunshine Rewards Coupon", 100),
            ("$20 Sunshine Rewards Coupon", 200),
        ),
    ),
    (219, "Birthday Treats", 30, (("Free Birthday Dessert", 0), ("Birthday Double Points", 0))),
    (
        305,
        "Partner Offers",
        None,
        (("25% Off Acme Car Rentals", 150), ("Free Popcorn at Northwind Cinemas", 75)),
    ),
)


@attrs.frozen(kw_only=True)
class _Terms:
    """A reward's terms, drawn before its record is written out."""

    strings: bool
    date_start: int
    no_end_date: bool
    date_end: int | None
    total_quantity: int
    total_coupons: int
    min_age: int | None
    #: (freq_period_id, freq_period_name) when the reward is frequency-capped.
    period: tuple[str, str] | None
    #: (the key's spelling, the number of winners).
    winners: tuple[str, int | None]


def _title(item: _Item, variant: str) -> str:
    if not variant:
        return item.title
    return (
        f"{item.title} – {variant}" if item.kind == "merchandise" else f"{item.title} ({variant})"
    )


class RecordFactory:
    """Makes realistic reward and coupon records from one seeded RNG.

    Ids count up from realistic starting points, so they are unique within a
    fake; every other value is drawn from the RNG, so the same seed and the
    same calls give the same records.
    """

    def __init__(
        self, rng: random.Random, *, first_reward_id: int = 541_001, first_group_id: int = 8_101
    ) -> None:
        self._rng = rng
        self._next_reward_id = first_reward_id
        self._next_group_id = first_group_id
        self._next_order_id = 28_184_201
        self._next_order_coupon_id = 17_298_101

    def _flag(self, value: bool, as_string: bool) -> int | str:
        # The API sends booleans as 0/1 on some records and "0"/"1" on others.
        return ("1" if value else "0") if as_string else int(value)

    def rewards(self, count: int, now: int, *, soldout: int = 0) -> list[dict[str, Any]]:
        """*count* rewards as a listing shows them, the last *soldout* of them
        (spread through the list) with `current_quantity` 0."""
        records: list[dict[str, Any]] = []
        while len(records) < count:
            item = self._rng.choice(_CATALOG)
            group_id = self._next_group_id
            self._next_group_id += 1
            # A reward with sizes or colours is one record per variant, sharing a group.
            variants = item.variants or ("",)
            take = self._rng.randint(1, min(3, len(variants))) if item.variants else 1
            records.extend(
                self.reward(now, item=item, group_id=group_id, variant=variant)
                for variant in self._rng.sample(variants, take)[: count - len(records)]
            )
        for index in self._rng.sample(range(count), soldout):
            records[index]["current_quantity"] = 0
        return records

    def reward(
        self,
        now: int,
        *,
        item: _Item | None = None,
        group_id: int | None = None,
        variant: str = "",
    ) -> dict[str, Any]:
        """One realistic reward record, in stock."""
        # The draws are made in a fixed order (the terms, then the record's
        # fields as they are listed), so a seed keeps giving the same bytes.
        if item is None:
            item = self._rng.choice(_CATALOG)
            variant = self._rng.choice(item.variants) if item.variants else ""
        if group_id is None:
            group_id = self._next_group_id
            self._next_group_id += 1
        number = self._next_reward_id
        self._next_reward_id += 1
        terms = self._terms(item, now)
        return {
            **self._offer(number, item, variant, terms),
            **self._rules(item, group_id, terms),
            **self._extras(item, terms),
        }

    def _terms(self, item: _Item, now: int) -> _Terms:
        rng = self._rng
        kind = item.kind
        strings = rng.random() < 0.4
        today = now - now % _DAY
        date_start = today - rng.randint(7, 900) * _DAY
        no_end_date = rng.random() < 0.6
        date_end = None if no_end_date else today + rng.randint(14, 365) * _DAY
        unlimited = rng.random() < 0.3
        total_quantity = 9_999_999 if unlimited else rng.choice((100, 250, 500, 1000, 5000))
        total_coupons = rng.choice((500, 1000, 2500)) if kind == "coupon" else 0
        min_age = 21 if "Wine" in item.title else 18 if kind == "sweepstakes" else None
        capped = rng.random() < 0.3
        period_id, period_name = rng.choice(_FREQUENCY_PERIODS)
        winners = rng.choice((1, 3, 10, 100)) if kind == "sweepstakes" else None
        # The API spells this key two ways; the converter must take both.
        winners_key = "sweepstakes_winners" if rng.random() < 0.5 else "sweepstake_winners"
        return _Terms(
            strings=strings,
            date_start=date_start,
            no_end_date=no_end_date,
            date_end=date_end,
            total_quantity=total_quantity,
            total_coupons=total_coupons,
            min_age=min_age,
            period=(period_id, period_name) if capped else None,
            winners=(winners_key, winners),
        )

    def _offer(self, number: int, item: _Item, variant: str, terms: _Terms) -> dict[str, Any]:
        rng = self._rng
        date_end = terms.date_end
        return {
            # Mostly a string as documented, sometimes a number as sent.
            "id": number if rng.random() < 0.15 else str(number),
            "title": _title(item, variant),
            "description": item.description,
            "current_quantity": rng.randint(1, min(terms.total_quantity, 750)),
            "num_points": rng.choice(item.points),
            "date_start": terms.date_start,
            "date_end": date_end,
            "date_end_redeemable": (
                None if date_end is None or rng.random() < 0.5 else date_end + 30 * _DAY
            ),
        }

    def _rules(self, item: _Item, group_id: int, terms: _Terms) -> dict[str, Any]:
        rng = self._rng
        kind, strings = item.kind, terms.strings
        winners_key, winners = terms.winners
        return {
            "is_enabled": self._flag(True, strings),
            "category_id": _CATEGORIES[kind],
            "group_id": group_id,
            "no_end_date": self._flag(terms.no_end_date, strings),
            "total_quantity": terms.total_quantity,
            "max_select_quantity": rng.choice((None, None, 1, 3, 5)),
            "max_per_user": rng.choice((1, 2, 5, 10)),
            "is_shipping_required": self._flag(kind == "merchandise", strings),
            "is_phone_number_required": self._flag(kind == "experience", strings),
            "is_min_age_required": self._flag(terms.min_age is not None, not strings),
            "min_age": terms.min_age,
            "is_digital_download": self._flag(kind == "digital", strings),
            winners_key: winners,
        }

    def _extras(self, item: _Item, terms: _Terms) -> dict[str, Any]:
        rng = self._rng
        sweepstakes = item.kind == "sweepstakes"
        period_id, period_name = terms.period or (None, None)
        return {
            "extra_data": rng.choice(_EXTRA_DATA) if rng.random() < 0.25 else None,
            "reference_id": (
                f"{rng.randrange(16**6):06x}" + rng.choice(("", " "))
                if rng.random() < 0.3
                else None
            ),
            "total_coupons": terms.total_coupons,
            "remaining_coupons": rng.randint(0, terms.total_coupons),
            # Documented as strings, and sent as strings.
            "freq_cap": None if terms.period is None else str(rng.randint(1, 3)),
            "freq_period_id": period_id,
            "freq_period_name": period_name,
            "image": f"https://cdn.crowdtwist.com/img/v2/{rng.randrange(16**12):012x}.jpg",
            "reward_terms": (
                f"https://cdn.crowdtwist.com/file/{rng.randrange(16**3):03x}/reward_terms.pdf"
                if sweepstakes
                else None
            ),
            "min_tier_id": rng.choice((None, None, None, 45, 46)),
            "segment": dict(rng.choice(_SEGMENTS)) if rng.random() < 0.2 else None,
            "partner_info": (
                dict(rng.choice(_PARTNERS))
                if item.kind == "donation" or rng.random() < 0.15
                else None
            ),
        }

    def coupon(self, now: int, *, expired: bool = False, expires: bool = True) -> dict[str, Any]:
        """One realistic usable-coupon record, ordered some days before *now*.

        With `expires=False` it comes from a category whose coupons never
        expire; with `expired=True` its expiry date is already past.
        """
        rng = self._rng
        choices = [c for c in _COUPON_CATEGORIES if (c[2] is not None) == (expires or expired)]
        category_id, category_name, days, titles = rng.choice(choices)
        title, points = rng.choice(titles)
        if days is None:
            age = rng.randint(1, 400)
        elif expired:
            age = days + rng.randint(1, 60)
        else:
            age = rng.randint(0, days - 2)
        order_date = now - age * _DAY - rng.randint(0, _DAY - 1)
        order_id = self._next_order_id
        order_coupon_id = self._next_order_coupon_id
        self._next_order_id += rng.randint(1, 40)
        self._next_order_coupon_id += rng.randint(1, 25)
        # The documented sample spells these two keys `reward_order_*`.
        prefix = "reward_order" if rng.random() < 0.5 else "redeem_order"
        return {
            "reward_id": rng.randint(127_000, 128_999),
            f"{prefix}_id": order_id,
            f"{prefix}_coupon_id": order_coupon_id,
            "total_points_redeemed": points,
            "ending_balance": rng.randint(0, 4000),
            "quantity": 1,
            "code": f"ACC{rng.randrange(10**8):08d}",
            "reward_title": title,
            **_coupon_batch(rng, (category_id, category_name, days), order_date),
        }


def _coupon_batch(
    rng: random.Random, category: tuple[int, str, int | None], ordered: int
) -> dict[str, Any]:
    """The fields a usable-coupon record ends with: its *category* (id, name,
    expiration days or None), batch and dates, for an order made at *ordered*."""
    category_id, category_name, days = category
    return {
        "coupon_category_id": category_id,
        "coupon_category_name": category_name,
        "coupon_category_expiration_days": days,
        "batch_num": rng.randint(1, 99),
        "date_to_expire": None if days is None else ordered + days * _DAY,
        "order_date_created": ordered,
        "coupon_date_created": ordered - rng.randint(1, 60) * _DAY,
    }


#: The first id of a redeemed reward, one id per item of the catalogue.
_FIRST_REDEEMED_REWARD_ID: Final = 3401

_PENDING_DAYS: Final = 14


class RedemptionFactory:
    """Makes realistic redemption records from a seeded RNG of their own.

    Not `RecordFactory`'s RNG: drawing redemptions from it would change every
    reward and coupon generated after them, and so the bytes the other
    endpoints serve for a seed. Ids count up by a few at a time (other
    members' redemptions take the ones between), so they are unique within a
    fake.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next_id = 5_000_101

    def history(self, count: int, now: int, *, days: int = 730) -> list[dict[str, Any]]:
        """*count* redemptions spread over the *days* before *now*, oldest
        first, their ids rising with their dates as the API's do."""
        dates = sorted(now - self._rng.randint(1, days * _DAY) for _ in range(count))
        return [self.redemption(now, date=date) for date in dates]

    def redemption(self, now: int, *, date: int | None = None) -> dict[str, Any]:
        """One realistic redemption record, made at unix time *date* (default:
        some time in the 30 days before *now*)."""
        rng = self._rng
        if date is None:
            date = now - rng.randint(1, 30 * _DAY)
        index = rng.randrange(len(_CATALOG))
        item = _CATALOG[index]
        number = self._next_id
        self._next_id += rng.randint(1, 40)
        points = rng.choice(item.points)
        # Goods ship some days after the order; anything may be cancelled.
        if item.kind == "merchandise" and now - date < _PENDING_DAYS * _DAY:
            status = "pending"
        else:
            status = "cancelled" if rng.random() < 0.05 else "fulfilled"
        # About one record in five sends its numbers as strings, as the API does.
        strings = rng.random() < 0.2
        return {
            "id": str(number) if strings else number,
            # One id per catalogue item: a reward redeemed twice shows the same id.
            "reward_id": _FIRST_REDEEMED_REWARD_ID + index,
            "reward_title": item.title,
            "points": str(points) if strings else points,
            "status": status,
            "date_redeemed": date,
        }

    def order(
        self,
        now: int,
        *,
        reward_id: int | str,
        reward_title: str | None,
        points: int,
        quantity: int,
        status: str,
    ) -> dict[str, Any]:
        """The record of a redemption made through the API at *now*: the next
        id (also the order's), the points spent in all."""
        number = self._next_id
        self._next_id += self._rng.randint(1, 40)
        return {
            "id": number,
            "reward_id": reward_id,
            "reward_title": reward_title,
            "points": points,
            "quantity": quantity,
            "status": status,
            "date_redeemed": now,
        }


# (documented key, the drifted spelling the API also sends)
_SPELLINGS: Final = (
    ("sweepstakes_winners", "sweepstake_winners"),
    ("redeem_order_id", "reward_order_id"),
    ("redeem_order_coupon_id", "reward_order_coupon_id"),
)


def with_fields(record: dict[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """*record* updated with *fields*, datetimes as unix seconds.

    A field given under either spelling of a drifted key replaces the
    record's value under the other, which would otherwise win or linger.
    """
    for documented, drifted in _SPELLINGS:
        if documented in fields:
            record.pop(drifted, None)
        if drifted in fields:
            record.pop(documented, None)
    record.update(
        {
            key: timestamp(value) if isinstance(value, datetime) else value
            for key, value in fields.items()
        }
    )
    return record


# -- members: activities, profiles, and the program's catalogues ---------------

_HOUR: Final = 3_600

#: The sample program's activities: (activity id, name, default points).
_PROGRAM_ACTIVITIES: Final = (
    ("201", "Joined the program", 500),
    ("202", "Completed your profile", 250),
    ("203", "Made a purchase", 100),
    ("204", "Birthday bonus", 200),
    ("225", "Shared a link", 25),
    ("226", "Wrote a product review", 100),
    ("227", "Referred a friend", 250),
    ("228", "Followed us on Instagram", 50),
    ("229", "Checked in at a store", 20),
    ("230", "Answered a survey", 75),
    ("410052775", "Attended a members' event", 150),
)
_JOINED: Final = "201"
_PROFILE_DONE: Final = "202"
_PURCHASE: Final = "203"
# What members do again and again; purchases most. None of these is worth
# more than 250 points by default, which bounds a sample member's balance.
_REPEATED: Final = ("203", "203", "203", "225", "226", "227", "228", "229", "230", "410052775")
#: The default points of each activity, by activity id.
_DEFAULT_POINTS: Final[Mapping[str, int]] = {aid: points for aid, _, points in _PROGRAM_ACTIVITIES}

#: Category names, as the catalogue's `category` filter takes them.
CATEGORY_NAMES: Final[Mapping[int, str]] = {
    _CATEGORIES["coupon"]: "Coupons",
    _CATEGORIES["merchandise"]: "Merchandise",
    _CATEGORIES["experience"]: "Experiences",
    _CATEGORIES["sweepstakes"]: "Sweepstakes",
    _CATEGORIES["digital"]: "Digital",
    _CATEGORIES["donation"]: "Donations",
}

#: The program's tiers: (title, the least `total_points`), lowest first.
_TIERS: Final = (("Member", 0), ("Silver", 10_000), ("Gold", 25_000))

#: The first id of the program catalogue's rewards, below any member's.
FIRST_CATALOG_REWARD_ID: Final = 453_901


def activity_catalog() -> dict[str, dict[str, Any]]:
    """The sample program's activities, by activity id: `name` and default `num_points`."""
    return {
        activity_id: {"name": name, "num_points": points}
        for activity_id, name, points in _PROGRAM_ACTIVITIES
    }


def fan_level(total_points: int) -> str:
    """The tier a member with *total_points* earned is in."""
    return [title for title, least in _TIERS if total_points >= least][-1]


def _iso(moment: int) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tier_info(total_points: int, reached: int) -> dict[str, Any]:
    """`tier_info` as the real profile sends it, for *total_points* earned."""
    levels: list[dict[str, Any]] = [
        {
            "title": title,
            "min_value": least,
            "max_value": _TIERS[index + 1][1] - 1 if index + 1 < len(_TIERS) else 100_000_000,
            "image_url": None,
        }
        for index, (title, least) in enumerate(_TIERS)
    ]
    at = sum(1 for _, least in _TIERS if total_points >= least) - 1
    current = levels[at]
    above = levels[at + 1 :]
    return {
        "timeframe_score": None,
        "tier_score": total_points,
        "current_level": current,
        "next_level": above[0] if above else None,
        "levels_above": above,
        "levels_below": levels[:at],
        "date_assigned": _iso(reached),
        "expiration_date": None,
        "reset_date": None,
        "score_needed_to_reach": above[0]["min_value"] - total_points if above else None,
        "score_needed_to_maintain": None,
        "days_until_expiration_date": None,
        "days_until_reset_date": None,
        "is_maintenance_mode": False,
        "date_reached": _iso(reached),
        "assigned_by_event": "start" if at == 0 else "points",
    }


#: (coupon category id, name, expiration days) of the coupons rewards issue.
_ISSUED_COUPONS: Final = tuple((c[0], c[1], c[2]) for c in _COUPON_CATEGORIES)


class MemberFactory:
    """Makes members' records from a seeded RNG of its own: activity
    histories and profiles, and what the write endpoints add (credited
    activities, the coupons of redeemed rewards, download links).

    Its own RNG, as `RedemptionFactory` has one: the rewards, coupons and
    redemptions a seed gives stay what they were. Ids count up, so they are
    unique within a fake.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next_activity_id = 7_000_101
        # Far above `RecordFactory`'s order coupon ids, which count up from
        # 17_298_101 a few at a time.
        self._next_coupon_id = 18_000_101

    def activity(
        self,
        now: int,
        *,
        activity_id: str,
        name: str | None,
        num_points: int,
        date: int | None = None,
        activity_date: int | None = None,
        extra_data: Mapping[str, Any] | None = None,
        notes: str | None = None,
        quirks: bool = False,
    ) -> dict[str, Any]:
        """One activity record as the history sends it, made at unix time
        *date* (default: some time in the 30 days before *now*). With
        *quirks*, some numbers are sent as strings and the award lags the
        record by a few seconds, as the API does now and then."""
        rng = self._rng
        if date is None:
            date = now - rng.randint(1, 30 * _DAY)
        number = self._next_activity_id
        self._next_activity_id += rng.randint(1, 40)
        awarded = date + rng.randint(1, 9) if quirks and rng.random() < 0.3 else date
        strings = quirks and rng.random() < 0.15
        return {
            "id": str(number) if strings else number,
            "activity_id": activity_id,
            "name": name,
            "num_points": num_points,
            "notes": notes,
            "date_created": str(date) if strings else date,
            "date_awarded": awarded,
            "activity_date": activity_date,
            "extra_data": None if extra_data is None else dict(extra_data),
        }

    def any_activity(self, now: int, catalog: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """A realistic record of one of *catalog*'s activities (the sample
        program's if it is empty), done some time in the 30 days before *now*."""
        rng = self._rng
        if catalog:
            activity_id = rng.choice(sorted(catalog))
            entry = catalog[activity_id]
            name, points = entry.get("name"), parse_int(entry.get("num_points")) or 0
        else:
            activity_id, name, points = rng.choice(_PROGRAM_ACTIVITIES)
        date = now - rng.randint(1, 30 * _DAY)
        return self.activity(
            now,
            activity_id=activity_id,
            name=name,
            num_points=points,
            date=date,
            **self._details(activity_id, date),
        )

    def _details(self, activity_id: str, date: int) -> dict[str, Any]:
        """What an activity of *activity_id* carries besides its points."""
        rng = self._rng
        if activity_id == _PURCHASE:
            return {
                "activity_date": date - rng.randint(60, 3 * _HOUR),
                "extra_data": {
                    "order_number": f"W{rng.randrange(10**7):07d}",
                    "store_id": rng.choice(("575", "612", "online")),
                },
            }
        if activity_id == "225":
            return {
                "extra_data": {
                    "url": "http://www.someurl.com/shared.html",
                    "message": "Check this out!",
                }
            }
        if activity_id == "226":
            return {"extra_data": {"product_sku": f"SKU-{rng.randrange(10**5):05d}"}}
        if activity_id == "410052775":
            return {"notes": rng.choice(("Spring members' night", "Holiday open house"))}
        return {}

    def history(
        self, now: int, redemptions: list[dict[str, Any]], *, others: int, balance: int
    ) -> list[dict[str, Any]]:
        """The activities of a member who joined 735 days before *now*:
        joining, completing the profile, a purchase before each of
        *redemptions*, and *others* more (the first of them a purchase);
        oldest first, ids rising with their dates.

        Purchases earn what the member spends, so the balance never goes
        below 0 at any redemption, and end with *balance* points unspent
        (a cancelled redemption spends nothing). *balance* must be at least
        what the other activities and the smallest purchases may leave,
        760 + 250 * others + 30 * len(redemptions) points (else ValueError).
        """
        plan, spends = self._plan(now, redemptions, others)
        left = self._cover(plan, sorted(spends))
        if left > balance:
            raise ValueError(f"a balance of {balance} is too small for this history ({left})")
        self._share_out(plan, balance - left)
        return [
            self.activity(
                now,
                activity_id=activity_id,
                name=_activity_name(activity_id),
                num_points=points,
                date=date,
                quirks=True,
                **self._details(activity_id, date),
            )
            for date, activity_id, points in plan
        ]

    def _plan(
        self, now: int, redemptions: list[dict[str, Any]], others: int
    ) -> tuple[list[list[Any]], list[tuple[int, int]]]:
        """`history`'s activities as [date, activity id, points], by date (a
        purchase's points not yet raised to cover the spends); and the
        spends, as (date, points)."""
        rng = self._rng
        joined = now - 735 * _DAY - rng.randint(0, _DAY - 1)
        plan: list[list[Any]] = [
            [joined, _JOINED, _DEFAULT_POINTS[_JOINED]],
            [joined + rng.randint(60, 3 * _DAY), _PROFILE_DONE, _DEFAULT_POINTS[_PROFILE_DONE]],
        ]
        spends: list[tuple[int, int]] = []
        for record in redemptions:
            when = parse_int(record.get("date_redeemed")) or now
            plan.append([max(joined + _HOUR, when - rng.randint(600, 7 * _DAY)), _PURCHASE, 0])
            if record.get("status") != "cancelled":
                spends.append((when, parse_int(record.get("points")) or 0))
        for index in range(others):
            activity_id = _PURCHASE if index == 0 else rng.choice(_REPEATED)
            plan.append([rng.randint(joined + _DAY, now - _HOUR), activity_id, 0])
        # Drawn once every date is: the first two steps keep their defaults.
        for step in plan[2:]:
            step[2] = 10 * rng.randint(1, 3) if step[1] == _PURCHASE else _DEFAULT_POINTS[step[1]]
        plan.sort(key=lambda step: step[0])
        return plan, spends

    def _share_out(self, plan: list[list[Any]], surplus: int) -> None:
        """Add *surplus* points to the purchases of *plan*, at random; points
        added to any purchase leave every earlier redemption covered."""
        rng = self._rng
        purchases = [step for step in plan if step[1] == _PURCHASE]
        while surplus > 0:
            share = min(surplus, 10 * rng.randint(1, 40))
            rng.choice(purchases)[2] += share
            surplus -= share

    @staticmethod
    def _cover(plan: list[list[Any]], spends: list[tuple[int, int]]) -> int:
        """Make the latest purchase before each spend earn what it lacks;
        return the points left at the end."""
        balance, latest, at = 0, None, 0
        for step in plan:
            while at < len(spends) and spends[at][0] < step[0]:
                balance = _spend(balance, spends[at][1], latest)
                at += 1
            balance += step[2]
            if step[1] == _PURCHASE:
                latest = step
        for _, cost in spends[at:]:
            balance = _spend(balance, cost, latest)
        return balance

    def profile(
        self, now: int, person: Mapping[str, Any], *, joined: int, total_points: int
    ) -> dict[str, Any]:
        """A member's profile fields (no ids, no points): *person*'s, with the
        dates of a member who joined at *joined*."""
        rng = self._rng
        last_login = now - rng.randint(_HOUR, 20 * _DAY)
        opted_in = person.get("receive_email_updates") is True
        return {
            **default_profile(),
            "first_name": None,
            "middle_name": None,
            "last_name": None,
            "date_of_birth": None,
            "gender_id": None,
            "gender": None,
            "extra_data": None,
            "continent": "North America",
            "date_receive_email_opt_in": joined + rng.randint(60, 600) if opted_in else None,
            "date_receive_email_opt_out": None,
            "date_last_login": last_login,
            "date_last_updated": last_login + rng.randint(5, 900),
            "date_created": joined,
            "hash_algorithm_id": "5",
            "password_generated": "0",
            "lang_pref": None,
            "sign_up_channel_id": "2",
            "referral_url": None,
            "tier_info": _tier_info(total_points, joined),
            "household_id": None,
            **person,
        }

    def coupon(
        self,
        now: int,
        *,
        reward_id: int | str,
        order_id: int,
        title: str | None,
        points: int,
        balance: int,
        taken: set[str],
    ) -> dict[str, Any]:
        """The usable-coupon record of a coupon issued at *now* for order
        *order_id*, its code not one of *taken*."""
        rng = self._rng
        category = rng.choice(_ISSUED_COUPONS)
        code = f"ACC{rng.randrange(10**8):08d}"
        while code in taken:
            code = f"ACC{rng.randrange(10**8):08d}"
        number = self._next_coupon_id
        self._next_coupon_id += rng.randint(1, 25)
        return {
            "reward_id": reward_id,
            "redeem_order_id": order_id,
            "redeem_order_coupon_id": number,
            "total_points_redeemed": points,
            "ending_balance": balance,
            "quantity": 1,
            "code": code,
            "reward_title": title,
            **_coupon_batch(rng, category, now),
        }

    def joined_lately(self, now: int) -> int:
        """When a member who joined a few days before *now* did."""
        return now - 3 * _DAY - self._rng.randint(0, _DAY - 1)

    def download_link(self) -> str:
        """Where a digital reward is downloaded from."""
        return f"https://cdn.crowdtwist.com/file/{self._rng.randrange(16**12):012x}/download.pdf"


def _spend(balance: int, cost: int, purchase: list[Any] | None) -> int:
    """*balance* after spending *cost*, *purchase* earning what it lacks
    (in tens of points, as a purchase earns)."""
    lacking = cost - balance
    if lacking > 0 and purchase is not None:
        extra = -(-lacking // 10) * 10
        purchase[2] += extra
        balance += extra
    return balance - cost


def _activity_name(activity_id: str) -> str | None:
    return next((name for aid, name, _ in _PROGRAM_ACTIVITIES if aid == activity_id), None)


def _item(title: str) -> _Item:
    return next(item for item in _CATALOG if item.title == title)


def _flag_like(record: Mapping[str, Any], key: str, value: bool) -> int | str:
    """*value* as 0/1, or as "0"/"1" where *record* sends that key as a string."""
    return ("1" if value else "0") if isinstance(record.get(key), str) else int(value)


def sample_catalog(factory: RecordFactory, now: int) -> list[dict[str, Any]]:
    """The program's reward catalogue (Rewards v2.1): 60 rewards with ids
    from `FIRST_CATALOG_REWARD_ID` up, as `FakeCrowdTwist` documents them.

    *factory* is the catalogue's own (its own RNG and ids), so the members'
    rewards stay what a seed has always given.
    """
    coupon = factory.reward(now, item=_item("$5 Off Your Next Purchase"))
    with_fields(
        coupon,
        {
            "id": str(FIRST_CATALOG_REWARD_ID),
            "num_points": 500,
            "current_quantity": 100,
            "total_quantity": 1000,
            "max_per_user": 2,
            "date_end": None,
            "date_end_redeemable": None,
            "no_end_date": _flag_like(coupon, "no_end_date", True),
            "total_coupons": 1000,
            "remaining_coupons": 1000,
            "min_tier_id": None,
            "segment": None,
        },
    )
    shirt = factory.reward(now, item=_item("Logo T-Shirt"), variant="Navy / M")
    with_fields(
        shirt,
        {
            "id": str(FIRST_CATALOG_REWARD_ID + 1),
            "num_points": 2000,
            "current_quantity": 25,
            "total_quantity": 250,
            "max_per_user": 1,
            "min_tier_id": None,
            "segment": None,
        },
    )
    middle = factory.rewards(56, now)
    soldout = factory.reward(now, item=_item("Win Courtside Tickets"))
    soldout["current_quantity"] = 0
    disabled = factory.reward(now, item=_item("Enamel Pin Set"))
    disabled["is_enabled"] = _flag_like(disabled, "is_enabled", False)
    records = [coupon, shirt, *middle, soldout, disabled]
    # The ids the docs name are text, as documented, whatever the draw made them.
    for record in (soldout, disabled):
        record["id"] = str(record["id"])
    # The legacy Reward Details sample has this key; three rewards are featured.
    for rank, record in enumerate(records, start=1):
        record["featured_order_num"] = rank if rank <= 3 else None
    return records


# The sample members' profiles, besides the ids, points and dates.
_PEOPLE: Final[Mapping[int, Mapping[str, Any]]] = {
    1001: {
        "first_name": "Alice",
        "last_name": "Twist",
        "date_of_birth": "1990-04-12",
        "email_is_verified": True,
        "gender_id": "1",
        "gender": "Female",
        "country": "United States",
        "us_region": "Northeast",
        "ca_province": None,
        "state": "NY",
        "city": "New York City",
        "street_address_1": "25 1st Avenue",
        "street_address_2": "Apt 7C",
        "postal_code": "10001",
        "receive_email_updates": True,
        "store_id": "575",
        "lang_pref": "en",
        "segments": [{"id": 2, "name": "New York Members"}],
        "custom_data": {"opt_in_email": "true", "store_loc": "575"},
    },
    1002: {
        "first_name": "Bob",
        "last_name": "Marsh",
        "email_is_verified": True,
        "gender_id": "2",
        "gender": "Male",
        "country": "United States",
        "us_region": "West",
        "ca_province": None,
        "state": "CA",
        "city": "San Francisco",
        "street_address_1": None,
        "street_address_2": None,
        "postal_code": "94111",
        "receive_email_updates": False,
        "store_id": None,
    },
    1003: {
        "first_name": "Carol",
        "last_name": "Nguyen",
        "email_is_verified": False,
        "country": "Canada",
        "us_region": None,
        "ca_province": "Ontario",
        "state": None,
        "city": "Toronto",
        "street_address_1": None,
        "street_address_2": None,
        "postal_code": "M5V 2T6",
        "receive_email_updates": False,
        "store_id": None,
        "lang_pref": "fr",
    },
    1004: {
        "first_name": "Dave",
        "middle_name": "J.",
        "last_name": "Okafor",
        "email_is_verified": True,
        "country": "United States",
        "us_region": "Midwest",
        "ca_province": None,
        "state": "IL",
        "city": "Chicago",
        "street_address_1": "233 S Wacker Dr",
        "street_address_2": None,
        "postal_code": "60606",
        "receive_email_updates": True,
        "store_id": "612",
        "custom_data": {"opt_in_email": "true", "store_loc": "612"},
    },
}

# (activities besides the purchases before redemptions, points left unspent)
_HISTORIES: Final[Mapping[int, tuple[int, int]]] = {
    1001: (9, 4_500),
    1002: (3, 1_800),
    1004: (6, 2_400),
}


def _give_history(user: FakeUser, members: MemberFactory, now: int) -> None:
    """Fill in *user*'s activities, points and profile as the sample has them."""
    if user.id in _HISTORIES:
        others, balance = _HISTORIES[user.id]
        user.activities = members.history(now, user.redemptions, others=others, balance=balance)
        user.total_points = sum(int(record["num_points"]) for record in user.activities)
        user.points = balance
        joined = parse_int(user.activities[0]["date_created"]) or now
    else:
        joined = members.joined_lately(now)
    user.fan_level = fan_level(user.total_points)
    user.profile = members.profile(
        now, _PEOPLE[user.id], joined=joined, total_points=user.total_points
    )


def sample_users(
    factory: RecordFactory,
    now: int,
    *,
    redemptions: RedemptionFactory,
    members: MemberFactory,
) -> list[FakeUser]:
    """The sample program: four members whose ids are fixed and documented.

    alice has 203 rewards on offer (21 pages of 10) plus 4 sold out, usable,
    used and expired coupons, 37 redemptions over the two years before
    *now*, 48 activities and 4,500 points; bob a few rewards, 3 of them sold
    out, 3 redemptions, 8 activities and 1,800 points; carol nothing at all
    (no points either); dave 12 rewards, only used or expired coupons, 8
    activities and 2,400 points. Each has a profile; `total_points` is the
    sum of the member's activities' points. *members* draws all of that but
    the rewards, coupons and redemptions, which are what they always were.
    """
    alice = FakeUser(
        id=1001,
        email=SANDBOX_EMAIL,
        username="alice",
        facebook_user_id="100004471900101",
        twitter_user_id="1457803300101",
        third_party_id="crm-000101",
        mobile_phone_number="+12125550101",
        redemptions=redemptions.history(37, now),
        rewards=factory.rewards(207, now, soldout=4),
    )
    alice.coupons = [
        FakeCoupon(record=factory.coupon(now)),
        FakeCoupon(record=factory.coupon(now)),
        FakeCoupon(record=factory.coupon(now, expires=False)),
        FakeCoupon(record=factory.coupon(now), used=True),
        FakeCoupon(record=factory.coupon(now, expired=True)),
    ]
    bob = FakeUser(
        id=1002,
        email="bob@example.com",
        username="bob",
        twitter_user_id="1457803300102",
        third_party_id="crm-000102",
        mobile_phone_number="+12125550102",
        redemptions=redemptions.history(3, now),
        rewards=factory.rewards(9, now, soldout=3),
        coupons=[FakeCoupon(record=factory.coupon(now, expires=False))],
    )
    carol = FakeUser(
        id=1003,
        email="carol@example.com",
        username="carol",
        facebook_user_id="100004471900103",
        third_party_id="crm-000103",
    )
    dave = FakeUser(
        id=1004,
        email="dave@example.com",
        username="dave",
        third_party_id="crm-000104",
        mobile_phone_number="+12125550104",
        rewards=factory.rewards(12, now),
        coupons=[
            FakeCoupon(record=factory.coupon(now), used=True),
            FakeCoupon(record=factory.coupon(now, expired=True)),
            FakeCoupon(record=factory.coupon(now, expired=True)),
        ],
    )
    users = [alice, bob, carol, dave]
    for user in users:
        _give_history(user, members, now)
    return users
