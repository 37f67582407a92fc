"""Every Python example in the README and in docs/ runs, and prints what it shows."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sybil.example import SybilFailure

from .docs_support import ROOT, documents, expected_output, run_document


@pytest.mark.parametrize("path", documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_example_runs(path: Path) -> None:
    run = run_document(path)
    # A page whose blocks were all skipped would pass while checking nothing.
    assert run.ran or not run.skipped, f"{path}: every example is skipped"


def test_output_lines_are_read_from_the_comments() -> None:
    source = 'print("a")\n#> a\nfor x in (1, 2):\n    print(x)\n    # > 1\n#>\n# >\n#>not\n'
    assert expected_output(source) == "a\n1\n\n\n"


def test_an_example_that_prints_other_than_it_shows_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n```python\nprint(1 + 1)\n#> 3\n```\n")
    with pytest.raises(SybilFailure) as caught:
        run_document(page)
    assert "printed:\n2\nwhich its #> lines do not show:\n3\n" in str(caught.value)
    assert caught.value.example.line == 3


def test_an_example_that_raises_fails_and_a_skipped_one_is_counted(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- skip: next -->\n\n```python\nraise SystemExit\n```\n\n"
        "```python\nvalue = 41\n```\n\n```python\nassert value == 42\n```\n"
    )
    with pytest.raises(AssertionError):
        run_document(page)
    page.write_text(page.read_text().replace("41", "42"))
    run = run_document(page)
    assert (run.ran, run.skipped) == ([7, 11], [3])


def test_await_and_the_sandbox_host_reach_the_fake(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nimport crowdtwist_async as ct\n\n"
        'session = ct.Session(api_key="KEY", client_id=123, environment="sb-")\n'
        'points = await session.users.get_points("alice@example.com", id_type="email")\n'
        "print(points.redeemable_points)\n#> 4500\n```\n"
    )
    run = run_document(page)
    assert [r.path for r in run.fake.requests] == ["/v2/users/alice@example.com/points"]


@pytest.mark.slow
def test_the_site_builds_strictly_with_a_reference_for_every_public_name(tmp_path: Path) -> None:
    # What `.ci/run` does, and then what the issue asks of the result: every
    # name of the four public modules has its own anchor in the reference.
    site = tmp_path / "site"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(site),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert built.returncode == 0, built.stderr
    pages = {
        "crowdtwist_async": "crowdtwist_async",
        "crowdtwist_async.testing": "testing",
        "crowdtwist_async.redis": "redis",
        "crowdtwist_async.push": "push",
    }
    for module, page in pages.items():
        html = (site / "reference" / page / "index.html").read_text()
        anchors = set(re.findall(r'id="([\w.]+)"', html))
        missing = [
            n for n in importlib.import_module(module).__all__ if f"{module}.{n}" not in anchors
        ]
        assert missing == [], f"{page}: no reference entry for {missing}"
    changelog = (site / "changelog" / "index.html").read_text()
    assert "Unreleased" in changelog
    assert "Keep a Changelog" in changelog
