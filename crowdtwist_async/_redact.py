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
from collections.abc import Iterable, Iterator, Mapping
from typing import Final
from urllib.parse import quote, quote_plus

from ._exceptions import CUT

MASK: Final = "***"

#: The shortest start of the key masked at the end of cut-short text: fewer
#: characters give nothing away, and would mask ordinary words.
_MIN_CUT_PREFIX: Final = 4

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
    Text cut short with `…` (an excerpt of a body) that ends in the first
    characters of a form has them masked too. Without a key (a session
    signing with an `httpx.Auth`) it masks nothing.
    """

    __slots__ = ("_forms", "_pattern")

    def __init__(self, secret: str | None) -> None:
        self._pattern: re.Pattern[str] | None = None
        self._forms: tuple[str, ...] = ()
        if secret:
            forms = {secret, quote_plus(secret), quote(secret, safe="")}
            # Longest first, so that an encoded form is masked whole rather
            # than around a shorter form found inside it.
            alternatives = sorted(forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)
            self._forms = tuple(form.lower() for form in alternatives)

    def __call__(self, text: str) -> str:
        """*text* with every form of the key replaced by `***`."""
        if self._pattern is None:
            return text
        text = self._pattern.sub(MASK, text)
        if text.endswith(CUT):
            text = self._mask_cut_tail(text)
        return text

    def found_in(self, text: str) -> bool:
        """Whether *text* holds the key in any form."""
        return self._pattern is not None and self._pattern.search(text) is not None

    def _mask_cut_tail(self, text: str) -> str:
        """Mask the start of a form that an excerpt's cut left at its end."""
        head = text[: -len(CUT)]
        for form in self._forms:
            # Longest first: mask as much of the form as the tail holds.
            for length in range(len(form) - 1, _MIN_CUT_PREFIX - 1, -1):
                if head[-length:].lower() == form[:length]:
                    return head[:-length] + MASK + CUT
        return text


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


# One instance for every logger, so that installing it twice is seen. It holds
# nothing, so it is no process state to reset (`_state`).
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


def holds_secret(obj: object, mask: KeyMask) -> bool:
    """Whether *obj* (an exception, say), or anything it holds, shows the key
    in any form, an `api_key=` value or a credential header.

    How `_errors` decides whether an error it builds may keep its cause: the
    chain of an exception is as visible as its message, to code that walks
    it and to every traceback.
    """
    return _holds_secret(obj, mask, set(), 0)


#: How deep `_holds_secret` looks into what an exception holds.
_MAX_DEPTH: Final = 8

_LEAVES: Final = (type(None), bool, int, float, complex, type)


def _holds_secret(obj: object, mask: KeyMask, seen: set[int], depth: int) -> bool:
    """Whether *obj*, or anything it holds, shows the key or a credential."""
    if isinstance(obj, bytes | bytearray):
        obj = bytes(obj).decode("latin-1")
    if isinstance(obj, str):
        return mask.found_in(obj) or mask_query_keys(obj) != obj
    if isinstance(obj, _LEAVES) or id(obj) in seen or depth > _MAX_DEPTH:
        return False
    seen.add(id(obj))
    try:
        shown = repr(obj)
    except Exception:  # a broken repr shows nothing
        shown = ""
    if _holds_secret(shown, mask, seen, depth):
        return True
    return any(_holds_secret(child, mask, seen, depth + 1) for child in _held(obj))


def _held(obj: object) -> Iterator[object]:
    """What *obj* holds: its chain, its items, its attributes."""
    if isinstance(obj, BaseException):
        yield str(obj)
        yield obj.args
        yield obj.__cause__
        yield obj.__context__
        yield getattr(obj, "__notes__", None)
        yield getattr(obj, "exceptions", None)  # an exception group's
    if isinstance(obj, Mapping):
        yield from obj.keys()
        yield from obj.values()
    elif isinstance(obj, list | tuple | set | frozenset):
        yield from obj
    yield from getattr(obj, "__dict__", {}).values()
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name not in ("__dict__", "__weakref__"):
                yield getattr(obj, name, None)
