"""9. Live Push in: events per second through the receiver into a Redis Stream.

`push.receiver(RedisStreamSink(...))` takes `user_redemption` deliveries
(`sample_event` bodies, a fresh orderId each) from N concurrent senders and
adds each to a stream in a private redis-server on loopback, started here
(Debian's `redis-server`, no persistence) and stopped at the end. Two ways
in: in process (httpx's `ASGITransport`, sender and app in one process) and
over uvicorn in a process of its own on a loopback port, sent by httpx over
HTTP/1.1 keep-alive (and by aiohttp, a cheaper sender: with httpx the sender
is what runs out of CPU first). Baselines show where the time goes: `parse_event` +
`event_body` alone (no I/O), the sink alone (no HTTP), and the receiver with
a no-op `on_event` (no Redis).

Every run checks its work: every delivery answered 200, the stream then
holding exactly the distinct deliveries (a retried one added once), the
no-op receivers and the sink counting what they got. Without redis-server
(or redis-py) the section says so and measures nothing.

This module is also the uvicorn process (`python -m benchmarks.live_push
--serve sink|noop --redis URL`): it prints its port, serves until SIGTERM,
and answers `GET /_bench/stats` with its CPU time so far, outside the
receiver.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import attrs
import httpx

from crowdtwist_async import push
from crowdtwist_async.testing import sample_event

from ._common import Section, Target, _repo_root, _version

if TYPE_CHECKING:
    import redis.asyncio

FEED = "user_redemption"
PATH = f"/{FEED}"
STREAM = "bench:live-push"
USER, PASSWORD = "crowdtwist", "bench-password-0123456789"
AUTHORIZATION = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
STATS_PATH = "/_bench/stats"
ACCEPTED = b'{"status":"accepted"}'
HTTPX, AIOHTTP = "httpx", "aiohttp"
IN_PROCESS_SINK = "receiver + sink, in process"
UVICORN_SINK = "receiver + sink, over uvicorn"

LEVELS = (1, 8, 32)
#: The share of the deliveries that are retries of ones already sent, in the retry rows.
RETRY_SHARE = 0.2
RETRY_LEVEL = 8
#: Our own floor (the issue sets none): in process, receiver + sink, 8 senders.
TARGET_IN_PROCESS = 500.0
TARGET_LEVEL = 8

#: How long redis-server and the uvicorn process may take to answer at start.
START_TIMEOUT = 15.0

T = TypeVar("T")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


# --- the deliveries ---------------------------------------------------------------


@attrs.frozen
class Batch:
    """One run's deliveries, in sending order."""

    bodies: tuple[bytes, ...]
    #: How many distinct deliveries (delivery keys) they hold.
    distinct: int


class Seeds:
    """Fresh `sample_event` seeds, so that no two runs share an orderId."""

    def __init__(self) -> None:
        self.next = 1

    def take(self, count: int) -> range:
        seeds = range(self.next, self.next + count)
        self.next += count
        return seeds


def make_batch(seeds: Seeds, deliveries: int, *, retry_share: float, spacing: int) -> Batch:
    """*deliveries* bodies of which *retry_share* repeat one sent *spacing*
    places or more before (CrowdTwist's retry: the same body again)."""
    retries = round(deliveries * retry_share)
    distinct = deliveries - retries
    originals = [
        json.dumps(sample_event(FEED, seed=seed), separators=(",", ":")).encode()
        for seed in seeds.take(distinct)
    ]
    if retries > distinct - spacing:
        raise ValueError(f"{retries} retries do not fit in {distinct} deliveries {spacing} apart")
    # Spread evenly. The retry of original i goes right after original
    # i + spacing: N senders have at most N deliveries in flight, so with
    # spacing >= N the first delivery was answered before its retry is sent.
    retried = {
        int(n * (distinct - spacing) / retries) + spacing: int(n * (distinct - spacing) / retries)
        for n in range(retries)
    }
    bodies: list[bytes] = []
    for index, body in enumerate(originals):
        bodies.append(body)
        if index in retried:
            bodies.append(originals[retried[index]])
    assert len(bodies) == deliveries, (len(bodies), deliveries)
    return Batch(tuple(bodies), distinct)


