"""The pure part of talking to CrowdTwist: no I/O, no awaits.

Everything here turns plain values into plain values (a URL, a decoded body,
an exception to raise), so it is tested with parametrized cases and the
network adapter in `_attempt.py` stays small.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Final

import httpx

from ._errors import NO_KEY, api_error, not_json
from ._models import IdType
from ._redact import KeyMask
from ._state import STATE

#: Error codes that mean "the listing is empty", not "the request failed".
EMPTY_LISTING_CODES: Final = frozenset({"no_data", "no_activities"})

#: `mobile_phone_number` is documented for the rewards endpoint only.
COUPON_ID_TYPES: Final = frozenset(IdType) - {IdType.MOBILE_PHONE_NUMBER}

MAX_PAGE_SIZE: Final = 10

_ENVIRONMENT_RE: Final = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*-?")
_CLIENT_ID_RE: Final = re.compile(r"[A-Za-z0-9]+")


class EmptyListing:
    """What `decode_response` returns for `no_data` / `no_activities`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "EMPTY_LISTING"


EMPTY_LISTING: Final = EmptyListing()


# --- Building requests -------------------------------------------------------


def build_base_url(environment: str, client_id: str | int) -> str:
    """Build the documented `https://[environment]api[client_id].crowdtwist.com`.

    `environment` is a prefix such as `"sb-"`, `"sb2-"`, `"de-"`; `""` is
    production. A prefix given without its trailing dash gets one.
    """
    client = str(client_id)
    if not _CLIENT_ID_RE.fullmatch(client):
        raise ValueError(f"client_id must be letters and digits, got {client!r}")
    env = environment.strip().lower()
    if env and not _ENVIRONMENT_RE.fullmatch(env):
        raise ValueError(
            f"environment must be a host prefix such as 'sb-' or 'de-', got {environment!r}"
        )
    if env and not env.endswith("-"):
        env += "-"
    return f"https://{env}api{client}.crowdtwist.com"


def normalize_base_url(base_url: str) -> str:
    """Check *base_url* and return it without a trailing slash.

    It must be https; plain http is allowed only for literal loopback hosts,
    where tests and local fakes run. A query or fragment would be sent with
    every request, so it is refused too. Whitespace around it is cut; a
    control character or whitespace inside it is refused, as are a bracketed
    host that is no IPv6 address and a port that is not digits, so that every
    Python from 3.10 on (whose `urllib.parse` drops or refuses such things
    differently from release to release) reads the same URL. An error never
    repeats the URL beyond its scheme, host and port: what follows may hold
    a secret.
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a str, got {type(base_url).__name__}")
    text = base_url.strip()
    blank = _URL_BLANK.search(text)
    if blank is not None:
        raise ValueError(
            "base_url must not hold a control character or whitespace: "
            f"{blank.group()!r} at index {blank.start()}"
        )
    parts, hostname, port = _split_base_url(text)
    shown = f"{parts.scheme}://{hostname if ':' not in hostname else f'[{hostname}]'}"
    shown += f":{port}" if port is not None else ""
    if parts.scheme == "http" and not is_literal_loopback(hostname):
        raise ValueError(
            "base_url must use https (plain http is allowed only for 127.0.0.1, ::1 "
            f"and localhost), got {shown!r}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            f"base_url must not carry credentials, a query or a fragment (for {shown!r})"
        )
    normalized = urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, parts.path.rstrip("/"), "", "")
    )
    try:
        # httpx reads hosts more strictly (IDNA, `127.0.0.01`): its refusal
        # would only come when the Session is made, and may quote the URL.
        httpx.URL(normalized)
    except httpx.InvalidURL:
        raise ValueError(
            f"base_url has a host or port that httpx cannot use, got {shown!r}"
        ) from None
    return normalized


def _split_base_url(text: str) -> tuple[urllib.parse.SplitResult, str, int | None]:
    """*text*'s parts, host and port, or a ValueError that does not quote it."""
    parts: urllib.parse.SplitResult | None
    try:
        # Not urlsplit's own errors: they may quote the URL, credentials included.
        parts = urllib.parse.urlsplit(text)
        hostname, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number, brackets that do not pair...
        parts, hostname, port = None, None, None
    if (
        parts is None
        or not hostname
        or parts.scheme not in {"http", "https"}
        or not _readable_host_and_port(parts.netloc)
    ):
        raise ValueError(
            "base_url must be an absolute https URL such as https://api123.crowdtwist.com"
        )
    return parts, hostname, port


