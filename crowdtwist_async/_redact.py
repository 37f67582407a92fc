"""Keeping the API key out of logs, exception messages and tracebacks.

With `auth="query"` the key travels in the URL, and httpx logs every request
URL at INFO on the `httpx` logger. A filter on that logger (and on httpcore's,
the SDK's, and with `http_backend="aiohttp"` each of aiohttp's) masks the
value of any `api_key` query parameter in its records, and of the
`X-CT-Authorization` and `X-CT-User-Token` headers, whoever set them (the
session, an `httpx.Auth`, the application's own client); nothing else of the
application's logging is touched.

A key can come back to us in more than one form: as it is, or percent-encoded
as the URL carried it (`+`, `/` and `=` become `%2B`, `%2F`, `%3D`) when an
error page echoes the request. `KeyMask` finds every form.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from typing import Final
from urllib.parse import quote, quote_plus

from ._exceptions import CrowdTwistError

MASK: Final = "***"

_API_KEY_PARAM: Final = re.compile(r"((?:^|[?&;\s])api_key=)[^&#\s\"']+", re.IGNORECASE)

#: A credential header's value, as a log line may show it: `Name: value`,
#: `'Name': 'value'` (a dict) or `(b'Name', b'value')` (raw header pairs). A
#: quoted value is masked inside its quotes; any other shape (a list, a quote
#: inside the value) to the end of the line, more than needed but never less.
_CREDENTIAL_HEADER: Final = re.compile(
    r"""(?P<head>x-ct-(?:authorization|user-token)['"]?\s*[:=,]\s*b?)"""
    r"""(?:(?P<quote>['"])[^'"\r\n]*(?P=quote)(?=\s*(?:[,)}\]]|$))|[^\r\n]+)""",
    re.IGNORECASE | re.MULTILINE,
)


def _mask_header(match: re.Match[str]) -> str:
    quote = match.group("quote") or ""
    return f"{match.group('head')}{quote}{MASK}{quote}"


#: What the filter looks for before it rewrites a record.
_SECRET_HINTS: Final = ("api_key=", "x-ct-authorization", "x-ct-user-token")


def mask_query_keys(text: str) -> str:
    """Replace the whole value of every `api_key=` query parameter, and of
    every `X-CT-Authorization` and `X-CT-User-Token` header, in *text*."""
    text = _API_KEY_PARAM.sub(rf"\g<1>{MASK}", text)
    return _CREDENTIAL_HEADER.sub(_mask_header, text)


class KeyMask:
    """Masks one key in text, as it is and in its percent-encoded forms.

    The match ignores case, so `%2b` is found as well as `%2B`; a string that
    differs from the key only in case is masked too, which costs nothing.
    Without a key (a session signing with an `httpx.Auth`) it masks nothing.
    """

    __slots__ = ("_pattern",)

    def __init__(self, secret: str | None) -> None:
        self._pattern: re.Pattern[str] | None = None
        if secret:
            forms = {secret, quote_plus(secret), quote(secret, safe="")}
            # Longest first, so that an encoded form is masked whole rather
            # than around a shorter form found inside it.
            alternatives = sorted(forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)

    def __call__(self, text: str) -> str:
        """*text* with every form of the key replaced by `***`."""
        return text if self._pattern is None else self._pattern.sub(MASK, text)

    def found_in(self, text: str) -> bool:
        """Whether *text* holds the key in any form."""
        return self._pattern is not None and self._pattern.search(text) is not None


class _MaskApiKeys(logging.Filter):
    """Rewrites a record's message so no `api_key=` value or credential header survives."""

    def filter(self, record: logging.LogRecord) -> bool:
        texts = [str(record.msg), *map(str, _record_args(record))]
        if any(hint in text.lower() for text in texts for hint in _SECRET_HINTS):
            record.msg = mask_query_keys(record.getMessage())
            record.args = None
        return True


def _record_args(record: logging.LogRecord) -> tuple[object, ...]:
    args = record.args
    if isinstance(args, tuple):
        return args
    return () if args is None else (args,)


_FILTER: Final = _MaskApiKeys()

#: Every logger of the default stack that may see a URL or a header: a
#: logger's filters see only the records logged on it, not its children's.
DEFAULT_LOGGERS: Final = (
    "crowdtwist_async",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)


def log_filter() -> logging.Filter:
    """The filter itself, for a handler that writes other loggers' records too."""
    return _FILTER


def install_log_filter(names: Iterable[str] = DEFAULT_LOGGERS) -> None:
    """Mask api_key values in what the loggers *names* log. Idempotent.

    A logger's filters see only the records logged on it, not its children's:
    name every logger that may log a URL.
    """
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def scrub(exc: CrowdTwistError, mask: KeyMask) -> None:
    """Mask the key in every text *exc* holds, and cut causes that hold it.

    An error page or a record may echo the request URL back, key included,
    into the message, the body, the request id or any other attribute.
    """
    for name, value in vars(exc).items():
        if isinstance(value, str):
            setattr(exc, name, mask(value))
    exc.args = tuple(mask(arg) if isinstance(arg, str) else arg for arg in exc.args)
    if mask.found_in("".join(traceback.format_exception(exc))):
        # The key is in a chained exception we cannot edit: leave it out.
        exc.__cause__ = None
        exc.__suppress_context__ = True