# --- one run ------------------------------------------------------------------------


@attrs.frozen
class Run:
    """What one timed run measured."""

    deliveries: int
    distinct: int
    seconds: float
    #: Each delivery's time from send to answer; empty where there is no sender.
    latencies: tuple[float, ...]
    #: CPU seconds: this process, the uvicorn process (or None), redis-server.
    cpu: float
    server_cpu: float | None
    redis_cpu: float | None


async def drive(
    items: Sequence[T], send: Callable[[T], Awaitable[None]], senders: int
) -> tuple[float, tuple[float, ...]]:
    """*items* sent by *senders* tasks taking the next one as each is done:
    the wall time and each item's latency."""
    latencies = [0.0] * len(items)
    indices = iter(range(len(items)))

    async def sender() -> None:
        # One iterator shared by every task: each takes the next index.
        for index in indices:
            began = time.perf_counter()
            await send(items[index])
            latencies[index] = time.perf_counter() - began

    started = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(senders):
            group.start_soon(sender)
    return time.perf_counter() - started, tuple(latencies)


def accepted(response: httpx.Response) -> None:
    if response.status_code != 200 or response.content != ACCEPTED:
        raise AssertionError(
            f"the receiver answered {response.status_code} {response.content[:200]!r}"
        )


class Redis:
    """The benchmark's own view of the redis-server: clear, count, CPU."""

    def __init__(self, url: str) -> None:
        import redis.asyncio

        self.url = url
        self.client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(url)

    async def cpu(self) -> float:
        info: Mapping[str, Any] = await self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    async def clear(self) -> None:
        await self.client.flushdb()

    async def check(self, batch: Batch, what: str) -> None:
        """The stream holds one entry per distinct delivery, no more, no less."""
        length = await self.client.xlen(STREAM)
        if length != batch.distinct:
            raise AssertionError(
                f"{what}: the stream holds {length} entries after {len(batch.bodies)} "
                f"deliveries of {batch.distinct} distinct events"
            )

    async def aclose(self) -> None:
        await self.client.aclose()


# --- the contenders ----------------------------------------------------------------

#: Runs one timed run of *deliveries* at a contender's level, warm-up first.
Measure = Callable[[int], Awaitable[Run]]


@attrs.define
class Contender:
    """One row of the table: what it measures and its runs so far."""

    label: str
    senders: int | None
    measure: Measure
    retry_share: float = 0.0
    runs: list[Run] = attrs.Factory(list)
    failure: str | None = None


