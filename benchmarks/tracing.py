"""8. What tracing costs: CPU per request with and without OpenTelemetry.

The SDK looks for a tracer once per request (`_telemetry.active_tracer`):
without `opentelemetry-api`, or with the API's default provider (none
configured), it traces nothing and should cost nothing measurable. With an
SDK `TracerProvider` each listing is a span and each request a client span.

Each configuration runs in its own process, so that no global state (an
imported `opentelemetry`, a tracer provider set) carries over: this module is
also that process (`python -m benchmarks.tracing --child NAME`), which
reads a whole `aiter_rewards` listing, section 2's pages served in process
with no latency, again and again and prints its CPU per request as JSON.
The processes are interleaved, their order rotating from round to round.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import timeit
from typing import Any

import anyio

from ._common import Section, Target, _repo_root, _version, median_ratio

PAGES = 60
CONCURRENCY = 8

NOT_IMPORTABLE = "not importable"
NO_PROVIDER = "no provider"
SDK_BARE = "SDK provider"
SDK_EXPORTING = "SDK provider, exporting"

#: Each configuration, as its table row names it.
CONFIGURATIONS = {
    NOT_IMPORTABLE: '1. opentelemetry not importable (`sys.modules["opentelemetry"] = None`)',
    NO_PROVIDER: "2. opentelemetry-api importable, no tracer provider set (the default)",
    SDK_BARE: "3. SDK `TracerProvider`, no span processor (spans made, none exported)",
    SDK_EXPORTING: "4. SDK `TracerProvider` + `SimpleSpanProcessor(InMemorySpanExporter())`",
}

#: With no provider, CPU per request may exceed that without opentelemetry by this much.
TARGET_NO_PROVIDER = 1.02


# --- the child process --------------------------------------------------------


def _child(name: str, listings: int, warmups: int) -> dict[str, Any]:
    """Set up configuration *name*, then read the listing *warmups* + *listings* times."""
    if name == NOT_IMPORTABLE:
        # Before the SDK is imported: `import opentelemetry` now raises ImportError.
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]
    exporter = None
    if name in (SDK_BARE, SDK_EXPORTING):
        try:
            from opentelemetry import trace
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )
        except ImportError as exc:
            return {"unavailable": f"opentelemetry-sdk is not installed: {exc}"}
        provider = TracerProvider()
        if name == SDK_EXPORTING:
            exporter = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
    elif name == NO_PROVIDER:
        try:
            import opentelemetry.trace  # noqa: F401
        except ImportError as exc:
            return {"unavailable": f"opentelemetry-api is not installed: {exc}"}
    return anyio.run(_read, name, listings, warmups, exporter)


async def _read(name: str, listings: int, warmups: int, exporter: Any) -> dict[str, Any]:
    # Imported only now, after the configuration is in place.
    import crowdtwist_async as ct
    from crowdtwist_async import _telemetry
    from crowdtwist_async._state import STATE

    from .forms import CannedPages, Latency, encoded_pages
    from .pagination import sdk_listing

    class Instant(Latency):
        """No latency at all; counts the requests."""

        requests = 0

        async def wait(self, page: int) -> None:
            self.requests += 1

    pages, base_url, key = await encoded_pages(PAGES)
    counter = Instant(0.0, frozenset())
    cpu: list[float] = []
    spans = 0
    async with ct.Session(
        key, base_url=base_url, transport=CannedPages(pages, counter), max_concurrency=32
    ) as session:

        async def listing() -> float:
            """One listing read and checked; its CPU per request."""
            if exporter is not None:
                exporter.clear()
            # The garbage of the run before is not this one's to collect.
            gc.collect()
            before = counter.requests
            started = time.process_time()
            items = await sdk_listing(session, CONCURRENCY)
            spent = time.process_time() - started
            requests = counter.requests - before
            if items != PAGES * 10 or requests != PAGES:
                raise AssertionError(
                    f"{items} rewards in {requests} requests, expected 10 x {PAGES}"
                )
            if exporter is not None:
                nonlocal spans
                spans = len(exporter.get_finished_spans())
                # One span for the listing, one per request.
                if spans != PAGES + 1:
                    raise AssertionError(f"{spans} spans exported, expected {PAGES + 1}")
            return spent / requests

        for run in range(warmups + listings):
            spent = await listing()
            if run >= warmups:
                cpu.append(spent)
        if name == SDK_BARE:
            # Once the runs are done: that spans were made and ended unexported.
            from opentelemetry import trace
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )

            provider = trace.get_tracer_provider()
            assert isinstance(provider, TracerProvider)
            exporter = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            await listing()
    # The look-up each request makes, timed alone (the listing's warm caches).
    calls = 20_000
    lookup = min(timeit.repeat(_telemetry.active_tracer, number=calls, repeat=5)) / calls
    # Whether the SDK saw the configuration as meant.
    tracing = STATE.tracer is not None
    expected = {
        NOT_IMPORTABLE: STATE.otel_api is False and not tracing,
        NO_PROVIDER: STATE.otel_api not in (None, False) and not tracing,
        SDK_BARE: tracing,
        SDK_EXPORTING: tracing,
    }
    if not expected[name]:
        raise AssertionError(f"{name}: the SDK saw api={STATE.otel_api!r}, tracer={STATE.tracer!r}")
    return {"cpu": statistics.median(cpu), "spans": spans, "lookup": lookup}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tracing")
    parser.add_argument("--child", choices=list(CONFIGURATIONS), required=True)
    parser.add_argument("--listings", type=int, required=True)
    parser.add_argument("--warmups", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(_child(args.child, args.listings, args.warmups)))


# --- the section ----------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    """This environment without what would change what is traced or logged."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("OTEL_") and name != "CROWDTWIST_LOG"
    }


