"""3. CPU per request and throughput: the SDK on each HTTP stack against the raw stacks.

The same server, in its own process, with no added latency, so the client's
CPU is what bounds it. At 1, 8 and 32 requests in flight, four contenders
read the same pages, interleaved run by run in one run of the benchmark:
raw httpx and raw aiohttp (a GET, then `json.loads`, no models), and the SDK
(`get_rewards_page`: HTTP, JSON and the models) on each of the two stacks.
CPU is the client process's `time.process_time()` per request: the server
spends its own elsewhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio

import crowdtwist_async as ct

from ._common import Section, Server, Target, median_ratio, server_process
from ._server import BIG_USER
from ._stacks import (
    FLOOR,
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

PAGES = 60
LEVELS = (1, 8, 32)
#: The SDK on its default stack may spend at most this much CPU per request
#: of raw httpx + json.loads, at these numbers in flight (issue 11).
TARGET_RATIO = 1.15
TARGET_LEVELS = (1, 8)
#: The SDK on aiohttp against raw aiohttp + `json.loads`, at every level
#: (issue 23: the direct path).
AIOHTTP_TARGET_RATIO = 1.5

#: Reads page *page* of the benchmark member and returns how many rewards it had.
Fetch = Callable[[int], Awaitable[int]]


def fetcher(opened: Any) -> Fetch:
    if isinstance(opened, ct.Session):
        session = opened

        async def sdk(page: int) -> int:
            result = await session.users.get_rewards_page(BIG_USER, id_type="email", page=page)
            return len(result.rewards)

        return sdk
    get: GetPage = opened

    async def raw(page: int) -> int:
        data = await get(BIG_USER, page)
        return len(data["rewards"])

    return raw


async def drive(fetch: Fetch, requests: int, tasks: int) -> int:
    """*requests* pages read by *tasks* workers; checks every page was whole."""
    done: list[int] = []

    async def worker(offset: int) -> None:
        rewards = 0
        for n in range(offset, requests, tasks):
            got = await fetch(n % PAGES + 1)
            rewards += got
        done.append(rewards)

    async with anyio.create_task_group() as tg:
        for offset in range(tasks):
            tg.start_soon(worker, offset)
    if len(done) != tasks or sum(done) != requests * 10:
        raise AssertionError(f"read {sum(done)} rewards in {requests} pages of 10")
    return requests


async def run(quick: bool) -> Section:
    # A multiple of every level, so that each task reads as many pages.
    requests = 64 if quick else 480
    rounds = 2 if quick else 9
    section = Section(
        title="3. CPU per request and throughput, by HTTP stack",
        setup=(
            f"FakeCrowdTwist in its own process, no added latency, {PAGES} pages of 10 rewards, "
            "each answered by the fake the first time and replayed from memory after (so "
            "that the server's CPU per request stays well under the client's). "
            f"Each run reads {requests} pages with the given number of tasks in flight (one "
            "connection each); the four contenders take turns, the order rotating, for "
            f"{rounds} runs after a warm-up, and every figure is the median of those runs. CPU "
            "is the client process's `time.process_time()` per request (the server's is not "
            "counted); ratios are medians of the run-by-run ratios of neighbouring runs. Raw = "
            "a GET on one `httpx.AsyncClient` or `aiohttp.ClientSession`, then `json.loads`, "
            "no models; the SDK = `get_rewards_page` (HTTP, JSON and the models) on a Session "
            "with max_concurrency = tasks, making its own client. Every run checks that the "
            "server answered exactly its requests, all 200, and that every page had its 10 "
            "rewards."
        ),
        header=(
            "in flight",
            "stack",
            "CPU per request (us)",
            "requests/s",
            "CPU / raw on the same stack",
            "CPU / raw httpx",
            "requests/s / raw on the same stack",
        ),
    )
    notes: dict[str, str] = {}
    order = (RAW_HTTPX, SDK_HTTPX, RAW_AIOHTTP, SDK_AIOHTTP)
    with server_process(big=PAGES * 10, replay=1) as server:
        for tasks in LEVELS:
            results, missing = await _measure(server, requests, tasks, rounds)
            for name in order:
                runs = account(section, notes, name, results, missing)
                if isinstance(runs, str):
                    section.rows.append((tasks, name, runs, "-", "-", "-", "-"))
                    continue
                floor = _usable(results.get(FLOOR.get(name, "")))
                raw = _usable(results.get(RAW_HTTPX))
                section.rows.append(
                    (
                        tasks,
                        name,
                        runs.cpu_median / requests * 1e6,
                        requests / runs.wall_median,
                        median_ratio(runs.cpu, floor.cpu) if floor else "-",
                        median_ratio(runs.cpu, raw.cpu) if raw and name != RAW_HTTPX else "-",
                        # Time per run, the other way up: requests/s of this over the floor's.
                        median_ratio(floor.wall, runs.wall) if floor else "-",
                    )
                )
                if name == SDK_HTTPX and tasks in TARGET_LEVELS:
                    section.targets.append(
                        Target(
                            f"SDK on httpx, CPU per request / raw httpx + json.loads, "
                            f"{tasks} in flight",
                            median_ratio(runs.cpu, raw.cpu) if raw else None,
                            TARGET_RATIO,
                            at_most=True,
                            unit=" x",
                        )
                    )
                if name == SDK_AIOHTTP:
                    section.targets.append(
                        Target(
                            f"SDK on aiohttp, CPU per request / raw aiohttp + json.loads, "
                            f"{tasks} in flight",
                            median_ratio(runs.cpu, floor.cpu) if floor else None,
                            AIOHTTP_TARGET_RATIO,
                            at_most=True,
                            unit=" x",
                        )
                    )
    section.verdict = "\n\n".join(notes.values())
    return section


def _usable(runs: Runs | None) -> Runs | None:
    return runs if runs is not None and runs.failure is None else None


async def _measure(
    server: Server, requests: int, tasks: int, rounds: int
) -> tuple[dict[str, Runs], dict[str, str]]:
    openers: dict[str, Opener] = {
        RAW_HTTPX: partial(raw_httpx, server, tasks),
        SDK_HTTPX: partial(sdk_session, server, tasks, "httpx"),
        RAW_AIOHTTP: partial(raw_aiohttp, server, tasks),
        SDK_AIOHTTP: partial(sdk_session, server, tasks, "aiohttp"),
    }
    async with open_all(openers) as (opened, missing):
        contenders = {
            name: partial(drive, fetcher(thing), requests, tasks) for name, thing in opened.items()
        }
        return await interleave(server, contenders, rounds), missing
