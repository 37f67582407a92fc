"""`RedisRateLimiter`: the implementation behind `crowdtwist_async.redis`,
whose docstring says what it does and how it decides."""

from __future__ import annotations

import asyncio
import math
import re
from types import TracebackType
from typing import Any, Final, NamedTuple
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import anyio

from ._exceptions import RateLimiterError
from ._loops import running_library
from ._redact import MASK

INSTALL_HINT: Final = 'crowdtwist_async.redis needs redis-py: pip install "crowdtwist-async[redis]"'
"""The message of the `ModuleNotFoundError` raised on import when redis-py is missing."""

try:
    # Absolute imports: redis-py, not this module.
    import redis.asyncio
    import redis.exceptions
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
except ImportError as exc:
    raise ModuleNotFoundError(INSTALL_HINT, name="redis") from exc

__all__ = [
    "INSTALL_HINT",
    "RedisLink",
    "RedisRateLimiter",
    "close_client",
    "masked",
    "redis_link",
]

#: How long a caller waits for its start time, and each round trip to Redis
#: may take, by default, in seconds.
DEFAULT_TIMEOUT: Final = 1.0

#: The slowest rate taken: one request a day. The key lives about one
#: interval past the schedule (its TTL), and a rate far below this is a
#: mistake (1e-300 would ask Redis for a TTL it refuses, failing every call).
MIN_RATE: Final = 1 / 86_400

#: The fastest rate taken: one request a microsecond. The schedule is kept in
#: microseconds of the server's clock and each wait is answered in whole
#: microseconds, so a faster rate could not be kept as asked.
MAX_RATE: Final = 1_000_000.0

#: The longest `timeout` taken: a day. Longer does not fit every socket
#: timeout (1e300 overflows one) and cannot be meant for one round trip.
MAX_TIMEOUT: Final = 86_400.0

#: The most start times one round trip reserves. Callers arriving while a
#: round trip is out join the next one; past this many, the one after. It
#: keeps each script short, since Redis runs one at a time for every client.
MAX_BATCH: Final = 1000

#: GCRA with reservation. KEYS[1] holds the program's theoretical arrival
#: time (TAT) in microseconds of this server's clock. ARGV[1] is the emission
#: interval (1 / rate) and ARGV[2] the burst tolerance ((burst - 1) x the
#: interval), both in microseconds; ARGV[3] how many start times to reserve,
#: one after the other, as that many calls at the same instant would.
#: Answers each one's wait in microseconds, in reservation order.
#: The TAT is stored with 17 significant digits, which a double round-trips
#: exactly (Lua's default tostring keeps 14: 100 µs steps at today's epoch).
#: The key's format is the one earlier releases used (one reservation a
#: call), so processes running either share one schedule.
GCRA_SCRIPT: Final = """
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local waits = {}
for i = 1, count do
  local start = tat - tolerance
  if start < now then start = now end
  waits[i] = math.ceil(start - now)
  tat = tat + interval
end
local ttl = math.ceil((tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', ttl)
return waits
"""

#: A `password=` query parameter, which redis-py's URLs also accept.
_PASSWORD_PARAM: Final = re.compile(r"((?:^|[&;])password=)[^&;]*", re.IGNORECASE)


