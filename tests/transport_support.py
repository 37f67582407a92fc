"""A transport that tells a test what the client owning it did with it."""

from __future__ import annotations

import httpx


class ClosingTransport(httpx.MockTransport):
    """A MockTransport that knows when the client owning it closed it.

    A Session closes the client it made, and so that client's transport: the
    way to see, from outside, that `aclose()` closed what it owns.
    """

    is_closed = False

    async def aclose(self) -> None:
        self.is_closed = True
