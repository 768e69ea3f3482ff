#!/usr/bin/env python3
"""The token requests' statements (storage/token_rows/) against the same work through
SQLAlchemy sessions, as it was done before; on SQLite and on PostgreSQL, no HTTP.

    .venv/bin/python bench/token_rows.py                 # both databases, 8 s per measure
    .venv/bin/python bench/token_rows.py --db sqlite -d 3

Two loads, 64 concurrent tasks on one event loop (uvloop), like 64 connections on one worker:

  insert    store opaque access tokens (``add_opaque``), one after another in each task
  rotate    64 refresh chains: read the presented token with its login and user, then rotate it
            (``refresh`` + ``rotate``), the next presentation being the child

Each is measured through ``token_rows`` and through SQLAlchemy sessions doing the same
statements (ORM add / select / the conditional UPDATEs + INSERT in one transaction). Printed:
operations/s, the client's CPU per operation, and on PostgreSQL the server's CPU per operation
(all ``postgres`` processes, from /proc) with the WAL it wrote per operation, and the ratio
direct / SQLAlchemy. PostgreSQL: a fresh database on 127.0.0.1:5432 (user postgres), dropped
afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update

from gatepass.oauth.services import Services, open_services
from gatepass.settings import load_settings
from gatepass.storage.logins import NewLogin, Rotation
from gatepass.storage.models import LoginSession, OpaqueAccessToken, RefreshToken
from gatepass.storage.token_rows import OpaqueRow, RotationStep

TASKS = 64
PG = "postgresql://postgres@127.0.0.1:5432/{db}"


def postgres_cpu(pids: list[int] | None = None) -> float:
    """CPU seconds used so far by ``pids``, or by every ``postgres`` process (0 when none is
    visible)."""
    total = 0
    if pids is None:
        found = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True)
        pids = [int(pid) for pid in found.stdout.split()]
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def opaque_row() -> OpaqueRow:
    return OpaqueRow(
        digest=secrets.token_hex(32),
        jti=secrets.token_urlsafe(16),
        client_id="gpc_bench",
        sub="gpc_bench",
        sid=None,
        username=None,
        scope="read",
        roles=[],
        audience="api",
        issued_at=1,
        expires_at=2,
    )


# -- the same work through SQLAlchemy sessions (the path before token_rows) -----------------


async def orm_insert(svc: Services, row: OpaqueRow) -> None:
    async with svc.sessions.begin() as s:
        s.add(OpaqueAccessToken(**{f: getattr(row, f) for f in OpaqueRow.__slots__}))


async def orm_rotate(
    svc: Services, sid: str, parent: str, child: str, generation: int, now: float
) -> Rotation:
    await svc.logins.lookup(parent)  # the read before the step (without the user: cheaper)
    async with svc.sessions.begin() as s:
        consumed = await s.execute(
            update(RefreshToken)
            .where(RefreshToken.digest == parent, RefreshToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if consumed.rowcount != 1:
            return Rotation.LOST
        await s.execute(
            update(LoginSession)
            .where(LoginSession.id == sid, LoginSession.revoked_at.is_(None))
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
        s.add(
            RefreshToken(
                digest=child,
                sid=sid,
                generation=generation + 1,
                parent_digest=parent,
                issued_at=now,
                used_at=None,
                expires_at=now + 10**5,
            )
        )
    return Rotation.ROTATED


async def direct_rotate(
    svc: Services, sid: str, parent: str, child: str, generation: int, now: float
) -> Rotation:
    found = await svc.token_rows.refresh(parent)
    if found is None:
        raise SystemExit("bench: a chain lost its token")
    login = found[0]
    return await svc.token_rows.rotate(
        RotationStep(
            sid=sid,
            parent_digest=parent,
            child_digest=child,
            generation=generation,
            now=now,
            idle_deadline=now + 10**5,
            idle_step=60.0,
            move_login=login.idle_expires_at < now + 10**5 - 60.0,  # as oauth/refresh.py does
        )
    )


# -- loads ------------------------------------------------------------------------------------


async def timed(
    svc: Services,
    seconds: float,
    work: Callable[[int, Callable[[], bool]], Awaitable[int]],
    direct: bool,
) -> dict[str, float]:
    backends = None
    if not svc.settings.is_sqlite and direct:
        # this database's backends only (other sessions' work on the same server left out); a
        # short run first opens the connections the load will use. SQLAlchemy's pool closes its
        # overflow connections as they come back, so its path is measured over every postgres
        # process, as before
        warm = time.monotonic() + 1

        def warming() -> bool:
            return time.monotonic() < warm

        await asyncio.gather(*(work(i, warming) for i in range(TASKS)))
        backends = [
            row[0]
            for row in await svc.token_rows.pool.fetch(  # type: ignore[attr-defined]
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            )
        ]
    deadline = time.monotonic() + seconds

    def going() -> bool:
        return time.monotonic() < deadline

    wal0 = await _wal(svc)
    server0, client0, wall0 = postgres_cpu(backends), time.process_time(), time.monotonic()
    done = sum(await asyncio.gather(*(work(i, going) for i in range(TASKS))))
    wall = time.monotonic() - wall0
    out = {
        "ops_per_s": done / wall,
        "client_us": (time.process_time() - client0) / done * 1e6,
    }
    if not svc.settings.is_sqlite:
        out["server_us"] = (postgres_cpu(backends) - server0) / done * 1e6
        wal1 = await _wal(svc)
        out["wal_records"] = (wal1[0] - wal0[0]) / done
        out["wal_bytes"] = (wal1[1] - wal0[1]) / done
    return out


async def _wal(svc: Services) -> tuple[float, float]:
    """WAL records and bytes written so far by the whole server (pg_stat_wal; other sessions'
    writes count too, so run alone): unlike CPU, the same for the same work on any machine."""
    if svc.settings.is_sqlite:
        return 0.0, 0.0
    row = await svc.token_rows.pool.fetchrow(  # type: ignore[attr-defined]
        "SELECT wal_records, wal_bytes FROM pg_stat_wal"
    )
    return float(row[0]), float(row[1])


async def insert_load(svc: Services, seconds: float, direct: bool) -> dict[str, float]:
    async def work(_: int, going: Callable[[], bool]) -> int:
        n = 0
        while going():
            row = opaque_row()
            await (svc.token_rows.add_opaque(row) if direct else orm_insert(svc, row))
            n += 1
        return n

    return await timed(svc, seconds, work, direct)


async def rotate_load(svc: Services, seconds: float, direct: bool) -> dict[str, float]:
    user = await svc.users.create("bench-" + secrets.token_hex(4), "x", [], 0)
    now = time.time()
    heads = []
    for i in range(TASKS):
        head = secrets.token_hex(32)
        await svc.logins.start(
            NewLogin(
                f"sid-{direct}-{i}", user.id, "gatepass", "p", head, now, 10**6, 10**5, None, None
            )
        )
        heads.append(head)
    rotate = direct_rotate if direct else orm_rotate

    generations = [0] * TASKS

    async def work(i: int, going: Callable[[], bool]) -> int:
        parent, generation, n = heads[i], generations[i], 0
        while going():
            child = secrets.token_hex(32)
            got = await rotate(svc, f"sid-{direct}-{i}", parent, child, generation, time.time())
            if got is not Rotation.ROTATED:
                raise SystemExit(f"bench: rotation {got}")
            parent, generation, n = child, generation + 1, n + 1
        heads[i], generations[i] = parent, generation  # the next call goes on from here
        return n

    return await timed(svc, seconds, work, direct)


async def measure(url: str, seconds: float) -> list[tuple[str, str, dict[str, Any]]]:
    data = Path(tempfile.mkdtemp(prefix="gp-bench-rows-"))
    settings = load_settings(
        data_dir=data, issuer="http://bench", secret_key="b" * 40, database_url=url
    )
    svc = await open_services(settings)
    out = []
    try:
        for load, fn in (("insert", insert_load), ("rotate", rotate_load)):
            for path in ("sqlalchemy", "direct"):
                result = await fn(svc, seconds, path == "direct")
                out.append((load, path, result))
                print(f"  {load:7} {path:10} {fmt(result)}", file=sys.stderr, flush=True)
    finally:
        await svc.close()
    return out


def fmt(r: dict[str, float]) -> str:
    text = f"{r['ops_per_s']:8,.0f} ops/s  client {r['client_us']:6.0f} us/op"
    if "server_us" in r:
        text += f"  postgres {r['server_us']:5.0f} us/op"
        text += f"  WAL {r['wal_records']:4.1f} records {r['wal_bytes']:5.0f} B/op"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    ap.add_argument("-d", "--duration", type=float, default=8.0)
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    rows: list[tuple[str, str, str, dict[str, Any]]] = []
    if args.db in ("sqlite", "both"):
        print("sqlite", file=sys.stderr)
        url = f"sqlite:///{tempfile.mkdtemp(prefix='gp-bench-rows-')}/gatepass.db"
        rows += [("sqlite", *r) for r in asyncio.run(measure(url, args.duration))]
    if args.db in ("postgresql", "both"):
        print("postgresql", file=sys.stderr)
        db = "gp_bench_rows_" + secrets.token_hex(4)
        psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc"]
        subprocess.run([*psql, f"CREATE DATABASE {db}"], check=True)
        try:
            rows += [
                ("postgresql", *r) for r in asyncio.run(measure(PG.format(db=db), args.duration))
            ]
        finally:
            subprocess.run([*psql, f"DROP DATABASE IF EXISTS {db}"], check=False)
    print(
        "\n| database | load | SQLAlchemy ops/s | direct ops/s | ratio | client us/op (SA -> direct) | postgres us/op (SA -> direct) |"
    )
    print("|---|---|---:|---:|---:|---|---|")
    for db in ("sqlite", "postgresql"):
        for load in ("insert", "rotate"):
            got = {p: r for d, lo, p, r in rows if d == db and lo == load}
            if len(got) != 2:
                continue
            sa, fast = got["sqlalchemy"], got["direct"]
            server = (
                f"{sa['server_us']:.0f} -> {fast['server_us']:.0f}" if "server_us" in sa else ""
            )
            print(
                f"| {db} | {load} | {sa['ops_per_s']:,.0f} | {fast['ops_per_s']:,.0f} "
                f"| {fast['ops_per_s'] / sa['ops_per_s']:.1f}x "
                f"| {sa['client_us']:.0f} -> {fast['client_us']:.0f} | {server} |"
            )


if __name__ == "__main__":
    main()