class RedisRateLimiter:
    """At most `rate` requests a second for every process sharing `key`.

    A `crowdtwist_async.RateLimiter` kept in Redis: pass it as a Session's
    `rate_limit=` in each process (and each Session) that uses the program.
    See the module's documentation for how it decides and why.

    Any number of callers may wait at once on one connection: callers that
    arrive while a round trip is out are reserved together by the next one,
    in the order they arrived, so one limiter keeps one connection busy.
    Use it on one event loop.

    Args:
        url_or_client: a `redis://`, `rediss://` or `unix://` URL, from which
            the limiter makes its own client (closed by `aclose()`, with
            socket timeouts of `timeout` and one immediate retry of a broken
            connection), or a `redis.asyncio.Redis` client of yours, used as
            it is and left open.
        rate: requests a second for the whole program, across every process:
            from `1 / 86400` (one a day) to `1_000_000` (one a microsecond,
            the schedule's resolution). CrowdTwist's limit is 10,000 a minute
            (about 166 a second); leave room for anything else using the key.
        key: the Redis key holding the program's schedule, the same in every
            process that shares the limit: e.g. `"crowdtwist:program:123"`.
        burst: how many requests may start at once after an idle spell
            (default 1: evenly spaced, never two at the same instant).
        timeout: seconds a caller waits for its start time to be reserved
            (default 1.0, at most a day), counted from when `acquire()`
            starts to wait; past it, `acquire()` raises `RateLimiterError`.
            It then sleeps until that start time, which no timeout bounds.
            Each round trip to Redis is given up after it too.

    Raises:
        ValueError: if `rate`, `burst`, `key` or `timeout` is out of its
            bounds, or the URL is not a usable Redis URL.
        TypeError: if an argument is not of its type (`url_or_client` neither
            a URL nor a `redis.asyncio.Redis`).
        RuntimeError: when made under trio (redis-py's client runs on
            asyncio only), or, for one made outside any event loop, at its
            first `acquire()` under trio.

    Example:
        ```python
        import crowdtwist_async as ct
        from crowdtwist_async.redis import RedisRateLimiter

        limiter = RedisRateLimiter(
            "redis://:PASSWORD@redis.internal:6379/0", rate=150, key="crowdtwist:program:123"
        )
        try:
            async with ct.Session(api_key="KEY", client_id=123, rate_limit=limiter) as session:
                ...
        finally:
            await limiter.aclose()
        ```
    """

    __slots__ = (
        "_args",
        "_burst",
        "_client",
        "_closed",
        "_key",
        "_owns_client",
        "_pump",
        "_queue",
        "_rate",
        "_script",
        "_secrets",
        "_shown",
        "_timeout",
    )

    def __init__(
        self,
        url_or_client: str | redis.asyncio.Redis,
        /,
        *,
        rate: float,
        key: str,
        burst: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._rate = _check_positive("rate", rate, "requests per second")
        if not MIN_RATE <= self._rate <= MAX_RATE:
            raise ValueError(
                "rate must be from 1/86400 (one request a day) to 1000000 requests "
                f"per second, got {rate!r}"
            )
        self._timeout = _check_positive("timeout", timeout, "a number of seconds")
        if self._timeout > MAX_TIMEOUT:
            raise ValueError(f"timeout must be at most 86400 seconds (a day), got {timeout!r}")
        if isinstance(burst, bool) or not isinstance(burst, int):
            raise TypeError(f"burst must be an int, got {type(burst).__name__}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self._burst = burst
        if not isinstance(key, str):
            raise TypeError(f"key must be a str, got {type(key).__name__}")
        if not key:
            raise ValueError(
                "key must not be empty: name the program, e.g. 'crowdtwist:program:123'"
            )
        self._key = key
        check_event_loop()
        link = redis_link(url_or_client, timeout=self._timeout, owner="RedisRateLimiter")
        self._client, self._owns_client, self._shown, self._secrets = link
        self._closed = False
        # Callers waiting for the next round trip, oldest first; each future
        # gets its start time (the loop's clock) or why there is none.
        self._queue: list[asyncio.Future[float | str]] = []
        # The task sending round trips while anyone waits, one at a time.
        self._pump: asyncio.Task[None] | None = None
        interval = 1_000_000 / self._rate
        self._args = (interval, (burst - 1) * interval)
        self._script = self._client.register_script(GCRA_SCRIPT)

    # -- what a Session calls --------------------------------------------------

    async def acquire(self) -> None:
        """Reserve the next start time for the program and wait until it.

        Raises:
            RateLimiterError: when Redis does not answer within `timeout` or
                fails, or when `aclose()` is called while it waits; the
                caller's request is then not sent.
            RuntimeError: if the limiter is closed, or under trio.
        """
        start = await self._reserve_start()
        if start > anyio.current_time():
            await anyio.sleep_until(start)

    async def _reserve(self) -> float:
        """The caller's slot reserved: how long until it, in seconds."""
        return max(0.0, await self._reserve_start() - anyio.current_time())

    async def _reserve_start(self) -> float:
        """The caller's slot reserved: when it starts, on the loop's clock."""
        check_event_loop()
        if self._closed:
            raise RuntimeError("this RedisRateLimiter is closed")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[float | str] = loop.create_future()
        self._queue.append(waiter)
        if self._pump is None:
            self._pump = loop.create_task(self._serve())
        outcome: float | str
        # The round trip runs in the pump, not in any caller, so a caller
        # cancelled or timed out leaves the others' answer intact: it only
        # gives up its own future (and its slot, unused, if already reserved).
        try:
            with anyio.fail_after(self._timeout):
                outcome = await waiter
        except TimeoutError:
            outcome = self._timed_out()
        finally:
            waiter.cancel()
        # Raised here, not in the pump: each caller has an exception of its
        # own, with no traceback or context from another task.
        if isinstance(outcome, str):
            raise RateLimiterError(outcome)
        return outcome

    async def _serve(self) -> None:
        """Reserve for everyone waiting, a batch a round trip, until none is left."""
        batch: list[asyncio.Future[float | str]] = []
        try:
            while True:
                waiting = [waiter for waiter in self._queue if not waiter.done()]
                if not waiting:
                    return
                batch, self._queue = waiting[:MAX_BATCH], waiting[MAX_BATCH:]
                outcome = await self._round_trip(len(batch))
                for n, waiter in enumerate(batch):
                    if not waiter.done():
                        waiter.set_result(outcome if isinstance(outcome, str) else outcome[n])
                batch = []
        finally:
            # Normally nobody is left; when aclose() (or the loop's end)
            # cancels the pump, whoever still waits is told so.
            self._pump = None
            left, self._queue = batch + self._queue, []
            closed = f"the rate limiter was closed while the caller waited (key {self._key!r})"
            for waiter in left:
                if not waiter.done():
                    waiter.set_result(closed)

    async def _round_trip(self, count: int) -> list[float] | str:
        """*count* start times reserved (on the loop's clock), or why not.

        Bounded by `timeout` from when it is sent: a connection that stops
        answering (and whose client has no socket timeout) is given up, and
        redis-py drops it, so the next round trip opens a fresh one.
        """
        try:
            with anyio.fail_after(self._timeout):
                reply: Any = await self._script(keys=[self._key], args=[*self._args, count])
        except (TimeoutError, redis.exceptions.TimeoutError):
            return self._timed_out()
        except Exception as exc:  # anything at all: the callers must hear of it
            detail = self._mask(str(exc))
            return (
                f"the rate limiter's Redis could not be asked (key {self._key!r}, "
                f"timeout {self._timeout} s): {type(exc).__name__}: {detail}"
            )
        received = anyio.current_time()
        if not (
            isinstance(reply, list)
            and len(reply) == count
            and all(isinstance(wait, int) and not isinstance(wait, bool) for wait in reply)
        ):
            return (
                f"the rate limiter's Redis answered {type(reply).__name__}, not {count} "
                f"wait(s) (key {self._key!r})"
            )
        return [received + wait / 1_000_000 for wait in reply]

    def _timed_out(self) -> str:
        return (
            f"the rate limiter's Redis did not answer within {self._timeout} s (key {self._key!r})"
        )

    # -- lifecycle -------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop using Redis; close the client if the limiter made it from a URL.

        A client passed in is left open. Calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        pump = self._pump
        if pump is not None:
            # Its callers are told the limiter closed; its round trip stops.
            pump.cancel()
            with anyio.move_on_after(self._timeout, shield=True):
                await asyncio.wait([pump])
        if self._owns_client:
            await close_client(self._client, self._timeout)

    async def __aenter__(self) -> RedisRateLimiter:
        check_event_loop()
        if self._closed:
            raise RuntimeError("this RedisRateLimiter is closed")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- what it is ------------------------------------------------------------

    @property
    def rate(self) -> float:
        """Requests a second, for every process sharing the key."""
        return self._rate

    @property
    def burst(self) -> int:
        """How many requests may start at once after an idle spell."""
        return self._burst

    @property
    def key(self) -> str:
        """The Redis key holding the program's schedule."""
        return self._key

    @property
    def timeout(self) -> float:
        """Seconds a caller waits for its start time (and a round trip may take)."""
        return self._timeout

    @property
    def closed(self) -> bool:
        """Whether `aclose()` has been called."""
        return self._closed

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return (
            f"<RedisRateLimiter{state} key={self._key!r} rate={self._rate:g}/s "
            f"burst={self._burst} timeout={self._timeout:g}s redis={self._shown}>"
        )

    def _mask(self, text: str) -> str:
        return masked(text, self._secrets)


def check_event_loop() -> None:
    """Refuse to go on under a running event loop that is not asyncio's."""
    library = running_library()
    if library is not None and library != "asyncio":
        raise RuntimeError(
            f"RedisRateLimiter needs asyncio (redis-py's asyncio client); under {library} "
            "use a local limit instead: Session(rate_limit=<requests per second>)"
        )


def _check_positive(name: str, value: object, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be {unit}, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return float(value)


class RedisLink(NamedTuple):
    """A Redis client and how its owner speaks of it (see `redis_link`)."""

    client: redis.asyncio.Redis
    owns_client: bool  # made from a URL here: the owner closes it
    shown: str  # the URL, password masked, or the client's class
    secrets: tuple[str, ...]  # every form of its password, to mask in messages


def redis_link(url_or_client: object, *, timeout: float, owner: str) -> RedisLink:
    """A client from a Redis URL, or the caller's own client, left to them.

    A client made from a URL has *timeout* as its socket timeouts and one
    immediate retry: a pooled connection the server dropped (a restart) is
    replaced at once; more would only spend the timeout. *owner* names the
    class in the error for anything else.
    """
    if isinstance(url_or_client, str):
        shown = _masked_url(url_or_client)
        secrets = _url_secrets(url_or_client)
        try:
            client = redis.asyncio.Redis.from_url(
                url_or_client,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 1),
            )
        except ValueError as exc:
            message = f"not a usable Redis URL ({shown}): {masked(str(exc), secrets)}"
        else:
            return RedisLink(client, True, shown, secrets)
        raise ValueError(message)
    if isinstance(url_or_client, redis.asyncio.Redis):
        password = url_or_client.connection_pool.connection_kwargs.get("password")
        secrets = _forms(password) if isinstance(password, str) and password else ()
        return RedisLink(url_or_client, False, f"<{type(url_or_client).__name__} client>", secrets)
    kind = type(url_or_client)
    raise TypeError(
        f"{owner} needs a Redis URL or a redis.asyncio.Redis client, "
        f"got {kind.__module__}.{kind.__qualname__}"
    )


async def close_client(client: redis.asyncio.Redis, within: float) -> None:
    """Close a client made from a URL, *within* so many seconds, even while
    the caller is being cancelled: its cancellation must not leave sockets open."""
    # redis-py 5.0.0 has close() only; later ones deprecate it for aclose().
    close = getattr(client, "aclose", None) or client.close
    with anyio.move_on_after(within, shield=True):
        await close()


def masked(text: str, secrets: tuple[str, ...]) -> str:
    """*text* with every form of the password in *secrets*, and any
    `password=` value, replaced by the mask."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return _PASSWORD_PARAM.sub(rf"\g<1>{MASK}", text)


def _forms(secret: str) -> tuple[str, ...]:
    """*secret* as it is and as a URL may carry it, longest first."""
    forms = {secret, quote(secret, safe=""), quote(secret)}
    return tuple(sorted(forms, key=len, reverse=True))


def _url_secrets(url: str) -> tuple[str, ...]:
    """Every form of the passwords a Redis URL holds (userinfo or query)."""
    try:
        parts = urlsplit(url)
        passwords = [parts.password] if parts.password else []
    except ValueError:
        return ()
    passwords.extend(
        match.group(1)
        for match in re.finditer(r"(?:^|[&;])password=([^&;]*)", parts.query, re.IGNORECASE)
    )
    forms: set[str] = set()
    for password in passwords:
        if password:
            forms.update(_forms(password))
            forms.update(_forms(unquote(password)))
    return tuple(sorted(forms, key=len, reverse=True))


def _masked_url(url: str) -> str:
    """*url* with its password (userinfo or `password=` query) replaced by `***`."""
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
    except ValueError:
        return "<a Redis URL>"
    netloc = parts.netloc
    if has_password:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{MASK}@{host}"
    query = _PASSWORD_PARAM.sub(rf"\g<1>{MASK}", parts.query)
    if "://" not in url:
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    # Not urlunsplit: it would drop the `//` of `unix:///path`.
    shown = f"{parts.scheme}://{netloc}{parts.path}"
    return shown + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")
