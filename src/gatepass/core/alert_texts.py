"""What an alert says: the plain-language email for the events a person should hear about, and
the JSON body of a webhook (Standard Webhooks' ``type``, ``timestamp``, ``data``).

An event holds no token, digest or secret, and neither does anything made here from it. The
User-Agent and address are the client's own words: control characters are taken out and they
are cut short before they go into a message.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
EMAIL_EVENTS = ("refresh_reuse", "sign_in", "password_change", "lockout")
REUSE_SENTENCE = "A stolen refresh token was used; we ended that session."


@dataclass(frozen=True, slots=True)
class EmailText:
    subject: str
    body: str


def wants_email(type_: str, details: dict[str, Any]) -> bool:
    """Refresh-token reuse, a sign-in from a new device, a password change, a lockout of the
    account (from one address, ``acct_ip``, or from all, ``acct``: see
    ``oauth/password_login.py``); an address lockout (``ip``) is about the address, not about
    whoever's name was tried."""
    if type_ == "sign_in":
        return details.get("new_device") is True
    if type_ == "lockout":
        return details.get("scope") in ("acct", "acct_ip")
    return type_ in ("refresh_reuse", "password_change")


def clean(text: object, limit: int = 200) -> str:
    """A client-sent string made safe to show: no control characters, at most ``limit``."""
    out = _CONTROL.sub("", str(text or ""))
    return out if len(out) <= limit else out[: limit - 1] + "…"


def when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))


def _where(event: dict[str, Any]) -> str:
    lines = [f"When: {when(float(event['created_at']))}"]
    if event.get("ip"):
        lines.append(f"Address: {clean(event['ip'], 64)}")
    if event.get("user_agent"):
        lines.append(f"Browser or app: {clean(event['user_agent'])}")
    return "\n".join(lines)


_CLOSING = (
    "If this was you, there is nothing to do. If it was not, change your password now, and "
    "sign out of the devices you do not recognise."
)


def email_text(event: dict[str, Any]) -> EmailText:
    """The message for an event that :func:`wants_email`."""
    type_ = event["type"]
    name = clean(event.get("username") or "", 150)
    hello = f"Hello {name}," if name else "Hello,"
    where = _where(event)
    if type_ == "refresh_reuse":
        return EmailText(
            "Security alert: we ended a session on your account",
            f"{hello}\n\n{REUSE_SENTENCE}\n\n"
            "A sign-in token of your account was presented again after it had already been "
            "used. That happens when a copy of it was taken from a device, so we signed that "
            "session out everywhere it was in use. You may need to sign in again on that "
            f"device.\n\n{where}\n\nIf you do not know why this happened, change your password "
            "and review your devices.\n",
        )
    if type_ == "sign_in":
        return EmailText(
            "New sign-in to your account",
            f"{hello}\n\nYour account was just signed in to from a device or network it has "
            f"not been used from before.\n\n{where}\n\n{_CLOSING}\n",
        )
    if type_ == "password_change":
        return EmailText(
            "Your password was changed",
            f"{hello}\n\nThe password of your account was changed, and your other sessions "
            f"were signed out.\n\n{where}\n\nIf you did not change it, someone else knows your "
            "password: reset it now, or contact your administrator.\n",
        )
    if type_ == "lockout":
        return EmailText(
            "Sign-ins to your account were paused",
            f"{hello}\n\nThere were several failed attempts to sign in to your account, so we "
            f"paused sign-ins to it from there for a short while.\n\n{where}\n\nIf these "
            "attempts were "
            "not yours, someone may be guessing your password: choose a long, unique one.\n",
        )
    raise ValueError(f"no email for {type_!r} events")


def webhook_body(event: dict[str, Any]) -> bytes:
    """The same bytes on every retry of a message (only its headers change)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(float(event["created_at"])))
    millis = int(float(event["created_at"]) * 1000) % 1000
    body = {
        "type": f"security.{event['type']}",
        "timestamp": f"{stamp}.{millis:03d}Z",
        "data": event,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


# A user's own security activity (``GET /auth/activity``), one line per event, in plain words.
# Who the administrator was is not said to the user; the admin event list has it.
_ACTIVITY = {
    "refresh_reuse": REUSE_SENTENCE,
    "password_change": "Your password was changed, and your other sessions were signed out.",
    "logout": "You signed out through an app.",
    "logout_all": "You signed out everywhere.",
    "logout_others": "You signed out of every other session.",
    "forced_logout": "An administrator signed you out everywhere.",
    "profile_changed": "Your profile was changed.",
    "consent_withdrawn": "You disconnected an app; its sessions were signed out.",
    "admin.user_created": "An administrator created your account.",
    "admin.user_disabled": "An administrator disabled your account and signed you out.",
    "admin.user_enabled": "An administrator enabled your account again.",
    "admin.user_roles_changed": "An administrator changed your roles.",
    "admin.password_reset_forced": (
        "An administrator required a new password for your account and signed you out."
    ),
    "admin.password_set": "An administrator set a new password for your account.",
    "admin.sessions_ended": "An administrator ended your sessions.",
}


def activity_text(type_: str, details: dict[str, Any]) -> str:
    """The plain-words line for an event of a user's own activity."""
    if type_ == "sign_in":
        if details.get("new_device") is True:
            return "You signed in from a new device or network."
        return "You signed in."
    if type_ == "lockout":
        return "Sign-ins to your account were paused after several failed attempts."
    return _ACTIVITY.get(type_, "Something happened on your account: " + clean(type_, 64) + ".")
