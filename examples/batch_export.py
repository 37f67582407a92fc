"""Export the rewards of many members to one NDJSON file; stop it any time, rerun to resume.

It shows one Session shared by a fixed pool of workers (N members at a
time, while the Session's `max_concurrency` bounds the requests of all of
them together), a progress bar on stderr, and a job that can be stopped in
any way (Ctrl-C, kill -9, a crash, a lost connection) and rerun until its
output holds every reward of every member exactly once.

The output has one line per reward, `{"user_id": ..., "reward": {...}}`,
each member's rewards together and in listing order.

How resuming works. A member's rewards are written only once their whole
listing has been read; then the member is committed by appending one line,
`{"user_id": ..., "status": "done", "end": <length of the output>}`, to a
journal beside the output (`<out>.journal`). Each step is flushed to disk
before the next, so the journal never claims more output than the disk
holds. On start, the output is cut back to the last committed `end`, which
drops whatever a killed run wrote after it, and committed members are
skipped. A member that fails (unknown, or CrowdTwist failing past the SDK's
retries) is reported, journaled as failed for the record, and tried again by
the next run: rerun until the exit status is 0, or take the member out of
the input. An AuthenticationError stops the job, since every member would
fail the same way. Delete the output and its journal to start over.

Run it (`pip install "crowdtwist-async[examples]"`), on the built-in
sandbox (no account, no network) or on your program:

    python examples/batch_export.py --sandbox --id-type email --out rewards.ndjson \\
        alice@example.com bob@example.com carol@example.com nobody@example.com

    export CROWDTWIST_API_KEY=... CROWDTWIST_BASE_URL=https://api123.crowdtwist.com
    python examples/batch_export.py --users-file members.txt --out rewards.ndjson

**Across processes** (`--redis URL`; `pip install "crowdtwist-async[examples,redis]"`),
any number of workers, on one host or many, share one job, whose state is
all in Redis under `<job>:` (`--job`):

- `--enqueue` adds members to `<job>:queue`, a Redis Stream the workers read
  through one consumer group. A member already exported, dropped, or queued
  and not yet settled (the set `<job>:queued`), is skipped: enqueueing the
  same members again only adds what is left to do;
- a worker reads a member, reads its whole listing, then settles it in one
  Lua script, atomically: its lines go to the hash `<job>:exported` (field:
  the member, so a second export overwrites the first), it leaves
  `<job>:queued`, and its entry is acknowledged (XACK) and deleted. A worker
  killed before that leaves the member pending, and another worker takes it
  over (XAUTOCLAIM) once it has been idle `--claim-idle` seconds; killed
  after, the member is done. A member that fails is settled the same way
  into the hash `<job>:failed` (`{"error", "message", "worker"}`: the
  error's class and its message, which the SDK keeps free of the key). A
  worker returns once nothing is left to read and nothing is pending;
- `--retry-failed` queues the failed members again (or those named);
  `--drop-failed MEMBER...` (or `--drop-failed --all`) gives up on them:
  their failures move to the hash `<job>:dropped`, for the record, and
  neither `--enqueue` nor `--collect` counts them any more (`--retry-failed
  MEMBER` takes one back);
- `--collect --out FILE` writes the output from `<job>:exported` (each
  member's lines together, in listing order, once) and lists the members
  failed and dropped; its exit status is 0 once every member queued was
  exported or dropped, else 1, saying what is missing and what to run;
- one Session per worker, and one `RedisRateLimiter` for all of them
  (`--rate` requests a second, together, key `--rate-key`);
- every step waits for Redis at start, up to `--redis-wait` seconds (60),
  logging each failed try; then it exits with 3.

So every member's rewards are in the output exactly once, however many
workers are killed: rerun the job (`--enqueue` the same members, which
queues the failed ones again, then workers, then `--collect`) until
`--collect` exits with 0; a member that fails every time (unknown, say)
is dropped with `--drop-failed` once you have looked at it. An
AuthenticationError or a RateLimiterError stops a worker, its members left
pending. Delete the `<job>:*` keys to start over.

    redis-server --port 6379 --save "" --appendonly no --daemonize yes
    python examples/batch_export.py --redis redis://localhost:6379/0 --enqueue \\
        alice@example.com bob@example.com carol@example.com nobody@example.com
    python examples/batch_export.py --redis redis://localhost:6379/0 --sandbox --id-type email &
    python examples/batch_export.py --redis redis://localhost:6379/0 --sandbox --id-type email
    python examples/batch_export.py --redis redis://localhost:6379/0 --collect --out rewards.ndjson
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import anyio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import crowdtwist_async as ct

# The Redis Stream reader, and the wait for Redis at start, are the event consumer's.
if TYPE_CHECKING or __package__:  # imported as examples.batch_export
    from .event_consumer import (
        EXIT_NO_REDIS,
        MESSAGE_LIMIT,
        Delivery,
        RedisStream,
        RedisUnavailable,
        _positive,
        add_redis_wait,
        wait_for_redis,
    )
else:  # run as a script, whose folder is on sys.path
    from event_consumer import (
        EXIT_NO_REDIS,
        MESSAGE_LIMIT,
        Delivery,
        RedisStream,
        RedisUnavailable,
        _positive,
        add_redis_wait,
        wait_for_redis,
    )

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

log = logging.getLogger(__name__)

#: Requests in flight across every member at once: what CrowdTwist sees.
MAX_REQUESTS = 8


class OutputError(Exception):
    """The output and its journal disagree; nothing was written."""


@dataclass
class ExportResult:
    """What one run did."""

    exported: list[str] = field(default_factory=list)  # members this run committed
    skipped: list[str] = field(default_factory=list)  # members an earlier run committed
    failed: dict[str, str] = field(default_factory=dict)  # member -> "ErrorClass: message"
    rewards: int = 0  # lines this run wrote


class Output:
    """The output file and its journal: what is committed, and committing more.

    Its methods block on the disk: call them from a worker thread.
    """

    def __init__(self, out: IO[bytes], journal: IO[bytes], done: set[str]) -> None:
        self._out = out
        self._journal = journal
        self.done = done

    @classmethod
    def open(cls, out: Path, journal: Path) -> Output:
        """Open both files for appending, cut back to what the journal committed."""
        if not journal.exists() and out.exists() and out.stat().st_size > 0:
            raise OutputError(f"{out} exists but {journal} does not: not overwriting it")
        entries, valid = _read_journal(journal)
        done = {entry["user_id"] for entry in entries if entry["status"] == "done"}
        end = max((entry["end"] for entry in entries if entry["status"] == "done"), default=0)
        if (out.stat().st_size if out.exists() else 0) < end:
            raise OutputError(f"{out} is shorter than {journal} says: was it edited?")
        with contextlib.ExitStack() as opened:
            journal_file = opened.enter_context(journal.open("ab"))
            out_file = opened.enter_context(out.open("ab"))
            journal_file.truncate(valid)
            out_file.truncate(end)
            opened.pop_all()
        return cls(out_file, journal_file, done)

    def commit(self, user_id: str, lines: Sequence[bytes]) -> None:
        """Append a member's lines, then journal them as done: all or nothing."""
        self._out.write(b"".join(lines))
        _sync(self._out)
        self._record({"user_id": user_id, "status": "done", "end": self._out.tell()})
        self.done.add(user_id)

    def fail(self, user_id: str, error: str) -> None:
        """Journal a member's failure, for the record: the next run tries it again."""
        self._record({"user_id": user_id, "status": "failed", "error": error})

    def close(self) -> None:
        self._out.close()
        self._journal.close()

    def _record(self, entry: Mapping[str, object]) -> None:
        self._journal.write(json.dumps(entry, ensure_ascii=False).encode() + b"\n")
        _sync(self._journal)


