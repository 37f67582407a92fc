"""What the SDK's two ASGI apps (the Live Push receiver and `FakeCrowdTwist`)
share: the ASGI 3 callables' types, and the lifespan protocol, acknowledged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

__all__ = ["Receive", "Scope", "Send", "acknowledge_lifespan"]

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def acknowledge_lifespan(receive: Receive, send: Send) -> None:
    """Answer a lifespan connection: start-up and shut-down complete, nothing
    to do for either."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
