"""Every exception the SDK raises on purpose.

Wrong arguments are plain `ValueError` / `TypeError`, raised before any request.
Everything that goes wrong while talking to CrowdTwist is a `CrowdTwistError`:

```
CrowdTwistError
├── APIError                  an error response; .status_code, .error, .message
│   ├── AuthenticationError   401/403 or error code "invalid_auth"
│   ├── BadRequestError       any other 4xx
│   ├── NotFoundError         404 or error code "page_not_found" (sent with 400)
│   ├── RateLimitError        429; .retry_after
│   ├── RefusedError          a business rule said no: "insufficient_points", ...
│   └── ServerError           5xx
├── APIConnectionError        the request never got a response
│   ├── APITimeoutError       ... because a timeout expired
│   └── WriteNotConfirmedError  ... after a write was sent: it may have happened
├── IncompleteListingError    a listing ended short of what its page 1 announced
│   └── ListingChangedError   ... because rewards were removed while it was read
├── RateLimiterError          a shared rate limiter (Redis) could not be asked in time
└── ResponseDecodeError       the response was not the JSON shape documented
```

A write (`redeem`, `credit_activity`, `post_json`...) is never sent twice
unless nothing of it reached the server; every error raised for one says
whether it may have been carried out all the same (`.write_unconfirmed`).

No exception carries the API key: messages are built from status codes, the
body's own error fields and a truncated body, never from the request URL.
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CrowdTwistError",
    "IncompleteListingError",
    "ListingChangedError",
    "NotFoundError",
    "RateLimitError",
    "RateLimiterError",
    "RefusedError",
    "ResponseDecodeError",
    "ServerError",
    "WriteNotConfirmedError",
]

#: How much of an unexpected body an exception keeps, in characters.
BODY_EXCERPT_CHARS = 500

#: What marks text cut short.
CUT = "…"


def excerpt(body: str | bytes | None) -> str:
    """Return at most `BODY_EXCERPT_CHARS` of *body* as text, marking a cut."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if len(text) > BODY_EXCERPT_CHARS:
        return text[:BODY_EXCERPT_CHARS] + CUT
    return text


class CrowdTwistError(Exception):
    """Base class of every error the SDK raises while talking to CrowdTwist.

    Catch it to handle any failure of a call to CrowdTwist; its subclasses
    say what went wrong (see the error tree in the guide).

    Attributes:
        message: what went wrong, in words (also `str(exc)`); never holds the
            API key.
        write_unconfirmed: True when the request was a write (a POST) that
            CrowdTwist may have carried out even though this error was raised:
            the request was sent and then the connection dropped or timed
            out, or the server failed (5xx). Check before sending it again
            (e.g. read the redemption history): the SDK never does. False
            for every read, and for a write the server refused or never got.
    """

    write_unconfirmed: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class APIError(CrowdTwistError):
    """CrowdTwist answered with an error response.

    CrowdTwist's documented codes (`"insufficient_points"`,
    `"invalid_reward"`, `"not_issued"`...) are in `error`, as sent.

    Attributes:
        message: the body's human-readable message, or a description of the
            status when the body had none.
        status_code: the HTTP status.
        error: the body's machine-readable code (e.g. `"invalid_auth"`), or
            `None` when the body had none (an HTML 502 page, an empty body).
        request_id: the response's `X-Request-Id` header, when present.
        body: the start of the raw body (at most 500 characters), for diagnosis.
        write_unconfirmed: for a write, whether it may have been carried out
            all the same (a 5xx, or a status that says neither yes nor no).

    Example:
        ```python
        try:
            await session.users.redeem("alice@example.com", id_type="email", reward_id=64)
        except ct.RefusedError as exc:
            print(exc.error, exc.message)  # insufficient_points Not enough points
        ```
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error: str | None = None,
        request_id: str | None = None,
        body: str = "",
        write_unconfirmed: bool = False,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = error
        self.request_id = request_id
        self.body = body
        self.write_unconfirmed = write_unconfirmed

    def __str__(self) -> str:
        code = f" {self.error}" if self.error else ""
        return f"HTTP {self.status_code}{code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, "
            f"error={self.error!r}, message={self.message!r})"
        )


class BadRequestError(APIError):
    """CrowdTwist rejected the request (a 4xx not covered by a subclass).

    Nothing was done: the SDK takes any 4xx as the server's refusal (e.g. a
    400 with a code such as `"invalid_reward"`).

    Attributes:
        message: the body's human-readable message, or the status's description.
        status_code: the HTTP status (a 4xx).
        error: the body's machine-readable code, or None.
        request_id: the response's `X-Request-Id` header, when present.
        body: the start of the raw body, for diagnosis.
        write_unconfirmed: always False: the server refused the request.
    """


class AuthenticationError(APIError):
    """The API key was missing, wrong or not allowed (401, 403, `invalid_auth`).

    Attributes:
        message: the body's human-readable message, or the status's description.
        status_code: the HTTP status (401 or 403, or another with `invalid_auth`).
        error: the body's machine-readable code (`"invalid_auth"`), or None.
        request_id: the response's `X-Request-Id` header, when present.
        body: the start of the raw body, for diagnosis.
        write_unconfirmed: for a write, whether it may have been carried out
            all the same (only when the status was not a 4xx).
    """


class NotFoundError(APIError):
    """The user or resource does not exist (404, or `page_not_found`).

    Attributes:
        message: the body's human-readable message, or the status's description.
        status_code: the HTTP status (404, or the 400 `page_not_found` comes with).
        error: the body's machine-readable code (`"page_not_found"`), or None.
        request_id: the response's `X-Request-Id` header, when present.
        body: the start of the raw body, for diagnosis.
        write_unconfirmed: for a write, whether it may have been carried out
            all the same (only when the status was not a 4xx).
    """


class RateLimitError(APIError):
    """Too many requests (429).

    Raised once the retries are used up, or at once when the server asks
    for a longer wait than `Retries.max_retry_after`. Nothing was done, so a
    write may be sent again (`write_unconfirmed` is False).

    Attributes:
        message: the body's human-readable message, or the status's description.
        status_code: the HTTP status (429).
        error: the body's machine-readable code, or None.
        request_id: the response's `X-Request-Id` header, when present.
        body: the start of the raw body, for diagnosis.
        retry_after: the server's requested wait in seconds (from
            `retry-after-ms` or `Retry-After`), or None when it sent none.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        error: str | None = None,
        request_id: str | None = None,
        body: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            error=error,
            request_id=request_id,
            body=body,
        )
        self.retry_after = retry_after


