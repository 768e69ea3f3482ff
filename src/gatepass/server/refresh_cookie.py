"""The refresh-token cookie of browser sessions (DESIGN "Browser sessions"), in one of two forms.

- ``__Secure-gp_refresh; Path=/auth`` (the default): the cookie reaches only the ``/auth/``
  endpoints. But ``__Secure-`` only proves the cookie was set over HTTPS: a sibling subdomain
  (``evil.example.com`` beside ``auth.example.com``) may set a cookie of the same name with
  ``Domain=example.com; Path=/auth`` ("cookie tossing"), which the browser also sends here, to
  plant its own login in the victim's browser or to shadow the real cookie.
- ``__Host-gp_refresh; Path=/`` (``GATEPASS_REFRESH_COOKIE_HOST_PREFIX=true``): the browser takes
  a ``__Host-`` cookie only from this very host, without ``Domain`` and with ``Path=/`` (RFC 6265bis
  §4.1.3.2), so no sibling can set or shadow it; the price is that it goes with every request
  to this host, not only to ``/auth/`` (it stays ``HttpOnly; Secure; SameSite=Strict``, and only
  ``/auth/refresh`` and ``/auth/logout`` read it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gatepass.settings import Settings


@dataclass(frozen=True, slots=True)
class RefreshCookie:
    name: str
    path: str

    def header(self, value: str, max_age: int) -> str:
        """A ``Set-Cookie`` value (``max_age=0`` with an empty value clears it)."""
        return (
            f"{self.name}={value}; Path={self.path}; Max-Age={max_age}; "
            "HttpOnly; Secure; SameSite=Strict"
        )

    def read(self, cookies: Mapping[str, str]) -> str | None:
        return cookies.get(self.name)


SECURE = RefreshCookie("__Secure-gp_refresh", "/auth")
HOST = RefreshCookie("__Host-gp_refresh", "/")


def refresh_cookie(settings: Settings) -> RefreshCookie:
    return HOST if settings.refresh_cookie_host_prefix else SECURE
