"""`examples/batch_export.py --redis`: three worker processes, one killed, the job rerun.

62 members are enqueued: 60 that FakeCrowdTwist knows (5 to 25 rewards
each, 1 to 3 pages) and 2 it does not. Three worker processes export them,
each with one Session on the fake (served on a loopback port by this
process, with some latency so that members are in flight) and one
`RedisRateLimiter` for all three. One is SIGKILLed once it has committed some
members while it holds others; the two others take those over and drain the
queue. Then the job is rerun (enqueue the same members again, three workers
again), which retries only the two failed members, and the output is
collected.

What is checked: every reward of every known member in the output exactly
once (by reward id, per member, in listing order), the unknown members
recorded as failed, the key nowhere. And that a member is only ever
committed atomically, in a way that does not depend on where the kill lands:
MONITOR lists every command in the order Redis ran it, and tells those a Lua
script ran. Every write of a member's record (its rewards, or its failure)
and every acknowledgement must come from a script, and each XACK must follow
the record of its member in the same script. A worker that writes the
rewards, then acknowledges in a second step, fails that (although, the
rewards being stored under the member, a rerun would overwrite them rather
than duplicate them), as does one that acknowledges first. One that
acknowledges on receipt also never commits a member while holding it.

asyncio (redis-py's asyncio client); Debian's redis-server, on a free port
(`tests/redis_support.py`).
"""

from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis.asyncio
import redis.exceptions
from anyio import TASK_STATUS_IGNORED
from anyio.abc import TaskStatus

from crowdtwist_async.testing import FakeCrowdTwist, RecordedRequest

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

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "batch_export.py"
SECRET = "sk-redis-batch-Hx42Wd"
JOB = "test-export"
QUEUE, QUEUED, EXPORTED, FAILED, DROPPED = (
    f"{JOB}:{name}" for name in ("queue", "queued", "exported", "failed", "dropped")
)
GROUP = "workers"
RATE = 40.0  # requests a second, for the three workers together
UNKNOWN = ["nobody1@example.com", "nobody2@example.com"]
WORKERS = ["worker-0", "worker-1", "worker-2"]
VICTIM = WORKERS[0]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Ledger:
    """The commands that record and acknowledge members, in the order Redis ran them (MONITOR)."""

    END = "test:end-of-run"

    def __init__(self) -> None:
        self.members: dict[str, str] = {}  # entry id -> member, filled in by the test
        self.acknowledged: list[str] = []  # members, in the order their entries were acked
        self.not_in_a_script: list[str] = []
        self.unrecorded_acks: list[str] = []
        self.ended = anyio.Event()

    async def watch(
        self, store: redis.asyncio.Redis, *, task_status: TaskStatus[None] = TASK_STATUS_IGNORED
    ) -> None:
        last_recorded = None  # the member of the script's record, if the last write was one
        async with store.monitor() as monitor:
            task_status.started()
            async for info in monitor.listen():
                words = info["command"].split(" ")
                verb, key = words[0].upper(), words[1] if len(words) > 1 else ""
                if verb == "SET" and key == self.END:
                    self.ended.set()
                    return
                if (verb, key) not in {
                    ("HSET", EXPORTED),
                    ("HSET", FAILED),
                    ("HDEL", FAILED),
                    ("SREM", QUEUED),
                    ("XACK", QUEUE),
                    ("XDEL", QUEUE),
                }:
                    continue
                if info["client_type"] != "lua":
                    self.not_in_a_script.append(info["command"][:80])
                if verb == "HSET":
                    last_recorded = words[2]
                elif verb == "XACK":
                    (entry,) = words[3:]
                    member = self.members[entry]
                    self.acknowledged.append(member)
                    if member != last_recorded:
                        self.unrecorded_acks.append(member)
                    last_recorded = None

    async def close(self, store: redis.asyncio.Redis) -> None:
        """Wait until every command so far has been seen."""
        await store.set(self.END, "1")
        await self.ended.wait()


