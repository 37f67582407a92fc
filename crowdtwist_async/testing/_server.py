"""Serving an ASGI app with uvicorn from a background thread, on loopback by default."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from .._protocol import is_literal_loopback

if TYPE_CHECKING:
    import uvicorn

__all__ = ["import_uvicorn", "serve_in_thread"]

INSTALL_HINT: Final = 'serving the fake needs uvicorn: pip install "crowdtwist-async[serve]"'

#: Bounds on starting and stopping; both normally take well under a second.
START_TIMEOUT: Final = 10.0
STOP_TIMEOUT: Final = 10.0


def import_uvicorn() -> Any:
    """The `uvicorn` module, or an ImportError saying which extra to install."""
    try:
        import uvicorn
    except ImportError as exc:
        raise ModuleNotFoundError(INSTALL_HINT, name="uvicorn") from exc
    return uvicorn


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host.strip("[]"), port, type=socket.SOCK_STREAM
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        # A restarted sandbox may reuse its port while old connections linger.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextmanager
def serve_in_thread(app: Any, *, host: str, port: int, allow_remote: bool) -> Iterator[str]:
    """Serve *app* on *host*:*port* until the block ends; yield its base URL."""
    if not allow_remote and not is_literal_loopback(host):
        raise ValueError(
            f"refusing to serve the fake on {host!r}, which is not a loopback address: "
            "pass allow_remote=True (--allow-remote) to expose it to other machines"
        )
    module = import_uvicorn()
    # Bound here, not by uvicorn, so the real port is known before it starts
    # and connections made meanwhile wait in the backlog.
    sock = _bind(host, port)
    try:
        config = module.Config(
            app,
            interface="asgi3",
            # httptools and uvloop when installed (the bench extra): the fake
            # then serves several times more requests per second.
            http="auto",
            ws="none",
            loop="auto",
            # The fake speaks lifespan; other apps served this way (the SDK's
            # own fault-injection tests) need not.
            lifespan="auto",
            # Leave the host process's logging configuration alone.
            log_config=None,
            access_log=False,
            proxy_headers=False,
            timeout_graceful_shutdown=5,
        )
        server: uvicorn.Server = module.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="FakeCrowdTwist server", daemon=True
        )
        thread.start()
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the FakeCrowdTwist server did not start")
                time.sleep(0.005)
            yield _url(sock)
        finally:
            server.should_exit = True
            thread.join(STOP_TIMEOUT)
    finally:
        sock.close()
