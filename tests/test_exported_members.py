"""The public surface is exactly `__all__`: complete, sorted, documented."""

from __future__ import annotations

import inspect

import crowdtwist_async as ct


def test_all_is_sorted_and_complete() -> None:
    public = {name for name in dir(ct) if not name.startswith("_") or name == "__version__"}
    # Submodules are implementation detail, not API.
    public -= {name for name in public if inspect.ismodule(getattr(ct, name))}
    assert set(ct.__all__) == public
    assert ct.__all__ == sorted(ct.__all__, key=lambda n: (not n.isupper(), n))


def test_every_public_name_has_a_docstring() -> None:
    for name in ct.__all__:
        obj = getattr(ct, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, name
            assert obj.__module__.startswith("crowdtwist_async"), name


def test_implementation_modules_are_private() -> None:
    import pkgutil

    modules = [m.name for m in pkgutil.iter_modules(ct.__path__)]
    assert modules
    # The public modules only re-export: `testing`, `redis` (an extra) and `push`.
    assert all(name.startswith("_") or name in {"testing", "redis", "push"} for name in modules), (
        modules
    )


def test_push_is_complete_documented_and_light() -> None:
    import subprocess
    import sys

    from crowdtwist_async import push

    public = {name for name in dir(push) if not name.startswith("_")}
    public -= {name for name in public if inspect.ismodule(getattr(push, name))}
    public -= {"annotations"}  # `from __future__ import annotations`
    assert set(push.__all__) == public
    assert push.__all__ == sorted(push.__all__, key=lambda n: (not n.isupper(), n))
    for name in push.__all__:
        obj = getattr(push, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__, name
    # Neither the SDK nor its push module loads redis-py, nor the SDK the push module.
    probe = (
        "import sys, crowdtwist_async; "
        "assert not [m for m in sys.modules if m.startswith('crowdtwist_async._push')]; "
        "import crowdtwist_async.push; "
        "assert 'redis' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_version_comes_from_package_metadata() -> None:
    from importlib.metadata import version

    assert ct.__version__ == version("crowdtwist-async")
