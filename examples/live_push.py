"""Live Push in: CrowdTwist's events into a Redis Stream, for the event consumer.

CrowdTwist's Live Push POSTs each event of five feeds to an endpoint of the
program's, one URL per feed, and retries what did not get a 2xx (five times
an hour for eight hours). The home, end to end:

    CrowdTwist --POST /<feed>--> receiver (uvicorn) --once per delivery--> Redis Stream
        --consumer group--> examples/event_consumer.py --SDK calls--> results / dead letters

- `receive` serves `push.receiver` with a `push.RedisStreamSink`: each
  delivery is answered 200 only once it is in the stream, once per
  `delivery_key` (a retried delivery, or one that reached two receivers, is
  added once), and 503 when Redis cannot take it, so CrowdTwist tries again.
  Credentials are required: HTTP Basic (`--basic-auth USER:PASSWORD`, or
  better `$CROWDTWIST_PUSH_BASIC_AUTH`, kept out of `ps`) and/or the
  `x-api-key` value (`--api-key`, or `$CROWDTWIST_PUSH_API_KEY`); both given,
  both are required. They are never printed. Serve it behind TLS, and give
  CrowdTwist `https://<host>/user_redemption`, `/user_activity`,
  `/user_profile`, `/points_expiration`, `/user_segmentation`.
- `examples/event_consumer.py --redis URL --stream S` handles the entries:
  a redemption reads the member's points and usable coupons, an activity the
  member's points, the other feeds are recorded as seen; each entry ends
  once in `<stream>:results` or `<stream>:dead-letters`. Start as many as you
  like; one killed, the others take over what it held.
- `--sandbox` runs all of it in one process against a FakeCrowdTwist (no
  account, no network; it needs a Redis): the fake served on a loopback
  port, the receiver on another, one consumer; a Session redeems and credits
  for the sample members, the fake pushes each write (as CrowdTwist would,
  in compressed time); when every delivery is delivered and every entry
  settled, it prints what was read and a summary, and exits 0. It uses a
  stream of its own (`live-push-sandbox:<random>`) and deletes it after.

Run it (`pip install "crowdtwist-async[examples,redis,serve]"`):

    python examples/live_push.py --sandbox --redis redis://localhost:6379/0

    export CROWDTWIST_PUSH_BASIC_AUTH=crowdtwist:a-long-random-password
    python examples/live_push.py receive --redis redis://localhost:6379/0 \\
        --stream crowdtwist:events --host 127.0.0.1 --port 8080
    export CROWDTWIST_API_KEY=... CROWDTWIST_BASE_URL=https://api123.crowdtwist.com
    python examples/event_consumer.py --redis redis://localhost:6379/0 --stream crowdtwist:events

`receive` exits 0 on SIGTERM or Ctrl-C, 2 for missing or malformed
credentials, 3 when Redis did not answer within `--redis-wait` seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import uvicorn

import crowdtwist_async as ct
from crowdtwist_async import push

# The consumer, and the wait for Redis at start, are the event consumer's.
if TYPE_CHECKING or __package__:  # imported as examples.live_push
    from .event_consumer import (
        EXIT_NO_REDIS,
        Consumer,
        RedisStream,
        RedisUnavailable,
        add_redis_wait,
        wait_for_redis,
    )
else:  # run as a script, whose folder is on sys.path
    from event_consumer import (
        EXIT_NO_REDIS,
        Consumer,
        RedisStream,
        RedisUnavailable,
        add_redis_wait,
        wait_for_redis,
    )

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from crowdtwist_async.testing import FakeCrowdTwist, LivePush

log = logging.getLogger(__name__)

#: Where the credentials come from when not given as options.
BASIC_AUTH_ENV = "CROWDTWIST_PUSH_BASIC_AUTH"
API_KEY_ENV = "CROWDTWIST_PUSH_API_KEY"

#: The stream, and the consumer group, both examples use by default.
STREAM = "member-events"
GROUP = "crowdtwist"

#: The sandbox plays CrowdTwist's 12 minutes between tries in a tenth of a second.
SANDBOX_TIME_FACTOR = 7_200.0

#: A deadlock guard for the sandbox: its few events take well under a second.
SANDBOX_TIMEOUT = 120.0

#: What the sandbox's Session does: per member (CrowdTwist id), two credits
#: of "Shared a link" and a redemption of the coupon reward (500 points).
#: carol (1003) has no points: her redemption is refused, and pushes nothing.
SANDBOX_MEMBERS = (1001, 1002, 1003, 1004)
SANDBOX_ACTIVITY = "225"
SANDBOX_REWARD = "453901"


class CredentialsError(ValueError):
    """No credentials, or malformed ones (the message never quotes them)."""


def credentials(
    basic_auth: str | None, api_key: str | None
) -> tuple[tuple[str, str] | None, str | None]:
    """The receiver's `basic_auth` and `api_key`, from the options or else the environment."""
    text = basic_auth or os.environ.get(BASIC_AUTH_ENV) or None
    basic: tuple[str, str] | None = None
    if text is not None:
        username, colon, password = text.partition(":")
        if not (colon and username and password):
            raise CredentialsError(f"--basic-auth (or ${BASIC_AUTH_ENV}) must be USER:PASSWORD")
        basic = (username, password)
    key = api_key or os.environ.get(API_KEY_ENV) or None
    if basic is None and key is None:
        raise CredentialsError(
            f"give credentials: --basic-auth USER:PASSWORD (or ${BASIC_AUTH_ENV}) "
            f"and/or --api-key KEY (or ${API_KEY_ENV}); a receiver without them "
            "would take events from anyone"
        )
    return basic, key