class Bench:
    """The contenders' shared state: the Redis, the in-process sink, the seeds."""

    def __init__(self, redis: Redis, sink: push.RedisStreamSink) -> None:
        self.redis = redis
        self.sink = sink
        self.seeds = Seeds()
        self.noop_events = 0

    async def noop(self, event: push.PushEvent) -> None:
        self.noop_events += 1

    def batch(self, deliveries: int, senders: int, retry_share: float) -> Batch:
        return make_batch(self.seeds, deliveries, retry_share=retry_share, spacing=2 * senders)

    async def timed(
        self,
        batch: Batch,
        send: Callable[[bytes], Awaitable[None]],
        senders: int,
        server: Served | None,
    ) -> Run:
        """One run of *batch*, its CPU counted in this process, the uvicorn
        process (if *server*) and redis-server."""
        server_before = await server.stats() if server else None
        redis_before = await self.redis.cpu()
        cpu_before = time.process_time()
        seconds, latencies = await drive(batch.bodies, send, senders)
        cpu = time.process_time() - cpu_before
        redis_cpu = await self.redis.cpu() - redis_before
        server_cpu = None
        if server and server_before:
            server_cpu = (await server.stats()).cpu - server_before.cpu
        return Run(
            len(batch.bodies), batch.distinct, seconds, latencies, cpu, server_cpu, redis_cpu
        )

    # Each contender: a warm-up at its level (connections opened, the code
    # paths run), the Redis cleared, the timed run, the check.

    def parse_only(self) -> Measure:
        async def measure(deliveries: int) -> Run:
            batch = self.batch(deliveries, 1, 0.0)
            started, cpu_before = time.perf_counter(), time.process_time()
            events = [push.parse_event(FEED, body) for body in batch.bodies]
            texts = [push.event_body(event) for event in events]
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_before
            keys = {event.delivery_key for event in events}
            if len(keys) != batch.distinct or len(texts) != deliveries:
                raise AssertionError(f"parsed {len(keys)} distinct events of {batch.distinct}")
            return Run(deliveries, batch.distinct, seconds, (), cpu, None, None)

        return measure

    def sink_only(self, senders: int) -> Measure:
        async def measure(deliveries: int) -> Run:
            added = 0

            async def send(event: push.PushEvent) -> None:
                nonlocal added
                # Awaited first: `added += await ...` would read `added`
                # before the await and lose the other tasks' counts.
                was_added = await self.sink(event)
                added += was_added

            warm = self.batch(4 * senders, senders, 0.0)
            await drive([push.parse_event(FEED, body) for body in warm.bodies], send, senders)
            await self.redis.clear()
            batch = self.batch(deliveries, senders, 0.0)
            events = [push.parse_event(FEED, body) for body in batch.bodies]
            added = 0
            redis_before = await self.redis.cpu()
            cpu_before = time.process_time()
            seconds, latencies = await drive(events, send, senders)
            cpu = time.process_time() - cpu_before
            redis_cpu = await self.redis.cpu() - redis_before
            if added != batch.distinct:
                raise AssertionError(f"the sink added {added} of {batch.distinct} events")
            await self.redis.check(batch, "the sink alone")
            return Run(deliveries, batch.distinct, seconds, latencies, cpu, None, redis_cpu)

        return measure

    def in_process(self, senders: int, *, noop: bool, retry_share: float = 0.0) -> Measure:
        on_event = self.noop if noop else self.sink
        app = push.receiver(on_event, basic_auth=(USER, PASSWORD))

        async def measure(deliveries: int) -> Run:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://receiver.invalid",
                headers={"authorization": AUTHORIZATION, "content-type": "application/json"},
            ) as client:

                async def send(body: bytes) -> None:
                    accepted(await client.post(PATH, content=body))

                warm = self.batch(4 * senders, senders, retry_share)
                await drive(warm.bodies, send, senders)
                await self.redis.clear()
                batch = self.batch(deliveries, senders, retry_share)
                before = self.noop_events
                run = await self.timed(batch, send, senders, None)
            if noop:
                if self.noop_events - before != deliveries:
                    raise AssertionError(
                        f"on_event ran {self.noop_events - before} times for {deliveries}"
                    )
            else:
                await self.redis.check(batch, "in process")
            return run

        return measure

    def over_uvicorn(
        self, server: Served, senders: int, client: str, *, retry_share: float = 0.0
    ) -> Measure:
        async def measure(deliveries: int) -> Run:
            async with http_sender(client, server.url, senders) as send:
                # Also opens the connections the timed run keeps alive.
                warm = self.batch(4 * senders, senders, retry_share)
                await drive(warm.bodies, send, senders)
                await self.redis.clear()
                batch = self.batch(deliveries, senders, retry_share)
                events_before = (await server.stats()).events
                run = await self.timed(batch, send, senders, server)
                events = (await server.stats()).events - events_before
            if server.kind == "noop":
                if events != deliveries:
                    raise AssertionError(f"on_event ran {events} times for {deliveries}")
            else:
                await self.redis.check(batch, "over uvicorn")
            return run

        return measure


