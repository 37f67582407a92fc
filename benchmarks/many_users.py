"""6. Many members through one client, on each HTTP stack.

Every member's rewards (3 pages each: page 1, then pages 2 and 3 together)
read by 64 concurrent reader tasks sharing one client that allows 64
requests in flight, against the FakeCrowdTwist in its own process at 10 ms
per response. The ideal keeps all 64 slots busy: requests x latency / 64.
The SDK (a Session with max_concurrency 64, `aiter_rewards` per member) runs
on each stack; beside it the same reads by hand on raw httpx and raw aiohttp
(a pool of 64 connections, `json.loads`, no models).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio

import crowdtwist_async as ct

from ._common import Section, Server, Target, median_ratio, server_process
from ._server import many_user
from ._stacks import (
    RAW_AIOHTTP,
    RAW_HTTPX,
    SDK_AIOHTTP,
    SDK_HTTPX,
    GetPage,
    Opener,
    Runs,
    account,
    interleave,
    open_all,
    raw_aiohttp,
    raw_httpx,
    sdk_session,
)

LATENCY = 0.010
SLOTS = 64
READERS = 64
PER_MEMBER = 25  # 3 pages of 10, 10, 5
PAGES_PER_MEMBER = 3
#: The share of the ideal the SDK should reach on the aiohttp stack (issue 11).
TARGET_EFFICIENCY = 0.75


async def sdk_read(session: ct.Session, members: int) -> int:
    """Every member's rewards through `aiter_rewards`; returns the requests it took."""
    queue = iter(range(members))
    # One count per reader, added up at the end: a shared `total += ...`
    # across an await would lose updates.
    counts: list[int] = []

    async def reader() -> None:
        rewards = 0
        for index in queue:
            async for _ in session.users.aiter_rewards(many_user(index), id_type="email"):
                rewards += 1
        counts.append(rewards)

    async with anyio.create_task_group() as tg:
        for _ in range(READERS):
            tg.start_soon(reader)
    _check(members, sum(counts), None)
    return members * PAGES_PER_MEMBER


async def raw_read(get: GetPage, members: int) -> int:
    """The same reads by hand: page 1, then the rest of the member's pages together."""
    queue = iter(range(members))
    # The rewards on each page read, one entry per request.
    pages: list[int] = []

    async def rest(index: int, number: int) -> None:
        data = await get(many_user(index), number)
        pages.append(len(data["rewards"]))

    async def reader() -> None:
        for index in queue:
            first = await get(many_user(index), 1)
            pages.append(len(first["rewards"]))
            async with anyio.create_task_group() as tg:
                for number in range(2, int(first["paging"]["pages"]) + 1):
                    tg.start_soon(rest, index, number)

    async with anyio.create_task_group() as tg:
        for _ in range(READERS):
            tg.start_soon(reader)
    _check(members, sum(pages), len(pages))
    return len(pages)


def _check(members: int, rewards: int, requests: int | None) -> None:
    if rewards != members * PER_MEMBER or requests not in (None, members * PAGES_PER_MEMBER):
        raise AssertionError(
            f"read {rewards} rewards in {requests} requests, expected "
            f"{members * PER_MEMBER} in {members * PAGES_PER_MEMBER}"
        )


def reader_of(opened: Any, members: int) -> Callable[[], Awaitable[int]]:
    if isinstance(opened, ct.Session):
        return partial(sdk_read, opened, members)
    return partial(raw_read, opened, members)


async def _measure(
    server: Server, members: int, rounds: int
) -> tuple[dict[str, Runs], dict[str, str]]:
    openers: dict[str, Opener] = {
        SDK_HTTPX: partial(sdk_session, server, SLOTS, "httpx"),
        SDK_AIOHTTP: partial(sdk_session, server, SLOTS, "aiohttp"),
        RAW_HTTPX: partial(raw_httpx, server, SLOTS),
        RAW_AIOHTTP: partial(raw_aiohttp, server, SLOTS),
    }
    async with open_all(openers) as (opened, missing):
        contenders = {name: reader_of(thing, members) for name, thing in opened.items()}
        return await interleave(server, contenders, rounds), missing


async def run(quick: bool) -> Section:
    members = 50 if quick else 1_000
    rounds = 1 if quick else 3
    requests = members * PAGES_PER_MEMBER
    ideal = requests * LATENCY / SLOTS
    section = Section(
        title="6. Many members",
        setup=(
            f"{members:,} members x {PAGES_PER_MEMBER} pages ({requests:,} requests) read by "
            f"{READERS} tasks through one client allowing {SLOTS} requests in flight, "
            f"{LATENCY * 1000:.0f} ms per response, the fake in its own process (each page "
            "answered by the fake the first time, replayed from memory after, so that the "
            "server's own CPU does not bound the rate the ideal asks for). The SDK: one "
            f"Session (max_concurrency {SLOTS}), `aiter_rewards` per member; by hand: page 1, "
            f"then the member's other pages together, on a pool of {SLOTS} connections with "
            f"an asyncio semaphore of {SLOTS} around each GET, `json.loads`, no models. The "
            f"contenders take turns, the order rotating, for {rounds} runs after a warm-up; "
            f"medians. Ideal = requests x latency / {SLOTS} = "
            f"{ideal:.3f} s; efficiency = ideal / wall time. Every run checks the rewards read "
            f"({PER_MEMBER} per member) and that the server answered exactly {requests:,} "
            "requests, all 200."
        ),
        header=(
            "reader",
            "wall time (s)",
            "efficiency",
            "requests/s",
            "client CPU per request (us)",
            "server CPU per request (us)",
            "most in flight at the server",
            "rate / raw aiohttp's",
        ),
    )
    notes: dict[str, str] = {}
    with server_process(latency=LATENCY, many=f"{members}x{PER_MEMBER}", replay=1) as server:
        results, missing = await _measure(server, members, rounds)
    # The fastest reader measured: what this machine allows, models aside.
    raw = results.get(RAW_AIOHTTP)
    ceiling = raw if raw is not None and raw.failure is None else None
    for name in (SDK_HTTPX, SDK_AIOHTTP, RAW_HTTPX, RAW_AIOHTTP):
        runs = account(section, notes, name, results, missing)
        label = name if name.startswith("SDK") else f"{name}, by hand"
        if isinstance(runs, str):
            section.rows.append((label, runs, "-", "-", "-", "-", "-", "-"))
            efficiency = None
        else:
            efficiency = ideal / runs.wall_median
            section.rows.append(
                (
                    label,
                    runs.wall_median,
                    efficiency,
                    requests / runs.wall_median,
                    runs.cpu_median / requests * 1e6,
                    runs.server_cpu_median / requests * 1e6,
                    max(runs.in_flight),
                    median_ratio(ceiling.wall, runs.wall) if ceiling else "-",
                )
            )
        if name == SDK_AIOHTTP:
            section.targets.append(
                Target(f"{name}, share of the ideal", efficiency, TARGET_EFFICIENCY)
            )
    section.verdict = "\n\n".join(notes.values())
    return section
