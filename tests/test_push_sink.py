"""`push.RedisStreamSink` and `push.event_from_entry` against a real redis-server.

asyncio only (redis-py's asyncio client), except where trio is the point (the
sink refuses it). Each test has its own redis-server on a free loopback port
(conftest's `redis_server`, and `store`, its client decoding to str). The
dedupe is shown by counts: the same delivery five times is one entry; two
sinks on two connections, as two receivers behind a load balancer, racing
the same twenty deliveries add each once.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import traceback
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import httpx
import pytest
import redis
import redis.asyncio
import redis.exceptions

import crowdtwist_async
from crowdtwist_async.push import (
    FEEDS,
    INSTALL_HINT,
    PushEvent,
    PushSinkError,
    RedisStreamSink,
    event_body,
    event_from_entry,
    parse_event,
    receiver,
)

from .redis_support import RedisServer, free_port

STREAM = "crowdtwist:events"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def body(feed: str, n: int) -> dict[str, Any]:
    """A delivery's body for *feed*, distinct for each *n*, with a field no model knows."""
    bodies: dict[str, dict[str, Any]] = {
        "user_redemption": {
            "orderId": 1000 + n,
            "orderDate": 1438043367 + n,
            "rewardId": "42",  # numbers as strings, as CrowdTwist may send them
            "rewardGroupId": 7,
            "title": "Free coffee",
            "description": "One small coffee",
            "rewardExtraData": {"sku": f"C-{n}"},
        },
        "user_activity": {
            "userActivityId": str(5000 + n),
            "activityId": 12,
            "activityName": "Check-in",
            "points": -80 + n,
            "title": "Checked in",
            "notes": "",  # "" as no value
        },
        "user_profile": {
            "country": "US",
            "receiveSmsMessages": "0",
            "redeemablePoints": 5200 + n,
            "tierInfo": {"dateReached": "2017-03-23T19:00:00Z"},
        },
        "points_expiration": {
            "user_id": 300 + n,
            "email_address": "member@example.com",
            "expiration_date": "2021-05-20T18:25:43.511-04:00",
            "points_expiring": 200,
        },
        "user_segmentation": {
            "user_id": 400 + n,
            "type": "segment",
            "subscription_id": 200,
            "event": "entered",
            "date_occurred": "2024-01-02T03:04:05Z",
        },
    }
    return {**bodies[feed], "memberTier": f"gold-{n}"}


def event(feed: str = "user_redemption", n: int = 0) -> PushEvent:
    return parse_event(feed, json.dumps(body(feed, n)))


def seen_key(delivery_key: str, stream: str = STREAM) -> str:
    return f"{stream}:seen:{delivery_key}"


async def entries(
    store: redis.asyncio.Redis, stream: str = STREAM
) -> list[tuple[str, dict[str, str]]]:
    """The stream's entries, oldest first, read by the str-decoding `store`."""
    read: Any = await store.xrange(stream)
    return [(entry_id, dict(fields)) for entry_id, fields in read]


@pytest.fixture
async def sink(redis_server: RedisServer) -> AsyncIterator[RedisStreamSink]:
    async with RedisStreamSink(redis_server.url, stream=STREAM) as made:
        yield made


# -- once per delivery ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_same_delivery_five_times_is_one_entry(
    sink: RedisStreamSink, store: redis.asyncio.Redis
) -> None:
    delivered = event("user_redemption", 1)
    before = datetime.now(timezone.utc)
    added = [await sink(delivered) for _ in range(5)]
    after = datetime.now(timezone.utc)
    assert added == [True, False, False, False, False]
    read = await entries(store)
    assert len(read) == 1
    entry_id, fields = read[0]
    assert set(fields) == {"feed", "delivery_key", "body", "received_at"}
    assert fields["feed"] == "user_redemption"
    assert fields["delivery_key"] == delivered.delivery_key == "user_redemption:1001"
    assert fields["body"] == event_body(delivered)
    received = datetime.fromisoformat(fields["received_at"])
    assert received.utcoffset() == timedelta(0)
    assert before <= received <= after
    # The seen key names the entry it stands for.
    assert await store.get(seen_key(delivered.delivery_key)) == entry_id


