"""`RedisStreamSink` and `event_from_entry`: Live Push events into a Redis
Stream, once per delivery, and back out as typed events.

Public as `crowdtwist_async.push.RedisStreamSink`, `.event_from_entry` and
`.PushSinkError`. redis-py (the `redis` extra) is imported when a sink is
made, not with this module: `crowdtwist_async.push` works without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import anyio

from ._loops import running_library
from ._push_events import PushEvent, event_body, parse_event

if TYPE_CHECKING:
    import redis.asyncio
    import redis.commands.core

__all__ = [
    "DEFAULT_DEDUPE_TTL",
    "DEFAULT_TIMEOUT",
    "INSTALL_HINT",
    "RETRY_WINDOW",
    "EntryFields",
    "PushSinkError",
    "RedisStreamSink",
    "event_from_entry",
]

INSTALL_HINT: Final = (
    'crowdtwist_async.push.RedisStreamSink needs redis-py: pip install "crowdtwist-async[redis]"'
)
"""The message of the `ModuleNotFoundError` a `RedisStreamSink` raises without redis-py."""

RETRY_WINDOW: Final = 8 * 3600.0
"""How long CrowdTwist retries a delivery that did not get a 2xx, in seconds: 8 hours.

"Five times an hour for up to eight hours" (its Data Push overview). A
delivery whose answer was lost after it reached the stream comes back
within this window, so its seen key must outlive it: the least
`dedupe_ttl` a `RedisStreamSink` takes.
"""

DEFAULT_DEDUPE_TTL: Final = 86_400.0
"""How long a delivery key is remembered by default, in seconds: a day, thrice `RETRY_WINDOW`."""

#: The longest `dedupe_ttl` taken: ten years. Redis refuses an expiry past
#: what it can store, and the script would then have added the entry without
#: marking it seen; longer cannot be meant anyway.
MAX_DEDUPE_TTL: Final = 10 * 365 * 86_400.0

#: How long one round trip to Redis may take by default, in seconds.
DEFAULT_TIMEOUT: Final = 5.0

#: The longest `timeout` taken: a day (longer overflows some socket timeouts).
MAX_TIMEOUT: Final = 86_400.0

#: KEYS[1] the stream, KEYS[2] the delivery's seen key. ARGV: feed,
#: delivery_key, body, received_at, the seen key's TTL in milliseconds, and
#: MAXLEN ('' for none). Atomic in Redis: a delivery already seen adds
#: nothing (0); otherwise the XADD runs first and the seen key is set only
#: after it succeeded, holding the entry's id (1). An XADD that fails (a
#: WRONGTYPE key, out of memory) aborts the script before anything is written.
ADD_ONCE_SCRIPT: Final = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local id
if ARGV[6] == '' then
  id = redis.call('XADD', KEYS[1], '*', 'feed', ARGV[1], 'delivery_key', ARGV[2],
    'body', ARGV[3], 'received_at', ARGV[4])
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*', 'feed', ARGV[1],
    'delivery_key', ARGV[2], 'body', ARGV[3], 'received_at', ARGV[4])
end
redis.call('SET', KEYS[2], id, 'PX', ARGV[5])
return 1
"""

#: A stream entry's fields as redis-py gives them: bytes, or str with
#: `decode_responses=True` (its own annotation is the mixed form).
EntryFields: TypeAlias = (
    Mapping[bytes, bytes | str] | Mapping[str, bytes | str] | Mapping[bytes | str, bytes | str]
)

#: The entry's fields `event_from_entry` needs.
_FIELDS: Final = ("feed", "delivery_key", "body")


class PushSinkError(Exception):
    """The sink could not add an event: Redis failed to take it.

    Redis refused the connection, did not answer within the timeout, or
    answered with an error. The event is not marked seen, so a retried
    delivery is added then. Under `push.receiver` it becomes a 503, and
    CrowdTwist retries. The message holds no password and the exception
    chains nothing.

    Args:
        message: what went wrong, naming the stream.

    Attributes:
        stream: the stream the event was for.
    """

    def __init__(self, message: str, *, stream: str) -> None:
        super().__init__(message)
        self.stream = stream