@asynccontextmanager
async def http_sender(
    client: str, base_url: str, senders: int
) -> AsyncIterator[Callable[[bytes], Awaitable[None]]]:
    """POSTs one delivery to *base_url* over HTTP/1.1 keep-alive, at most one
    connection per sender, and checks the answer: with httpx or aiohttp."""
    headers = {"authorization": AUTHORIZATION, "content-type": "application/json"}
    if client == HTTPX:
        async with httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            limits=httpx.Limits(max_connections=senders, max_keepalive_connections=senders),
            timeout=30.0,
        ) as session:

            async def send(body: bytes) -> None:
                accepted(await session.post(PATH, content=body))

            yield send
        return
    import aiohttp

    async with aiohttp.ClientSession(
        base_url,
        headers=headers,
        connector=aiohttp.TCPConnector(limit=senders),
        timeout=aiohttp.ClientTimeout(total=30.0),
    ) as aio:

        async def send_aiohttp(body: bytes) -> None:
            async with aio.post(PATH, data=body) as response:
                content = await response.read()
            if response.status != 200 or content != ACCEPTED:
                raise AssertionError(f"the receiver answered {response.status} {content[:200]!r}")

        yield send_aiohttp


# --- the report --------------------------------------------------------------------


def percentile(ordered: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of sorted *ordered*."""
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


def row(contender: Contender) -> tuple[object, ...]:
    senders = "-" if contender.senders is None else contender.senders
    if contender.failure is not None:
        return (contender.label, senders, f"failed: {contender.failure}", *("-",) * 8)
    runs = contender.runs
    rate = statistics.median(run.deliveries / run.seconds for run in runs)
    latencies = sorted(latency * 1e3 for run in runs for latency in run.latencies)

    def cpu_per_event(pick: Callable[[Run], float | None]) -> object:
        values = [pick(run) for run in runs]
        if any(value is None for value in values):
            return "-"
        return statistics.median(
            value / run.deliveries * 1e6
            for value, run in zip(values, runs, strict=True)
            if value is not None
        )

    quantiles: list[object] = (
        [percentile(latencies, share) for share in (0.5, 0.95, 0.99)] if latencies else ["-"] * 3
    )
    return (
        contender.label,
        senders,
        f"{runs[0].distinct:,} of {runs[0].deliveries:,}",
        rate,
        *quantiles,
        cpu_per_event(lambda run: run.cpu),
        cpu_per_event(lambda run: run.server_cpu),
        cpu_per_event(lambda run: run.redis_cpu),
    )


HEADER = (
    "path",
    "senders",
    "distinct of deliveries per run",
    "events/s",
    "latency p50 (ms)",
    "p95 (ms)",
    "p99 (ms)",
    "CPU per event, this process (us)",
    "uvicorn process (us)",
    "redis-server (us)",
)


# --- the servers -------------------------------------------------------------------


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A redis-server on a free loopback port, as tests/redis_support.py starts
    one (no persistence); its URL. Stopped (SIGTERM, then SIGKILL) at the end."""
    executable = shutil.which("redis-server")
    assert executable is not None
    for _ in range(3):
        # A free port can be taken between the probe and the bind: try again.
        port = _free_port()
        log = workdir / f"redis-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    executable,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(workdir),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and process.poll() is None:
                if _pong(port):
                    break
                time.sleep(0.02)
            else:
                continue
            yield f"redis://127.0.0.1:{port}/0"
            return
        finally:
            _stop(process)
    raise RuntimeError(
        f"redis-server did not answer PING: {log.read_text(errors='replace')[-2000:]}"
    )


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


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@attrs.frozen
class ServerStats:
    cpu: float
    events: int
    loop: str
    http: str


@attrs.frozen
class Served:
    """A uvicorn process serving the receiver (`kind` "sink" or "noop")."""

    kind: str
    url: str
    client: httpx.AsyncClient

    async def stats(self) -> ServerStats:
        response = await self.client.get(f"{self.url}{STATS_PATH}")
        response.raise_for_status()
        return ServerStats(**response.json())


@contextmanager
def uvicorn_process(kind: str, redis_url: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """This module as a uvicorn process serving the receiver; its base URL."""
    argv = [sys.executable, "-m", "benchmarks.live_push", "--serve", kind, "--redis", redis_url]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=_repo_root())
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"the uvicorn process did not start: {line!r}")
        yield f"http://127.0.0.1:{line}", process
    finally:
        # SIGTERM: uvicorn's graceful shutdown, which closes the sink.
        _stop(process)


