"""6. Many users through one Session.

Every member's rewards (3 pages each) read by concurrent tasks sharing one
Session whose max_concurrency of 32 bounds the requests in flight across all
of them, against the FakeCrowdTwist in its own process at 10 ms per response.
The ideal keeps all 32 slots busy: requests x latency / 32.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import anyio
import httpx

import crowdtwist_async as ct

from ._common import Section, median_seconds, server_process
from ._server import many_user

LATENCY = 0.010
SLOTS = 32
PER_MEMBER = 25  # 3 pages of 10, 10, 5


async def read_all(session: ct.Session, members: int, workers: int) -> int:
    total = 0
    queue = iter(range(members))

    async def worker() -> None:
        nonlocal total
        for index in queue:
            async for _ in session.users.aiter_rewards(many_user(index), id_type="email"):
                total += 1

    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker)
    return total


async def raw_all(
    client: httpx.AsyncClient, server_url: str, key: str, members: int, workers: int
) -> int:
    """The same reads by hand on raw httpx (no models): page 1, then pages 2 and 3 together."""
    total = 0
    queue = iter(range(members))

    async def get(index: int, page: int) -> dict[str, Any]:
        url = f"{server_url}/v2.1/users/{many_user(index)}/rewards"
        params = {"id_type": "email", "page": str(page), "api_key": key}
        data: dict[str, Any] = json.loads((await client.get(url, params=params)).content)
        return data

    async def rest(index: int, page: int) -> None:
        nonlocal total
        total += len((await get(index, page))["rewards"])

    async def worker() -> None:
        nonlocal total
        for index in queue:
            first = await get(index, 1)
            total += len(first["rewards"])
            async with anyio.create_task_group() as tg:
                for page in range(2, int(first["paging"]["pages"]) + 1):
                    tg.start_soon(rest, index, page)

    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(worker)
    return total


async def run(quick: bool) -> Section:
    members = 100 if quick else 1_000
    repeats = 1 if quick else 5
    requests = members * 3
    ideal = requests * LATENCY / SLOTS
    section = Section(
        title="6. Many users",
        setup=(
            f"{members:,} members x 3 pages ({requests:,} requests) through one Session with "
            f"max_concurrency {SLOTS}, {LATENCY * 1000:.0f} ms per response, the fake in its own "
            f"process; median of {repeats} runs. Ideal = requests x latency / {SLOTS}. Beside it, "
            "the same reads written by hand on raw httpx, through the same connection pool."
        ),
        header=("reader", "reader tasks", "wall time (s)", "ideal (s)", "efficiency", "requests/s"),
    )
    limits = httpx.Limits(max_connections=SLOTS, max_keepalive_connections=SLOTS)
    with server_process(latency=LATENCY, many=f"{members}x{PER_MEMBER}") as server:
        async with (
            httpx.AsyncClient(limits=limits) as client,
            ct.Session(
                server.api_key, base_url=server.url, max_concurrency=SLOTS, http_client=client
            ) as session,
        ):
            assert await read_all(session, min(members, 10), 4) == min(members, 10) * PER_MEMBER
            for workers in (16, 64):
                wall = await median_seconds(partial(read_all, session, members, workers), repeats)
                section.rows.append(
                    ("aiter_rewards", workers, wall, ideal, ideal / wall, requests / wall)
                )
            # The same pool read by hand, no models: where the ceiling is httpx's.
            workers = 16
            raw = partial(raw_all, client, server.url, server.api_key, members, workers)
            wall = await median_seconds(raw, repeats)
            section.rows.append(
                ("raw httpx, by hand", workers, wall, ideal, ideal / wall, requests / wall)
            )
    return section
