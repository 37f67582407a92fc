"""The fake on a loopback port behind a hand-written HTTP/1.1 server, for
replies no HTTP server would send: broken framing, bad header bytes, bytes
that are not HTTP at all.

One thread accepts; each connection gets a thread of its own, reads one
request (its head, then its body by Content-Length or chunked), and writes
back what the test's `reply` makes of the head, byte for byte, or the fake's
own answer when `reply` returns None. Threads, not an
event loop of the test's: it serves tests on asyncio and trio alike.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus
from typing import Final

import anyio
import attrs

from ._wire import Answer

__all__ = ["RawReply", "serve_raw"]

#: What a test answers a request head with: raw bytes, or None for the fake's answer.
RawReply = Callable[[bytes], bytes | None]
#: Records a request answered with raw bytes (method, raw path, query,
#: headers, body), and the status they begin with.
Record = Callable[[str, str, str, Mapping[str, str], bytes, int | None], None]

_STATUS_LINE: Final = re.compile(rb"HTTP/1\.[01] ([0-9]{3})(?: |\r\n)")
#: A request head larger than this is not waited for to its end.
_MAX_HEAD: Final = 1 << 20
#: A chunk-size line longer than this is not waited for to its end.
_MAX_LINE: Final = 1 << 12
_CHUNK_SIZE: Final = re.compile(rb"[0-9A-Fa-f]{1,16}")
#: How long a connection may sit idle (its head unsent, its reply unread).
_IDLE: Final = 5.0
#: How long the server waits for a client's FIN after its own.
_LINGER: Final = 1.0


@attrs.frozen
class _Head:
    method: str
    raw_path: str
    query: str
    headers: dict[str, str]


class _Reader:
    """A connection's bytes, some of them already received."""

    def __init__(self, conn: socket.socket, received: bytes = b"") -> None:
        self._conn = conn
        self._buffer = received

    def _more(self) -> bool:
        data = self._conn.recv(65536)
        self._buffer += data
        return bool(data)

    def head(self) -> bytes | None:
        """The request head, ending in its blank line; None if the client
        closes first."""
        while b"\r\n\r\n" not in self._buffer and len(self._buffer) < _MAX_HEAD:
            if not self._more():
                return None
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        return head + b"\r\n\r\n"

    def exactly(self, size: int) -> bytes:
        """The next *size* bytes, or fewer if the client closes first."""
        while len(self._buffer) < size and self._more():
            pass
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def line(self) -> bytes | None:
        """The next line without its CRLF; None if the client closes first
        or it runs on too long."""
        while b"\r\n" not in self._buffer:
            if len(self._buffer) > _MAX_LINE or not self._more():
                return None
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line

    def body(self, headers: Mapping[str, str]) -> bytes:
        """The body the head announced, read leniently: what arrived of it."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._chunked()
        length = headers.get("content-length", "").strip()
        return self.exactly(int(length)) if length.isascii() and length.isdigit() else b""

    def _chunked(self) -> bytes:
        body = bytearray()
        while (line := self.line()) is not None:
            size = line.partition(b";")[0].strip()
            if not _CHUNK_SIZE.fullmatch(size):
                break
            count = int(size, 16)
            if not count:
                # The last chunk; then trailer lines, up to an empty one.
                while self.line():
                    pass
                break
            body += self.exactly(count)
            self.line()
        return bytes(body)


def _parse(head: bytes) -> _Head:
    """Read a request head leniently: a client's, not the server's to judge."""
    line, *fields = head.decode("latin-1").split("\r\n")
    method, _, rest = line.partition(" ")
    target = rest.rpartition(" ")[0] or rest
    raw_path, _, query = target.partition("?")
    headers: dict[str, str] = {}
    for field in fields:
        name, colon, value = field.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return _Head(method, raw_path, query, headers)


def _status_of(raw: bytes) -> int | None:
    match = _STATUS_LINE.match(raw)
    return int(match[1]) if match else None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class _RawServer:
    def __init__(self, reply: RawReply, *, reset: bool, answer: Answer, record: Record) -> None:
        self._reply = reply
        self._reset = reset
        self._answer = answer
        self._record = record

    def handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(_IDLE)
            try:
                reader = _Reader(conn)
                head = reader.head()
                if head is None:
                    return
                request = _parse(head)
                # Read before anything is answered, as a server reads a whole request.
                body = reader.body(request.headers)
                raw = self._reply(head)
                if raw is None:
                    anyio.run(self._answer_with_the_fake, conn, request, body)
                else:
                    self._record(
                        request.method,
                        request.raw_path,
                        request.query,
                        request.headers,
                        body,
                        _status_of(raw),
                    )
                    conn.sendall(raw)
                self._close(conn, reset=self._reset)
            except OSError:
                return

    async def _answer_with_the_fake(self, conn: socket.socket, request: _Head, body: bytes) -> None:
        """Write the fake's own answer, its wire faults included."""
        reply, wire = await self._answer(
            request.method, request.raw_path, request.query, request.headers, body
        )
        # The space before the phrase stays when there is none (RFC 9112).
        lines = [f"HTTP/1.1 {reply.status} {_phrase(reply.status)}"]
        lines += [f"{name}: {value}" for name, value in reply.headers]
        length = wire.length(reply.body)
        framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
        lines += [framing, "Connection: close"]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

        async def piece(data: bytes) -> None:
            conn.sendall(data if length is not None else b"%x\r\n%s\r\n" % (len(data), data))

        await wire.send(reply.body, piece)
        # A scripted drop closes the connection here, as uvicorn does: with a
        # FIN, so the client reads every byte sent before it.
        if length is None and wire.reset_after is None:
            conn.sendall(b"0\r\n\r\n")

    @staticmethod
    def _close(conn: socket.socket, *, reset: bool) -> None:
        if reset:
            # Linger on, for zero seconds: close() sends a RST.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        # A FIN after the reply; then wait (briefly) for the client to close
        # its side, so that no unread byte turns the close into a RST.
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(_LINGER)
        while conn.recv(65536):
            pass


@contextmanager
def serve_raw(reply: RawReply, *, reset: bool, answer: Answer, record: Record) -> Iterator[str]:
    """Serve on a free port of 127.0.0.1 from threads until the block ends;
    yield the base URL."""
    server = _RawServer(reply, reset=reset, answer=answer, record=record)
    listener = socket.create_server(("127.0.0.1", 0))
    # Polled, so that the acceptor sees the block end.
    listener.settimeout(0.05)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(
                target=server.handle, args=(conn,), name="FakeCrowdTwist raw reply", daemon=True
            )
            workers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept, name="FakeCrowdTwist raw server", daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join()
        listener.close()
        for worker in workers:
            worker.join(timeout=_IDLE)