def _read_journal(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The journal's entries and the length of the bytes holding them.

    Only the last line can be torn, by a run killed while appending it; it
    is not an entry, and opening the journal cuts it off.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    entries: list[dict[str, Any]] = []
    valid = 0
    for line in data.splitlines(keepends=True):
        try:
            entry = json.loads(line) if line.endswith(b"\n") else None
        except ValueError:
            entry = None
        if entry is None:
            break
        entries.append(entry)
        valid += len(line)
    return entries, valid


def _sync(file: IO[bytes]) -> None:
    file.flush()
    os.fsync(file.fileno())


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".journal")


async def export(
    session: ct.Session,
    user_ids: Iterable[str],
    out: Path,
    *,
    id_type: ct.IdType | ct.IdTypeName | None = None,
    concurrency: int = 4,
    progress: Progress | None = None,
) -> ExportResult:
    """Export the rewards of *user_ids* to *out*, resuming where an earlier run stopped.

    *concurrency* members are read at a time. Raises AuthenticationError
    (nothing more can succeed) after committing what was complete.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    users = list(dict.fromkeys(user_ids))  # a member listed twice is exported once
    output = await anyio.to_thread.run_sync(Output.open, out, journal_path(out))
    try:
        result = ExportResult(skipped=[user for user in users if user in output.done])
        pending = iter([user for user in users if user not in output.done])
        task = (
            progress.add_task("members", total=len(users), completed=len(result.skipped))
            if progress is not None
            else None
        )
        # One commit at a time, so that members' lines never interleave.
        committing = anyio.Lock()

        async def export_one(user_id: str) -> None:
            try:
                # Entered, a long listing's pages keep arriving while earlier
                # ones are turned into lines.
                async with session.users.aiter_rewards(user_id, id_type=id_type) as listing:
                    lines = [_line(user_id, reward) async for reward in listing]
            except ct.AuthenticationError:
                raise  # every member would fail the same way: stop the job
            except ct.CrowdTwistError as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.warning("member %s failed: %s", user_id, error)
                result.failed[user_id] = error
                async with committing:
                    await anyio.to_thread.run_sync(output.fail, user_id, error)
            else:
                # A cancelled task still waits for its thread: a member is
                # committed whole or not at all, whenever the job is stopped.
                async with committing:
                    await anyio.to_thread.run_sync(output.commit, user_id, lines)
                result.exported.append(user_id)
                result.rewards += len(lines)
            if progress is not None and task is not None:
                progress.advance(task)

        async def worker() -> None:
            # The workers share one iterator, so each member is taken once.
            for user_id in pending:
                await export_one(user_id)

        await run_workers(concurrency, worker)
        return result
    finally:
        output.close()


async def run_workers(concurrency: int, work: Callable[[], Awaitable[None]]) -> None:
    """Run *concurrency* copies of *work*; the first exception stops them all.

    It is raised as it is, rather than inside the task group's ExceptionGroup.
    """
    stopped_by: list[Exception] = []

    async def worker() -> None:
        try:
            await work()
        except Exception as exc:
            stopped_by.append(exc)
            workers.cancel_scope.cancel()

    async with anyio.create_task_group() as workers:
        for _ in range(concurrency):
            workers.start_soon(worker)
    if stopped_by:
        raise stopped_by[0]


def _line(user_id: str, reward: ct.Reward) -> bytes:
    record = {"user_id": user_id, "reward": ct.to_dict(reward)}
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


# -- across processes, on Redis ------------------------------------------------------

#: The consumer group through which every worker reads the queue.
GROUP = "workers"

#: Queues each member (ARGV) neither exported, dropped nor queued already
#: (a failed one leaves the failed hash: it is queued again); answers how
#: many it queued. KEYS: the queue, the exported hash, the queued set, the
#: failed hash, the dropped hash.
ENQUEUE_SCRIPT = """
local queued = 0
for _, user_id in ipairs(ARGV) do
  if redis.call('HEXISTS', KEYS[2], user_id) == 0
      and redis.call('HEXISTS', KEYS[5], user_id) == 0
      and redis.call('SADD', KEYS[3], user_id) == 1 then
    redis.call('HDEL', KEYS[4], user_id)
    redis.call('XADD', KEYS[1], '*', 'user_id', user_id)
    queued = queued + 1
  end
