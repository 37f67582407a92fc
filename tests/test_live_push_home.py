"""The event-consumer home end to end: Live Push -> receiver -> Redis Stream -> consumers.

The kill test: `examples/live_push.py receive` (uvicorn, a RedisStreamSink)
and two `examples/event_consumer.py --redis` processes, on a real
redis-server and a FakeCrowdTwist served on loopback; a `LivePush` in this
process pushes 120 distinct events of every feed, a tenth of them twice.
Mid-run the receiver is SIGKILLed (deliveries then fail and are retried on
CrowdTwist's schedule, compressed) and started again on the same port, and
one consumer is SIGKILLed while it holds entries. At the end: every distinct
delivery is in the stream exactly once, every entry is settled exactly once
(a result or a dead letter, never both, nothing pending), nothing was given
up.

asyncio only (redis-py's asyncio client); Debian's redis-server on a free
port (`tests/redis_support.py`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis.asyncio
import redis.exceptions

import crowdtwist_async as ct
from crowdtwist_async import push
from crowdtwist_async.testing import FakeCrowdTwist, LivePush, sample_event
from examples import live_push

from .redis_support import Children, RedisServer, free_port, until_logged

# Every test here needs a redis-server; the kill test starts the examples' processes.
pytestmark = [pytest.mark.slow, pytest.mark.anyio]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SECRET = "sk-live-push-home-Tq93Lm"
USER, PASSWORD = "crowdtwist", "pw-live-push-Vb27Xc"
STREAM = "crowdtwist:events"
GROUP = "crowdtwist"
RESULTS = f"{STREAM}:results"
DEAD_LETTERS = f"{STREAM}:dead-letters"
CONSUMERS = ["consumer-0", "consumer-1"]
VICTIM = CONSUMERS[0]
EVENTS = 120
KNOWN = [1001, 1002, 1003, 1004]  # the sample program's members (CrowdTwist ids)
OTHER_FEEDS = ["user_profile", "points_expiration", "user_segmentation"]
#: CrowdTwist retries every 720 s; played 1440 times faster: every half second,
#: 40 attempts over 20 s, far longer than the receiver is down.
TIME_FACTOR = 1440.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def planned_events() -> list[tuple[str, dict[str, Any]]]:
    """120 distinct bodies: half redemptions, a quarter activities, the rest the
    other feeds; one redemption or activity in ten names an unknown member."""
    events: list[tuple[str, dict[str, Any]]] = []
    for i in range(EVENTS):
        seed = i + 1
        member = 990_000 + i if i % 10 == 2 else KNOWN[i % len(KNOWN)]
        if i % 4 in (0, 1):
            events.append(
                ("user_redemption", sample_event("user_redemption", seed=seed, userId=member))
            )
        elif i % 4 == 2:
            events.append(
                ("user_activity", sample_event("user_activity", seed=seed, userId=member))
            )
        else:
            feed = OTHER_FEEDS[i % len(OTHER_FEEDS)]
            events.append((feed, sample_event(feed, seed=seed)))
    return events


def delivery_key(feed: str, body: dict[str, Any]) -> str:
    return push.parse_event(feed, json.dumps(body)).delivery_key


def member_state(fake: FakeCrowdTwist, user_id: int) -> tuple[int, list[str]]:
    """The member's redeemable points and usable coupon codes, as the fake has them."""
    member = next(user for user in fake.users if user.id == user_id)
    now = int(fake.now.timestamp())
    codes = [c.record["code"] for c in member.coupons if not c.used and not c.is_expired(now)]
    return member.points, codes


class Receivers(Children):
    """The receiver's processes; credentials in the environment, never on the command line."""

    def env(self) -> dict[str, str]:
        return {**super().env(), live_push.BASIC_AUTH_ENV: f"{USER}:{PASSWORD}"}


async def start_receiver(receivers: Receivers, name: str, redis_url: str, port: int) -> None:
    await receivers.spawn(
        name,
        *("receive", "--redis", redis_url, "--stream", STREAM),
        *("--host", "127.0.0.1", "--port", str(port)),
    )
    await until_logged(receivers, name, "Uvicorn running on")


