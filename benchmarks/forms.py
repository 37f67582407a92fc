"""2. The two listing forms side by side: plain `async for` and `async with`.

The plain form fetches a window of pages inside each `__anext__` that needs
one and returns when the window is done (nothing runs between items); the
entered form keeps a sliding window running while the consumer works. Both
read the same pages, the FakeCrowdTwist's own bytes served in process after
their latency, so the figures show the pagination design and the SDK's own
CPU rather than socket and server costs (section 1 has those); the readers
are interleaved run by run.

The bound is L x (1 + ceil((P - 1) / C)): page 1 alone, then rounds of C
pages, with L the mean latency of a response. Under the heavy tail, 6 of the
60 pages (the same 6 every run, a seeded draw) take 4x as long, so L is
(54 x 25 + 6 x 100) / 60 = 32.5 ms; the efficiency against 25 ms is given too.

Below the table, the same listing over loopback HTTP on aiohttp, flat and
with the same heavy tail (the fake in its own process, the same 6 pages 4x
slower every run): the SDK's two forms (`http_backend="aiohttp"`) against the
hand-written loop on raw aiohttp + `json.loads`, interleaved, as the median
of the run-by-run ratios.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import attrs
import httpx

import crowdtwist_async as ct
from crowdtwist_async._endpoints import REWARDS
from crowdtwist_async._listing import Walk
from crowdtwist_async._page import Page, new_items
from crowdtwist_async._pagination import AsyncPaginator

from ._common import Section, Target, median_ratio, server_process, table
from ._server import BIG_USER, build
from ._stacks import (
    RAW_AIOHTTP,
    SDK_AIOHTTP,
    GetPage,
    Opener,
    Runs,
    account,
    interleave,
    open_all,
    raw_aiohttp,
    sdk_session,
)
from .pagination import sdk_entered, sdk_listing

LATENCY = 0.025
JITTER = 0.005
TAIL_FACTOR = 4
#: The plain form under the heavy tail, over aiohttp, against raw aiohttp (issue 23).
TARGET_PLAIN_TAIL_OVER_RAW = 1.3


@attrs.frozen
class Case:
    name: str
    pages: int
    concurrency: int
    jitter: float
    slow_pages: frozenset[int] = frozenset()
    target_plain: float | None = None
    target_entered: float | None = None

    @property
    def mean_latency(self) -> float:
        slow = len(self.slow_pages)
        return LATENCY * (self.pages - slow + TAIL_FACTOR * slow) / self.pages

    def bound(self, latency: float) -> float:
        return latency * (1 + math.ceil((self.pages - 1) / self.concurrency))


CASES = (
    Case("60 pages, C=8, 25 +- 5 ms", 60, 8, JITTER, target_plain=0.85, target_entered=0.93),
    Case(
        "60 pages, C=8, heavy tail",
        60,
        8,
        JITTER,
        slow_pages=frozenset(random.Random(2026).sample(range(1, 61), 6)),
        target_entered=0.8,
    ),
    Case("3 pages, C=4, 25 +- 5 ms", 3, 4, JITTER, target_plain=0.95, target_entered=0.95),
    Case("3 pages, C=4, 25 ms flat", 3, 4, 0.0, target_plain=0.95, target_entered=0.95),
)


class Latency:
    """How long each page takes: LATENCY, TAIL_FACTOR times that for the slow
    pages, plus a uniform jitter from a seeded draw of its own."""

    def __init__(self, jitter: float, slow: frozenset[int]) -> None:
        self._jitter = jitter
        self._slow = slow
        self._draws = random.Random(20261129)

    async def wait(self, page: int) -> None:
        latency = LATENCY * (TAIL_FACTOR if page in self._slow else 1)
        await anyio.sleep(latency + self._draws.uniform(-self._jitter, self._jitter))


class CannedPages(httpx.AsyncBaseTransport):
    """Serves the fake's pages, encoded once beforehand, after their latency.

    Running the fake itself per request in this process would charge its CPU
    to the client's event loop; a real CrowdTwist spends it elsewhere.
    """

    def __init__(self, pages: dict[int, bytes], latency: Latency) -> None:
        self._pages = pages
        self._latency = latency

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        await self._latency.wait(page)
        return httpx.Response(
            200, headers={"content-type": "application/json"}, content=self._pages[page]
        )


async def encoded_pages(count: int) -> tuple[dict[int, bytes], str, str]:
    """The fake's pages of the benchmark member, as it sends them, and its URL and key."""
    fake = build(count * 10, 0, 0)
    pages = {}
    async with httpx.AsyncClient(transport=fake.transport()) as client:
        for page in range(1, count + 1):
            response = await client.get(
                f"{fake.base_url}/v2.1/users/{BIG_USER}/rewards",
                params={"id_type": "email", "page": str(page), "api_key": fake.api_key},
            )
            pages[page] = response.content
    return pages, fake.base_url, fake.api_key


