"""Query-string parameters, checked as the admin API has always checked them: a bad value is
400 ``invalid_request`` naming the parameter (``query.NAME``), and the conversions are
pydantic's (lax mode: what a query string can hold)."""

from __future__ import annotations

import functools
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError
from starlette.requests import Request

from gatepass.errors import InvalidRequest


@functools.lru_cache(maxsize=64)
def _integer(low: int, high: int) -> TypeAdapter[Any]:
    return TypeAdapter(Annotated[int, Field(ge=low, le=high)])


@functools.lru_cache(maxsize=64)
def _text(max_len: int) -> TypeAdapter[Any]:
    return TypeAdapter(Annotated[str, Field(max_length=max_len)])


class QueryParams:
    """One request's query parameters (a repeated one: its last value)."""

    def __init__(self, request: Request) -> None:
        self.values = request.query_params

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        value = self.values.get(name)
        if value is None:
            return default
        return int(self._check(_integer(low, high), name, value))

    def text(self, name: str, *, max_len: int) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return str(self._check(_text(max_len), name, value))

    @staticmethod
    def _check(adapter: TypeAdapter[Any], name: str, value: str) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError:
            raise InvalidRequest(f"The request body is invalid (query.{name}).") from None