async def start_consumers(
    consumers: Children, store: redis.asyncio.Redis, redis_url: str, base_url: str
) -> None:
    for name in CONSUMERS:
        await consumers.spawn(
            name,
            *("--redis", redis_url, "--stream", STREAM, "--group", GROUP, "--consumer", name),
            *("--base-url", base_url, "--concurrency", "4", "--grace", "5", "--claim-idle", "1"),
            *("--rate", "1000", "--rate-key", "test:live-push-rate"),
        )
    while True:
        try:
            joined = await store.xinfo_consumers(STREAM, GROUP)
        except redis.exceptions.ResponseError:  # no group yet
            joined = []
        if {c["name"] for c in joined} == set(CONSUMERS):
            return
        await anyio.sleep(0.05)


@dataclass
class Kills:
    receiver: int = 0
    consumer: int = 0
    victim_held: int = 0  # entries the victim held when it was killed
    stop: bool = False  # all settled: the victim's chance has passed


async def kill_victim_while_busy(
    consumers: Children, store: redis.asyncio.Redis, kills: Kills
) -> None:
    """SIGKILL the victim once it has settled some entries and holds some."""
    while not kills.stop:
        records: dict[str, str] = await store.hgetall(RESULTS)  # type: ignore[assignment]
        settled = sum(json.loads(r)["consumer"] == VICTIM for r in records.values())
        pending: Any = await store.xpending(STREAM, GROUP)
        held = {c["name"]: int(c["pending"]) for c in pending["consumers"]}
        if settled >= 5 and held.get(VICTIM, 0) > 0:
            break
        await anyio.sleep(0.02)
    else:
        return
    process = consumers.processes[VICTIM]
    process.kill()
    await process.wait()
    kills.consumer += 1
    pending = await store.xpending(STREAM, GROUP)
    kills.victim_held = sum(int(c["pending"]) for c in pending["consumers"] if c["name"] == VICTIM)


async def push_through_a_receiver_kill(
    pusher: LivePush, receivers: Receivers, redis_url: str, port: int, kills: Kills
) -> list[tuple[str, dict[str, Any]]]:
    """Push every planned event, a tenth twice, killing and restarting the receiver
    between; what was pushed, in order."""
    events = planned_events()
    pushed = [*events, *events[::10]]  # the duplicates last, one batch of their own
    for feed, body in pushed[:40]:
        await pusher.push(feed, body)
    while len(pusher.delivered) < 30:
        await anyio.sleep(0.01)
    # Killed while a batch is on its way: some in flight, some not sent yet.
    for feed, body in pushed[40:80]:
        await pusher.push(feed, body)
    receiver = receivers.processes["receiver-1"]
    receiver.kill()
    await receiver.wait()
    kills.receiver += 1
    # Pushed while nothing listens: refused, retried.
    for feed, body in pushed[80:100]:
        await pusher.push(feed, body)
    await anyio.sleep(0.5)
    await start_receiver(receivers, "receiver-2", redis_url, port)
    for feed, body in pushed[100:]:
        await pusher.push(feed, body)
    await pusher.drain()
    return pushed


async def until_settled(store: redis.asyncio.Redis, entries: int) -> None:
    while True:
        pending: Any = await store.xpending(STREAM, GROUP)
        settled = await store.hlen(RESULTS) + await store.xlen(DEAD_LETTERS)
        if settled >= entries and pending["pending"] == 0:
            return
        await anyio.sleep(0.05)


@dataclass
class Run:
    """What the kill test pushed and saw."""

    pusher: LivePush
    pushed: list[tuple[str, dict[str, Any]]]
    distinct: dict[str, tuple[str, dict[str, Any]]]  # delivery_key -> (feed, body)
    kills: Kills


