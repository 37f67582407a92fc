"""An event consumer: each event names a member, whose usable coupons it looks up.

It shows handlers sharing one Session with at most N events in flight; a
failing member logged (the error's class and message, which the SDK keeps
free of the key) and dead-lettered, never dropped, while the other events go
on; and two ways to shut down:

- drain: the producer closes its side of the stream; every event already
  taken is finished, then `run()` returns;
- stop: `stop()` (wired to SIGTERM and Ctrl-C below) takes no more events and
  gives those in flight `grace` seconds, then cancels them and lists them in
  `unfinished`. A second Ctrl-C quits at once.

Events arrive on an anyio object stream, taken only when a handler is free:
an anyio memory object stream of user ids, whose small buffer is the
backpressure, or a broker read only as fast as events are handled. With a
broker that redelivers what is not acknowledged, `Consumer(settle=...)`
records how each event ended and acknowledges it, and those in `unfinished`
stay unacknowledged: another consumer gets them.

**On a Redis Stream** (`--redis URL`), any number of consumer processes share
the events of one stream (`--stream`, entries `{"user_id": ...}`) through a
consumer group (`--group`):

- a consumer reads new events (XREADGROUP, blocking up to a second) only as
  many at a time as it has free handlers, so what it reads starts at once;
- an event is acknowledged (XACK) only after it was handled and its result
  written (`HSET <stream>:results <event id> <json>`), or after it was
  dead-lettered (`XADD <stream>:dead-letters`: the event id, the user id, the
  error's class and its message); one Lua script writes the record, then
  acknowledges, atomically, and does nothing for an event settled already;
- an event left pending by a consumer that died is taken over (XAUTOCLAIM)
  once it has been idle `--claim-idle` seconds: every consumer looks twice
  in that time. Set it above the longest an event can take (timeouts and
  retries included), or a slow event is handled twice;
- SIGTERM stops the reading; events in flight get `--grace` seconds, and
  those not finished by then stay pending, for another consumer to take over;
- one Session per process, and one `RedisRateLimiter` (`--rate` requests a
  second, key `--rate-key`) shared by every process;
- Redis not answering yet at start (both started together, say), a process
  waits up to `--redis-wait` seconds (60), trying again with the read loop's
  backoff and logging each failed try (the URL's password masked); then it
  exits with 3 and one line saying why. Lost later, Redis is waited for
  without end: the read loop backs off and tries again.

**Live Push entries.** An entry a `push.RedisStreamSink` added (fields
`feed`, `delivery_key`, `body`: see `examples/live_push.py`, which runs the
receiver) is turned back into its typed event (`push.event_from_entry`) and
handled by feed: a redemption reads the member's points and usable coupons,
an activity the member's points (the member: the event's `userId`, a
CrowdTwist id), and the other feeds are recorded as seen, with no call. The
result (`{"delivery_key", "feed", "user_id", "points", "coupons",
"consumer"}`) goes to the results hash as above; an entry that is not an
event, or whose member cannot be read, is dead-lettered with its
`delivery_key` and `feed`. Entries `{"user_id": ...}` and Live Push entries
may share one stream.

Delivery is at least once: a consumer killed after a lookup but before its
acknowledgement leaves the event to be handled again by another. So the
handling is idempotent: a result is stored under its event's id, and a
second handling overwrites it instead of counting twice.

Run it (`pip install "crowdtwist-async[examples]"`), on the built-in sandbox
(no account, no network) or on your program:

    python examples/event_consumer.py --sandbox --id-type email \\
        alice@example.com bob@example.com nobody@example.com

    export CROWDTWIST_API_KEY=... CROWDTWIST_BASE_URL=https://api123.crowdtwist.com
    python examples/event_consumer.py 1001 1002

On a Redis Stream (`pip install "crowdtwist-async[examples,redis]"`): add
events, then start consumers, as many as you like, each until SIGTERM:

    python examples/event_consumer.py --redis redis://localhost:6379/0 --produce \\
        alice@example.com bob@example.com nobody@example.com
    python examples/event_consumer.py --redis redis://localhost:6379/0 --sandbox --id-type email
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import random
import re
import signal
import socket
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import unquote, urlsplit

import anyio
from anyio.abc import ObjectReceiveStream
from anyio.streams.memory import MemoryObjectSendStream

import crowdtwist_async as ct
from crowdtwist_async import push

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

#: What to do with a member's coupons: the consumer's actual work.
Process = Callable[[str, tuple[ct.UsableCoupon, ...]], Awaitable[None]]


@dataclass(frozen=True)
class DeadLetter:
    """An event that failed, set aside to be looked at or replayed."""

    user_id: str
    error: str  # the exception's class name
    message: str
    #: For a Live Push entry: its delivery's key and feed (as stored, when it is not an event).
    delivery_key: str | None = None
    feed: str | None = None


@dataclass(frozen=True)
class Delivery:
    """An event as a broker delivered it: its id there, and the member it names."""

    id: str
    user_id: str
    #: A Live Push entry's fields (`feed`, `delivery_key`, `body`...), None for `{"user_id"}`.
    push: dict[str, str] | None = None


@dataclass(frozen=True)
class PushResult:
    """How a Live Push event was handled: what was read for its member."""

    delivery_key: str
    feed: str
    user_id: int | None
    points: ct.Points | None = None
    coupons: tuple[ct.UsableCoupon, ...] | None = None


#: An event: a bare user id, or a broker's delivery of one (or of a Live Push event).
Event: TypeAlias = str | Delivery

#: How an event ended: the member's usable coupons, what a Live Push event
#: read, or the dead letter it became.
Outcome: TypeAlias = tuple[ct.UsableCoupon, ...] | PushResult | DeadLetter

#: What each Live Push feed reads for its member: points, and usable coupons.
#: The feeds not named are recorded as seen, with no call.
PUSH_READS: dict[str, tuple[bool, bool]] = {
    "user_redemption": (True, True),
    "user_activity": (True, False),
}

#: Told how each event ended, before it counts as done: where a broker records
#: the outcome and acknowledges the event. If it raises, the event is unfinished.
Settle = Callable[[Event, Outcome], Awaitable[None]]

#: Seconds settling one event may take; it is not cut short by `stop()`.
SETTLE_TIMEOUT = 10.0


async def log_coupons(user_id: str, coupons: tuple[ct.UsableCoupon, ...]) -> None:
    log.info("member %s: %d usable coupons", user_id, len(coupons))


def describe(event: Event) -> str:
    if isinstance(event, str):
        return event
    if event.push is not None:
        return f"{event.id} ({event.push.get('feed', 'no feed')})"
    return f"{event.id} (member {event.user_id})"


class Consumer:
    """Handles member events from a stream, `concurrency` at a time, on one Session.

    After `run()`: `handled` events succeeded, `failed` did not (each is in
    `dead_letters`), and `unfinished` holds those cancelled in flight, or
    whose `settle` failed.
    """

    def __init__(
        self,
        session: ct.Session,
        *,
        process: Process = log_coupons,
        concurrency: int = 4,
        grace: float = 10.0,
        id_type: ct.IdType | ct.IdTypeName | None = None,
        settle: Settle | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.handled = 0
        self.failed = 0
        self.dead_letters: list[DeadLetter] = []
        self.unfinished: list[Event] = []
        #: The events being handled right now.
        self.in_flight = 0
        self._session = session
        self._process = process
        self._concurrency = concurrency
        self._grace = grace
        self._id_type = id_type
        self._settle = settle
        self._stopping = False
        self._intake: anyio.CancelScope | None = None
        self._handlers: anyio.CancelScope | None = None

    @property
    def room(self) -> int:
        """How many events it could start now (while it waits for one: counting that one)."""
        return self._concurrency - self.in_flight

    async def run(self, events: ObjectReceiveStream[Event]) -> None:
        """Handle events until the stream ends and all are done, or `stop()` is called."""
        slots = anyio.Semaphore(self._concurrency)
        async with anyio.create_task_group() as handlers:
            self._handlers = handlers.cancel_scope
            with anyio.CancelScope() as self._intake:
                while not self._stopping:
                    # A slot first: an event is taken only when it can be
                    # handled at once, and the rest stay with the producer.
                    await slots.acquire()
                    try:
                        event = await events.receive()
                    except anyio.EndOfStream:
                        break
                    self.in_flight += 1
                    handlers.start_soon(self._handle, event, slots)
            # Leaving the task group waits for the handlers still running.
        self._handlers = None

    def stop(self) -> None:
        """Take no more events; cancel those in flight that outlast the grace period."""
        self._stopping = True
        if self._intake is not None:
            self._intake.cancel()
        if self._handlers is not None:
            deadline = anyio.current_time() + self._grace
            self._handlers.deadline = min(self._handlers.deadline, deadline)

    async def _handle(self, event: Event, slots: anyio.Semaphore) -> None:
        try:
            outcome = await self._outcome(event)
            if self._settle is not None:
                # Shielded from the end of the grace period: the work is done,
                # and cut short now it would only be done again elsewhere.
                with anyio.move_on_after(SETTLE_TIMEOUT, shield=True) as settling:
                    await self._settle(event, outcome)
                if settling.cancelled_caught:
                    raise TimeoutError(f"not settled within {SETTLE_TIMEOUT:g} s")
        except anyio.get_cancelled_exc_class():
            self.unfinished.append(event)
            raise
        except Exception as exc:
            # The broker could not be told, or the shared rate limiter asked:
            # not the event's fault, so not a dead letter. Unacknowledged, it
            # goes to another consumer.
            log.error("event %s left unfinished: %s: %s", describe(event), type(exc).__name__, exc)
            self.unfinished.append(event)
        else:
            if isinstance(outcome, DeadLetter):
                self.failed += 1
                self.dead_letters.append(outcome)
            else:
                self.handled += 1
        finally:
            self.in_flight -= 1
            slots.release()

    async def _outcome(self, event: Event) -> Outcome:
        if isinstance(event, Delivery) and event.push is not None:
            return await self._on_push(event.push)
        return await self._look_up(event if isinstance(event, str) else event.user_id)

    async def _look_up(self, user_id: str) -> Outcome:
        """The member's coupons, processed; or the dead letter the event becomes."""
        return await self._dead_letter_on_error(
            user_id, lambda: self._coupons(user_id, self._id_type)
        )

    async def _coupons(
        self, user_id: str, id_type: ct.IdType | ct.IdTypeName | None
    ) -> tuple[ct.UsableCoupon, ...]:
        coupons = await self._session.users.usable_coupons(user_id, id_type=id_type, expired=False)
        await self._process(user_id, coupons)
        return coupons

    async def _dead_letter_on_error(
        self,
        user_id: str,
        work: Callable[[], Awaitable[Outcome]],
        *,
        delivery_key: str | None = None,
        feed: str | None = None,
    ) -> Outcome:
        """What *work* returns; or, if it raised, the dead letter the event becomes."""
        try:
            return await work()
        except ct.RateLimiterError:
            raise  # the limiter's Redis is down: the request was not even sent
        except ct.CrowdTwistError as exc:
            # Already retried by the SDK where that made sense: set it aside.
            log.warning("member %s failed: %s: %s", user_id, type(exc).__name__, exc)
            return DeadLetter(user_id, type(exc).__name__, str(exc), delivery_key, feed)
        except Exception as exc:
            # A bug in `process`, or an event that is not a user id: it must
            # not take the other events down with it.
            log.exception("member %s failed", user_id)
            return DeadLetter(user_id, type(exc).__name__, str(exc), delivery_key, feed)

    async def _on_push(self, fields: dict[str, str]) -> Outcome:
        """A Live Push entry's event, handled by its feed; or its dead letter."""
        key, feed = fields.get("delivery_key"), fields.get("feed")
        try:
            event = push.event_from_entry(fields)
        except ValueError as exc:  # PushEventError too: not an event, nothing to retry
            log.warning("entry %s is not a Live Push event: %s", key, exc)
            return DeadLetter("", type(exc).__name__, str(exc), key, feed)
        user_id: int | None = getattr(event, "user_id", None)
        if user_id is None and event.feed in PUSH_READS:
            log.warning("entry %s names no member", key)
            message = f"the {event.feed} event names no member (no userId)"
            return DeadLetter("", "ValueError", message, key, feed)
        shown = "" if user_id is None else str(user_id)
        return await self._dead_letter_on_error(
            shown, lambda: self._read_member(event, user_id), delivery_key=key, feed=feed
        )

    async def _read_member(self, event: push.PushEvent, user_id: int | None) -> PushResult:
        """What the event's feed reads for its member (`PUSH_READS`)."""
        result = PushResult(event.delivery_key, event.feed, user_id)
        wants_points, wants_coupons = PUSH_READS.get(event.feed, (False, False))
        if user_id is None or not (wants_points or wants_coupons):
            return result  # seen: nothing to read
        # Live Push names members by their CrowdTwist id, whatever --id-type says.
        if wants_points:
            points = await self._session.users.get_points(user_id, id_type=ct.IdType.ID)
            result = dataclasses.replace(result, points=points)
        if wants_coupons:
            coupons = await self._coupons(str(user_id), ct.IdType.ID)
            result = dataclasses.replace(result, coupons=coupons)
        return result