class ServedApp:
    """The uvicorn process's app: the receiver, made at lifespan start (the
    sink's client on uvicorn's loop), and `GET /_bench/stats` beside it."""

    def __init__(self, kind: str, redis_url: str) -> None:
        self.kind = kind
        self.redis_url = redis_url
        self.events = 0
        self.http = "?"
        self.sink: push.RedisStreamSink | None = None
        self.receiver: push.Receiver | None = None

    async def _noop(self, event: push.PushEvent) -> None:
        self.events += 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    if self.kind == "sink":
                        self.sink = push.RedisStreamSink(self.redis_url, stream=STREAM)
                        self.receiver = push.receiver(self.sink, basic_auth=(USER, PASSWORD))
                    else:
                        self.receiver = push.receiver(self._noop, basic_auth=(USER, PASSWORD))
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self.sink is not None:
                        await self.sink.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "http" and scope["path"] == STATS_PATH:
            loop = type(asyncio.get_running_loop())
            body = json.dumps(
                {
                    "cpu": time.process_time(),
                    "events": self.events,
                    "loop": f"{loop.__module__}.{loop.__qualname__}",
                    "http": self.http,
                }
            ).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        assert self.receiver is not None
        await self.receiver(scope, receive, send)


def serve(kind: str, redis_url: str) -> None:
    """Serve the receiver with uvicorn's defaults on a free loopback port,
    printing the port, until SIGTERM."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    # Listening before the port is printed: a connection made before uvicorn
    # accepts waits in the backlog instead of being refused.
    sock.listen(2048)
    app = ServedApp(kind, redis_url)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=120
    )
    config.load()
    app.http = config.http_protocol_class.__name__
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(config).run(sockets=[sock])


# --- the benchmark -----------------------------------------------------------------


def _unavailable() -> str | None:
    if shutil.which("redis-server") is None:
        return (
            "redis-server is not installed (Debian: apt-get install -y redis-server): "
            "skipped, nothing measured"
        )
    if importlib.util.find_spec("redis") is None:
        return f"redis-py is not installed ({push.INSTALL_HINT}): skipped, nothing measured"
    return None


async def run(quick: bool) -> Section:
    deliveries = 100 if quick else 1_000
    rounds = 1 if quick else 5
    section = Section(
        title="9. Live Push in: events per second through the receiver into Redis",
        setup="",
        header=HEADER,
    )
    reason = _unavailable()
    if reason is not None:
        section.setup = f"Not run: {reason}."
        section.rows.append(("-", "-", reason, *("-",) * 7))
        print(f"live_push: {reason}", flush=True)
        return section
    uvicorn_missing = importlib.util.find_spec("uvicorn") is None
    with (
        tempfile.TemporaryDirectory(prefix="bench-redis-") as workdir,
        redis_server(Path(workdir)) as redis_url,
    ):
        redis = Redis(redis_url)
        sink = push.RedisStreamSink(redis_url, stream=STREAM)
        try:
            if uvicorn_missing:
                return await _measure(section, Bench(redis, sink), {}, deliveries, rounds)
            with (
                uvicorn_process("sink", redis_url) as (sink_url, _),
                uvicorn_process("noop", redis_url) as (noop_url, _),
            ):
                servers = {"sink": sink_url, "noop": noop_url}
                return await _measure(section, Bench(redis, sink), servers, deliveries, rounds)
        finally:
            await sink.aclose()
            await redis.aclose()


async def _measure(
    section: Section, bench: Bench, urls: Mapping[str, str], deliveries: int, rounds: int
) -> Section:
    async with httpx.AsyncClient(timeout=START_TIMEOUT) as control:
        served = {kind: Served(kind, url, control) for kind, url in urls.items()}
        stats = {}
        for kind, server in served.items():
            stats[kind] = await server.stats()  # waits for the server to be up
        contenders: list[Contender] = [
            Contender("parse_event + event_body alone (CPU, no I/O)", None, bench.parse_only()),
        ]
        contenders += [
            Contender("RedisStreamSink alone (no HTTP)", n, bench.sink_only(n)) for n in LEVELS
        ]
        contenders += [
            Contender("receiver, no-op on_event, in process", n, bench.in_process(n, noop=True))
            for n in LEVELS
        ]
        contenders += [
            Contender(IN_PROCESS_SINK, n, bench.in_process(n, noop=False)) for n in LEVELS
        ]
        contenders.append(
            Contender(
                f"{IN_PROCESS_SINK}, {RETRY_SHARE:.0%} retries",
                RETRY_LEVEL,
                bench.in_process(RETRY_LEVEL, noop=False, retry_share=RETRY_SHARE),
                RETRY_SHARE,
            )
        )
        clients = [HTTPX] if importlib.util.find_spec("aiohttp") is None else [HTTPX, AIOHTTP]
        for client in clients if served else []:
            contenders += [
                Contender(
                    f"receiver, no-op on_event, over uvicorn, {client} sender",
                    n,
                    bench.over_uvicorn(served["noop"], n, client),
                )
                for n in LEVELS
            ]
            contenders += [
                Contender(
                    f"{UVICORN_SINK}, {client} sender",
                    n,
                    bench.over_uvicorn(served["sink"], n, client),
                )
                for n in LEVELS
            ]
            contenders.append(
                Contender(
                    f"{UVICORN_SINK}, {client} sender, {RETRY_SHARE:.0%} retries",
                    RETRY_LEVEL,
                    bench.over_uvicorn(
                        served["sink"], RETRY_LEVEL, client, retry_share=RETRY_SHARE
                    ),
                    RETRY_SHARE,
                )
            )
        for round_ in range(rounds):
            # The order rotates from round to round, so that drift on a shared
            # machine falls on every contender alike.
            shift = round_ % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                if contender.failure is not None:
                    continue
                try:
                    contender.runs.append(await contender.measure(deliveries))
                except Exception as exc:
                    contender.failure = f"{type(exc).__name__}: {exc}"
                    section.failures.append(
                        f"live_push: {contender.label}, {contender.senders} senders: "
                        f"{contender.failure}"
                    )
                finally:
                    await bench.redis.clear()
        section.rows += [row(contender) for contender in contenders]
    uvicorn_line = (
        "uvicorn is not installed: the uvicorn rows were not run."
        if not served
        else (
            f"Over uvicorn: uvicorn {_version('uvicorn')} with its defaults (here "
            f"{stats['sink'].http} and {stats['sink'].loop}) in a process of its own, on a free "
            "loopback port, so the sender, uvicorn and redis-server share this machine's cores; "
            "the sender, in this process, is one `httpx.AsyncClient` (or one "
            "`aiohttp.ClientSession`, a cheaper sender that leaves more of the machine to the "
            "receiver) per run, HTTP/1.1 keep-alive, one connection per sender, opened by the "
            "warm-up."
        )
    )
    section.setup = (
        "`user_redemption` deliveries (`testing.sample_event` bodies, about 430 bytes of "
        "compact JSON, a fresh orderId each) POSTed with HTTP Basic to "
        "`push.receiver(on_event, basic_auth=...)`, where `on_event` is a "
        "`push.RedisStreamSink(url, stream=...)` (its own client and pool, the defaults) into a "
        f"private redis-server {_redis_version()} on loopback (no persistence) started for the "
        f"benchmark, through redis-py {_version('redis')}, or a no-op. N senders are N "
        "tasks, each sending the next delivery when its last was answered. In process: "
        "httpx's `ASGITransport`, sender and receiver in this one process. "
        f"{uvicorn_line} Each run: a warm-up of 4 x N deliveries, the Redis cleared, then "
        f"{deliveries:,} deliveries timed; {rounds} run(s) per row, the rows' order rotating "
        "from round to round. events/s = deliveries answered 200 per second of wall time, "
        "median over the runs; latency = send to answer, percentiles over every delivery of "
        "every run; CPU per event = a process's CPU time over the run per delivery, median "
        "over the runs: this process's (`time.process_time()`: sender, receiver and sink in "
        "process, the sender alone over uvicorn), the uvicorn process's (read through a path "
        "beside the receiver) and redis-server's (`INFO cpu`). In the retry rows "
        f"{RETRY_SHARE:.0%} of the deliveries are retries: a body sent before, again, 2 x N "
        "or more places after it. Every run checks that every delivery was answered 200 "
        "`accepted` and that the stream then holds exactly the distinct deliveries (the "
        "no-op rows: that on_event ran once per delivery; the sink alone: that it answered "
        "True once per event); a run that did not fails the benchmark. asyncio; INFO "
        "logging not enabled."
    )
    in_process = _medians(contenders, IN_PROCESS_SINK, TARGET_LEVEL)
    section.targets.append(
        Target(
            f"receiver + sink, in process, {TARGET_LEVEL} senders, events/s (our own floor)",
            in_process.rate if in_process else None,
            TARGET_IN_PROCESS,
            unit="/s",
        )
    )
    section.verdict = verdict(contenders)
    return section


@attrs.frozen
class Medians:
    """A contender's median events/s and CPU per event (us) by process."""

    rate: float
    cpu: float
    server_cpu: float | None