async def run_the_home(
    store: redis.asyncio.Redis, redis_url: str, base_url: str, tmp_path: Path
) -> tuple[Run, Receivers, Children]:
    """Start it all, push through the kills, wait until every entry is settled, stop it."""
    port = free_port()
    receivers = Receivers(tmp_path, EXAMPLES / "live_push.py", SECRET)
    consumers = Children(tmp_path, EXAMPLES / "event_consumer.py", SECRET)
    kills = Kills()
    try:
        await start_receiver(receivers, "receiver-1", redis_url, port)
        await start_consumers(consumers, store, redis_url, base_url)
        url = f"http://127.0.0.1:{port}"
        async with (
            anyio.create_task_group() as tasks,
            LivePush(url, basic_auth=(USER, PASSWORD), time_factor=TIME_FACTOR) as pusher,
        ):
            tasks.start_soon(kill_victim_while_busy, consumers, store, kills)
            pushed = await push_through_a_receiver_kill(pusher, receivers, redis_url, port, kills)
            distinct = {delivery_key(feed, body): (feed, body) for feed, body in pushed}
            await until_settled(store, len(distinct))
            kills.stop = True
        # Both stop cleanly on SIGTERM.
        for children, name in ((consumers, CONSUMERS[1]), (receivers, "receiver-2")):
            children.processes[name].terminate()
            assert await children.processes[name].wait() == 0, children.stderr(name)
    finally:
        await consumers.aclose()
        await receivers.aclose()
    return Run(pusher, pushed, distinct, kills), receivers, consumers


def check_deliveries(run: Run) -> None:
    """Every delivery delivered, some only after retries, none given up; both kills made."""
    assert len(run.pushed) == EVENTS + EVENTS // 10
    assert len(run.distinct) == EVENTS
    assert run.pusher.given_up == []
    assert len(run.pusher.delivered) == len(run.pushed)
    assert any(a.error == "ConnectError" for a in run.pusher.attempts)
    assert any(a.number > 1 for a in run.pusher.attempts)
    assert (run.kills.receiver, run.kills.consumer) == (1, 1)
    assert run.kills.victim_held > 0


def check_settled_once(
    entries: list[tuple[str, dict[str, str]]],
    results: dict[str, dict[str, Any]],
    dead_letters: list[dict[str, str]],
    run: Run,
) -> None:
    """Each distinct delivery one entry; each entry one result or one dead letter."""
    per_key = Counter(fields["delivery_key"] for _, fields in entries)
    assert set(per_key) == set(run.distinct)
    assert set(per_key.values()) == {1}
    dead_ids = [fields["event_id"] for fields in dead_letters]
    assert len(dead_ids) == len(set(dead_ids))
    assert not set(results) & set(dead_ids)
    assert set(results) | set(dead_ids) == {entry_id for entry_id, _ in entries}
    assert len(results) + len(dead_ids) == len(entries) == EVENTS


def check_result(fake: FakeCrowdTwist, result: dict[str, Any], feed: str, body: Any) -> None:
    """What the entry of *body* read: exactly the fake's member as it is."""
    assert result["feed"] == feed
    if feed not in PUSH_FEEDS:
        assert (result["points"], result["coupons"]) == (None, None)
        return
    points, codes = member_state(fake, body["userId"])
    assert result["user_id"] == body["userId"]
    assert result["points"]["redeemable"] == points
    assert result["coupons"] == (codes if feed == "user_redemption" else None)


def check_dead_letters(dead_letters: list[dict[str, str]], run: Run) -> None:
    """The entries naming unknown members, and only they, dead-lettered."""
    unknown = {
        key
        for key, (feed, body) in run.distinct.items()
        if feed in PUSH_FEEDS and body["userId"] not in KNOWN
    }
    assert len(unknown) == 12
    assert {fields["delivery_key"] for fields in dead_letters} == unknown
    assert {(fields["error"], fields["consumer"]) for fields in dead_letters} <= {
        ("NotFoundError", name) for name in CONSUMERS
    }


def check_logs(receivers: Receivers, consumers: Children, run: Run) -> None:
    """The survivor took over what the victim held; no secret in any output."""
    stderr = consumers.stderr(CONSUMERS[1])
    taken_over = sum(int(n) for n in re.findall(r"took over (\d+) abandoned events", stderr))
    assert taken_over >= run.kills.victim_held
    for name in ("receiver-1", "receiver-2"):
        assert PASSWORD not in receivers.stderr(name)
    for name in CONSUMERS:
        assert SECRET not in consumers.stderr(name)