# -- on a Redis Stream -------------------------------------------------------------

#: Records how an event ended, then acknowledges it: one atomic step. Nothing
#: when the event is no longer pending (settled already by a consumer that
#: took it over), so a dead letter is never written twice. KEYS: the stream,
#: the results hash, the dead-letter stream. ARGV: the group, the event id,
#: then "done" and the result as JSON, or "failed", the user id, the error's
#: class, its message and the consumer's name, and for a Live Push entry its
#: delivery key and feed. (On a Redis Cluster, give the three keys one hash
#: tag: `{events}`, `{events}:results`, ...)
SETTLE_SCRIPT = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then
  return 0
end
if ARGV[3] == 'done' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
elseif ARGV[8] then
  redis.call('XADD', KEYS[3], '*', 'event_id', ARGV[2], 'user_id', ARGV[4],
    'error', ARGV[5], 'message', ARGV[6], 'consumer', ARGV[7],
    'delivery_key', ARGV[8], 'feed', ARGV[9])
else
  redis.call('XADD', KEYS[3], '*', 'event_id', ARGV[2], 'user_id', ARGV[4],
    'error', ARGV[5], 'message', ARGV[6], 'consumer', ARGV[7])
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

#: A dead letter keeps this much of the error's message.
MESSAGE_LIMIT = 1000


