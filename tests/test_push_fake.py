"""`LivePush`, `sample_event` and the fake's own pushes: CrowdTwist's Live
Push as a test plays it (auth, retries on its schedule in compressed time,
records, concurrency, shutdown), against a small ASGI endpoint of the
test's own, in process (and, in one slow test, on a loopback uvicorn server).
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import math
import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import anyio
import attrs
import httpx
import pytest

import crowdtwist_async as ct
from crowdtwist_async.testing import (
    SANDBOX_EMAIL,
    Delivery,
    FakeCrowdTwist,
    LivePush,
    sample_event,
)

# The uvicorn runner `FakeCrowdTwist.serve()` uses, for the test's own endpoint
# (as tests/wire_support.py does).
from crowdtwist_async.testing._server import serve_in_thread

pytestmark = pytest.mark.anyio

Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
URL = "https://receiver.test/crowdtwist"
USER, PASSWORD = "crowdtwist", "s3cret:pa55"
API_KEY = "GRscvhg53SsDg1gxxsDgcsf123"
FEEDS = (
    "user_redemption",
    "user_activity",
    "user_profile",
    "points_expiration",
    "user_segmentation",
)
#: CrowdTwist's documented hour (five attempts, 720 s apart) played in a second.
HOUR_IN_A_SECOND = 3_600.0
COUPON_REWARD = "453901"  # the sample catalogue's coupon reward, 500 points
SHARED_A_LINK = "225"  # the sample program's activity, 25 points


@attrs.frozen
class Received:
    """A request the endpoint received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@attrs.define
