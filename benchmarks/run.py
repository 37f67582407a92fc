"""Run the benchmarks and write a Markdown report (benchmarks/RESULTS.md by default)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

import anyio

from . import forms, many_users, memory, overhead, pagination, structuring
from ._common import Section, machine

BENCHMARKS: dict[str, Callable[[bool], Awaitable[Section]]] = {
    "pagination": pagination.run,
    "forms": forms.run,
    "overhead": overhead.run,
    "structuring": structuring.run,
    "memory": memory.run,
    "many_users": many_users.run,
}

INTRO = """# Benchmark results

Produced by `python -m benchmarks` (the `bench` extra: `pip install -e ".[test]"` has it).
Every figure is a median over repeated runs, and every comparison was measured
side by side in the same run. These machines are shared and noisy: read the
ratios more than the absolute numbers. Targets and what the numbers mean are
in the notes under each table and in NOTES below.
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a brief run of each (CI)")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).with_name("RESULTS.md"),
        help="where to write the report (default: benchmarks/RESULTS.md)",
    )
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    parser.add_argument(
        "--notes",
        type=Path,
        default=Path(__file__).with_name("NOTES.md"),
        help="analysis appended to the report, if the file exists",
    )
    args = parser.parse_args()
    names = args.only or list(BENCHMARKS)
    sections = []
    started = time.monotonic()
    for name in names:
        print(f"running {name}...", flush=True)
        section = anyio.run(BENCHMARKS[name], args.quick)
        print(section.markdown(), flush=True)
        sections.append(section)
    mode = "quick" if args.quick else "full"
    header = (
        f"{INTRO}\nRun: {mode}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{time.monotonic() - started:.0f} s.\n\nMachine: {machine()}\n"
    )
    notes = args.notes.read_text() if args.notes.exists() else ""
    report = "\n".join([header, *(s.markdown() for s in sections), notes])
    args.output.write_text(report)
    print(f"wrote {args.output}")