async def add_events(client: Redis, stream: str, user_ids: Iterable[str]) -> list[str]:
    """Append an event per user id to *stream*; their ids, in order."""
    async with client.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            pipe.xadd(stream, {"user_id": user_id})
        return [str(event_id) for event_id in await pipe.execute()]


class RedisStream:
    """One consumer of a Redis Stream of member events, in a consumer group.

    Results go to the hash `<stream>:results` (field: the event id; value:
    `{"user_id", "coupons", "consumer"}` as JSON, for a Live Push entry
    `{"delivery_key", "feed", "user_id", "points", "coupons", "consumer"}`),
    dead letters to the stream `<stream>:dead-letters`. Every consumer in the
    group takes over the events of others that stayed pending longer than
    `claim_idle` seconds.
    """

    def __init__(
        self, client: Redis, stream: str, *, group: str, consumer: str, claim_idle: float
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.results = f"{stream}:results"
        self.dead_letters = f"{stream}:dead-letters"
        self._claim_idle_ms = max(1, round(claim_idle * 1000))
        self._claim_every = claim_idle / 2
        self._next_claim = -math.inf
        self._cursor = "0-0"
        # Blocking reads end in time for the next look at abandoned events.
        self._block_ms = max(1, min(1000, round(self._claim_every * 1000)))
        self._script = client.register_script(SETTLE_SCRIPT)

    async def join(self) -> None:
        """Join the group, creating the stream and the group if they are new.

        A new group reads the stream from its start.
        """
        from redis.exceptions import ResponseError

        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        await self.client.xgroup_createconsumer(self.stream, self.group, self.consumer)

    async def leave(self) -> None:
        """Leave the group, unless events are pending for this consumer."""
        # Deleting a consumer drops its pending events: only an idle one goes.
        for consumer in await self.client.xinfo_consumers(self.stream, self.group):
            if consumer["name"] == self.consumer and consumer["pending"] == 0:
                await self.client.xgroup_delconsumer(self.stream, self.group, self.consumer)

    def events(self, room: Callable[[], int]) -> ObjectReceiveStream[Delivery]:
        """The events for `Consumer.run`, read *room()* at most at a time."""
        return _StreamEvents(self, room)

    async def fetch(self, count: int) -> list[Delivery]:
        """Up to *count* events: abandoned ones taken over, else new ones (or none)."""
        now = anyio.current_time()
        if now >= self._next_claim:
            reply: Any = await self.client.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                self._claim_idle_ms,
                start_id=self._cursor,
                count=count,
            )
            cursor, entries = reply[0], reply[1]
            self._cursor = str(cursor)
            if self._cursor == "0-0":  # all pending events looked at: rest a while
                self._next_claim = now + self._claim_every
            claimed = _deliveries(entries)
            if claimed:
                log.info("took over %d abandoned events", len(claimed))
                return claimed
        streams: Any = await self.client.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=count, block=self._block_ms
        )
        return [delivery for _, entries in streams or () for delivery in _deliveries(entries)]

    async def settle(self, event: Event, outcome: Outcome) -> None:
        """Record the result or the dead letter, then acknowledge the event."""
        if not isinstance(event, Delivery):
            raise TypeError(f"not an event from a stream: {event!r}")
        args: list[str]
        if isinstance(outcome, DeadLetter):
            message = outcome.message[:MESSAGE_LIMIT]
            args = ["failed", outcome.user_id, outcome.error, message, self.consumer]
            if event.push is not None:
                args += [outcome.delivery_key or "", outcome.feed or ""]
        else:
            args = ["done", json.dumps({**_result(event, outcome), "consumer": self.consumer})]
        settled = await self._script(
            keys=[self.stream, self.results, self.dead_letters],
            args=[self.group, event.id, *args],
        )
        if not settled:
            log.info("event %s was settled already, by a consumer that took it over", event.id)


