"""CrowdTwist Live Push events: one typed, frozen record per feed, read from a delivery's body.

Live Push POSTs one JSON object per event to an endpoint per feed. The
feeds' pages (Oracle's "CrowdTwist Develop", `LivePushUserRedemption.html`
and its siblings) are only partly readable: each class says which fields were
seen and which were not. So the models are tolerant, as the SDK's other
models are: numbers as strings, 0/1/"0"/"1"/true booleans, "" as "no value"
for optional fields, missing optional fields as None, ISO 8601 dates with
"Z" or an offset (normalised to UTC) or unix seconds. Only the fields a page
marks required ("Y"/"Yes") and the feed's unique id are required: a real
event is never refused for a field the pages never promised. Keys the models
do not know are kept, read-only, in `unknown_fields`.

Errors are `PushEventError`s naming the feed and the wire field, never a
member's value: a body holds personal data, and the message ends up in logs
and in the receiver's 400 answer.

Annotations are evaluated at runtime on purpose (no `from __future__ import
annotations`): the parsers are chosen from them.
"""

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType, NoneType, UnionType
from typing import (
    Any,
    ClassVar,
    Final,
    Literal,
    TypeAlias,
    Union,
    get_args,
    get_origin,
    overload,
)

import attrs

from ._scalars import INTEGER, MomentError, read_flag, read_moment

__all__ = [
    "FEEDS",
    "Feed",
    "PointsExpirationEvent",
    "PushEvent",
    "PushEventError",
    "UserActivityEvent",
    "UserProfileEvent",
    "UserRedemptionEvent",
    "UserSegmentationEvent",
    "event_body",
    "parse_event",
]

FEEDS: Final = (
    "user_redemption",
    "user_activity",
    "user_profile",
    "points_expiration",
    "user_segmentation",
)
"""The Live Push feeds, each its own endpoint path (`/user_redemption`, ...)."""

Feed = Literal[
    "user_redemption", "user_activity", "user_profile", "points_expiration", "user_segmentation"
]
"""The name of a Live Push feed: one of `FEEDS`."""

_UTC: Final = timezone.utc
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=_UTC)
_NO_FIELDS: Final[Mapping[str, Any]] = MappingProxyType({})


