"""aiohttp under a Session: `Session(http_backend="aiohttp")`.

httpcore spends most of a request's CPU finding a pooled connection and
checking that it is still alive; aiohttp's pool and C parser spend a fraction
of that under concurrency. So do httpx's own Request, Response, URL and cookie
objects, built for every request. `AiohttpTransport.exchange` is the direct
path the Sender takes for every unsigned request: an `_exchange.Outgoing` goes
to aiohttp as it is, and the status, headers and capped, decoded body come
back, with no httpx object in between. The Sender still runs the total
timeout, the slots, retries and key masking, one code path for both stacks.
A signed request (an `httpx.Auth` flow) goes through the session's
`httpx.AsyncClient`, for which this class is also the transport.

What this module owes the Sender: aiohttp's failures come out as httpx's
(a refused connection or a server that hangs up is a `TransportError`, not a
timeout), with no aiohttp exception chained behind them and the key masked in
their text; the response body is a stream whose `aclose()` hands the
connection back at once, even inside a cancelled scope.

asyncio only: aiohttp is built on asyncio's loop. Importing this module
imports aiohttp, so only `Session(http_backend="aiohttp")` imports it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import urllib.request
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Final

import anyio
import httpx

# httpx's own decoders for the Content-Encoding, so that both stacks decode
# (and refuse) the same bodies the same way.
from httpx._decoders import SUPPORTED_DECODERS, ContentDecoder, MultiDecoder

from ._errors import too_large, undecodable
from ._loops import running_library
from ._redact import KeyMask, install_log_filter, mask_query_keys

if TYPE_CHECKING:
    from ._config import Timeout
    from ._exchange import Outgoing, Progress
    from ._retry import Reply

INSTALL_HINT: Final = (
    'http_backend="aiohttp" needs aiohttp: pip install "crowdtwist-async[aiohttp]"'
)

try:
    import aiohttp
    import yarl
except ImportError as exc:
    raise ModuleNotFoundError(INSTALL_HINT, name="aiohttp") from exc

log = logging.getLogger("crowdtwist_async")

#: `asyncio.timeout`, on Pythons that have it (3.11+).
_asyncio_timeout: Final = getattr(asyncio, "timeout", None)

__all__ = ["AIOHTTP_LOGGERS", "INSTALL_HINT", "AiohttpTransport", "check_event_loop"]

#: aiohttp's loggers. A filter on a logger does not see its children's
#: records, so the key filter goes on each of them.
AIOHTTP_LOGGERS: Final = (
    "aiohttp",
    "aiohttp.access",
    "aiohttp.client",
    "aiohttp.internal",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
)

#: How long an idle connection is kept: httpx's keepalive expiry.
KEEPALIVE_EXPIRY: Final = 5.0

#: How long closing may take when the caller is being cancelled (see `aclose`).
CLOSE_TIMEOUT: Final = 5.0

#: Everything aiohttp raises for a failed request. A bare asyncio.TimeoutError
#: is aiohttp's too: the SDK's own timeout is a cancellation until it leaves
#: the Sender's `fail_after`, outside this transport.
_FAILURES: Final = (aiohttp.ClientError, asyncio.TimeoutError)

#: aiohttp's exception -> httpx's, most specific first. The Sender turns
#: httpx.TimeoutException into APITimeoutError and any other
#: httpx.TransportError into APIConnectionError.
_TRANSLATIONS: Final[tuple[tuple[type[BaseException], type[httpx.TransportError]], ...]] = (
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    # Refused, unreachable, a name that does not resolve, a failed TLS handshake.
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    # The server hung up before the response (httpcore: "Server disconnected
    # without sending a response"), cut the body short, or sent something that
    # is not HTTP.
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    # httpx.InvalidURL is not a TransportError: the Sender would let it, and
    # the URL in its text, escape unmasked.
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    # A reset or another socket error on an established connection.
    (aiohttp.ClientConnectionError, httpx.ReadError),
    (asyncio.TimeoutError, httpx.TimeoutException),
    (aiohttp.ClientError, httpx.TransportError),
)


def translate(exc: BaseException, request: httpx.Request | None = None) -> httpx.TransportError:
    """The httpx exception for aiohttp's *exc*, to be raised with no chain.

    aiohttp's text may quote the request URL, `api_key` and all: its value
    is masked here, and the Sender masks the key in every form again.
    """
    kind = next(target for source, target in _TRANSLATIONS if isinstance(exc, source))
    detail = mask_query_keys(str(exc))
    message = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return kind(message, request=request)


def check_event_loop() -> None:
    """Refuse to go on under a running event loop that is not asyncio's."""
    library = running_library()
    if library is not None and library != "asyncio":
        raise RuntimeError(_needs_asyncio(library))


