"""What every benchmark shares: the server process, repeated timing, the report."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import attrs


@attrs.frozen
class Stats:
    """What the benchmark server has answered (see `benchmarks._server`)."""

    requests: int
    errors: int
    #: The most requests in flight at once since the previous `Server.stats()`.
    max_in_flight: int
    #: The CPU time the server process has used so far, in seconds.
    cpu: float


@attrs.frozen
class Server:
    url: str
    api_key: str
    process: subprocess.Popen[str] = attrs.field(repr=False)

    def stats(self) -> Stats:
        """The server's counts so far; resets its `max_in_flight`."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        requests, errors, most, cpu = self.process.stdout.readline().split()
        return Stats(int(requests), int(errors), int(most), float(cpu))

    def expect(self, before: Stats, requests: int, what: str) -> Stats:
        """Check that exactly *requests* requests, all answered 200, were served
        since *before*, so that a run which did less cannot report a fast time."""
        after = self.stats()
        served = after.requests - before.requests
        failed = after.errors - before.errors
        if served != requests or failed:
            raise AssertionError(
                f"{what}: the server answered {served} requests ({failed} not 200), "
                f"expected {requests}"
            )
        return after


@contextmanager
def server_process(**options: Any) -> Iterator[Server]:
    """Run `benchmarks._server` with *options* in its own process."""
    argv = [sys.executable, "-m", "benchmarks._server"]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    process = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=_repo_root()
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2:
            raise RuntimeError(f"the benchmark server did not start: {line!r}")
        yield Server(url=line[0], api_key=line[1], process=process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _repo_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def median_seconds(run: Callable[[], Awaitable[object]], repeats: int) -> float:
    """The median wall time of *repeats* runs of *run*, after one warm-up run."""
    await run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def median_of(measure: Callable[[], float], repeats: int) -> float:
    """The median of *repeats* calls of a synchronous *measure*."""
    return statistics.median(measure() for _ in range(repeats))


def median_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """The median of the run-by-run ratios of two interleaved contenders.

    Pairing each run with its neighbour cancels most of the drift of a
    shared machine, which a ratio of the two medians would keep.
    """
    return statistics.median(n / d for n, d in zip(numerators, denominators, strict=True))


class Unavailable(Exception):
    """A contender that cannot run here; its rows say why instead of a figure."""


@attrs.frozen
class Target:
    """A figure and the bound it should meet."""

    figure: str
    #: None when the contender could not run (its reason is in the table).
    value: float | None
    bound: float
    #: True when lower is better (the value must be <= bound).
    at_most: bool = False
    unit: str = ""

    @property
    def outcome(self) -> str:
        if self.value is None:
            return "not measured"
        met = self.value <= self.bound if self.at_most else self.value >= self.bound
        return "met" if met else "missed"

    @property
    def goal(self) -> str:
        return f"{'<=' if self.at_most else '>='} {_number(self.bound)}{self.unit}"

    def cells(self) -> tuple[str, str, str, str]:
        measured = "-" if self.value is None else f"{_number(self.value)}{self.unit}"
        return (self.figure, measured, self.goal, self.outcome)


TARGET_HEADER = ("figure", "measured", "target", "outcome")


@attrs.define
class Section:
    """One benchmark's part of RESULTS.md."""

    title: str
    setup: str
    header: Sequence[str]
    rows: list[Sequence[object]] = attrs.Factory(list)
    verdict: str = ""
    targets: list[Target] = attrs.Factory(list)
    #: Contenders that ran and failed (not those unavailable here); the run
    #: reports them and exits non-zero, so that CI notices.
    failures: list[str] = attrs.Factory(list)

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", self.setup, ""]
        lines += table(self.header, self.rows)
        if self.targets:
            lines += ["", "Targets:", ""]
            lines += table(TARGET_HEADER, [t.cells() for t in self.targets])
        if self.verdict:
            lines += ["", self.verdict]
        return "\n".join(lines) + "\n"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """The lines of a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def _number(value: float) -> str:
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> str:
    """A line describing where the numbers were measured."""
    names = ("crowdtwist-async", "httpx", "httpcore", "aiohttp", "anyio", "attrs", "cattrs")
    others = ("orjson", "pydantic", "msgspec", "uvicorn", "httptools", "uvloop")
    packages = [f"{name} {_version(name)}" for name in (*names, *others)]
    return (
        f"{os.cpu_count()} CPUs ({platform.machine()}, {platform.processor() or 'unknown'}), "
        f"{platform.python_implementation()} {platform.python_version()} on "
        f"{platform.system()} {platform.release()}; " + ", ".join(packages)
    )


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "(not installed)"
