"""One process of a deployment sharing a CrowdTwist program, for test_redis_limiter.

Run as a script. It builds a Session on the given base URL, paced by a
RedisRateLimiter on `--redis` and `--key`, or by a local `rate_limit=` with
`--local`; prints `ready` and reads one line from stdin, `<start> <stop>` (in
`time.time()` seconds). At `start` it runs `--tasks` tasks, each fetching a
rewards page in a loop; at `stop` it cancels them all, waiting ones included,
and prints a JSON line: how many requests each outcome had.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter

import anyio

import crowdtwist_async as ct
from crowdtwist_async.redis import RedisRateLimiter
from crowdtwist_async.testing import SANDBOX_EMAIL


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--redis", help="the Redis URL of the shared limiter")
    parser.add_argument("--key", default="crowdtwist:program:test")
    parser.add_argument("--local", action="store_true", help="a local rate_limit= instead")
    return parser.parse_args(argv)


def build(options: argparse.Namespace) -> tuple[ct.Session, RedisRateLimiter | None]:
    """The Session, and the shared limiter it uses unless `--local`."""
    shared = None
    limiter: ct.RateLimiter | float = options.rate
    if not options.local:
        shared = RedisRateLimiter(options.redis, rate=options.rate, key=options.key)
        limiter = shared
    session = ct.Session(
        api_key=options.api_key,
        base_url=options.base_url,
        rate_limit=limiter,
        max_concurrency=options.tasks,
        max_retries=0,
    )
    return session, shared


async def work(
    session: ct.Session, shared: RedisRateLimiter | None, tasks: int, start: float, stop: float
) -> Counter[str]:
    outcomes: Counter[str] = Counter()

    async def one() -> None:
        try:
            await session.users.get_rewards_page(SANDBOX_EMAIL, id_type="email")
        except ct.CrowdTwistError as exc:
            outcomes[type(exc).__name__] += 1
        else:
            outcomes["ok"] += 1

    async def loop() -> None:
        while True:
            await one()

    try:
        async with session:
            await anyio.sleep(max(0.0, start - time.time()))
            with anyio.move_on_after(max(0.0, stop - time.time())):
                async with anyio.create_task_group() as group:
                    for _ in range(tasks):
                        group.start_soon(loop)
    finally:
        if shared is not None:
            await shared.aclose()
    return outcomes


def main(argv: list[str]) -> None:
    options = parse(argv)
    session, shared = build(options)
    print("ready", flush=True)
    start, stop = (float(part) for part in sys.stdin.readline().split())
    outcomes = anyio.run(work, session, shared, options.tasks, start, stop, backend="asyncio")
    print(json.dumps(dict(outcomes)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
