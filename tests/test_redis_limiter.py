"""`crowdtwist_async.redis.RedisRateLimiter` against a real redis-server.

asyncio only: redis-py's asyncio client is built on asyncio's loop, so this
module's `anyio_backend` is asyncio, except where trio is the point (the
limiter refuses it). The redis-server is Debian's, started on a free loopback
port by `tests/redis_support.py`; without one these tests fail, they are not
skipped. Time is asserted only where it is the behaviour (the rate, the
timeout), with generous bounds: the machine running them may be busy.

Many callers at once share one connection: the tests count the limiter's
client connections (`CLIENT LIST`), freeze the server (SIGSTOP) under waiting
callers, and stall a connection through `stalling_proxy()` to show that each
caller, and each round trip, is bounded by the limiter's own timeout.

The deployment tests run `tests/limiter_worker.py` as separate processes
sharing one limiter, and count at FakeCrowdTwist, served on a loopback port by
this process, what reached the program.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
import redis.asyncio
import redis.exceptions

import crowdtwist_async as ct
from crowdtwist_async.redis import INSTALL_HINT, RedisRateLimiter
from crowdtwist_async.testing import SANDBOX_EMAIL, FakeCrowdTwist

from .redis_support import RedisServer, running_redis, stalling_proxy

WORKER = Path(__file__).resolve().with_name("limiter_worker.py")

NEEDS_ASYNCIO = (
    "RedisRateLimiter needs asyncio (redis-py's asyncio client); under trio "
    "use a local limit instead: Session(rate_limit=<requests per second>)"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the module; each test uses keys of its own."""
    with running_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
def key() -> str:
    return f"crowdtwist:program:test-{uuid.uuid4().hex}"


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A client of the test's own, to read what the limiter wrote."""
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def server_time(store: redis.asyncio.Redis) -> float:
    """The Redis server's clock, in microseconds (the script's unit)."""
    seconds, micros = await store.time()
    return seconds * 1_000_000 + micros


async def tokens_taken(store: redis.asyncio.Redis, key: str, interval: float) -> float:
    """How many intervals the program's schedule stands ahead of the server's clock."""
    stored = await store.get(key)
    assert stored is not None
    return (float(stored) - await server_time(store)) / (interval * 1_000_000)


# -- the script's arithmetic, on the server's clock -------------------------------


@pytest.mark.slow
@pytest.mark.anyio
async def test_n_acquires_at_rate_r_take_n_minus_1_intervals(redis_url: str, key: str) -> None:
    async with RedisRateLimiter(redis_url, rate=20, key=key) as limiter:
        started = time.perf_counter()
        for _ in range(11):
            await limiter.acquire()
        elapsed = time.perf_counter() - started
    # 10 intervals of 50 ms: never faster (the server's clock and ours both
    # tick in real seconds), and late only by what a busy machine adds.
    assert 0.5 - 0.02 <= elapsed < 0.5 + 1.5, elapsed


@pytest.mark.slow
@pytest.mark.anyio
async def test_each_caller_reserves_the_next_slot_and_is_told_its_wait(
    redis_url: str, key: str, store: redis.asyncio.Redis
) -> None:
    async with RedisRateLimiter(redis_url, rate=10, key=key) as limiter:
        # Private on purpose, here and below: `_reserve()` is `acquire()`
        # without its sleep, so the wait each caller is told can be asserted
        # exactly (a day, in one test) rather than timed.
        waits = [await limiter._reserve() for _ in range(5)]
    # Slots 100 ms apart, each wait less the time since the first reservation.
    for slot, wait in enumerate(waits):
        assert slot * 0.1 - 0.05 <= wait <= slot * 0.1 + 0.001, waits
    assert waits == sorted(waits)
    # The schedule stands five intervals past the first reservation.
    assert 4.5 <= await tokens_taken(store, key, 0.1) <= 5.0


