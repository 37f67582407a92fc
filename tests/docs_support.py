"""Running the documentation's Python examples: the README's and every page's under docs/.

Each Markdown file is parsed by sybil. Its ```python blocks (and its
`<!-- invisible-code-block: python -->` comments) run in order, in one
namespace per file, as a reader would run them one after another:

- top-level `await` works: such a block runs on the file's own event loop
  (asyncio), so objects made in one block (a Session) serve the next;
- every request to `https://sb-api123.crowdtwist.com`, the sandbox host of the
  docs' `client_id=123, environment="sb-"`, is answered by one
  `FakeCrowdTwist(api_key="KEY")` per file, through respx; a request to any
  other host fails the example (loopback ones pass, for `fake.serve()`), and
  a respx mock an example sets up for another host still answers it;
- what a block prints must be what its `#>` comment lines (`# >` once ruff
  has formatted them) show, in order
  (`...` matches anything, as doctest's ELLIPSIS), so shown output is checked
  and a block that prints shows what it prints;
- `<!-- skip: next -->` skips the next block (sybil's directive): kept for
  the few that cannot run here (a deployment's Redis, a server for ever).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import doctest
import inspect
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import respx
from sybil import Document, Example
from sybil.parsers.markdown import CodeBlockParser, SkipParser

import crowdtwist_async as ct
from crowdtwist_async.testing import FakeCrowdTwist, set_testing

ROOT = Path(__file__).resolve().parent.parent

#: The host of `Session(client_id=123, environment="sb-")`, which the docs use.
DOCS_HOST = "sb-api123.crowdtwist.com"
DOCS_BASE_URL = f"https://{DOCS_HOST}"
DOCS_API_KEY = "KEY"
#: The fake's clock: a fixed day, so the histories the docs print stay put.
DOCS_NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)

# `#> 4500`, or `# > 4500` as ruff's formatter writes it in Markdown's code blocks.
_OUTPUT_LINE = re.compile(r"#\s?>(?: (?P<text>.*)|$)")
_CHECKER = doctest.OutputChecker()


def documents() -> list[Path]:
    """The README and every page of the site, in a stable order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def expected_output(source: str) -> str:
    """What the block's `#>` comment lines say it prints, one line each."""
    lines = []
    for line in source.splitlines():
        shown = _OUTPUT_LINE.fullmatch(line.strip())
        if shown is not None:
            lines.append(shown["text"] or "")
    return "".join(f"{line}\n" for line in lines)


@dataclass
class Run:
    """One Markdown file's run: its loop, its fake, what ran and what was skipped."""

    loop: asyncio.AbstractEventLoop
    fake: FakeCrowdTwist
    ran: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def _evaluate(example: Example) -> str | None:
    run: Run = example.namespace["__docs_run__"]
    source = "\n" * (example.line + example.parsed.line_offset) + str(example.parsed)
    code = compile(
        source,
        str(example.path),
        "exec",
        flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
        dont_inherit=True,
    )
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        if code.co_flags & inspect.CO_COROUTINE:
            run.loop.run_until_complete(eval(code, example.namespace))
        else:
            exec(code, example.namespace)
    run.ran.append(example.line)
    want, got = expected_output(str(example.parsed)), printed.getvalue()
    if _CHECKER.check_output(want, got, doctest.ELLIPSIS):
        return None
    return f"printed:\n{got}which its #> lines do not show:\n{want}"


PARSERS = (SkipParser(), CodeBlockParser("python", _evaluate))


async def _forward(fake: FakeCrowdTwist, request: httpx.Request) -> httpx.Response:
    return await fake.transport().handle_async_request(request)


@contextlib.contextmanager
def _sandboxed(run: Run) -> Iterator[None]:
    """The world the examples run in: the fake behind the docs' host, no waits.

    The environment comes back as it was, whatever an example set or removed.
    """
    environment = {"CROWDTWIST_API_KEY": DOCS_API_KEY, "CROWDTWIST_BASE_URL": DOCS_BASE_URL}
    with (
        mock.patch.dict(os.environ, environment),
        set_testing(True),
        respx.mock(assert_all_called=False) as router,
    ):
        router.route(host=DOCS_HOST).mock(side_effect=lambda request: _forward(run.fake, request))
        router.route(host="127.0.0.1").pass_through()
        yield


async def _close_sessions(namespace: dict[str, Any]) -> None:
    for value in list(namespace.values()):
        if isinstance(value, ct.Session):
            await value.aclose()


def run_document(path: Path) -> Run:
    """Run every example of *path* in order; raise at the first that fails.

    The error names the file and the line of the block.
    """
    document = Document.parse(str(path), *PARSERS)
    run = Run(
        loop=asyncio.new_event_loop(), fake=FakeCrowdTwist(api_key=DOCS_API_KEY, now=DOCS_NOW)
    )
    document.namespace["__docs_run__"] = run
    try:
        with _sandboxed(run):
            for example in document.examples():
                before = len(run.ran)
                example.evaluate()
                if example.region.evaluator is _evaluate and len(run.ran) == before:
                    run.skipped.append(example.line)
            run.loop.run_until_complete(_close_sessions(document.namespace))
    finally:
        run.loop.close()
    return run
