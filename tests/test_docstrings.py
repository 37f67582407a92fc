"""Every public name's docstring in one style, the one the reference renders.

The documentation site's reference is generated from the docstrings by
mkdocstrings, which reads them as Google style. So each public name (the
`__all__` of `crowdtwist_async`, `testing`, `redis` and `push`, and the
public methods and properties of each class among them) has a summary line,
and:

- a function or method names every parameter under `Args:` and says what it
  gives back under `Returns:` (or `Yields:`) unless it returns None;
- a class made by attrs names every field under `Attributes:`, and a class with its own `__init__` every
  parameter of it (under `Args:`, or `Attributes:` where each is kept as
  one), but for the objects the SDK hands out (`HANDED_OUT`);
- a module constant has a docstring (a string literal after it: griffe does
  not read `#:` comments);
- a call that sends requests says what it raises under `Raises:`;
- nothing in them makes griffe, the parser mkdocstrings uses, warn.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import griffe
import pytest

MODULES = (
    "crowdtwist_async",
    "crowdtwist_async.testing",
    "crowdtwist_async.redis",
    "crowdtwist_async.push",
)

#: Classes whose coroutine methods send requests: each says what it raises.
SENDERS = {"Session", "Users", "Rewards", "Coupons", "AsyncPaginator"}

#: Classes the SDK builds and hands out (`session.users`, a listing, a
#: receiver): their constructors are not for users, so not documented.
HANDED_OUT = {"Users", "Rewards", "Coupons", "AsyncPaginator", "Receiver"}

_NAMED = {
    griffe.DocstringSectionKind.parameters,
    griffe.DocstringSectionKind.attributes,
    griffe.DocstringSectionKind.other_parameters,
}
_NO_RETURN = {"None", "NoReturn", "Never"}


@pytest.fixture(scope="module")
def packages() -> dict[str, griffe.Object | griffe.Alias]:
    # Loaded once: griffe reads the sources, it imports nothing.
    root = griffe.load("crowdtwist_async", docstring_parser="google")
    return {
        name: root if name == "crowdtwist_async" else root[name.split(".", 1)[1]]
        for name in MODULES
    }


def _public_names() -> Iterator[tuple[str, str]]:
    for module in MODULES:
        for name in importlib.import_module(module).__all__:
            if name != "__version__":
                yield module, name


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _sections(obj: griffe.Object | griffe.Alias) -> tuple[list[griffe.DocstringSection], list[str]]:
    """The parsed docstring of *obj*, and what griffe warned about while parsing it."""
    handler = _Warnings()
    logger = logging.getLogger("griffe")
    logger.addHandler(handler)
    try:
        sections = obj.docstring.parse("google") if obj.docstring else []
    finally:
        logger.removeHandler(handler)
    return sections, handler.messages


def _named(sections: list[griffe.DocstringSection]) -> set[str]:
    names: set[str] = set()
    for section in sections:
        if section.kind in _NAMED:
            names.update(item.name.lstrip("*") for item in section.value)
    return names


def _kinds(sections: list[griffe.DocstringSection]) -> set[griffe.DocstringSectionKind]:
    return {section.kind for section in sections}


def _warned(obj: griffe.Object | griffe.Alias, where: str, warnings: list[str]) -> Iterator[str]:
    """Griffe's *warnings* on *obj*'s docstring, and a missing docstring."""
    yield from (f"{where}: griffe warns: {message}" for message in warnings)
    if not obj.docstring:
        yield f"{where}: no docstring"


def _returns_something(func: griffe.Function) -> bool:
    returns = str(func.returns) if func.returns is not None else "None"
    return "property" not in func.labels and returns not in _NO_RETURN


def _problems_of_function(func: griffe.Function, *, sends: bool, where: str) -> Iterator[str]:
    sections, warnings = _sections(func)
    yield from _warned(func, where, warnings)
    if not func.docstring:
        return
    params = [p.name for p in func.parameters if p.name not in {"self", "cls"}]
    missing = [p for p in params if p not in _named(sections)]
    if missing:
        yield f"{where}: Args: does not name {missing}"
    kinds = _kinds(sections)
    gives = {griffe.DocstringSectionKind.returns, griffe.DocstringSectionKind.yields}
    if _returns_something(func) and not kinds & gives:
        yield f"{where}: returns {func.returns} but has no Returns: section"
    if sends and "async" in func.labels and griffe.DocstringSectionKind.raises not in kinds:
        yield f"{where}: sends requests but has no Raises: section"


def _problems_of_fields(
    sections: list[griffe.DocstringSection], runtime: type, where: str
) -> Iterator[str]:
    # Attributes, not Args: griffe does not see the __init__ attrs writes,
    # so an Args: entry would name a parameter of no signature it knows.
    attributes = _named([s for s in sections if s.kind is griffe.DocstringSectionKind.attributes])
    fields = [f.name for f in attrs.fields(runtime) if not f.name.startswith("_")]
    missing = [name for name in fields if name not in attributes]
    if missing:
        yield f"{where}: Attributes: does not name {missing}"


def _problems_of_init(
    sections: list[griffe.DocstringSection], init: griffe.Function, where: str
) -> Iterator[str]:
    init_sections, warnings = _sections(init)
    yield from (f"{where}.__init__: griffe warns: {message}" for message in warnings)
    documented = _named(sections) | _named(init_sections)
    params = [p.name for p in init.parameters if p.name != "self"]
    missing = [p for p in params if p not in documented]
    if missing:
        yield f"{where}: Args: does not name the constructor's {missing}"


def _problems_of_members(cls_obj: griffe.Class, where: str) -> Iterator[str]:
    sends = cls_obj.name in SENDERS
    for name, member in cls_obj.members.items():
        if name.startswith("_") or member.is_alias:
            continue
        if isinstance(member, griffe.Function):
            # Closing sends nothing and raises nothing of its own.
            sends_here = sends and name != "aclose"
            yield from _problems_of_function(member, sends=sends_here, where=f"{where}.{name}")
        elif member.is_attribute and "property" in member.labels:
            _, warnings = _sections(member)
            yield from _warned(member, f"{where}.{name}", warnings)


def _problems_of_class(cls_obj: griffe.Class, runtime: type, where: str) -> Iterator[str]:
    sections, warnings = _sections(cls_obj)
    yield from _warned(cls_obj, where, warnings)
    init = cls_obj.members.get("__init__")
    if attrs.has(runtime):
        yield from _problems_of_fields(sections, runtime, where)
    elif isinstance(init, griffe.Function) and cls_obj.name not in HANDED_OUT:
        yield from _problems_of_init(sections, init, where)
    yield from _problems_of_members(cls_obj, where)


def _problems(obj: griffe.Object | griffe.Alias, runtime: Any, where: str) -> list[str]:
    if isinstance(obj, griffe.Alias):
        obj = obj.final_target
    if isinstance(obj, griffe.Class):
        return list(_problems_of_class(obj, runtime, where))
    if isinstance(obj, griffe.Function):
        return list(_problems_of_function(obj, sends=False, where=where))
    _, warnings = _sections(obj)
    return list(_warned(obj, where, warnings))


@pytest.mark.parametrize(("module", "name"), list(_public_names()))
def test_public_docstring_in_the_house_style(
    packages: dict[str, griffe.Object | griffe.Alias], module: str, name: str
) -> None:
    runtime = getattr(importlib.import_module(module), name)
    assert _problems(packages[module][name], runtime, f"{module}.{name}") == []


def test_the_checker_finds_an_undocumented_parameter() -> None:
    # The rules above must be able to fail: a function whose Args: misses a
    # parameter, returns something unsaid and sends without Raises:.
    code = '''
async def fetch(user_id: str, *, page: int) -> int:
    """Fetch it.

    Args:
        user_id: whose.
    """
'''
    module = griffe.visit("sample", filepath=Path("sample.py"), code=code)
    fetch = module["fetch"]
    assert isinstance(fetch, griffe.Function)
    problems = list(_problems_of_function(fetch, sends=True, where="fetch"))
    assert problems == [
        "fetch: Args: does not name ['page']",
        "fetch: returns int but has no Returns: section",
        "fetch: sends requests but has no Raises: section",
    ]