class Workers(Children):
    """The job's processes: its steps run to their end, its workers started by name."""

    def __init__(self, tmp_path: Path, redis_url: str, base_url: str) -> None:
        super().__init__(tmp_path, SCRIPT, SECRET)
        self.redis_url = redis_url
        self.base_url = base_url

    def command(self, *args: str) -> list[str]:
        return self.argv("--redis", self.redis_url, "--job", JOB, *args)

    async def run(self, *args: str) -> tuple[int, str]:
        """Run a step (enqueue, collect) to its end: its exit status and stderr."""
        done = await anyio.run_process(self.command(*args), env=self.env(), check=False)
        return done.returncode, done.stderr.decode()

    async def start(self, name: str) -> None:
        await self.spawn(
            name,
            *("--redis", self.redis_url, "--job", JOB),
            *("--worker", name, "--base-url", self.base_url, "--id-type", "email"),
            *("--concurrency", "2", "--claim-idle", "1"),
            *("--rate", str(RATE), "--rate-key", "crowdtwist:test-rate"),
        )

    async def wait(self, name: str) -> int:
        return await self.processes[name].wait()


async def held(store: redis.asyncio.Redis) -> dict[str, str]:
    """The entries pending now: entry id -> the worker holding it."""
    try:
        pending: Any = await store.xpending_range(QUEUE, GROUP, min="-", max="+", count=1000)
    except redis.exceptions.ResponseError:  # no group yet: no worker has joined
        return {}
    return {entry["message_id"]: entry["consumer"] for entry in pending}


async def map_entries(store: redis.asyncio.Redis, ledger: Ledger) -> None:
    """Tell the ledger which member each entry in the queue names."""
    entries: Any = await store.xrange(QUEUE)
    ledger.members.update({entry_id: fields["user_id"] for entry_id, fields in entries})


async def kill_mid_run(workers: Workers, store: redis.asyncio.Redis) -> set[str]:
    """SIGKILL the victim once it has committed 3 members and holds some; what it held."""
    seen: set[str] = set()  # entries seen held by the victim
    with anyio.fail_after(20):
        while True:
            pending = await held(store)
            committed = seen - set(pending)  # not taken over: none is idle that long
            holding = {entry for entry, worker in pending.items() if worker == VICTIM}
            if len(committed) >= 3 and holding:
                break
            seen |= holding
            await anyio.sleep(0.01)
    workers.processes[VICTIM].kill()
    await workers.wait(VICTIM)
    return {entry for entry, worker in (await held(store)).items() if worker == VICTIM}


def exported(text: str) -> dict[str, list[str]]:
    """The reward ids of each member in the output, in file order; a member's lines together."""
    members: dict[str, list[str]] = {}
    last = None
    for line in text.splitlines():
        record = json.loads(line)
        user_id = record["user_id"]
        assert user_id == last or user_id not in members, f"{user_id}'s lines are split"
        members.setdefault(user_id, []).append(str(record["reward"]["id"]))
        last = user_id
    return members


