"""Which async library is running: for the parts that need asyncio's own loop
(the aiohttp stack, the Redis rate limiter) to refuse trio with a clear error."""

from __future__ import annotations

import asyncio

__all__ = ["running_library"]


def running_library() -> str | None:
    """The async library running in this thread ("asyncio", "trio"), or None."""
    try:
        import sniffio
    except ImportError:
        # trio depends on sniffio: without it, only asyncio can be running.
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return None
        return "asyncio"
    try:
        return sniffio.current_async_library()
    except sniffio.AsyncLibraryNotFoundError:
        return None
