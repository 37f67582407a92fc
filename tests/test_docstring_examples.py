"""The code examples in the package's docstrings, which the reference renders, are Python.

They are fragments of user code (a `session` from elsewhere, top-level
`await`), so they are compiled, not run: a syntax slip or a `>>>` prompt
that would render as broken code fails here. The README's and the site's
examples run in full (tests/test_docs.py).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crowdtwist_async"
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```python\n(?P<code>.*?)^(?P=indent)```", re.M | re.S)


def _examples() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Constant):
                continue
            text = node.value.value
            if not isinstance(text, str):
                continue
            for match in _FENCE.finditer(text):
                lines = match["code"].splitlines()
                indent = len(match["indent"])
                code = "\n".join(line[indent:] for line in lines)
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                found.append((where, node.lineno, code))
    return found


EXAMPLES = _examples()


def test_the_docstrings_have_examples() -> None:
    assert len(EXAMPLES) >= 30


@pytest.mark.parametrize(("where", "line", "code"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_a_docstring_example_compiles(where: str, line: int, code: str) -> None:
    assert not code.lstrip().startswith(">>>"), f"{where}: a >>> prompt, not code"
    compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
