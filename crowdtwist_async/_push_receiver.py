"""`receiver`: the ASGI app behind `crowdtwist_async.push.receiver`, taking
CrowdTwist's Live Push deliveries (plain ASGI 3, no web framework)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from ._asgi import Receive, Scope, Send, acknowledge_lifespan
from ._push_events import FEEDS, PushEvent, PushEventError, parse_event

__all__ = ["DEFAULT_MAX_BODY", "REALM", "Receiver", "receiver"]

DEFAULT_MAX_BODY: Final = 1_048_576
"""The largest body a `receiver()` takes by default, in bytes: 1 MiB.

CrowdTwist's biggest documented fields are a few 4,000-character strings,
so a real event is far smaller.
"""

#: The realm named in `WWW-Authenticate` when basic auth is configured.
REALM: Final = "Live Push"

log = logging.getLogger("crowdtwist_async.push")

OnEvent = Callable[[PushEvent], Awaitable[object]]

_JSON: Final = (b"content-type", b"application/json")


def _digest(value: bytes) -> bytes:
    # Secrets are kept and compared as SHA-256 digests: equal lengths, so
    # compare_digest leaks not even the length, and the app holds no secret.
    return hashlib.sha256(value).digest()


def _json(payload: Mapping[str, object]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class Receiver:
    """A Live Push receiver: an ASGI 3 app made by `receiver()`."""

    __slots__ = ("_api_key", "_basic", "_max_body", "_on_event", "_paths")

    def __init__(
        self,
        on_event: OnEvent,
        *,
        basic_auth: tuple[str, str] | None,
        api_key: str | None,
        max_body: int,
    ) -> None:
        if not callable(on_event):
            kind = type(on_event).__name__
            raise TypeError(f"on_event must be an async callable taking the event, not {kind}")
        if basic_auth is None and api_key is None:
            raise ValueError(
                "receiver() needs basic_auth=(username, password) or api_key=... (or both): "
                "without credentials anyone who finds the URL could post events"
            )
        self._basic = None if basic_auth is None else _basic_digests(basic_auth)
        self._api_key = None if api_key is None else _api_key_digest(api_key)
        if isinstance(max_body, bool) or not isinstance(max_body, int):
            raise TypeError(f"max_body must be an int (bytes), not {type(max_body).__name__}")
        if max_body < 1:
            raise ValueError(f"max_body must be at least 1 byte, not {max_body}")
        self._max_body = max_body
        self._on_event = on_event
        self._paths = {f"/{feed}": feed for feed in FEEDS}

    def __repr__(self) -> str:
        auth = [
            name
            for name, configured in (("basic_auth", self._basic), ("api_key", self._api_key))
            if configured is not None
        ]
        return f"<Live Push receiver ({' + '.join(auth)}), max_body={self._max_body}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one ASGI connection: HTTP deliveries; lifespan acknowledged."""
        if scope["type"] == "lifespan":
            await acknowledge_lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"the Live Push receiver serves HTTP only, not {scope['type']!r}")
        started = time.perf_counter()
        feed = self._paths.get(_route_path(scope))
        # Stays so if the handling is cancelled or fails before answering.
        status: int | str = "unanswered"
        try:
            status = await self._deliver(feed, scope, receive, send)
        finally:
            # Feed, status and time only: the path of an unknown route is the
            # sender's text and could carry anything, so it is not logged.
            log.info(
                "live push feed=%s status=%s duration=%.3fs",
                feed or "-",
                status,
                time.perf_counter() - started,
            )

    async def _deliver(
        self, feed: str | None, scope: Scope, receive: Receive, send: Send
    ) -> int | str:
        if feed is None:
            return await _respond(send, 404, {"error": "not_found"})
        if scope["method"] != "POST":
            return await _respond(
                send, 405, {"error": "method_not_allowed"}, headers=[(b"allow", b"POST")]
            )
        headers = _headers(scope)
        if not self._authorized(headers):
            # No body: nothing of the request is echoed to whoever sent it.
            challenge = (
                [(b"www-authenticate", f'Basic realm="{REALM}"'.encode())]
                if self._basic is not None
                else []
            )
            return await _respond(send, 401, None, headers=challenge)
        too_large = {"error": "body_too_large"}
        # Refused before reading, so an oversize body is never taken in (and
        # a client that sent `Expect: 100-continue` never sends it).
        if any(
            value.isdigit() and int(value) > self._max_body
            for value in headers.get(b"content-length", ())
        ):
            return await _respond(send, 413, too_large)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The sender left mid-body: no event, no one to answer; it
                # will retry the delivery.
                return "disconnected"
            if message["type"] != "http.request":
                continue
            body += message.get("body", b"")
            # Counted as it arrives: a chunked body has no Content-Length.
            if len(body) > self._max_body:
                return await _respond(send, 413, too_large)
            if not message.get("more_body", False):
                break
        try:
            event = parse_event(feed, bytes(body))
        except PushEventError as exc:
            # The message names the field, never a value from the body.
            log.debug("live push feed=%s invalid event: field=%s", feed, exc.field)
            return await _respond(send, 400, {"error": "invalid_event", "message": str(exc)})
        log.debug("live push feed=%s delivery_key=%s received", feed, event.delivery_key)
        try:
            await self._on_event(event)
        except Exception as exc:
            # The class only: an exception's message may hold member data.
            log.error(
                "live push feed=%s: on_event raised %s; answered 503 so CrowdTwist retries",
                feed,
                type(exc).__qualname__,
            )
            log.debug("live push feed=%s: on_event's traceback", feed, exc_info=True)
            return await _respond(send, 503, {"error": "not_accepted"})
        return await _respond(send, 200, {"status": "accepted"})

    def _authorized(self, headers: Mapping[bytes, list[bytes]]) -> bool:
        # Every configured check runs whatever the others found, and each
        # compares digests in constant time, so timing tells nothing of which
        # part was wrong.
        ok = True
        if self._basic is not None:
            user, password = _basic_credentials(headers.get(b"authorization", []))
            user_ok = hmac.compare_digest(_digest(user or b""), self._basic[0])
            password_ok = hmac.compare_digest(_digest(password or b""), self._basic[1])
            ok = user is not None and password is not None and user_ok and password_ok
        if self._api_key is not None:
            keys = headers.get(b"x-api-key", [])
            key_ok = hmac.compare_digest(_digest(keys[0] if keys else b""), self._api_key)
            ok = ok and len(keys) == 1 and key_ok
        return ok