class RefusedError(APIError):
    """CrowdTwist understood the request and a business rule refused it.

    The member has too few points (`insufficient_points`), has redeemed the
    reward as often as allowed (`over_redeem_limit`), is not in its segment
    (`access_denied`), is too young or asked for more than is left
    (`forbidden`), or the sweepstakes is over (`sweep_entry_over`).

    Chosen by the error code, whatever the status: CrowdTwist sends some of
    these with 403, which would otherwise read as an `AuthenticationError`.
    Nothing was done; `error` and `message` say why.

    Attributes:
        message: the body's human-readable message (e.g. "Not enough points").
        status_code: the HTTP status, whatever it was (some come with 403).
        error: the refusal's code: `"insufficient_points"`,
            `"over_redeem_limit"`, `"access_denied"`, `"forbidden"` or
            `"sweep_entry_over"`.
        request_id: the response's `X-Request-Id` header, when present.
        body: the start of the raw body, for diagnosis.
        write_unconfirmed: for a write, whether it may have been carried out
            all the same (only when the status was not a 4xx).
    """


class ServerError(APIError):
    """CrowdTwist failed on its side (5xx).

    A read answered 500, 502, 503 or 504 was retried first. A write is not
    retried, and its `write_unconfirmed` is then True: the server may have
    carried it out before it failed.

    Attributes:
        message: the body's human-readable message, or the status's description.
        status_code: the HTTP status (a 5xx).
        error: the body's machine-readable code, or None (an HTML error page).
        request_id: the response's `X-Request-Id` header, when present.
        body: the start of the raw body, for diagnosis.
        write_unconfirmed: True for a write (it may have been carried out),
            False for a read.
    """