def _result(event: Delivery, outcome: tuple[ct.UsableCoupon, ...] | PushResult) -> dict[str, Any]:
    """A handled event's record in the results hash (the consumer's name added)."""
    if not isinstance(outcome, PushResult):
        return {"user_id": event.user_id, "coupons": [coupon.code for coupon in outcome]}
    points = outcome.points
    return {
        "delivery_key": outcome.delivery_key,
        "feed": outcome.feed,
        "user_id": outcome.user_id,
        "points": None
        if points is None
        else {"redeemable": points.redeemable_points, "total": points.total_points},
        "coupons": None if outcome.coupons is None else [c.code for c in outcome.coupons],
    }


#: The fields that make an entry a Live Push one (a `push.RedisStreamSink`'s).
_PUSH_FIELDS = frozenset({"feed", "delivery_key", "body"})


def _delivery(event_id: object, fields: dict[str, str]) -> Delivery:
    if _PUSH_FIELDS & fields.keys():
        return Delivery(str(event_id), "", push=fields)
    return Delivery(str(event_id), fields.get("user_id", ""))


def _deliveries(entries: Iterable[tuple[str, dict[str, str] | None]]) -> list[Delivery]:
    # An entry deleted while pending comes without fields (Redis 6.2).
    return [_delivery(event_id, fields) for event_id, fields in entries if fields is not None]