class PushEventError(ValueError):
    """A delivery's body that is not *feed*'s event.

    `field` is the wire name of the field at fault (`"orderId"`), or None
    when the body as a whole is (not JSON, not an object); `message` says
    what was wrong. The text never holds a value from the body:
    `"user_redemption: orderId: expected an integer, got a string"`.

    Attributes:
        feed: the feed whose event the body was to be (`"user_redemption"`, ...).
        field: the wire name of the field at fault (`"orderId"`), or None when
            the body as a whole is (not JSON, not an object).
        message: what was wrong, without any value from the body.
    """

    def __init__(self, feed: Feed, field: str | None, message: str) -> None:
        self.feed: Feed = feed
        self.field = field
        self.message = message
        super().__init__(f"{feed}: {field}: {message}" if field else f"{feed}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.feed, self.field, self.message))


class _Invalid(Exception):
    """A value a field's parser refuses; its text names the kind of value only."""


def _kind(value: object) -> str:
    """The kind of a JSON value, for a message: never the value itself."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string" if value.strip() else "a blank string"
    if isinstance(value, Mapping):
        return "a JSON object"
    if isinstance(value, (list, tuple)):
        return "a JSON array"
    return type(value).__name__


# -- field parsers: a JSON value to the field's type, or _Invalid ------------
# The same leniency as the SDK's converter (`_converter.py`), written out here
# so that no message carries a value; flags and dates are read by the same
# code (`_scalars`).


def _parse_int(value: object) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str) and INTEGER.fullmatch(value.strip()):
        return _digits(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise _Invalid(f"expected an integer, got {_kind(value)}")


def _digits(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.set_int_max_str_digits)
        raise _Invalid("expected an integer, got a string of too many digits") from None


def _parse_str(value: object) -> str:
    if isinstance(value, str):
        return value
    # postalCode 10001, third_party_id 12322: ids that look numeric.
    if type(value) is int:
        return str(value)
    raise _Invalid(f"expected a string, got {_kind(value)}")


def _parse_bool(value: object) -> bool:
    flag = read_flag(value)
    if flag is not None:
        return flag
    raise _Invalid(f"expected a boolean (0/1, true/false), got {_kind(value)}")


def _parse_datetime(value: object) -> datetime:
    try:
        return read_moment(value)
    except MomentError as exc:
        if exc.kind in ("type", "format"):
            message = f"expected a unix timestamp or an ISO 8601 date, got {_kind(value)}"
        else:
            message = str(exc)
    raise _Invalid(message)


def _parse_object(value: object) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return MappingProxyType(dict(value))
    raise _Invalid(f"expected a JSON object, got {_kind(value)}")


def _parse_object_or_text(value: object) -> Mapping[str, Any] | str:
    # The pages type the extra data String (4000) and show JSON text: a JSON
    # string is kept as sent (it may be cut at 3997 characters + "…", so
    # decoding it would be a guess), an object as a read-only mapping.
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return MappingProxyType(dict(value))
    raise _Invalid(f"expected a JSON object or a string, got {_kind(value)}")


_Parser = Callable[[object], Any]

# By the set of a field's types other than None.
_PARSERS: Final[Mapping[frozenset[Any], _Parser]] = {
    frozenset({int}): _parse_int,
    frozenset({str}): _parse_str,
    frozenset({bool}): _parse_bool,
    frozenset({datetime}): _parse_datetime,
    frozenset({Mapping[str, Any]}): _parse_object,
    frozenset({Mapping[str, Any], str}): _parse_object_or_text,
}


def _optional(parse: _Parser) -> _Parser:
    """*parse* for an optional field: null, "" and blank strings are None."""

    def parse_optional(value: object) -> Any:
        if value is None or (type(value) is str and (not value or value.isspace())):
            return None
        return parse(value)

    return parse_optional


# -- field converters: keep a record's values clean when built by hand ------


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("an event's datetimes must be aware")
    return value.astimezone(_UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _read_only(value: Mapping[str, Any] | str | None) -> Mapping[str, Any] | str | None:
    # A copy, so that the dict the record was built from cannot change it.
    if value is None or isinstance(value, str):
        return value
    return MappingProxyType(dict(value))


def _frozen_fields(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return _NO_FIELDS if not value else MappingProxyType(dict(value))


def _mapping() -> Any:
    # In equality, not in the hash: a mapping is not hashable.
    return attrs.field(default=None, converter=_read_only, hash=False)


def _unknown_fields() -> Any:
    # As in the SDK's models: kept out of equality, hashing and repr.
    return attrs.field(
        default=_NO_FIELDS, converter=_frozen_fields, eq=False, hash=False, repr=False
    )


def _delivery_key() -> Any:
    # Last, so that the factory sees every other field.
    return attrs.field(default=attrs.Factory(lambda self: _key_of(self), takes_self=True))


def _reduce_event(event: Any) -> tuple[Any, ...]:
    # A MappingProxyType cannot be pickled or deep-copied: mappings travel as
    # dicts, frozen again on arrival, so events can go to worker processes.
    values = {}
    for field in attrs.fields(type(event)):
        value = getattr(event, field.name)
        values[field.name] = dict(value) if isinstance(value, MappingProxyType) else value
    return (_rebuild, (type(event), values))


def _rebuild(cls: type[Any], values: dict[str, Any]) -> Any:
    return cls(**values)


def _repr(event: Any, names: tuple[str, ...]) -> str:
    # An allow-list, so that a field added later stays out of logs.
    shown = ", ".join(f"{name}={getattr(event, name)!r}" for name in names)
    return (
        f"{type(event).__name__}(feed={event.feed!r}, delivery_key={event.delivery_key!r}, {shown})"
    )


# -- the events ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class UserRedemptionEvent:
    """A member redeemed a reward: the User Redemption feed, `POST /user_redemption`.

    From CrowdTwist's "Live Push - User Redemption" page
    (`LivePushUserRedemption.html`), camelCase on the wire (`orderId` is
    `order_id`). Required, as the page marks them "Y": `orderId`,
    `orderDate` (unix seconds), `rewardId`, `rewardGroupId`, `title`,
    `description`. Optional: `category`, `color`, `size`, `referenceId`
    (String (50) here, text), `rewardExtraData` (a JSON object, read-only, or
    the string as sent), and `translatedTitle`/`translatedDescription`,
    named only in the page's multilanguage note (null when the member has no
    language or the reward no translation).

    Not seen (the page is cut there): the member's fields, quantity, points
    redeemed, shipping and the sample request; they are kept in
    `unknown_fields` when sent. `user_id` reads a `userId` when one is sent
    (our reading of the cut part, as the other feeds name the member; the
    test fake sends it), None otherwise.

    `delivery_key` is `"user_redemption:<orderId>"`: "Unique order ID of the
    redemption", the same on every retry. `repr()` shows only the ids and the
    date: the rest may be personal.

    Attributes:
        feed: `"user_redemption"` (a class attribute).
        order_id: `orderId`, the unique order ID of the redemption.
        order_date: `orderDate`, when the reward was redeemed (unix seconds
            on the wire), in UTC.
        reward_id: `rewardId`, the reward's id.
        reward_group_id: `rewardGroupId`, the id of the reward's group.
        category: `category`, the reward's category, or None.
        title: `title`, the reward's title.
        description: `description`, the reward's description.
        color: `color`, or None.
        size: `size`, or None.
        reference_id: `referenceId`, text (String (50)), or None.
        reward_extra_data: `rewardExtraData`: a JSON object as a read-only
            mapping, a string as sent, or None.
        translated_title: `translatedTitle`, the title in the member's
            language, or None (no language, or no translation).
        translated_description: `translatedDescription`, the description in
            the member's language, or None.
        user_id: `userId`, the member's CrowdTwist id, when one is sent (our
            reading of the page's cut part); None otherwise.
        unknown_fields: the body's keys the model does not know, as sent,
            read-only; out of equality, hashing and `repr()`.
        delivery_key: `"user_redemption:<orderId>"`, the same on every retry.

    Example:
        ```python
        event = push.parse_event("user_redemption", body)
        event.order_id, event.order_date  # 101, datetime(2015, 7, 28, 0, 29, 27, tzinfo=UTC)
        ```
    """

    feed: ClassVar[Feed] = "user_redemption"

    order_id: int
    order_date: datetime = attrs.field(converter=_utc)
    reward_id: int
    reward_group_id: int
    category: str | None = None
    title: str
    description: str
    color: str | None = None
    size: str | None = None
    reference_id: str | None = None
    reward_extra_data: Mapping[str, Any] | str | None = _mapping()
    translated_title: str | None = None
    translated_description: str | None = None
    user_id: int | None = None
    unknown_fields: Mapping[str, Any] = _unknown_fields()
    delivery_key: str = _delivery_key()

    __reduce__ = _reduce_event

    def __repr__(self) -> str:
        return _repr(self, ("order_id", "order_date", "reward_id", "reward_group_id"))


@attrs.frozen(kw_only=True)
class UserActivityEvent:
    """A member completed an activity: the User Activity feed, `POST /user_activity`.

    From CrowdTwist's "Live Push - User Activity" page
    (`LivePushUserActivity.html`), camelCase on the wire. Required, as the
    page marks them "Yes": `userActivityId`, `activityId`, `activityName`,
    `points` (negative for a reward redeemed), `title`. Optional: `notes`,
    `referenceId` (Integer here), `activityExtraData` (typed String (4000)
    with JSON text as its sample: a JSON object is kept as a read-only
    mapping, a string as sent), `thirdPartyId`, `description` (its row is
    cut), and `translatedTitle`/`translatedDescription` from the
    multilanguage note.

    Not seen (the page is cut inside `description`): the member's fields
    but `thirdPartyId`, the completion time and the sample request; kept in
    `unknown_fields` when sent. `user_id` reads a `userId` when one is sent
    (as for `UserRedemptionEvent`), None otherwise.

    `delivery_key` is `"user_activity:<userActivityId>"`: "Unique ID for the
    activity completion". `repr()` shows only the ids, name and points.

    Attributes:
        feed: `"user_activity"` (a class attribute).
        user_activity_id: `userActivityId`, the unique ID for the activity
            completion.
        activity_id: `activityId`, the activity's id.
        activity_name: `activityName`, the activity's name.
        points: `points`, the points it gave; negative for a reward redeemed.
        notes: `notes`, or None.
        reference_id: `referenceId`, an integer here, or None.
        activity_extra_data: `activityExtraData`: a JSON object as a
            read-only mapping, a string as sent, or None.
        third_party_id: `thirdPartyId`, the member's third-party id, or None.
        title: `title`, the activity's title.
        description: `description`, the activity's description, or None.
        translated_title: `translatedTitle`, the title in the member's
            language, or None.
        translated_description: `translatedDescription`, the description in
            the member's language, or None.
        user_id: `userId`, the member's CrowdTwist id, when one is sent;
            None otherwise.
        unknown_fields: the body's keys the model does not know, as sent,
            read-only; out of equality, hashing and `repr()`.
        delivery_key: `"user_activity:<userActivityId>"`, the same on every retry.

    Example:
        ```python
        event = push.parse_event("user_activity", body)
        event.user_activity_id, event.points  # 12348765, 80
        ```
    """

    feed: ClassVar[Feed] = "user_activity"

    user_activity_id: int
    activity_id: int
    activity_name: str
    points: int
    notes: str | None = None
    reference_id: int | None = None
    activity_extra_data: Mapping[str, Any] | str | None = _mapping()
    third_party_id: str | None = None
    title: str
    description: str | None = None
    translated_title: str | None = None
    translated_description: str | None = None
    user_id: int | None = None
    unknown_fields: Mapping[str, Any] = _unknown_fields()
    delivery_key: str = _delivery_key()

    __reduce__ = _reduce_event

    def __repr__(self) -> str:
        return _repr(self, ("user_activity_id", "activity_id", "activity_name", "points"))


@attrs.frozen(kw_only=True)
class UserProfileEvent:
    """A member's profile changed: the User Profile feed, `POST /user_profile`.

    From CrowdTwist's "Live Push - User Profile with Tiers v2" page
    (`PushUserProfile-withTiersv2.html`), camelCase on the wire. The page has
    no Required column, so every field is optional: `country`,
    `receiveSmsMessages` (a 0/1 number), `facebookUserId`,
    `redeemablePoints`, `postalCode` (text, though its sample looks numeric)
    and `tierInfo` (the tiers object as sent, read-only: its `resetDate` and
    `dateReached` are ISO 8601 strings).

    Not seen (the page is cut inside `tierInfo`): the member id, email,
    names, total points, the update time and the sample request; they are
    kept in `unknown_fields` when sent (so are the `password`/`salt` fields,
    null since 2020).

    The feed has no event id: a profile push is the member's whole state, so
    `delivery_key` is a digest of the body (see `parse_event`):
    `"user_profile:sha256:<64 hex digits>"`. A retry of the same push has the
    same key; a later change of the profile another one. `repr()` shows no
    personal field.

    Attributes:
        feed: `"user_profile"` (a class attribute).
        country: `country`, or None.
        receive_sms_messages: `receiveSmsMessages` (a 0/1 number on the
            wire): whether the member takes SMS messages, or None.
        facebook_user_id: `facebookUserId`, or None.
        redeemable_points: `redeemablePoints`, the member's redeemable
            points, or None.
        postal_code: `postalCode`, as text, or None.
        tier_info: `tierInfo`, the tiers object as sent, read-only (its
            `resetDate` and `dateReached` are ISO 8601 strings), or None.
        unknown_fields: the body's keys the model does not know, as sent,
            read-only; out of equality, hashing and `repr()`.
        delivery_key: `"user_profile:sha256:<64 hex digits>"`, a digest of
            the body: the same for a retry of the same push.

    Example:
        ```python
        event = push.parse_event("user_profile", body)
        event.redeemable_points, event.tier_info["dateReached"]  # 5200, "2017-03-23T19:00:00Z"
        ```
    """

    feed: ClassVar[Feed] = "user_profile"

    country: str | None = None
    receive_sms_messages: bool | None = None
    facebook_user_id: str | None = None
    redeemable_points: int | None = None
    postal_code: str | None = None
    tier_info: Mapping[str, Any] | None = _mapping()
    unknown_fields: Mapping[str, Any] = _unknown_fields()
    delivery_key: str = _delivery_key()

    __reduce__ = _reduce_event

    def __repr__(self) -> str:
        return _repr(self, ("redeemable_points", "receive_sms_messages"))


@attrs.frozen(kw_only=True)
class PointsExpirationEvent:
    """A member's points expiration details changed: `POST /points_expiration`.

    From CrowdTwist's "Live Push - Points Expiration" page
    (`LivePushPointsExpiration.htm`), snake_case on the wire (the names are
    kept). The page has no Required column, so every field is optional:
    `user_id`, `email_address`, `third_party_id`, `message_date`, and the
    inactivity rule's `last_qualified_date`, `expiration_date`,
    `points_expiring`, and the redemption period rule's `points_expired`.
    The dates are ISO 8601 with milliseconds and an offset
    (`2021-05-20T18:25:43.511-04:00`), normalised to UTC.

    Not seen (the page is cut): how the two rules' groups nest (the page
    lists `points_expiring` under both, for up to seven months), the
    redemption period's date fields and the sample request. These fields are
    read where the page lists them, at the top level; whatever else is sent
    (nested groups included) is kept in `unknown_fields`, as sent.

    The feed has no event id: `delivery_key` is a digest of the body (see
    `parse_event`), `"points_expiration:sha256:<64 hex digits>"`. `repr()`
    shows no email or third-party id.

    Attributes:
        feed: `"points_expiration"` (a class attribute).
        user_id: `user_id`, the member's CrowdTwist id, or None.
        email_address: `email_address`, the member's email, or None.
        third_party_id: `third_party_id`, the member's third-party id, or None.
        message_date: `message_date`, the message's date, in UTC, or None.
        last_qualified_date: `last_qualified_date` (the inactivity rule), in
            UTC, or None.
        expiration_date: `expiration_date` (the inactivity rule), in UTC, or
            None.
        points_expiring: `points_expiring` (the inactivity rule), or None.
        points_expired: `points_expired` (the redemption period rule), or None.
        unknown_fields: the body's keys the model does not know, as sent,
            read-only; out of equality, hashing and `repr()`.
        delivery_key: `"points_expiration:sha256:<64 hex digits>"`, a digest
            of the body: the same for a retry of the same push.

    Example:
        ```python
        event = push.parse_event("points_expiration", body)
        event.points_expiring  # 200
        event.expiration_date  # datetime(2021, 5, 20, 22, 25, 43, 511000, tzinfo=UTC)
        ```
    """

    feed: ClassVar[Feed] = "points_expiration"

    user_id: int | None = None
    email_address: str | None = None
    third_party_id: str | None = None
    message_date: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    last_qualified_date: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    expiration_date: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    points_expiring: int | None = None
    points_expired: int | None = None
    unknown_fields: Mapping[str, Any] = _unknown_fields()
    delivery_key: str = _delivery_key()

    __reduce__ = _reduce_event

    def __repr__(self) -> str:
        return _repr(
            self,
            ("user_id", "message_date", "expiration_date", "points_expiring", "points_expired"),
        )


@attrs.frozen(kw_only=True)
class UserSegmentationEvent:
    """A member entered or left a segment: the User Segmentation feed, `POST /user_segmentation`.

    From CrowdTwist's "Live Push - User Segmentation" page
    (`LivePushUserSegmentation.htm`, the one page seen whole), snake_case on
    the wire. The page has no Required column, so every field is optional:
    `user_id`, `email_address`, `third_party_id`, `type` ("segment" or
    "group"), `name`, `subscription_id` (the segment's id, not the event's),
    `event` ("entered" or "exited"), `trigger` ("segment criteria" or
    "segment disabled") and `date_occurred` (ISO 8601). `type`, `event` and
    `trigger` are plain strings: a value CrowdTwist adds later is kept.

    The feed has no event id: `delivery_key` is a digest of the body (see
    `parse_event`), `"user_segmentation:sha256:<64 hex digits>"`. `repr()`
    shows no email or third-party id.

    Attributes:
        feed: `"user_segmentation"` (a class attribute).
        user_id: `user_id`, the member's CrowdTwist id, or None.
        email_address: `email_address`, the member's email, or None.
        third_party_id: `third_party_id`, the member's third-party id, or None.
        type: `type`, `"segment"` or `"group"` (any string kept), or None.
        name: `name`, the segment's name, or None.
        subscription_id: `subscription_id`, the segment's id (not the
            event's), or None.
        event: `event`, `"entered"` or `"exited"` (any string kept), or None.
        trigger: `trigger`, `"segment criteria"` or `"segment disabled"` (any
            string kept), or None.
        date_occurred: `date_occurred`, when it happened, in UTC, or None.
        unknown_fields: the body's keys the model does not know, as sent,
            read-only; out of equality, hashing and `repr()`.
        delivery_key: `"user_segmentation:sha256:<64 hex digits>"`, a digest
            of the body: the same for a retry of the same push.

    Example:
        ```python
        event = push.parse_event("user_segmentation", body)
        event.event, event.subscription_id  # "entered", 200
        ```
    """

    feed: ClassVar[Feed] = "user_segmentation"

    user_id: int | None = None
    email_address: str | None = None
    third_party_id: str | None = None
    type: str | None = None
    name: str | None = None
    subscription_id: int | None = None
    event: str | None = None
    trigger: str | None = None
    date_occurred: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    unknown_fields: Mapping[str, Any] = _unknown_fields()
    delivery_key: str = _delivery_key()

    __reduce__ = _reduce_event

    def __repr__(self) -> str:
        return _repr(
            self, ("user_id", "type", "subscription_id", "event", "trigger", "date_occurred")
        )


PushEvent: TypeAlias = (
    UserRedemptionEvent
    | UserActivityEvent
    | UserProfileEvent
    | PointsExpirationEvent
    | UserSegmentationEvent
)
"""Any Live Push event: the union of the five feeds' event classes."""