class APIConnectionError(CrowdTwistError):
    """The request did not get a response: DNS, refused or reset connection, TLS.

    Raised once the retries are used up. For a write, this class itself
    means nothing was sent (the connection was never made); a write that
    may have been sent raises `WriteNotConfirmedError` instead.

    Attributes:
        message: what failed, in words (never the request's URL).
        write_unconfirmed: False, but for a `WriteNotConfirmedError`.
    """


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout expired.

    The limits are the session's `Timeout`; each attempt got fresh ones.

    Attributes:
        message: which timeout expired, in words.
        write_unconfirmed: False: for a write only a connect or pool timeout
            (nothing sent) raises this; a later one raises
            `WriteNotConfirmedError`.
    """


class WriteNotConfirmedError(APIConnectionError):
    """A write was sent, or may have been, and no response came back.

    The connection dropped after the request was written, or a timeout
    expired while it was sent or answered. CrowdTwist may or may not have
    carried it out, so the SDK did not send it again (`write_unconfirmed` is
    True).

    Look before retrying: read the redemption or activity history, or the
    member's points. A write that failed before a connection was made
    (refused, unreachable, a connect timeout) is retried instead, as a 429
    is: those prove nothing was sent.

    Attributes:
        message: what failed, in words (never the request's URL).
        method: the request's method (`"POST"`).
        timed_out: whether a timeout, rather than a dropped connection, ended it.
        write_unconfirmed: always True.
    """

    write_unconfirmed = True

    def __init__(self, message: str, *, method: str, timed_out: bool) -> None:
        super().__init__(message)
        self.method = method
        self.timed_out = timed_out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(method={self.method!r}, timed_out={self.timed_out!r}, "
            f"message={self.message!r})"
        )


class IncompleteListingError(CrowdTwistError):
    """A listing could not be read whole: it ended short of what page 1 announced.

    Page 1's `total` (and `pages`) are a promise the walk checks: an empty
    page, a `no_data` answer or a page of rewards already read, while fewer
    distinct rewards than `total` have been yielded, means a reward would be
    missing without a word. The listing raises this instead, after every
    reward before that page. Reading the listing again usually gives a whole
    one; if it does not, the server (or a cache in front of it) is at fault.

    Attributes:
        message: what was missing, in words.
        page: the page at which the shortfall showed.
        expected_total: the `total` page 1 announced, or None when it gave
            none (then its page count was the promise). For a listing from a
            later `start_page`, what that total leaves from there.
        seen: how many distinct rewards were yielded before this error.
    """

    def __init__(self, message: str, *, page: int, expected_total: int | None, seen: int) -> None:
        super().__init__(message)
        self.page = page
        self.expected_total = expected_total
        self.seen = seen

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(page={self.page!r}, "
            f"expected_total={self.expected_total!r}, seen={self.seen!r})"
        )


class ListingChangedError(IncompleteListingError):
    """The listing shrank while it was being read, so a reward may have been missed.

    Pages are numbered slices of a list the server can change at any time:
    when a reward before page N goes away after page N-1 was read, the first
    reward of page N moves onto page N-1 and no request returns it. The
    `total` a page reports gives this away; rather than end the listing one
    reward short without a word, the listing raises this at page N, after
    everything before it. Reading the listing again gives a consistent one.

    Raised by the listing, not built by callers: its constructor makes the
    message from the numbers.

    Args:
        page: the page whose `total` was lower.
        expected_total: the `total` the listing's first page reported.
        total: the `total` that page reported.
        seen: how many distinct items were yielded before this error (default 0).
        first_page: the listing's first page, named in the message (default 1).
        noun: what the items are called in the message (default `"rewards"`).

    Attributes:
        message: what changed, in words, naming both totals.
        page: the page whose `total` was lower.
        expected_total: the `total` the listing's first page (page 1, or
            its `start_page`) reported.
        total: the `total` that page reported.
        seen: how many distinct rewards (items) were yielded before this error.
    """

    expected_total: int

    def __init__(
        self,
        *,
        page: int,
        expected_total: int,
        total: int,
        seen: int = 0,
        first_page: int = 1,
        noun: str = "rewards",
    ) -> None:
        one = "a reward" if noun == "rewards" else "an item"
        super().__init__(
            f"the listing changed while it was read: page {page} reports {total} {noun}, "
            f"page {first_page} reported {expected_total}; {one} may have been skipped, "
            "read it again",
            page=page,
            expected_total=expected_total,
            seen=seen,
        )
        self.total = total


class RateLimiterError(CrowdTwistError):
    """A shared rate limiter could not say whether a request may start.

    Its store (Redis) was unreachable or did not answer within the timeout.
    The request was not sent. Nothing is retried: the limiter is down for
    every process that shares it, so fall back to a local limit explicitly
    (`Session(rate_limit=<requests per second>)`) or stop.

    Attributes:
        message: what the limiter could not do (Redis's names its key and timeout).
        write_unconfirmed: False: nothing was sent.
    """


class ResponseDecodeError(CrowdTwistError):
    """The response was not the JSON shape the API documents.

    Attributes:
        message: what was wrong with the response, in words.
        status_code: the HTTP status of the response, when there was one.
        body: the start of the raw body (truncated), or "" when not kept.
        field: the dotted path of the offending field in a record, if known.
        record_id: the id of the offending record (reward or coupon), if known.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: str = "",
        field: str | None = None,
        record_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.field = field
        self.record_id = record_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, "
            f"status_code={self.status_code!r}, field={self.field!r}, "
            f"record_id={self.record_id!r})"
        )
