"""A FakeCrowdTwist in a process of its own, so it does not compete with the client.

`python -m benchmarks._server --latency 0.025 --jitter 0.005 --big 600 --many 1000x25`
serves on a free loopback port and prints one line, `<base_url> <api_key>`,
then runs until its standard input closes.
"""

from __future__ import annotations

import argparse
import sys

from crowdtwist_async.testing import FakeCrowdTwist

BIG_USER = "bench@example.com"


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--big", type=int, default=0, help="rewards of bench@example.com")
    parser.add_argument("--many", default="0x0", help="MEMBERSxREWARDS for the many-users run")
    args = parser.parse_args()
    members, per_member = (int(n) for n in args.many.split("x"))
    fake = build(args.big, members, per_member)
    fake.latency, fake.jitter = args.latency, args.jitter
    with fake.serve(port=0) as url:
        print(url, fake.api_key, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