# -- receiving ---------------------------------------------------------------------


def _config(app: push.Receiver, **options: Any) -> uvicorn.Config:
    # Our logging, not uvicorn's; no access log: the receiver logs each
    # delivery itself (feed, status, duration; nothing personal at INFO).
    return uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", **options)


async def receive(
    redis_url: str,
    *,
    stream: str,
    host: str,
    port: int,
    basic_auth: tuple[str, str] | None,
    api_key: str | None,
) -> None:
    """Serve the receiver on *host*:*port* into *stream*, until SIGTERM or Ctrl-C."""
    async with push.RedisStreamSink(redis_url, stream=stream) as sink:
        app = push.receiver(sink, basic_auth=basic_auth, api_key=api_key)
        server = _InProcessServer(_config(app, host=host, port=port))
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_exit_on_signal, server)
            await server.serve()
            tasks.cancel_scope.cancel()


async def _exit_on_signal(server: uvicorn.Server) -> None:
    # Ours, not uvicorn's: uvicorn re-raises the signal once stopped, and the
    # process would die of it instead of exiting 0.
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            server.should_exit = True  # finishes the deliveries in flight, then stops
            return


class _InProcessServer(uvicorn.Server):
    """A uvicorn server that leaves the signals to the program it runs in."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # the name in uvicorn before 0.29
        pass


@contextlib.asynccontextmanager
async def serving(app: push.Receiver, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """*app* served by uvicorn in this process on a free port of *host*; its URL."""
    sock = socket.create_server((host, 0))
    server = _InProcessServer(_config(app))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.serve, [sock])
        while not server.started:  # noqa: ASYNC110 (uvicorn sets a flag, no event)
            await anyio.sleep(0.01)
        try:
            yield f"http://{host}:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True


# -- the sandbox -------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What a sandbox run did."""

    pushed: int
    delivered: int
    attempts: int
    given_up: int
    entries: int
    results: int
    dead_letters: int

    @property
    def retried(self) -> int:
        """Attempts beyond each delivery's first."""
        return self.attempts - self.pushed

    def __str__(self) -> str:
        return (
            f"events pushed {self.pushed}, delivered {self.delivered} "
            f"(attempts {self.attempts}, retried {self.retried}, given up {self.given_up}); "
            f"stream entries {self.entries}; results {self.results}, "
            f"dead letters {self.dead_letters}"
        )


async def summary(client: Redis, stream: str, pusher: LivePush) -> Summary:
    """The counts of *pusher*'s run into *stream* (a consumer's results and dead letters)."""
    return Summary(
        pushed=len(pusher.deliveries),
        delivered=len(pusher.delivered),
        attempts=len(pusher.attempts),
        given_up=len(pusher.given_up),
        entries=await client.xlen(stream),
        results=await client.hlen(f"{stream}:results"),
        dead_letters=await client.xlen(f"{stream}:dead-letters"),
    )


async def until_settled(client: Redis, stream: str, group: str = GROUP) -> None:
    """Return once every entry of *stream* is in its results or dead letters, none pending."""
    while True:
        entries = await client.xlen(stream)
        settled = await client.hlen(f"{stream}:results") + await client.xlen(
            f"{stream}:dead-letters"
        )
        pending: Any = await client.xpending(stream, group)
        if settled >= entries and pending["pending"] == 0:
            return
        await anyio.sleep(0.05)


async def until(condition: Callable[[], bool]) -> None:
    """Return once *condition()* holds (set by another thread: no event to wait on)."""
    while not condition():  # noqa: ASYNC110
        await anyio.sleep(0.01)


@contextlib.asynccontextmanager
async def consuming(client: Redis, stream: str, session: ct.Session) -> AsyncIterator[Consumer]:
    """One event consumer on *stream* in this process, stopped when the block ends."""
    reader = RedisStream(client, stream, group=GROUP, consumer="sandbox", claim_idle=60.0)
    await reader.join()
    consumer = Consumer(session, settle=reader.settle)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(consumer.run, reader.events(lambda: consumer.room))
        try:
            yield consumer
        finally:
            consumer.stop()


async def sandbox_writes(session: ct.Session) -> int:
    """The sandbox's redemptions and credits (`SANDBOX_MEMBERS`); how many succeeded."""
    return sum([await _member_writes(session, user_id) for user_id in SANDBOX_MEMBERS])


async def _member_writes(session: ct.Session, user_id: int) -> int:
    for _ in range(2):
        await session.users.credit_activity(user_id, activity_id=SANDBOX_ACTIVITY)
    try:
        await session.users.redeem(user_id, reward_id=SANDBOX_REWARD)
    except ct.RefusedError as exc:  # not enough points: no event
        print(f"member {user_id}: {exc.error}, nothing pushed", file=sys.stderr)
        return 2
    return 3