def _needs_asyncio(library: str | None) -> str:
    where = library or "this event loop"
    return (
        f"http_backend='aiohttp' needs asyncio; under {where} use the default http_backend='httpx'"
    )


class _Proxy:
    """Where requests to one origin go: straight there, or through a proxy."""

    __slots__ = ("headers", "url")

    def __init__(self, url: yarl.URL | None, headers: dict[str, str] | None) -> None:
        self.url = url
        self.headers = headers


_DIRECT: Final = _Proxy(None, None)


def _bypasses(no_proxy: str, url: httpx.URL) -> bool:
    """Whether NO_PROXY sends *url* straight to its host, as httpx reads it.

    `*` is every host; `example.com` is that host and its subdomains,
    `.example.com` its subdomains only; `host:port` only that port.
    """
    host = url.raw_host.decode("ascii").lower()
    port = str(url.port or {"http": 80, "https": 443}.get(url.scheme))
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        if entry == "*":
            return True
        if entry and "://" not in entry and _names(entry, host, port):
            return True
    return False


def _names(entry: str, host: str, port: str) -> bool:
    """Whether one NO_PROXY *entry* (lowercase, no scheme) names *host* on *port*."""
    name, wanted = entry, None
    if entry.startswith("["):  # [::1] or [::1]:8080
        name, _, rest = entry[1:].partition("]")
        wanted = rest[1:] or None
    elif entry.count(":") == 1:
        name, wanted = entry.split(":")
    if wanted is not None and wanted != port:
        return False
    if name.startswith("."):
        return host.endswith(name)
    return host == name or host.endswith("." + name)