@pytest.mark.slow
@pytest.mark.anyio
async def test_burst_lets_that_many_start_at_once_then_the_rate_holds(
    redis_url: str, key: str
) -> None:
    async with RedisRateLimiter(redis_url, rate=1, burst=5, key=key) as limiter:
        started = time.perf_counter()
        for _ in range(5):
            await limiter.acquire()
        at_once = time.perf_counter() - started
        sixth = await limiter._reserve()
    assert at_once < 0.5, at_once  # no sleeping: five round trips only
    assert 1.0 - 0.5 <= sixth <= 1.0, sixth


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_key_expires_once_the_schedule_is_past(
    redis_url: str, key: str, store: redis.asyncio.Redis
) -> None:
    async with RedisRateLimiter(redis_url, rate=1, key=key) as limiter:
        await limiter.acquire()
        ttl = await store.pttl(key)
        assert 0 < ttl <= 1001  # one interval ahead, plus a millisecond
    async with RedisRateLimiter(redis_url, rate=50, key=key + ":idle") as limiter:
        await limiter.acquire()
        assert 0 < await store.pttl(key + ":idle") <= 21
        await anyio.sleep(0.3)
        assert await store.exists(key + ":idle") == 0  # an idle program leaves nothing


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_script_flushed_from_the_server_is_loaded_again(
    redis_url: str, key: str, store: redis.asyncio.Redis
) -> None:
    async with RedisRateLimiter(redis_url, rate=1000, key=key) as limiter:
        await limiter.acquire()
        await store.script_flush()  # as a restarted server would have forgotten it
        await limiter.acquire()


# -- many callers at once, one connection -----------------------------------------------


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_thousand_callers_at_once_are_all_served_paced_on_one_connection(
    redis_url: str, key: str, store: redis.asyncio.Redis
) -> None:
    callers, rate = 1000, 2000.0
    name = f"limiter-{uuid.uuid4().hex}"
    finished: list[float] = []
    refused: list[ct.RateLimiterError] = []

    async def caller(limiter: RedisRateLimiter) -> None:
        try:
            await limiter.acquire()
        except ct.RateLimiterError as exc:
            refused.append(exc)
        else:
            finished.append(time.perf_counter())

    # Waiting is not what is tested: a loaded machine's slow round trips must
    # not make a caller give up (the default is a second).
    async with RedisRateLimiter(
        f"{redis_url}?client_name={name}", rate=rate, key=key, timeout=60.0
    ) as limiter:
        async with anyio.create_task_group() as group:
            for _ in range(callers):
                group.start_soon(caller, limiter)
        # The pool keeps every connection it opened until aclose().
        opened = [c for c in await store.client_list() if c["name"] == name]
    assert refused == []
    assert len(finished) == callers
    assert len(opened) == 1, opened
    # Each holds a start time of its own, one interval after the one before:
    # never sooner than that (the bound is on slowness only, the rate is the spec).
    spread = max(finished) - min(finished)
    print(f"{callers} callers at {rate:g}/s: spread {spread:.3f} s, connections {len(opened)}")
    assert spread >= (callers - 1) / rate - 0.1, spread


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_session_gathering_150_requests_sends_them_all(redis_url: str, key: str) -> None:
    fake = FakeCrowdTwist()
    async with (
        RedisRateLimiter(redis_url, rate=500, key=key) as limiter,
        ct.Session(
            api_key=fake.api_key,
            base_url=fake.base_url,
            transport=fake.transport(),
            rate_limit=limiter,
            max_concurrency=4,
        ) as session,
    ):
        # The Session asks the limiter before it takes a concurrency slot:
        # all 150 wait on the limiter at once.
        results = await asyncio.gather(
            *(session.users.usable_coupons(SANDBOX_EMAIL, id_type="email") for _ in range(150)),
            return_exceptions=True,
        )
    failed = [r for r in results if isinstance(r, BaseException)]
    assert failed == []
    assert [len(coupons) for coupons in results] == [3] * 150  # type: ignore[arg-type]
    assert [r.status for r in fake.requests] == [200] * 150


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_cancelled_caller_leaves_the_others_served(tmp_path: Path) -> None:
    cancelled = anyio.CancelScope()
    served: list[int] = []

    async def first(limiter: RedisRateLimiter) -> None:
        with cancelled:
            await limiter.acquire()
            served.append(0)

    async def other(limiter: RedisRateLimiter, n: int) -> None:
        await limiter.acquire()
        served.append(n)

    with running_redis(tmp_path) as server:
        async with RedisRateLimiter(server.url, rate=1000, key="k", timeout=10.0) as limiter:
            await limiter.acquire()  # connected, so the round trips below wait on Redis only
            server.pause()
            try:
                async with anyio.create_task_group() as group:
                    # The first caller and four more in one round trip, held by
                    # the frozen Redis, five more waiting for the next; the
                    # first (the one that set the round trips going) is cancelled.
                    group.start_soon(first, limiter)
                    for n in range(1, 5):
                        group.start_soon(other, limiter, n)
                    await anyio.sleep(0.1)
                    for n in range(5, 10):
                        group.start_soon(other, limiter, n)
                    await anyio.sleep(0.1)
                    cancelled.cancel()
                    await anyio.sleep(0.1)
                    server.resume()
            finally:
                server.resume()
    assert cancelled.cancelled_caught
    assert sorted(served) == list(range(1, 10))


