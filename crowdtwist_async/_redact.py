"""Keeping the API key out of logs, exception messages and tracebacks.

With `auth="query"` the key travels in the URL, and httpx logs every request
URL at INFO on the `httpx` logger. A filter on that logger (and, with
`http_backend="aiohttp"`, on each of aiohttp's) masks the value of any
`api_key` query parameter in its records; nothing else of the application's
logging is touched.

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


def mask_query_keys(text: str) -> str:
    """Replace the whole value of every `api_key=` query parameter in *text*."""
    return _API_KEY_PARAM.sub(rf"\g<1>{MASK}", text)


class KeyMask:
    """Masks one key in text, as it is and in its percent-encoded forms.

    The match ignores case, so `%2b` is found as well as `%2B`; a string that
    differs from the key only in case is masked too, which costs nothing.
    """

    __slots__ = ("_pattern",)

    def __init__(self, secret: str) -> None:
        forms = {secret, quote_plus(secret), quote(secret, safe="")}
        # Longest first, so that an encoded form is masked whole rather than
        # around a shorter form found inside it.
        alternatives = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)

    def __call__(self, text: str) -> str:
        """*text* with every form of the key replaced by `***`."""
        return self._pattern.sub(MASK, text)

    def found_in(self, text: str) -> bool:
        """Whether *text* holds the key in any form."""
        return self._pattern.search(text) is not None


class _MaskApiKeys(logging.Filter):
    """Rewrites a record's message so no `api_key=` value survives."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "api_key=" in str(record.msg) or any(
            "api_key=" in str(arg) for arg in _record_args(record)
        ):
            record.msg = mask_query_keys(record.getMessage())
            record.args = None
        return True


def _record_args(record: logging.LogRecord) -> tuple[object, ...]:
    args = record.args
    if isinstance(args, tuple):
        return args
    return () if args is None else (args,)


_FILTER: Final = _MaskApiKeys()


def install_log_filter(names: Iterable[str] = ("httpx",)) -> None:
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
