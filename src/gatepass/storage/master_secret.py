"""The master secret that seals private keys: GATEPASS_SECRET_KEY, else a 0600 file."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from gatepass.settings import ConfigError, Settings

FILE_NAME = "secret.key"


def load_master_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / FILE_NAME
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48) + "\n")
    return _read(path)


def _read(path: Path) -> bytes:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"GATEPASS_SECRET_KEY: unset, and {path} is readable by others (chmod 600 it)"
        )
    data = path.read_text().strip()
    if len(data) < 32:
        raise ConfigError(f"GATEPASS_SECRET_KEY: unset, and {path} holds fewer than 32 characters")
    return data.encode()