@pytest.mark.slow
@pytest.mark.anyio
async def test_closing_the_limiter_tells_the_callers_still_waiting(tmp_path: Path) -> None:
    errors: list[ct.RateLimiterError] = []

    async def caller(limiter: RedisRateLimiter) -> None:
        with pytest.raises(ct.RateLimiterError) as caught:
            await limiter.acquire()
        errors.append(caught.value)

    with running_redis(tmp_path) as server:
        limiter = RedisRateLimiter(server.url, rate=1000, key="crowdtwist:program:7", timeout=10.0)
        await limiter.acquire()
        server.pause()
        try:
            with anyio.fail_after(5):  # far less than the timeout: aclose() answered them
                async with anyio.create_task_group() as group:
                    for _ in range(3):
                        group.start_soon(caller, limiter)
                    await anyio.sleep(0.1)
                    await limiter.aclose()
        finally:
            server.resume()
    assert [str(error) for error in errors] == [
        "the rate limiter was closed while the caller waited (key 'crowdtwist:program:7')"
    ] * 3
    assert all(e.__context__ is None and e.__cause__ is None for e in errors)


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_frozen_redis_fails_each_caller_within_its_timeout_without_socket_timeouts(
    tmp_path: Path,
) -> None:
    """The limiter's own bound, not the client's: this client has no socket timeouts."""
    timeout = 2.0
    took: list[float] = []

    async def caller() -> None:
        started = time.monotonic()
        with pytest.raises(ct.RateLimiterError) as caught:
            await limiter.acquire()
        took.append(time.monotonic() - started)
        assert str(caught.value) == (
            f"the rate limiter's Redis did not answer within {timeout} s (key 'k')"
        )

    with running_redis(tmp_path) as server:
        # redis-py's own default is a 5 s socket timeout: none at all here.
        client = redis.asyncio.Redis.from_url(
            server.url, socket_timeout=None, socket_connect_timeout=None
        )
        try:
            limiter = RedisRateLimiter(client, rate=1000, key="k", timeout=timeout)
            await limiter.acquire()
            server.pause()
            try:
                with anyio.fail_after(30):
                    async with anyio.create_task_group() as group:
                        group.start_soon(caller)
                        # The second arrives while the first's round trip is out:
                        # its timeout counts from its own start, not from when
                        # the first's runs out.
                        await anyio.sleep(0.1)
                        group.start_soon(caller)
            finally:
                server.resume()
            await limiter.acquire()  # and once Redis is back, so is the limiter
        finally:
            await client.aclose()
    assert len(took) == 2
    for elapsed in took:
        assert timeout <= elapsed < timeout + 1.0, took


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_connection_that_stops_answering_is_given_up_for_a_new_one(
    redis_server: RedisServer,
) -> None:
    """A peer gone without a reset (a partition, a failover) on a client with no
    socket timeouts: the round trip is given up after `timeout`, not only its
    callers, so the next round trip is sent on a fresh connection."""
    # Each step takes a second at most; a hung round trip fails the test here.
    with anyio.fail_after(30):
        async with stalling_proxy(redis_server.port) as proxy:
            client = redis.asyncio.Redis.from_url(
                proxy.url, socket_timeout=None, socket_connect_timeout=None
            )
            try:
                limiter = RedisRateLimiter(client, rate=1000, key="k", timeout=1.0)
                await limiter.acquire()
                assert proxy.connections == 1
                proxy.stall()
                with pytest.raises(ct.RateLimiterError) as caught:
                    await limiter.acquire()
                assert str(caught.value) == (
                    "the rate limiter's Redis did not answer within 1.0 s (key 'k')"
                )
                await limiter.acquire()
                assert proxy.connections == 2
            finally:
                await client.aclose()