end
return queued
"""

#: Queues again each member (ARGV) that failed or was dropped, taking it out
#: of the failed or dropped hash; answers those it queued. KEYS: the queue,
#: the queued set, the failed hash, the dropped hash.
RETRY_SCRIPT = """
local queued = {}
for _, user_id in ipairs(ARGV) do
  if redis.call('HDEL', KEYS[3], user_id) + redis.call('HDEL', KEYS[4], user_id) > 0 then
    if redis.call('SADD', KEYS[2], user_id) == 1 then
      redis.call('XADD', KEYS[1], '*', 'user_id', user_id)
    end
    queued[#queued + 1] = user_id
  end
end
return queued
"""

#: Drops each member (ARGV) that failed: its failure moves from the failed
#: hash to the dropped hash, where `--collect` reports it without counting it
#: as missing. Answers those it dropped. KEYS: the failed hash, the dropped hash.
DROP_SCRIPT = """
local dropped = {}
for _, user_id in ipairs(ARGV) do
  local failure = redis.call('HGET', KEYS[1], user_id)
  if failure then
    redis.call('HSET', KEYS[2], user_id, failure)
    redis.call('HDEL', KEYS[1], user_id)
    dropped[#dropped + 1] = user_id
  end
end
return dropped
"""

#: Settles a member: records it as exported (its lines) or failed (the
#: failure), takes it off the queued set, acknowledges and deletes its entry.
#: One atomic step, and nothing when the entry is no longer pending (settled
#: already, by a worker that took it over). KEYS: the queue, the exported
#: hash, the failed hash, the queued set. ARGV: the group, the entry id, the
#: member, "done" or "failed", the lines or the failure. (On a Redis Cluster,
#: give the job a hash tag: `--job {batch-export}`.)
SETTLE_SCRIPT = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then
  return 0
end
if ARGV[4] == 'done' then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[5])
  redis.call('HDEL', KEYS[3], ARGV[3])
else
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[5])
end
redis.call('SREM', KEYS[4], ARGV[3])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
"""

#: Members queued per round trip.
ENQUEUE_BATCH = 1000


@dataclass
class Collected:
    """What `--collect` found."""

    members: int = 0  # exported, and written to the output
    rewards: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # member -> "ErrorClass: message"
    dropped: dict[str, str] = field(default_factory=dict)  # failed, then given up on
    unfinished: int = 0  # members queued, not yet settled

    @property
    def complete(self) -> bool:
        """Every member queued was exported, or dropped."""
        return not self.failed and not self.unfinished


class RedisJob:
    """A batch export's state in Redis, every key named after the job.

    `<job>:queue` is a stream of `{"user_id": ...}` entries read through the
    consumer group `GROUP`; `<job>:queued` the set of members queued and not
    yet settled; `<job>:exported` a hash of member -> its NDJSON lines, in
    listing order; `<job>:failed` a hash of member -> `{"error", "message",
    "worker"}` as JSON; `<job>:dropped` the same, for failed members given up
    on (`drop_failed()`). A member is in one of queued, exported, failed and
    dropped at a time.
    """

    def __init__(self, client: Redis, job: str) -> None:
        self.client = client
        self.queue = f"{job}:queue"
        self.queued = f"{job}:queued"
        self.exported = f"{job}:exported"
        self.failed = f"{job}:failed"
        self.dropped = f"{job}:dropped"
        self._enqueue = client.register_script(ENQUEUE_SCRIPT)
        self._settle = client.register_script(SETTLE_SCRIPT)
        self._retry = client.register_script(RETRY_SCRIPT)
        self._drop = client.register_script(DROP_SCRIPT)

    async def enqueue(self, user_ids: Iterable[str]) -> int:
        """Queue the members neither exported, dropped nor queued already; how many it queued."""
        users = list(dict.fromkeys(user_ids))
        keys = [self.queue, self.exported, self.queued, self.failed, self.dropped]
        queued = 0
        for start in range(0, len(users), ENQUEUE_BATCH):
            queued += await self._enqueue(keys=keys, args=users[start : start + ENQUEUE_BATCH])
        return queued

    async def retry_failed(self, user_ids: Iterable[str] | None = None) -> list[str]:
        """Queue failed members again: *user_ids* (failed or dropped), or every failed one.

        Returns those queued; a member named that neither failed nor was dropped is not.
        """
        keys = [self.queue, self.queued, self.failed, self.dropped]
        return await self._in_batches(self._retry, keys, user_ids)

    async def drop_failed(self, user_ids: Iterable[str] | None = None) -> list[str]:
        """Give up on failed members, *user_ids* or every one: `collect()` stops counting them.

        Their failures move to `<job>:dropped`, for the record; `enqueue()`
        skips them, and `retry_failed()` naming them queues them again.
        Returns those dropped; a member named that had not failed is not.
        """
        return await self._in_batches(self._drop, [self.failed, self.dropped], user_ids)

    async def _in_batches(
        self, script: AsyncScript, keys: list[str], user_ids: Iterable[str] | None
    ) -> list[str]:
        """Run *script* on *user_ids* (None: every failed member), a batch at a time."""
        # The scripts check each member again: one that settled meanwhile is left alone.
        users = list(
            dict.fromkeys(await self.client.hkeys(self.failed) if user_ids is None else user_ids)
        )
        done: list[str] = []
        for start in range(0, len(users), ENQUEUE_BATCH):
            done += await script(keys=keys, args=users[start : start + ENQUEUE_BATCH])
        return done

    def reader(self, worker: str, *, claim_idle: float) -> RedisStream:
        """The queue as worker *worker* reads it, taking over entries idle *claim_idle* s."""
        return RedisStream(
            self.client, self.queue, group=GROUP, consumer=worker, claim_idle=claim_idle
        )

    async def settle(self, delivery: Delivery, status: str, value: str) -> bool:
        """Record the member "done" (*value*: its lines) or "failed" and acknowledge it.

        False when it was settled already, by a worker that took it over.
        """
        keys = [self.queue, self.exported, self.failed, self.queued]
        args = [GROUP, delivery.id, delivery.user_id, status, value]
        return bool(await self._settle(keys=keys, args=args))

    async def drained(self) -> bool:
        """Whether no member read from the queue is still pending, in any worker."""
        pending: Any = await self.client.xpending(self.queue, GROUP)
        return bool(pending["pending"] == 0)

    async def collect(self, out: Path) -> Collected:
        """Write every exported member's lines to *out*, replacing it whole."""
        result = Collected()
        partial = out.with_name(out.name + ".partial")
        seen: set[str] = set()
        async with await anyio.open_file(partial, "w", encoding="utf-8") as file:
            async for user_id, lines in self.client.hscan_iter(self.exported, count=100):
                if user_id not in seen:  # a scan may return a field twice
                    seen.add(user_id)
                    await file.write(lines)
                    result.rewards += lines.count("\n")
        await anyio.Path(partial).replace(out)
        result.members = len(seen)
        for key, into in [(self.failed, result.failed), (self.dropped, result.dropped)]:
            records: Any = await self.client.hgetall(key)
            for user_id, record in sorted(records.items()):
                failure = json.loads(record)
                into[user_id] = f"{failure['error']}: {failure['message']}"
        result.unfinished = await self.client.scard(self.queued)
        return result


async def work(
    session: ct.Session,
    job: RedisJob,
    reader: RedisStream,
    *,
    id_type: ct.IdType | ct.IdTypeName | None = None,
    concurrency: int = 4,
) -> ExportResult:
    """Export the job's queued members, *concurrency* at a time, until the queue is drained.

    Returns once nothing is left to read nor pending, in any worker (so it
    waits for, or takes over, what other workers hold). Raises
    AuthenticationError or RateLimiterError (nothing more can succeed),
    leaving the members in flight pending.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    result = ExportResult()

    async def export_one(delivery: Delivery) -> None:
        user_id = delivery.user_id
        try:
            async with session.users.aiter_rewards(user_id, id_type=id_type) as listing:
                lines = [_line(user_id, reward) async for reward in listing]
        except (ct.AuthenticationError, ct.RateLimiterError):
            raise  # not the member's fault: left pending, for a rerun
        except ct.CrowdTwistError as exc:
            error, message = type(exc).__name__, str(exc)
            log.warning("member %s failed: %s: %s", user_id, error, message)
            failure = {
                "error": error,
                "message": message[:MESSAGE_LIMIT],
                "worker": reader.consumer,
            }
            if await job.settle(delivery, "failed", json.dumps(failure)):
                result.failed[user_id] = f"{error}: {message}"
        else:
            if await job.settle(delivery, "done", b"".join(lines).decode()):
                result.exported.append(user_id)
                result.rewards += len(lines)

    async def worker() -> None:
        while True:
            deliveries = await reader.fetch(1)
            if not deliveries and await job.drained():
                return
            for delivery in deliveries:
                await export_one(delivery)

    await run_workers(concurrency, worker)
    return result


# -- running it --------------------------------------------------------------------


def sandbox_session(rate_limit: ct.RateLimiter | None = None) -> ct.Session:
    """A Session on the built-in FakeCrowdTwist: members alice, bob, carol and dave."""
    from crowdtwist_async.testing import FakeCrowdTwist

    # A little latency, as over a network, so the concurrency shows.
    fake = FakeCrowdTwist(seed=0, latency=0.02)
    return ct.Session(
        api_key=fake.api_key,
        base_url=fake.base_url,
        transport=fake.transport(),
        max_concurrency=MAX_REQUESTS,
        rate_limit=rate_limit,
    )


def _session(args: argparse.Namespace, rate_limit: ct.RateLimiter | None = None) -> ct.Session:
    if args.sandbox:
        return sandbox_session(rate_limit)
    return ct.Session(base_url=args.base_url, max_concurrency=MAX_REQUESTS, rate_limit=rate_limit)


async def _run(args: argparse.Namespace, users: list[str]) -> ExportResult:
    session = _session(args)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    async with session:
        with progress:
            return await export(
                session,
                users,
                args.out,
                id_type=args.id_type,
                concurrency=args.concurrency,
                progress=progress,
            )


async def _run_on_redis(args: argparse.Namespace, users: list[str]) -> int:
    from redis.asyncio import Redis

    from crowdtwist_async.redis import RedisRateLimiter

    await wait_for_redis(args.redis, wait=args.redis_wait)
    client = Redis.from_url(args.redis, decode_responses=True)
    try:
        job = RedisJob(client, args.job)
        if args.enqueue:
            queued = await job.enqueue(users)
            print(
                f"queued {queued} members (others exported, dropped or queued already)",
                file=sys.stderr,
            )
            return 0
        if args.collect:
            collected = await job.collect(args.out)
            _report(collected, args.out)
            return 0 if collected.complete else 1
        if args.retry_failed or args.drop_failed:
            return await _retry_or_drop(job, args, users)
        reader = job.reader(args.worker, claim_idle=args.claim_idle)
        await reader.join()
        async with (
            RedisRateLimiter(args.redis, rate=args.rate, key=args.rate_key) as limiter,
            _session(args, rate_limit=limiter) as session,
        ):
            result = await work(
                session, job, reader, id_type=args.id_type, concurrency=args.concurrency
            )
        await reader.leave()
    finally:
        await client.aclose()
    print(
        f"{len(result.exported)} members exported ({result.rewards} rewards), "
        f"{len(result.failed)} failed; the queue is drained",
        file=sys.stderr,
    )
    return 0


def _report(collected: Collected, out: Path) -> None:
    """What `--collect` found, on stderr: every member failed or dropped, and what to do next."""
    print(
        f"{collected.members} members ({collected.rewards} rewards) written to {out}, "
        f"{len(collected.failed)} failed, {len(collected.dropped)} dropped, "
        f"{collected.unfinished} unfinished",
        file=sys.stderr,
    )
    for user_id, error in collected.failed.items():
        print(f"  failed: {user_id}: {error}", file=sys.stderr)
    for user_id, error in collected.dropped.items():
        print(f"  dropped: {user_id}: {error}", file=sys.stderr)
    if collected.failed:
        print(
            f"not complete: {len(collected.failed)} failed. With the same --redis and --job, "
            "try them again (--retry-failed, or --retry-failed MEMBER...), start workers and "
            "--collect again; or give up on them (--drop-failed MEMBER..., or --drop-failed "
            "--all)",
            file=sys.stderr,
        )
    if collected.unfinished:
        print(
            f"not complete: {collected.unfinished} still queued or in flight. Start workers "
            "(or let them finish), then --collect again",
            file=sys.stderr,
        )


async def _retry_or_drop(job: RedisJob, args: argparse.Namespace, users: list[str]) -> int:
    """`--retry-failed` or `--drop-failed`: 0 if every member named was failed (or dropped)."""
    named = users or None
    if args.retry_failed:
        done = await job.retry_failed(named)
        what, others = "queued again", "neither failed nor dropped"
        after = "start workers, then --collect"
    else:
        done = await job.drop_failed(named)
        what, others = "dropped", "not failed"
        after = "--collect leaves them out; --retry-failed MEMBER queues one again"
    if done:
        print(f"{what} ({len(done)}): {_listed(done)}; {after}", file=sys.stderr)
    else:
        print(f"{what}: none", file=sys.stderr)
    missed = [user for user in users if user not in set(done)]
    if missed:
        print(f"{others}, so left as they are: {_listed(missed)}", file=sys.stderr)
    return 1 if missed else 0


def _listed(user_ids: Sequence[str], shown: int = 20) -> str:
    """The members, the first *shown* of them: one line, however many."""
    more = f" and {len(user_ids) - shown} more" if len(user_ids) > shown else ""
    return ", ".join(user_ids[:shown]) + more


def _main_on_redis(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    users = _members(args)
    if args.enqueue and not users:
        parser.error("no members to enqueue: give USER_IDs or --users-file")
    if users and not (args.enqueue or args.retry_failed or args.drop_failed):
        parser.error(
            "with --redis, members come from the queue: give them with --enqueue "
            "(or name failed ones with --retry-failed or --drop-failed)"
        )
    if args.all and not (args.retry_failed or args.drop_failed):
        parser.error("--all goes with --retry-failed or --drop-failed")
    if args.all and users:
        parser.error("name the members, or give --all: not both")
    if args.drop_failed and not (users or args.all):
        parser.error("--drop-failed needs the members to drop (USER_IDs, --users-file), or --all")
    if args.collect != (args.out is not None):
        parser.error("with --redis, --out goes with --collect, and --collect needs it")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    # httpx logs every request at INFO: noise here (the SDK masks the key in it).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return anyio.run(_run_on_redis, args, users)
    except RedisUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_REDIS
    except (ct.AuthenticationError, ct.RateLimiterError) as exc:
        print(f"stopped: {exc}; its members stay pending: rerun the job", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _members(args: argparse.Namespace) -> list[str]:
    users = list(args.user_ids)
    if args.users_file is not None:
        users += [line.strip() for line in args.users_file.read_text().splitlines()]
    return [user for user in users if user]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the export; the exit status is 0 once every member is exported.

    With --redis: enqueue (0), work until the queue is drained (0), collect
    (0 once every member queued was exported or dropped), retry or drop
    failed members (0 when every member named was failed); 3 when Redis did
    not answer within --redis-wait seconds at start.
    """
    parser = argparse.ArgumentParser(
        description="Export members' rewards to one NDJSON file; rerun to resume."
    )
    parser.add_argument("user_ids", nargs="*", metavar="USER_ID", help="members to export")
    parser.add_argument("--users-file", type=Path, help="more members, one per line")
    parser.add_argument("--out", type=Path, help="the NDJSON file to write (required)")
    parser.add_argument("--id-type", choices=[t.value for t in ct.IdType], help="what ids are")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="members at a time (default: %(default)s)"
    )
    parser.add_argument(
        "--sandbox", action="store_true", help="use the built-in FakeCrowdTwist, no account"
    )
    parser.add_argument(
        "--base-url", help="e.g. https://api123.crowdtwist.com (default: $CROWDTWIST_BASE_URL)"
    )
    on_redis = parser.add_argument_group("across processes, on Redis")
    on_redis.add_argument(
        "--redis", metavar="URL", help="share the job between workers: redis://host:port/db"
    )
    step = on_redis.add_mutually_exclusive_group()
    step.add_argument(
        "--enqueue", action="store_true", help="queue the members (USER_IDs, --users-file), exit"
    )
    step.add_argument(
        "--collect", action="store_true", help="write what was exported to --out, exit"
    )
    step.add_argument(
        "--retry-failed",
        action="store_true",
        help="queue failed members again (those named, dropped ones too; else every failed one)",
    )
    step.add_argument(
        "--drop-failed",
        action="store_true",
        help="give up on failed members (those named, or --all): --collect then leaves them out",
    )
    on_redis.add_argument(
        "--all",
        action="store_true",
        help="with --drop-failed (or --retry-failed): every failed member",
    )
    on_redis.add_argument(
        "--job", default="batch-export", help="the prefix of the job's keys (default: %(default)s)"
    )
    on_redis.add_argument(
        "--worker",
        default=f"{socket.gethostname()}-{os.getpid()}",
        help="this worker's name in the group (default: host-pid)",
    )
    on_redis.add_argument(
        "--claim-idle",
        type=_positive,
        default=60.0,
        help="take over others' members pending this many seconds (default: 60)",
    )
    on_redis.add_argument(
        "--rate",
        type=_positive,
        default=10.0,
        help="requests a second, for all workers together (default: 10)",
    )
    on_redis.add_argument(
        "--rate-key",
        default="crowdtwist:rate",
        help="the Redis key of the shared rate limit (default: %(default)s)",
    )
    add_redis_wait(on_redis.add_argument)
    args = parser.parse_args(argv)
    if args.redis is not None:
        return _main_on_redis(parser, args)
    if args.enqueue or args.collect or args.retry_failed or args.drop_failed or args.all:
        parser.error("--enqueue, --collect, --retry-failed, --drop-failed and --all need --redis")
    if args.out is None:
        parser.error("the following arguments are required: --out")
    users = _members(args)
    if not users:
        parser.error("no members: give USER_IDs or --users-file")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    try:
        result = anyio.run(_run, args, users)
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ct.AuthenticationError as exc:
        print(f"stopped: {exc}; fix the key and rerun to resume", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; rerun to resume", file=sys.stderr)
        return 130
    print(
        f"{len(result.exported)} members exported ({result.rewards} rewards), "
        f"{len(result.skipped)} already done, {len(result.failed)} failed",
        file=sys.stderr,
    )
    for user_id, error in result.failed.items():
        print(f"  failed: {user_id}: {error}", file=sys.stderr)
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())
