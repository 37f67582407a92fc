"""3. Per-request overhead: the SDK, models included, against raw httpx + json.loads.

The same server with no added latency; one request at a time, then 8 at a
time, both sides on one httpx.AsyncClient and its connection pool.
"""

from __future__ import annotations

import json
from functools import partial

import anyio
import httpx

import crowdtwist_async as ct

from ._common import Section, median_seconds, server_process
from ._server import BIG_USER

PAGES = 60


async def sdk_pages(session: ct.Session, requests: int, tasks: int) -> None:
    async def worker(offset: int) -> None:
        for n in range(offset, requests, tasks):
            page = await session.users.get_rewards_page(
                BIG_USER, id_type="email", page=n % PAGES + 1
            )
            assert len(page.rewards) == 10

    async with anyio.create_task_group() as tg:
        for offset in range(tasks):
            tg.start_soon(worker, offset)


async def raw_pages(
    client: httpx.AsyncClient, url: str, key: str, requests: int, tasks: int
) -> None:
    async def worker(offset: int) -> None:
        for n in range(offset, requests, tasks):
            response = await client.get(
                url, params={"id_type": "email", "page": str(n % PAGES + 1), "api_key": key}
            )
            assert len(json.loads(response.content)["rewards"]) == 10

    async with anyio.create_task_group() as tg:
        for offset in range(tasks):
            tg.start_soon(worker, offset)


async def run(quick: bool) -> Section:
    requests = 60 if quick else 600
    repeats = 1 if quick else 7
    section = Section(
        title="3. Per-request overhead",
        setup=(
            f"FakeCrowdTwist in its own process, no added latency; {requests} page requests "
            f"per run, median of {repeats} runs. `get_rewards_page` (HTTP, JSON and the "
            "models) against `httpx.AsyncClient.get` + `json.loads` (no models), both through "
            "one `httpx.AsyncClient` and its connection pool."
        ),
        header=("tasks", "SDK pages/s", "raw pages/s", "SDK / raw"),
    )
    with server_process(big=PAGES * 10) as server:
        url = f"{server.url}/v2.1/users/{BIG_USER}/rewards"
        for tasks in (1, 8):
            # One connection pool serves both sides.
            limits = httpx.Limits(max_connections=tasks, max_keepalive_connections=tasks)
            async with (
                httpx.AsyncClient(limits=limits) as client,
                ct.Session(
                    server.api_key, base_url=server.url, max_concurrency=tasks, http_client=client
                ) as session,
            ):
                sdk = await median_seconds(partial(sdk_pages, session, requests, tasks), repeats)
                raw = await median_seconds(
                    partial(raw_pages, client, url, server.api_key, requests, tasks), repeats
                )
            section.rows.append((tasks, requests / sdk, requests / raw, raw / sdk))
    return section
