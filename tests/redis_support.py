"""A throwaway redis-server on a free loopback port, for the Redis tests.

`RedisServer` starts Debian's `redis-server` (no persistence, loopback only),
waits until it answers PING and stops it again; `running_redis()` wraps that
as a context manager yielding its URL. A missing redis-server fails the test
that needs it, with the command that installs it: it is never skipped.
`Children` runs an example's processes (the consumers, the batch workers).
`stalling_proxy()` stands between a client and Redis, and can make the
connections it holds stop answering, as a peer gone without a reset does.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO

import anyio
import pytest
from anyio.abc import ByteStream, Process, SocketStream

__all__ = ["Children", "RedisServer", "StallingProxy", "running_redis", "stalling_proxy"]

#: How long redis-server may take to answer its first PING.
START_TIMEOUT = 15.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process; `start()` it, `url` it, `stop()` it."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        #: The port asked for, or None for a free one at each start.
        self.fixed_port = port
        self.port = port or 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail(
                "redis-server is not installed: the RedisRateLimiter tests need a real one. "
                "Install Debian's: apt-get install -y redis-server"
            )
        # A free port can be taken between the probe and the bind: try again
        # (on a port of its own; one chosen beforehand is kept, see LateRedisServer).
        for _ in range(3 if self.fixed_port is None else 1):
            self.port = _free_port() if self.fixed_port is None else self.fixed_port
            log = self.workdir / f"redis-{self.port}.log"
            # Appended to: a restart on a fixed port keeps the earlier log. With
            # --dir, a restart loads what a SAVE wrote there (dump.rdb).
            with log.open("ab") as out:
                self.process = subprocess.Popen(
                    [
                        executable,
                        "--port",
                        str(self.port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(self.workdir),
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and self.process.poll() is None:
                if _pong(self.port):
                    return
                time.sleep(0.02)
            self.stop()
        pytest.fail(f"redis-server did not answer PING: {log.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); a stopped one stays stopped."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # in case a test paused it
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open, nothing answers."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@contextmanager
def running_redis(workdir: Path) -> Iterator[RedisServer]:
    """A started `RedisServer`, stopped when the block ends."""
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Children:
    """An example script's processes, by name, each writing its stderr to a file.

    The environment carries *secret* as the API key and no other
    `CROWDTWIST_` variable of the test run's own.
    """

    def __init__(self, tmp_path: Path, script: Path, secret: str) -> None:
        self.tmp_path = tmp_path
        self.script = script
        self.secret = secret
        self.processes: dict[str, Process] = {}
        self._files: list[IO[bytes]] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CROWDTWIST_")}
        return {**env, "CROWDTWIST_API_KEY": self.secret}

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, str(self.script), *args]

    async def spawn(self, name: str, *args: str) -> None:
        """Start the script with *args* as the process *name*."""
        stderr = (self.tmp_path / f"{name}.stderr").open("wb")
        self._files.append(stderr)
        self.processes[name] = await anyio.open_process(
            self.argv(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=self.env(),
        )

    def stderr(self, name: str) -> str:
        return (self.tmp_path / f"{name}.stderr").read_text()

    async def aclose(self) -> None:
        """Kill what still runs, and close the stderr files."""
        for process in self.processes.values():
            if process.returncode is None:
                process.kill()
            await process.wait()
            await process.aclose()
        for file in self._files:
            file.close()


# -- a Redis that is not up yet (appended: late_redis) -------------------------------


def free_port() -> int:
    """A loopback port nothing listens on now: for a Redis that comes later, or never."""
    return _free_port()


class LateRedisServer(RedisServer):
    """A redis-server on a port chosen beforehand, started (and restarted) when the test says.

    For processes started while nothing listens there yet. `stop()` then
    `start()` again restarts it on the same port, loading what a `SAVE` wrote.
    """

    def __init__(self, workdir: Path, port: int) -> None:
        super().__init__(workdir, port)


def waiting_line(url_shown: str) -> str:
    """The pattern of one failed try at Redis an example logs at start
    (`wait_for_redis`), with the try's number as its group."""
    return (
        rf"WARNING Redis at {re.escape(url_shown)} did not answer "
        r"\(try (\d+): ConnectionError: [^\n]*\); again in \d+\.\d s"
    )


async def until_logged(children: Children, name: str, needle: str, count: int = 1) -> str:
    """Wait until child *name*'s stderr holds *needle* *count* times; that stderr.

    Fails the test if the child exits first.
    """
    while True:
        text = children.stderr(name)
        if text.count(needle) >= count:
            return text
        if children.processes[name].returncode is not None:
            pytest.fail(f"{name} exited ({children.processes[name].returncode}) first:\n{text}")
        await anyio.sleep(0.05)


# -- a connection that stops answering (stalling_proxy) ---------------------------------


class StallingProxy:
    """A loopback TCP proxy to a Redis port (see `stalling_proxy()`)."""

    def __init__(self, port: int, target_port: int) -> None:
        self.port = port
        self.target_port = target_port
        #: How many connections it has accepted.
        self.connections = 0
        self._stalled: set[int] = set()
        self._open: set[int] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stall(self) -> None:
        """The connections open now stop passing bytes, and stay open;
        connections made later pass them as before."""
        self._stalled |= self._open

    async def _pipe(self, number: int, source: ByteStream, sink: ByteStream) -> None:
        async for chunk in source:
            if number in self._stalled:
                await anyio.sleep_forever()
            await sink.send(chunk)
        await sink.send_eof()

    async def _handle(self, client: SocketStream) -> None:
        self.connections += 1
        number = self.connections
        self._open.add(number)
        try:
            async with (
                client,
                await anyio.connect_tcp("127.0.0.1", self.target_port) as server,
                anyio.create_task_group() as group,
            ):
                group.start_soon(self._pipe, number, client, server)
                group.start_soon(self._pipe, number, server, client)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass  # either side hung up: the other is closed with it
        finally:
            self._open.discard(number)


@asynccontextmanager
async def stalling_proxy(target_port: int) -> AsyncIterator[StallingProxy]:
    """A `StallingProxy` to Redis on *target_port*, served on a free loopback
    port by the running event loop until the block ends."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    proxy = StallingProxy(port, target_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, proxy._handle)
        try:
            yield proxy
        finally:
            group.cancel_scope.cancel()