async def test_receiver_and_a_consumer_killed_every_delivery_in_once_and_settled_once(
    redis_server: RedisServer, store: redis.asyncio.Redis, tmp_path: Path
) -> None:
    # 50 ms a call: the consumers always hold entries in flight.
    fake = FakeCrowdTwist(seed=0, api_key=SECRET, latency=0.05)
    with fake.serve() as base_url, anyio.fail_after(180):  # a deadlock guard only
        run, receivers, consumers = await run_the_home(store, redis_server.url, base_url, tmp_path)
    entries: Any = await store.xrange(STREAM)
    raw: Any = await store.hgetall(RESULTS)
    results = {k: json.loads(v) for k, v in raw.items()}
    dead: Any = await store.xrange(DEAD_LETTERS)
    dead_letters = [fields for _, fields in dead]
    attempts = run.pusher.attempts
    print(
        f"\nlive push home: deliveries {len(run.pushed)} "
        f"({len(run.pushed) - len(run.distinct)} duplicates), attempts {len(attempts)}, "
        f"retried {sum(a.number > 1 for a in attempts)}, "
        f"failed attempts {sum(not a.ok for a in attempts)}, given up {len(run.pusher.given_up)}; "
        f"stream entries {len(entries)}; results {len(results)}, dead letters {len(dead_letters)}; "
        f"kills: receiver {run.kills.receiver}, consumer {run.kills.consumer} "
        f"(holding {run.kills.victim_held} entries)"
    )

    check_deliveries(run)
    check_settled_once(entries, results, dead_letters, run)
    assert (await store.xpending(STREAM, GROUP))["pending"] == 0
    key_of = {entry_id: fields["delivery_key"] for entry_id, fields in entries}
    for entry_id, result in results.items():
        assert result["delivery_key"] == key_of[entry_id]
        check_result(fake, result, *run.distinct[key_of[entry_id]])
    check_dead_letters(dead_letters, run)
    check_logs(receivers, consumers, run)


PUSH_FEEDS = ("user_redemption", "user_activity")


# -- the consumer's handling of each kind of entry, in process ---------------------------


def event(feed: str, seed: int, **fields: Any) -> push.PushEvent:
    """The sample event of *feed* and *seed*, *fields* replaced (None: left out)."""
    body = {k: v for k, v in sample_event(feed, seed=seed, **fields).items() if v is not None}
    return push.parse_event(feed, json.dumps(body))


async def add_each_kind(
    store: redis.asyncio.Redis,
) -> tuple[dict[str, push.PushEvent], dict[str, str]]:
    """Sink entries of each kind, a broken one and a plain one; the events, and every entry's id."""
    events = {
        "redemption": event("user_redemption", 1, userId=1001),
        "activity": event("user_activity", 2, userId=1002),
        "stranger": event("user_activity", 3, userId=990_001),
        "anonymous": event("user_redemption", 4, userId=None),
        "segment": event("user_segmentation", 5),
    }
    async with push.RedisStreamSink(store, stream=STREAM) as sink:
        for each in events.values():
            assert await sink(each) is True
    added: Any = await store.xrange(STREAM)
    ids = {name: str(entry_id) for name, (entry_id, _) in zip(events, added, strict=True)}
    broken = {"feed": "user_redemption", "delivery_key": "user_redemption:9", "body": "{"}
    ids["broken"] = str(await store.xadd(STREAM, broken))  # type: ignore[arg-type]
    ids["plain"] = str(await store.xadd(STREAM, {"user_id": "1004"}))
    return events, ids


def check_each_kinds_dead_letters(
    dead: Any, ids: dict[str, str], events: dict[str, push.PushEvent]
) -> None:
    """The others dead-lettered, each once, with its delivery key (as stored, for the broken one)."""
    letters = {fields["event_id"]: fields for _, fields in dead}
    assert len(dead) == 3
    assert [
        (letters[ids[name]]["error"], letters[ids[name]]["delivery_key"])
        for name in ("stranger", "anonymous", "broken")
    ] == [
        ("NotFoundError", events["stranger"].delivery_key),
        ("ValueError", events["anonymous"].delivery_key),
        ("PushEventError", "user_redemption:9"),
    ]
    assert letters[ids["stranger"]]["user_id"] == "990001"
    assert letters[ids["broken"]]["feed"] == "user_redemption"