class RedisStreamSink:
    """Adds each Live Push event to a Redis Stream once per delivery key.

    An `on_event` for `push.receiver`: `await sink(event)` adds the event
    (answering True), or nothing when its `delivery_key` was seen within
    `dedupe_ttl` (False). One Lua script, atomic in Redis, checks the seen
    key, adds the entry and only then marks the key seen, so a retried
    delivery, or the same one reaching two receivers behind a load balancer,
    is in the stream once, and a delivery is never marked seen without being
    in it. Read the entries with a consumer group and turn each back into its
    event with `event_from_entry(fields)`.

    ```python
    from crowdtwist_async import push

    sink = push.RedisStreamSink("redis://localhost:6379/0", stream="crowdtwist:events")
    app = push.receiver(sink, basic_auth=("crowdtwist", "PASSWORD"))
    # ... serve `app` (e.g. uvicorn), then: await sink.aclose()
    ```

    Each entry has the fields `feed`, `delivery_key`, `body` (the event as
    compact JSON, `event_body(event)`) and `received_at` (ISO 8601, UTC, this
    process's clock). The seen key is `f"{stream}:seen:{delivery_key}"` and
    holds the entry's id. On Redis Cluster, put the stream name in braces
    (`"{crowdtwist:events}"`) so both keys hash to one slot.

    Args:
        url_or_client: a `redis://`, `rediss://` or `unix://` URL, from which
            the sink makes its own client (closed by `aclose()`, with socket
            timeouts of `timeout` and one immediate retry of a broken
            connection), or a `redis.asyncio.Redis` client of yours, used as
            it is and left open.
        stream: the stream's key, e.g. `"crowdtwist:events"`.
        dedupe_ttl: seconds a delivery key is remembered (default a day). At
            least CrowdTwist's retry window, eight hours: a delivery whose
            answer was lost comes back within it.
        maxlen: trim the stream to about this many entries (`XADD MAXLEN ~`),
            oldest first, read or not; None (the default) keeps every entry.
        timeout: seconds one round trip to Redis may take (default 5, at
            most a day).

    Raises:
        ValueError: if `stream` is empty, `dedupe_ttl` is under the retry
            window or over ten years, `maxlen` is below 1, `timeout` is out of
            its bounds, or the URL is not a usable Redis URL.
        TypeError: if an argument is not of its type.
        ModuleNotFoundError: if redis-py (the `redis` extra) is not installed.
        RuntimeError: under trio (redis-py's client runs on asyncio), here or
            from `await sink(event)`.
        PushSinkError: from `await sink(event)`, when Redis cannot take the event.
    """

    __slots__ = (
        "_client",
        "_closed",
        "_dedupe_ttl",
        "_maxlen",
        "_owns_client",
        "_script",
        "_secrets",
        "_shown",
        "_stream",
        "_timeout",
        "_timeouts",
    )

    def __init__(
        self,
        url_or_client: str | redis.asyncio.Redis,
        /,
        *,
        stream: str,
        dedupe_ttl: float = DEFAULT_DEDUPE_TTL,
        maxlen: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._stream = _check_stream(stream)
        self._dedupe_ttl = _check_dedupe_ttl(dedupe_ttl)
        self._maxlen = _check_maxlen(maxlen)
        self._timeout = _seconds("timeout", timeout)
        if self._timeout > MAX_TIMEOUT:
            raise ValueError(f"timeout must be at most 86400 seconds (a day), got {timeout!r}")
        _check_event_loop()
        try:
            # Absolute imports: redis-py, imported only now that it is needed.
            import redis.exceptions
        except ImportError as exc:
            raise ModuleNotFoundError(INSTALL_HINT, name="redis") from exc
        # The rate limiter's connection and URL masking: the same URLs, the
        # same secrets. Its one immediate retry is safe for the script: run
        # twice, its second run finds the seen key and adds nothing (the
        # call then answers False for a delivery it added).
        from ._redis import redis_link

        self._timeouts: tuple[type[BaseException], ...] = (
            TimeoutError,
            redis.exceptions.TimeoutError,
        )
        link = redis_link(url_or_client, timeout=self._timeout, owner="RedisStreamSink")
        self._client, self._owns_client, self._shown, secrets = link
        self._secrets = secrets
        self._closed = False
        self._script: redis.commands.core.AsyncScript = self._client.register_script(
            ADD_ONCE_SCRIPT
        )

    async def __call__(self, event: PushEvent) -> bool:
        """Add *event* to the stream unless its delivery was seen.

        Args:
            event: the Live Push event, e.g. from `push.receiver`.

        Returns:
            True if added, False if a duplicate (its delivery key was seen).

        Raises:
            PushSinkError: when Redis cannot take it.
            RuntimeError: if the sink is closed, or under trio.
        """
        _check_event_loop()
        if self._closed:
            raise RuntimeError("this RedisStreamSink is closed")
        key = event.delivery_key
        args = (
            event.feed,
            key,
            event_body(event),
            datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            math.ceil(self._dedupe_ttl * 1000),
            "" if self._maxlen is None else self._maxlen,
        )
        problem: str
        try:
            with anyio.fail_after(self._timeout):
                reply: Any = await self._script(
                    keys=[self._stream, f"{self._stream}:seen:{key}"], args=args
                )
        except self._timeouts:
            problem = f"did not answer within {self._timeout:g} s"
        except Exception as exc:  # anything: the receiver must answer 503
            problem = f"failed: {type(exc).__name__}: {_masked(str(exc), self._secrets)}"
        else:
            if reply == 1 or reply == 0:
                return bool(reply)
            problem = f"answered {type(reply).__name__}, not 0 or 1"
        # Raised outside the except block: nothing chained that may hold the URL.
        raise PushSinkError(
            f"the Live Push sink's Redis {problem} (stream {self._stream!r}); "
            "the event was not marked seen",
            stream=self._stream,
        )

    # -- lifecycle -------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop using Redis; close the client if the sink made it from a URL.

        A client passed in is left open. Calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            # Imported with redis-py, which a sink that exists has imported.
            from ._redis import close_client

            await close_client(self._client, self._timeout)

    async def __aenter__(self) -> RedisStreamSink:
        _check_event_loop()
        if self._closed:
            raise RuntimeError("this RedisStreamSink is closed")
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
    def stream(self) -> str:
        """The stream's key."""
        return self._stream

    @property
    def dedupe_ttl(self) -> float:
        """Seconds a delivery key is remembered."""
        return self._dedupe_ttl

    @property
    def maxlen(self) -> int | None:
        """About how many entries the stream is trimmed to, or None."""
        return self._maxlen

    @property
    def timeout(self) -> float:
        """Seconds one round trip to Redis may take."""
        return self._timeout

    @property
    def closed(self) -> bool:
        """Whether `aclose()` has been called."""
        return self._closed

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return (
            f"<RedisStreamSink{state} stream={self._stream!r} dedupe_ttl={self._dedupe_ttl:g}s "
            f"maxlen={self._maxlen!r} timeout={self._timeout:g}s redis={self._shown}>"
        )


def event_from_entry(fields: EntryFields) -> PushEvent:
    """The typed event a `RedisStreamSink` entry holds, with its delivery_key.

    Args:
        fields: the entry's field mapping as redis-py gives it (`XREADGROUP`,
            `XRANGE`): bytes keys and values, or str with
            `decode_responses=True`.

    Returns:
        The event, as `parse_event` reads the entry's `body`.

    Raises:
        PushEventError: when the body is not the feed's event (a ValueError).
        ValueError: naming the field when `feed`, `delivery_key` or `body` is
            missing, when the stored `delivery_key` is not the parsed event's,
            or when a field is not UTF-8.
        TypeError: when *fields* is not a mapping, or holds something else
            than bytes or str.
    """
    if not isinstance(fields, Mapping):
        raise TypeError(f"fields must be a mapping, got {type(fields).__name__}")
    text: dict[str, str] = {}
    for name, value in fields.items():
        name = _text(name, "field name")
        text[name] = _text(value, f"field {name!r}")
    missing = [name for name in _FIELDS if name not in text]
    if missing:
        raise ValueError(
            "not a RedisStreamSink entry: missing field(s) " + ", ".join(map(repr, missing))
        )
    event = parse_event(text["feed"], text["body"])
    if event.delivery_key != text["delivery_key"]:
        raise ValueError(
            f"field 'delivery_key' is {text['delivery_key']!r} but the body's event has "
            f"{event.delivery_key!r}"
        )
    return event


def _text(value: object, what: str) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise ValueError(f"{what} is not UTF-8") from None
    if isinstance(value, str):
        return value
    raise TypeError(f"{what} must be bytes or str, got {type(value).__name__}")


def _check_stream(stream: object) -> str:
    if not isinstance(stream, str):
        raise TypeError(f"stream must be a str, got {type(stream).__name__}")
    if not stream:
        raise ValueError("stream must not be empty: name it, e.g. 'crowdtwist:events'")
    return stream


def _check_dedupe_ttl(dedupe_ttl: object) -> float:
    seconds = _seconds("dedupe_ttl", dedupe_ttl)
    if seconds < RETRY_WINDOW:
        raise ValueError(
            "dedupe_ttl must be at least CrowdTwist's retry window, 8 hours "
            f"({RETRY_WINDOW:g} s), or a retried delivery could be added twice; "
            f"got {dedupe_ttl!r}"
        )
    if seconds > MAX_DEDUPE_TTL:
        raise ValueError(f"dedupe_ttl must be at most ten years, got {dedupe_ttl!r}")
    return seconds


def _check_maxlen(maxlen: object) -> int | None:
    if maxlen is None:
        return None
    if isinstance(maxlen, bool) or not isinstance(maxlen, int):
        raise TypeError(f"maxlen must be an int or None, got {type(maxlen).__name__}")
    if maxlen < 1:
        raise ValueError(f"maxlen must be at least 1, got {maxlen}")
    return maxlen


def _masked(text: str, secrets: tuple[str, ...]) -> str:
    # Only ever called once redis-py (which `_redis` imports) is in.
    from ._redis import masked

    return masked(text, secrets)


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, got {value!r}")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return float(value)


def _check_event_loop() -> None:
    """Refuse to go on under a running event loop that is not asyncio's."""
    library = running_library()
    if library is not None and library != "asyncio":
        raise RuntimeError(
            f"RedisStreamSink needs asyncio (redis-py's asyncio client), not {library}"
        )