class _StreamEvents(ObjectReceiveStream[Delivery]):
    """A RedisStream's events as `Consumer.run` takes them: a read only when a handler is free."""

    def __init__(self, stream: RedisStream, room: Callable[[], int]) -> None:
        self._stream = stream
        self._room = room
        self._ready: deque[Delivery] = deque()
        self._failures = 0

    async def receive(self) -> Delivery:
        while not self._ready:
            self._ready.extend(await self._fetch())
        return self._ready.popleft()

    async def _fetch(self) -> list[Delivery]:
        from redis.exceptions import ConnectionError, TimeoutError

        try:
            events = await self._stream.fetch(max(1, self._room()))
        except (ConnectionError, TimeoutError) as exc:
            # Redis restarting, say: nothing is lost, since what was read and
            # not acknowledged stays pending. Try again, slower and slower.
            delay = retry_delay(self._failures)
            self._failures += 1
            log.warning(
                "cannot read from Redis (%s: %s); again in %.1f s", type(exc).__name__, exc, delay
            )
            await anyio.sleep(delay)
            return []
        self._failures = 0
        return events

    async def aclose(self) -> None:
        # Anything read and not handed out stays pending: another consumer takes it over.
        self._ready.clear()


# -- reaching Redis ----------------------------------------------------------------

