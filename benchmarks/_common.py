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
class Server:
    url: str
    api_key: str


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
        yield Server(url=line[0], api_key=line[1])
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


@attrs.define
class Section:
    """One benchmark's part of RESULTS.md."""

    title: str
    setup: str
    header: Sequence[str]
    rows: list[Sequence[object]] = attrs.Factory(list)
    verdict: str = ""

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", self.setup, ""]
        lines.append("| " + " | ".join(self.header) + " |")
        lines.append("|" + "|".join("---" for _ in self.header) + "|")
        lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in self.rows]
        if self.verdict:
            lines += ["", self.verdict]
        return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> str:
    """A line describing where the numbers were measured."""
    names = ("crowdtwist-async", "httpx", "httpcore", "anyio", "attrs", "cattrs", "pydantic")
    packages = [f"{name} {_version(name)}" for name in (*names, "msgspec", "uvicorn")]
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
