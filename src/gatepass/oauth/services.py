"""The composition root: everything gatepass needs at run time, built once from Settings and
passed down explicitly (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from gatepass.clock import Clock, SystemClock
from gatepass.core import csrf
from gatepass.core import refresh as refresh_machine
from gatepass.core.passwords import Passwords
from gatepass.core.rfc9449 import Nonces
from gatepass.core.sealing import derive_key
from gatepass.metrics import Metrics
from gatepass.oauth.denylist import ServerDenylist
from gatepass.oauth.keys import KeyManager
from gatepass.oauth.signed_urls import UrlKeyManager
from gatepass.sdk.dpop import Dpop, MemoryReplayCache, RedisReplayCache, ReplayCache
from gatepass.sdk.verifier import Verifier
from gatepass.settings import Settings
from gatepass.storage import db
from gatepass.storage.clients import Clients
from gatepass.storage.code_rows import CodeRows
from gatepass.storage.codes import Codes
from gatepass.storage.consents import Consents
from gatepass.storage.denylist import SqlDenylist
from gatepass.storage.dpop_replay import SqlReplayCache
from gatepass.storage.events import Events
from gatepass.storage.keystore import ID_TOKEN, KeyStore
from gatepass.storage.logins import Logins
from gatepass.storage.master_secret import load_master_secret
from gatepass.storage.opaque_tokens import OpaqueTokens
from gatepass.storage.outbox import Outbox, Routes
from gatepass.storage.sso import SsoSessions
from gatepass.storage.throttle import SqlThrottle
from gatepass.storage.token_rows import TokenRows
from gatepass.storage.url_keys import UrlKeyStore
from gatepass.storage.users import Users


@dataclass
class Services:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    users: Users
    clients: Clients
    logins: Logins
    codes: Codes  # authorization codes (oauth/authorization_code.py)
    sso: SsoSessions  # single sign-on sessions of the hosted pages (oauth/sso.py)
    consents: Consents  # what users allowed clients (oauth/consents.py)
    opaque_tokens: OpaqueTokens
    token_rows: TokenRows  # the hot statements' own connections (storage/token_rows/)
    code_rows: CodeRows  # the code flow's statements, on those connections (storage/code_rows/)
    events: Events  # and, through events.outbox, their alerts
    throttle: SqlThrottle
    passwords: Passwords
    keys: KeyManager  # access-token keys (the server's Verifier uses these only)
    id_keys: KeyManager  # OpenID Connect ID-token keys (oauth/id_tokens.py)
    url_keys: UrlKeyManager  # URL-signing keys (signed URLs, playback JWTs)
    verifier: Verifier
    metrics: Metrics
    refresh_key: bytes  # derives a refresh token's child (core/refresh.child_token)
    denylist: ServerDenylist
    dpop: Dpop  # DPoP proofs at the token endpoint (RFC 9449 §5); the verifier has its own
    csrf_key: bytes  # the hosted pages' CSRF tokens (core/csrf.py)

    async def close(self) -> None:
        self.denylist.close()
        if isinstance(self.dpop.replay, RedisReplayCache):
            await self.dpop.replay.aclose()
        await self.code_rows.close()
        await self.token_rows.close()
        await self.engine.dispose()


async def open_services(
    settings: Settings, clock: Clock | None = None, *, migrate: bool = True
) -> Services:
    clock = clock or SystemClock()
    engine = db.make_engine(settings)
    db.warn_if_exposed(settings)
    try:
        if migrate:
            await db.upgrade(engine)
        sessions = db.sessionmaker(engine)
        master = load_master_secret(settings)
        keys = KeyManager(KeyStore(sessions, master), settings, clock)
        await keys.start()
        id_keys = KeyManager(KeyStore(sessions, master, ID_TOKEN), settings, clock)
        await id_keys.start()
        url_keys = UrlKeyManager(UrlKeyStore(sessions, master), settings, clock)
        await url_keys.start()
        denylist = ServerDenylist(SqlDenylist(sessions), settings, clock)
        await denylist.start()
        token_rows = await db.open_token_rows(settings)
    except BaseException:
        await engine.dispose()
        raise
    # one replay cache for proofs sent to the token endpoint and to the resources (RFC 9449
    # §11.1): in Redis when configured, so a proof replayed against another instance is
    # refused; else in the database when several workers share it, else in this process
    replay: ReplayCache
    if settings.redis_url:
        replay = RedisReplayCache(settings.redis_url, prefix=settings.redis_prefix)
    elif settings.workers > 1:
        replay = SqlReplayCache(db.sessionmaker(engine), clock)
    else:
        replay = MemoryReplayCache(clock=clock.now)

    def dpop(nonces: Nonces | None) -> Dpop:
        return Dpop(
            replay=replay,
            max_age=settings.dpop_proof_max_age,
            leeway=settings.leeway,
            nonces=nonces,
            clock=clock.now,
        )

    verifier = Verifier(
        issuer=settings.issuer,
        audience=settings.audience,
        keys={},
        leeway=settings.leeway,
        clock=clock.now,
        denylist=denylist,
        dpop=dpop(None),
    )
    keys.attach(verifier)
    code_rows = db.code_rows_on(token_rows)
    return Services(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        users=Users(sessions),
        clients=Clients(sessions, clock=clock),
        logins=Logins(sessions, token_rows),
        codes=Codes(sessions, code_rows),
        sso=SsoSessions(sessions, code_rows),
        consents=Consents(sessions),
        opaque_tokens=OpaqueTokens(sessions, token_rows),
        token_rows=token_rows,
        code_rows=code_rows,
        events=Events(sessions, Outbox(sessions, Routes.from_settings(settings)), token_rows),
        throttle=SqlThrottle(sessions),
        passwords=Passwords(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        ),
        keys=keys,
        id_keys=id_keys,
        url_keys=url_keys,
        verifier=verifier,
        metrics=Metrics(),
        refresh_key=derive_key(master, refresh_machine.CHILD_KEY_PURPOSE),
        denylist=denylist,
        dpop=dpop(Nonces(derive_key(master, "dpop-nonce")) if settings.dpop_nonce else None),
        csrf_key=derive_key(master, csrf.KEY_PURPOSE),
    )
