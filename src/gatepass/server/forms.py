"""Reading request bodies strictly: form-encoded (RFC 6749 §3.2, Appendix B) and JSON objects."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from gatepass.errors import InvalidRequest, UnsupportedMediaType


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_form(request: Request) -> dict[str, str]:
    """``application/x-www-form-urlencoded`` parameters; a repeated parameter is an error and an
    empty one counts as absent (RFC 6749 §3.1)."""
    if _media_type(request) != "application/x-www-form-urlencoded":
        raise InvalidRequest("The body must be application/x-www-form-urlencoded.")
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("The body is not valid form encoding.") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise InvalidRequest("The body contains a NUL character.")
        if key in out:
            raise InvalidRequest(f"The parameter {key[:40]!r} is repeated.")
        if value != "":
            out[key] = value
    return out


async def read_json_object(request: Request) -> dict[str, Any]:
    if _media_type(request) != "application/json":
        raise UnsupportedMediaType("The body must be application/json.")
    raw = await request.body()
    try:
        data = json.loads(raw)
        # "\ud800" parses to a lone surrogate, which no UTF-8 text (nor database) can hold
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # Unicode errors are ValueErrors; deep nesting recurses
        raise InvalidRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return data


def text_field(
    data: dict[str, Any], name: str, *, required: bool = True, max_len: int = 1024
) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required.")
        return None
    if not isinstance(value, str) or "\x00" in value or len(value) > max_len:
        raise InvalidRequest(f"{name} must be text of at most {max_len} characters.")
    return value