# -- how each class is read and written ---------------------------------------


@attrs.frozen
class _Field:
    name: str  # the attribute
    wire: str  # the key in the body
    parse: _Parser
    emit: Callable[[Any], Any]
    required: bool


@attrs.frozen
class _Spec:
    fields: tuple[_Field, ...]
    wires: frozenset[str]
    id_field: str | None  # the attribute the delivery key is made of, if any


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def _same(value: Any) -> Any:
    return value


def _emit_iso(moment: datetime) -> str:
    # Milliseconds where they suffice, as CrowdTwist writes them.
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    if moment.microsecond == 0:
        spec = "seconds"
    return moment.astimezone(_UTC).replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _emit_unix(moment: datetime) -> int | str:
    # Exact unix seconds; a time with a fraction (only ever sent as ISO 8601
    # or a float) goes back as ISO 8601, which a float could not hold exactly.
    if moment.microsecond:
        return _emit_iso(moment)
    return (moment - _EPOCH) // timedelta(seconds=1)


def _emit_mapping(value: Mapping[str, Any] | str) -> Any:
    return value if isinstance(value, str) else dict(value)


def _emit_bool(value: bool) -> int:
    return int(value)  # "Number (binary)" on the wire


def _spec(cls: type[Any], *, camel: bool, id_field: str | None = None, unix: str = "") -> _Spec:
    fields = []
    for field in attrs.fields(cls):
        if field.name in ("unknown_fields", "delivery_key"):
            continue
        union = isinstance(field.type, UnionType) or get_origin(field.type) is Union
        args = get_args(field.type) if union else (field.type,)
        types = frozenset(arg for arg in args if arg is not NoneType)
        optional = NoneType in args
        parse = _PARSERS[types]
        emit: Callable[[Any], Any] = _same
        if datetime in types:
            emit = _emit_unix if field.name == unix else _emit_iso
        elif bool in types:
            emit = _emit_bool
        elif Mapping[str, Any] in types:
            emit = _emit_mapping
        required = field.default is attrs.NOTHING
        if required == optional:
            raise TypeError(f"{cls.__name__}.{field.name}: optional exactly when it has a default")
        fields.append(
            _Field(
                name=field.name,
                wire=_camel(field.name) if camel else field.name,
                parse=_optional(parse) if optional else parse,
                emit=emit,
                required=required,
            )
        )
    return _Spec(tuple(fields), frozenset(field.wire for field in fields), id_field)