@pytest.mark.anyio
async def test_three_workers_one_killed_then_rerun_every_reward_exactly_once(
    redis_server: RedisServer, store: redis.asyncio.Redis, tmp_path: Path
) -> None:
    # 50 ms a page: members are always in flight, and three workers of two
    # members each could go at 120 requests a second, were it not for the
    # shared limit.
    fake = FakeCrowdTwist(seed=0, api_key=SECRET, latency=0.05)
    rng = random.Random(7)
    expected: dict[str, list[str]] = {}
    for i in range(60):
        user = fake.add_user(email=f"member{i}@example.com")
        for _ in range(rng.randint(5, 25)):
            fake.add_reward(user)
        assert user.email is not None
        expected[user.email] = [
            str(record["id"]) for record in user.rewards if record["current_quantity"] != 0
        ]
    members = list(expected)
    members[20:20] = UNKNOWN[:1]
    members[41:41] = UNKNOWN[1:]
    arrivals: list[float] = []

    def arrived(request: RecordedRequest) -> bool:
        arrivals.append(time.monotonic())
        return False  # never matches: sees every request as it arrives

    fake.script(when=arrived)
    out = tmp_path / "rewards.ndjson"
    ledger = Ledger()
    with fake.serve() as base_url:
        workers = Workers(tmp_path, redis_server.url, base_url)
        try:
            with anyio.fail_after(60):
                async with anyio.create_task_group() as tasks:
                    await tasks.start(ledger.watch, store)

                    # The first run: enqueue, three workers, one killed mid-run.
                    status, stderr = await workers.run("--enqueue", *members)
                    assert status == 0, stderr
                    assert "queued 62 members" in stderr
                    await map_entries(store, ledger)
                    for name in WORKERS:
                        await workers.start(name)
                    orphans = await kill_mid_run(workers, store)
                    exported_at_kill = await store.hlen(EXPORTED)
                    # The others take over what it held, and stop once the queue is drained.
                    for name in WORKERS[1:]:
                        assert await workers.wait(name) == 0, workers.stderr(name)
                    assert await held(store) == {}
                    after_first_run = await store.hgetall(FAILED)

                    # The rerun: the same members enqueued, three workers again.
                    status, stderr = await workers.run("--enqueue", *members)
                    assert status == 0, stderr
                    assert "queued 2 members" in stderr
                    await map_entries(store, ledger)
                    rerun = [f"rerun-{i}" for i in range(3)]
                    for name in rerun:
                        await workers.start(name)
                    for name in rerun:
                        assert await workers.wait(name) == 0, workers.stderr(name)

                    status, collected = await workers.run("--collect", "--out", str(out))
                    await ledger.close(store)
        finally:
            await workers.aclose()

    # Killed mid-run, holding members; they were taken over.
    assert orphans
    assert 3 <= exported_at_kill < 50
    taken_over = sum(
        int(n)
        for name in WORKERS[1:]
        for n in re.findall(r"took over (\d+) abandoned", workers.stderr(name))
    )
    assert taken_over >= len(orphans)

    # Every reward of every known member once, in listing order; no one else's.
    text = out.read_text()
    assert exported(text) == expected
    assert len(text.splitlines()) == sum(map(len, expected.values()))
    assert status == 1  # the unknown members failed
    rewards = sum(map(len, expected.values()))
    assert (
        f"60 members ({rewards} rewards) written to {out}, 2 failed, 0 dropped, 0 unfinished"
        in collected
    )

    # The unknown members recorded as failed, in both runs; the rerun tried them again.
    assert set(after_first_run) == set(UNKNOWN)
    records: dict[str, str] = await store.hgetall(FAILED)  # type: ignore[assignment]
    failures = {member: json.loads(record) for member, record in records.items()}
    assert set(failures) == set(UNKNOWN)
    for member, failure in failures.items():
        assert failure["error"] == "NotFoundError"
        assert failure["message"]
        assert failure["worker"].startswith("rerun-")
        assert f"failed: {member}: NotFoundError: " in collected
    # Nothing left queued or pending, and the settled entries deleted.
    assert (await store.scard(QUEUED), await store.xlen(QUEUE)) == (0, 0)

    # Committed only atomically: each record and acknowledgement in a script,
    # each XACK after its member's record. Every member acknowledged; the
    # killed worker's lost nothing, and none was acknowledged twice but by
    # the rerun of the failed ones.
    assert ledger.not_in_a_script == []
    assert ledger.unrecorded_acks == []
    assert sorted(ledger.acknowledged) == sorted(members + UNKNOWN)

    # The key is nowhere: not in the output, the failures, the workers' stderr.
    assert SECRET not in text
    assert SECRET not in json.dumps(failures)
    assert SECRET not in collected
    for name in [*WORKERS, *rerun]:
        assert SECRET not in workers.stderr(name)

    # One rate for the three processes: never much more than 40 requests in
    # any second (three separate limits would allow 120).
    busiest = max(sum(start <= t < start + 1.0 for t in arrivals) for start in arrivals)
    assert busiest <= RATE * 1.3


# -- Redis not up at start; failed members retried or dropped --------------------------

#: What a process logs for each failed try at Redis, at start.
WAITING = "did not answer (try "
PASSWORD = "pw-Rt52Vn"
NOBODY = "nobody@example.com"


def tries_logged(stderr: str, url_shown: str) -> int:
    """How many failed tries *stderr* logged, checking they are numbered 1, 2, ..."""
    tries = [int(n) for n in re.findall(waiting_line(url_shown), stderr)]
    assert tries == list(range(1, len(tries) + 1)), stderr
    return len(tries)


