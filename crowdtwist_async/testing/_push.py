"""`LivePush`: CrowdTwist's Live Push played for tests, and `sample_event`.

CrowdTwist POSTs each event of a feed (one JSON object) to the endpoint a
program configured for it, with HTTP Basic and/or an `x-api-key` header, and
retries a delivery that did not succeed: "five times an hour for up to eight
hours, after which they are recorded in an error log". `LivePush` does the
same against any URL, in compressed time, and records every attempt. It
speaks plain HTTP: it needs nothing of the SDK's own receiver.

`FakeCrowdTwist` hands its own writes (a redemption, an activity credit) to
the `LivePush` set as its `live_push`; the bodies are made here
(`redemption_push`, `activity_push`) so the fake's core only says what
happened.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any, Final, Literal

import anyio
import attrs
import httpx
from anyio.abc import TaskGroup

from .._loops import running_library

# The feeds, each POSTed to `{url}/{feed}`: the receiver's own list.
from .._push_events import FEEDS
from ._data import CATEGORY_NAMES, FakeUser, parse_int

__all__ = [
    "FEEDS",
    "Delivery",
    "LivePush",
    "PushAttempt",
    "activity_push",
    "redemption_push",
    "sample_event",
]


DeliveryState = Literal["pending", "delivered", "given_up", "abandoned"]

log = logging.getLogger("crowdtwist_async.testing.push")


@attrs.frozen(kw_only=True)
class PushAttempt:
    """One POST of a delivery and how it ended.

    Attributes:
        feed: the feed the delivery was for (`"user_redemption"`, ...).
        delivery: the number of the delivery this attempt was of
            (`Delivery.number`).
        number: which attempt of the delivery this was: 1 for the first.
        status: the HTTP status answered, or None when the POST failed
            without one.
        error: the class name of the exception that failed the POST
            (`"ConnectError"`, `"ReadTimeout"`...), or None when a status came back.
        at: `time.monotonic()` when the POST was sent.
    """

    feed: str
    delivery: int
    number: int
    status: int | None
    error: str | None
    at: float

    @property
    def ok(self) -> bool:
        """Whether the endpoint took the delivery: any 2xx."""
        return self.status is not None and 200 <= self.status < 300


def _attempt_count(attempts: list[PushAttempt]) -> str:
    return str(len(attempts))


@attrs.define(eq=False, kw_only=True)
class Delivery:
    """One event queued by `LivePush.push()`, its attempts and its state.

    Attributes:
        feed: the feed it is POSTed to, `{url}/{feed}`.
        number: its number, 1, 2... in the order pushed.
        body: the body as sent, in bytes.
        attempts: its POSTs that ended, in order (`PushAttempt`s).
        state: `"pending"` until it is `"delivered"` (a 2xx), `"given_up"`
            (every attempt failed) or `"abandoned"` (the `LivePush` was closed first).
    """

    feed: str
    number: int
    body: bytes = attrs.field(repr=False)
    attempts: list[PushAttempt] = attrs.field(factory=list, repr=_attempt_count)
    state: DeliveryState = "pending"
    # Made on the pusher's event loop: `_enqueue` makes every Delivery there.
    _done: anyio.Event = attrs.field(init=False, factory=anyio.Event, repr=False)

    async def wait(self) -> DeliveryState:
        """Wait until this delivery is no longer pending; return its state.

        Returns:
            Its state once it has ended: `"delivered"`, `"given_up"` or `"abandoned"`.
        """
        await self._done.wait()
        return self.state


def _encode(body: object) -> bytes:
    if isinstance(body, Mapping):
        return json.dumps(dict(body), ensure_ascii=False, separators=(",", ":")).encode()
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"body must be a dict, str or bytes, got {type(body).__name__}")


def _check_feed(feed: object) -> str:
    if feed not in FEEDS:
        raise ValueError(f"feed must be one of {', '.join(FEEDS)}; got {feed!r}")
    return str(feed)


def _number(name: str, value: object, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value!r}")
    return value


def _check_url(url: object) -> str:
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__}")
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"url is not a URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"url must be an http:// or https:// URL with a host, got {url!r}")
    if parsed.userinfo:
        # Credentials in a URL end up in logs and reprs.
        raise ValueError("url must not hold credentials: pass basic_auth=(username, password)")
    if parsed.query or parsed.fragment:
        raise ValueError("url must not have a query or a fragment: each feed's path is added")
    return url.rstrip("/")


def _header_text(name: str, value: str) -> None:
    if not value.isprintable():
        raise ValueError(f"{name} must not hold control characters")


def _auth_headers(basic_auth: object, api_key: object) -> dict[str, str]:
    """The credential headers; the messages never quote a secret."""
    headers: dict[str, str] = {}
    if basic_auth is not None:
        if not (
            isinstance(basic_auth, tuple)
            and len(basic_auth) == 2
            and all(isinstance(part, str) for part in basic_auth)
        ):
            raise TypeError("basic_auth must be a (username, password) tuple of two strings")
        username, password = basic_auth
        # RFC 7617: the user-id cannot hold a colon, the first one ends it.
        if not username or ":" in username:
            raise ValueError("basic_auth: the username must be non-empty, without ':'")
        _header_text("basic_auth", username + password)
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        headers["authorization"] = f"Basic {token}"
    if api_key is not None:
        if not isinstance(api_key, str):
            raise TypeError(f"api_key must be a str, got {type(api_key).__name__}")
        if not api_key or api_key != api_key.strip() or not api_key.isascii():
            raise ValueError("api_key must be non-empty ASCII without outer spaces")
        _header_text("api_key", api_key)
        headers["x-api-key"] = api_key
    return headers


def _call_soon_threadsafe() -> Callable[[Callable[[], object]], object]:
    """How another thread makes the running event loop call a function soon,
    without waiting for it."""
    if running_library() == "trio":
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    return asyncio.get_running_loop().call_soon_threadsafe


class LivePush:
    """CrowdTwist's Live Push, against *url*: `{url}/{feed}` per feed.

    An async context manager; it owns an `httpx.AsyncClient` and a task
    group. `await push(feed, body)` queues one delivery and returns its
    `Delivery` at once; each is POSTed with `Content-Type: application/json`
    and the credentials given (`Authorization: Basic base64(user:pass)`
    and/or `x-api-key`), on its own (a slow answer holds up no other
    delivery; at most `max_in_flight` POSTs at once). Any 2xx delivers it.
    Anything else, another status, a connection error or a timeout (after
    `timeout` seconds), is tried again `interval / time_factor` seconds
    later, up to `attempts` attempts in all; then it is given up: put in
    `given_up` and logged at WARNING ("recorded in an error log").

    CrowdTwist documents "five times an hour for up to eight hours": the
    defaults read that as 40 attempts in all, the first included, 720
    seconds (12 minutes) apart, which is our reading, not a documented
    spacing. `time_factor=3600` plays an hour in a second.

    Records: `deliveries` (every one pushed, in order), `attempts` (every
    POST that ended, in the order it ended), `delivered` and `given_up` (in
    the order they ended). `await drain()` waits for every delivery pushed
    so far to be delivered or given up. Leaving the block waits for
    nothing: pending deliveries are cancelled and marked `"abandoned"` (a
    POST cut short is no attempt).

    Args:
        url: the receiver's base URL, `http://` or `https://` with a host, no
            credentials, query or fragment; each delivery goes to `{url}/{feed}`.
        basic_auth: `(username, password)` sent as HTTP Basic (the username
            non-empty, without ':'), or None (the default) for none.
        api_key: the value of the `x-api-key` header (non-empty ASCII without
            outer spaces), or None (the default) for none.
        time_factor: how many times faster than CrowdTwist's clock the waits
            between attempts run, > 0; default 1.0 (real time), 3600 plays an
            hour in a second.
        attempts: the attempts a delivery gets in all, the first included, at
            least 1; default 40. Kept as `max_attempts`.
        interval: seconds between two attempts on CrowdTwist's clock, >= 0;
            default 720.0 (12 minutes). The wait is `interval / time_factor`.
        timeout: seconds one POST may take before it counts as failed, > 0;
            default 10.0.
        max_in_flight: the most POSTs sent at once, at least 1; default 16.
        transport: an `httpx.AsyncBaseTransport` to send through (e.g. an
            ASGI transport around a receiver), or None (the default) for
            the network.

    Raises:
        TypeError: if an argument is not of its type.
        ValueError: if `url` is not such a URL or a number is out of its bounds.

    Example:
        ```python
        from crowdtwist_async.testing import LivePush, sample_event

        url = "http://127.0.0.1:8000"
        async with LivePush(url, api_key="k", time_factor=3600) as pusher:
            await pusher.push("user_redemption", sample_event("user_redemption", seed=1))
            await pusher.drain()
        assert [d.state for d in pusher.deliveries] == ["delivered"]
        ```
    """

    def __init__(
        self,
        url: str,
        *,
        basic_auth: tuple[str, str] | None = None,
        api_key: str | None = None,
        time_factor: float = 1.0,
        attempts: int = 40,
        interval: float = 720.0,
        timeout: float = 10.0,
        max_in_flight: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url: Final = _check_url(url)
        self._headers = {"content-type": "application/json", **_auth_headers(basic_auth, api_key)}
        self._auth = " + ".join(
            name
            for name, given in (("basic_auth", basic_auth), ("api_key", api_key))
            if given is not None
        )
        self.time_factor: Final = _number("time_factor", time_factor, positive=True)
        self.max_attempts: Final = _count("attempts", attempts)
        """The attempts a delivery gets in all, the first included."""
        self.interval: Final = _number("interval", interval, positive=False)
        self.timeout: Final = _number("timeout", timeout, positive=True)
        self.max_in_flight: Final = _count("max_in_flight", max_in_flight)
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise TypeError(
                f"transport must be an httpx.AsyncBaseTransport, got {type(transport).__name__}"
            )
        self._transport = transport
        self.deliveries: list[Delivery] = []
        """Every delivery pushed, in order (`Delivery.number` - 1 is its index)."""
        self.attempts: list[PushAttempt] = []
        """Every POST that ended, in the order it ended."""
        self.delivered: list[Delivery] = []
        """The deliveries a 2xx took, in the order they were."""
        self.given_up: list[Delivery] = []
        """The deliveries given up after every attempt failed, in that order."""
        self._phase: Literal["new", "open", "closed"] = "new"
        self._stack = AsyncExitStack()
        self._client: httpx.AsyncClient | None = None
        self._task_group: TaskGroup | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._thread = 0
        self._call_soon: Callable[[Callable[[], object]], object] | None = None
        # What other threads (a served fake) push: taken by `_pump` on the loop.
        self._inbox: deque[tuple[str, bytes]] = deque()
        self._wakeup: anyio.Event | None = None

    @property
    def wait_between(self) -> float:
        """The seconds between two attempts of a delivery: `interval / time_factor`."""
        return self.interval / self.time_factor

    def __repr__(self) -> str:
        pending = sum(1 for d in self.deliveries if d.state == "pending")
        return (
            f"<LivePush {self.url!r} auth={self._auth or 'none'} {self._phase} "
            f"deliveries={len(self.deliveries)} pending={pending} "
            f"delivered={len(self.delivered)} given_up={len(self.given_up)}>"
        )

    async def __aenter__(self) -> LivePush:
        if self._phase != "new":
            raise RuntimeError("a LivePush is entered once; make another")
        self._phase = "closed"
        try:
            self._client = await self._stack.enter_async_context(
                httpx.AsyncClient(transport=self._transport, timeout=self.timeout)
            )
            self._task_group = await self._stack.enter_async_context(anyio.create_task_group())
            self._limiter = anyio.CapacityLimiter(self.max_in_flight)
            self._thread = threading.get_ident()
            self._call_soon = _call_soon_threadsafe()
            self._wakeup = anyio.Event()
            self._task_group.start_soon(self._pump, name="LivePush inbox")
        except BaseException:
            await self._stack.aclose()
            raise
        self._phase = "open"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        self._phase = "closed"
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        try:
            return bool(await self._stack.__aexit__(exc_type, exc, traceback))
        finally:
            # A delivery whose task never ran was not marked by it.
            for delivery in self.deliveries:
                self._finish(delivery, "abandoned")

    async def push(self, feed: str, body: Mapping[str, Any] | str | bytes) -> Delivery:
        """Queue one delivery of *body* to `{url}/{feed}` and return it at once.

        Args:
            feed: the feed, one of `FEEDS` (`"user_redemption"`, ...).
            body: a dict, sent as compact JSON, or a str or bytes sent as is
                (a malformed body for a receiver's tests, too).

        Returns:
            The queued `Delivery`, still `"pending"`: `await delivery.wait()`
            for its end.

        Raises:
            ValueError: if `feed` is not a Live Push feed.
            TypeError: if `body` is not a dict, str or bytes.
            RuntimeError: outside `async with`, or from another thread than
                the one that entered the `LivePush`.
        """
        feed = _check_feed(feed)
        data = _encode(body)
        if self._phase != "open":
            raise RuntimeError(f"the LivePush is {self._phase}: push inside `async with`")
        if threading.get_ident() != self._thread:
            raise RuntimeError("push() from the event loop that entered the LivePush")
        return self._enqueue(feed, data)

    async def drain(self) -> None:
        """Wait until every delivery pushed so far is delivered or given up.

        Or abandoned, should the block end meanwhile.
        """
        for delivery in list(self.deliveries):
            await delivery.wait()

    def _submit(self, feed: str, body: Mapping[str, Any]) -> None:
        """Queue *body* from any thread, without waiting and without raising:
        the fake's writes, whose answer a push must neither hold up nor fail."""
        try:
            data = _encode(body)
            if self._phase != "open":
                log.warning("a %s push was dropped: the LivePush is %s", feed, self._phase)
                return
            if threading.get_ident() == self._thread:
                self._enqueue(feed, data)
                return
            self._inbox.append((feed, data))
            assert self._call_soon is not None
            self._call_soon(self._wake)
        except Exception:
            log.warning("a %s push was dropped", feed, exc_info=True)

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    async def _pump(self) -> None:
        """Queue what other threads pushed, on this loop."""
        while True:
            assert self._wakeup is not None
            await self._wakeup.wait()
            self._wakeup = anyio.Event()
            while self._inbox:
                self._enqueue(*self._inbox.popleft())

    def _enqueue(self, feed: str, data: bytes) -> Delivery:
        delivery = Delivery(feed=feed, number=len(self.deliveries) + 1, body=data)
        self.deliveries.append(delivery)
        assert self._task_group is not None
        self._task_group.start_soon(
            self._deliver, delivery, name=f"LivePush delivery {delivery.number}"
        )
        return delivery

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            for number in range(1, self.max_attempts + 1):
                if number > 1:
                    await anyio.sleep(self.wait_between)
                assert self._limiter is not None
                async with self._limiter:
                    attempt = await self._post(delivery, number)
                delivery.attempts.append(attempt)
                self.attempts.append(attempt)
                if attempt.ok:
                    self.delivered.append(delivery)
                    self._finish(delivery, "delivered")
                    return
            self.given_up.append(delivery)
            self._finish(delivery, "given_up")
            log.warning(
                "Live Push delivery %d (%s) given up after %d attempts",
                delivery.number,
                delivery.feed,
                self.max_attempts,
            )
        finally:
            self._finish(delivery, "abandoned")

    def _finish(self, delivery: Delivery, state: DeliveryState) -> None:
        """End a pending *delivery* in *state*; one already ended keeps its own."""
        if delivery.state == "pending":
            delivery.state = state
            delivery._done.set()

    async def _post(self, delivery: Delivery, number: int) -> PushAttempt:
        assert self._client is not None
        sent = time.monotonic()
        status: int | None
        error: str | None
        try:
            response = await self._client.post(
                f"{self.url}/{delivery.feed}", content=delivery.body, headers=self._headers
            )
        # Whatever keeps a 2xx from coming back is a failed attempt, as
        # CrowdTwist sees it; cancellation is no Exception and passes.
        except Exception as exc:
            status, error = None, type(exc).__name__
        else:
            status, error = response.status_code, None
        return PushAttempt(
            feed=delivery.feed,
            delivery=delivery.number,
            number=number,
            status=status,
            error=error,
            at=sent,
        )


# -- bodies -----------------------------------------------------------------------


def _id(value: object) -> object:
    """An id as the feeds send ids, a JSON number where it is one."""
    number = parse_int(value)
    return value if number is None else number


def _text(value: object) -> str | None:
    """A String field: text as is, an object as JSON text, else None."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def redemption_push(
    user: FakeUser, reward: Mapping[str, Any], order: Mapping[str, Any]
) -> dict[str, Any]:
    """The `user_redemption` body of *order* (the record a redemption added)
    of *reward* by *user*. The member's `userId`, `email` and `thirdPartyId`
    and the `quantity` are the fake's choice: the page's rows for them were
    not seen."""
    return {
        "orderId": order["id"],
        "orderDate": order["date_redeemed"],
        "rewardId": _id(order["reward_id"]),
        "rewardGroupId": _id(reward.get("group_id")),
        "category": CATEGORY_NAMES.get(parse_int(reward.get("category_id")) or 0),
        "title": reward.get("title"),
        "description": reward.get("description"),
        "color": None,
        "size": None,
        "referenceId": _text(reward.get("reference_id")),
        "rewardExtraData": _text(reward.get("extra_data")),
        "translatedTitle": None,
        "translatedDescription": None,
        "quantity": order["quantity"],
        "userId": user.id,
        "email": user.email,
        "thirdPartyId": user.third_party_id,
    }


def activity_push(user: FakeUser, activity: Mapping[str, Any]) -> dict[str, Any]:
    """The `user_activity` body of *activity* (the record a credit added)
    for *user*. The fake's activities have a name only: it is also the
    `title` and the `description`; `userId` and `email` are the fake's
    choice, as in `redemption_push`."""
    name = activity.get("name")
    return {
        "userActivityId": activity["id"],
        "activityId": _id(activity.get("activity_id")),
        "activityName": name,
        "points": activity.get("num_points"),
        "notes": activity.get("notes"),
        "referenceId": None,
        "activityExtraData": _text(activity.get("extra_data")),
        "thirdPartyId": user.third_party_id,
        "title": name,
        "description": name,
        "translatedTitle": None,
        "translatedDescription": None,
        "userId": user.id,
        "email": user.email,
    }


# The docs' samples (seed 0) and what other seeds draw from.
_SAMPLE_ORDER_DATE: Final = 1_438_043_367
_SAMPLE_USER_ACTIVITY_ID: Final = 12_348_765
_REWARDS: Final = (
    # (title, description, category, color, size)
    ("$20 Gift Card", "$20 to use on our site", "Gift Cards", None, None),
    ("$50 Gift Card", "$50 to use on our site", "Gift Cards", None, None),
    ("Free Coffee", "One coffee of any size, in any store", "Food & Drink", None, None),
    ("Logo T-Shirt", "Our classic tee, in organic cotton", "Merchandise", "Navy", "M"),
    ("Logo T-Shirt", "Our classic tee, in organic cotton", "Merchandise", "White", "L"),
    ("VIP Event Pass", "Two tickets to our members' night", "Experiences", None, None),
)
_ACTIVITIES: Final = (
    # (activityId, activityName, points, title, description)
    (198, "added gender", 80, "Add Your Gender", "Add your gender to your profile"),
    (203, "made a purchase", 100, "Make a Purchase", "Earn points on every purchase"),
    (225, "shared a link", 25, "Share a Link", "Share a link with your friends"),
    (230, "answered a survey", 75, "Answer a Survey", "Tell us what you think"),
    (310, "reward redeemed", -500, "Reward Redeemed", "Points spent on a reward"),
)
_SEGMENTS: Final = (
    "Users in New York",
    "Gold members",
    "Lapsed shoppers",
    "Birthday this month",
)


def _member(rng: random.Random) -> tuple[int, str, str]:
    """A fresh member: CrowdTwist id, email, third-party id."""
    user_id = rng.randrange(10_000, 10_000_000)
    return user_id, f"member{user_id}@example.com", f"user-{rng.randrange(16**8):08x}"


def _iso(moment: datetime, *, millis: bool = False) -> str:
    if millis:
        return moment.isoformat(timespec="milliseconds")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _redemption_sample(seed: int, rng: random.Random) -> dict[str, Any]:
    if seed == 0:
        title, description, category, color, size = _REWARDS[0]
        reward_id, group_id, user = 947_563, 12_345, (10, "joe@example.com", "user-123")
        order_date = _SAMPLE_ORDER_DATE
    else:
        title, description, category, color, size = rng.choice(_REWARDS)
        reward_id, group_id = rng.randrange(100_000, 1_000_000), rng.randrange(1_000, 100_000)
        user = _member(rng)
        order_date = _SAMPLE_ORDER_DATE + seed * 3_600 + rng.randrange(3_600)
    return {
        "orderId": 101 + seed,
        "orderDate": order_date,
        "rewardId": reward_id,
        "rewardGroupId": group_id,
        "category": category,
        "title": title,
        "description": description,
        "color": color,
        "size": size,
        "referenceId": None,
        "rewardExtraData": None,
        "translatedTitle": None,
        "translatedDescription": None,
        "quantity": 1,
        "userId": user[0],
        "email": user[1],
        "thirdPartyId": user[2],
    }


def _activity_sample(seed: int, rng: random.Random) -> dict[str, Any]:
    reference_id: int | None
    extra: str | None
    user: tuple[int, str, str | None]
    if seed == 0:
        activity_id, name, points, title, description = _ACTIVITIES[0]
        reference_id, extra, user = 123, '{"apporderid":"1"}', (10, "joe@example.com", None)
    else:
        activity_id, name, points, title, description = rng.choice(_ACTIVITIES)
        reference_id = rng.choice((None, rng.randrange(1, 10_000)))
        extra = rng.choice((None, json.dumps({"apporderid": str(rng.randrange(1, 10**6))})))
        user_id, email, third_party_id = _member(rng)
        user = (user_id, email, rng.choice((None, third_party_id)))
    return {
        "userActivityId": _SAMPLE_USER_ACTIVITY_ID + seed,
        "activityId": activity_id,
        "activityName": name,
        "points": points,
        "notes": None,
        "referenceId": reference_id,
        "activityExtraData": extra,
        "thirdPartyId": user[2],
        "title": title,
        "description": description,
        "translatedTitle": None,
        "translatedDescription": None,
        "userId": user[0],
        "email": user[1],
    }


def _profile_sample(seed: int, rng: random.Random) -> dict[str, Any]:
    if seed == 0:
        country, sms, points, postal = "US", 0, 5_200, "10001"
        reset, reached = "2017-03-23T20:00:00Z", "2017-03-23T19:00:00Z"
        user = (10, "joe@example.com", "user-123")
    else:
        country, sms = rng.choice(("US", "US", "CA", "GB")), rng.choice((0, 1))
        points, postal = rng.randrange(0, 20_000), f"{rng.randrange(100_000):05d}"
        start = datetime(2017, 3, 23, 19, tzinfo=timezone.utc) + timedelta(days=seed)
        reached, reset = _iso(start), _iso(start + timedelta(days=365))
        user = _member(rng)
    return {
        "userId": user[0],
        "email": user[1],
        "thirdPartyId": user[2],
        "country": country,
        "receiveSmsMessages": sms,
        "facebookUserId": None,
        "redeemablePoints": points,
        "postalCode": postal,
        "tierInfo": {"resetDate": reset, "dateReached": reached},
    }


def _expiration_sample(seed: int, rng: random.Random) -> dict[str, Any]:
    # The page's samples: every date the same moment, at -04:00.
    sampled = datetime(2021, 5, 20, 18, 25, 43, 511_000, tzinfo=timezone(timedelta(hours=-4)))
    if seed == 0:
        user = (348_399, "test@ct.com", "12322")
        message = qualified = expires = sampled
        expiring, expired = 200, 0
    else:
        user = _member(rng)
        message = sampled + timedelta(days=seed, seconds=rng.randrange(86_400))
        qualified = message - timedelta(days=rng.randrange(30, 300))
        expires = qualified + timedelta(days=365)
        expiring, expired = rng.randrange(0, 2_000), rng.randrange(0, 500)
    return {
        "user_id": user[0],
        "email_address": user[1],
        "third_party_id": user[2],
        "message_date": _iso(message, millis=True),
        "last_qualified_date": _iso(qualified, millis=True),
        "expiration_date": _iso(expires, millis=True),
        "points_expiring": expiring,
        "points_expired": expired,
    }


def _segmentation_sample(seed: int, rng: random.Random) -> dict[str, Any]:
    if seed == 0:
        # The page's sample request, verbatim.
        return {
            "user_id": 10,
            "email_address": "joe@example.com",
            "third_party_id": "user-123",
            "type": "segment",
            "name": "Users in New York",
            "subscription_id": 200,
            "event": "entered",
            "trigger": "segment criteria",
            "date_occurred": "2022-07-27T18:29:18Z",
        }
    user_id, email, third_party_id = _member(rng)
    occurred = datetime(2022, 7, 27, 18, 29, 18, tzinfo=timezone.utc) + timedelta(
        days=seed, seconds=rng.randrange(86_400)
    )
    return {
        "user_id": user_id,
        "email_address": email,
        "third_party_id": third_party_id,
        "type": rng.choice(("segment", "group")),
        "name": rng.choice(_SEGMENTS),
        "subscription_id": 200 + seed,
        "event": rng.choice(("entered", "exited")),
        "trigger": rng.choice(("segment criteria", "segment disabled")),
        "date_occurred": _iso(occurred),
    }


_SAMPLES: Final[Mapping[str, Callable[[int, random.Random], dict[str, Any]]]] = {
    "user_redemption": _redemption_sample,
    "user_activity": _activity_sample,
    "user_profile": _profile_sample,
    "points_expiration": _expiration_sample,
    "user_segmentation": _segmentation_sample,
}


def sample_event(feed: str, *, seed: int = 0, **fields: Any) -> dict[str, Any]:
    """A realistic Live Push body of *feed*, as CrowdTwist's page for it shows one.

    Its keys are camelCase for `user_redemption`, `user_activity` and
    `user_profile`, snake_case for `points_expiration` and
    `user_segmentation`. *fields* (wire names) replace or add top-level
    fields.

    `seed=0` gives the page's sample values (the Segmentation page's sample
    request verbatim); another seed gives fresh ids and values, the same for
    the same seed. `orderId` is `101 + seed` and `userActivityId`
    `12348765 + seed`, so no two seeds share a delivery's id; nor does
    `subscription_id` for seeds above 0.

    What the pages were not seen to show is the fake's choice: the member's
    `userId`, `email` and `thirdPartyId` and the `quantity` of a
    redemption, the member's ids on a profile, and the shape of points
    expiration: one flat object, its table's rows once each in their order
    (the page lists `points_expiring` under both of its rules; it is sent
    once here).

    Args:
        feed: the feed, one of `FEEDS` (`"user_redemption"`, ...).
        seed: 0 (the default) for the page's sample values, another int >= 0
            for other values, the same for the same seed.
        **fields: top-level fields, by their wire names, that replace or add
            to the sample's.

    Returns:
        The body as a new dict, ready for `LivePush.push()` or `json.dumps`.

    Raises:
        ValueError: if `feed` is not a Live Push feed, or `seed` is negative.
        TypeError: if `seed` is not an int.
    """
    feed = _check_feed(feed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed!r}")
    body = _SAMPLES[feed](seed, random.Random(f"{feed}:{seed}"))
    return {**body, **fields}
