"""Keeping the API key out of logs, exception messages and tracebacks.

With `auth="query"` the key travels in the URL, and httpx logs every request
URL at INFO on the `httpx` logger. A filter on that one logger masks the value
of any `api_key` query parameter in its records; nothing else of the
application's logging is touched.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Final

from ._exceptions import APIError, CrowdTwistError, ResponseDecodeError

MASK: Final = "***"

_API_KEY_PARAM: Final = re.compile(r"((?:^|[?&;\s])api_key=)[^&#\s\"']+", re.IGNORECASE)


def mask_query_keys(text: str) -> str:
    """Replace the value of every `api_key=` query parameter in *text*."""
    return _API_KEY_PARAM.sub(rf"\g<1>{MASK}", text)


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


def install_log_filter() -> None:
    """Mask api_key values in what httpx logs. Idempotent."""
    logger = logging.getLogger("httpx")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


def scrub(exc: CrowdTwistError, secret: str) -> None:
    """Remove *secret* from *exc*'s text, and its causes from its traceback if needed.

    An error page or a record may echo the request URL back, key included.
    """
    exc.message = exc.message.replace(secret, MASK)
    exc.args = tuple(a.replace(secret, MASK) if isinstance(a, str) else a for a in exc.args)
    if isinstance(exc, APIError | ResponseDecodeError):
        exc.body = exc.body.replace(secret, MASK)
    if secret in "".join(traceback.format_exception(exc)):
        # The key is in a chained exception we cannot edit: leave it out.
        exc.__cause__ = None
        exc.__suppress_context__ = True
