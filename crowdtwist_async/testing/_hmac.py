"""The fake's check of CrowdTwist's HMAC signature (`CTApiV2Auth`).

Written from the spec's steps, not from the SDK's signer
(`crowdtwist_async._signing`): the two are tested against each other, and a
mistake shared by both would pass unseen. The steps, as the working
third-party signer and verifier take them:

    StringToSign = METHOD + "\\n"
                 + lower-hex MD5 of the body ("" when there is none) + "\\n"
                 + Content-Type as received ("" when there is none) + "\\n"
                 + X-CT-Timestamp as received + "\\n"
                 + path and query as received
    signature    = Base64(lower-hex(HMAC-SHA256(private key, StringToSign)))

sent as `X-CT-Authorization: CTApiV2Auth <public key>:<signature>`, with an
`X-CT-Timestamp` (milliseconds since the epoch, as the page's examples are;
seconds are taken too) within 15 minutes of the server's clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Final

__all__ = ["WINDOW_MS", "refusal", "signature", "string_to_sign", "unix_ms"]

#: How far (either way) a timestamp may be from the server's clock.
WINDOW_MS: Final = 15 * 60 * 1000

_SCHEME: Final = "ctapiv2auth"
#: 13 digits: milliseconds (the page's examples); 10: seconds (the Apigee signer's).
_TIMESTAMP: Final = re.compile(r"[0-9]{13}|[0-9]{10}", re.ASCII)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS: Final = timedelta(milliseconds=1)
#: What an empty body hashes to: a signer may hash a POST's empty body
#: rather than leave the line empty (the page does not say which).
_EMPTY_MD5: Final = hashlib.md5(b"", usedforsecurity=False).hexdigest()

MISSING: Final = (
    "HMAC headers are required: X-CT-Authorization: CTApiV2Auth <public key>:<signature> "
    "and X-CT-Timestamp."
)
MALFORMED: Final = "X-CT-Authorization must be CTApiV2Auth <public key>:<signature>."
NO_TIMESTAMP: Final = "The X-CT-Timestamp header is missing."
UNKNOWN_KEY: Final = "The HMAC public key is not known."
UNREADABLE: Final = (
    "X-CT-Timestamp must be a UNIX timestamp in milliseconds (13 digits) or seconds (10 digits)."
)
STALE: Final = "X-CT-Timestamp is more than 15 minutes from the current time."
MISMATCH: Final = "The HMAC signature does not match the request."


def unix_ms(moment: datetime) -> int:
    """*moment* (timezone-aware) in whole milliseconds since the epoch, exactly
    (`timestamp() * 1000` may round a millisecond away)."""
    return (moment - _EPOCH) // _MS


def string_to_sign(
    method: str, content_md5: str, content_type: str, timestamp: str, uri: str
) -> str:
    """The text a signature covers; *uri* is the path and query as sent."""
    return "\n".join((method, content_md5, content_type, timestamp, uri))


def signature(private_key: str, text: str) -> str:
    """Base64 of the lower-case hex HMAC-SHA256 of *text* under *private_key*."""
    digest = hmac.new(private_key.encode(), text.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode("ascii")).decode("ascii")


def refusal(
    *,
    method: str,
    raw_path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    keys: tuple[str, str],
    now_ms: int,
) -> str | None:
    """Why the API refuses a request signed (or not) with *keys* at *now_ms*;
    None when its signature holds. *headers* have lower-case names; every
    other argument is as received."""
    signed = _signed_by(headers)
    if isinstance(signed, str):
        return signed
    public_key, sent, timestamp = signed
    if not _same(public_key, keys[0]):
        return UNKNOWN_KEY
    if not _TIMESTAMP.fullmatch(timestamp):
        return UNREADABLE
    sent_ms = int(timestamp) * (1000 if len(timestamp) == 10 else 1)
    if abs(sent_ms - now_ms) > WINDOW_MS:
        return STALE
    uri = f"{raw_path}?{query}" if query else raw_path
    content_type = headers.get("content-type", "")
    hashes = [hashlib.md5(body, usedforsecurity=False).hexdigest()] if body else ["", _EMPTY_MD5]
    for content_md5 in hashes:
        text = string_to_sign(method.upper(), content_md5, content_type, timestamp, uri)
        if _same(sent, signature(keys[1], text)):
            return None
    return MISMATCH


def _signed_by(headers: Mapping[str, str]) -> tuple[str, str, str] | str:
    """The public key, signature and timestamp the HMAC headers carry, or
    why they do not."""
    scheme, _, credential = headers.get("x-ct-authorization", "").strip().partition(" ")
    if scheme.lower() != _SCHEME:
        return MISSING
    # As the working verifier reads it: up to the first ":" is the key.
    public_key, colon, sent = credential.strip().partition(":")
    if not colon or not public_key or not sent:
        return MALFORMED
    timestamp = headers.get("x-ct-timestamp")
    if timestamp is None:
        return NO_TIMESTAMP
    return public_key, sent, timestamp


def _same(sent: str, expected: str) -> bool:
    # Bytes: compare_digest refuses a str with a character beyond ASCII, and
    # a header may carry any.
    return hmac.compare_digest(sent.encode(), expected.encode())
