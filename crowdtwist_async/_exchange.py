"""What one attempt sends and what it learns, shared by the Sender and its wires.

`Outgoing` is a request as the engine built it; `Progress` how far an
attempt got; `DirectWire` what the Sender asks of a wire that sends without
httpx (`_aiohttp.AiohttpTransport`). Kept apart so that the Sender and the
aiohttp module both depend on this, not on each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple, Protocol

import httpx

from ._redact import mask_query_keys

if TYPE_CHECKING:
    from ._config import Timeout
    from ._redact import KeyMask
    from ._retry import Reply

__all__ = ["DirectWire", "Outgoing", "Progress"]


class Outgoing(NamedTuple):
    """A request as the engine built it, the same for every attempt and either wire."""

    method: str
    #: The whole URL, its query encoded (the key in it, for `auth="query"`).
    url: str
    headers: Mapping[str, str]
    body: bytes | None
    #: The per-operation limits the httpx wire gives httpx (`Timeout.for_httpx`).
    httpx_timeout: httpx.Timeout

    def __repr__(self) -> str:
        # The URL may carry the key and the headers X-CT-Authorization: a
        # repr ends up in logs and tracebacks, so it shows neither.
        return f"<Outgoing {self.method} {mask_query_keys(self.url)}>"


class Progress:
    """How far an attempt got: the status, once the response's head arrived."""

    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status: int | None = None


class DirectWire(Protocol):
    """A wire the Sender hands an unsigned request to as it is (no httpx object)."""

    async def exchange(
        self,
        outgoing: Outgoing,
        time_limits: Timeout,
        limit: int,
        mask: KeyMask,
        progress: Progress,
    ) -> Reply:
        """Send *outgoing*; the status, headers and whole (capped, decoded) body,
        all within `time_limits.total`."""
        ...
