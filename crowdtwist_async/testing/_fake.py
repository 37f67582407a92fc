"""`FakeCrowdTwist`: the sample program, the fault knobs, the records, and the adapters.

Every adapter (the httpx transport, the ASGI app and through it the server,
and the raw server) hands its request to `FakeCrowdTwist._answer`, the one
async path, which the fake gives the transport and the raw server as an
`Answer` when it builds them: it counts the request in flight, picks a
scripted or injected-failure response or asks the pure core, sleeps the
latency with `anyio.sleep`, and records the result. It returns the answer and
the `Wire` its body travels by, which each adapter follows (`_wire.py`).
"""

from __future__ import annotations

import fnmatch
import json
import math
import random
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import quote

import anyio
import attrs
import httpx

from .._asgi import acknowledge_lifespan
from ._core import (
    Incoming,
    PagingLies,
    Program,
    Reply,
    error_reply,
    json_reply,
    parse_request,
    respond,
)
from ._data import (
    FIRST_CATALOG_REWARD_ID,
    ID_TYPES,
    FakeCoupon,
    FakeUser,
    MemberFactory,
    RecordFactory,
    RedemptionFactory,
    activity_catalog,
    sample_catalog,
    sample_users,
    timestamp,
    with_fields,
)
from ._hmac import unix_ms
from ._push import LivePush
from ._wire import PLAIN, Answer, Wire, WireStream, quiet_drops, send_asgi_body

__all__ = ["FakeCrowdTwist", "RecordedRequest"]

_UNSET: Final = object()

# The transport and the ASGI adapter frame each body themselves; a scripted
# header saying otherwise would contradict them.
_FRAMING_HEADERS: Final = frozenset({"content-length", "transfer-encoding"})


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """A request the fake answered, for assertions.

    `json` is its body decoded, or None when it is empty or not JSON.

    Attributes:
        method: the HTTP method, e.g. `"GET"`.
        path: the path as sent (still percent-encoded).
        params: the query parameters without `api_key`.
        page: the page the API read from them on a paginated endpoint (the
            rewards listing, the catalogue, the activity or redemption
            history: absent or not an integer means 1), None on other endpoints.
        status: the status answered; None in what a `script(when=...)`
            predicate is shown and in `cancelled`.
        headers: the request's headers as received, names in lower case
            (`x-ct-authorization` included: the fake checks it); they vary by
            client (`user-agent`, `host`...) and carry credentials, so they
            take no part in `==` or `repr()`.
        body: the request body as received (b"" for none), whatever adapter
            it came through, a chunked one included.
    """

    method: str
    path: str
    params: dict[str, str] = attrs.field(hash=False)
    page: int | None
    status: int | None
    headers: Mapping[str, str] = attrs.field(factory=dict, eq=False, repr=False)
    body: bytes = b""

    @property
    def json(self) -> Any:
        """The body decoded from JSON; None when it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            return None


@attrs.frozen(kw_only=True)
class _Script:
    """A queued script, as `FakeCrowdTwist.script()` describes it: which
    requests it takes, what it sends and how. `_Script.of` checks the
    arguments and builds it; nothing else does either."""

    # None: the real answer, given `status`, `headers` and `rewrite`.
    reply: Reply | None
    status: int | None
    headers: tuple[tuple[str, str], ...]
    rewrite: Callable[[bytes], bytes] | None
    echo: bool
    wire: Wire
    delay: float | None
    path: str | None
    page: int | None
    when: Callable[[RecordedRequest], bool] | None
    # None: every matching request, for as long as the fake lives.
    times: int | None

    @classmethod
    def of(
        cls,
        status: int | None,
        *,
        json: object,
        body: bytes | str | Callable[[bytes], bytes] | None,
        echo: bool,
        headers: Mapping[str, str] | None,
        delay: float | None,
        reset_after: int | None,
        trickle: float | None,
        chunk_size: int | None,
        path: str | None,
        page: int | None,
        when: Callable[[RecordedRequest], bool] | None,
        times: int | None,
    ) -> _Script:
        """`script()`'s arguments, checked in the order of its signature
        (the numbers, then what makes the body) and made into a script."""
        _check_numbers(status, delay, trickle, reset_after, chunk_size, times)
        _check_body(json, body, echo)
        named = tuple(
            (name.lower(), value)
            for name, value in (headers or {}).items()
            if name.lower() not in _FRAMING_HEADERS
        )
        reply = _own_reply(status, json, body, echo)
        return cls(
            reply=None if reply is None else _with_headers(reply, named),
            status=status,
            headers=named,
            rewrite=body if callable(body) else None,
            echo=echo,
            wire=Wire(reset_after=reset_after, trickle=trickle, chunk_size=chunk_size),
            delay=delay,
            path=path,
            page=page,
            when=when,
            times=times,
        )

    def matches(self, request: RecordedRequest) -> bool:
        if self.path is not None and not fnmatch.fnmatchcase(request.path, self.path):
            return False
        if self.page is not None and request.page != self.page:
            return False
        return self.when is None or self.when(request)

    def served_once(self) -> _Script | None:
        """The script once it has served one more request; None once spent."""
        if self.times is None:
            return self
        return None if self.times == 1 else attrs.evolve(self, times=self.times - 1)

    def shaped(self, reply: Reply, target: str) -> Reply:
        """What is sent for a request to *target* (path and query as sent),
        given `reply` or else the real answer *reply*."""
        if self.echo:
            return attrs.evolve(reply, body=target.encode("latin-1"))
        if self.reply is not None:
            return reply
        if self.rewrite is not None:
            reply = attrs.evolve(reply, body=bytes(self.rewrite(reply.body)))
        if self.status is not None:
            reply = attrs.evolve(reply, status=self.status)
        return _with_headers(reply, self.headers)


def _check_numbers(
    status: object,
    delay: object,
    trickle: object,
    reset_after: object,
    chunk_size: object,
    times: object,
) -> None:
    """Check `script()`'s numbers, each given or None, in the order of its signature."""
    if status is not None:
        _check_status(status)
    for name, seconds in (("delay", delay), ("trickle", trickle)):
        if seconds is not None:
            _check_seconds(name, seconds)
    for name, count, least in (
        ("reset_after", reset_after, 0),
        ("chunk_size", chunk_size, 1),
        ("times", times, 1),
    ):
        if count is not None:
            _check_count(name, count, least)


