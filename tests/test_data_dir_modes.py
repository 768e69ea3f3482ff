"""The data directory's files (the SQLite database with password hashes, sessions and
addresses, its -wal and -shm, the secret file) are readable by their owner only, whatever the
umask and the directory's mode; a directory open to others is warned about at start."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import httpx
import pytest

from servers import Server, create_user

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_files_are_created_0600_in_an_existing_open_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)  # as an operator's `mkdir` under umask 022 leaves it
    server = Server(data)
    server.env.pop("GATEPASS_SECRET_KEY")  # the secret file too, in this directory
    create_user(server.env, "bob", PASSWORD)
    server.start()
    try:
        r = httpx.post(
            server.url + "/oauth/token",
            data={"grant_type": "password", "username": "bob", "password": PASSWORD},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        files = {
            p.name: _mode(p) for p in data.iterdir() if p.name.startswith(("gatepass.db", "secret"))
        }
        assert {"gatepass.db", "gatepass.db-wal", "gatepass.db-shm", "secret.key"} <= set(files)
        assert all(mode == 0o600 for mode in files.values()), files
    finally:
        server.stop()
    log = server.log.read_text()
    assert "data directory is accessible to its group or others" in log and str(data) in log


def test_files_an_earlier_version_left_readable_are_made_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    os.chmod(data, 0o700)
    db = data / "gatepass.db"
    held = sqlite3.connect(db)  # a database as an earlier version left it, still open
    held.execute("PRAGMA journal_mode=WAL")
    held.execute("CREATE TABLE leftover (x)")
    held.commit()
    try:
        names = {"gatepass.db", "gatepass.db-wal", "gatepass.db-shm"}
        assert names <= {p.name for p in data.iterdir()}
        for name in names:
            os.chmod(data / name, 0o644)
        server = Server(data)
        create_user(server.env, "bob", PASSWORD)
        modes = {name: _mode(data / name) for name in names}
        assert all(m == 0o600 for m in modes.values()), modes
    finally:
        held.close()
    server.start()
    try:
        assert "data directory is accessible" not in server.log.read_text()
    finally:
        server.stop()
