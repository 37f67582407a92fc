"""A throwaway redis-server on a free loopback port, for the Redis tests.

`RedisServer` starts Debian's `redis-server` (no persistence, loopback only),
waits until it answers PING and stops it again; `running_redis()` wraps that
as a context manager yielding its URL. A missing redis-server fails the test
that needs it, with the command that installs it: it is never skipped.
`Children` runs an example's processes (the consumers, the batch workers).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import anyio
import pytest
from anyio.abc import Process

__all__ = ["Children", "RedisServer", "running_redis"]

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

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = 0
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
        # A free port can be taken between the probe and the bind: try again.
        for _ in range(3):
            self.port = _free_port()
            log = self.workdir / f"redis-{self.port}.log"
            with log.open("wb") as out:
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