class DesignOnly:
    """The same walk with no HTTP and no parsing: a page is a sleep, then a
    page structured beforehand. What the design costs, without the CPU."""

    def __init__(self, pages: dict[int, bytes], latency: Latency) -> None:
        self._pages = {n: REWARDS.parse_page(json.loads(body), n) for n, body in pages.items()}
        self._latency = latency

    async def fetch(self, page: int) -> Page[ct.Reward, ct.RewardsPage]:
        await self._latency.wait(page)
        return self._pages[page]

    async def read(self, concurrency: int, *, entered: bool) -> int:
        listing = AsyncPaginator(
            self.fetch,
            walk=Walk(page_size=10, max_concurrency=concurrency),
            select=new_items,
            key=REWARDS.key,
        )
        count = 0
        async with listing if entered else contextlib.nullcontext():
            async for _ in listing:
                count += 1
        return count


async def handwritten(client: httpx.AsyncClient, base_url: str, key: str, concurrency: int) -> int:
    """The best a user could write by hand: page 1, then C workers, raw httpx, no models."""
    url = f"{base_url}/v2.1/users/{BIG_USER}/rewards"

    async def get(page: int) -> dict[str, Any]:
        params = {"id_type": "email", "api_key": key, "page": str(page)}
        data: dict[str, Any] = json.loads((await client.get(url, params=params)).content)
        return data

    first = await get(1)
    results: dict[int, int] = {1: len(first["rewards"])}
    queue = iter(range(2, int(first["paging"]["pages"]) + 1))

    async def worker() -> None:
        for page in queue:
            results[page] = len((await get(page))["rewards"])

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    return sum(results.values())


async def measure(case: Case, repeats: int) -> dict[str, float]:
    """Median seconds of each reader on *case*, the readers interleaved run by run."""
    pages, base_url, key = await encoded_pages(case.pages)
    # Each its own draws, as the SDK and the design alone read interleaved.
    transport = CannedPages(pages, Latency(case.jitter, case.slow_pages))
    design = DesignOnly(pages, Latency(case.jitter, case.slow_pages))
    readers: dict[str, Callable[[], Awaitable[int]]]
    async with (
        ct.Session(key, base_url=base_url, transport=transport, max_concurrency=32) as session,
        httpx.AsyncClient(transport=transport) as client,
    ):
        readers = {
            "plain": lambda: sdk_listing(session, case.concurrency),
            "entered": lambda: sdk_entered(session, case.concurrency),
            "hand-written": lambda: handwritten(client, base_url, key, case.concurrency),
            "design plain": lambda: design.read(case.concurrency, entered=False),
            "design entered": lambda: design.read(case.concurrency, entered=True),
        }
        times: dict[str, list[float]] = {name: [] for name in readers}
        for run in range(repeats + 1):
            for name, reader in readers.items():
                started = time.perf_counter()
                assert await reader() == case.pages * 10
                if run:  # the first round warms up
                    times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


async def _raw_listing(get: GetPage, concurrency: int) -> int:
    """The hand-written loop on a raw stack: page 1, then C workers; the requests sent."""
    first = await get(BIG_USER, 1)
    results: dict[int, int] = {1: len(first["rewards"])}
    pages = int(first["paging"]["pages"])
    queue = iter(range(2, pages + 1))

    async def worker() -> None:
        for page in queue:
            results[page] = len((await get(BIG_USER, page))["rewards"])

    async with anyio.create_task_group() as tg:
        for _ in range(concurrency):
            tg.start_soon(worker)
    _check_read(sum(results.values()), pages)
    return pages


def _check_read(rewards: int, pages: int) -> None:
    if rewards != pages * 10:
        raise AssertionError(f"read {rewards} rewards, expected {pages * 10}")


async def _sdk_read(session: ct.Session, case: Case, *, entered: bool) -> int:
    reader = sdk_entered if entered else sdk_listing
    _check_read(await reader(session, case.concurrency), case.pages)
    return case.pages


HTTP_PLAIN = "plain, SDK on aiohttp"
HTTP_ENTERED = "async with, SDK on aiohttp"


async def _measure_http(case: Case, rounds: int) -> tuple[dict[str, Runs], dict[str, str]]:
    """*case* over loopback HTTP: the SDK's forms on aiohttp and raw aiohttp, interleaved."""
    options: dict[str, object] = {"latency": LATENCY, "jitter": case.jitter, "big": case.pages * 10}
    if case.slow_pages:
        options["slow_pages"] = ",".join(str(page) for page in sorted(case.slow_pages))
        options["tail_factor"] = TAIL_FACTOR
    with server_process(**options) as server:
        openers: dict[str, Opener] = {
            SDK_AIOHTTP: partial(sdk_session, server, case.concurrency, "aiohttp"),
            RAW_AIOHTTP: partial(raw_aiohttp, server, case.concurrency),
        }
        async with open_all(openers) as (opened, missing):
            contenders: dict[str, Callable[[], Awaitable[int]]] = {}
            if SDK_AIOHTTP in opened:
                session = opened[SDK_AIOHTTP]
                contenders[HTTP_PLAIN] = partial(_sdk_read, session, case, entered=False)
                contenders[HTTP_ENTERED] = partial(_sdk_read, session, case, entered=True)
            else:
                missing[HTTP_PLAIN] = missing[HTTP_ENTERED] = missing.pop(SDK_AIOHTTP)
            if RAW_AIOHTTP in opened:
                contenders[RAW_AIOHTTP] = partial(
                    _raw_listing, opened[RAW_AIOHTTP], case.concurrency
                )
            return await interleave(server, contenders, rounds), missing


