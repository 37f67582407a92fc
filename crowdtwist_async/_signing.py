"""Signing requests with CrowdTwist's HMAC scheme (`CTApiV2Auth`).

CrowdTwist's HMAC Authentication page names the headers
(`X-CT-Authorization: CTApiV2Auth <public key>:<signature>`, `X-CT-Timestamp`,
`Content-Type: application/json` on POST and PUT) but the steps that make the
signature survive only in a working third-party signer (Google's Apigee
mediation sample, which signs with the sample keys of CrowdTwist's page):

    StringToSign = METHOD + "\\n"
                 + lower-hex MD5 of the body ("" for GET and DELETE) + "\\n"
                 + Content-Type as sent ("" for GET and DELETE) + "\\n"
                 + timestamp + "\\n"
                 + RequestURI (path and query, exactly as sent)
    signature    = Base64(lower-hex(HMAC-SHA256(private key, StringToSign)))

The page leaves two steps open; each default follows the docs' own examples
and the alternative is an option of `CTApiV2Auth`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Generator
from typing import Final, Literal, NoReturn, SupportsIndex

import httpx

__all__ = ["CTApiV2Auth", "SignatureEncoding", "TimestampUnit", "sign", "string_to_sign"]

TimestampUnit = Literal["ms", "s"]
SignatureEncoding = Literal["hex-base64", "base64"]

_TIMESTAMP_UNITS: Final = ("ms", "s")
_SIGNATURE_ENCODINGS: Final = ("hex-base64", "base64")

#: What the page requires of a POST or PUT (PATCH is written the same way).
_JSON: Final = "application/json"

#: Methods whose MD5 and Content-Type lines are left empty, as the signer's
#: README says of GET and DELETE ("omit the Content MD5 and content-type
#: header but keep the newlines"); HEAD and OPTIONS carry no body either.
_BODYLESS: Final = frozenset({"GET", "DELETE", "HEAD", "OPTIONS"})

#: The most of the public key a repr shows. The public key is an identifier,
#: not a secret, but a prefix is enough to tell two programs' signers apart.
_SHOWN_PREFIX: Final = 4


def string_to_sign(
    method: str,
    body: bytes | None,
    content_type: str | None,
    timestamp: str,
    request_uri: str,
) -> str:
    """The text CrowdTwist's HMAC signature covers.

    *body* None means no MD5 at all (an empty line); `b""` is hashed like any
    other body. *content_type* None is an empty line too. *request_uri* is the
    path and query exactly as they travel (`/v2/users/alice%40x.com?id_type=email`).

    ```pycon
    >>> string_to_sign("GET", None, None, "1505325876486", "/v2/users/1?id_type=id")
    'GET\\n\\n\\n1505325876486\\n/v2/users/1?id_type=id'

    ```
    """
    digest = "" if body is None else hashlib.md5(body, usedforsecurity=False).hexdigest()
    return "\n".join((method, digest, content_type or "", timestamp, request_uri))


def sign(
    private_key: str | bytes,
    text: str,
    encoding: SignatureEncoding = "hex-base64",
) -> str:
    """The signature of *text* (a `string_to_sign`) under *private_key*.

    `"hex-base64"` (the default) Base64-encodes the lower-case hex text of the
    HMAC-SHA256 digest, as the working signer does (always 88 characters);
    `"base64"` Base64-encodes the raw digest (44 characters).
    """
    key = private_key.encode() if isinstance(private_key, str) else private_key
    return _encode(hmac.new(key, text.encode(), hashlib.sha256), encoding)


def _encode(mac: hmac.HMAC, encoding: SignatureEncoding) -> str:
    raw = mac.hexdigest().encode("ascii") if encoding == "hex-base64" else mac.digest()
    return base64.b64encode(raw).decode("ascii")


class CTApiV2Auth(httpx.Auth):
    """Signs every request with CrowdTwist's HMAC scheme.

    Each request gets `X-CT-Timestamp` (now) and `X-CT-Authorization:
    CTApiV2Auth <public key>:<signature>`, made anew every time the request is
    sent, so that each retry carries a fresh timestamp (CrowdTwist refuses one
    more than 15 minutes off). A POST, PUT or PATCH without a `Content-Type`
    gets `application/json`, as the page requires; the signature covers that
    header and the body bytes exactly as they are sent. A GET or DELETE signs
    empty MD5 and Content-Type lines and gets no `Content-Type`.

    Give it to a `Session` in place of an API key (the session then sends no
    `api_key`), or to any `httpx.AsyncClient`/`httpx.Client` as `auth=`.
    It cannot be pickled or copied (it holds the private key): make another.

    Args:
        public_key: the program's public HMAC key (the key identifier).
        private_key: the private HMAC key (the secret). Neither key is ever
            shown by `repr()` or in an error; only the first 4 characters
            of the public key appear in the repr.
        timestamp_unit: `"ms"` (default) sends milliseconds since the epoch
            (to the nearest one), 13 digits, as every example on
            CrowdTwist's pages does; `"s"` sends whole seconds, as the Apigee
            signer does.
        signature_encoding: `"hex-base64"` (default) Base64-encodes the hex
            text of the HMAC-SHA256 digest, as the working signer does;
            `"base64"` Base64-encodes the raw digest, as one transcription of
            the page reads it.
        clock: for tests: returns the time in seconds since the epoch
            (default `time.time`).

    Raises:
        TypeError: if an argument is not of its type (a key not a str, a
            clock not callable), naming it.
        ValueError: if an argument is out of its bounds (an empty key, a
            public key with a space or `:`, an unknown unit or encoding),
            naming it.

    Example:
        ```python
        auth = ct.CTApiV2Auth("PUBLIC", "PRIVATE")
        async with ct.Session(client_id=123, auth=auth) as session: ...
        ```
    """

    requires_request_body = True  # a streamed body is read before it is hashed

    __slots__ = ("_clock", "_encoding", "_mac", "_public_key", "_unit")

    def __init__(
        self,
        public_key: str,
        private_key: str,
        *,
        timestamp_unit: TimestampUnit = "ms",
        signature_encoding: SignatureEncoding = "hex-base64",
        clock: Callable[[], float] | None = None,
    ) -> None:
        public_key = _check_public_key(public_key)
        private_key = _key_text("private_key", private_key)
        if timestamp_unit not in _TIMESTAMP_UNITS:
            raise ValueError(f"timestamp_unit must be 'ms' or 's', got {timestamp_unit!r}")
        if signature_encoding not in _SIGNATURE_ENCODINGS:
            raise ValueError(
                f"signature_encoding must be 'hex-base64' or 'base64', got {signature_encoding!r}"
            )
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be callable or None, got {type(clock).__name__}")
        self._public_key = public_key
        # Only the keyed MAC is kept (copied for each request), not the text
        # of the private key.
        self._mac = hmac.new(private_key.encode(), digestmod=hashlib.sha256)
        self._unit: TimestampUnit = timestamp_unit
        self._encoding: SignatureEncoding = signature_encoding
        self._clock: Callable[[], float] = time.time if clock is None else clock

    def __repr__(self) -> str:
        key = self._public_key
        shown = f"{key[:_SHOWN_PREFIX]}…" if len(key) > 2 * _SHOWN_PREFIX else "***"
        return (
            f"CTApiV2Auth(public_key={shown!r}, private_key='***', "
            f"timestamp_unit={self._unit!r}, signature_encoding={self._encoding!r})"
        )

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        # A pickle (or deep copy) would carry the private key off into a
        # cache or a file; make a new signer from the keys instead.
        raise TypeError("a CTApiV2Auth cannot be pickled or copied: it holds a private key")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign *request* (now) and send it.

        httpx calls it each time a request is sent with this auth (a
        Session's retries included), so every attempt gets a fresh timestamp.

        Args:
            request: the request to sign; its headers are set in place.

        Yields:
            The request, signed, once.

        Raises:
            ValueError: if a GET or DELETE (or HEAD, OPTIONS) request carries
                a body: the scheme leaves such a body out of the signature.
        """
        method = request.method.upper()
        if method in _BODYLESS:
            if request.content:
                raise ValueError(
                    f"CTApiV2Auth cannot sign a {method} request with a body: "
                    "CrowdTwist's signature leaves a GET's or DELETE's body out"
                )
            body: bytes | None = None
            content_type: str | None = None
        else:
            body = request.content
            content_type = request.headers.get("Content-Type")
            if content_type is None:
                content_type = _JSON
                request.headers["Content-Type"] = _JSON
        timestamp = self._timestamp()
        text = string_to_sign(
            method, body, content_type, timestamp, request.url.raw_path.decode("ascii")
        )
        mac = self._mac.copy()
        mac.update(text.encode())
        request.headers["X-CT-Timestamp"] = timestamp
        request.headers["X-CT-Authorization"] = (
            f"CTApiV2Auth {self._public_key}:{_encode(mac, self._encoding)}"
        )
        yield request

    def _timestamp(self) -> str:
        # Rounded, not truncated: a float cannot hold most millisecond
        # instants exactly (x.486 s may be x.48599... s).
        millis = round(self._clock() * 1000)
        return str(millis if self._unit == "ms" else millis // 1000)


def _key_text(name: str, key: object) -> str:
    # The messages name the argument and its type, never its value.
    if not isinstance(key, str):
        raise TypeError(f"{name} must be a str, got {type(key).__name__}")
    if not key:
        raise ValueError(f"{name} must not be empty")
    return key


def _check_public_key(value: object) -> str:
    key = _key_text("public_key", value)
    # It travels as `CTApiV2Auth <public>:<signature>` in a header, which the
    # server splits on the first space and the first colon.
    if not key.isascii() or not key.isprintable() or " " in key or ":" in key:
        raise ValueError(
            "public_key must be printable ASCII without spaces or ':' "
            "(it travels in the X-CT-Authorization header)"
        )
    return key