#: The backoff between tries at Redis, at start and in the read loop: the first
#: wait and the longest, in seconds, doubling in between. Each is jittered
#: (half to all of it), so that processes that lost Redis together do not all
#: come back in the same instant.
RETRY_FIRST = 0.5
RETRY_CAP = 10.0

#: How long a process waits at start for Redis to answer, by default (`--redis-wait`).
REDIS_WAIT = 60.0

#: How long one try at Redis may take (connecting and PING).
TRY_TIMEOUT = 5.0

#: The exit status when Redis did not answer within `--redis-wait`, or cannot be used.
EXIT_NO_REDIS = 3


class RedisUnavailable(Exception):
    """Redis did not answer in time, or cannot be used (a bad URL, a refused password)."""


def retry_delay(failures: int) -> float:
    """Seconds to wait after *failures* + 1 failed tries in a row: doubling, capped, jittered."""
    # The exponent is capped too: a float cannot hold 2**1024 (a few hours of tries).
    return min(RETRY_FIRST * 2.0 ** min(failures, 32), RETRY_CAP) * random.uniform(0.5, 1.0)


#: A `password=` query parameter, which redis-py's URLs also accept.
_PASSWORD_PARAM = re.compile(r"([?&;]password=)[^&;#]*", re.IGNORECASE)


def shown_url(url: str) -> str:
    """*url* as it is logged: its password, if any, replaced by `***`."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return "<the Redis URL>"
    userinfo, at, host = netloc.rpartition("@")
    if ":" in userinfo:
        url = url.replace(netloc, f"{userinfo.partition(':')[0]}:***{at}{host}", 1)
    return _PASSWORD_PARAM.sub(r"\g<1>***", url)


def _masked(text: str, url: str) -> str:
    """*text* without the URL's password, should redis-py ever quote it."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    for secret in {password, unquote(password)} if password else ():
        text = text.replace(secret, "***")
    return text