# -- every attempt takes a token ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.anyio
async def test_every_attempt_takes_a_token_retries_included(
    redis_url: str, key: str, store: redis.asyncio.Redis, fast_retries: None
) -> None:
    fake = FakeCrowdTwist()
    fake.script(503, json={"error": "internal_error", "message": "busy"})
    # An interval of 1000 s, burst 10: no caller waits, and the schedule
    # counts in whole intervals how many tokens were taken.
    limiter = RedisRateLimiter(redis_url, rate=0.001, burst=10, key=key)
    assert isinstance(limiter, ct.RateLimiter)
    async with (
        limiter,
        ct.Session(
            api_key=fake.api_key,
            base_url=fake.base_url,
            transport=fake.transport(),
            rate_limit=limiter,
        ) as session,
    ):
        coupons = await session.users.usable_coupons(SANDBOX_EMAIL, id_type="email")
    assert len(coupons) == 3
    assert [r.status for r in fake.requests] == [503, 200]
    assert round(await tokens_taken(store, key, 1000.0)) == 2


# -- arguments, masking, the event loop ----------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"rate": "50"}, TypeError, "rate must be requests per second, got '50'"),
        ({"rate": True}, TypeError, "rate must be requests per second, got True"),
        ({"rate": 0}, ValueError, "rate must be positive and finite, got 0"),
        ({"rate": -5.0}, ValueError, "rate must be positive and finite, got -5.0"),
        ({"rate": math.inf}, ValueError, "rate must be positive and finite, got inf"),
        ({"rate": math.nan}, ValueError, "rate must be positive and finite, got nan"),
        (
            {"rate": 1e-300},
            ValueError,
            "rate must be from 1/86400 (one request a day) to 1000000 requests per second, "
            "got 1e-300",
        ),
        (
            {"rate": 1 / 86_400 * 0.999},
            ValueError,
            "rate must be from 1/86400 (one request a day) to 1000000 requests per second, "
            f"got {1 / 86_400 * 0.999!r}",
        ),
        (
            {"rate": 1_000_001},
            ValueError,
            "rate must be from 1/86400 (one request a day) to 1000000 requests per second, "
            "got 1000001",
        ),
        (
            {"timeout": 1e300},
            ValueError,
            "timeout must be at most 86400 seconds (a day), got 1e+300",
        ),
        ({"burst": 0}, ValueError, "burst must be at least 1, got 0"),
        ({"burst": 2.0}, TypeError, "burst must be an int, got float"),
        ({"timeout": 0}, ValueError, "timeout must be positive and finite, got 0"),
        ({"timeout": None}, TypeError, "timeout must be a number of seconds, got None"),
        (
            {"key": ""},
            ValueError,
            "key must not be empty: name the program, e.g. 'crowdtwist:program:123'",
        ),
        ({"key": 123}, TypeError, "key must be a str, got int"),
    ],
)
def test_arguments_are_checked(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"rate": 50, "key": "crowdtwist:program:123"} | options
    with pytest.raises(error) as caught:
        RedisRateLimiter("redis://127.0.0.1:1/0", **arguments)
    assert str(caught.value) == message


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_slowest_and_fastest_rates_taken_work(
    redis_url: str, key: str, store: redis.asyncio.Redis
) -> None:
    async with RedisRateLimiter(redis_url, rate=1 / 86_400, key=key, timeout=86_400) as daily:
        await daily.acquire()
        # The next start a day on, and the key kept until then.
        assert 86_400 - 60 <= await daily._reserve() <= 86_400
        assert 2 * 86_400_000 - 60_000 <= await store.pttl(key) <= 2 * 86_400_000 + 1
    async with RedisRateLimiter(redis_url, rate=1_000_000, key=key + ":fast") as fast:
        for _ in range(3):
            await fast.acquire()


def test_only_a_url_or_an_asyncio_client_is_taken() -> None:
    with pytest.raises(TypeError) as caught:
        RedisRateLimiter(redis.Redis(), rate=50, key="k")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "RedisRateLimiter needs a Redis URL or a redis.asyncio.Redis client, got redis.client.Redis"
    )
    with pytest.raises(ValueError, match="not a usable Redis URL") as refused:
        RedisRateLimiter("http://user:s3cret-pw@127.0.0.1/0", rate=50, key="k")
    assert str(refused.value) == (
        "not a usable Redis URL (http://user:***@127.0.0.1/0): Redis URL must specify one "
        "of the following schemes (redis://, rediss://, unix://)"
    )