def receiver(
    on_event: OnEvent,
    *,
    basic_auth: tuple[str, str] | None = None,
    api_key: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> Receiver:
    """An ASGI 3 app taking CrowdTwist's Live Push deliveries: `POST /<feed>` per feed.

    One path for each of the five feeds, answering 200 `{"status":
    "accepted"}` only once `await on_event(event)` has returned.

    At least one of `basic_auth=(username, password)` and `api_key` (what
    CrowdTwist sends in `x-api-key`) is required: a receiver without
    credentials would take events from anyone. Both given, both are
    required. Checks, in order: unknown path 404, method 405, credentials
    401 (compared in constant time, before the body is read), a body over
    `max_body` bytes 413, a body that is not the feed's event 400 naming the
    field. An exception from `on_event` answers 503 so CrowdTwist retries the
    delivery (it may arrive again, the same `delivery_key`: dedupe there).
    Serve it with any ASGI server (uvicorn, hypercorn), mounted under a
    prefix if you like (the scope's `root_path` is honoured).

    Args:
        on_event: an async callable taking the event (`PushEvent`); the
            delivery is answered 200 once it returns, 503 if it raises. A
            `RedisStreamSink` is one.
        basic_auth: `(username, password)` CrowdTwist sends as HTTP Basic
            (the username non-empty, without ':'), or None (the default).
        api_key: the key CrowdTwist sends in `x-api-key` (non-empty, without
            outer whitespace or control characters), or None (the default).
        max_body: the largest body taken, in bytes, at least 1; default
            `DEFAULT_MAX_BODY` (1 MiB). A larger one is answered 413.

    Returns:
        The ASGI app (a `Receiver`).

    Raises:
        ValueError: if neither `basic_auth` nor `api_key` is given, or one of
            them or `max_body` is out of its bounds.
        TypeError: if `on_event` is not callable, or an argument is not of its
            type.

    Example:
        ```python
        async def on_event(event: push.PushEvent) -> None:
            ...  # store it; return only once it is safe

        app = push.receiver(on_event, basic_auth=("crowdtwist", password))
        # uvicorn module:app --host 0.0.0.0 --port 8443 (behind TLS)
        ```
    """
    return Receiver(on_event, basic_auth=basic_auth, api_key=api_key, max_body=max_body)


def _basic_digests(basic_auth: object) -> tuple[bytes, bytes]:
    if not (
        isinstance(basic_auth, tuple)
        and len(basic_auth) == 2
        and all(isinstance(part, str) for part in basic_auth)
    ):
        raise TypeError("basic_auth must be a (username, password) tuple of two str")
    username, password = basic_auth
    if not username:
        raise ValueError("basic_auth's username must not be empty")
    if ":" in username:
        # Basic auth sends "username:password": the first colon ends the name.
        raise ValueError("basic_auth's username must not contain ':'")
    return _digest(username.encode()), _digest(password.encode())


def _api_key_digest(api_key: object) -> bytes:
    if not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, not {type(api_key).__name__}")
    if not api_key:
        raise ValueError("api_key must not be empty")
    if api_key != api_key.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in api_key):
        # A server strips a header value's ends and refuses control
        # characters, so such a key could never match.
        raise ValueError(
            "api_key has leading or trailing whitespace or a control character, "
            "which an HTTP header cannot carry"
        )
    return _digest(api_key.encode())


def _basic_credentials(values: list[bytes]) -> tuple[bytes | None, bytes | None]:
    """The (username, password) of exactly one well-formed `Authorization:
    Basic` header, or (None, None)."""
    if len(values) != 1:
        return None, None
    scheme, space, token = values[0].strip().partition(b" ")
    if not space or scheme.lower() != b"basic":
        return None, None
    try:
        decoded = base64.b64decode(token.strip(b" "), validate=True)
    except binascii.Error:
        return None, None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None, None
    return user, password


def _headers(scope: Scope) -> dict[bytes, list[bytes]]:
    headers: dict[bytes, list[bytes]] = {}
    for name, value in scope.get("headers", ()):
        headers.setdefault(bytes(name).lower(), []).append(bytes(value))
    return headers


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point.

    ASGI servers now put `root_path` at the front of `path` too (uvicorn
    does); older ones did not, so a path without it is taken as it is.
    """
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        below = path[len(root_path) :]
        # "/hooks" is not the mount point of "/hooksuser_activity".
        if not below or below.startswith("/"):
            return below
    return path


async def _respond(
    send: Send,
    status: int,
    payload: Mapping[str, object] | None,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> int:
    body = b"" if payload is None else _json(payload)
    head = [*(headers or []), (b"content-length", str(len(body)).encode())]
    if payload is not None:
        head.append(_JSON)
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
    return status