_CLASSES: Final[Mapping[str, type[PushEvent]]] = {
    cls.feed: cls
    for cls in (
        UserRedemptionEvent,
        UserActivityEvent,
        UserProfileEvent,
        PointsExpirationEvent,
        UserSegmentationEvent,
    )
}
_SPECS: Final[Mapping[type[Any], _Spec]] = {
    UserRedemptionEvent: _spec(
        UserRedemptionEvent, camel=True, id_field="order_id", unix="order_date"
    ),
    UserActivityEvent: _spec(UserActivityEvent, camel=True, id_field="user_activity_id"),
    UserProfileEvent: _spec(UserProfileEvent, camel=True),
    PointsExpirationEvent: _spec(PointsExpirationEvent, camel=False),
    UserSegmentationEvent: _spec(UserSegmentationEvent, camel=False),
}


def _json_default(value: object) -> Any:
    # Read-only mappings a caller put in `unknown_fields` by hand.
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _canonical(spec: _Spec, values: Mapping[str, Any], unknown: Mapping[str, Any]) -> str:
    body = {key: value for key, value in unknown.items() if key not in spec.wires}
    for field in spec.fields:
        value = values.get(field.name)
        if value is not None:
            body[field.wire] = field.emit(value)
    return json.dumps(
        body,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def _key(feed: str, spec: _Spec, values: Mapping[str, Any], text: str) -> str:
    if spec.id_field is not None:
        return f"{feed}:{values[spec.id_field]}"
    # surrogatepass: an event built by hand may hold a lone surrogate;
    # parse_event refuses one before it gets here.
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{feed}:sha256:{digest}"


def _values(event: PushEvent) -> dict[str, Any]:
    return {field.name: getattr(event, field.name) for field in _SPECS[type(event)].fields}


def _key_of(event: PushEvent) -> str:
    spec = _SPECS[type(event)]
    values = _values(event)
    return _key(event.feed, spec, values, _canonical(spec, values, event.unknown_fields))


# -- the public functions -----------------------------------------------------


class _NotFinite(ValueError):
    pass


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):  # 1e400
        raise _NotFinite
    return number


