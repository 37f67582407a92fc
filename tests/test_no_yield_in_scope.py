"""No async generator yields inside a `with` or `async with` block.

Suspended there, a generator that its consumer stops reading is finalised
later, by the event loop and in another task: a task group or cancel scope
entered in the block is then left in the wrong task (anyio's and trio's
documented pitfall), and a lock or file is held until then.

An `@asynccontextmanager` is the one exception: `async with` resumes it in the
task that entered it, and always to the end.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CHECKED = ("crowdtwist_async", "examples")
# Each of these is a scope of its own: its yields are not the enclosing function's.
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def yields_in_with(source: str, filename: str = "<string>") -> list[str]:
    """`file:line` of every yield an async generator makes inside a with block."""
    return [
        f"{filename}:{node.lineno}"
        for function in ast.walk(ast.parse(source, filename))
        if isinstance(function, ast.AsyncFunctionDef) and not _is_context_manager(function)
        for node, in_with in _own_yields(function.body, in_with=False)
        if in_with
    ]


def _is_context_manager(function: ast.AsyncFunctionDef) -> bool:
    return any(
        ast.unparse(decorator).rpartition(".")[2] == "asynccontextmanager"
        for decorator in function.decorator_list
    )


def _own_yields(
    nodes: Iterable[ast.AST], *, in_with: bool
) -> Iterator[tuple[ast.Yield | ast.YieldFrom, bool]]:
    for node in nodes:
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, ast.Yield | ast.YieldFrom):
            yield node, in_with
        inside = in_with or isinstance(node, ast.With | ast.AsyncWith)
        yield from _own_yields(ast.iter_child_nodes(node), in_with=inside)


def test_no_async_generator_yields_inside_a_with_block() -> None:
    found = [
        place
        for folder in CHECKED
        for path in sorted((ROOT / folder).rglob("*.py"))
        for place in yields_in_with(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert found == []


BAD = """
import anyio

async def numbers():
    async with anyio.create_task_group():
        for number in range(3):
            yield number
"""

GOOD = """
from contextlib import asynccontextmanager

async def numbers(listing):
    async with listing:
        read = [item async for item in listing]
    for item in read:
        yield item

async def not_a_generator(lock):
    async with lock:
        def lines():  # a generator of its own, with no with block in it
            yield "line"
        return list(lines())

def sync_generator(path):
    with open(path) as file:
        yield from file

@asynccontextmanager
async def opened(session):
    async with session:
        yield session
"""


@pytest.mark.parametrize(
    ("source", "found"),
    [
        pytest.param(BAD, ["<string>:7"], id="bad"),
        pytest.param(GOOD, [], id="good"),
    ],
)
def test_the_checker_tells_a_yield_in_a_with_block(source: str, found: list[str]) -> None:
    assert yields_in_with(source) == found