def test_repr_masks_the_password() -> None:
    limiter = RedisRateLimiter(
        "redis://alice:s3cr%40t@127.0.0.1:6379/0?password=other-s3cret", rate=2.5, key="k"
    )
    assert repr(limiter) == (
        "<RedisRateLimiter key='k' rate=2.5/s burst=1 timeout=1s "
        "redis=redis://alice:***@127.0.0.1:6379/0?password=***>"
    )
    socket = RedisRateLimiter("unix:///run/redis.sock?db=1&password=s3cret", rate=1, key="k")
    assert "redis=unix:///run/redis.sock?db=1&password=***>" in repr(socket)
    given = RedisRateLimiter(
        redis.asyncio.Redis(password="s3cret"), rate=50, burst=3, key="k", timeout=0.5
    )
    assert repr(given) == (
        "<RedisRateLimiter key='k' rate=50/s burst=3 timeout=0.5s redis=<Redis client>>"
    )


@pytest.mark.anyio
async def test_errors_mask_the_password_and_chain_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password = "s3cr@t pass"
    url = "redis://:s3cr%40t%20pass@127.0.0.1:1/0"  # nothing listens on port 1
    async with RedisRateLimiter(url, rate=50, key="crowdtwist:program:9") as limiter:
        with pytest.raises(ct.RateLimiterError) as refused:
            await limiter.acquire()
        # Should a redis-py error ever quote the URL, the password is masked:
        # redis-py's client raises one such when the limiter runs its script.

        async def echoing(*_: object) -> int:
            raise redis.exceptions.ConnectionError(f"cannot reach {url} ({password})")

        monkeypatch.setattr(redis.asyncio.Redis, "evalsha", echoing)
        with pytest.raises(ct.RateLimiterError) as echoed:
            await limiter.acquire()
    assert str(refused.value).startswith(
        "the rate limiter's Redis could not be asked (key 'crowdtwist:program:9', "
        "timeout 1.0 s): ConnectionError: "
    )
    assert str(echoed.value) == (
        "the rate limiter's Redis could not be asked (key 'crowdtwist:program:9', "
        "timeout 1.0 s): ConnectionError: cannot reach redis://:***@127.0.0.1:1/0 (***)"
    )
    for caught in (refused.value, echoed.value):
        assert isinstance(caught, ct.CrowdTwistError)
        assert caught.__context__ is None
        assert caught.__cause__ is None
        shown = "".join(traceback.format_exception(caught)) + repr(caught)
        assert "s3cr" not in shown