def _refuse_constant(_: str) -> Any:
    raise _NotFinite  # NaN, Infinity, -Infinity: not JSON, though Python reads them


def _decode(feed: Feed, body: bytes | str) -> object:
    if not isinstance(body, (bytes, bytearray, str)):
        raise TypeError(f"body must be bytes or str, not {type(body).__name__}")
    # Every failure `from None`: a JSONDecodeError holds the whole body.
    try:
        return json.loads(body, parse_float=_finite, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        reason = f"the body is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except _NotFinite:
        reason = "the body is not JSON (a number out of range, NaN or Infinity)"
    except UnicodeDecodeError:
        reason = "the body is not JSON (not UTF-8 text)"
    except RecursionError:
        reason = "the body is nested too deeply"
    except ValueError:  # an integer of more digits than Python converts
        reason = "the body is not JSON this parser reads (an integer too long)"
    raise PushEventError(feed, None, reason) from None


@overload
def parse_event(feed: Literal["user_redemption"], body: bytes | str) -> UserRedemptionEvent: ...
@overload
def parse_event(feed: Literal["user_activity"], body: bytes | str) -> UserActivityEvent: ...
@overload
def parse_event(feed: Literal["user_profile"], body: bytes | str) -> UserProfileEvent: ...
@overload
def parse_event(feed: Literal["points_expiration"], body: bytes | str) -> PointsExpirationEvent: ...
@overload
def parse_event(feed: Literal["user_segmentation"], body: bytes | str) -> UserSegmentationEvent: ...
@overload
def parse_event(feed: str, body: bytes | str) -> PushEvent: ...
def parse_event(feed: str, body: bytes | str) -> PushEvent:
    """Read one Live Push delivery's *body* (JSON text, one object) as *feed*'s event.

    The event's `delivery_key` identifies the delivery across CrowdTwist's
    retries: `"user_redemption:<orderId>"`, `"user_activity:<userActivityId>"`;
    the other feeds have no event id, so their key is
    `"<feed>:sha256:<hex>"`, the SHA-256 of the event's canonical body in
    UTF-8. The canonical body is `event_body(event)`: the modelled fields
    that are not None and the unknown fields, under the wire's names, values
    normalised (integers as numbers, booleans as 0/1, dates as ISO 8601 UTC
    with "Z"), written by `json.dumps(..., sort_keys=True, separators=(",",
    ":"), ensure_ascii=False)`. So key order, whitespace, numbers sent as
    strings or a date's offset do not change the key; any value does. It is
    normalised rather than the body as sent so that `event_body` ->
    `parse_event` gives the same key back.

    Args:
        feed: the feed the body came for, one of `FEEDS`.
        body: the delivery's body, JSON text (one object) as bytes or str.

    Returns:
        The feed's event (`UserRedemptionEvent`, ...), with its `delivery_key`.

    Raises:
        PushEventError: naming the field (`.field`, the wire name) when the
            body is not JSON, not an object, lacks a required field or holds
            one that cannot be read.
        ValueError: when *feed* is not one of `FEEDS`.
        TypeError: when *body* is neither bytes nor str.

    Example:
        ```python
        event = push.parse_event("user_segmentation", request_body)
        ```
    """
    cls = _CLASSES.get(feed)
    if cls is None:
        shown = feed if len(feed) <= 40 else feed[:40] + "…"
        raise ValueError(f"unknown Live Push feed {shown!r}; the feeds are {', '.join(FEEDS)}")
    name = cls.feed
    data = _decode(name, body)
    if type(data) is not dict:
        raise PushEventError(name, None, f"expected a JSON object, got {_kind(data)}")
    spec = _SPECS[cls]
    values: dict[str, Any] = {}
    for field in spec.fields:
        if field.wire not in data:
            if field.required:
                raise PushEventError(name, field.wire, "required field is missing")
            continue
        try:
            values[field.name] = field.parse(data[field.wire])
        except _Invalid as exc:
            raise PushEventError(name, field.wire, str(exc)) from None
    unknown = {key: value for key, value in data.items() if key not in spec.wires}
    try:
        text = _canonical(spec, values, unknown)
    except RecursionError:
        raise PushEventError(name, None, "the body is nested too deeply") from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # "\ud800" is valid JSON text but no UTF-8 string: a sink could not store it.
        raise PushEventError(name, None, "a string holds an unpaired UTF-16 surrogate") from None
    return cls(**values, unknown_fields=unknown, delivery_key=_key(name, spec, values, text))


def event_body(event: PushEvent) -> str:
    """*event* as compact JSON under the wire's names, unknown fields put back.

    What a sink stores: `parse_event(event.feed, event_body(event))` is an
    equal event with the same `delivery_key`. Fields that are None are left
    out; dates are ISO 8601 UTC ("Z"), except a redemption's `orderDate`,
    unix seconds as CrowdTwist sends it; keys are sorted (the canonical form
    `parse_event` describes).

    Args:
        event: a Live Push event, parsed or built by hand.

    Returns:
        The event's canonical body, JSON text.

    Raises:
        TypeError: when *event* is not a Live Push event, or one built by hand
            holds a value JSON cannot carry.
        ValueError: when one built by hand holds a NaN or an infinite number.
    """
    spec = _SPECS.get(type(event))
    if spec is None:
        raise TypeError(f"event_body takes a Live Push event, got {type(event).__name__}")
    return _canonical(spec, _values(event), event.unknown_fields)