@pytest.mark.slow
@pytest.mark.anyio
async def test_two_sinks_racing_the_same_deliveries_add_each_once(
    redis_server: RedisServer, store: redis.asyncio.Redis
) -> None:
    deliveries = [event(FEEDS[n % len(FEEDS)], n) for n in range(20)]
    assert len({delivered.delivery_key for delivered in deliveries}) == 20
    results: dict[str, list[bool]] = {delivered.delivery_key: [] for delivered in deliveries}
    name = f"sink-{uuid.uuid4().hex}"

    async def deliver(sink: RedisStreamSink, delivered: PushEvent) -> None:
        results[delivered.delivery_key].append(await sink(delivered))

    # Two clients, two connections: two receivers behind a load balancer.
    async with (
        RedisStreamSink(f"{redis_server.url}?client_name={name}", stream=STREAM) as first,
        RedisStreamSink(f"{redis_server.url}?client_name={name}", stream=STREAM) as second,
    ):
        async with anyio.create_task_group() as group:
            for delivered in deliveries:
                group.start_soon(deliver, first, delivered)
                group.start_soon(deliver, second, delivered)
        clients = await store.client_list()
        assert sum(client["name"] == name for client in clients) >= 2
    assert {key: sorted(added) for key, added in results.items()} == {
        delivered.delivery_key: [False, True] for delivered in deliveries
    }
    read = await entries(store)
    assert len(read) == 20
    assert sorted(fields["delivery_key"] for _, fields in read) == sorted(results)


# -- the entry and back -----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("decode_responses", [True, False], ids=["str", "bytes"])
async def test_each_feed_comes_back_from_its_entry_as_the_same_event(
    sink: RedisStreamSink, redis_server: RedisServer, decode_responses: bool
) -> None:
    sent = [event(feed, 3) for feed in FEEDS]
    for delivered in sent:
        assert await sink(delivered) is True
    reader = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=decode_responses)
    try:
        stored: Any = await reader.xrange(STREAM)
    finally:
        await reader.aclose()
    assert len(stored) == len(FEEDS)
    for delivered, (_, fields) in zip(sent, stored, strict=True):
        assert all(isinstance(name, str if decode_responses else bytes) for name in fields)
        back = event_from_entry(fields)
        assert type(back) is type(delivered)
        assert back == delivered
        assert back.delivery_key == delivered.delivery_key
        assert back.unknown_fields == delivered.unknown_fields == {"memberTier": "gold-3"}


def test_an_entry_missing_a_field_or_with_another_key_is_refused() -> None:
    delivered = event("user_activity", 9)
    fields: dict[str, bytes | str] = {
        "feed": "user_activity",
        "delivery_key": delivered.delivery_key,
        "body": event_body(delivered),
    }
    assert event_from_entry(fields) == delivered
    for name in ("feed", "delivery_key", "body"):
        partial = {key: value for key, value in fields.items() if key != name}
        with pytest.raises(ValueError, match=r"^not a RedisStreamSink entry") as missing:
            event_from_entry(partial)
        assert str(missing.value) == (f"not a RedisStreamSink entry: missing field(s) {name!r}")
    other = {**fields, "delivery_key": b"user_activity:1"}
    with pytest.raises(ValueError, match=r"^field 'delivery_key' is") as mismatch:
        event_from_entry(other)
    assert str(mismatch.value) == (
        "field 'delivery_key' is 'user_activity:1' but the body's event has 'user_activity:5009'"
    )
    with pytest.raises(ValueError, match="UTF-8") as undecodable:
        event_from_entry({b"feed": b"\xff", b"delivery_key": b"k", b"body": b"{}"})
    assert str(undecodable.value) == "field 'feed' is not UTF-8"