async def test_the_consumer_handles_each_kind_of_entry_once(
    redis_server: RedisServer, store: redis.asyncio.Redis
) -> None:
    fake = FakeCrowdTwist(seed=0, api_key=SECRET)
    events, ids = await add_each_kind(store)
    async with ct.Session(
        api_key=SECRET, base_url=fake.base_url, transport=fake.transport()
    ) as session:
        alice = await session.users.get_points(1001, id_type="id")
        with anyio.fail_after(60):
            async with live_push.consuming(store, STREAM, session) as consumer:
                await live_push.until_settled(store, STREAM)
    raw: Any = await store.hgetall(RESULTS)
    results = {name: json.loads(raw[entry_id]) for name, entry_id in ids.items() if entry_id in raw}
    dead: Any = await store.xrange(DEAD_LETTERS)

    assert (consumer.handled, consumer.failed, consumer.unfinished) == (4, 3, [])
    assert sorted(results) == ["activity", "plain", "redemption", "segment"]
    assert results["redemption"] == {
        "delivery_key": events["redemption"].delivery_key,
        "feed": "user_redemption",
        "user_id": 1001,
        "points": {"redeemable": alice.redeemable_points, "total": alice.total_points},
        "coupons": member_state(fake, 1001)[1],
        "consumer": "sandbox",
    }
    assert results["activity"]["points"]["redeemable"] == member_state(fake, 1002)[0]
    assert results["activity"]["coupons"] is None
    assert results["segment"] == {
        "delivery_key": events["segment"].delivery_key,
        "feed": "user_segmentation",
        "user_id": sample_event("user_segmentation", seed=5)["user_id"],
        "points": None,
        "coupons": None,
        "consumer": "sandbox",
    }
    # A plain entry as before: the member's usable coupons.
    assert results["plain"] == {
        "user_id": "1004",
        "coupons": member_state(fake, 1004)[1],
        "consumer": "sandbox",
    }
    check_each_kinds_dead_letters(dead, ids, events)
    assert (await store.xpending(STREAM, GROUP))["pending"] == 0


# -- the sandbox -------------------------------------------------------------------------


async def test_the_sandbox_pushes_each_write_once_and_settles_it(
    redis_server: RedisServer, store: redis.asyncio.Redis
) -> None:
    with anyio.fail_after(120):
        summary = await live_push.run_sandbox(redis_server.url, stream="sandbox")
    # Four members: two credits each, and a redemption for the three with
    # the points (carol's is refused, and pushes nothing).
    assert summary == live_push.Summary(
        pushed=11, delivered=11, attempts=11, given_up=0, entries=11, results=11, dead_letters=0
    )
    results = [json.loads(v) for v in (await store.hgetall("sandbox:results")).values()]
    assert Counter((r["feed"], r["user_id"]) for r in results) == Counter(
        {
            **{("user_activity", user_id): 2 for user_id in KNOWN},
            **{("user_redemption", user_id): 1 for user_id in (1001, 1002, 1004)},
        }
    )
    await live_push.forget(redis_server.url, "sandbox")
    assert await store.keys("sandbox*") == []


async def test_the_sandbox_command_prints_its_summary_and_leaves_nothing(
    redis_server: RedisServer, store: redis.asyncio.Redis, tmp_path: Path
) -> None:
    children = Children(tmp_path, EXAMPLES / "live_push.py", SECRET)
    with anyio.fail_after(120):
        done = await anyio.run_process(
            children.argv("--sandbox", "--redis", redis_server.url), env=children.env(), check=False
        )
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert out.endswith(
        "events pushed 11, delivered 11 (attempts 11, retried 0, given up 0); "
        "stream entries 11; results 11, dead letters 0\n"
    )
    assert (
        len(
            re.findall(
                r"^user_redemption:\d+: member 100[124]: \d+ redeemable points, \d+ usable coupons$",
                out,
                re.M,
            )
        )
        == 3
    )
    assert await store.keys("*") == []


async def test_receive_refuses_to_start_without_credentials(tmp_path: Path) -> None:
    children = Children(tmp_path, EXAMPLES / "live_push.py", SECRET)
    done = await anyio.run_process(
        children.argv("receive", "--redis", "redis://127.0.0.1:1/0", "--basic-auth", "nocolon"),
        env=children.env(),
        check=False,
    )
    assert done.returncode == 2
    assert (
        "--basic-auth (or $CROWDTWIST_PUSH_BASIC_AUTH) must be USER:PASSWORD"
        in done.stderr.decode()
    )
    assert "nocolon" not in done.stderr.decode()
