"""A FakeCrowdTwist in a process of its own, so it does not compete with the client.

`python -m benchmarks._server --latency 0.025 --jitter 0.005 --big 600 --many 1000x25`
serves on a free loopback port and prints one line, `<base_url> <api_key>`,
then runs until its standard input closes. `--tail-rate 0.1 --tail-factor 4`
makes about one response in ten take four times the latency (a heavy tail).
"""

from __future__ import annotations

import argparse
import random
import sys
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--tail-rate", type=float, default=0.0, help="share of slow responses")
    parser.add_argument("--tail-factor", type=float, default=1.0, help="how much slower they are")
    parser.add_argument("--big", type=int, default=0, help="rewards of bench@example.com")
    parser.add_argument("--many", default="0x0", help="MEMBERSxREWARDS for the many-users run")
    args = parser.parse_args()
    members, per_member = (int(n) for n in args.many.split("x"))
    fake = build(args.big, members, per_member)
    fake.latency, fake.jitter = args.latency, args.jitter
    app: Any = fake
    if args.tail_rate:
        app = HeavyTail(fake, args.latency, args.tail_rate, args.tail_factor)
    with serve_in_thread(app, host="127.0.0.1", port=0, allow_remote=False) as url:
        print(url, fake.api_key, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