# -- the seen key -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("dedupe_ttl", [28_800.0, 86_400.0, 172_800.5])
async def test_the_seen_key_lives_dedupe_ttl(
    redis_server: RedisServer, store: redis.asyncio.Redis, dedupe_ttl: float
) -> None:
    delivered = event("user_profile", 1)
    async with RedisStreamSink(redis_server.url, stream=STREAM, dedupe_ttl=dedupe_ttl) as sink:
        assert sink.dedupe_ttl == dedupe_ttl
        assert await sink(delivered) is True
    ttl = await store.pttl(seen_key(delivered.delivery_key))
    # Set just now, so within a minute of the whole TTL, never past it.
    assert dedupe_ttl * 1000 - 60_000 < ttl <= dedupe_ttl * 1000


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_failed_xadd_marks_nothing_seen(
    sink: RedisStreamSink, store: redis.asyncio.Redis
) -> None:
    delivered = event("user_segmentation", 1)
    await store.set(STREAM, "not a stream")  # XADD then fails with WRONGTYPE
    with pytest.raises(PushSinkError) as refused:
        await sink(delivered)
    assert str(refused.value).startswith("the Live Push sink's Redis failed: ResponseError: ")
    assert "WRONGTYPE" in str(refused.value)
    assert str(refused.value).endswith(f"(stream {STREAM!r}); the event was not marked seen")
    assert refused.value.stream == STREAM
    assert await store.exists(seen_key(delivered.delivery_key)) == 0
    # Once the key is a stream's again, the retried delivery is added.
    await store.delete(STREAM)
    assert await sink(delivered) is True
    assert await store.xlen(STREAM) == 1
    assert await store.exists(seen_key(delivered.delivery_key)) == 1


@pytest.mark.slow
@pytest.mark.anyio
async def test_under_the_receiver_a_redelivery_is_200_and_a_failed_add_503_then_retried(
    sink: RedisStreamSink, store: redis.asyncio.Redis
) -> None:
    delivery = json.dumps(body("user_activity", 1))
    app = receiver(sink, api_key="push-key")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:

        async def post(text: str) -> int:
            response = await client.post(
                "/user_activity", content=text, headers={"x-api-key": "push-key"}
            )
            return response.status_code

        assert [await post(delivery) for _ in range(5)] == [200] * 5
        assert await store.xlen(STREAM) == 1
        # A delivery Redis cannot take is a 503, not seen: CrowdTwist's retry adds it.
        other = json.dumps(body("user_activity", 2))
        await store.rename(STREAM, "kept")
        await store.set(STREAM, "not a stream")
        assert await post(other) == 503
        assert await store.exists(seen_key("user_activity:5002")) == 0
        await store.delete(STREAM)
        assert [await post(other) for _ in range(2)] == [200, 200]
    read = await entries(store)
    assert [fields["delivery_key"] for _, fields in read] == ["user_activity:5002"]


# -- Redis down -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.anyio
async def test_redis_down_is_a_push_sink_error_with_the_password_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password = "s3cr@t pass"
    url = f"redis://:s3cr%40t%20pass@127.0.0.1:{free_port()}/0"  # nothing listens there
    delivered = event()
    async with RedisStreamSink(url, stream=STREAM, timeout=2.0) as sink:
        with pytest.raises(PushSinkError) as refused:
            await sink(delivered)

        # Should a redis-py error ever quote the URL, the password is masked.
        async def echoing(*_: object) -> int:
            raise redis.exceptions.ConnectionError(f"cannot reach {url} ({password})")

        monkeypatch.setattr(redis.asyncio.Redis, "evalsha", echoing)
        with pytest.raises(PushSinkError) as echoed:
            await sink(delivered)
    assert str(refused.value).startswith("the Live Push sink's Redis failed: ConnectionError: ")
    assert str(echoed.value) == (
        "the Live Push sink's Redis failed: ConnectionError: cannot reach "
        f"redis://:***@127.0.0.1:{url.rsplit(':', 1)[1]} (***) "
        f"(stream {STREAM!r}); the event was not marked seen"
    )
    for caught in (refused.value, echoed.value):
        assert caught.stream == STREAM
        assert caught.__context__ is None
        assert caught.__cause__ is None
        shown = "".join(traceback.format_exception(caught)) + repr(caught)
        assert "s3cr" not in shown


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_redis_that_stops_answering_is_a_push_sink_error_after_the_timeout(
    redis_server: RedisServer,
) -> None:
    async with RedisStreamSink(redis_server.url, stream=STREAM, timeout=0.5) as sink:
        assert await sink(event(n=1)) is True
        redis_server.pause()  # connections stay open, nothing answers
        try:
            with anyio.fail_after(30):  # far past the sink's own timeout
                with pytest.raises(PushSinkError) as stalled:
                    await sink(event(n=2))
        finally:
            redis_server.resume()
    assert str(stalled.value) == (
        "the Live Push sink's Redis did not answer within 0.5 s "
        f"(stream {STREAM!r}); the event was not marked seen"
    )


