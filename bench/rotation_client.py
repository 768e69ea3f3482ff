#!/usr/bin/env python3
"""The client's side of refresh rotation on PostgreSQL, for callgrind: 64 chains of lookup +
rotation through ``PostgresTokenRows`` alone (no HTTP, no app), N rotations in all.

    db=gp_rot_$RANDOM; psql -h 127.0.0.1 -U postgres -d test -qc "CREATE DATABASE $db"
    args=$(.venv/bin/python bench/rotation_client.py setup $db)    # schema once, 64 fresh logins
    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        .venv/bin/python bench/rotation_client.py run 1280 $args
    # again with 256 (fresh logins: setup again); the difference / 1024 = instructions per rotation
    psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE $db"
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
import time
from pathlib import Path

CHAINS = 64


async def setup(db: str) -> str:
    from gatepass.oauth.services import open_services
    from gatepass.settings import load_settings
    from gatepass.storage.logins import NewLogin

    url = f"postgresql://postgres@127.0.0.1:5432/{db}"
    data = Path(tempfile.mkdtemp(prefix="gp-bench-rot-"))
    svc = await open_services(
        load_settings(data_dir=data, issuer="http://bench", secret_key="b" * 40, database_url=url)
    )
    try:
        user = await svc.users.create("rot-" + secrets.token_hex(4), "x", [], 0)
        now, chains = time.time(), []
        for _ in range(CHAINS):
            sid, head = "rot-" + secrets.token_hex(6), secrets.token_hex(32)
            login = NewLogin(sid, user.id, "gatepass", "p", head, now, 10**6, 10**5, None, None)
            await svc.logins.start(login)
            chains.append(f"{sid}:{head}")
    finally:
        await svc.close()
    return " ".join([url, *chains])


async def run(n: int, url: str, chains: list[str]) -> None:
    from gatepass.storage.token_rows import Rotation, RotationStep
    from gatepass.storage.token_rows.postgresql import PostgresTokenRows

    rows = await PostgresTokenRows.open(url)
    left = [n]

    async def chain(sid: str, parent: str) -> None:
        generation = 0
        while left[0] > 0:
            left[0] -= 1
            found = await rows.refresh(parent)
            if found is None:
                raise SystemExit("bench: a chain lost its token (run setup again)")
            now = time.time()
            deadline, child = now + 10**5, secrets.token_hex(32)
            step = RotationStep(sid, parent, child, generation, now, deadline, 60.0)
            if hasattr(step, "move_login"):  # as oauth/refresh.py does (absent before it)
                step = RotationStep(
                    sid, parent, child, generation, now, deadline, 60.0,
                    move_login=found[0].idle_expires_at < deadline - 60.0,
                )  # fmt: skip
            if await rows.rotate(step) is not Rotation.ROTATED:
                raise SystemExit("bench: a rotation did not rotate")
            parent, generation = child, generation + 1

    try:
        await asyncio.gather(*(chain(*c.split(":")) for c in chains))
    finally:
        await rows.close()


def main() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if sys.argv[1:2] == ["setup"] and len(sys.argv) == 3:
        print(asyncio.run(setup(sys.argv[2])))
    elif sys.argv[1:2] == ["run"] and len(sys.argv) > 4:
        asyncio.run(run(int(sys.argv[2]), sys.argv[3], sys.argv[4:]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