async def wait_for_redis(url: str, *, wait: float = REDIS_WAIT) -> None:
    """Return once Redis at *url* answers PING, trying for up to *wait* seconds.

    Each failed try is logged as one line, the URL's password masked, and the
    next comes after `retry_delay()`, the read loop's backoff. Raises
    RedisUnavailable once *wait* has passed, or at once for a bad URL or a
    refused password (waiting would not help).
    """
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import AuthenticationError, ConnectionError, RedisError, TimeoutError

    shown = shown_url(url)
    give_up = anyio.current_time() + wait
    tries = 0
    while True:
        tries += 1
        try:
            # A client of its own that tries once: the backoff is this loop's.
            probe = Redis.from_url(url, retry=Retry(NoBackoff(), 0))
        except ValueError as exc:
            detail = _masked(str(exc), url)
            raise RedisUnavailable(f"not a usable Redis URL ({shown}): {detail}") from None
        # The last try, too, gets a moment, however little of *wait* is left.
        timeout = min(TRY_TIMEOUT, max(give_up - anyio.current_time(), 0.5))
        error = f"no answer within {timeout:.1f} s"
        try:
            with anyio.move_on_after(timeout):
                await probe.ping()
                error = ""
        except AuthenticationError as exc:
            detail = _masked(str(exc), url)
            raise RedisUnavailable(f"Redis at {shown} refused the credentials: {detail}") from None
        except (ConnectionError, TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {_masked(str(exc), url)}"
        except RedisError as exc:
            detail = f"{type(exc).__name__}: {_masked(str(exc), url)}"
            raise RedisUnavailable(f"Redis at {shown} answered PING with {detail}") from None
        finally:
            with anyio.CancelScope(shield=True):
                await probe.aclose()
        if not error:
            if tries > 1:
                log.info("Redis at %s answered, at try %d", shown, tries)
            return
        left = give_up - anyio.current_time()
        if left <= 0:
            raise RedisUnavailable(
                f"Redis at {shown} did not answer within {wait:g} s "
                f"({tries} {'try' if tries == 1 else 'tries'}, the last: {error}); "
                "is it running? --redis-wait sets how long to wait"
            )
        delay = min(retry_delay(tries - 1), left)
        log.warning(
            "Redis at %s did not answer (try %d: %s); again in %.1f s", shown, tries, error, delay
        )
        await anyio.sleep(delay)


# -- running it --------------------------------------------------------------------


def sandbox_session(rate_limit: float | ct.RateLimiter | None = None) -> ct.Session:
    """A Session on the built-in FakeCrowdTwist: members alice, bob, carol and dave."""
    from crowdtwist_async.testing import FakeCrowdTwist

    # A little latency, as over a network, so the concurrency shows.
    fake = FakeCrowdTwist(seed=0, latency=0.02)
    return ct.Session(
        api_key=fake.api_key,
        base_url=fake.base_url,
        transport=fake.transport(),
        rate_limit=rate_limit,
    )


def _session(args: argparse.Namespace, rate_limit: ct.RateLimiter | None = None) -> ct.Session:
    if args.sandbox:
        return sandbox_session(rate_limit)
    return ct.Session(base_url=args.base_url, rate_limit=rate_limit)


async def _produce(send: MemoryObjectSendStream[str], user_ids: Iterable[str]) -> None:
    # Stands in for a broker; closing `send` is what tells the consumer to drain.
    async with send:
        for user_id in user_ids:
            await send.send(user_id)


async def _stop_on_signal(consumer: Consumer) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for _ in signals:
            consumer.stop()
            # Leaving restores the default handlers: the next Ctrl-C quits at once.
            return


async def _run(args: argparse.Namespace) -> Consumer:
    async with _session(args) as session:
        consumer = Consumer(
            session, concurrency=args.concurrency, grace=args.grace, id_type=args.id_type
        )
        send, receive = anyio.create_memory_object_stream[str](args.concurrency)
        with receive:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_produce, send, args.user_ids)
                tasks.start_soon(_stop_on_signal, consumer)
                await consumer.run(receive)
                tasks.cancel_scope.cancel()
    return consumer


async def _add_to_stream(args: argparse.Namespace) -> list[str]:
    from redis.asyncio import Redis

    await wait_for_redis(args.redis, wait=args.redis_wait)
    client = Redis.from_url(args.redis, decode_responses=True)
    try:
        return await add_events(client, args.stream, args.user_ids)
    finally:
        await client.aclose()


async def _consume_stream(args: argparse.Namespace) -> Consumer:
    from redis.asyncio import Redis

    from crowdtwist_async.redis import RedisRateLimiter

    await wait_for_redis(args.redis, wait=args.redis_wait)
    client = Redis.from_url(args.redis, decode_responses=True)
    try:
        stream = RedisStream(
            client,
            args.stream,
            group=args.group,
            consumer=args.consumer,
            claim_idle=args.claim_idle,
        )
        await stream.join()
        async with (
            RedisRateLimiter(args.redis, rate=args.rate, key=args.rate_key) as limiter,
            _session(args, rate_limit=limiter) as session,
        ):
            consumer = Consumer(
                session,
                concurrency=args.concurrency,
                grace=args.grace,
                id_type=args.id_type,
                settle=stream.settle,
            )
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_stop_on_signal, consumer)
                # Runs until stopped: a stream has no end.
                await consumer.run(stream.events(lambda: consumer.room))
                tasks.cancel_scope.cancel()
        await stream.leave()
    finally:
        await client.aclose()
    return consumer