# -- maxlen -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.anyio
async def test_maxlen_trims_the_oldest_entries_to_about_maxlen(
    redis_server: RedisServer, store: redis.asyncio.Redis
) -> None:
    # MAXLEN ~ removes whole nodes only: up to a node's entries stay past maxlen.
    config: Any = await store.config_get("stream-node-max-entries")
    node = int(config["stream-node-max-entries"])
    count, maxlen = 3 * node, 10
    async with (
        RedisStreamSink(redis_server.url, stream="trimmed", maxlen=maxlen) as trimmed,
        RedisStreamSink(redis_server.url, stream="kept") as kept,
    ):
        assert trimmed.maxlen == maxlen
        assert kept.maxlen is None
        for n in range(count):
            assert await trimmed(event(n=n)) is True
            assert await kept(event(n=n)) is True
    assert await store.xlen("kept") == count
    length = await store.xlen("trimmed")
    assert maxlen <= length <= maxlen + node
    newest = (await entries(store, "trimmed"))[-1]
    assert newest[1]["delivery_key"] == f"user_redemption:{1000 + count - 1}"
    # Trimmed entries stay seen: their deliveries are not added again.
    async with RedisStreamSink(redis_server.url, stream="trimmed", maxlen=maxlen) as again:
        assert await again(event(n=0)) is False


# -- lifecycle --------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_client_passed_in_is_left_open_and_one_made_from_a_url_is_closed(
    redis_server: RedisServer, store: redis.asyncio.Redis
) -> None:
    async with RedisStreamSink(store, stream=STREAM) as given:
        assert await given(event(n=1)) is True
    assert given.closed
    assert await store.ping() is True
    assert await store.xlen(STREAM) == 1
    with pytest.raises(RuntimeError, match=r"^this RedisStreamSink is closed$"):
        await given(event(n=2))

    name = f"sink-{uuid.uuid4().hex}"
    made = RedisStreamSink(f"{redis_server.url}?client_name={name}", stream=STREAM)
    assert await made(event(n=3)) is True
    assert [c["name"] for c in await store.client_list()].count(name) == 1
    await made.aclose()
    await made.aclose()  # again: nothing
    # The server drops a closed connection from its list when it reads the
    # close, which a loaded machine may take a moment to get to.
    with anyio.fail_after(10):
        while [c["name"] for c in await store.client_list()].count(name):
            await anyio.sleep(0.01)
    with pytest.raises(RuntimeError, match=r"^this RedisStreamSink is closed$"):
        async with made:
            pass


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_under_trio_it_is_refused(redis_server: RedisServer) -> None:
    with pytest.raises(RuntimeError) as refused:
        RedisStreamSink(redis_server.url, stream=STREAM)
    assert str(refused.value) == (
        "RedisStreamSink needs asyncio (redis-py's asyncio client), not trio"
    )


# -- arguments, repr, import ------------------------------------------------------


