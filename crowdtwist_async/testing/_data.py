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
from datetime import datetime
from typing import Any, Final

import attrs

from .._models import IdType

__all__ = [
    "ID_TYPES",
    "SANDBOX_EMAIL",
    "FakeCoupon",
    "FakeUser",
    "RecordFactory",
    "RedemptionFactory",
    "parse_int",
    "sample_users",
    "timestamp",
    "with_fields",
]

#: The email of the sample program's best-stocked member (CrowdTwist id 1001).
SANDBOX_EMAIL: Final = "alice@example.com"

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

    `record` is the JSON object `usable_coupons` sends; edit it freely. A used
    coupon is never listed; set `used = True` to play the Commerce Purchase API
    telling CrowdTwist about a purchase.
    """

    record: dict[str, Any]
    used: bool = False

    @property
    def expires_at(self) -> int | None:
        """`record["date_to_expire"]` as unix seconds, or None if it never expires."""
        return parse_int(self.record.get("date_to_expire"))

    def is_expired(self, now: int) -> bool:
        """Whether the expiry date has passed at *now* (unix seconds)."""
        expires = self.expires_at
        return expires is not None and expires <= now


@attrs.define(kw_only=True)
class FakeUser:
    """A program member: one id per documented `id_type`, redemptions, rewards,
    and coupons.

    `rewards` holds the JSON objects the rewards listing sends, in listing
    order; one whose `current_quantity` is 0 is sold out. `redemptions` holds
    the JSON objects the redemption history sends, in any order: the history
    lists them newest first by `date_redeemed`. Lists and records may be
    edited while the fake serves.
    """

    id: int
    email: str | None = None
    username: str | None = None
    facebook_user_id: str | None = None
    twitter_user_id: str | None = None
    third_party_id: str | None = None
    mobile_phone_number: str | None = None
    # Before `rewards`, not after `coupons`: the repr has always ended with
    # the rewards and coupons counts, and assertions may rely on it.
    redemptions: list[dict[str, Any]] = attrs.field(factory=list, repr=_count_repr("redemptions"))
    rewards: list[dict[str, Any]] = attrs.field(factory=list, repr=_count_repr("rewards"))
    coupons: list[FakeCoupon] = attrs.field(factory=list, repr=_count_repr("coupons"))

    def identifier(self, id_type: str) -> str | None:
        """This user's id of the given `id_type` (e.g. `"email"`), as a string."""
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

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next_reward_id = 541_001
        self._next_group_id = 8_101
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
            "coupon_category_id": category_id,
            "coupon_category_name": category_name,
            "coupon_category_expiration_days": days,
            "batch_num": rng.randint(1, 99),
            "date_to_expire": None if days is None else order_date + days * _DAY,
            "order_date_created": order_date,
            "coupon_date_created": order_date - rng.randint(1, 60) * _DAY,
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


def sample_users(
    factory: RecordFactory, now: int, *, redemptions: RedemptionFactory
) -> list[FakeUser]:
    """The sample program: four members whose ids are fixed and documented.

    alice has 203 rewards on offer (21 pages of 10) plus 4 sold out, usable,
    used and expired coupons, and 37 redemptions over the two years before
    *now*; bob a few rewards, 3 of them sold out, and 3 redemptions; carol
    nothing at all; dave 12 rewards and only used or expired coupons.
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
    return [alice, bob, carol, dave]