def _parse_proxy(address: str) -> _Proxy:
    """A proxy URL from the environment, its credentials moved into a header."""
    url = yarl.URL(address if "://" in address else f"http://{address}")
    if url.user is None and url.password is None:
        return _Proxy(url, None)
    # As httpx sends them; aiohttp's own proxy_auth argument is deprecated.
    credentials = f"{url.user or ''}:{url.password or ''}".encode()
    header = "Basic " + base64.b64encode(credentials).decode("ascii")
    return _Proxy(url.with_user(None), {"Proxy-Authorization": header})


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends an httpx client's requests with one `aiohttp.ClientSession`.

    The ClientSession is made on the first request, on the running loop, so
    a Session can be built before any loop runs. HTTP/1.1 only.
    """

    def __init__(self) -> None:
        self._client: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        # httpx does not read proxy settings for a client given a transport:
        # read them here, once, as httpx reads them when a client is made.
        # Not aiohttp's trust_env, which would look them up (and read
        # ~/.netrc) in a worker thread on every request.
        self._proxy_settings = urllib.request.getproxies()
        self._proxies: dict[tuple[str, str, int | None], _Proxy] = {}
        self._last_proxy: tuple[str, _Proxy] | None = None
        self._timeouts: dict[float | None, aiohttp.ClientTimeout] = {}
        #: What the httpx client adds to each request (User-Agent, Accept...),
        #: which `exchange` sends too: set by the Session that owns both,
        #: before its first request makes the aiohttp session.
        self.default_headers: dict[str, str] = {}
        install_log_filter(AIOHTTP_LOGGERS)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send *request*; the response's body is read later, through its stream."""
        client = self._session()
        proxy = self._proxy(request.url)
        timeout = request.extensions.get("timeout", {})
        connect = timeout.get("connect")
        body = await request.aread()
        error: httpx.TransportError | None = None
        # Raised after the except block, so that no aiohttp exception (whose
        # text may hold the URL) rides along as __context__.
        try:
            response = await client.request(
                request.method,
                # As httpx encoded it: requoting could change how the key travels.
                yarl.URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                proxy=proxy.url,
                proxy_headers=proxy.headers,
                # httpx's connect limit covers the name lookup and TLS too: so
                # does aiohttp's `connect`; `sock_connect` bounds each address.
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=connect,
                    sock_connect=connect,
                    sock_read=timeout.get("read"),
                ),
            )
        except _FAILURES as exc:
            error = translate(exc, request)
        if error is not None:
            raise error
        version = response.version
        extensions: dict[str, object] = {
            "http_version": f"HTTP/{version.major}.{version.minor}".encode()
            if version is not None
            else b"HTTP/1.1",
        }
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            extensions=extensions,
        )

    async def exchange(
        self,
        outgoing: Outgoing,
        time_limits: Timeout,
        limit: int,
        mask: KeyMask,
        progress: Progress,
    ) -> Reply:
        """Send *outgoing* straight through aiohttp; the status, headers and body.

        The body is read whole, decoded as its Content-Encoding says and
        refused past *limit* bytes (decoded) before it is all read, all
        within `time_limits.total` (a `TimeoutError` past it). aiohttp's
        failures come out as httpx's, as `handle_async_request`'s do.
        """
        # First: under another event loop this refuses, saying why.
        client = self._session()
        total = time_limits.total
        if _asyncio_timeout is not None:
            # asyncio's own deadline costs a third of anyio's `fail_after`,
            # and this path runs on asyncio alone. It yields to an outer
            # cancellation (an anyio scope's) as `fail_after` does: the
            # task's cancel count tells them apart.
            async with _asyncio_timeout(total):
                return await self._exchange(client, outgoing, time_limits, limit, mask, progress)
        with anyio.fail_after(total):
            return await self._exchange(client, outgoing, time_limits, limit, mask, progress)

    async def _exchange(
        self,
        client: aiohttp.ClientSession,
        outgoing: Outgoing,
        time_limits: Timeout,
        limit: int,
        mask: KeyMask,
        progress: Progress,
    ) -> Reply:
        proxy = self._origin_proxy(outgoing.url)
        error: httpx.TransportError | None = None
        try:
            response = await client.request(
                outgoing.method,
                # Encoded already: requoting could change how the key travels.
                yarl.URL(outgoing.url, encoded=True),
                headers=outgoing.headers,
                data=outgoing.body,
                allow_redirects=False,
                proxy=proxy.url,
                proxy_headers=proxy.headers,
                timeout=self._timeout(time_limits.connect),
            )
        except _FAILURES as exc:
            error = translate(exc)
        if error is not None:
            raise error
        progress.status = response.status
        if log.isEnabledFor(logging.INFO):
            _log_request(outgoing, response)
        try:
            body = await _read_body(response, limit, mask)
        finally:
            # Without an await, as `_Body.aclose`: a body read to its end
            # has handed its connection back already; one cut short (too
            # large, cancelled) is closed.
            response.release()
        return response.status, response.headers, body

    def _timeout(self, connect: float | None) -> aiohttp.ClientTimeout:
        """aiohttp's limit for connecting; `exchange` runs the total around it.

        No read timeout: the total covers every read, and aiohttp would
        otherwise re-arm a timer for each chunk it receives.
        """
        known = self._timeouts.get(connect)
        if known is None:
            known = self._timeouts[connect] = aiohttp.ClientTimeout(
                total=None, connect=connect, sock_connect=connect
            )
        return known

    def _origin_proxy(self, url: str) -> _Proxy:
        """The proxy for *url*: a Session sends to one origin, so this is looked up once."""
        known = self._last_proxy
        if known is not None and url.startswith(known[0]):
            return known[1]
        parsed = httpx.URL(url)
        origin = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}/"
        proxy = self._proxy(parsed)
        self._last_proxy = (origin, proxy)
        return proxy

    async def aclose(self) -> None:
        """Close every connection; the transport cannot be used again."""
        self._closed = True
        client, self._client = self._client, None
        if client is None:
            return
        # Shielded: closing waits for each connection's socket to close, which
        # the caller's own cancellation (a timeout, Ctrl-C) must not cut short.
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
            await client.close()

    def _session(self) -> aiohttp.ClientSession:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        client = self._client
        if client is not None and loop is self._loop:
            return client
        if self._closed:
            raise RuntimeError("the aiohttp transport is closed")
        if loop is None or running_library() != "asyncio":
            raise RuntimeError(_needs_asyncio(running_library()))
        if client is not None:
            raise RuntimeError(
                "this Session's aiohttp connections belong to another event loop: "
                "make a Session on the loop that uses it"
            )
        connector = aiohttp.TCPConnector(
            # No cap: the Session's own limit bounds the requests in flight.
            limit=0,
            limit_per_host=0,
            keepalive_timeout=KEEPALIVE_EXPIRY,
            # httpx's certificates (certifi, or SSL_CERT_FILE / SSL_CERT_DIR),
            # so both stacks trust the same servers.
            ssl=httpx.create_ssl_context(),
        )
        self._client = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),
            # httpx decodes gzip and deflate as the Sender reads, so the body
            # cap counts decoded bytes, as on the httpx stack.
            auto_decompress=False,
            # The httpx client keeps the cookies: aiohttp must not add its own.
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            # Added to each request unless it names them itself, as the httpx
            # client's requests do.
            headers=self.default_headers,
        )
        self._loop = loop
        return self._client

    def _proxy(self, url: httpx.URL) -> _Proxy:
        """The proxy for *url*'s origin, from the settings read at construction."""
        origin = (url.scheme, url.host, url.port)
        known = self._proxies.get(origin)
        if known is not None:
            return known
        settings = self._proxy_settings
        address = settings.get(url.scheme) or settings.get("all")
        if not address or _bypasses(settings.get("no", ""), url):
            proxy = _DIRECT
        else:
            proxy = _parse_proxy(address)
        self._proxies[origin] = proxy
        return proxy