def test_a_dedupe_ttl_shorter_than_the_retry_window_is_refused() -> None:
    with pytest.raises(ValueError, match="retry window") as short:
        RedisStreamSink("redis://127.0.0.1:6379/0", stream=STREAM, dedupe_ttl=28_799.0)
    assert str(short.value) == (
        "dedupe_ttl must be at least CrowdTwist's retry window, 8 hours (28800 s), "
        "or a retried delivery could be added twice; got 28799.0"
    )
    assert RedisStreamSink("redis://127.0.0.1:6379/0", stream=STREAM).dedupe_ttl == 86_400.0
    exact = RedisStreamSink("redis://127.0.0.1:6379/0", stream=STREAM, dedupe_ttl=28_800)
    assert exact.dedupe_ttl == 28_800.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"stream": ""}, ValueError, "stream must not be empty: name it, e.g. 'crowdtwist:events'"),
        ({"stream": b"events"}, TypeError, "stream must be a str, got bytes"),
        (
            {"dedupe_ttl": float("inf")},
            ValueError,
            "dedupe_ttl must be positive and finite, got inf",
        ),
        ({"dedupe_ttl": True}, TypeError, "dedupe_ttl must be a number of seconds, got True"),
        ({"dedupe_ttl": 4e8}, ValueError, "dedupe_ttl must be at most ten years, got 400000000.0"),
        ({"maxlen": 0}, ValueError, "maxlen must be at least 1, got 0"),
        ({"maxlen": True}, TypeError, "maxlen must be an int or None, got bool"),
        ({"maxlen": 10.0}, TypeError, "maxlen must be an int or None, got float"),
        ({"timeout": 0}, ValueError, "timeout must be positive and finite, got 0"),
    ],
)
def test_arguments_are_checked(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"stream": STREAM, **kwargs}
    with pytest.raises(error) as refused:
        RedisStreamSink("redis://127.0.0.1:6379/0", **arguments)
    assert str(refused.value) == message


def test_only_a_url_or_an_asyncio_client_is_taken() -> None:
    with pytest.raises(TypeError) as caught:
        RedisStreamSink(redis.Redis(), stream=STREAM)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "RedisStreamSink needs a Redis URL or a redis.asyncio.Redis client, got redis.client.Redis"
    )
    with pytest.raises(ValueError, match="not a usable Redis URL") as refused:
        RedisStreamSink("http://user:s3cret-pw@127.0.0.1/0", stream=STREAM)
    assert str(refused.value) == (
        "not a usable Redis URL (http://user:***@127.0.0.1/0): Redis URL must specify one "
        "of the following schemes (redis://, rediss://, unix://)"
    )
    assert refused.value.__context__ is None


def test_repr_masks_the_password() -> None:
    sink = RedisStreamSink(
        "redis://alice:s3cr%40t@127.0.0.1:6379/0?password=other-s3cret", stream=STREAM
    )
    assert repr(sink) == (
        "<RedisStreamSink stream='crowdtwist:events' dedupe_ttl=86400s maxlen=None "
        "timeout=5s redis=redis://alice:***@127.0.0.1:6379/0?password=***>"
    )
    given = RedisStreamSink(
        redis.asyncio.Redis(password="s3cret"), stream="s", dedupe_ttl=30_000, maxlen=500
    )
    assert repr(given) == (
        "<RedisStreamSink stream='s' dedupe_ttl=30000s maxlen=500 timeout=5s redis=<Redis client>>"
    )


def test_without_redis_py_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    monkeypatch.delitem(sys.modules, "crowdtwist_async._push_sink")
    # The package's attribute too, so later imports get the original module back.
    monkeypatch.setattr(crowdtwist_async, "_push_sink", crowdtwist_async._push_sink)
    # The module itself imports without redis-py: only making a sink needs it.
    module = importlib.import_module("crowdtwist_async._push_sink")
    assert module.event_from_entry  # still there, for consumers
    with pytest.raises(ModuleNotFoundError) as info:
        module.RedisStreamSink("redis://127.0.0.1:6379/0", stream=STREAM)
    assert (
        str(info.value)
        == INSTALL_HINT
        == (
            'crowdtwist_async.push.RedisStreamSink needs redis-py: pip install "crowdtwist-async[redis]"'
        )
    )
    assert info.value.name == "redis"


@pytest.mark.slow
def test_importing_the_module_does_not_import_redis() -> None:
    code = (
        "import sys, crowdtwist_async._push_sink\n"
        "assert 'redis' not in sys.modules, 'redis was imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