async def _http_rows(section: Section, rounds: int) -> str:
    """The over-HTTP table on aiohttp, flat and heavy tail; its Markdown."""
    rows: list[tuple[object, ...]] = []
    notes: dict[str, str] = {}
    for case in (CASES[0], CASES[1]):
        results, missing = await _measure_http(case, rounds)
        bound = case.bound(case.mean_latency)
        raw = account(section, notes, RAW_AIOHTTP, results, missing)
        cells: list[object] = [case.name, bound * 1000]
        for name in (HTTP_PLAIN, HTTP_ENTERED):
            runs = account(section, notes, name, results, missing)
            if isinstance(runs, str):
                cells += [runs, "-"]
                ratio = None
            else:
                ratio = None if isinstance(raw, str) else median_ratio(runs.wall, raw.wall)
                cells += [runs.wall_median * 1000, "-" if ratio is None else ratio]
            if case.slow_pages and name == HTTP_PLAIN:
                section.targets.append(
                    Target(
                        f"{case.name}, plain / raw aiohttp (loopback HTTP)",
                        ratio,
                        TARGET_PLAIN_TAIL_OVER_RAW,
                        at_most=True,
                        unit="x",
                    )
                )
        cells.append(raw if isinstance(raw, str) else raw.wall_median * 1000)
        rows.append(tuple(cells))
    header = (
        "listing, over loopback HTTP",
        "bound (ms)",
        "plain on aiohttp (ms)",
        "plain / raw aiohttp",
        "async with on aiohttp (ms)",
        "async with / raw aiohttp",
        "raw aiohttp (ms)",
    )
    lines = [
        f"Over loopback HTTP on aiohttp (the fake in its own process, the same latencies; "
        f"median of {rounds} interleaved runs, the order rotating; the ratios are medians "
        "of the run-by-run ratios to the hand-written loop on raw aiohttp + `json.loads`):",
        "",
        *table(header, rows),
    ]
    if notes:
        lines += ["", *notes.values()]
    return "\n".join(lines)


def _verdict(efficiency: float, target: float | None) -> str:
    if target is None:
        return f"{efficiency:.3f}"
    return f"{efficiency:.3f} ({'met' if efficiency >= target else 'missed'} >= {target})"


async def run(quick: bool) -> Section:
    # A quick run (CI) checks that every reader works, not the figures.
    long_runs, short_runs = (2, 3) if quick else (15, 31)
    section = Section(
        title="2. The two listing forms side by side",
        setup=(
            "In process (the FakeCrowdTwist's pages, encoded once, served after their latency; "
            "no sockets), the readers interleaved, "
            f"median of {long_runs} runs ({short_runs} for 3 pages). Efficiency = bound / "
            "measured, bound = L x (1 + ceil((P - 1) / C)) with L the mean latency. Heavy tail: "
            "pages {} take 100 ms; its efficiency against L = 25 ms is in brackets. The design "
            "alone: the same walks with no HTTP and no parsing (pages built beforehand), "
            "to tell the design's cost from the CPU's.".format(
                ", ".join(str(p) for p in sorted(CASES[1].slow_pages))
            )
        ),
        header=(
            "listing",
            "bound (ms)",
            "plain (ms)",
            "plain efficiency",
            "async with (ms)",
            "async with efficiency",
            "hand-written (ms)",
            "hand-written efficiency",
            "design alone: plain",
            "design alone: async with",
        ),
    )
    for case in CASES:
        repeats = long_runs if case.pages > 3 else short_runs
        medians = await measure(case, repeats)
        bound = case.bound(case.mean_latency)
        nominal = case.bound(LATENCY)
        cells: list[object] = [case.name, bound * 1000]
        for name, target in (
            ("plain", case.target_plain),
            ("entered", case.target_entered),
            ("hand-written", None),
        ):
            efficiency = bound / medians[name]
            shown = _verdict(efficiency, target)
            if target is not None:
                form = "plain" if name == "plain" else "async with"
                section.targets.append(Target(f"{case.name}, {form}", efficiency, target))
            if case.slow_pages:
                shown += f" [{nominal / medians[name]:.3f}]"
            cells += [medians[name] * 1000, shown]
        for name, target in (
            ("design plain", case.target_plain),
            ("design entered", case.target_entered),
        ):
            cells.append(_verdict(bound / medians[name], target))
        section.rows.append(tuple(cells))
    # A quick run: one round over HTTP, enough to check that every reader works.
    section.verdict = await _http_rows(section, 1 if quick else long_runs)
    return section