async def _spawn(name: str, listings: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "benchmarks.tracing", "--child", name]
    argv += ["--listings", str(listings)]
    done = await anyio.run_process(argv, cwd=_repo_root(), env=_clean_env(), check=False)
    if done.returncode:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return {"failure": f"exit {done.returncode}: {lines[-1] if lines else 'no output'}"}
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


async def run(quick: bool) -> Section:
    rounds, listings = (2, 5) if quick else (11, 30)
    section = Section(
        title="8. What tracing costs",
        setup=(
            f"A whole `aiter_rewards` listing ({PAGES} pages of 10 rewards, max_concurrency "
            f"{CONCURRENCY}) read through an in-process httpx transport that returns section 2's "
            "pages, encoded beforehand, with no latency: the client's CPU is all there is. Each "
            "configuration runs in its own process (its global state clean): 2 warm-up "
            f"listings, then {listings}, each its `time.process_time()` per request after a "
            f"garbage collection, of which the process reports the median. {rounds} rounds, "
            "one process per configuration each, the order rotating; CPU per request is the "
            "median over the rounds, the ratio the median of the round-by-round ratios to (1), "
            "beside the lowest and highest of them. The look-up is `active_tracer()`, the call "
            "each request makes whatever the configuration, timed alone in the same process "
            f"after the listings. Every listing checks its {PAGES * 10} rewards in {PAGES} "
            f"requests, (4) its {PAGES + 1} spans (the listing's and one per request), (3) "
            "the same in one listing after the timed ones, and every process that the SDK saw "
            f"the configuration as meant. opentelemetry-api {_version('opentelemetry-api')}, "
            f"opentelemetry-sdk {_version('opentelemetry-sdk')}."
        ),
        header=(
            "configuration",
            "CPU per request (us)",
            "CPU / (1)",
            "round ratios, lowest-highest",
            "look-up per request (us)",
            "spans per listing",
        ),
    )
    names = list(CONFIGURATIONS)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    why: dict[str, str] = {}
    for turn in range(rounds):
        shift = turn % len(names)
        for name in [*names[shift:], *names[:shift]]:
            if name in why:
                continue
            result = await _spawn(name, listings)
            if "failure" in result:
                why[name] = f"failed: {result['failure']}"
                section.failures.append(f"{section.title}, {name}: {result['failure']}")
            elif "unavailable" in result:
                why[name] = f"not available: {result['unavailable']}"
            else:
                results[name].append(result)
    cpu = {name: [r["cpu"] for r in runs] for name, runs in results.items()}
    base = cpu[NOT_IMPORTABLE] if NOT_IMPORTABLE not in why else None
    notes = []
    for name in names:
        label = CONFIGURATIONS[name]
        if name in why:
            section.rows.append((label, why[name].split(":")[0], "-", "-", "-", "-"))
            notes.append(f"{label}: {why[name]}")
            continue
        ratios = [n / d for n, d in zip(cpu[name], base, strict=True)] if base else []
        section.rows.append(
            (
                label,
                statistics.median(cpu[name]) * 1e6,
                median_ratio(cpu[name], base) if base else "-",
                f"{min(ratios):.3f}-{max(ratios):.3f}" if ratios else "-",
                statistics.median(r["lookup"] for r in results[name]) * 1e6,
                results[name][-1]["spans"],
            )
        )
    no_provider = None
    if base and NO_PROVIDER not in why:
        no_provider = median_ratio(cpu[NO_PROVIDER], base)
        lookup = statistics.median(r["lookup"] for r in results[NO_PROVIDER])
        per_request = statistics.median(cpu[NO_PROVIDER])
        notes.insert(
            0,
            f"With no provider, what a request pays over (1) is the look-up: "
            f"{lookup * 1e6:.2f} us of {per_request * 1e6:.0f} us "
            f"({lookup / per_request:.2%}), timed alone. What (2)'s ratio shows beyond that "
            "is most likely the difference between processes, as the spread of the round "
            "ratios is.",
        )
    section.targets.append(
        Target(
            "no provider: nothing paid (CPU per request, (2) / (1))",
            no_provider,
            TARGET_NO_PROVIDER,
            at_most=True,
            unit=" x",
        )
    )
    section.verdict = "\n\n".join(notes)
    return section


if __name__ == "__main__":
    main()