#: What a base URL may not hold: the control characters (C0, DEL, C1) and
#: Unicode's White_Space characters, spelled out so that no Python's Unicode
#: tables change the answer.
_URL_BLANK: Final = re.compile(
    "[\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)

#: The host and port after any user info: a name or IPv4 address without
#: brackets, or brackets around what must be an IPv6 address, then digits.
_HOST_AND_PORT: Final = re.compile(r"(?:\[(?P<ipv6>[^\[\]]*)\]|[^\[\]:]*)(?::[0-9]*)?")


def _readable_host_and_port(netloc: str) -> bool:
    # Python 3.11.4+ refuses `[evil.com]` while splitting, and checks the
    # first brackets wherever they are; 3.10 reads a host `evil.com` from
    # it. Neither here: brackets hold an IPv6 host, and nothing else.
    userinfo, _, host_and_port = netloc.rpartition("@")
    match = _HOST_AND_PORT.fullmatch(host_and_port)
    if match is None or "[" in userinfo or "]" in userinfo:
        return False
    if match["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(match["ipv6"])
        except ValueError:
            return False
    return True


def is_literal_loopback(host: str) -> bool:
    """Whether *host* is this machine without asking a resolver: an address in
    127.0.0.0/8, ::1, the IPv4-mapped form of a 127.0.0.0/8 address
    (`::ffff:127.0.0.1`), or the name `localhost` itself.

    `127.evil.com`, `127.0.0.1.attacker.example` and `foo.localhost` are names
    that a resolver (or whoever controls it) could send anywhere.
    """
    host = host.lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    # A socket to ::ffff:127.0.0.1 reaches 127.0.0.1. Python 3.13 reads a
    # mapped address as the IPv4 one it maps, 3.10 to 3.12 do not: map it
    # here so that every version answers alike.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def check_api_key(key: str, auth: str) -> None:
    """Refuse a key that cannot travel, naming why but never showing it.

    Control characters could split a header or a log line. In the
    `X-CT-Authorization` header only visible ASCII can travel; in the query
    anything else is percent-encoded.
    """
    if any(unicodedata.category(char) == "Cc" for char in key):
        raise ValueError(
            "api_key contains a control character (a line break, a tab or the like); "
            "check how it was read"
        )
    if auth == "header" and not all("!" <= char <= "~" for char in key):
        raise ValueError(
            "api_key must be visible ASCII (no spaces) to travel in the X-CT-Authorization "
            'header; use auth="query" for this key'
        )


def encode_user_id(user_id: str | int) -> str:
    """Percent-encode *user_id* as exactly one path segment.

    Slashes, `?`, `#` and `+` are encoded; a whole `.` or `..` segment is
    encoded too, since URL normalisation would otherwise resolve it.
    """
    if isinstance(user_id, bool) or not isinstance(user_id, str | int):
        raise TypeError(f"user_id must be a str or int, got {type(user_id).__name__}")
    text = str(user_id)
    if not text.strip():
        raise ValueError("user_id must not be empty")
    segment = urllib.parse.quote(text, safe="@")
    if segment in {".", ".."}:
        segment = segment.replace(".", "%2E")
    return segment


def check_id_type(id_type: IdType | str | None, allowed: frozenset[IdType]) -> str | None:
    """Return the wire value of *id_type*, or raise ValueError naming the choices."""
    if id_type is None:
        return None
    try:
        member = IdType(id_type)
    except ValueError:
        member = None
    if member is None or member not in allowed:
        choices = ", ".join(sorted(m.value for m in allowed))
        raise ValueError(f"id_type must be one of {choices}; got {id_type!r}")
    return member.value


def check_path(path: object) -> str:
    """Return *path* if it can follow the base URL as it is; raise ValueError naming why.

    It must start with `/`, be no absolute or protocol-relative (`//host`)
    URL, carry no query or fragment (parameters go in `params=`) and no dot
    segment, and be percent-encoded already: a user id in it is quoted as
    one segment (`urllib.parse.quote(user_id, safe="")`). A dot segment is
    one that is `.` or `..` once percent-decoded, alone or before a `;`
    (`%2e%2e`, `.%2E`, `..;x=1`): servers and proxies that decode, or cut
    path parameters, before they resolve dot segments would send the request
    somewhere else. (The endpoints of `session.users` build their own paths:
    they do not come here, and a user id `..` travels as `%2E%2E`.)
    """
    if not isinstance(path, str):
        raise TypeError(f"path must be a str, got {type(path).__name__}")
    shown = repr(path) if len(path) <= 80 else repr(path[:80]) + "..."
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(
            f"path must start with a single '/' and follow the session's base URL, "
            f"e.g. '/v2/users/1001/points'; got {shown}"
        )
    bad = _PATH_REFUSED.search(path)
    if bad is not None:
        char = bad.group()
        if char in "?#":
            raise ValueError(f"path must not hold {char!r}: pass query parameters as params=")
        raise ValueError(
            f"path must be percent-encoded: {char!r} at index {bad.start()} "
            "(quote each segment with urllib.parse.quote(value, safe=''))"
        )
    if any(_is_dot_segment(segment) for segment in path.split("/")):
        raise ValueError(
            "path must not have a '.' or '..' segment, percent-encoded or not, alone or "
            f"before ';' (a server may resolve it); got {shown}"
        )
    return path


def _is_dot_segment(segment: str) -> bool:
    # Decoded before it is cut at `;`, so `..%3B` counts as `..;` does.
    return urllib.parse.unquote(segment).partition(";")[0] in {".", ".."}


#: What a percent-encoded path may hold: RFC 3986's `pchar`s and `/`, and `%`
#: only to start an escape.
_PATH_REFUSED: Final = re.compile(r"%(?![0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]")


def query_params(params: object, *, reserved: frozenset[str]) -> dict[str, str]:
    """Check a caller's query parameters and return them as strings.

    Values may be str, int or bool (bools go as `true`/`false`); names in
    *reserved* are the session's own to send.
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of names to values, got {type(params).__name__}")
    query: dict[str, str] = {}
    for name, value in params.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"params names must be non-empty str, got {name!r}")
        if name in reserved:
            raise ValueError(_RESERVED_WHY.get(name, f"params must not set {name!r}"))
        if isinstance(value, bool):
            query[name] = "true" if value else "false"
        elif isinstance(value, int | str):
            query[name] = str(value)
        else:
            raise TypeError(
                f"params[{name!r}] must be a str, int or bool, got {type(value).__name__}"
            )
    return query


_RESERVED_WHY: Final = {
    "api_key": "params must not set 'api_key': the session sends its own credentials",
    "page": "params must not set 'page': the listing asks for each page (use start_page=)",
    "page_size": "params must not set 'page_size': pass page_size= to the listing",
}


def check_int(name: str, value: object, *, low: int, high: int | None = None) -> int:
    """Return *value* if it is an int within [low, high]; raise naming *name* otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


# --- Decoding responses ------------------------------------------------------


def decode_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    listing: bool = True,
    mask: KeyMask = NO_KEY,
    write: bool = False,
) -> object:
    """Turn a response into its decoded JSON, `EMPTY_LISTING`, or an exception.

    Raises the `APIError` subclass for an error status (or a 2xx whose body is
    an error envelope), `ResponseDecodeError` for a 2xx body that is not JSON,
    each made whole by `_errors`, with *mask* applied (for a *write*, saying
    whether it may have been carried out all the same). `no_data` and
    `no_activities` are `EMPTY_LISTING` only for a *listing*; for any other
    call they are the errors they say they are.
    """
    data = _try_json(body)
    if 200 <= status < 300:
        if data is _NOT_JSON:
            raise not_json(status, body, mask)
        if not _is_error_envelope(data):
            return data
    code, message = _error_fields(data)
    if listing and code in EMPTY_LISTING_CODES and status < 500:
        return EMPTY_LISTING
    raise api_error(status, headers, body, code=code, message=message, mask=mask, write=write)


def says_empty_listing(status: int, body: bytes) -> bool:
    """Whether an error response is the API's "nothing to list" (`no_data`,
    `no_activities`), which `decode_response` gives a listing as `EMPTY_LISTING`."""
    return status < 500 and _error_fields(_try_json(body))[0] in EMPTY_LISTING_CODES


def loads_strict(body: bytes | str) -> object:
    """Decode JSON as RFC 8259 defines it: `NaN` and `Infinity` are not JSON.

    Python's `json` accepts them (and turns `1e400` into infinity), and they
    would come out of `json.dumps` again as text no other JSON reader takes.
    With orjson installed (the `orjson` extra) it decodes first, about 2.5
    times faster. orjson refuses more than `json` (a byte order mark, other
    encodings than UTF-8), and those bodies go to `json`; it reads an integer
    past 64 bits as a float, so a body with a run of 19 digits goes to `json`
    too. Both accept the same bodies and give the same values.
    """
    fast = STATE.loads
    if fast is None:
        fast = _choose_loads()
    if fast is not _stdlib_loads:
        text = body.encode() if isinstance(body, str) else body
        if _LONG_NUMBER not in text.translate(_DIGITS):
            try:
                return fast(body)
            except ValueError:  # orjson.JSONDecodeError is a ValueError
                pass
    return _stdlib_loads(body)


# Every digit becomes "9" and everything else "x": a run of 19 nines is
# then a number that may not fit in 64 bits. (Faster than any regex here.)
_DIGITS: Final = bytes(0x39 if 0x30 <= byte <= 0x39 else 0x78 for byte in range(256))
_LONG_NUMBER: Final = b"9" * 19


def _stdlib_loads(body: bytes | str) -> object:
    return json.loads(body, parse_constant=_refuse_constant, parse_float=_finite_float)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a JSON number")
    return value


def _choose_loads() -> Callable[[bytes | str], object]:
    """orjson's `loads` when it is installed, else json's: looked up on first
    use, and again after `reset_process_state`."""
    try:
        import orjson  # imported only when a body is decoded
    except ImportError:
        loads: Callable[[bytes | str], object] = _stdlib_loads
    else:
        loads = orjson.loads
    STATE.loads = loads
    return loads


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


#: What `_try_json` returns for a body that is not JSON (None is JSON's null).
_NOT_JSON: Final = object()


def _try_json(body: bytes) -> object:
    try:
        return loads_strict(body)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _is_error_envelope(data: object) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("error"), str)
        and "paging" not in data
        and "rewards" not in data
    )


def _error_fields(data: object) -> tuple[str | None, str | None]:
    if not isinstance(data, dict):
        return None, None
    code, message = data.get("error"), data.get("message")
    return (
        code if isinstance(code, str) and code else None,
        message if isinstance(message, str) and message else None,
    )