def members_with_rewards(fake: FakeCrowdTwist, count: int) -> dict[str, list[str]]:
    """*count* new members of *fake*, with rewards: e-mail -> reward ids, in listing order."""
    rng = random.Random(11)
    expected: dict[str, list[str]] = {}
    for i in range(count):
        user = fake.add_user(email=f"member{i}@example.com")
        for _ in range(rng.randint(3, 12)):
            fake.add_reward(user)
        assert user.email is not None
        expected[user.email] = [
            str(record["id"]) for record in user.rewards if record["current_quantity"] != 0
        ]
    return expected


@pytest.mark.anyio
async def test_steps_and_workers_started_before_redis_wait_for_it(tmp_path: Path) -> None:
    fake = FakeCrowdTwist(seed=0, api_key=SECRET, latency=0.01)
    expected = members_with_rewards(fake, 6)
    (tmp_path / "redis").mkdir()
    server = LateRedisServer(tmp_path / "redis", free_port())
    out = tmp_path / "rewards.ndjson"
    with fake.serve() as base_url:
        workers = Workers(tmp_path, server.url, base_url)
        try:
            with anyio.fail_after(90):
                # --enqueue before Redis: it waits (the default --redis-wait, 60 s).
                await workers.spawn(
                    "enqueue", *("--redis", server.url, "--job", JOB, "--enqueue", *expected)
                )
                await until_logged(workers, "enqueue", WAITING, 2)
                server.start()
                assert await workers.wait("enqueue") == 0, workers.stderr("enqueue")

                # Redis restarts (what it holds saved) while two workers start: they wait.
                store = redis.asyncio.Redis.from_url(server.url, decode_responses=True)
                try:
                    assert await store.xlen(QUEUE) == 6
                    await store.save()
                finally:
                    await store.aclose()
                server.stop()
                for name in WORKERS[:2]:
                    await workers.start(name)
                for name in WORKERS[:2]:
                    await until_logged(workers, name, WAITING, 1)
                server.start()
                for name in WORKERS[:2]:
                    assert await workers.wait(name) == 0, workers.stderr(name)

                status, collected = await workers.run("--collect", "--out", str(out))
        finally:
            await workers.aclose()
            server.stop()

    assert status == 0, collected
    assert exported(out.read_text()) == expected
    # Each waited, one line a try, then went on; no traceback.
    assert "queued 6 members" in workers.stderr("enqueue")
    for name, at_least in [("enqueue", 2), (WORKERS[0], 1), (WORKERS[1], 1)]:
        stderr = workers.stderr(name)
        assert "Traceback" not in stderr, stderr
        tries = tries_logged(stderr, server.url)
        assert tries >= at_least
        assert f"INFO Redis at {server.url} answered, at try {tries + 1}\n" in stderr


@pytest.mark.anyio
@pytest.mark.parametrize("step", ["enqueue", "work", "collect", "retry-failed"])
async def test_a_step_whose_redis_never_comes_exits_with_one_clean_line(
    tmp_path: Path, step: str
) -> None:
    port = free_port()
    url = f"redis://app:{PASSWORD}@127.0.0.1:{port}/0"
    shown = f"redis://app:***@127.0.0.1:{port}/0"
    args = {
        "enqueue": ["--enqueue", NOBODY],
        "work": ["--sandbox"],
        "collect": ["--collect", "--out", str(tmp_path / "out.ndjson")],
        "retry-failed": ["--retry-failed"],
    }[step]
    children = Children(tmp_path, SCRIPT, SECRET)
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
    assert all(re.fullmatch(waiting_line(shown), line) for line in tries), stderr
    assert tries_logged(stderr, shown) == len(tries) >= 1
    assert re.fullmatch(
        rf"error: Redis at {re.escape(shown)} did not answer within 2 s \({len(tries) + 1} tries, "
        r"the last: ConnectionError: [^\n]*\); is it running\? --redis-wait sets how long to wait",
        last,
    ), last
    assert PASSWORD not in stderr
    assert not (tmp_path / "out.ndjson").exists()


