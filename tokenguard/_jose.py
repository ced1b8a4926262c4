"""Strict, fast parsing of compact JWS pieces (private).

PyJWT re-checks base64 and re-prepares its key on every ``decode`` call; tokenguard parses a
token once, with the checks below, and hands only the signature math to PyJWT's algorithm
objects.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from .errors import MalformedTokenError

# One C-level scan tells a well-formed compact JWS apart before anything is decoded
# (RFC 7515 section 5.2, step 1). The signature may be empty so that an ``alg: none``
# token gets its own precise error instead of "malformed".
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_OPAQUE = re.compile(r"[A-Za-z0-9._~+/-]+=*")

# Base64url characters whose unused low bits are zero: a segment ending in any other
# character is a non-canonical encoding of the same bytes (token malleability).
_LAST_OF_2 = frozenset("AQgw")
_LAST_OF_3 = frozenset("AEIMQUYcgkosw048")


def is_compact_jws(token: str) -> bool:
    """True when the token has the shape ``b64url.b64url.b64url``."""
    return _COMPACT_JWS.fullmatch(token) is not None


def is_opaque_shape(token: str) -> bool:
    """True when the token uses only RFC 6750 ``b64token`` characters."""
    return _OPAQUE.fullmatch(token) is not None


def b64url_decode(segment: str) -> bytes:
    """Decode one unpadded, canonical base64url segment, or raise MalformedTokenError."""
    rem = len(segment) % 4
    if rem == 1:
        raise MalformedTokenError("The access token has a truncated base64url segment.")
    if (rem == 2 and segment[-1] not in _LAST_OF_2) or (rem == 3 and segment[-1] not in _LAST_OF_3):
        raise MalformedTokenError("The access token has a non-canonical base64url segment.")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - regex excludes these
        raise MalformedTokenError("The access token is not valid base64url.") from exc


def b64url_encode(data: bytes) -> str:
    """Encode bytes as unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # Two parsers may pick different duplicates: reject instead of choosing
        # (RFC 7515 section 4 and RFC 7519 section 4: names MUST be unique; claims smuggling).
        raise MalformedTokenError("The access token has a duplicate JSON member.")
    return obj


def _reject_constant(name: str) -> Any:
    raise MalformedTokenError("The access token holds a non-standard JSON number.")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates, parse_constant=_reject_constant
)


def json_object(data: bytes, what: str) -> dict[str, Any]:
    """Parse strict UTF-8 JSON that must be an object; duplicate members are an error."""
    try:
        text = data.decode("utf-8")
        value = _DECODER.decode(text)
    except MalformedTokenError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedTokenError(f"The access token {what} is not valid JSON.") from exc
    if type(value) is not dict:
        raise MalformedTokenError(f"The access token {what} is not a JSON object.")
    if _SURROGATE_ESCAPE.search(text) is not None and not _encodable(value):
        # A lone surrogate ("\ud800") is valid JSON but no valid text: it would fail
        # later, in a log line, a header or a database driver.
        raise MalformedTokenError(f"The access token {what} holds an unpaired surrogate.")
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _encodable(value: Any) -> bool:
    """True when every string in a parsed JSON value is valid Unicode text."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


def dumps_compact(value: Any) -> bytes:
    """Serialise JSON without spaces, as tokens are written."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
