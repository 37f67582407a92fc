"""`FakeCrowdTwist`: the sample program, the fault knobs, the records, and the adapters.

Every adapter (the httpx transport, the ASGI app and through it the server)
hands its request to `FakeCrowdTwist._answer`, the one async path: it counts
the request in flight, picks a scripted or injected-failure response or asks
the pure core, sleeps the latency with `anyio.sleep`, and records the result.
"""

from __future__ import annotations

import fnmatch
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

from ._core import Incoming, Reply, error_reply, json_reply, parse_request, respond
from ._data import (
    ID_TYPES,
    FakeCoupon,
    FakeUser,
    RecordFactory,
    RedemptionFactory,
    sample_users,
    timestamp,
    with_fields,
)

__all__ = ["FakeCrowdTwist", "RecordedRequest"]

_UNSET: Final = object()

# The transport and the ASGI adapter frame each body themselves; a scripted
# header saying otherwise would contradict them.
_FRAMING_HEADERS: Final = frozenset({"content-length", "transfer-encoding"})


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """A request the fake answered, for assertions.

    `path` is as sent (still percent-encoded); `params` the query parameters
    without `api_key`; `page` the page the API read from them on a paginated
    endpoint, the rewards listing or the redemption history (absent or not an
    integer means 1), None on other endpoints. `status` is None only in what
    a `script(when=...)` predicate is shown.
    """

    method: str
    path: str
    params: dict[str, str] = attrs.field(hash=False)
    page: int | None
    status: int | None