def _positive(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, got {text}")
    return value


def add_redis_wait(add_argument: Callable[..., object]) -> None:
    """Add the `--redis-wait SECONDS` option, the same in both examples, with *add_argument*."""
    add_argument(
        "--redis-wait",
        type=_seconds,
        default=REDIS_WAIT,
        metavar="SECONDS",
        help="at start, wait this long for Redis to answer, trying again and again "
        f"(default: {REDIS_WAIT:g}; 0: try once); then exit with {EXIT_NO_REDIS}",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Consume the given events, or a Redis Stream's.

    The exit status is 0 when every given event was handled; on a Redis
    Stream, when the consumer was stopped (SIGTERM, Ctrl-C); 3 when Redis
    did not answer within --redis-wait seconds at start.
    """
    parser = argparse.ArgumentParser(description="Look up members' usable coupons, as events.")
    parser.add_argument(
        "user_ids",
        nargs="*",
        metavar="USER_ID",
        help="the events (with --redis: only with --produce, to add them to the stream)",
    )
    parser.add_argument("--id-type", choices=[t.value for t in ct.IdType], help="what ids are")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="events at a time (default: %(default)s)"
    )
    parser.add_argument(
        "--grace", type=float, default=10.0, help="seconds to finish on stop (default: 10)"
    )
    parser.add_argument(
        "--sandbox", action="store_true", help="use the built-in FakeCrowdTwist, no account"
    )
    parser.add_argument(
        "--base-url", help="e.g. https://api123.crowdtwist.com (default: $CROWDTWIST_BASE_URL)"
    )
    on_redis = parser.add_argument_group("on a Redis Stream")
    on_redis.add_argument(
        "--redis", metavar="URL", help="consume a Redis Stream: redis://host:port/db"
    )
    on_redis.add_argument(
        "--produce", action="store_true", help="add the USER_IDs to the stream as events, and exit"
    )
    on_redis.add_argument("--stream", default="member-events", help="default: %(default)s")
    on_redis.add_argument("--group", default="crowdtwist", help="default: %(default)s")
    on_redis.add_argument(
        "--consumer",
        default=f"{socket.gethostname()}-{os.getpid()}",
        help="this consumer's name in the group (default: host-pid)",
    )
    on_redis.add_argument(
        "--claim-idle",
        type=_positive,
        default=60.0,
        help="take over others' events pending this many seconds (default: 60)",
    )
    on_redis.add_argument(
        "--rate",
        type=_positive,
        default=10.0,
        help="requests a second, for all consumers together (default: 10)",
    )
    on_redis.add_argument(
        "--rate-key",
        default="crowdtwist:rate",
        help="the Redis key of the shared rate limit (default: %(default)s)",
    )
    add_redis_wait(on_redis.add_argument)
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.redis is None and args.produce:
        parser.error("--produce needs --redis")
    if (args.redis is None or args.produce) and not args.user_ids:
        parser.error("give at least one USER_ID")
    if args.redis is not None and not args.produce and args.user_ids:
        parser.error("with --redis, events come from the stream: USER_IDs only with --produce")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    # httpx logs every request at INFO: noise here (the SDK masks the key in it).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if args.produce:
            added = anyio.run(_add_to_stream, args)
            print(f"added {len(added)} events to {args.stream}", file=sys.stderr)
            return 0
        consumer = anyio.run(_run if args.redis is None else _consume_stream, args)
    except RedisUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_REDIS
    except KeyboardInterrupt:  # the second Ctrl-C
        return 130
    print(
        f"handled {consumer.handled}, failed {consumer.failed}, "
        f"unfinished {len(consumer.unfinished)}",
        file=sys.stderr,
    )
    if args.redis is not None:
        return 0
    return 0 if consumer.handled == len(args.user_ids) else 1


if __name__ == "__main__":
    sys.exit(main())
