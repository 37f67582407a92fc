"""The installed package's version, read once from its metadata."""

import importlib.metadata

try:
    __version__ = importlib.metadata.version("crowdtwist-async")
    """The installed version of crowdtwist-async, as its metadata says."""
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a bare source tree
    __version__ = "0+unknown"
