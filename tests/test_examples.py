"""The examples in examples/, run against FakeCrowdTwist.

The web app is driven as an ASGI server drives it (lifespan, then requests,
recording each body chunk as it is sent), the batch export and the consumer
are called with Sessions on the fake's in-process transport, on asyncio and
trio. Two scripts are also run as a user would run them, with `--sandbox`.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import ObjectSendStream
from rich.console import Console
from rich.progress import Progress
from starlette.applications import Starlette

import crowdtwist_async as ct
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist, RecordedRequest
from examples import batch_export, event_consumer, webapp
from examples.batch_export import export

ALICE = SANDBOX_EMAIL
BOB = "bob@example.com"
CAROL = "carol@example.com"  # a member with no rewards and no coupons
DAVE = "dave@example.com"
NOBODY = "nobody@example.com"  # not a member
SECRET = "sk-examples-Vb93Kq"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

Message = MutableMapping[str, Any]


@pytest.fixture
def fake() -> FakeCrowdTwist:
    # A millisecond per response, so concurrent requests really overlap.
    return FakeCrowdTwist(seed=0, api_key=SECRET, latency=0.001)


def session_on(fake: FakeCrowdTwist, **options: Any) -> ct.Session:
    return ct.Session(
        api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport(), **options
    )


def reward_ids(fake: FakeCrowdTwist, email: str) -> list[str]:
    """The member's in-stock reward ids, in listing order, from the fake's own records."""
    member = next(user for user in fake.users if user.email == email)
    return [str(record["id"]) for record in member.rewards if record["current_quantity"] != 0]


def member_of(request: RecordedRequest) -> str:
    return request.path.split("/")[3]  # /v2.1/users/{user_id}/rewards


def requested(fake: FakeCrowdTwist, email: str) -> int:
    """How many requests the fake answered about the member."""
    return sum(fnmatchcase(request.path, f"*/users/{email}/*") for request in fake.requests)


# -- the web app ---------------------------------------------------------------


@dataclass
class Reply:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    #: How many requests the fake had answered when each chunk was sent.
    answered_at_chunk: list[int] = field(default_factory=list)
    complete: bool = False

    def json(self) -> Any:
        return json.loads(b"".join(self.chunks))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    """Start *app* and later stop it, as a server does; yield the state it shares with requests."""
    state: dict[str, Any] = {}
    scope: Message = {
        "type": "lifespan",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "state": state,
    }
    to_app, app_inbox = anyio.create_memory_object_stream[Message](1)
    app_outbox, from_app = anyio.create_memory_object_stream[Message](1)
    with to_app, app_inbox, app_outbox, from_app:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(app, scope, app_inbox.receive, app_outbox.send)
            await to_app.send({"type": "lifespan.startup"})
            assert await from_app.receive() == {"type": "lifespan.startup.complete"}
            yield state
            await to_app.send({"type": "lifespan.shutdown"})
            assert await from_app.receive() == {"type": "lifespan.shutdown.complete"}


async def get(
    app: Starlette,
    state: dict[str, Any],
    fake: FakeCrowdTwist,
    path: str,
    query: str = "",
    reply: Reply | None = None,
) -> Reply:
    """GET *path* from *app*, into *reply* if given (it then holds what was sent before an error)."""
    reply = Reply() if reply is None else reply
    asked = False

    async def receive() -> Message:
        nonlocal asked
        if asked:  # the client stays connected
            await anyio.sleep_forever()
        asked = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = {k.decode(): v.decode() for k, v in message["headers"]}
            return
        if message["body"]:
            reply.chunks.append(message["body"])
            reply.answered_at_chunk.append(len(fake.requests))
        reply.complete = not message.get("more_body", False)

    scope: Message = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": dict(state),
    }
    await app(scope, receive, send)
    return reply


@pytest.mark.anyio
async def test_webapp_streams_every_reward_in_order(fake: FakeCrowdTwist) -> None:
    sessions: list[ct.Session] = []

    def make_session() -> ct.Session:
        sessions.append(session_on(fake))
        return sessions[-1]

    app = webapp.create_app(make_session)
    async with lifespan(app) as state:
        reply = await get(app, state, fake, f"/users/{ALICE}/rewards", "id_type=email")
        async with session_on(fake) as session:
            expected = [r.id async for r in session.users.aiter_rewards(ALICE, id_type="email")]

    assert (reply.status, reply.headers["content-type"], reply.complete) == (
        200,
        "application/json",
        True,
    )
    body = reply.json()
    assert [reward["id"] for reward in body] == expected == reward_ids(fake, ALICE)
    assert len(set(expected)) == 203
    assert body[0]["date_start"].endswith("+00:00")  # a datetime, written as ISO 8601
    # One chunk per reward, then the closing bracket.
    assert len(reply.chunks) == 204
    assert reply.chunks[-1] == b"\n]\n"
    # It streamed: the first reward went out while most of the 21 pages were
    # not fetched yet (at most 2 x max_concurrency are fetched ahead of it).
    assert reply.answered_at_chunk[0] <= 1 + 2 * sessions[0].max_concurrency
    assert reply.answered_at_chunk[-1] == 21
    # The one Session, made by the lifespan, was closed when the app stopped.
    assert len(sessions) == 1
    assert sessions[0].closed


@pytest.mark.anyio
async def test_webapp_maps_errors_to_statuses(fake: FakeCrowdTwist) -> None:
    # Longer than the SDK will wait, so the RateLimitError reaches the app.
    fake.script(429, headers={"Retry-After": "120"}, path=f"*/{DAVE}/rewards")
    fake.script(500, path=f"*/{BOB}/rewards")
    app = webapp.create_app(lambda: session_on(fake, max_retries=0))
    async with lifespan(app) as state:
        unknown = await get(app, state, fake, f"/users/{NOBODY}/rewards", "id_type=email")
        bad_id_type = await get(app, state, fake, f"/users/{ALICE}/rewards", "id_type=shoe_size")
        empty = await get(app, state, fake, f"/users/{CAROL}/rewards", "id_type=email")
        limited = await get(app, state, fake, f"/users/{DAVE}/rewards", "id_type=email")
        failing = await get(app, state, fake, f"/users/{BOB}/rewards", "id_type=email")

    assert (unknown.status, unknown.headers["content-type"]) == (404, "application/json")
    assert unknown.json() == {"error": "not_found", "message": "no such member"}
    assert bad_id_type.status == 400
    assert bad_id_type.json()["error"] == "bad_request"
    assert "'shoe_size'" in bad_id_type.json()["message"]
    assert (empty.status, empty.json()) == (200, [])
    assert (limited.status, limited.headers["retry-after"]) == (503, "120")
    assert limited.json()["error"] == "busy"
    assert (failing.status, failing.json()["error"]) == (502, "upstream_error")
    # The bad id_type was refused before any request.
    assert [request.path for request in fake.requests] == [
        f"/v2.1/users/{member}/rewards" for member in (NOBODY, CAROL, DAVE, BOB)
    ]


@pytest.mark.anyio
async def test_webapp_answers_502_without_the_key_when_it_is_refused(
    fake: FakeCrowdTwist, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_key = "sk-live-Wr0ngKey77"
    app = webapp.create_app(
        lambda: ct.Session(api_key=wrong_key, base_url=fake.base_url, transport=fake.transport())
    )
    async with lifespan(app) as state:
        reply = await get(app, state, fake, f"/users/{ALICE}/rewards", "id_type=email")

    assert reply.status == 502
    assert reply.json() == {
        "error": "upstream_auth",
        "message": "the rewards service refused our credentials",
    }
    assert "AuthenticationError" in caplog.text
    assert wrong_key not in caplog.text


@pytest.mark.anyio
async def test_webapp_cuts_a_stream_short_when_a_later_page_fails(fake: FakeCrowdTwist) -> None:
    fake.script(500, json={"error": "internal_error", "message": "boom"}, page=5)
    app = webapp.create_app(lambda: session_on(fake, max_retries=0))
    reply = Reply()
    async with lifespan(app) as state:
        with pytest.raises(ct.ServerError):
            await get(app, state, fake, f"/users/{ALICE}/rewards", "id_type=email", reply)

    # The rewards of pages 1-4 went out with the 200. Nothing a client could
    # take for the whole listing: the body was never finished, its array not closed.
    assert (reply.status, len(reply.chunks)) == (200, 40)
    assert not reply.complete
    with pytest.raises(json.JSONDecodeError):
        reply.json()


# -- the batch export --------------------------------------------------------------


def exported(path: Path) -> dict[str, list[str]]:
    """The reward ids of each member in the file, in file order.

    Fails if a line is not JSON, or if a member's lines are not together.
    """
    members: dict[str, list[str]] = {}
    last = None
    for line in path.read_text().splitlines():
        record = json.loads(line)
        user_id = record["user_id"]
        assert user_id == last or user_id not in members, f"{user_id}'s lines are split"
        members.setdefault(user_id, []).append(record["reward"]["id"])
        last = user_id
    return members


def journal(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in batch_export.journal_path(path).read_text().splitlines()]


def quiet_progress() -> Progress:
    return Progress(console=Console(file=io.StringIO()))


@pytest.mark.anyio
async def test_export_writes_every_reward_once(fake: FakeCrowdTwist, tmp_path: Path) -> None:
    out = tmp_path / "rewards.ndjson"
    arrivals: list[str] = []

    def spy(request: RecordedRequest) -> bool:
        arrivals.append(member_of(request))
        return False

    # A script that never matches sees every request as it arrives.
    fake.script(when=spy)
    # Alice's 21 pages must outlast the other members' single pages and the
    # thread each commit takes, even on a loaded machine, for 2 to overlap.
    fake.latency = 0.02
    progress = quiet_progress()
    async with session_on(fake, max_concurrency=3) as session:
        result = await export(
            session,
            [ALICE, BOB, CAROL, NOBODY, BOB],
            out,
            id_type="email",
            concurrency=2,
            progress=progress,
        )

    assert sorted(result.exported) == [ALICE, BOB, CAROL]
    assert list(result.failed) == [NOBODY]
    assert result.failed[NOBODY].startswith("NotFoundError: ")
    assert result.rewards == 203 + 6
    assert exported(out) == {ALICE: reward_ids(fake, ALICE), BOB: reward_ids(fake, BOB)}
    statuses = {(entry["user_id"], entry["status"]) for entry in journal(out)}
    assert statuses == {(ALICE, "done"), (BOB, "done"), (CAROL, "done"), (NOBODY, "failed")}
    (task,) = progress.tasks
    assert (task.completed, task.total) == (4, 4)
    # Bob, listed twice, was read once.
    assert requested(fake, BOB) == 1
    # Never more than 2 members at a time, and 2 did overlap; never more
    # than the Session's 3 requests in flight.
    spans: dict[str, tuple[int, int]] = {}
    for index, member in enumerate(arrivals):
        spans[member] = (spans.get(member, (index, index))[0], index)
    overlap = max(sum(s[0] <= i <= s[1] for s in spans.values()) for i in range(len(arrivals)))
    assert overlap == 2
    assert fake.max_in_flight <= 3


@pytest.mark.anyio
async def test_export_resumes_after_a_crash(fake: FakeCrowdTwist, tmp_path: Path) -> None:
    out = tmp_path / "rewards.ndjson"
    members = [ALICE, BOB, CAROL, DAVE]
    # The key is revoked by the time Dave's turn comes: nothing can succeed.
    fake.script(
        403,
        json={"error": "invalid_auth", "message": "Invalid access credentials."},
        path=f"*/{DAVE}/rewards",
    )
    async with session_on(fake) as session:
        with pytest.raises(ct.AuthenticationError):
            await export(session, members, out, id_type="email", concurrency=1)
    assert exported(out) == {ALICE: reward_ids(fake, ALICE), BOB: reward_ids(fake, BOB)}

    fake.requests.clear()
    async with session_on(fake) as session:
        result = await export(session, members, out, id_type="email", concurrency=1)

    assert (result.skipped, result.exported, result.failed) == ([ALICE, BOB, CAROL], [DAVE], {})
    assert {request.path for request in fake.requests} == {f"/v2.1/users/{DAVE}/rewards"}
    assert exported(out) == {
        ALICE: reward_ids(fake, ALICE),
        BOB: reward_ids(fake, BOB),
        DAVE: reward_ids(fake, DAVE),
    }


@pytest.mark.anyio
async def test_export_resumes_after_being_cancelled_and_killed(
    fake: FakeCrowdTwist, tmp_path: Path
) -> None:
    out = tmp_path / "rewards.ndjson"
    members = [ALICE, BOB, CAROL, DAVE]
    # Alice's listing stalls halfway (the SDK waits 30 s to retry page 10),
    # so it is still being read when the job is stopped.
    fake.script(
        503, json={"error": "busy", "message": "busy"}, headers={"Retry-After": "30"}, page=10
    )
    progress = quiet_progress()
    async with session_on(fake) as session, anyio.create_task_group() as tasks:
        tasks.start_soon(
            lambda: export(session, members, out, id_type="email", concurrency=2, progress=progress)
        )
        with anyio.fail_after(5):
            while not progress.tasks or progress.tasks[0].completed < 3:
                await anyio.sleep(0.005)
        tasks.cancel_scope.cancel()
    assert ALICE not in exported(out)
    assert {entry["user_id"] for entry in journal(out)} == {BOB, CAROL, DAVE}

    # Then a run killed after writing Alice's rewards but before journaling
    # them, and while appending the next journal line.
    with out.open("ab") as file:
        file.write(
            out.read_bytes().splitlines(keepends=True)[0].replace(BOB.encode(), ALICE.encode())
        )
        file.write(b'{"user_id": "alice@exa')
    with batch_export.journal_path(out).open("ab") as file:
        file.write(b'{"user_id": "alice@example.com", "status": "do')

    fake.requests.clear()
    async with session_on(fake) as session:
        result = await export(session, members, out, id_type="email", concurrency=2)

    assert (result.exported, result.skipped) == ([ALICE], [BOB, CAROL, DAVE])
    assert requested(fake, ALICE) == 21
    assert len(fake.requests) == 21
    assert exported(out) == {
        BOB: reward_ids(fake, BOB),
        DAVE: reward_ids(fake, DAVE),
        ALICE: reward_ids(fake, ALICE),
    }
    assert Counter(entry["user_id"] for entry in journal(out)) == {
        ALICE: 1,
        BOB: 1,
        CAROL: 1,
        DAVE: 1,
    }


@pytest.mark.anyio
async def test_export_refuses_to_overwrite_a_file_it_did_not_write(
    fake: FakeCrowdTwist, tmp_path: Path
) -> None:
    out = tmp_path / "rewards.ndjson"
    out.write_text("precious\n")
    async with session_on(fake) as session:
        with pytest.raises(batch_export.OutputError):
            await export(session, [ALICE], out, id_type="email")
    assert out.read_text() == "precious\n"
    assert fake.requests == []


def run_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_export_script_on_the_sandbox(tmp_path: Path) -> None:
    out = tmp_path / "rewards.ndjson"
    args = ("--sandbox", "--id-type", "email", "--out", str(out), ALICE, BOB, NOBODY)
    first = run_script("batch_export.py", *args)
    again = run_script("batch_export.py", *args)

    assert first.returncode == again.returncode == 1
    assert "2 members exported (209 rewards), 0 already done, 1 failed" in first.stderr
    assert f"failed: {NOBODY}: NotFoundError: " in first.stderr
    assert "0 members exported (0 rewards), 2 already done, 1 failed" in again.stderr
    assert len(out.read_text().splitlines()) == 209


# -- the event consumer ------------------------------------------------------------


def usable_codes(fake: FakeCrowdTwist, email: str) -> list[str]:
    """The codes of the member's unused, unexpired coupons, from the fake's own records."""
    member = next(user for user in fake.users if user.email == email)
    now = int(fake.now.timestamp())
    return [c.record["code"] for c in member.coupons if not c.used and not c.is_expired(now)]


class Recorder:
    """A `process` step that records the codes it was given, per member."""

    def __init__(self) -> None:
        self.codes: dict[str, list[str]] = {}

    async def __call__(self, user_id: str, coupons: tuple[ct.UsableCoupon, ...]) -> None:
        self.codes[user_id] = [coupon.code for coupon in coupons]


async def feed(send: ObjectSendStream[str], events: Sequence[str]) -> None:
    async with send:
        for event in events:
            await send.send(event)


@pytest.mark.anyio
async def test_consumer_survives_failing_members_and_drains(
    fake: FakeCrowdTwist, caplog: pytest.LogCaptureFixture
) -> None:
    erin = fake.add_user(email="erin@example.com")
    fake.add_coupon(erin)
    retry_now = {"Retry-After": "0"}
    # Erin's lookups fail past the SDK's one retry; Bob's first attempt fails, the retry works.
    for _ in range(2):
        fake.script(
            500,
            json={"error": "internal_error", "message": "boom"},
            headers=retry_now,
            path="*/erin@example.com/*",
        )
    fake.script(
        503, json={"error": "busy", "message": "busy"}, headers=retry_now, path=f"*/{BOB}/*"
    )
    events = [ALICE, NOBODY, "erin@example.com", BOB, "", CAROL, DAVE]
    recorder = Recorder()

    send, receive = anyio.create_memory_object_stream[str](2)
    async with session_on(fake, max_retries=1) as session:
        consumer = event_consumer.Consumer(
            session, process=recorder, concurrency=2, id_type="email"
        )
        with receive, anyio.fail_after(5):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(feed, send, events)
                # Returns once the producer has closed its side and every event is done.
                await consumer.run(receive)

    assert (consumer.handled, consumer.failed, consumer.unfinished) == (4, 3, [])
    assert {(d.user_id, d.error) for d in consumer.dead_letters} == {
        (NOBODY, "NotFoundError"),
        ("erin@example.com", "ServerError"),
        ("", "ValueError"),
    }
    # The members after the failures were handled too, with their real coupons.
    assert recorder.codes == {
        ALICE: usable_codes(fake, ALICE),
        BOB: usable_codes(fake, BOB),
        CAROL: [],
        DAVE: [],
    }
    assert len(recorder.codes[ALICE]) == 3
    assert requested(fake, "erin@example.com") == 2
    assert requested(fake, BOB) == 2
    assert fake.max_in_flight == 2
    assert "NotFoundError" in caplog.text
    assert "ServerError" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.anyio
async def test_consumer_stop_finishes_work_in_flight(fake: FakeCrowdTwist) -> None:
    both_started = anyio.Event()
    started: list[str] = []

    async def slow(user_id: str, coupons: tuple[ct.UsableCoupon, ...]) -> None:
        started.append(user_id)
        if len(started) == 2:
            both_started.set()
        await anyio.sleep(0.05)

    send, receive = anyio.create_memory_object_stream[str](10)
    async with session_on(fake) as session:
        consumer = event_consumer.Consumer(session, process=slow, concurrency=2, grace=5.0)
        with send, receive, anyio.fail_after(2):
            for user_id in ("1001", "1002", "1003", "1004"):
                send.send_nowait(user_id)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(consumer.run, receive)
                await both_started.wait()
                consumer.stop()
            # Stopped taking events: the other two stay in the stream.
            assert receive.statistics().current_buffer_used == 2

    assert sorted(started) == ["1001", "1002"]
    assert (consumer.handled, consumer.failed, consumer.unfinished) == (2, 0, [])


@pytest.mark.anyio
async def test_consumer_stop_cancels_work_that_outlasts_the_grace(fake: FakeCrowdTwist) -> None:
    stuck = anyio.Event()

    async def hangs_on_alice(user_id: str, coupons: tuple[ct.UsableCoupon, ...]) -> None:
        if user_id == ALICE:
            stuck.set()
            await anyio.sleep_forever()

    send, receive = anyio.create_memory_object_stream[str](10)
    async with session_on(fake) as session:
        consumer = event_consumer.Consumer(
            session, process=hangs_on_alice, concurrency=2, grace=0.1, id_type="email"
        )
        with send, receive, anyio.fail_after(2):
            send.send_nowait(ALICE)
            send.send_nowait(BOB)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(consumer.run, receive)
                await stuck.wait()
                stopped_at = anyio.current_time()
                consumer.stop()
            waited = anyio.current_time() - stopped_at

    assert 0.1 <= waited < 1.0
    assert (consumer.handled, consumer.failed, consumer.unfinished) == (1, 0, [ALICE])


@pytest.mark.slow
def test_consumer_script_on_the_sandbox() -> None:
    result = run_script("event_consumer.py", "--sandbox", "--id-type", "email", ALICE, NOBODY, BOB)

    assert result.returncode == 1
    assert "handled 2, failed 1, unfinished 0" in result.stderr
    assert f"member {NOBODY} failed: NotFoundError: " in result.stderr
    assert "sandbox-api-key" not in result.stderr