def _medians(contenders: Sequence[Contender], label: str, senders: int) -> Medians | None:
    for contender in contenders:
        if contender.label == label and contender.senders == senders:
            runs = contender.runs
            if contender.failure is not None or not runs:
                return None
            server = [run.server_cpu / run.deliveries for run in runs if run.server_cpu]
            return Medians(
                statistics.median(run.deliveries / run.seconds for run in runs),
                statistics.median(run.cpu / run.deliveries for run in runs) * 1e6,
                statistics.median(server) * 1e6 if len(server) == len(runs) else None,
            )
    return None


def verdict(contenders: Sequence[Contender]) -> str:
    """Where the time went at TARGET_LEVEL senders, from this run's figures."""
    n = TARGET_LEVEL
    lines = []
    here = _medians(contenders, IN_PROCESS_SINK, n)
    if here:
        lines.append(
            f"At {n} senders in process: {here.rate:,.0f} events/s at {here.cpu:.0f} us of CPU "
            f"per event, {here.rate * here.cpu / 1e6:.0%} of a core: sender, receiver and sink "
            "share one process, so its CPU is the bound."
        )
    aio = _medians(contenders, f"{UVICORN_SINK}, {AIOHTTP} sender", n)
    if aio and aio.server_cpu:
        lines.append(
            f"Over uvicorn with the aiohttp sender: {aio.rate:,.0f} events/s, the uvicorn "
            f"process spending {aio.server_cpu:.0f} us per event "
            f"({aio.rate * aio.server_cpu / 1e6:.0%} of a core): one uvicorn worker with a core "
            f"of its own would take about {1e6 / aio.server_cpu:,.0f} events/s."
        )
    httpx_ = _medians(contenders, f"{UVICORN_SINK}, {HTTPX} sender", n)
    if httpx_:
        lines.append(
            f"With the httpx sender: {httpx_.rate:,.0f} events/s, the sender spending "
            f"{httpx_.cpu:.0f} us per event ({httpx_.rate * httpx_.cpu / 1e6:.0%} of a core): "
            "those rows measure httpx's client more than the receiver."
        )
    return " ".join(lines)


def _redis_version() -> str:
    executable = shutil.which("redis-server")
    if executable is None:
        return ""
    out = subprocess.run([executable, "--version"], capture_output=True, text=True).stdout
    for word in out.split():
        if word.startswith("v="):
            return word[2:]
    return out.strip()


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.live_push")
    parser.add_argument("--serve", choices=("sink", "noop"), required=True)
    parser.add_argument("--redis", required=True)
    args = parser.parse_args()
    serve(args.serve, args.redis)


if __name__ == "__main__":
    _main()
