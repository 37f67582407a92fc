"""Where every error of a request is made: whole, masked, and never edited after.

Each builder takes what the error is about (a response, a failure of the
stack below, a body that does not decode, a record that does not fit) and the
session's `KeyMask`, and returns the SDK's error with every text it holds
masked: the API key in every form, `api_key=` values and credential headers.
What it is built from is never chained to it, unless it was checked to hold
no secret (the error a record's structuring raised, kept for diagnosis). The
caller raises the result outside any `except` block, so nothing rides along
as `__context__` either.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Final

import httpx

from ._exceptions import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CrowdTwistError,
    NotFoundError,
    RateLimitError,
    RefusedError,
    ResponseDecodeError,
    ServerError,
    WriteNotConfirmedError,
    excerpt,
)
from ._redact import KeyMask, holds_secret, mask_query_keys
from ._retry import parse_retry_after

__all__ = [
    "NO_KEY",
    "api_error",
    "not_json",
    "record_error",
    "too_large",
    "transport_error",
    "undecodable",
]

#: The mask of a session without a key of its own (an `httpx.Auth` signs):
#: credential headers and `api_key=` values are still masked.
NO_KEY: Final = KeyMask(None)


def _shown(text: str, mask: KeyMask) -> str:
    """*text* from the stack below, fit for an SDK error: every secret masked
    (`api_key=` values and credential headers too), then cut short (an echo
    of the request can be long)."""
    return excerpt(mask(mask_query_keys(text)))


def _body(body: bytes, mask: KeyMask) -> str:
    """The start of a body, as errors keep it: cut short, then masked (the
    mask knows a key cut at the end of an excerpt)."""
    return mask(excerpt(body))


def api_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    code: str | None,
    message: str | None,
    mask: KeyMask,
    write: bool = False,
) -> APIError:
    """The `APIError` subclass for an error response, chosen by code, then status.

    Every text comes from the response, so every text is masked: an error
    page may echo the request URL, key included. For a *write*, any status
    but a 4xx (the server's refusal) leaves open whether it was carried out.
    """
    text = mask(message or _status_phrase(status))
    error = None if code is None else mask(code)
    request_id = headers.get("x-request-id")
    if request_id is not None:
        request_id = mask(request_id)
    kept = _body(body, mask)
    if status == 429:
        return RateLimitError(
            text,
            status_code=status,
            error=error,
            request_id=request_id,
            body=kept,
            retry_after=parse_retry_after(headers),
        )
    return _api_error_class(status, code)(
        text,
        status_code=status,
        error=error,
        request_id=request_id,
        body=kept,
        write_unconfirmed=write and not 400 <= status < 500,
    )


#: Error codes that decide the class whatever the status: a business rule's
#: refusal sent with 403 (the User Redemption page's codes) is not a
#: credentials problem.
_CODE_CLASSES: Final[Mapping[str, type[APIError]]] = {
    "insufficient_points": RefusedError,
    "over_redeem_limit": RefusedError,
    "access_denied": RefusedError,
    "sweep_entry_over": RefusedError,
    "forbidden": RefusedError,
    "invalid_auth": AuthenticationError,
    "page_not_found": NotFoundError,
}


def _api_error_class(status: int, code: str | None) -> type[APIError]:
    by_code = None if code is None else _CODE_CLASSES.get(code)
    if by_code is not None:
        return by_code
    if status in {401, 403}:
        return AuthenticationError
    if code == "page_not_found" or status == 404:
        return NotFoundError
    if 500 <= status < 600:
        return ServerError
    if 400 <= status < 500:
        return BadRequestError
    # A redirect (not followed, so the key never reaches another host) or
    # any other unexpected status.
    return APIError


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unexpected status"


def not_json(status: int, body: bytes, mask: KeyMask) -> ResponseDecodeError:
    """A 2xx body that is not JSON (a proxy's HTML page, a body cut short)."""
    return ResponseDecodeError(
        f"HTTP {status} response is not valid JSON", status_code=status, body=_body(body, mask)
    )


def record_error(
    partial: ResponseDecodeError, status: int, body: bytes, mask: KeyMask
) -> ResponseDecodeError:
    """The error for a response whose JSON did not fit the model, made whole.

    Structuring sees only the JSON, so the error it raised (*partial*) knows
    the field and the record but not the response: this one has all of them,
    masked. *partial*'s own cause (the exception a record's `structure`
    raised) is kept for diagnosis unless it shows a secret.
    """
    error = ResponseDecodeError(
        mask(partial.message),
        status_code=status,
        body=_body(body, mask),
        field=None if partial.field is None else mask(partial.field),
        record_id=None if partial.record_id is None else mask(partial.record_id),
    )
    cause = partial.__cause__
    if cause is not None and not holds_secret(cause, mask):
        error.__cause__ = cause
    return error


def too_large(status: int, detail: str, limit: int) -> ResponseDecodeError:
    """A body over the session's cap (`Limits.max_body_bytes`), not retried."""
    return ResponseDecodeError(
        f"HTTP {status} response body is too large ({detail}; the limit is {limit} bytes)",
        status_code=status,
    )


def undecodable(
    status: int | None, encoding: str | None, detail: str, mask: KeyMask
) -> ResponseDecodeError:
    """A body its Content-Encoding does not describe: a server bug, not retried."""
    where = "response body" if status is None else f"HTTP {status} response body"
    how = "" if encoding is None else f" ({_shown(encoding, mask)})"
    return ResponseDecodeError(
        f"{where} could not be decoded{how}: {_shown(detail, mask)}", status_code=status
    )


#: The failures that prove no byte of the request was written: no connection
#: was made (refused, unreachable, a name that does not resolve, a failed TLS
#: handshake, a connect timeout, a proxy that would not connect), none was
#: free in the pool, or the URL could not be sent at all. The aiohttp
#: transport raises these for aiohttp's own (`_aiohttp._TRANSLATIONS`).
_NOTHING_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)


def transport_error(
    exc: Exception, method: str, path: str, mask: KeyMask, status: int | None
) -> CrowdTwistError | RuntimeError:
    """The SDK's error for a failure of the stack below, holding none of it.

    A timeout, and anything that broke the exchange (a refused or dropped
    connection, a reply that is not HTTP, an exception of a transport or of
    a library below that no mapping foresaw), is retried. A body that does
    not decode is a `ResponseDecodeError`, not retried. A `RuntimeError`
    (a closed client, another event loop) stays one: it is a lifecycle error.

    For a write (any *method* but GET), only a failure that proves nothing was
    sent is retried; any other is a `WriteNotConfirmedError`. A keep-alive
    connection the server had closed fails on the write or the read, after
    bytes may have left: it proves nothing, so it is one too.
    """
    kind = type(exc).__name__
    timed_out = isinstance(exc, httpx.TimeoutException | TimeoutError)
    if isinstance(exc, httpx.DecodingError):
        return undecodable(status, None, str(exc), mask)
    if isinstance(exc, RuntimeError):
        return RuntimeError(_shown(str(exc), mask))
    if method != "GET" and not isinstance(exc, _NOTHING_SENT):
        how = f"timed out ({kind})" if timed_out else f"failed: {kind}: {_shown(str(exc), mask)}"
        return WriteNotConfirmedError(
            f"{method} {path} {how}, after the request was sent or while it was: "
            "CrowdTwist may or may not have carried it out, so it was not sent again; "
            "check (e.g. the member's history) before sending it again",
            method=method,
            timed_out=timed_out,
        )
    if timed_out:
        return APITimeoutError(f"{method} {path} timed out ({kind})")
    return APIConnectionError(f"{method} {path} failed: {kind}: {_shown(str(exc), mask)}")