def _check_body(json: object, body: object, echo: bool) -> None:
    """Refuse the combinations of `json`, `body` and `echo` that name two bodies."""
    # `body` by truth: an empty body beside `json` has always been ignored.
    if json is not _UNSET and body:
        raise ValueError("pass json or body, not both")
    if echo and (json is not _UNSET or body is not None):
        raise ValueError("pass echo or a body (json or body), not both")


def _own_reply(status: int | None, json: object, body: object, echo: bool) -> Reply | None:
    """The reply a script sends instead of the real answer, or None to send
    the real answer (`body` then is None or a function of it)."""
    code = 200 if status is None else status
    if json is not _UNSET:
        return json_reply(code, json)
    if isinstance(body, bytes | bytearray | memoryview | str):
        raw = body.encode() if isinstance(body, str) else bytes(body)
        return Reply(status=code, headers=(), body=raw)
    if body is None:
        # An echo's body is filled in per request; a bare status sends none.
        return Reply(status=code, headers=(), body=b"") if echo or status is not None else None
    if not callable(body):
        raise TypeError(f"body must be bytes, str or a function, got {type(body).__name__}")
    return None


def _with_headers(reply: Reply, headers: tuple[tuple[str, str], ...]) -> Reply:
    """*reply* with *headers* (lower-case names) replacing its own of those names."""
    if not headers:
        return reply
    named = {name for name, _ in headers}
    return attrs.evolve(
        reply, headers=(*(pair for pair in reply.headers if pair[0] not in named), *headers)
    )


