"""The installed package's version, read once from its metadata."""

import importlib.metadata

try:
    __version__ = importlib.metadata.version("crowdtwist-async")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a bare source tree
    __version__ = "0+unknown"
