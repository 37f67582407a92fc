"""How a scripted answer travels: cut short, trickled, or without a length.

`Wire` is what a `FakeCrowdTwist.script()` asks of the connection. Every
adapter (the transport's response stream, the ASGI app, the raw server) gets
its answers from an `Answer`, the fake's one request path, and sends the
body in the pieces `Wire.pieces` gives, pausing `Wire.trickle` between them,
and ends it the way `Wire.reset_after` says, so a fault looks the same to a
client in process as on a port.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

import anyio
import anyio.lowlevel
import attrs
import httpx

from ._core import Reply

__all__ = [
    "PLAIN",
    "TRICKLE_BYTES",
    "Answer",
    "DroppedConnection",
    "Wire",
    "WireStream",
    "quiet_drops",
    "send_asgi_body",
]

#: The size of each piece of a trickled body that names no `chunk_size`.
TRICKLE_BYTES: Final = 16


@attrs.frozen(kw_only=True)
class Wire:
    """How one answer's body travels; every field None is an ordinary answer."""

    #: Send this many bytes of the body, then drop the connection.
    reset_after: int | None = None
    #: Seconds between pieces of the body (of `chunk_size`, else 16 bytes).
    trickle: float | None = None
    #: Send the body without a Content-Length, in pieces of this many bytes.
    chunk_size: int | None = None

    @property
    def plain(self) -> bool:
        """Whether the body goes in one piece, framed by its length."""
        return self.reset_after is None and self.trickle is None and self.chunk_size is None

    def length(self, body: bytes) -> str | None:
        """The Content-Length to declare for *body*, or None to declare none."""
        return None if self.chunk_size is not None else str(len(body))

    def cut(self, body: bytes) -> bool:
        """Whether a client is left without the whole of *body*: the connection
        drops before its last byte, or before the end of a body it cannot
        know the length of."""
        if self.reset_after is None:
            return False
        return self.reset_after < len(body) or self.chunk_size is not None

    def pieces(self, body: bytes) -> Iterator[bytes]:
        """The pieces of *body* that are sent, in order."""
        sent = body if self.reset_after is None else body[: self.reset_after]
        size = self.chunk_size or (TRICKLE_BYTES if self.trickle is not None else len(sent))
        for start in range(0, len(sent), max(size, 1)):
            yield sent[start : start + size]

    async def send(self, body: bytes, send: Callable[[bytes], Awaitable[None]]) -> None:
        """Hand each piece of *body* to *send*, with the pauses between them."""
        for index, piece in enumerate(self.pieces(body)):
            if index and self.trickle is not None:
                await anyio.sleep(self.trickle)
            await send(piece)


#: An ordinary answer.
PLAIN: Final = Wire()

#: The fake's one request path, which it hands every adapter: (method, raw
#: path, query string, headers with lower-case names, body) to the answer and
#: the `Wire` its body travels by.
Answer = Callable[[str, str, str, Mapping[str, str], bytes], Awaitable[tuple[Reply, Wire]]]


class WireStream(httpx.AsyncByteStream):
    """A response body as the fake's transport hands it to httpx.

    Each piece takes a turn of the event loop, as a read from a socket would,
    so code that cancels a read in progress is exercised; a cut body ends
    with the error httpx raises for a connection dropped mid-body.
    """

    def __init__(self, body: bytes, wire: Wire, request: httpx.Request) -> None:
        self._body = body
        self._wire = wire
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        wire = self._wire
        received = 0
        for index, piece in enumerate(wire.pieces(self._body)):
            if index and wire.trickle is not None:
                await anyio.sleep(wire.trickle)
            else:
                await anyio.lowlevel.checkpoint()
            received += len(piece)
            yield piece
        if wire.cut(self._body):
            # The words h11 (under httpx's own transport) uses.
            detail = (
                "incomplete chunked read"
                if wire.chunk_size is not None
                else f"received {received} bytes, expected {len(self._body)}"
            )
            raise httpx.RemoteProtocolError(
                f"peer closed connection without sending complete message body ({detail})",
                request=self._request,
            )


class DroppedConnection(Exception):
    """Raised from the ASGI app to make the server drop the connection, as a
    script's `reset_after` asks: ASGI has no message that aborts a response."""


class _NotDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


@contextmanager
def quiet_drops() -> Iterator[None]:
    """While the block runs, uvicorn logs no traceback for a scripted drop:
    it logs every exception out of an app, and this one is no error."""
    logger = logging.getLogger("uvicorn.error")
    dropped = _NotDrops()
    logger.addFilter(dropped)
    try:
        yield
    finally:
        logger.removeFilter(dropped)


async def send_asgi_body(
    body: bytes,
    wire: Wire,
    receive: Callable[[], Awaitable[Mapping[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Send *body* after `http.response.start` as *wire* says; stop early if
    the client goes away (a trickle could otherwise run on for minutes)."""

    async def piece(data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})

    finished = False
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            # Waiting on receive() is how an ASGI app learns the client left.
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()

        group.start_soon(watch)
        await wire.send(body, piece)
        finished = True
        group.cancel_scope.cancel()
    if not finished:
        return
    if wire.reset_after is not None:
        raise DroppedConnection(f"scripted: the connection drops after {wire.reset_after} bytes")
    await send({"type": "http.response.body", "body": b""})
