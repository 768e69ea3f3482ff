"""Resource-owner password login (RFC 6749 §4.3), shared by /oauth/token and /auth/login.

Failures are throttled per account and per client address; an unknown user costs the same
Argon2id work and gets the same answer as a wrong password. A successful login is a ``sign_in``
security event, flagged when it comes from a new device (``core/devices.py``).
"""

from __future__ import annotations

import asyncio
import logging

from gatepass.core import devices
from gatepass.core.throttle import Policy
from gatepass.errors import InvalidGrant, InvalidRequest, TooManyRequests
from gatepass.oauth.services import Services
from gatepass.storage.models import User

log = logging.getLogger("gatepass.login")

MAX_USERNAME = 150


def _keys(username: str, ip: str | None) -> tuple[str, str | None]:
    return "acct:" + username.casefold()[:MAX_USERNAME], ("ip:" + ip) if ip else None


async def authenticate_user(
    svc: Services,
    username: str | None,
    password: str | None,
    *,
    ip: str | None,
    user_agent: str | None,
) -> User:
    if not username or password is None:
        raise InvalidRequest("username and password are required.")
    if len(username) > MAX_USERNAME:
        raise InvalidGrant("Invalid username or password.")
    acct, addr = _keys(username, ip)
    keys = [acct] if addr is None else [acct, addr]
    s = svc.settings
    wait = await svc.throttle.retry_after(keys, svc.clock.now())
    if wait > 0:
        raise TooManyRequests(int(wait) + 1)
    user = await svc.users.by_name(username)
    result = await asyncio.to_thread(
        svc.passwords.verify, user.password_hash if user else None, password
    )
    if not result.ok or user is None or user.disabled:
        svc.metrics.login_failures.inc()
        now = svc.clock.now()
        policies = [
            (acct, Policy(s.login_account_threshold, s.login_window, s.login_account_max_lock))
        ]
        if addr is not None:
            policies.append(
                (addr, Policy(s.login_ip_threshold, s.login_window, s.login_ip_max_lock))
            )
        for key, policy in policies:
            locked, _ = await svc.throttle.fail(key, policy, now)
            if locked:
                svc.metrics.lockouts.inc()
                await svc.events.record(
                    "lockout",
                    now=now,
                    user_id=user.id if user else None,
                    username=username[:MAX_USERNAME],
                    ip=ip,
                    user_agent=(user_agent or "")[:512] or None,
                    details={"scope": key.split(":", 1)[0]},
                )
                log.warning("login lockout", extra={"scope": key.split(":", 1)[0], "ip": ip})
        raise InvalidGrant("Invalid username or password.")
    if result.new_hash is not None:
        await svc.users.set_password_hash(user.id, result.new_hash)
    await svc.throttle.reset(acct)
    return user


async def record_sign_in(
    svc: Services,
    user: User,
    *,
    client_id: str,
    sid: str | None,
    ip: str | None,
    user_agent: str | None,
) -> bool:
    """The ``sign_in`` event of a login that succeeded; True when from a new device."""
    return await svc.events.sign_in(
        device=devices.fingerprint(user_agent, ip),
        now=svc.clock.now(),
        details={"method": "password"},
        user_id=user.id,
        username=user.username,
        client_id=client_id,
        sid=sid,
        ip=ip,
        user_agent=(user_agent or "")[:512] or None,
    )
