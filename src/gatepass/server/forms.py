"""Reading request bodies strictly: form-encoded (RFC 6749 §3.2, Appendix B) and JSON objects."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from gatepass.errors import InvalidRequest, UnsupportedMediaType


def media_type(request: Request) -> str:
    """The request's ``Content-Type`` without parameters, lowercased."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_form(request: Request) -> dict[str, str]:
    """``application/x-www-form-urlencoded`` parameters; a repeated parameter is an error and an
    empty one counts as absent (RFC 6749 §3.1)."""
    if media_type(request) != "application/x-www-form-urlencoded":
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
    if media_type(request) != "application/json":
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


def only_fields(data: dict[str, Any], allowed: tuple[str, ...], *, at_least_one: bool) -> None:
    """Refuse a JSON object with a member not in ``allowed`` (a typo must not pass silently),
    or, with ``at_least_one``, one with none of them (a change that changes nothing)."""
    unknown = sorted(k for k in data if k not in allowed)
    if unknown:
        raise InvalidRequest(f"Unknown field {unknown[0][:40]!r}; allowed: {', '.join(allowed)}.")
    if at_least_one and not data:
        raise InvalidRequest(f"Nothing to change; send one of: {', '.join(allowed)}.")


def bool_field(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest(f"{name} must be true or false.")
    return value


def str_list_field(data: dict[str, Any], name: str, *, max_items: int = 100) -> list[str] | None:
    value = data.get(name)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) > max_items
        or not all(isinstance(v, str) and v.isprintable() and len(v) <= 1024 for v in value)
    ):
        raise InvalidRequest(f"{name} must be a list of at most {max_items} strings.")
    return value
