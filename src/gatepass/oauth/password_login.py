"""Resource-owner password login (RFC 6749 §4.3): the one entry point that checks a user's
password (``/oauth/token``, ``/auth/login``, ``/auth/password``, the hosted login page).

Every attempt is throttled *before* its Argon2id check: :meth:`SqlThrottle.reserve` counts it
atomically in the database on three keys, or refuses it (429) without checking anything:

- ``acct_ip``: this account from this address (``GATEPASS_LOGIN_ACCOUNT_THRESHOLD``, 5). It
  stops one address guessing one account, and it is the lock an attacker meets: it never keeps
  the owner, at another address, out;
- ``acct``: this account from every address (``GATEPASS_LOGIN_ACCOUNT_CEILING``, 100), a ceiling
  on guessing spread over many addresses, out of reach of any one of them (the address key
  below stops each address well before it);
- ``ip``: this address, whatever the account (``GATEPASS_LOGIN_IP_THRESHOLD``, 20).

An IPv6 client counts by its /64 (one host is usually given a whole /64). Whatever the size of a
burst, at most a key's threshold of attempts are checked, on every worker and instance sharing
the database; the next starts the lock, and is refused even with the right password. A success
gives the attempt back to the account and address keys and clears this account-at-address key.
An unknown user costs the same Argon2id work and gets the same answer as a wrong password.

A successful login is a ``sign_in`` security event, flagged when it comes from a new device
(``core/devices.py``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass

from gatepass.core import devices
from gatepass.core.throttle import Policy
from gatepass.errors import InvalidGrant, InvalidRequest, TooManyRequests
from gatepass.oauth.services import Services
from gatepass.settings import Settings
from gatepass.storage.models import User
from gatepass.storage.throttle import Limit

log = logging.getLogger("gatepass.login")

MAX_USERNAME = 150
MAX_ADDRESS = 45  # the longest textual IPv6 address; anything else is cut there


async def authenticate_user(
    svc: Services,
    username: str | None,
    password: str | None,
    *,
    ip: str | None,
    user_agent: str | None,
) -> User:
    """The user whose password this is; :class:`InvalidGrant` for a wrong password, an unknown
    or disabled user; :class:`TooManyRequests` when the attempt is over a throttle."""
    if not username or password is None:
        raise InvalidRequest("username and password are required.")
    if len(username) > MAX_USERNAME:
        raise InvalidGrant("Invalid username or password.")
    keys = LoginKeys.of(username, ip)
    now = svc.clock.now()
    reservation = await svc.throttle.reserve(keys.limits(svc.settings), now)
    if not reservation.allowed:
        for key in reservation.lock_started:
            await _lockout(svc, key, username, ip, user_agent, now)
        raise TooManyRequests(int(reservation.retry_after) + 1)
    user = await svc.users.by_name(username)
    result = await asyncio.to_thread(
        svc.passwords.verify, user.password_hash if user else None, password
    )
    if not result.ok or user is None or user.disabled:
        svc.metrics.login_failures.inc()  # the reservation stays: it counts as the failure
        raise InvalidGrant("Invalid username or password.")
    if result.new_hash is not None:
        await svc.users.set_password_hash(user.id, result.new_hash)
    await svc.throttle.give_back(keys.shared, clear=[keys.account_at_address])
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
@dataclass(frozen=True, slots=True)
class LoginKeys:
    """The throttle keys of one login attempt: the account name as it counts (case-folded) and
    the address as it counts (``None`` when the server was not told one)."""

    name: str
    address: str | None

    @classmethod
    def of(cls, username: str, ip: str | None) -> LoginKeys:
        return cls(username.casefold()[:MAX_USERNAME], _address(ip))

    @property
    def account_at_address(self) -> str:
        return f"acct_ip:{self.address or '-'} {self.name}"

    @property
    def account(self) -> str:
        return "acct:" + self.name

    @property
    def shared(self) -> list[str]:
        """The keys that other people's attempts count on too (a success only gives back)."""
        return [self.account] if self.address is None else [self.account, "ip:" + self.address]

    def limits(self, s: Settings) -> list[Limit]:
        window, account_lock = s.login_window, s.login_account_max_lock
        out: list[Limit] = [
            (self.account_at_address, Policy(s.login_account_threshold, window, account_lock)),
            (self.account, Policy(s.login_account_ceiling, window, account_lock)),
        ]
        if self.address is not None:
            ip = Policy(s.login_ip_threshold, window, s.login_ip_max_lock)
            out.append(("ip:" + self.address, ip))
        return out


def _address(ip: str | None) -> str | None:
    """What an address counts as: itself, an IPv4-mapped IPv6 address as the IPv4 one, other
    IPv6 addresses as their /64."""
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:MAX_ADDRESS]
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(addr) >> 64 << 64, 64)))
    return str(addr)


async def _lockout(
    svc: Services, key: str, username: str, ip: str | None, user_agent: str | None, now: float
) -> None:
    scope = key.split(":", 1)[0]
    svc.metrics.lockouts.inc()
    user = await svc.users.by_name(username)
    await svc.events.record(
        "lockout",
        now=now,
        user_id=user.id if user else None,
        username=username[:MAX_USERNAME],
        ip=ip,
        user_agent=(user_agent or "")[:512] or None,
        details={"scope": scope},
    )
    log.warning("login lockout", extra={"scope": scope, "ip": ip})
