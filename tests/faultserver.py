"""A rewards API on a real loopback socket whose every page can misbehave.

`FaultServer` is a small ASGI app served by uvicorn in a thread on
127.0.0.1. A test gives it a `script`: a function of (page, attempt) that
returns a `Fault`, or None for the normal page. The app records every request
it saw, so tests assert exactly which pages were asked for and how often.

`RawServer` is for what no ASGI server would send: broken framing, bad
header bytes, a reply that is not HTTP. It answers every request with bytes
a test writes (from the request's own head, to echo it), in a thread, so
it serves tests on asyncio and trio alike.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import attrs

from crowdtwist_async.testing._server import serve_in_thread

from .fakeapi import make_reward

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


@attrs.frozen
class Fault:
    """How to answer one request instead of the normal page."""

    status: int = 200
    body: bytes | None = None  # None: the normal page's JSON
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"
    delay: float = 0.0
    #: Send this many bytes of the body, then drop the connection.
    reset_after: int | None = None
    #: Instead of a body, stream this many bytes of spaces without a length.
    stream_bytes: int | None = None
    #: Send the body 16 bytes at a time, this many seconds apart, until the
    #: client goes away.
    trickle: float | None = None
    #: The body is the request's path and query, as some error pages echo it.
    echo: bool = False
    #: Send the body in chunks of this many bytes without a Content-Length
    #: (chunked transfer encoding), instead of in one piece with it.
    chunked: int | None = None


class ResetConnection(Exception):
    """Raised inside the app to make uvicorn drop the connection mid-body."""


Script = Callable[[int, int], Fault | None]


class FaultServer:
    """The ASGI app: pages of `total` rewards, with faults from `script`."""

    def __init__(self, *, total: int = 50, page_size: int = 10) -> None:
        self.total = total
        self.page_size = page_size
        self.script: Script = lambda page, attempt: None
        self.pages_field: Callable[[int], object] | None = None
        self.next_link: Callable[[int], str | None] | None = None
        self.rewards_for: Callable[[int], list[int]] | None = None
        self.total_for: Callable[[int], int] | None = None
        #: What `paging.total` says, when it is not the listing's size.
        self.total_field: Callable[[int], object] | None = None
        self.attempts: Counter[int] = Counter()
        self.requests: list[str] = []
        #: The Host header of each request.
        self.hosts: list[str] = []
        #: Each request's (page, X-CT-Timestamp, X-CT-Authorization), as a signer set them.
        self.signed: list[tuple[int, str, str]] = []

    def page_json(self, page: int) -> bytes:
        if self.rewards_for is not None:
            ids = self.rewards_for(page)
        else:
            first = (page - 1) * self.page_size + 1
            ids = list(range(first, min(first + self.page_size, self.total + 1)))
        total = self.total_for(page) if self.total_for is not None else self.total
        pages = -(-total // self.page_size)
        paging = {
            "total": self.total_field(page) if self.total_field is not None else total,
            "pages": self.pages_field(page) if self.pages_field is not None else pages,
            "next_page": (
                self.next_link(page)
                if self.next_link is not None
                else f"https://api[client_id].ct.com/v2.1/rewards?page={page + 1}&api_key="
            ),
            "prev_page": None,
        }
        return json.dumps({"paging": paging, "rewards": [make_reward(i) for i in ids]}).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        query = dict(
            part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part
        )
        page = int(query.get("page", "1"))
        self.requests.append(scope["path"])
        sent = dict(scope["headers"])
        self.hosts.append(sent.get(b"host", b"").decode())
        self.signed.append(
            (
                page,
                sent.get(b"x-ct-timestamp", b"").decode(),
                sent.get(b"x-ct-authorization", b"").decode(),
            )
        )
        self.attempts[page] += 1
        fault = self.script(page, self.attempts[page]) or Fault()
        if fault.delay:
            await anyio.sleep(fault.delay)
        if fault.stream_bytes is not None:
            await self._stream(send, fault)
            return
        if fault.echo:
            body = scope["raw_path"] + b"?" + scope["query_string"]
        else:
            body = self.page_json(page) if fault.body is None else fault.body
        headers = [
            (b"content-type", fault.content_type.encode()),
            *((k.encode(), v.encode()) for k, v in fault.headers),
        ]
        if fault.chunked is None:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        if fault.chunked is not None:
            for start in range(0, len(body), fault.chunked):
                part = body[start : start + fault.chunked]
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        if fault.trickle is not None:
            await self._trickle(receive, send, body, fault.trickle)
            return
        if fault.reset_after is not None:
            await send(
                {"type": "http.response.body", "body": body[: fault.reset_after], "more_body": True}
            )
            raise ResetConnection
        await send({"type": "http.response.body", "body": body})

    async def _trickle(self, receive: Receive, send: Send, body: bytes, interval: float) -> None:
        await receive()  # the request's (empty) body
        for start in range(0, len(body), 16):
            more = start + 16 < len(body)
            await send(
                {"type": "http.response.body", "body": body[start : start + 16], "more_body": more}
            )
            # Waiting on receive() is how an ASGI app learns the client left.
            with anyio.move_on_after(interval):
                if (await receive())["type"] == "http.disconnect":
                    return

    async def _stream(self, send: Send, fault: Fault) -> None:
        assert fault.stream_bytes is not None
        headers = [(b"content-type", fault.content_type.encode())]
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        chunk = b" " * 65536
        for _ in range(fault.stream_bytes // len(chunk)):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


Reply = Callable[[bytes], bytes]


class RawServer:
    """A loopback TCP server that answers each request with raw bytes.

    *reply* gets the request's head (request line and headers) and returns
    what to write back, byte for byte; then the connection is closed, with a
    TCP reset when *reset* is set. One request per connection. `requests`
    holds every head received, so tests count the attempts.
    """

    def __init__(self, reply: Reply, *, reset: bool = False) -> None:
        self.reply = reply
        self.reset = reset
        self.requests: list[bytes] = []
        self._lock = threading.Lock()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5.0)
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    data = conn.recv(65536)
                    if not data:
                        return
                    head += data
                with self._lock:
                    self.requests.append(head)
                conn.sendall(self.reply(head))
                if self.reset:
                    # Linger on, for zero seconds: close() sends a RST.
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                # A FIN after the reply; then wait (briefly) for the client to
                # close its side, so no unread byte turns the close into a RST.
                conn.shutdown(socket.SHUT_WR)
                conn.settimeout(1.0)
                while conn.recv(65536):
                    pass
            except OSError:
                return


@contextmanager
def serve_raw(server: RawServer) -> Iterator[str]:
    """Serve *server* on a free port of 127.0.0.1 in threads; yield its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
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
            worker = threading.Thread(target=server.handle, args=(conn,), daemon=True)
            workers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept, name="raw-server", daemon=True)
    acceptor.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        acceptor.join()
        listener.close()
        for worker in workers:
            worker.join(timeout=5.0)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve *app* on a free port of 127.0.0.1 in a thread; yield its base URL."""
    with serve_in_thread(app, host="127.0.0.1", port=0, allow_remote=False) as url:
        yield url