@pytest.mark.anyio
async def test_a_failed_member_is_retried_or_dropped_until_collect_exits_0(
    redis_server: RedisServer, store: redis.asyncio.Redis, tmp_path: Path
) -> None:
    fake = FakeCrowdTwist(seed=0, api_key=SECRET, latency=0.01)
    expected = members_with_rewards(fake, 6)
    members = [*list(expected)[:3], NOBODY, *list(expected)[3:]]
    rewards = sum(map(len, expected.values()))
    out = tmp_path / "rewards.ndjson"

    async def failures(key: str = FAILED) -> dict[str, dict[str, str]]:
        records: dict[str, str] = await store.hgetall(key)  # type: ignore[assignment]
        return {member: json.loads(record) for member, record in records.items()}

    with fake.serve() as base_url:
        workers = Workers(tmp_path, redis_server.url, base_url)

        async def work(name: str) -> None:
            await workers.start(name)
            assert await workers.wait(name) == 0, workers.stderr(name)

        try:
            with anyio.fail_after(90):
                assert (await workers.run("--enqueue", *members))[0] == 0
                await work("first")

                # --collect fails, naming the member and saying what to do.
                status, collected = await workers.run("--collect", "--out", str(out))
                assert status == 1, collected
                lines = collected.splitlines()
                assert lines[0] == (
                    f"6 members ({rewards} rewards) written to {out}, "
                    "1 failed, 0 dropped, 0 unfinished"
                )
                assert lines[1].startswith(f"  failed: {NOBODY}: NotFoundError: ")
                assert lines[2:] == [
                    "not complete: 1 failed. With the same --redis and --job, try them again "
                    "(--retry-failed, or --retry-failed MEMBER...), start workers and --collect "
                    "again; or give up on them (--drop-failed MEMBER..., or --drop-failed --all)"
                ]

                # --retry-failed queues every failed member again, and a worker tries it.
                status, retried = await workers.run("--retry-failed")
                assert status == 0, retried
                assert f"queued again (1): {NOBODY}; start workers, then --collect\n" in retried
                assert await failures() == {}
                assert await store.smembers(QUEUED) == {NOBODY}
                assert await store.xlen(QUEUE) == 1
                status, collected = await workers.run("--collect", "--out", str(out))
                assert status == 1
                assert collected.splitlines()[1:] == [
                    "not complete: 1 still queued or in flight. Start workers (or let them "
                    "finish), then --collect again"
                ]
                assert ", 0 failed, 0 dropped, 1 unfinished" in collected.splitlines()[0]
                await work("second")
                assert (await failures())[NOBODY]["worker"] == "second"

                # A member that did not fail is not queued again, and says so.
                status, retried = await workers.run("--retry-failed", members[0])
                assert status == 1
                assert f"neither failed nor dropped, so left as they are: {members[0]}" in retried
                assert (await store.scard(QUEUED), await store.xlen(QUEUE)) == (0, 0)

                # --drop-failed needs members or --all; dropped, the member is left out.
                assert (await workers.run("--drop-failed"))[0] == 2
                status, dropped = await workers.run("--drop-failed", NOBODY)
                assert status == 0, dropped
                assert f"dropped (1): {NOBODY}; --collect leaves them out" in dropped
                assert await failures() == {}
                assert (await failures(DROPPED))[NOBODY]["error"] == "NotFoundError"
                # Enqueueing the same members again queues nobody: the loop ends.
                status, queued = await workers.run("--enqueue", *members)
                assert "queued 0 members" in queued
                status, collected = await workers.run("--collect", "--out", str(out))
                assert status == 0, collected
                lines = collected.splitlines()
                assert lines[0] == (
                    f"6 members ({rewards} rewards) written to {out}, "
                    "0 failed, 1 dropped, 0 unfinished"
                )
                assert lines[1].startswith(f"  dropped: {NOBODY}: NotFoundError: ")
                assert len(lines) == 2
                assert exported(out.read_text()) == expected

                # Named, a dropped member is queued again; failing again, --all drops it.
                assert (await workers.run("--retry-failed", NOBODY))[0] == 0
                assert (await failures(DROPPED), await store.smembers(QUEUED)) == ({}, {NOBODY})
                await work("third")
                assert (await failures())[NOBODY]["worker"] == "third"
                status, dropped = await workers.run("--drop-failed", "--all")
                assert status == 0, dropped
                assert (await failures(), list(await failures(DROPPED))) == ({}, [NOBODY])
                status, collected = await workers.run("--collect", "--out", str(out))
        finally:
            await workers.aclose()

    assert status == 0, collected
    # Every other member's rewards exactly once, in listing order, whatever was retried.
    text = out.read_text()
    assert exported(text) == expected
    assert len(text.splitlines()) == rewards
    assert SECRET not in text
