"""`examples/event_consumer.py` on a real Redis Stream: three processes, one killed.

300 member events, 30 of them for members CrowdTwist does not know, are read
through one consumer group by three consumer processes, each with one Session
on FakeCrowdTwist (served on a loopback port by this process, with some
latency so that events are in flight) and one `RedisRateLimiter` for all
three. One is SIGKILLed mid-run while it holds events; the other two take
them over once idle, then are stopped with SIGTERM when all is done.

What is checked, besides every event ending up exactly once in the results
or the dead letters: that no event is ever acknowledged before its outcome is
recorded, two ways. MONITOR lists every command in the order Redis ran it
(those of Lua scripts included): each XACK must come after the HSET of the
event's result or the XADD of its dead letter. And throughout the run, atomic
snapshots of the group (what it delivered, what is still pending) and of the
records are taken: an event delivered and no longer pending is acknowledged,
and must be recorded in the same snapshot. A consumer acknowledging on
receipt, or before writing its result, fails both (and loses the events the
killed consumer held).

asyncio (redis-py's asyncio client); Debian's redis-server, on a free port
(`tests/redis_support.py`).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis.asyncio
import redis.exceptions
from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus

from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist, RecordedRequest

from .redis_support import (
    Children,
    LateRedisServer,
    RedisServer,
    free_port,
    until_logged,
    waiting_line,
)

# Every test here starts a redis-server and the example's own processes.
pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "event_consumer.py"
SECRET = "sk-redis-consumer-Qm71Zt"
KNOWN = [SANDBOX_EMAIL, "bob@example.com", "carol@example.com", "dave@example.com"]
STREAM = "member-events"
GROUP = "crowdtwist"
RESULTS = f"{STREAM}:results"
DEAD_LETTERS = f"{STREAM}:dead-letters"
EVENTS = 300
RATE = 100.0  # requests a second, for the three consumers together
CONSUMERS = ["consumer-0", "consumer-1", "consumer-2"]
VICTIM = CONSUMERS[0]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def stream_id(text: str) -> tuple[int, int]:
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence)


def usable_codes(fake: FakeCrowdTwist, email: str) -> list[str]:
    member = next(user for user in fake.users if user.email == email)
    now = int(fake.now.timestamp())
    return [c.record["code"] for c in member.coupons if not c.used and not c.is_expired(now)]


@dataclass
class Snapshot:
    """The group and the records at one instant (one MULTI/EXEC)."""

    acknowledged: set[str]
    pending: dict[str, str]  # event id -> the consumer holding it
    results: dict[str, dict[str, Any]]  # event id -> result
    dead_letters: dict[str, dict[str, str]]  # event id -> the last dead letter for it
    dead_letter_count: int

    @property
    def settled(self) -> set[str]:
        return set(self.results) | set(self.dead_letters)

    def settled_by(self, consumer: str) -> int:
        records = [*self.results.values(), *self.dead_letters.values()]
        return sum(record["consumer"] == consumer for record in records)


async def snapshot(store: redis.asyncio.Redis, event_ids: list[str]) -> Snapshot:
    async with store.pipeline(transaction=True) as pipe:
        pipe.xinfo_groups(STREAM)
        pipe.xpending_range(STREAM, GROUP, min="-", max="+", count=10 * EVENTS)
        pipe.hgetall(RESULTS)
        pipe.xrange(DEAD_LETTERS)
        groups, pending, results, dead = await pipe.execute()
    (group,) = groups
    last = stream_id(group["last-delivered-id"])
    holders = {entry["message_id"]: entry["consumer"] for entry in pending}
    delivered = {event_id for event_id in event_ids if stream_id(event_id) <= last}
    seen = Snapshot(
        acknowledged=delivered - set(holders),
        pending=holders,
        results={event_id: json.loads(value) for event_id, value in results.items()},
        dead_letters={fields["event_id"]: fields for _, fields in dead},
        dead_letter_count=len(dead),
    )
    # Delivered and no longer pending is acknowledged: it must be recorded.
    unrecorded = seen.acknowledged - seen.settled
    assert not unrecorded, f"acknowledged, neither handled nor dead-lettered: {unrecorded}"
    return seen


class Ledger:
    """The order in which records and acknowledgements reached Redis, from MONITOR.

    Commands run by the consumers' Lua script are shown one by one, in the
    order Redis ran them.
    """

    END = "test:end-of-run"

    def __init__(self) -> None:
        self.recorded: set[str] = set()
        self.acknowledged: set[str] = set()
        self.unrecorded_acks: list[str] = []
        self.ended = anyio.Event()

    async def watch(
        self, store: redis.asyncio.Redis, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED
    ) -> None:
        async with store.monitor() as monitor:
            task_status.started()
            async for info in monitor.listen():
                words = info["command"].split(" ")
                verb = words[0].upper()
                if verb == "HSET" and words[1] == RESULTS:
                    self.recorded.add(words[2])
                elif verb == "XADD" and words[1] == DEAD_LETTERS:
                    self.recorded.add(words[words.index("event_id") + 1])
                elif verb == "XACK" and words[1] == STREAM:
                    self.acknowledged.update(words[3:])
                    self.unrecorded_acks.extend(set(words[3:]) - self.recorded)
                elif verb == "SET" and words[1] == self.END:
                    self.ended.set()
                    return

    async def close(self, store: redis.asyncio.Redis) -> None:
        """Wait until every command so far has been seen."""
        await store.set(self.END, "1")
        await self.ended.wait()


class Consumers(Children):
    """The consumer processes, started by name."""

    def __init__(self, tmp_path: Path, redis_url: str, base_url: str) -> None:
        super().__init__(tmp_path, SCRIPT, SECRET)
        self.redis_url = redis_url
        self.base_url = base_url

    def command(self, *args: str) -> list[str]:
        return self.argv("--redis", self.redis_url, "--stream", STREAM, *args)

    async def start(self, name: str) -> None:
        await self.spawn(
            name,
            *("--redis", self.redis_url, "--stream", STREAM, "--group", GROUP),
            *("--consumer", name, "--base-url", self.base_url, "--id-type", "email"),
            *("--concurrency", "4", "--grace", "5", "--claim-idle", "1"),
            *("--rate", str(RATE), "--rate-key", "crowdtwist:test-rate"),
        )


@dataclass
class Run:
    users: dict[str, str]  # event id -> user id, in stream order
    snapshots: list[Snapshot]
    at_kill: Snapshot
    orphans: set[str]  # what the victim held when it was killed


async def run_killing_one(
    consumers: Consumers, store: redis.asyncio.Redis, user_ids: list[str]
) -> Run:
    """Start the consumers, add the events, kill the victim mid-run, stop the others when done."""
    # The consumers first, each in the group before any event is added.
    for name in CONSUMERS:
        await consumers.start(name)
    while True:
        try:
            joined = await store.xinfo_consumers(STREAM, GROUP)
        except redis.exceptions.ResponseError:  # no group yet
            joined = []
        if {c["name"] for c in joined} == set(CONSUMERS):
            break
        await anyio.sleep(0.05)

    produced = await anyio.run_process(
        consumers.command("--produce", *user_ids), env=consumers.env(), check=False
    )
    assert produced.returncode == 0, produced.stderr.decode()
    assert f"added {EVENTS} events to {STREAM}" in produced.stderr.decode()
    entries: Any = await store.xrange(STREAM)
    event_ids = [str(event_id) for event_id, _ in entries]
    users = dict(zip(event_ids, user_ids, strict=True))

    # Snapshots all along; the victim is killed once it has settled 20
    # events and holds some.
    snapshots: list[Snapshot] = []
    while True:
        snapshots.append(await snapshot(store, event_ids))
        latest = snapshots[-1]
        if latest.settled_by(VICTIM) >= 20 and VICTIM in latest.pending.values():
            break
        await anyio.sleep(0.02)
    victim = consumers.processes[VICTIM]
    victim.kill()
    await victim.wait()
    at_kill = await snapshot(store, event_ids)
    snapshots.append(at_kill)
    orphans = {event_id for event_id, holder in at_kill.pending.items() if holder == VICTIM}

    # The others go on, and take over what the victim held.
    while len(snapshots[-1].settled) < EVENTS or snapshots[-1].pending:
        await anyio.sleep(0.05)
        snapshots.append(await snapshot(store, event_ids))

    for name in CONSUMERS[1:]:
        consumers.processes[name].terminate()
    for name in CONSUMERS[1:]:
        assert await consumers.processes[name].wait() == 0, consumers.stderr(name)
    return Run(users, snapshots, at_kill, orphans)


@pytest.mark.anyio
async def test_three_consumers_one_killed_every_event_handled_or_dead_lettered(
    redis_server: RedisServer, store: redis.asyncio.Redis, tmp_path: Path
) -> None:
    # Each lookup takes 50 ms: a consumer always has events in flight, and
    # four at a time in three processes could go at 240 a second, were it not
    # for the shared limit of 100.
    fake = FakeCrowdTwist(seed=0, api_key=SECRET, latency=0.05)
    arrivals: list[float] = []

    def arrived(request: RecordedRequest) -> bool:
        arrivals.append(time.monotonic())
        return False  # never matches: sees every request as it arrives

    fake.script(when=arrived)
    user_ids = [
        f"nobody{i}@example.com" if i % 10 == 3 else KNOWN[i % len(KNOWN)] for i in range(EVENTS)
    ]

    ledger = Ledger()
    with fake.serve() as base_url:
        consumers = Consumers(tmp_path, redis_server.url, base_url)
        try:
            with anyio.fail_after(90):
                async with anyio.create_task_group() as tasks:
                    await tasks.start(ledger.watch, store)
                    run = await run_killing_one(consumers, store, user_ids)
                    await ledger.close(store)
        finally:
            await consumers.aclose()
    users, snapshots, at_kill, orphans = run.users, run.snapshots, run.at_kill, run.orphans
    final = snapshots[-1]
    event_ids = list(users)

    # No event was acknowledged before its outcome was recorded: in the order
    # Redis ran the commands, and in every snapshot, taken often enough to
    # have seen events in flight.
    assert ledger.unrecorded_acks == []
    assert ledger.acknowledged == set(event_ids)
    assert len(snapshots) > 20

    # Killed mid-run, holding events.
    assert len(at_kill.settled) < EVENTS / 2
    assert orphans

    # Every event handled or dead-lettered, once; none left pending.
    failing = {event_id for event_id, user_id in users.items() if user_id not in KNOWN}
    assert len(failing) == EVENTS // 10
    assert set(final.results) == set(event_ids) - failing
    assert set(final.dead_letters) == failing
    assert final.dead_letter_count == len(failing)
    assert final.acknowledged == set(event_ids)
    assert await store.xpending(STREAM, GROUP) == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }
    for event_id, result in final.results.items():
        assert result["user_id"] == users[event_id]
        assert result["coupons"] == usable_codes(fake, users[event_id])
    for event_id, letter in final.dead_letters.items():
        assert letter["user_id"] == users[event_id]
        assert letter["error"] == "NotFoundError"
        assert letter["message"]
        assert SECRET not in json.dumps(letter)
    # What the victim held was settled by the others.
    for event_id in orphans:
        record = final.results.get(event_id) or final.dead_letters[event_id]
        assert record["consumer"] in CONSUMERS[1:]

    # The survivors stopped cleanly on SIGTERM and said what they did; the key
    # is in no consumer's output.
    taken_over = 0
    for name in CONSUMERS[1:]:
        stderr = consumers.stderr(name)
        summary = re.search(r"handled (\d+), failed (\d+), unfinished 0", stderr)
        assert summary is not None, stderr
        assert int(summary[1]) + int(summary[2]) >= final.settled_by(name)
        taken_over += sum(int(n) for n in re.findall(r"took over (\d+) abandoned events", stderr))
    assert taken_over >= len(orphans)
    for name in CONSUMERS:
        assert SECRET not in consumers.stderr(name)
    assert "NotFoundError" in consumers.stderr(CONSUMERS[1]) + consumers.stderr(CONSUMERS[2])

    # One rate for the three processes: never much more than 100 requests in
    # any second (three separate limits would allow 240).
    assert len(arrivals) >= EVENTS
    busiest = max(sum(start <= t < start + 1.0 for t in arrivals) for start in arrivals)
    assert busiest <= RATE * 1.3


# -- Redis not up at start -----------------------------------------------------------

#: What a process logs for each failed try at Redis, at start.
WAITING = "did not answer (try "
PASSWORD = "pw-Jk83Lq"


def try_number(line: str, url_shown: str) -> int:
    """The number of the failed try *line* logs; it must be one."""
    match = re.fullmatch(waiting_line(url_shown), line)
    assert match is not None, line
    return int(match[1])


@pytest.mark.anyio
async def test_a_consumer_and_a_producer_started_before_redis_wait_for_it(tmp_path: Path) -> None:
    (tmp_path / "redis").mkdir()
    server = LateRedisServer(tmp_path / "redis", free_port())
    events = [*KNOWN, "nobody@example.com"]
    children = Children(tmp_path, SCRIPT, SECRET)
    common = ("--redis", server.url, "--stream", STREAM, "--group", GROUP)
    try:
        with anyio.fail_after(90):
            # Both before Redis: the default --redis-wait (60 s) lets them wait for it.
            await children.spawn(
                "consumer",
                *common,
                *("--consumer", "early", "--sandbox", "--id-type", "email", "--claim-idle", "1"),
            )
            await children.spawn("producer", *common, "--produce", *events)
            await until_logged(children, "consumer", WAITING, 2)
            await until_logged(children, "producer", WAITING, 1)
            server.start()

            assert await children.processes["producer"].wait() == 0, children.stderr("producer")
            store = redis.asyncio.Redis.from_url(server.url, decode_responses=True)
            try:
                while await store.hlen(RESULTS) + await store.xlen(DEAD_LETTERS) < len(events):
                    await anyio.sleep(0.05)
                results: dict[str, str] = await store.hgetall(RESULTS)  # type: ignore[assignment]
                dead: Any = await store.xrange(DEAD_LETTERS)
            finally:
                await store.aclose()
            children.processes["consumer"].terminate()
            assert await children.processes["consumer"].wait() == 0, children.stderr("consumer")
    finally:
        await children.aclose()
        server.stop()

    # Every event handled once it came: the known members' results, the other's dead letter.
    assert sorted(json.loads(result)["user_id"] for result in results.values()) == sorted(KNOWN)
    assert [(fields["user_id"], fields["error"]) for _, fields in dead] == [
        ("nobody@example.com", "NotFoundError")
    ]
    # Each logged its waiting, one line a try, numbered, then that Redis answered; no traceback.
    for name in ["consumer", "producer"]:
        stderr = children.stderr(name)
        assert "Traceback" not in stderr, stderr
        tries = [int(n) for n in re.findall(waiting_line(server.url), stderr)]
        assert tries == list(range(1, len(tries) + 1))
        assert len(tries) >= (2 if name == "consumer" else 1)
        assert f"INFO Redis at {server.url} answered, at try {len(tries) + 1}\n" in stderr
    assert f"added {len(events)} events to {STREAM}" in children.stderr("producer")
    assert "handled 4, failed 1, unfinished 0" in children.stderr("consumer")


@pytest.mark.anyio
@pytest.mark.parametrize("step", ["consume", "produce"])
async def test_a_consumer_whose_redis_never_comes_exits_with_one_clean_line(
    tmp_path: Path, step: str
) -> None:
    port = free_port()
    url = f"redis://app:{PASSWORD}@127.0.0.1:{port}/0"
    shown = f"redis://app:***@127.0.0.1:{port}/0"
    children = Children(tmp_path, SCRIPT, SECRET)
    args = ["--produce", SANDBOX_EMAIL] if step == "produce" else ["--sandbox"]
    started = time.monotonic()
    done = await anyio.run_process(
        children.argv("--redis", url, "--redis-wait", "2", *args), env=children.env(), check=False
    )
    elapsed = time.monotonic() - started
    stderr = done.stderr.decode()

    assert done.returncode == 3, stderr
    # It tried until --redis-wait had passed, and not much longer: time is the behaviour here.
    assert 2.0 <= elapsed < 30.0
    *tries, last = stderr.splitlines()
    assert [try_number(line, shown) for line in tries] == list(range(1, len(tries) + 1))
    assert len(tries) >= 1
    assert re.fullmatch(
        rf"error: Redis at {re.escape(shown)} did not answer within 2 s \({len(tries) + 1} tries, "
        r"the last: ConnectionError: [^\n]*\); is it running\? --redis-wait sets how long to wait",
        last,
    ), last
    assert PASSWORD not in stderr
