"""1. Pagination against the latency bound, both forms, beside a hand-written loop.

The fake runs in its own process with 25 ms +- 5 ms per response; the
listing has 60 pages. One page at a time is what the usual SDKs do; the
ideal for C requests in flight is L x (1 + ceil((P - 1) / C)): page 1 alone,
then rounds of C.
"""

from __future__ import annotations

import json
import math
from functools import partial
from typing import Any

import anyio
import httpx

import crowdtwist_async as ct

from ._common import Section, Target, median_seconds, server_process
from ._server import BIG_USER

LATENCY = 0.025
JITTER = 0.005
PAGES = 60
LEVELS = (1, 2, 4, 8, 16)
#: The share of the latency bound both forms should reach at these levels.
TARGET = 0.85
TARGET_LEVELS = (8, 16)


async def sdk_listing(session: ct.Session, concurrency: int) -> int:
    count = 0
    async for _ in session.users.aiter_rewards(
        BIG_USER, id_type="email", max_concurrency=concurrency
    ):
        count += 1
    return count


async def sdk_entered(session: ct.Session, concurrency: int) -> int:
    count = 0
    listing = session.users.aiter_rewards(BIG_USER, id_type="email", max_concurrency=concurrency)
    async with listing:
        async for _ in listing:
            count += 1
    return count


async def handwritten(client: httpx.AsyncClient, url: str, key: str, concurrency: int) -> int:
    """The best a user could write by hand: C workers over raw httpx and json.loads."""
    params = {"id_type": "email", "api_key": key}

    async def get(page: int) -> dict[str, Any]:
        response = await client.get(url, params={**params, "page": str(page)})
        response.raise_for_status()
        data: dict[str, Any] = json.loads(response.content)
        return data

    first = await get(1)
    pages = int(first["paging"]["pages"])
    results: dict[int, list[Any]] = {1: first["rewards"]}
    queue = iter(range(2, pages + 1))

    async def worker() -> None:
        for page in queue:
            results[page] = (await get(page))["rewards"]

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return sum(len(results[page]) for page in range(1, pages + 1))


async def run(quick: bool) -> Section:
    repeats = 1 if quick else 7
    # One at a time is the slowest level by far: a quick run skips it.
    levels = (8,) if quick else LEVELS
    section = Section(
        title="1. Pagination against the latency bound",
        setup=(
            f"FakeCrowdTwist in its own process on 127.0.0.1, {LATENCY * 1000:.0f} ms +- "
            f"{JITTER * 1000:.0f} ms per response, a listing of {PAGES} pages (600 rewards). "
            f"Median of {repeats} runs each. Ideal = L x (1 + ceil((P - 1) / C)); "
            "efficiency = ideal / measured. aiter_rewards is the plain `async for`; "
            "async with is the entered listing. The hand-written loop is C workers over raw "
            "httpx + json.loads, no models."
        ),
        header=(
            "max_concurrency",
            "aiter_rewards (ms)",
            "speedup over 1",
            "efficiency",
            "async with (ms)",
            "async with efficiency",
            "hand-written (ms)",
            "hand-written efficiency",
            "async with / hand-written",
        ),
    )
    with server_process(latency=LATENCY, jitter=JITTER, big=PAGES * 10) as server:
        url = f"{server.url}/v2.1/users/{BIG_USER}/rewards"
        async with (
            ct.Session(server.api_key, base_url=server.url, max_concurrency=32) as session,
            httpx.AsyncClient() as client,
        ):
            assert await sdk_listing(session, 4) == PAGES * 10
            assert await handwritten(client, url, server.api_key, 4) == PAGES * 10
            base: float | None = None
            for level in levels:
                sdk = await median_seconds(partial(sdk_listing, session, level), repeats)
                entered = await median_seconds(partial(sdk_entered, session, level), repeats)
                raw = await median_seconds(
                    partial(handwritten, client, url, server.api_key, level), repeats
                )
                if level == 1:
                    base = sdk
                ideal = LATENCY * (1 + math.ceil((PAGES - 1) / level))
                section.rows.append(
                    (
                        level,
                        sdk * 1000,
                        "-" if base is None else base / sdk,
                        ideal / sdk,
                        entered * 1000,
                        ideal / entered,
                        raw * 1000,
                        ideal / raw,
                        raw / entered,
                    )
                )
                if level in TARGET_LEVELS:
                    for form, seconds in (("aiter_rewards", sdk), ("async with", entered)):
                        section.targets.append(
                            Target(
                                f"{form} efficiency, max_concurrency {level}",
                                ideal / seconds,
                                TARGET,
                            )
                        )
    return section