async def push_writes(fake: FakeCrowdTwist, session: ct.Session, pusher: LivePush) -> None:
    """Make the sandbox's writes with *fake* pushing each; return once all are delivered."""
    fake.live_push = pusher
    try:
        writes = await sandbox_writes(session)
        # The fake hands its pushes over from its server thread: wait for them all.
        await until(lambda: len(pusher.deliveries) >= writes)
        await pusher.drain()
    finally:
        fake.live_push = None


async def run_sandbox(redis_url: str, *, stream: str) -> Summary:
    """The whole home in this process, into *stream* (left in Redis: see `forget`)."""
    from redis.asyncio import Redis

    from crowdtwist_async.testing import FakeCrowdTwist, LivePush

    fake = FakeCrowdTwist(seed=0)
    auth = ("crowdtwist", secrets.token_urlsafe(16))
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        with fake.serve() as fake_url:
            async with (
                ct.Session(api_key=fake.api_key, base_url=fake_url) as session,
                push.RedisStreamSink(client, stream=stream) as sink,
                serving(push.receiver(sink, basic_auth=auth)) as receiver_url,
                consuming(client, stream, session),
                LivePush(receiver_url, basic_auth=auth, time_factor=SANDBOX_TIME_FACTOR) as pusher,
            ):
                await push_writes(fake, session, pusher)
                await until_settled(client, stream)
                done = await summary(client, stream, pusher)
    finally:
        await client.aclose()
    return done


async def forget(redis_url: str, stream: str) -> None:
    """Delete *stream*, its results, dead letters and seen keys."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        seen = [key async for key in client.scan_iter(match=f"{stream}:seen:*")]
        await client.delete(stream, f"{stream}:results", f"{stream}:dead-letters", *seen)
    finally:
        await client.aclose()


async def read_results(redis_url: str, stream: str) -> list[dict[str, Any]]:
    """The results of *stream*, in stream order."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        results: Any = await client.hgetall(f"{stream}:results")
    finally:
        await client.aclose()
    return [json.loads(results[key]) for key in sorted(results, key=_stream_order)]


def _stream_order(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence)


def describe_result(result: dict[str, Any]) -> str:
    """One result as a line: the delivery, its member, what was read."""
    read = []
    if result["points"] is not None:
        read.append(f"{result['points']['redeemable']} redeemable points")
    if result["coupons"] is not None:
        read.append(f"{len(result['coupons'])} usable coupons")
    return f"{result['delivery_key']}: member {result['user_id']}: {', '.join(read) or 'seen'}"


async def _sandbox(args: argparse.Namespace) -> Summary:
    await wait_for_redis(args.redis, wait=args.redis_wait)
    stream = f"live-push-sandbox:{secrets.token_hex(4)}"
    try:
        with anyio.fail_after(SANDBOX_TIMEOUT):
            done = await run_sandbox(args.redis, stream=stream)
        for result in await read_results(args.redis, stream):
            print(describe_result(result))
    finally:
        with anyio.CancelScope(shield=True):
            await forget(args.redis, stream)
    return done


async def _receive(args: argparse.Namespace) -> None:
    basic_auth, api_key = credentials(args.basic_auth, args.api_key)
    await wait_for_redis(args.redis, wait=args.redis_wait)
    await receive(
        args.redis,
        stream=args.stream,
        host=args.host,
        port=args.port,
        basic_auth=basic_auth,
        api_key=api_key,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """`receive` Live Push into a Redis Stream, or run the whole home on the `--sandbox`."""
    parser = argparse.ArgumentParser(
        description="Take CrowdTwist's Live Push into a Redis Stream, for event_consumer.py."
    )
    parser.add_argument("mode", nargs="?", choices=["receive"], help="serve the receiver")
    parser.add_argument(
        "--sandbox", action="store_true", help="the whole home on a FakeCrowdTwist, then exit"
    )
    parser.add_argument("--redis", metavar="URL", required=True, help="redis://host:port/db")
    parser.add_argument("--stream", default=STREAM, help="receive: default %(default)s")
    parser.add_argument("--host", default="127.0.0.1", help="receive: default %(default)s")
    parser.add_argument("--port", type=int, default=8080, help="receive: default %(default)s")
    parser.add_argument(
        "--basic-auth", metavar="USER:PASSWORD", help=f"receive (default: ${BASIC_AUTH_ENV})"
    )
    parser.add_argument("--api-key", help=f"receive: the x-api-key value (default: ${API_KEY_ENV})")
    add_redis_wait(parser.add_argument)
    args = parser.parse_args(argv)
    if (args.mode == "receive") == args.sandbox:
        parser.error("give either receive or --sandbox")
    logging.basicConfig(
        level=logging.WARNING if args.sandbox else logging.INFO, format="%(levelname)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if args.sandbox:
            print(anyio.run(_sandbox, args))
        else:
            anyio.run(_receive, args)
    except CredentialsError as exc:
        parser.error(str(exc))
    except RedisUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_REDIS
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