@attrs.frozen
class _Script:
    reply: Reply
    delay: float | None
    path: str | None
    page: int | None
    when: Callable[[RecordedRequest], bool] | None

    def matches(self, request: RecordedRequest) -> bool:
        if self.path is not None and not fnmatch.fnmatchcase(request.path, self.path):
            return False
        if self.page is not None and request.page != self.page:
            return False
        return self.when is None or self.when(request)


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
    """An in-memory CrowdTwist program serving the User Rewards (v2.1),
    Usable Coupons (v2) and User Redemption History (v2.2) endpoints as the
    vendor docs describe them.

    It starts with a seeded sample program (`users`): alice
    (`SANDBOX_EMAIL`, CrowdTwist id 1001) has 203 rewards on offer, 21 pages
    of 10, plus 4 sold out, coupons usable, used and expired, and 37
    redemptions over the two years before `now`; bob has a few rewards, some
    sold out, and 3 redemptions; carol has nothing; dave has 12 rewards, no
    usable coupon and no redemption. The same `seed` and `now` give the same
    bytes every time.

    Reach it three ways: `transport()` in process, the instance itself as an
    ASGI app, or `serve()` on a loopback port.

    **Usage**

    ```python
    fake = FakeCrowdTwist(seed=0)
    async with ct.Session(
        api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport()
    ) as session:
        rewards = [r async for r in session.users.aiter_rewards(SANDBOX_EMAIL, id_type="email")]
    assert len(rewards) == 203
    assert fake.requests[0].params == {"id_type": "email", "page": "1"}
    ```

    Every argument but `seed` is also an attribute that may be set later,
    even while serving; values are checked when set. Besides the knobs,
    `script()` queues one-off responses, and `requests`, `in_flight` and
    `max_in_flight` tell what was served.

    Arguments:
        seed: seeds the sample data, the latency jitter and the failure draws.
        now: the fake's clock, timezone-aware: dates are generated around it
            and coupon expiry is judged by it. It does not advance by itself;
            set `fake.now` to move it. Default: the current time.
        api_key: the one key accepted, by `api_key` query parameter or by
            `X-CT-Authorization: CTApiKey <key>` header.
        base_url: the URL to give a `Session` with `transport()`; the
            transport answers whatever host a request names.
        latency: seconds every response waits, plus up to `jitter` either way.
        jitter: the bound of the uniform jitter added to `latency`.
        failure_rate: the chance (0 to 1) that a request, whatever it asks,
            gets one of `failure_statuses` instead of its answer.
        failure_statuses: the statuses of injected failures, drawn uniformly.
        retry_after: seconds sent as `Retry-After` on injected failures.
    """

    seed: int = attrs.field(default=0, on_setattr=attrs.setters.frozen)
    now: datetime = attrs.field(factory=_utc_now, validator=_check_now)
    api_key: str = attrs.field(default="sandbox-api-key", validator=_check_key)
    base_url: str = "https://sandbox.crowdtwist.test"
    latency: float = attrs.field(default=0.0, validator=_seconds)
    jitter: float = attrs.field(default=0.0, validator=_seconds)
    failure_rate: float = attrs.field(default=0.0, validator=_check_rate)
    failure_statuses: tuple[int, ...] = attrs.field(default=(503,), converter=_statuses)
    retry_after: float | None = attrs.field(default=None, validator=_seconds)

    #: The program's members; add more with `add_user()`.
    users: list[FakeUser] = attrs.field(init=False)
    #: Every request answered, in the order the answers were sent.
    requests: list[RecordedRequest] = attrs.field(init=False, factory=list)
    #: The most requests in flight at once so far; set it to 0 to measure anew.
    max_in_flight: int = attrs.field(init=False, default=0)

    _in_flight: int = attrs.field(init=False, default=0)
    # The server thread answers while the test's thread sets knobs and scripts.
    _lock: threading.RLock = attrs.field(init=False, factory=threading.RLock)
    _records: RecordFactory = attrs.field(init=False)
    _redemptions: RedemptionFactory = attrs.field(init=False)
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
        self.users = sample_users(self._records, timestamp(self.now), redemptions=self._redemptions)

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
        """Add a member with no rewards, coupons or redemptions and return it.

        `id` (the CrowdTwist id) defaults to one above the highest so far. No
        id may be taken by another member under the same `id_type`.

        **Usage**

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

        *fields* (wire key names) replace the generated values; a datetime
        becomes unix seconds. `current_quantity=0` makes it sold out.
        """
        with self._lock:
            self._check_member(user)
            record = with_fields(self._records.reward(timestamp(self.now)), fields)
            user.rewards.append(record)
            return record

    def add_coupon(self, user: FakeUser, *, used: bool = False, **fields: Any) -> FakeCoupon:
        """Give *user* a realistic coupon, unexpired unless *fields* say otherwise.

        *fields* (wire key names) replace the generated values; a datetime
        becomes unix seconds, and `date_to_expire=None` means it never expires.

        **Usage**

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
        otherwise: *fields* (wire key names) replace the generated values,
        and a datetime becomes unix seconds. The history lists it by
        `date_redeemed`, newest first, wherever it was appended.

        **Usage**

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

    def _check_member(self, user: FakeUser) -> None:
        if not any(u is user for u in self.users):
            raise ValueError("that user is not one of this fake's users; use add_user()")

    # -- faults -----------------------------------------------------------------

    def script(
        self,
        status: int = 200,
        *,
        json: object = _UNSET,
        body: bytes | str = b"",
        headers: Mapping[str, str] | None = None,
        delay: float | None = None,
        path: str | None = None,
        page: int | None = None,
        when: Callable[[RecordedRequest], bool] | None = None,
    ) -> None:
        """Queue a one-off response, served instead of the real answer.

        Each request is given the first queued response whose filters all
        match it (none means any request), which is then dropped: queued
        responses are served once each, in order, before anything else,
        authentication included.

        Arguments:
            status: the HTTP status.
            json: a body to send as JSON (instead of `body`).
            body: the raw body, e.g. a proxy's HTML error page.
            headers: response headers, e.g. `{"Retry-After": "2"}`.
            delay: seconds to wait instead of the latency.
            path: only a request whose path (as sent) matches this
                `fnmatch` pattern, e.g. `"*/usable_coupons"`.
            page: only a request for this page of a paginated endpoint (the
                rewards listing or the redemption history; add `path` to
                tell them apart).
            when: only a request this predicate accepts.

        **Usage**

        ```python
        fake.script(502, body=b"<html>Bad Gateway</html>", headers={"content-type": "text/html"})
        fake.script(json={"paging": {}, "rewards": "oops"}, page=3)
        ```
        """
        _check_status(status)
        if delay is not None:
            _check_seconds("delay", delay)
        if json is not _UNSET:
            if body:
                raise ValueError("pass json or body, not both")
            reply = json_reply(status, json)
        else:
            raw = body.encode() if isinstance(body, str) else bytes(body)
            reply = Reply(status=status, headers=(), body=raw)
        if headers:
            named = {name.lower() for name in headers}
            reply = attrs.evolve(
                reply,
                headers=(
                    *(pair for pair in reply.headers if pair[0] not in named),
                    *(
                        (name.lower(), value)
                        for name, value in headers.items()
                        if name.lower() not in _FRAMING_HEADERS
                    ),
                ),
            )
        with self._lock:
            self._scripts.append(_Script(reply, delay, path, page, when))

    # -- the one request path ---------------------------------------------------

    async def _answer(
        self, method: str, raw_path: str, query: str, headers: Mapping[str, str]
    ) -> Reply:
        """Answer one request as every adapter does: faults, core, recording."""
        request = parse_request(method, raw_path, query, headers)
        try:
            with self._lock:
                self._in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self._in_flight)
                # Chosen on arrival, so concurrent requests take scripts and
                # failure draws in the order they came in.
                script = self._take_script(_recorded(request, None))
                reply = script.reply if script is not None else self._draw_failure()
                delay = (
                    self._draw_latency() if script is None or script.delay is None else script.delay
                )
            # Even with no latency: an answer from a network always takes at
            # least a turn of the event loop, and code under test may rely on
            # that to interleave its tasks.
            await anyio.sleep(delay)
            if reply is None:
                # The data may change during the latency: answer from it as it is now.
                reply = respond(request, self.users, api_key=self.api_key, now=timestamp(self.now))
            with self._lock:
                self.requests.append(_recorded(request, reply.status))
            return reply
        finally:
            with self._lock:
                self._in_flight -= 1

    def _take_script(self, request: RecordedRequest) -> _Script | None:
        for script in self._scripts:
            if script.matches(request):
                self._scripts.remove(script)
                return script
        return None

    def _draw_failure(self) -> Reply | None:
        if self.failure_rate and self._faults.random() < self.failure_rate:
            status = self._faults.choice(self.failure_statuses)
            return _failure_reply(status, self.retry_after)
        return None

    def _draw_latency(self) -> float:
        if not self.jitter:
            return self.latency
        return max(0.0, self.latency + self._faults.uniform(-self.jitter, self.jitter))

    # -- adapters ---------------------------------------------------------------

    def transport(self) -> httpx.AsyncBaseTransport:
        """A new httpx transport answering every request in process, no sockets.

        **Usage**

        ```python
        session = ct.Session(
            api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport()
        )
        ```
        """
        return _FakeTransport(self)

    async def __call__(
        self,
        scope: Mapping[str, Any],
        receive: Callable[[], Awaitable[Mapping[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        """The fake as an ASGI 3 app (HTTP; lifespan events are acknowledged)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            raise ValueError(f"FakeCrowdTwist serves HTTP only, not {scope['type']!r}")
        raw_path = scope.get("raw_path") or quote(scope["path"]).encode()
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", ())
        }
        reply = await self._answer(
            scope["method"],
            raw_path.decode("latin-1"),
            scope.get("query_string", b"").decode("latin-1"),
            headers,
        )
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    *(
                        (name.encode("latin-1"), value.encode("latin-1"))
                        for name, value in reply.headers
                    ),
                    (b"content-length", str(len(reply.body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})

    @contextmanager
    def serve(
        self, *, host: str = "127.0.0.1", port: int = 0, allow_remote: bool = False
    ) -> Iterator[str]:
        """Serve the fake over HTTP from a background thread; yield its base URL.

        `port=0` picks a free port. The server runs uvicorn (the `serve`
        extra), is accepting connections when the block starts and is stopped
        when it ends. Only a loopback host is allowed unless `allow_remote`:
        the fake accepts one well-known key and has no TLS.

        **Usage**

        ```python
        with fake.serve() as base_url:  # "http://127.0.0.1:53124"
            async with ct.Session(api_key=fake.api_key, base_url=base_url) as session:
                ...
        ```
        """
        from ._server import serve_in_thread

        with serve_in_thread(self, host=host, port=port, allow_remote=allow_remote) as url:
            yield url


def _recorded(request: Incoming, status: int | None) -> RecordedRequest:
    return RecordedRequest(
        method=request.method,
        path=request.path,
        params=dict(request.params),
        page=request.page,
        status=status,
    )


class _FakeTransport(httpx.AsyncBaseTransport):
    """Hands each request to the fake, in process."""

    def __init__(self, fake: FakeCrowdTwist) -> None:
        self._fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        reply = await self._fake._answer(
            request.method,
            request.url.raw_path.partition(b"?")[0].decode("ascii"),
            request.url.query.decode("ascii"),
            headers,
        )
        return httpx.Response(
            reply.status, headers=list(reply.headers), content=reply.body, request=request
        )