class _Body(httpx.AsyncByteStream):
    """A response body, read from aiohttp as it arrives."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        while True:
            error: httpx.TransportError | None = None
            try:
                chunk = await content.readany()
            except _FAILURES as exc:
                error = translate(exc, self._request)
            if error is not None:
                raise error
            if not chunk:
                return
            yield chunk

    async def aclose(self) -> None:
        # Without an await: inside a cancelled scope (a timeout, a listing
        # abandoned) an await would be cut short and the connection left
        # checked out. A body read to its end goes back to the pool; one cut
        # short is closed.
        self._response.release()


def _log_request(outgoing: Outgoing, response: aiohttp.ClientResponse) -> None:
    """The line httpx logs for each request, which this path does not pass through.

    Its key is masked here already, as the log filters would mask it.
    """
    version = response.version
    protocol = f"HTTP/{version.major}.{version.minor}" if version is not None else "HTTP/1.1"
    log.info(
        'HTTP Request: %s %s "%s %d %s"',
        outgoing.method,
        mask_query_keys(outgoing.url),
        protocol,
        response.status,
        response.reason or "",
    )


async def _read_body(response: aiohttp.ClientResponse, limit: int, mask: KeyMask) -> bytes:
    """The whole body, decoded; refused past *limit* decoded bytes, or when it
    does not decode, as the httpx wire refuses them (`Sender._read_capped`)."""
    status = response.status
    headers = response.headers
    declared = headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large(status, declared + " bytes declared", limit)
    decoder = _decoder(headers.getall("Content-Encoding", []))
    error: httpx.TransportError | None = None
    if decoder is None and declared is not None and declared.isdigit():
        # Framed by its Content-Length, within the cap: read at once.
        try:
            return await response.read()
        except _FAILURES as exc:
            error = translate(exc)
        raise error
    content = response.content
    chunks: list[bytes] = []
    size = 0
    failed: str | None = None
    try:
        while raw := await content.readany():
            chunk = raw if decoder is None else decoder.decode(raw)
            size += len(chunk)
            if size > limit:
                break  # the rest is never read: `release` closes the connection
            chunks.append(chunk)
        if decoder is not None and size <= limit:
            chunk = decoder.flush()
            size += len(chunk)
            chunks.append(chunk)
    except httpx.DecodingError as exc:
        failed = str(exc)
    except _FAILURES as exc:
        error = translate(exc)
    if error is not None:
        raise error
    if failed is not None:
        raise undecodable(status, headers.get("Content-Encoding", ""), failed, mask)
    if size > limit:
        raise too_large(status, f"over {size} bytes", limit)
    return b"".join(chunks)


def _decoder(encodings: list[str]) -> ContentDecoder | None:
    """httpx's decoder for a Content-Encoding, or None for a body sent as it is."""
    decoders = [
        SUPPORTED_DECODERS[name]()
        for value in encodings
        for name in (part.strip().lower() for part in value.split(","))
        if name in SUPPORTED_DECODERS and name != "identity"
    ]
    if not decoders:
        return None
    return decoders[0] if len(decoders) == 1 else MultiDecoder(children=decoders)
