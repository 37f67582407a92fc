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
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import anyio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import crowdtwist_async as ct

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
        stopped_by: list[Exception] = []

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
            try:
                # The workers share one iterator, so each member is taken once.
                for user_id in pending:
                    await export_one(user_id)
            except Exception as exc:
                # Stop every worker, and raise it from export() as it is
                # rather than inside the task group's ExceptionGroup.
                stopped_by.append(exc)
                workers.cancel_scope.cancel()

        async with anyio.create_task_group() as workers:
            for _ in range(concurrency):
                workers.start_soon(worker)
        if stopped_by:
            raise stopped_by[0]
        return result
    finally:
        output.close()


def _line(user_id: str, reward: ct.Reward) -> bytes:
    record = {"user_id": user_id, "reward": ct.to_dict(reward)}
    return json.dumps(record, ensure_ascii=False).encode() + b"\n"


def sandbox_session() -> ct.Session:
    """A Session on the built-in FakeCrowdTwist: members alice, bob, carol and dave."""
    from crowdtwist_async.testing import FakeCrowdTwist

    # A little latency, as over a network, so the concurrency shows.
    fake = FakeCrowdTwist(seed=0, latency=0.02)
    return ct.Session(
        api_key=fake.api_key,
        base_url=fake.base_url,
        transport=fake.transport(),
        max_concurrency=MAX_REQUESTS,
    )


async def _run(args: argparse.Namespace, users: list[str]) -> ExportResult:
    session = sandbox_session() if args.sandbox else ct.Session(max_concurrency=MAX_REQUESTS)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the export; the exit status is 0 once every member is exported."""
    parser = argparse.ArgumentParser(
        description="Export members' rewards to one NDJSON file; rerun to resume."
    )
    parser.add_argument("user_ids", nargs="*", metavar="USER_ID", help="members to export")
    parser.add_argument("--users-file", type=Path, help="more members, one per line")
    parser.add_argument("--out", type=Path, required=True, help="the NDJSON file to write")
    parser.add_argument("--id-type", choices=[t.value for t in ct.IdType], help="what ids are")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="members at a time (default: %(default)s)"
    )
    parser.add_argument(
        "--sandbox", action="store_true", help="use the built-in FakeCrowdTwist, no account"
    )
    args = parser.parse_args(argv)
    users = list(args.user_ids)
    if args.users_file is not None:
        users += [line.strip() for line in args.users_file.read_text().splitlines()]
    users = [user for user in users if user]
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