@pytest.mark.slow
def test_importing_the_package_does_not_import_redis() -> None:
    code = (
        "import sys, crowdtwist_async as ct\n"
        "ct.Session('k', base_url='https://api1.crowdtwist.com')\n"
        "assert 'redis' not in sys.modules, 'redis was imported'\n"
        "assert 'crowdtwist_async.redis' not in sys.modules\n"
        # Inside the package, `import redis` is redis-py, not the module itself
        # (private on purpose: the module that imports redis-py is the point).
        "import crowdtwist_async._redis as ours, redis\n"
        "assert ours.redis is redis and hasattr(redis, 'asyncio'), redis\n"
        "assert 'crowdtwist_async' not in redis.__file__, redis.__file__\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_without_redis_py_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    # Private on purpose: both modules are dropped so the import runs again,
    # as in a process without redis-py.
    monkeypatch.delitem(sys.modules, "crowdtwist_async.redis")
    monkeypatch.delitem(sys.modules, "crowdtwist_async._redis")
    with pytest.raises(ModuleNotFoundError) as info:
        importlib.import_module("crowdtwist_async.redis")
    assert str(info.value) == INSTALL_HINT
    assert INSTALL_HINT == (
        'crowdtwist_async.redis needs redis-py: pip install "crowdtwist-async[redis]"'
    )
    assert info.value.name == "redis"


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_under_trio_it_is_refused_at_construction(redis_url: str) -> None:
    with pytest.raises(RuntimeError) as info:
        RedisRateLimiter(redis_url, rate=50, key="k")
    assert str(info.value) == NEEDS_ASYNCIO


@pytest.mark.slow
def test_under_trio_one_made_outside_a_loop_is_refused_at_first_acquire(
    redis_url: str, key: str
) -> None:
    limiter = RedisRateLimiter(redis_url, rate=50, key=key)
    with pytest.raises(RuntimeError) as info:
        anyio.run(limiter.acquire, backend="trio")
    assert str(info.value) == NEEDS_ASYNCIO

    async def then_on_asyncio() -> None:
        async with limiter:
            await limiter.acquire()

    anyio.run(then_on_asyncio, backend="asyncio")


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_client_passed_in_is_left_open_one_made_from_a_url_is_closed(
    redis_url: str, key: str, store: redis.asyncio.Redis
) -> None:
    async with RedisRateLimiter(store, rate=1000, key=key) as borrowed:
        await borrowed.acquire()
    assert borrowed.closed
    assert await store.ping()  # still ours, still open
    before = len(await store.client_list())
    owned = RedisRateLimiter(redis_url, rate=1000, key=key)
    await owned.acquire()
    assert len(await store.client_list()) == before + 1
    await owned.aclose()
    await owned.aclose()  # again: nothing
    with anyio.fail_after(10):  # the server notices the close on its next turn
        while len(await store.client_list()) != before:
            await anyio.sleep(0.01)
    assert repr(owned).startswith("<RedisRateLimiter closed key=")
    with pytest.raises(RuntimeError, match="this RedisRateLimiter is closed"):
        await owned.acquire()


# -- Redis going away during a run --------------------------------------------------


async def run_until_refused(
    server: RedisServer, stop: str, tasks: int = 4
) -> tuple[list[ct.RateLimiterError], float, int]:
    """Requests from `tasks` tasks until Redis goes (*stop*: "stop" or "pause").

    Returns each task's error, the longest time from the server going to a
    task's error, and how many requests succeeded before.
    """
    fake = FakeCrowdTwist()
    errors: list[ct.RateLimiterError] = []
    gone = math.inf
    latest = 0.0
    limiter = RedisRateLimiter(server.url, rate=200, key="crowdtwist:program:down", timeout=1.0)
    async with (
        limiter,
        ct.Session(
            api_key=fake.api_key,
            base_url=fake.base_url,
            transport=fake.transport(),
            rate_limit=limiter,
        ) as session,
    ):

        async def member() -> None:
            nonlocal latest
            with pytest.raises(ct.RateLimiterError) as caught:
                while True:
                    await session.users.get_rewards_page(SANDBOX_EMAIL, id_type="email")
            errors.append(caught.value)
            latest = max(latest, time.monotonic() - gone)

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                for _ in range(tasks):
                    group.start_soon(member)
                while len(fake.requests) < 50:
                    await anyio.sleep(0.01)
                gone = time.monotonic()
                if stop == "stop":
                    await anyio.to_thread.run_sync(server.stop)
                else:
                    server.pause()
    return errors, latest, len(fake.requests)


@pytest.mark.slow
@pytest.mark.anyio
async def test_redis_stopped_during_a_run_fails_the_next_requests_fast(
    tmp_path: Path,
) -> None:
    with running_redis(tmp_path) as server:
        errors, latest, served = await run_until_refused(server, "stop")
    assert served >= 50
    assert len(errors) == 4
    for error in errors:
        assert str(error).startswith(
            "the rate limiter's Redis could not be asked (key 'crowdtwist:program:down', "
            "timeout 1.0 s): "
        ), error
    assert latest < 1.0 + 2.0, latest
    print(f"Redis stopped: every task had its RateLimiterError {latest:.3f} s later")


@pytest.mark.slow
@pytest.mark.anyio
async def test_redis_frozen_during_a_run_fails_the_next_requests_within_the_timeout(
    tmp_path: Path,
) -> None:
    with running_redis(tmp_path) as server:
        errors, latest, served = await run_until_refused(server, "pause")
    assert served >= 50
    assert len(errors) == 4
    for error in errors:
        assert str(error) == (
            "the rate limiter's Redis did not answer within 1.0 s (key 'crowdtwist:program:down')"
        )
    # Each waits out its timeout: never a hang.
    assert latest < 1.0 + 2.0, latest
    print(f"Redis frozen: every task had its RateLimiterError {latest:.3f} s later")


# -- four processes, one program ---------------------------------------------------------

PROCESSES = 4
RATE = 50.0
WINDOW = 2.0


def run_deployment(
    fake: FakeCrowdTwist,
    base_url: str,
    logs: Path,
    *,
    redis_url: str | None,
    key: str = "",
    kill_one_after: float | None = None,
) -> tuple[int, list[dict[str, int] | None]]:
    """Four worker processes for WINDOW seconds, sharing the limiter on *redis_url*
    (or each with a local `rate_limit=RATE` when it is None).

    Returns how many requests reached the fake, and what each worker reported
    (None for one killed).
    """
    mode = ["--local"] if redis_url is None else ["--redis", redis_url, "--key", key]
    workers: list[subprocess.Popen[str]] = []
    with ExitStack() as cleanup:
        for n in range(PROCESSES):
            errors = cleanup.enter_context((logs / f"worker-{n}.err").open("w"))
            command = [sys.executable, str(WORKER), "--base-url", base_url]
            command += ["--api-key", fake.api_key, "--rate", str(RATE), "--tasks", "4", *mode]
            worker = cleanup.enter_context(
                subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True
                )
            )
            # Run before the Popen's own exit, which waits for the process.
            cleanup.callback(kill_if_running, worker)
            workers.append(worker)
        for n, worker in enumerate(workers):
            assert worker.stdout is not None
            line = worker.stdout.readline()
            assert line == "ready\n", (logs / f"worker-{n}.err").read_text()
        before = len(fake.requests)
        # Every worker starts at the same instant, once all are ready.
        start = time.time() + 0.5
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write(f"{start!r} {start + WINDOW!r}\n")
            worker.stdin.flush()  # communicate() closes it
        if kill_one_after is not None:
            time.sleep(max(0.0, start + kill_one_after - time.time()))
            workers[0].send_signal(signal.SIGKILL)
        reports: list[dict[str, int] | None] = []
        for n, worker in enumerate(workers):
            out, _ = worker.communicate(timeout=60)
            if n == 0 and kill_one_after is not None:
                assert worker.returncode == -signal.SIGKILL
                reports.append(None)
                continue
            assert worker.returncode == 0, (logs / f"worker-{n}.err").read_text()
            reports.append(json.loads(out))
        return len(fake.requests) - before, reports