def _check_count(name: str, value: object, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < least:
        raise ValueError(f"{name} must be at least {least}, got {value!r}")


def _check_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")


def _seconds(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _check_seconds(attribute.name, value)


def _check_rate(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"failure_rate must be a number, got {type(value).__name__}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"failure_rate must be between 0 and 1, got {value!r}")


def _check_status(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        raise ValueError(f"an HTTP status must be an int from 100 to 599, got {value!r}")
    return value


def _statuses(value: Iterable[int]) -> tuple[int, ...]:
    statuses = tuple(_check_status(status) for status in value)
    if not statuses:
        raise ValueError("failure_statuses must name at least one status")
    return statuses


def _check_now(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"now must be a datetime, got {type(value).__name__}")
    if value.utcoffset() is None:
        raise ValueError("now must be timezone-aware, e.g. datetime.now(timezone.utc)")


def _check_key(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise ValueError(f"api_key must be a non-empty string without outer spaces, got {value!r}")


def _check_hmac_keys(_: object, __: attrs.Attribute[Any], value: object) -> None:
    # The messages never quote a value: one of them is the private key.
    if value is None:
        return
    if not (
        isinstance(value, tuple) and len(value) == 2 and all(isinstance(k, str) for k in value)
    ):
        raise TypeError(
            "hmac_keys must be None or a (public_key, private_key) tuple of two strings, "
            f"got {type(value).__name__}"
        )
    public_key, private_key = value
    # The public key travels in a header, read up to its first ":".
    if not public_key or any(c.isspace() or c == ":" for c in public_key):
        raise ValueError("hmac_keys: the public key must be non-empty, without spaces or ':'")
    if not private_key:
        raise ValueError("hmac_keys: the private key must be non-empty")


def _check_live_push(_: object, __: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, LivePush):
        raise TypeError(f"live_push must be a LivePush or None, got {type(value).__name__}")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _failure_reply(status: int, retry_after: float | None) -> Reply:
    if status == 429:
        reply = error_reply(status, "too_many_requests", "Too many requests.")
    elif status >= 500:
        reply = error_reply(status, "internal_error", "Something went wrong on our end.")
    else:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = f"HTTP {status}"
        reply = error_reply(status, "input_error", phrase)
    if retry_after is None:
        return reply
    return attrs.evolve(reply, headers=(*reply.headers, ("retry-after", f"{retry_after:g}")))


@attrs.define(eq=False, kw_only=True)
class FakeCrowdTwist:
    """An in-memory CrowdTwist program: a member's reads and writes, with state.

    It serves, as the vendor docs describe them, a member's reads: User
    Profile (`/v2/users/{id}`), User Points,
    User Rewards (v2.1), Usable Coupons (v2), User Activity History (v2.1)
    and User Redemption History (v2.2); the program's Rewards catalogue
    (v2.1); and the writes, with state: User Redemption, User Activity
    Credit, Use Coupon and Unuse Coupon.

    It starts with a seeded sample program (`users`): alice
    (`SANDBOX_EMAIL`, CrowdTwist id 1001) has 203 rewards on offer, 21 pages
    of 10, plus 4 sold out, coupons usable, used and expired, 37
    redemptions and 48 activities over the two years before `now`, and
    4,500 redeemable points; bob has a few rewards, some sold out, 3
    redemptions, 8 activities and 1,800 points; carol has nothing (no
    points, no activity); dave has 12 rewards, no usable coupon, no
    redemption, 8 activities and 2,400 points. Each has a profile; a
    member's `total_points` is the sum of their activities' points and
    their `points` (redeemable) that less their redemptions' points
    (cancelled ones aside), never below 0 along the way. The `catalog` has
    60 rewards, ids "453901" to "453960": "453901" a coupon reward of 500
    points, at most 2 per member, 100 in stock; "453902" a T-shirt that
    ships, 2,000 points, 1 per member; "453959" sold out; "453960"
    disabled; the first three featured. `activity_catalog` has the
    program's 11 activities, e.g. "225" (Shared a link, 25 points). The
    same `seed` and `now` give the same bytes every time.

    Writes change the records: redeeming spends `num_points * quantity`,
    takes the stock, puts the order first in the member's `redemptions`
    and, for a coupon reward (one whose `total_coupons` is above 0), gives
    the member a usable coupon per unit, its code in the result's `codes`;
    the reward is looked up in the member's own `rewards`, then in
    `catalog`. Crediting adds the points to `points` and `total_points`
    and puts the activity first in `activities`. Using a coupon sets its
    `used`; unusing clears it. A refused write changes nothing. With a
    `live_push` set, each redemption and each credit is also pushed as
    CrowdTwist's Live Push would push it.

    Reach it three ways: `transport()` in process, the instance itself as an
    ASGI app, or `serve()` on a loopback port; `serve_raw()` serves it too,
    with raw bytes where a test wants what no HTTP server would send.

    The attributes from `seed` to `live_push` below are the arguments; each
    but `seed` may be set later, even while serving; values are checked when
    set. Besides the knobs,
    `script()` queues scripted responses and wire faults, `lie()` makes every page of a
    paginated endpoint lie (`PagingLies`), and `requests`, `cancelled`,
    `in_flight` and `max_in_flight` tell what was served: each
    `RecordedRequest` with its headers and its body as received, through
    every adapter.

    Attributes:
        seed: seeds the sample data, the latency jitter and the failure draws.
        now: the fake's clock, timezone-aware: dates are generated around it
            and coupon expiry is judged by it. It does not advance by itself;
            set `fake.now` to move it. Default: the current time.
        api_key: the one key accepted, by `api_key` query parameter or by
            `X-CT-Authorization: CTApiKey <key>` header, unless `hmac_keys`
            is set.
        hmac_keys: `(public_key, private_key)`: every request must then be
            signed with them as CrowdTwist's HMAC page describes
            (`X-CT-Authorization: CTApiV2Auth <public key>:<signature>` and
            an `X-CT-Timestamp` in milliseconds, or seconds, within 15
            minutes of `now` either way); a request that is not, an API key
            alone included, gets 401 `invalid_auth` with a message saying
            what is wrong (missing headers, unknown public key, stale or
            unreadable timestamp, signature not matching). The signature
            covers the method, the MD5 of the body, the `Content-Type` as
            received, the timestamp and the path and query as sent. Never
            shown by `repr()`. Default None: API keys.
        base_url: the URL to give a `Session` with `transport()`; the
            transport answers whatever host a request names.
        latency: seconds every response waits, plus up to `jitter` either way.
        jitter: the bound of the uniform jitter added to `latency`.
        failure_rate: the chance (0 to 1) that a request, whatever it asks,
            gets one of `failure_statuses` instead of its answer.
        failure_statuses: the statuses of injected failures, drawn uniformly.
        retry_after: seconds sent as `Retry-After` on injected failures.
        live_push: a `LivePush` (entered) to which every redemption pushes a
            `user_redemption` body (its `orderId` the order id answered) and
            every activity credit a `user_activity` body (its
            `userActivityId` the new activity's `id`), queued when the write
            is made, whatever the answer then says; the push neither holds
            up nor fails the answer (one the `LivePush` cannot take is
            logged and dropped). The member's `userId`, `email` and
            `thirdPartyId` in them are the fake's choice: CrowdTwist's pages
            were not seen to show those fields. Default None: no push.
        users: the program's members (`FakeUser`s); add more with `add_user()`.
            Not an argument.
        catalog: the program's reward catalogue (`/v2.1/rewards`), as reward
            records in listing order; add with `add_catalog_reward()`. Not an
            argument.
        activity_catalog: the activities a member may be credited for, by
            activity id (a str): each a dict with `name` and default
            `num_points`; edit it freely. Not an argument.
        requests: every request answered (`RecordedRequest`s), in the order
            the answers were sent. Not an argument.
        max_in_flight: the most requests in flight at once so far; set it to 0
            to measure anew. Not an argument.
        cancelled: requests whose answer was cancelled before it was sent (in
            process: the client stopped waiting), in the order they were;
            their `status` is None. Not an argument.
        lies: the lies the paginated endpoints' pages tell (`PagingLies`),
            applied in this order; add with `lie()`, remove as from any list.
            Not an argument.

    Raises:
        TypeError: if an argument is not of its type (also when set later).
        ValueError: if an argument is out of its bounds (also when set later).

    Example:
        ```python
        import crowdtwist_async as ct
        from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist

        fake = FakeCrowdTwist(seed=0)
        async with ct.Session(
            api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport()
        ) as session:
            rewards = [r async for r in session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")]
        assert len(rewards) == 203
        assert fake.requests[0].params == {"id_type": "email", "page": "1"}
        ```
    """

    seed: int = attrs.field(default=0, on_setattr=attrs.setters.frozen)
    now: datetime = attrs.field(factory=_utc_now, validator=_check_now)
    api_key: str = attrs.field(default="sandbox-api-key", validator=_check_key)
    hmac_keys: tuple[str, str] | None = attrs.field(
        default=None, validator=_check_hmac_keys, repr=False
    )
    base_url: str = "https://sandbox.crowdtwist.test"
    latency: float = attrs.field(default=0.0, validator=_seconds)
    jitter: float = attrs.field(default=0.0, validator=_seconds)
    failure_rate: float = attrs.field(default=0.0, validator=_check_rate)
    failure_statuses: tuple[int, ...] = attrs.field(default=(503,), converter=_statuses)
    retry_after: float | None = attrs.field(default=None, validator=_seconds)
    live_push: LivePush | None = attrs.field(default=None, validator=_check_live_push)

    #: The program's members; add more with `add_user()`.
    users: list[FakeUser] = attrs.field(init=False)
    #: The program's reward catalogue (`/v2.1/rewards`), as reward records in
    #: listing order; add with `add_catalog_reward()`.
    catalog: list[dict[str, Any]] = attrs.field(init=False)
    #: The activities a member may be credited for, by activity id (a str):
    #: each a dict with `name` and default `num_points`; edit it freely.
    activity_catalog: dict[str, dict[str, Any]] = attrs.field(init=False)
    #: Every request answered, in the order the answers were sent.
    requests: list[RecordedRequest] = attrs.field(init=False, factory=list)
    #: The most requests in flight at once so far; set it to 0 to measure anew.
    max_in_flight: int = attrs.field(init=False, default=0)
    #: Requests whose answer was cancelled before it was sent (in process: the
    #: client stopped waiting), in the order they were; `status` is None.
    cancelled: list[RecordedRequest] = attrs.field(init=False, factory=list)
    #: The lies the paginated endpoints' pages tell, applied in this order;
    #: add with `lie()`, remove as from any list.
    lies: list[PagingLies] = attrs.field(init=False, factory=list)

    _in_flight: int = attrs.field(init=False, default=0)
    # The server thread answers while the test's thread sets knobs and scripts.
    _lock: threading.RLock = attrs.field(init=False, factory=threading.RLock)
    _records: RecordFactory = attrs.field(init=False)
    _redemptions: RedemptionFactory = attrs.field(init=False)
    _members: MemberFactory = attrs.field(init=False)
    _catalog_records: RecordFactory = attrs.field(init=False)
    _faults: random.Random = attrs.field(init=False)
    _scripts: deque[_Script] = attrs.field(init=False, factory=deque)

    def __attrs_post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an int, got {type(self.seed).__name__}")
        # Separate streams: drawing faults must not change the data, or back;
        # nor drawing redemptions the rewards and coupons, which predate them.
        self._records = RecordFactory(random.Random(self.seed))
        self._redemptions = RedemptionFactory(random.Random(f"{self.seed}:redemptions"))
        self._faults = random.Random(f"{self.seed}:faults")
        # And the members' histories and the program's catalogue, which came later.
        self._members = MemberFactory(random.Random(f"{self.seed}:members"))
        self._catalog_records = RecordFactory(
            random.Random(f"{self.seed}:catalog"),
            first_reward_id=FIRST_CATALOG_REWARD_ID,
            first_group_id=7_101,
        )
        now = timestamp(self.now)
        self.users = sample_users(
            self._records, now, redemptions=self._redemptions, members=self._members
        )
        self.catalog = sample_catalog(self._catalog_records, now)
        self.activity_catalog = activity_catalog()

    def __repr__(self) -> str:
        return (
            f"<FakeCrowdTwist seed={self.seed} users={len(self.users)} "
            f"requests={len(self.requests)} in_flight={self._in_flight}>"
        )

    @property
    def in_flight(self) -> int:
        """The requests being answered right now (latency included)."""
        return self._in_flight

    # -- data -------------------------------------------------------------------

    def add_user(
        self,
        *,
        id: int | None = None,
        email: str | None = None,
        username: str | None = None,
        facebook_user_id: str | None = None,
        twitter_user_id: str | None = None,
        third_party_id: str | None = None,
        mobile_phone_number: str | None = None,
    ) -> FakeUser:
        """Add a member with nothing yet, and a profile nobody filled in, and return it.

        Nothing yet: no points, rewards, coupons, activities or redemptions.
        No id may be taken by another member under the same `id_type`.

        Args:
            id: the CrowdTwist id; default None: one above the highest so far.
            email: the email address (`id_type="email"`), or None (the default).
            username: the username (`id_type="username"`), or None (the default).
            facebook_user_id: the Facebook user id, or None (the default).
            twitter_user_id: the Twitter user id, or None (the default).
            third_party_id: the program's own id for the member, or None (the
                default).
            mobile_phone_number: the mobile phone number, or None (the default).

        Returns:
            The new member, already in `users`.

        Raises:
            ValueError: if another member already has one of these ids under
                the same `id_type`.

        Example:
            ```python
            erin = fake.add_user(email="erin@example.com")
            fake.add_reward(erin, title="Free Coffee", num_points=100)
            ```
        """
        with self._lock:
            user = FakeUser(
                id=max((u.id for u in self.users), default=1000) + 1 if id is None else id,
                email=email,
                username=username,
                facebook_user_id=facebook_user_id,
                twitter_user_id=twitter_user_id,
                third_party_id=third_party_id,
                mobile_phone_number=mobile_phone_number,
            )
            for id_type in ID_TYPES:
                value = user.identifier(id_type)
                if value is not None and any(u.identifier(id_type) == value for u in self.users):
                    raise ValueError(f"another user already has {id_type} {value!r}")
            self.users.append(user)
            return user

    def add_reward(self, user: FakeUser, **fields: Any) -> dict[str, Any]:
        """Append a realistic reward to *user*'s listing and return its record.

        Args:
            user: the member, one of `users`.
            **fields: wire key names and values that replace the generated
                ones; a datetime becomes unix seconds. `current_quantity=0`
                makes it sold out.

        Returns:
            The reward's record, as the rewards listing sends it (the dict in
            `user.rewards`: edits show).

        Raises:
            ValueError: if *user* is not one of this fake's `users`.
        """
        with self._lock:
            self._check_member(user)
            record = with_fields(self._records.reward(timestamp(self.now)), fields)
            user.rewards.append(record)
            return record

    def add_coupon(self, user: FakeUser, *, used: bool = False, **fields: Any) -> FakeCoupon:
        """Give *user* a realistic coupon, unexpired unless *fields* say otherwise.

        Args:
            user: the member, one of `users`.
            used: whether the coupon was used already (default False): a used
                coupon is never listed.
            **fields: wire key names and values that replace the generated
                ones; a datetime becomes unix seconds, and
                `date_to_expire=None` means it never expires.

        Returns:
            The coupon, already in `user.coupons`.

        Raises:
            ValueError: if *user* is not one of this fake's `users`.

        Example:
            ```python
            fake.add_coupon(user, code="SAVE10", date_to_expire=fake.now - timedelta(days=1))
            ```
        """
        with self._lock:
            self._check_member(user)
            record = with_fields(self._records.coupon(timestamp(self.now)), fields)
            coupon = FakeCoupon(record=record, used=used)
            user.coupons.append(coupon)
            return coupon

    def add_redemption(self, user: FakeUser, **fields: Any) -> dict[str, Any]:
        """Append a realistic redemption to *user*'s history and return its record.

        It is made some time in the 30 days before `now` unless *fields* say
        otherwise. The history lists it by `date_redeemed`, newest first,
        wherever it was appended.

        Args:
            user: the member, one of `users`.
            **fields: wire key names and values that replace the generated
                ones; a datetime becomes unix seconds.

        Returns:
            The redemption's record, as the redemption history sends it (the
            dict in `user.redemptions`: edits show).

        Raises:
            ValueError: if *user* is not one of this fake's `users`.

        Example:
            ```python
            when = fake.now - timedelta(days=2)
            fake.add_redemption(user, reward_title="Free Coffee", points=250, date_redeemed=when)
            ```
        """
        with self._lock:
            self._check_member(user)
            record = with_fields(self._redemptions.redemption(timestamp(self.now)), fields)
            user.redemptions.append(record)
            return record

    def add_activity(self, user: FakeUser, **fields: Any) -> dict[str, Any]:
        """Append a realistic activity to *user*'s history and return its record.

        One of `activity_catalog`'s activities, at its default points, done
        some time in the 30 days before `now` unless *fields* say otherwise.
        The history lists it by `date_created`, newest first, wherever it
        was appended. The member's points stay as they are: set
        `user.points` and `user.total_points`, or credit the activity
        through the API, which does both.

        Args:
            user: the member, one of `users`.
            **fields: wire key names and values that replace the generated
                ones; a datetime becomes unix seconds.

        Returns:
            The activity's record, as the activity history sends it (the
            dict in `user.activities`: edits show).

        Raises:
            ValueError: if *user* is not one of this fake's `users`.

        Example:
            ```python
            when = fake.now - timedelta(days=2)
            fake.add_activity(user, activity_id="225", name="Shared a link", date_created=when)
            ```
        """
        with self._lock:
            self._check_member(user)
            made = self._members.any_activity(timestamp(self.now), self.activity_catalog)
            record = with_fields(made, fields)
            user.activities.append(record)
            return record

    def add_catalog_reward(self, **fields: Any) -> dict[str, Any]:
        """Append a realistic reward to the program's `catalog` and return its record.

        Any member may redeem it.

        Args:
            **fields: wire key names and values that replace the generated
                ones; a datetime becomes unix seconds. `current_quantity=0`
                makes it sold out, `is_enabled=0` disabled; a `total_coupons`
                above 0 makes it a coupon reward, whose redemption issues a
                usable coupon.

        Returns:
            The reward's record, as the catalogue sends it (the dict in
            `catalog`: edits show).

        Example:
            ```python
            coffee = fake.add_catalog_reward(title="Free Coffee", num_points=100, max_per_user=1)
            ```
        """
        with self._lock:
            record = with_fields(self._catalog_records.reward(timestamp(self.now)), fields)
            self.catalog.append(record)
            return record

    def _program(self) -> Program:
        """What the core answers from besides the users, as the fake holds it now."""
        return Program(
            catalog=self.catalog,
            activities=self.activity_catalog,
            redemptions=self._redemptions,
            members=self._members,
            lock=self._lock,
        )

    def _check_member(self, user: FakeUser) -> None:
        if not any(u is user for u in self.users):
            raise ValueError("that user is not one of this fake's users; use add_user()")

    # -- faults -----------------------------------------------------------------

    def script(
        self,
        status: int | None = None,
        *,
        json: object = _UNSET,
        body: bytes | str | Callable[[bytes], bytes] | None = None,
        echo: bool = False,
        headers: Mapping[str, str] | None = None,
        delay: float | None = None,
        reset_after: int | None = None,
        trickle: float | None = None,
        chunk_size: int | None = None,
        path: str | None = None,
        page: int | None = None,
        when: Callable[[RecordedRequest], bool] | None = None,
        times: int | None = 1,
    ) -> None:
        """Queue a scripted response: one instead of the real answer, or the real one late.

        Or the real answer sent another way: late, cut short, trickled...
        Each request is given the first queued script whose filters all match
        it (none means any request); a script is dropped once it has served
        `times` requests. A script that replaces the answer is served before
        anything else, authentication included.

        What is sent: `json`, `body` or `echo` replace the answer, with
        `status` (default 200); `status` alone sends an empty body. Without
        any of them the request gets its real answer (as the data is once
        the delay is over, and as any `lie()` tells it), with `status` and
        `headers` if given; `body` as a function rewrites the real answer's
        body. Then the wire arguments
        say how the body travels, the same through `transport()` as on a
        port: `reset_after` drops the connection (in process, httpx's
        `RemoteProtocolError` is raised while the body is read), `trickle`
        sends it slowly, `chunk_size` without a Content-Length.

        Args:
            status: the HTTP status.
            json: a body to send as JSON.
            body: the raw body, e.g. a proxy's HTML error page; or a function
                of the real answer's body, e.g. `gzip.compress` beside a
                `Content-Encoding: gzip` header.
            echo: send the request's path and query as sent, key and all,
                as the body, as some error pages quote the request back.
            headers: response headers, e.g. `{"Retry-After": "2"}`; a
                `Content-Encoding` that does not describe the body makes a
                body that does not decode. Content-Length and
                Transfer-Encoding are the fake's to set.
            delay: seconds to wait instead of the latency.
            reset_after: send this many bytes of the body, then drop the
                connection. A client whose body was cut (or that was given
                no length) sees the exchange fail.
            trickle: send the body in pieces of `chunk_size` (default 16)
                bytes, this many seconds apart.
            chunk_size: send the body without a Content-Length, in pieces of
                this many bytes (chunked transfer encoding on a port).
            path: only a request whose path (as sent) matches this
                `fnmatch` pattern, e.g. `"*/usable_coupons"`.
            page: only a request for this page of a paginated endpoint (the
                rewards listing, the catalogue, the activity or redemption
                history; add `path` to tell them apart).
            when: only a request this predicate accepts; it is shown the
                `RecordedRequest`, headers and body included.
            times: how many requests the script serves before it is dropped;
                None: every request it matches, for as long as the fake lives.

        Raises:
            ValueError: if a number is out of its bounds (a status not 100 to
                599, negative seconds, a count below its least), or two
                bodies are named (`json` and `body`, or `echo` and either).
            TypeError: if a number is not one, or `body` is not bytes, str or
                a function.

        Example:
            ```python
            html = {"content-type": "text/html"}
            fake.script(502, body=b"<html>Bad Gateway</html>", headers=html)
            fake.script(json={"paging": {}, "rewards": "oops"}, page=3)
            fake.script(503, page=2, times=2)  # page 2's first two attempts
            fake.script(reset_after=100, page=3)  # page 3, cut after 100 bytes, once
            fake.script(trickle=0.05, page=2, times=None)  # page 2, slowly, every time
            fake.script(500, echo=True, headers={"content-type": "text/plain"})
            ```
        """
        script = _Script.of(
            status,
            json=json,
            body=body,
            echo=echo,
            headers=headers,
            delay=delay,
            reset_after=reset_after,
            trickle=trickle,
            chunk_size=chunk_size,
            path=path,
            page=page,
            when=when,
            times=times,
        )
        with self._lock:
            self._scripts.append(script)

    def lie(
        self,
        *,
        path: str | None = None,
        page_size: Callable[[int, int], int] | None = None,
        total: Callable[[int, int], object] | None = None,
        pages: Callable[[int, int], object] | None = None,
        next_page: Callable[[int, str | None], object] | None = None,
        prev_page: Callable[[int, str | None], object] | None = None,
        items: Callable[[int, list[dict[str, Any]]], object] | None = None,
        delay: Callable[[int, float], float] | None = None,
    ) -> PagingLies:
        """Make every page of the paginated endpoints lie from now on; return the lies.

        Each lie is a function of the page number and of what the page would
        truthfully say, returning what it says instead; see `PagingLies` for
        each one. Unlike `script()`, lies last: remove them from `lies`
        (`fake.lies.remove(returned)`, `fake.lies.clear()`).

        Args:
            path: only requests whose path (as sent) matches this `fnmatch`
                pattern, e.g. `"*/redemption_history"`; default None: every
                paginated endpoint.
            page_size: `(page, size) -> int`, the size pages are cut at and
                counted by, applied before the other lies; None: the truth.
            total: `(page, total) -> object`, sent as `paging.total`; None: the truth.
            pages: `(page, pages) -> object`, sent as `paging.pages`; None: the truth.
            next_page: `(page, link) -> object`, sent as `paging.next_page`;
                None: the truth.
            prev_page: `(page, link) -> object`, sent as `paging.prev_page`;
                None: the truth.
            items: `(page, records) -> object`, sent as the page's records;
                None: the truth.
            delay: `(page, latency) -> float`, the seconds a request for the
                page waits instead of the latency drawn; None: the truth.

        Returns:
            The lies, already appended to `lies`.

        Raises:
            TypeError: if a lie is neither None nor callable, or `path` is
                neither None nor a str.

        Example:
            ```python
            fake.lie(pages=lambda page, pages: 10**9)  # every page claims a billion pages
            fake.lie(total=lambda page, total: total if page == 1 else total + 1)
            fake.lie(path="*/rewards", items=lambda page, rewards: rewards if page != 3 else [])
            fake.lie(delay=lambda page, latency: latency if page == 1 else math.inf)
            ```
        """
        lies = PagingLies(
            path=path,
            page_size=page_size,
            total=total,
            pages=pages,
            next_page=next_page,
            prev_page=prev_page,
            items=items,
            delay=delay,
        )
        with self._lock:
            self.lies.append(lies)
        return lies

    # -- the one request path ---------------------------------------------------

    async def _answer(
        self, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[Reply, Wire]:
        """Answer one request as every adapter does: faults, core, recording;
        return the answer and how its body travels."""
        request = parse_request(method, raw_path, query, headers, body)
        try:
            with self._lock:
                self._in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight)
                # Chosen on arrival, so concurrent requests take scripts and
                # failure draws in the order they came in.
                script = self._take_script(_recorded(request, None))
                reply = script.reply if script is not None else self._draw_failure()
                lies = [lie for lie in self.lies if lie.matches(request.path)]
                delay = (
                    self._wait(request, lies)
                    if script is None or script.delay is None
                    else script.delay
                )
            # Even with no latency: an answer from a network always takes at
            # least a turn of the event loop, and code under test may rely on
            # that to interleave its tasks.
            await anyio.sleep(delay)
            if reply is None:
                # The data may change during the latency: answer from it as it is now.
                program = self._program()
                reply = respond(
                    request,
                    self.users,
                    api_key=self.api_key,
                    now=timestamp(self.now),
                    lies=lies,
                    hmac_keys=self.hmac_keys,
                    now_ms=unix_ms(self.now),
                    program=program,
                )
                self._push(program.pushed)
            if script is not None:
                reply = script.shaped(reply, f"{raw_path}?{query}" if query else raw_path)
            with self._lock:
                self.requests.append(_recorded(request, reply.status))
            return reply, PLAIN if script is None else script.wire
        except anyio.get_cancelled_exc_class():
            with self._lock:
                self.cancelled.append(_recorded(request, None))
            raise
        finally:
            with self._lock:
                self._in_flight -= 1

    def _push(self, pushed: list[tuple[str, dict[str, Any]]]) -> None:
        """Hand the Live Push bodies of the writes just made to `live_push`."""
        live_push = self.live_push
        if live_push is not None:
            for feed, body in pushed:
                live_push._submit(feed, body)

    def _take_script(self, request: RecordedRequest) -> _Script | None:
        for index, script in enumerate(self._scripts):
            if script.matches(request):
                left = script.served_once()
                if left is None:
                    del self._scripts[index]
                else:
                    self._scripts[index] = left
                return script
        return None

    def _draw_failure(self) -> Reply | None:
        if self.failure_rate and self._faults.random() < self.failure_rate:
            status = self._faults.choice(self.failure_statuses)
            return _failure_reply(status, self.retry_after)
        return None

    def _wait(self, request: Incoming, lies: list[PagingLies]) -> float:
        delay = self._draw_latency()
        if request.page is not None:
            for lie in lies:
                delay = lie.wait(request.page, delay)
        return delay

    def _draw_latency(self) -> float:
        if not self.jitter:
            return self.latency
        return max(0.0, self.latency + self._faults.uniform(-self.jitter, self.jitter))

    # -- adapters ---------------------------------------------------------------

    def transport(self) -> httpx.AsyncBaseTransport:
        """A new httpx transport answering every request in process, no sockets.

        Returns:
            An `httpx.AsyncBaseTransport` to give a `ct.Session` as `transport=`,
            with `base_url=fake.base_url` (it answers whatever host a request names).

        Example:
            ```python
            session = ct.Session(
                api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport()
            )
            ```
        """
        return _FakeTransport(self._answer)

    async def __call__(
        self,
        scope: Mapping[str, Any],
        receive: Callable[[], Awaitable[Mapping[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        """The fake as an ASGI 3 app (HTTP; lifespan events are acknowledged)."""
        if scope["type"] == "lifespan":
            await acknowledge_lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"FakeCrowdTwist serves HTTP only, not {scope['type']!r}")
        raw_path = scope.get("raw_path") or quote(scope["path"]).encode()
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", ())
        }
        body = await _receive_body(receive)
        if body is None:
            # The client left before its request was whole: no one to answer.
            return
        reply, wire = await self._answer(
            scope["method"],
            raw_path.decode("latin-1"),
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            body,
        )
        length = wire.length(reply.body)
        framing = [] if length is None else [("content-length", length)]
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (name.encode("latin-1"), value.encode("latin-1"))
                    for name, value in (*reply.headers, *framing)
                ],
            }
        )
        if wire.plain:
            await send({"type": "http.response.body", "body": reply.body})
        else:
            await send_asgi_body(reply.body, wire, receive, send)

    @contextmanager
    def serve(
        self, *, host: str = "127.0.0.1", port: int = 0, allow_remote: bool = False
    ) -> Iterator[str]:
        """Serve the fake over HTTP from a background thread; yield its base URL.

        `port=0` picks a free port. The server runs uvicorn (the `serve`
        extra), is accepting connections when the block starts and is stopped
        when it ends. Only a loopback host is allowed unless `allow_remote`:
        the fake accepts one well-known key and has no TLS.

        Args:
            host: the address to listen on; default `"127.0.0.1"`.
            port: the port to listen on; default 0 picks a free one.
            allow_remote: allow a host that is not a loopback address
                (default False).

        Yields:
            The server's base URL, e.g. `"http://127.0.0.1:53124"`.

        Raises:
            ValueError: if *host* is not a loopback address and `allow_remote`
                is False.
            ModuleNotFoundError: if uvicorn (the `serve` extra) is not installed.
            RuntimeError: if the server did not start (it stopped, or took over
                10 seconds).

        Example:
            ```python
            with fake.serve() as base_url:  # "http://127.0.0.1:53124"
                async with ct.Session(api_key=fake.api_key, base_url=base_url) as session:
                    ...
            ```
        """
        from ._server import serve_in_thread

        with (
            quiet_drops(),
            serve_in_thread(self, host=host, port=port, allow_remote=allow_remote) as url,
        ):
            yield url

    @contextmanager
    def serve_raw(
        self, reply: Callable[[bytes], bytes | None], *, reset: bool = False
    ) -> Iterator[str]:
        """Serve the fake on a loopback port where *reply* may answer in raw bytes.

        In bytes no HTTP server would send, that is. *reply* is given each
        request's head (request line and headers, as bytes, ending in a
        blank line) and returns the bytes to write back,
        byte for byte (broken framing, bad header bytes, something that is
        not HTTP), or None for the fake's own answer, scripts and wire
        faults included; it is called once the request's body (by
        Content-Length, or chunked) has been read. Every request is
        recorded in `requests`, its body included; a raw reply's `status`
        is the one its bytes begin with (None if they are not HTTP). Each
        connection carries one request and is then closed, with a TCP
        reset instead of a FIN when `reset`. Served from threads
        by a small HTTP/1.1 server of the fake's own (no extra needed), so
        it serves tests on any event loop.

        Args:
            reply: a function given each request's head (bytes) that returns
                the bytes to write back, or None for the fake's own answer.
            reset: close each connection with a TCP reset instead of a FIN
                (default False).

        Yields:
            The server's base URL, e.g. `"http://127.0.0.1:53124"`.

        Example:
            ```python
            def not_http(head: bytes) -> bytes | None:
                return b"SSH-2.0-OpenSSH_9.6\\r\\n" if b"page=3" in head else None

            with fake.serve_raw(not_http) as base_url:
                ...  # page 3 of a listing fails with ct.APIConnectionError
            ```
        """
        from ._raw import serve_raw

        with serve_raw(reply, reset=reset, answer=self._answer, record=self._record) as url:
            yield url

    def _record(
        self,
        method: str,
        raw_path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        status: int | None,
    ) -> None:
        request = parse_request(method, raw_path, query, headers, body)
        with self._lock:
            self.requests.append(_recorded(request, status))


def _recorded(request: Incoming, status: int | None) -> RecordedRequest:
    return RecordedRequest(
        method=request.method,
        path=request.path,
        params=dict(request.params),
        page=request.page,
        status=status,
        headers=dict(request.headers),
        body=request.body,
    )


async def _receive_body(receive: Callable[[], Awaitable[Mapping[str, Any]]]) -> bytes | None:
    """An ASGI request's whole body, from every `http.request` message until
    one says there is no more; None if the client disconnects first."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if message["type"] == "http.request":
            body += message.get("body", b"")
            if not message.get("more_body", False):
                return bytes(body)


class _FakeTransport(httpx.AsyncBaseTransport):
    """Hands each request to the fake's *answer*, in process."""

    def __init__(self, answer: Answer) -> None:
        self._answer = answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        # Read whole, a streamed (chunked) body too, as a server would before answering.
        body = await request.aread()
        reply, wire = await self._answer(
            request.method,
            request.url.raw_path.partition(b"?")[0].decode("ascii"),
            request.url.query.decode("ascii"),
            headers,
            body,
        )
        length = wire.length(reply.body)
        framing = ("transfer-encoding", "chunked") if length is None else ("content-length", length)
        # A stream, not `content=`: httpx would decode a body given whole
        # here, in the transport, where a server's bad Content-Encoding must
        # reach the client as it does over a network.
        stream: httpx.AsyncByteStream = (
            httpx.ByteStream(reply.body) if wire.plain else WireStream(reply.body, wire, request)
        )
        return httpx.Response(
            reply.status, headers=[*reply.headers, framing], stream=stream, request=request
        )
