"""The package on its own: ``python -m build`` gives a wheel and an sdist, and the wheel,
installed into a fresh virtual environment away from the source tree, serves with
``gatepass serve`` and passes ``/readyz`` (the migrations ship in it and run at start).

It builds, creates a venv and installs from the package index: about a minute or more, so it
runs under CI=true only."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import httpx
import pytest

from conftest import IN_CI
from servers import ROOT, SECRET, free_port, wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not IN_CI, reason="builds and installs a wheel (minutes): CI=true only"),
]


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> None:
    r = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-4000:])


def test_the_wheel_installed_alone_serves_and_is_ready(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--outdir", dist, ROOT, cwd=tmp_path)
    wheels = list(dist.glob("gatepass-*.whl"))
    sdists = list(dist.glob("gatepass-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, list(dist.iterdir())
    with zipfile.ZipFile(wheels[0]) as whl:
        names = whl.namelist()
    assert any(n.startswith("gatepass/storage/migrations/versions/0001_") for n in names)
    with tarfile.open(sdists[0]) as sdist:
        assert any("/src/gatepass/storage/migrations/versions/" in n for n in sdist.getnames())

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    _run(venv / "bin" / "pip", "install", "-q", wheels[0], cwd=tmp_path)

    away = tmp_path / "elsewhere"  # no source tree in sight: cwd, PYTHONPATH and data dir
    away.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEPASS_", "PYTHON"))}
    env.update(
        GATEPASS_DATA_DIR=str(away / "data"),
        GATEPASS_SECRET_KEY=SECRET,
        GATEPASS_ISSUER=f"http://127.0.0.1:{port}",
        GATEPASS_LOG_LEVEL="warning",
    )
    probe = "import gatepass, sys; sys.stdout.write(gatepass.__file__)"
    where = subprocess.run(
        [venv / "bin" / "python", "-c", probe], cwd=away, env=env, capture_output=True, text=True
    )
    assert where.stdout.startswith(str(venv)), where  # the installed copy, not the source tree
    log = open(away / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [venv / "bin" / "gatepass", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=away,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError((away / "server.log").read_text()[-3000:])
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
            except httpx.HTTPError:
                return False
            return r.status_code == 200 and r.json()["checks"]["database"] == "ok"

        assert wait_until(ready, timeout=120), (away / "server.log").read_text()[-3000:]
        r = httpx.get(f"http://127.0.0.1:{port}/.well-known/jwks.json", timeout=10)
        assert r.status_code == 200 and r.json()["keys"]
        # the hosted pages' templates and stylesheet ship in the wheel
        r = httpx.get(f"http://127.0.0.1:{port}/static/gatepass.css", timeout=10)
        assert r.status_code == 200 and "max-width" in r.text
        r = httpx.get(f"http://127.0.0.1:{port}/oauth/authorize?client_id=nope", timeout=10)
        assert r.status_code == 400 and 'role="alert"' in r.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
