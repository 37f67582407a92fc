"""A FakeCrowdTwist in a process of its own, so it does not compete with the client.

`python -m benchmarks._server --latency 0.025 --jitter 0.005 --big 600 --many 1000x25`
serves on a free loopback port and prints one line, `<base_url> <api_key>`,
then runs until its standard input closes. `--tail-rate 0.1 --tail-factor 4`
makes about one response in ten take four times the latency (a heavy tail);
`--slow-pages 7,8 --tail-factor 4` makes the requests for pages 7 and 8 of
any listing take that much longer, every time (the same heavy tail each run).

Each line `stats` on its standard input is answered with one line,
`<requests answered> <answers other than 200> <most in flight at once> <CPU seconds>`,
the most in flight since the previous `stats`, the CPU this process has used
so far: a benchmark checks with it that the server saw exactly the requests
it meant to send, so that a broken run cannot pass for a fast one, and tells
how much of a core the server itself needed. `--replay 1` answers a request
seen before from memory (see `Counting`).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from crowdtwist_async.testing import FakeCrowdTwist
from crowdtwist_async.testing._server import serve_in_thread

BIG_USER = "bench@example.com"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def many_user(index: int) -> str:
    """The email of the index-th member of the many-users benchmark."""
    return f"member{index:05d}@example.com"


def build(big: int, many: int, per_member: int) -> FakeCrowdTwist:
    fake = FakeCrowdTwist(seed=1)
    if big:
        user = fake.add_user(email=BIG_USER)
        for _ in range(big):
            fake.add_reward(user, current_quantity=100)
    for index in range(many):
        member = fake.add_user(id=100_000 + index, email=many_user(index))
        for _ in range(per_member):
            fake.add_reward(member, current_quantity=100)
    return fake


class HeavyTail:
    """Delays a random `rate` of the HTTP requests by (`factor` - 1) x `latency` more."""

    def __init__(self, app: FakeCrowdTwist, latency: float, rate: float, factor: float) -> None:
        self._app = app
        self._extra = latency * (factor - 1)
        self._rate = rate
        self._draws = random.Random(20261129)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._draws.random() < self._rate:
            await anyio.sleep(self._extra)
        await self._app(scope, receive, send)


class Counting:
    """Counts what the server answers; with `replay`, answers a request it has
    answered before (the same path and query) with the same bytes, after the
    same latency, without running the fake again.

    Replaying keeps the server's CPU per request small beside the client's,
    so that a benchmark of the client at thousands of requests a second is
    not bounded by the fake building each page anew on the other core.
    Only answers of 200 are kept; the first answer always comes from the fake.
    """

    def __init__(self, app: Any, fake: FakeCrowdTwist, *, replay: bool) -> None:
        self._app = app
        self._fake = fake
        self._replay = replay
        self._answers: dict[tuple[str, bytes], list[MutableMapping[str, Any]]] = {}
        self._draws = random.Random(20261130)
        self.requests = 0
        self.errors = 0
        self._in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            status = await self._answer(scope, receive, send)
        finally:
            self._in_flight -= 1
        self.requests += 1
        self.errors += status != 200

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> int:
        key = (scope["path"], scope["query_string"])
        kept = self._answers.get(key) if self._replay else None
        if kept is not None:
            jitter = self._fake.jitter
            await anyio.sleep(self._fake.latency + self._draws.uniform(-jitter, jitter))
            for message in kept:
                await send(dict(message))
            return 200
        messages: list[MutableMapping[str, Any]] = []

        async def keep(message: MutableMapping[str, Any]) -> None:
            messages.append(dict(message))
            await send(message)

        await self._app(scope, receive, keep)
        status = int(messages[0]["status"]) if messages else 500
        if self._replay and status == 200:
            self._answers[key] = messages
        return status

    def stats(self) -> tuple[int, int, int, float]:
        most, self.max_in_flight = self.max_in_flight, self._in_flight
        return self.requests, self.errors, most, time.process_time()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--tail-rate", type=float, default=0.0, help="share of slow responses")
    parser.add_argument("--tail-factor", type=float, default=1.0, help="how much slower they are")
    parser.add_argument(
        "--slow-pages", default="", help="pages (1,2,...) slower by --tail-factor, every time"
    )
    parser.add_argument("--big", type=int, default=0, help="rewards of bench@example.com")
    parser.add_argument("--many", default="0x0", help="MEMBERSxREWARDS for the many-users run")
    parser.add_argument(
        "--replay", type=int, default=0, help="1: answer repeated requests from memory"
    )
    args = parser.parse_args()
    if args.replay and args.tail_rate:
        # A replayed answer skips the app, its heavy tail included.
        parser.error("--replay and --tail-rate do not go together")
    members, per_member = (int(n) for n in args.many.split("x"))
    fake = build(args.big, members, per_member)
    fake.latency, fake.jitter = args.latency, args.jitter
    if args.slow_pages:
        slow = frozenset(int(page) for page in args.slow_pages.split(","))
        extra = args.latency * (args.tail_factor - 1)
        fake.lie(delay=lambda page, latency: latency + extra if page in slow else latency)
    app: Any = fake
    if args.tail_rate:
        app = HeavyTail(fake, args.latency, args.tail_rate, args.tail_factor)
    counting = Counting(app, fake, replay=bool(args.replay))
    with serve_in_thread(counting, host="127.0.0.1", port=0, allow_remote=False) as url:
        print(url, fake.api_key, flush=True)
        for line in sys.stdin:
            if line.strip() == "stats":
                print(*counting.stats(), flush=True)


if __name__ == "__main__":
    main()
