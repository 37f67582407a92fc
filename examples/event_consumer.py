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

Events arrive on an anyio memory object stream of user ids. A real broker
plugs in as a producer task feeding that stream; the stream's small buffer is
the backpressure, so the broker is read only as fast as events are handled:

    async def from_broker(broker, send: MemoryObjectSendStream[str]) -> None:
        async with send:
            async for message in broker.subscribe("member-updated"):
                await send.send(message.user_id)

With a broker that redelivers what is not acknowledged, acknowledge an event
once `process` has returned or it was dead-lettered, and leave those in
`unfinished` unacknowledged: another consumer gets them.

Run it (`pip install "crowdtwist-async[examples]"`), on the built-in sandbox
(no account, no network) or on your program:

    python examples/event_consumer.py --sandbox --id-type email \\
        alice@example.com bob@example.com nobody@example.com

    export CROWDTWIST_API_KEY=... CROWDTWIST_BASE_URL=https://api123.crowdtwist.com
    python examples/event_consumer.py 1001 1002
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

import crowdtwist_async as ct

log = logging.getLogger(__name__)

#: What to do with a member's coupons: the consumer's actual work.
Process = Callable[[str, tuple[ct.UsableCoupon, ...]], Awaitable[None]]


@dataclass(frozen=True)
class DeadLetter:
    """An event that failed, set aside to be looked at or replayed."""

    user_id: str
    error: str  # the exception's class name
    message: str


async def log_coupons(user_id: str, coupons: tuple[ct.UsableCoupon, ...]) -> None:
    log.info("member %s: %d usable coupons", user_id, len(coupons))


class Consumer:
    """Handles member events from a stream, `concurrency` at a time, on one Session.

    After `run()`: `handled` events succeeded, `failed` did not (each is in
    `dead_letters`), and `unfinished` holds those cancelled in flight.
    """

    def __init__(
        self,
        session: ct.Session,
        *,
        process: Process = log_coupons,
        concurrency: int = 4,
        grace: float = 10.0,
        id_type: ct.IdType | ct.IdTypeName | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.handled = 0
        self.failed = 0
        self.dead_letters: list[DeadLetter] = []
        self.unfinished: list[str] = []
        self._session = session
        self._process = process
        self._concurrency = concurrency
        self._grace = grace
        self._id_type = id_type
        self._stopping = False
        self._intake: anyio.CancelScope | None = None
        self._handlers: anyio.CancelScope | None = None

    async def run(self, events: MemoryObjectReceiveStream[str]) -> None:
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
                        user_id = await events.receive()
                    except anyio.EndOfStream:
                        break
                    handlers.start_soon(self._handle, user_id, slots)
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

    async def _handle(self, user_id: str, slots: anyio.Semaphore) -> None:
        try:
            coupons = await self._session.users.usable_coupons(
                user_id, id_type=self._id_type, expired=False
            )
            await self._process(user_id, coupons)
        except ct.CrowdTwistError as exc:
            # Already retried by the SDK where that made sense: set it aside.
            log.warning("member %s failed: %s: %s", user_id, type(exc).__name__, exc)
            self._dead_letter(user_id, exc)
        except Exception as exc:
            # A bug in `process`, or an event that is not a user id: it must
            # not take the other events down with it.
            log.exception("member %s failed", user_id)
            self._dead_letter(user_id, exc)
        except anyio.get_cancelled_exc_class():
            self.unfinished.append(user_id)
            raise
        else:
            self.handled += 1
        finally:
            slots.release()

    def _dead_letter(self, user_id: str, exc: Exception) -> None:
        self.failed += 1
        self.dead_letters.append(DeadLetter(user_id, type(exc).__name__, str(exc)))


def sandbox_session() -> ct.Session:
    """A Session on the built-in FakeCrowdTwist: members alice, bob, carol and dave."""
    from crowdtwist_async.testing import FakeCrowdTwist

    # A little latency, as over a network, so the concurrency shows.
    fake = FakeCrowdTwist(seed=0, latency=0.02)
    return ct.Session(api_key=fake.api_key, base_url=fake.base_url, transport=fake.transport())


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
    session = sandbox_session() if args.sandbox else ct.Session()
    async with session:
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


def main(argv: Sequence[str] | None = None) -> int:
    """Consume the given events; the exit status is 0 when every one was handled."""
    parser = argparse.ArgumentParser(description="Look up members' usable coupons, as events.")
    parser.add_argument("user_ids", nargs="+", metavar="USER_ID", help="the events")
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
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    # httpx logs every request at INFO: noise here (the SDK masks the key in it).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        consumer = anyio.run(_run, args)
    except KeyboardInterrupt:  # the second Ctrl-C
        return 130
    print(
        f"handled {consumer.handled}, failed {consumer.failed}, "
        f"unfinished {len(consumer.unfinished)}",
        file=sys.stderr,
    )
    return 0 if consumer.handled == len(args.user_ids) else 1


if __name__ == "__main__":
    sys.exit(main())