def kill_if_running(worker: subprocess.Popen[str]) -> None:
    """A worker still running when the deployment ends (a failed test) is killed."""
    if worker.poll() is None:
        worker.kill()


@pytest.fixture
def served() -> Iterator[tuple[FakeCrowdTwist, str]]:
    fake = FakeCrowdTwist()
    with fake.serve() as url:
        yield fake, url


@pytest.mark.slow
def test_four_processes_share_one_rate_and_local_limits_do_not(
    served: tuple[FakeCrowdTwist, str], redis_url: str, key: str, tmp_path: Path
) -> None:
    fake, url = served
    shared, reports = run_deployment(fake, url, tmp_path, redis_url=redis_url, key=key)
    local, local_reports = run_deployment(fake, url, tmp_path, redis_url=None)
    print(f"{PROCESSES} processes for {WINDOW} s at {RATE}/s: shared {shared}, local {local}")
    print(f"per process: shared {reports}, local {local_reports}")
    # 50 a second for 2 s is 100 (plus the one at the start) for all four together.
    assert 90 <= shared <= 110, shared
    assert all(report is not None and set(report) == {"ok"} for report in reports), reports
    # Each process alone at 50 a second: about 400 together. Measured 400 in
    # every run on a shared 2-core machine; the bound is what a much busier one
    # would still clear, far past the shared limit, not how close it gets to 400.
    assert local > 200, local


@pytest.mark.slow
def test_a_process_killed_partway_leaves_the_others_at_the_shared_rate(
    served: tuple[FakeCrowdTwist, str], redis_url: str, key: str, tmp_path: Path
) -> None:
    fake, url = served
    shared, reports = run_deployment(
        fake, url, tmp_path, redis_url=redis_url, key=key, kill_one_after=WINDOW / 2
    )
    print(f"{PROCESSES} processes, one killed after {WINDOW / 2} s: {shared} ({reports})")
    # The killed one's reserved slots go unused: a few fewer, never more.
    assert 90 <= shared <= 110, shared
