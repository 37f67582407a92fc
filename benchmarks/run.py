"""Run the benchmarks and write a Markdown report (benchmarks/RESULTS.md by default)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

import anyio

from . import (
    forms,
    live_push,
    many_users,
    memory,
    overhead,
    pagination,
    retained,
    structuring,
    tracing,
)
from ._common import TARGET_HEADER, Section, machine, table

BENCHMARKS: dict[str, Callable[[bool], Awaitable[Section]]] = {
    "pagination": pagination.run,
    "forms": forms.run,
    "overhead": overhead.run,
    "structuring": structuring.run,
    "memory": memory.run,
    "many_users": many_users.run,
    "retained": retained.run,
    "tracing": tracing.run,
    "live_push": live_push.run,
}

INTRO = """# Benchmark results

Produced by `python -m benchmarks` (the `bench` extra: `pip install -e ".[test]"` has it).
Every figure is a median over repeated runs, and every comparison was measured
side by side in the same run. These machines are shared and noisy: read the
ratios more than the absolute numbers. Every target, met or missed, is in
"Targets at a glance" and under its table; what the numbers mean, and why a
target is missed, is in NOTES below.
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
        began = time.monotonic()
        section = anyio.run(BENCHMARKS[name], args.quick)
        print(section.markdown(), flush=True)
        print(f"({name}: {time.monotonic() - began:.1f} s)\n", flush=True)
        sections.append(section)
    mode = "quick" if args.quick else "full"
    header = (
        f"{INTRO}\nRun: {mode}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{time.monotonic() - started:.0f} s.\n\nMachine: {machine()}\n"
    )
    notes = args.notes.read_text() if args.notes.exists() else ""
    summary = targets(sections, quick=args.quick)
    print(summary)
    report = "\n".join([header, summary, *(s.markdown() for s in sections), notes])
    args.output.write_text(report)
    print(f"wrote {args.output}")
    failures = [failure for section in sections for failure in section.failures]
    if failures:
        # After the report is written, so that what did run is kept.
        sys.exit("contenders failed:\n" + "\n".join(failures))


def targets(sections: list[Section], *, quick: bool) -> str:
    """Every target of this run at a glance, above the sections that measured them."""
    rows = [(s.title.split(".")[0], *t.cells()) for s in sections for t in s.targets]
    lines = ["## Targets at a glance", ""]
    if quick:
        lines += [
            "A quick run repeats too little to judge a target by: these are for "
            "checking that every figure is produced, not what it is.",
            "",
        ]
    if rows:
        lines += table(("section", *TARGET_HEADER), rows)
        lines += ["", "Each miss is explained in NOTES, at the end."]
    else:
        lines.append("The sections run have no targets.")
    return "\n".join(lines) + "\n"