class Endpoint:
    """A receiver of the test's own (plain ASGI): records each request on
    arrival, awaits `hold(request)` if given, then answers the next of
    `statuses`, or `status` once they are spent."""

    statuses: list[int] = attrs.field(factory=list)
    status: int = 200
    hold: Callable[[Received], Awaitable[None]] | None = None
    requests: list[Received] = attrs.field(factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    async def __call__(self, scope: Mapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        request = Received(
            method=scope["method"],
            path=scope["path"],
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
            body=body,
        )
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.hold is not None:
                await self.hold(request)
        finally:
            self.in_flight -= 1
        status = self.statuses.pop(0) if self.statuses else self.status
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def pusher_for(endpoint: Endpoint, **options: Any) -> LivePush:
    return LivePush(URL, transport=httpx.ASGITransport(app=endpoint), **options)


def compact(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def closed_port() -> int:
    """A loopback port nothing listens on: a connection to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def until(condition: Callable[[], bool]) -> None:
    """Wait, polling, until *condition* holds (the caller bounds the wait)."""
    while not condition():
        await anyio.sleep(0.005)


# -- delivery ---------------------------------------------------------------------


async def test_a_2xx_delivers_in_one_attempt_to_the_feeds_path_with_both_credentials() -> None:
    endpoint = Endpoint(status=204)
    body = sample_event("user_redemption", seed=7)
    async with pusher_for(endpoint, basic_auth=(USER, PASSWORD), api_key=API_KEY) as pusher:
        delivery = await pusher.push("user_redemption", body)
        # Queued, not sent: push() returns before the POST.
        assert (delivery.state, delivery.number, endpoint.requests) == ("pending", 1, [])
        with anyio.fail_after(30):  # a 204 taken for a failure would retry for 8 hours
            await pusher.drain()
    assert delivery.state == "delivered"
    assert pusher.delivered == [delivery]
    assert pusher.given_up == []
    assert [(a.delivery, a.number, a.status, a.error) for a in pusher.attempts] == [
        (1, 1, 204, None)
    ]
    assert delivery.attempts == pusher.attempts
    [request] = endpoint.requests
    assert (request.method, request.path) == ("POST", "/crowdtwist/user_redemption")
    assert request.headers["content-type"] == "application/json"
    token = base64.b64encode(b"crowdtwist:s3cret:pa55").decode()
    assert request.headers["authorization"] == f"Basic {token}"
    assert request.headers["x-api-key"] == API_KEY
    assert request.body == compact(body) == delivery.body
    assert request.json == body


@pytest.mark.parametrize(
    ("options", "present", "absent"),
    [
        ({"basic_auth": (USER, PASSWORD)}, "authorization", "x-api-key"),
        ({"api_key": API_KEY}, "x-api-key", "authorization"),
    ],
)
async def test_each_credential_alone_sends_its_header_only(
    options: dict[str, Any], present: str, absent: str
) -> None:
    endpoint = Endpoint()
    async with pusher_for(endpoint, **options) as pusher:
        await pusher.push("user_activity", sample_event("user_activity"))
        await pusher.drain()
    [request] = endpoint.requests
    assert present in request.headers
    assert absent not in request.headers


async def test_a_str_or_bytes_body_is_sent_as_is() -> None:
    endpoint = Endpoint()
    async with pusher_for(endpoint, api_key=API_KEY) as pusher:
        await pusher.push("user_profile", '{ "country": "US" }')
        await pusher.push("points_expiration", b"not json \xff")
        await pusher.drain()
    # Deliveries are concurrent: they arrive in any order.
    assert {r.path: r.body for r in endpoint.requests} == {
        "/crowdtwist/user_profile": b'{ "country": "US" }',
        "/crowdtwist/points_expiration": b"not json \xff",
    }


async def test_503_twice_then_200_takes_three_attempts_spaced_by_interval_over_time_factor() -> (
    None
):
    endpoint = Endpoint(statuses=[503, 503])
    async with pusher_for(endpoint, api_key=API_KEY, time_factor=HOUR_IN_A_SECOND) as pusher:
        assert pusher.wait_between == 0.2  # 720 s / 3600
        delivery = await pusher.push("user_activity", sample_event("user_activity"))
        with anyio.fail_after(30):
            await pusher.drain()
    assert delivery.state == "delivered"
    assert [(a.number, a.status) for a in delivery.attempts] == [(1, 503), (2, 503), (3, 200)]
    assert pusher.delivered == [delivery]
    assert len(endpoint.requests) == 3
    # The same body every time: a retry is the same event.
    assert {r.body for r in endpoint.requests} == {delivery.body}
    times = [a.at for a in delivery.attempts]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Never sooner than the wait (a clock tick aside); the upper bound is generous.
    assert all(0.19 <= gap < 10.0 for gap in gaps), gaps


async def test_always_500_is_given_up_after_exactly_attempts_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = Endpoint(status=500)
    with caplog.at_level(logging.WARNING, logger="crowdtwist_async.testing.push"):
        async with pusher_for(endpoint, api_key=API_KEY, attempts=5, time_factor=72_000) as pusher:
            delivery = await pusher.push("user_segmentation", sample_event("user_segmentation"))
            assert await delivery.wait() == "given_up"
            await pusher.drain()
    assert [(a.number, a.status) for a in delivery.attempts] == [(n, 500) for n in range(1, 6)]
    assert len(endpoint.requests) == 5
    assert pusher.given_up == [delivery]
    assert pusher.delivered == []
    [record] = [r for r in caplog.records if r.name == "crowdtwist_async.testing.push"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "Live Push delivery 1 (user_segmentation) given up after 5 attempts"
    )


async def test_a_refused_connection_is_a_failed_attempt() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with LivePush(url, api_key=API_KEY, attempts=3, time_factor=72_000) as pusher:
        delivery = await pusher.push("user_redemption", sample_event("user_redemption"))
        with anyio.fail_after(30):
            await pusher.drain()
    assert delivery.state == "given_up"
    assert [(a.number, a.status, a.error) for a in delivery.attempts] == [
        (1, None, "ConnectError"),
        (2, None, "ConnectError"),
        (3, None, "ConnectError"),
    ]
    assert not any(a.ok for a in delivery.attempts)


async def test_a_slow_answer_to_one_delivery_holds_up_no_other() -> None:
    release = anyio.Event()

    async def hold(request: Received) -> None:
        if request.json["orderId"] == 101:  # seed 0's
            await release.wait()

    endpoint = Endpoint(hold=hold)
    async with pusher_for(endpoint, api_key=API_KEY) as pusher:
        slow = await pusher.push("user_redemption", sample_event("user_redemption", seed=0))
        quick = await pusher.push("user_redemption", sample_event("user_redemption", seed=1))
        with anyio.fail_after(30):
            assert await quick.wait() == "delivered"
            assert slow.state == "pending"
            assert pusher.delivered == [quick]
            release.set()
            await pusher.drain()
    assert pusher.delivered == [quick, slow]
    assert [a.delivery for a in pusher.attempts] == [2, 1]
    assert sorted(r.json["orderId"] for r in endpoint.requests) == [101, 102]


async def test_at_most_max_in_flight_posts_at_once() -> None:
    release = anyio.Event()

    async def hold(_: Received) -> None:
        await release.wait()

    endpoint = Endpoint(hold=hold)
    async with pusher_for(endpoint, api_key=API_KEY, max_in_flight=2) as pusher:
        for seed in range(6):
            await pusher.push("user_activity", sample_event("user_activity", seed=seed))
        with anyio.fail_after(30):
            await until(lambda: endpoint.in_flight == 2)
            # Room for a third POST, were there no bound.
            await anyio.sleep(0.1)
            assert len(endpoint.requests) == 2
            release.set()
            await pusher.drain()
    assert endpoint.max_in_flight == 2
    assert [d.state for d in pusher.deliveries] == ["delivered"] * 6


async def test_drain_waits_for_every_delivery_delivered_or_given_up() -> None:
    endpoint = Endpoint()

    async def hold(request: Received) -> None:
        if request.path.endswith("/user_profile"):
            endpoint.statuses.append(502)

    endpoint.hold = hold
    async with pusher_for(endpoint, api_key=API_KEY, attempts=3, time_factor=72_000) as pusher:
        await pusher.drain()  # nothing pushed: returns at once
        for feed in ("user_activity", "user_profile", "user_segmentation"):
            await pusher.push(feed, sample_event(feed))
        with anyio.fail_after(30):
            await pusher.drain()
        assert [(d.feed, d.state, len(d.attempts)) for d in pusher.deliveries] == [
            ("user_activity", "delivered", 1),
            ("user_profile", "given_up", 3),
            ("user_segmentation", "delivered", 1),
        ]
    assert len(pusher.attempts) == 5


async def test_leaving_the_block_abandons_what_is_pending_at_once() -> None:
    stuck = anyio.Event()  # never set

    async def hold(request: Received) -> None:
        if request.path.endswith("/user_profile"):
            await stuck.wait()

    endpoint = Endpoint(status=503, hold=hold)
    with anyio.fail_after(30):  # the real schedule would retry for 8 hours
        async with pusher_for(endpoint, api_key=API_KEY) as pusher:
            retrying = await pusher.push("user_activity", sample_event("user_activity"))
            hanging = await pusher.push("user_profile", sample_event("user_profile"))
            await until(lambda: len(retrying.attempts) == 1 and len(endpoint.requests) == 2)
            unsent = await pusher.push("user_segmentation", sample_event("user_segmentation"))
        assert [d.state for d in (retrying, hanging, unsent)] == ["abandoned"] * 3
        assert await hanging.wait() == "abandoned"
        await pusher.drain()
    # A POST cut short is no attempt; the one answered 503 stays recorded.
    assert [(a.delivery, a.status) for a in pusher.attempts] == [(1, 503)]
    assert pusher.delivered == []
    assert pusher.given_up == []
    with pytest.raises(RuntimeError, match="closed"):
        await pusher.push("user_activity", sample_event("user_activity"))


async def test_push_outside_the_block_and_a_second_entry_are_refused() -> None:
    pusher = pusher_for(Endpoint(), api_key=API_KEY)
    with pytest.raises(RuntimeError, match="new"):
        await pusher.push("user_activity", "{}")
    async with pusher:
        pass
    with pytest.raises(RuntimeError, match="entered once"):
        async with pusher:
            pass


# -- arguments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"time_factor": 0}, ValueError, "time_factor must be a finite number > 0"),
        ({"time_factor": -1.0}, ValueError, "time_factor"),
        ({"time_factor": math.inf}, ValueError, "time_factor"),
        ({"time_factor": "60"}, TypeError, "time_factor must be a number"),
        ({"attempts": 0}, ValueError, "attempts must be at least 1"),
        ({"attempts": True}, TypeError, "attempts must be an int"),
        ({"interval": -0.5}, ValueError, "interval must be a finite number >= 0"),
        ({"interval": math.nan}, ValueError, "interval"),
        ({"timeout": 0}, ValueError, "timeout must be a finite number > 0"),
        ({"max_in_flight": 0}, ValueError, "max_in_flight must be at least 1"),
        ({"basic_auth": "user:pass"}, TypeError, "basic_auth must be a"),
        ({"basic_auth": ("us:er", "x")}, ValueError, "without ':'"),
        ({"basic_auth": ("", "x")}, ValueError, "non-empty"),
        ({"api_key": " key"}, ValueError, "api_key must be non-empty"),
        ({"api_key": "k\r\nx-evil: 1"}, ValueError, "control characters"),
        ({"api_key": 42}, TypeError, "api_key must be a str"),
        ({"transport": object()}, TypeError, "transport must be an httpx"),
    ],
)
def test_bad_arguments_are_refused(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        LivePush(URL, **options)


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("ftp://receiver.test", "http:// or https://"),
        ("receiver.test/push", "http:// or https://"),
        ("https://user:pw@receiver.test", "must not hold credentials"),
        ("https://receiver.test/push?feed=x", "query"),
    ],
)
def test_bad_urls_are_refused(url: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LivePush(url)


async def test_an_unknown_feed_or_body_type_is_refused() -> None:
    async with pusher_for(Endpoint(), api_key=API_KEY) as pusher:
        with pytest.raises(ValueError, match="feed must be one of user_redemption, user_activity"):
            await pusher.push("user_redemptions", "{}")
        with pytest.raises(TypeError, match="body must be a dict, str or bytes, got list"):
            await pusher.push("user_activity", [])  # type: ignore[arg-type]
    assert pusher.deliveries == []


def test_repr_shows_no_credential() -> None:
    pusher = LivePush(URL, basic_auth=(USER, PASSWORD), api_key=API_KEY)
    text = repr(pusher)
    assert text == (
        "<LivePush 'https://receiver.test/crowdtwist' auth=basic_auth + api_key new "
        "deliveries=0 pending=0 delivered=0 given_up=0>"
    )
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert not any(secret in text for secret in (PASSWORD, API_KEY, token))


def test_the_defaults_are_crowdtwists_schedule() -> None:
    pusher = LivePush(URL)
    # "five times an hour for up to eight hours": 40 attempts, 12 minutes apart.
    assert (pusher.max_attempts, pusher.interval, pusher.wait_between) == (40, 720.0, 720.0)
    assert pusher.max_attempts * pusher.wait_between == 8 * 3_600


# -- sample_event ---------------------------------------------------------------------

SEGMENTATION_SAMPLE = (
    '{ "user_id": 10, "email_address": "joe@example.com", "third_party_id": "user-123", '
    '"type": "segment", "name": "Users in New York", "subscription_id": 200, '
    '"event": "entered", "trigger": "segment criteria", "date_occurred": "2022-07-27T18:29:18Z" }'
)


def test_seed_0_segmentation_is_the_pages_sample_verbatim() -> None:
    sample = json.loads(SEGMENTATION_SAMPLE)
    event = sample_event("user_segmentation")
    assert event == sample
    assert list(event) == list(sample)


def test_seed_0_gives_the_pages_sample_values() -> None:
    redemption = sample_event("user_redemption")
    assert {k: redemption[k] for k in ("orderId", "orderDate", "rewardId", "rewardGroupId")} == {
        "orderId": 101,
        "orderDate": 1438043367,
        "rewardId": 947563,
        "rewardGroupId": 12345,
    }
    assert (redemption["category"], redemption["title"], redemption["description"]) == (
        "Gift Cards",
        "$20 Gift Card",
        "$20 to use on our site",
    )
    activity = sample_event("user_activity")
    assert {
        k: activity[k]
        for k in ("userActivityId", "activityId", "activityName", "points", "referenceId", "title")
    } == {
        "userActivityId": 12348765,
        "activityId": 198,
        "activityName": "added gender",
        "points": 80,
        "referenceId": 123,
        "title": "Add Your Gender",
    }
    assert json.loads(activity["activityExtraData"]) == {"apporderid": "1"}
    profile = sample_event("user_profile")
    assert {k: profile[k] for k in ("country", "receiveSmsMessages", "postalCode")} == {
        "country": "US",
        "receiveSmsMessages": 0,
        "postalCode": "10001",
    }
    assert profile["redeemablePoints"] == 5200
    assert profile["tierInfo"] == {
        "resetDate": "2017-03-23T20:00:00Z",
        "dateReached": "2017-03-23T19:00:00Z",
    }
    assert sample_event("points_expiration") == {
        "user_id": 348399,
        "email_address": "test@ct.com",
        "third_party_id": "12322",
        "message_date": "2021-05-20T18:25:43.511-04:00",
        "last_qualified_date": "2021-05-20T18:25:43.511-04:00",
        "expiration_date": "2021-05-20T18:25:43.511-04:00",
        "points_expiring": 200,
        "points_expired": 0,
    }


SNAKE = re.compile(r"[a-z]+(_[a-z]+)*")
CAMEL = re.compile(r"[a-z]+([A-Z][a-z]*)*")


@pytest.mark.parametrize("feed", FEEDS)
def test_each_feed_keeps_its_case_and_a_seed_its_body(feed: str) -> None:
    bodies = [sample_event(feed, seed=seed) for seed in range(20)]
    case = SNAKE if feed in ("points_expiration", "user_segmentation") else CAMEL
    for body in bodies:
        assert all(case.fullmatch(key) for key in body), body
        json.dumps(body)  # JSON as it is
    assert bodies[3] == sample_event(feed, seed=3)
    assert len({json.dumps(body, sort_keys=True) for body in bodies}) == 20


def test_order_and_user_activity_ids_are_distinct_per_seed() -> None:
    seeds = range(500)
    assert len({sample_event("user_redemption", seed=s)["orderId"] for s in seeds}) == 500
    assert len({sample_event("user_activity", seed=s)["userActivityId"] for s in seeds}) == 500


def test_fields_override_and_add() -> None:
    body = sample_event("user_redemption", seed=2, orderId="9", notOnThePage=True)
    assert (body["orderId"], body["notOnThePage"]) == ("9", True)
    assert body["rewardId"] == sample_event("user_redemption", seed=2)["rewardId"]


@pytest.mark.parametrize(
    ("feed", "seed", "error", "match"),
    [
        ("redemption", 0, ValueError, "feed must be one of"),
        ("user_activity", -1, ValueError, "seed must be >= 0"),
        ("user_activity", "1", TypeError, "seed must be an int"),
    ],
)
def test_sample_event_refuses(feed: str, seed: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        sample_event(feed, seed=seed)


# -- the fake's own writes --------------------------------------------------------------


def session_on(fake: FakeCrowdTwist) -> ct.Session:
    return ct.Session(api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport())


async def test_the_fakes_redemption_and_credit_push_one_event_each() -> None:
    fake = FakeCrowdTwist(seed=0, now=NOW)
    alice = fake.users[0]
    reward = next(r for r in fake.catalog if str(r["id"]) == COUPON_REWARD)
    endpoint = Endpoint()
    async with pusher_for(endpoint, api_key=API_KEY) as pusher:
        fake.live_push = pusher
        async with session_on(fake) as session:
            result = await session.users.redeem(
                SANDBOX_EMAIL, id_type="email", reward_id=COUPON_REWARD
            )
            await session.users.credit_activity(
                SANDBOX_EMAIL, id_type="email", activity_id=SHARED_A_LINK
            )
        with anyio.fail_after(30):
            await pusher.drain()
    assert [(d.feed, d.state) for d in pusher.deliveries] == [
        ("user_redemption", "delivered"),
        ("user_activity", "delivered"),
    ]
    received = {r.path: r.json for r in endpoint.requests}
    assert len(endpoint.requests) == 2
    redemption = received["/crowdtwist/user_redemption"]
    activity = received["/crowdtwist/user_activity"]
    assert result.order_id is not None
    assert redemption["orderId"] == result.order_id
    assert redemption["orderId"] == alice.redemptions[0]["id"]
    assert redemption == {
        "orderId": result.order_id,
        "orderDate": int(NOW.timestamp()),
        "rewardId": int(COUPON_REWARD),
        "rewardGroupId": reward["group_id"],
        "category": "Coupons",
        "title": reward["title"],
        "description": reward["description"],
        "color": None,
        "size": None,
        "referenceId": reward["reference_id"],
        "rewardExtraData": (
            None if reward["extra_data"] is None else compact(reward["extra_data"]).decode()
        ),
        "translatedTitle": None,
        "translatedDescription": None,
        "quantity": 1,
        "userId": 1001,
        "email": SANDBOX_EMAIL,
        "thirdPartyId": alice.third_party_id,
    }
    assert activity == {
        "userActivityId": alice.activities[0]["id"],
        "activityId": int(SHARED_A_LINK),
        "activityName": "Shared a link",
        "points": 25,
        "notes": None,
        "referenceId": None,
        "activityExtraData": None,
        "thirdPartyId": alice.third_party_id,
        "title": "Shared a link",
        "description": "Shared a link",
        "translatedTitle": None,
        "translatedDescription": None,
        "userId": 1001,
        "email": SANDBOX_EMAIL,
    }


async def test_a_refused_write_pushes_nothing() -> None:
    fake = FakeCrowdTwist(seed=0, now=NOW)
    carol = next(u for u in fake.users if u.points == 0)
    endpoint = Endpoint()
    async with pusher_for(endpoint, api_key=API_KEY) as pusher:
        fake.live_push = pusher
        async with session_on(fake) as session:
            with pytest.raises(ct.RefusedError) as refused:
                await session.users.redeem(carol.id, reward_id=COUPON_REWARD)
            with pytest.raises(ct.BadRequestError):
                await session.users.credit_activity(carol.id, activity_id="999999")
        await pusher.drain()
    assert refused.value.error == "insufficient_points"
    assert pusher.deliveries == []
    assert endpoint.requests == []
    assert [r.status for r in fake.requests] == [403, 400]


async def test_a_push_neither_holds_up_nor_fails_the_writes_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeCrowdTwist(seed=0, now=NOW)
    stuck = anyio.Event()  # never set

    async def hold(_: Received) -> None:
        await stuck.wait()

    endpoint = Endpoint(hold=hold)
    with anyio.fail_after(30):
        async with pusher_for(endpoint, api_key=API_KEY) as pusher:
            fake.live_push = pusher
            async with session_on(fake) as session:
                # Answered while the receiver sits on the push.
                await session.users.redeem(SANDBOX_EMAIL, id_type="email", reward_id=COUPON_REWARD)
                await until(lambda: len(endpoint.requests) == 1)
    [delivery] = pusher.deliveries
    assert delivery.state == "abandoned"
    # Closed now: the next write is answered, its push dropped with a warning.
    with caplog.at_level(logging.WARNING, logger="crowdtwist_async.testing.push"):
        async with session_on(fake) as session:
            credit = await session.users.credit_activity(
                SANDBOX_EMAIL, id_type="email", activity_id=SHARED_A_LINK
            )
    assert credit.awarded is True
    assert len(pusher.deliveries) == 1
    assert [r.getMessage() for r in caplog.records] == [
        "a user_activity push was dropped: the LivePush is closed"
    ]


def test_live_push_must_be_a_live_push() -> None:
    with pytest.raises(TypeError, match="live_push must be a LivePush or None, got str"):
        FakeCrowdTwist(live_push="http://receiver.test")  # type: ignore[arg-type]
    fake = FakeCrowdTwist()
    assert fake.live_push is None
    with pytest.raises(TypeError, match="live_push must be a LivePush"):
        fake.live_push = object()  # type: ignore[assignment]


# -- on real sockets ----------------------------------------------------------------------


@pytest.mark.slow
async def test_a_served_fakes_redemption_reaches_a_uvicorn_receiver_after_a_timeout() -> None:
    """Both on loopback ports: the fake answers from its server thread and
    pushes across to the pusher's loop; the receiver sits on the first POST
    past the timeout (a failed attempt), then takes the retry."""
    fake = FakeCrowdTwist(seed=0, now=NOW)
    arrivals: list[anyio.Event] = []

    async def hold(request: Received) -> None:
        # Runs on the server thread's loop: its events are made there.
        arrivals.append(anyio.Event())
        if len(arrivals) == 1:
            with anyio.move_on_after(20):
                await arrivals[0].wait()
        else:
            arrivals[0].set()

    endpoint = Endpoint(hold=hold)
    with (
        serve_in_thread(endpoint, host="127.0.0.1", port=0, allow_remote=False) as url,
        fake.serve() as fake_url,
    ):
        async with LivePush(
            url, basic_auth=(USER, PASSWORD), timeout=1.0, time_factor=7_200
        ) as pusher:
            fake.live_push = pusher
            async with ct.Session(api_key=fake.api_key, base_url=fake_url) as session:
                result = await session.users.redeem(
                    SANDBOX_EMAIL, id_type="email", reward_id=COUPON_REWARD
                )
            with anyio.fail_after(60):
                await until(lambda: len(pusher.deliveries) == 1)
                [delivery] = pusher.deliveries
                assert await delivery.wait() == "delivered"
    assert [(a.number, a.status, a.error) for a in delivery.attempts] == [
        (1, None, "ReadTimeout"),
        (2, 200, None),
    ]
    assert [r.path for r in endpoint.requests] == ["/user_redemption"] * 2
    assert {r.body for r in endpoint.requests} == {delivery.body}
    assert endpoint.requests[1].json["orderId"] == result.order_id
    assert isinstance(delivery, Delivery)
