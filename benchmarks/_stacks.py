"""The HTTP stacks the benchmarks set side by side, and running them interleaved.

Raw httpx and raw aiohttp, each followed by `json.loads` and nothing else
(the requests in flight bounded by an asyncio semaphore, as a careful
hand-written client bounds them), are the floors; the SDK runs on each of
them (`http_backend="aiohttp"` for the second). A stack that cannot run
here (aiohttp not installed, or an SDK without that backend yet) raises
`Unavailable`, and its rows say why.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, Literal

import attrs
import httpx

import crowdtwist_async as ct

from ._common import Section, Server, Stats, Unavailable

RAW_HTTPX = "raw httpx + json.loads"
RAW_AIOHTTP = "raw aiohttp + json.loads"
SDK_HTTPX = "SDK on httpx (default)"
SDK_AIOHTTP = 'SDK on aiohttp (http_backend="aiohttp")'

#: Which raw stack each SDK stack is measured against.
FLOOR = {SDK_HTTPX: RAW_HTTPX, SDK_AIOHTTP: RAW_AIOHTTP}

Backend = Literal["httpx", "aiohttp"]
#: The decoded JSON of page *page* of member *user*'s rewards.
GetPage = Callable[[str, int], Awaitable[dict[str, Any]]]


def rewards_url(server: Server, user: str) -> str:
    return f"{server.url}/v2.1/users/{user}/rewards"


def _params(server: Server, page: int) -> dict[str, str]:
    return {"id_type": "email", "page": str(page), "api_key": server.api_key}


@asynccontextmanager
async def raw_httpx(server: Server, connections: int) -> AsyncIterator[GetPage]:
    """What a user writes by hand on httpx: one client, a GET, `json.loads`,
    a semaphore bounding the requests in flight."""
    # As many kept-alive connections as may be in flight, as the SDK's own
    # client keeps: httpx's default of 20 would reconnect above 20 in flight.
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    # Bounded before the pool, as the SDK bounds them: requests queued inside
    # httpcore's pool cost CPU per queued request on every change.
    slots = asyncio.Semaphore(connections)
    async with httpx.AsyncClient(limits=limits) as client:

        async def get(user: str, page: int) -> dict[str, Any]:
            async with slots:
                response = await client.get(rewards_url(server, user), params=_params(server, page))
            data: dict[str, Any] = json.loads(response.content)
            return data

        yield get


def _require_aiohttp() -> None:
    try:
        import aiohttp  # noqa: F401
    except ImportError as exc:
        raise Unavailable(
            f'aiohttp is not installed (pip install "crowdtwist-async[aiohttp]"): {exc}'
        ) from exc


@asynccontextmanager
async def raw_aiohttp(server: Server, connections: int) -> AsyncIterator[GetPage]:
    """The same by hand on aiohttp: one ClientSession, a GET, `json.loads`."""
    _require_aiohttp()
    import aiohttp

    connector = aiohttp.TCPConnector(limit=connections)
    slots = asyncio.Semaphore(connections)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def get(user: str, page: int) -> dict[str, Any]:
            async with (
                slots,
                client.get(rewards_url(server, user), params=_params(server, page)) as response,
            ):
                body = await response.read()
            data: dict[str, Any] = json.loads(body)
            return data

        yield get


@asynccontextmanager
async def sdk_session(
    server: Server, max_concurrency: int, backend: Backend
) -> AsyncIterator[ct.Session]:
    """A Session as a user makes it on *backend*, its own HTTP client included."""
    options: dict[str, Any] = {}
    if backend == "aiohttp":
        _require_aiohttp()
        # Passed through a dict: the keyword is being added alongside these
        # benchmarks, and an SDK without it must give a row, not a type error.
        options["http_backend"] = "aiohttp"
    try:
        session = ct.Session(
            server.api_key, base_url=server.url, max_concurrency=max_concurrency, **options
        )
    except TypeError as exc:
        if "http_backend" not in str(exc):
            raise
        raise Unavailable("this crowdtwist_async has no http_backend= yet") from exc
    except ImportError as exc:
        raise Unavailable(f"the SDK could not load its aiohttp backend: {exc}") from exc
    async with session:
        yield session


#: Makes the async context manager that opens one contender.
Opener = Callable[[], AbstractAsyncContextManager[Any]]


@asynccontextmanager
async def open_all(
    openers: Mapping[str, Opener],
) -> AsyncIterator[tuple[dict[str, Any], dict[str, str]]]:
    """Enter every opener (an async context manager factory) that can run here.

    Yields what each entered gave, by name, and why the others could not run.
    """
    opened: dict[str, Any] = {}
    missing: dict[str, str] = {}
    async with AsyncExitStack() as stack:
        for name, opener in openers.items():
            try:
                opened[name] = await stack.enter_async_context(opener())
            except Unavailable as exc:  # noqa: PERF203 (four contenders, once per table)
                missing[name] = str(exc)
        yield opened, missing


@attrs.define
class Runs:
    """One contender's measured runs (the warm-up excluded)."""

    wall: list[float] = attrs.Factory(list)
    cpu: list[float] = attrs.Factory(list)
    #: The most requests the server saw in flight at once during each run.
    in_flight: list[int] = attrs.Factory(list)
    #: The server process's CPU time during each run.
    server_cpu: list[float] = attrs.Factory(list)
    failure: str | None = None

    @property
    def wall_median(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def server_cpu_median(self) -> float:
        return statistics.median(self.server_cpu)


async def interleave(
    server: Server, contenders: Mapping[str, Callable[[], Awaitable[int]]], rounds: int
) -> dict[str, Runs]:
    """Run every contender once per round, after one warm-up round.

    A contender returns how many requests it sent; the server must have
    answered exactly that many, all 200, and the contender itself checks what
    it read (it raises if it fell short). A contender that fails is dropped
    and its failure kept, so that the others still report.

    The order rotates from round to round so no contender always follows the
    same one (a pool just used, a garbage collection due).
    """
    names: Sequence[str] = list(contenders)
    results = {name: Runs() for name in names}
    for turn in range(rounds + 1):
        shift = turn % len(names) if names else 0
        for name in [*names[shift:], *names[:shift]]:
            runs = results[name]
            if runs.failure is not None:
                continue
            # The garbage of the run before is not this one's to collect.
            gc.collect()
            before: Stats = server.stats()
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                sent = await contenders[name]()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                after = server.expect(before, sent, name)
            except Exception as exc:
                runs.failure = _describe(exc)
                continue
            if turn:
                runs.wall.append(wall)
                runs.cpu.append(cpu)
                runs.in_flight.append(after.max_in_flight)
                runs.server_cpu.append(after.cpu - before.cpu)
    return results


def _describe(exc: BaseException) -> str:
    # A task group wraps a worker's error; the error itself says more.
    inner: Sequence[BaseException] = getattr(exc, "exceptions", ())
    while len(inner) == 1:
        exc = inner[0]
        inner = getattr(exc, "exceptions", ())
    return f"{type(exc).__name__}: {exc}"


def account(
    section: Section,
    notes: dict[str, str],
    name: str,
    results: dict[str, Runs],
    missing: dict[str, str],
) -> Runs | str:
    """The runs of *name* if it ran, else the word for its cells ("not
    available" or "failed"), with the reason noted once under the table."""
    runs = results.get(name)
    if runs is None:
        label, why = "not available", missing.get(name, "not run")
    elif runs.failure is None:
        return runs
    else:
        label, why = "failed", runs.failure
        section.failures.append(f"{section.title}, {name}: {why}")
    notes.setdefault(name, f"{name}: {label}: {why}")
    return label
