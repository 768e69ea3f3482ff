#!/usr/bin/env python3
"""Video segments through nginx: no check, secure_link_md5 (exact, prefix), auth_request to gatepass.

    .venv/bin/python bench/video_edge.py                # 4 bounded wrk runs (3 s warm-up + 10 s)
    .venv/bin/python bench/video_edge.py --quick        # 1 s + 4 s per run
    .venv/bin/python bench/video_edge.py --media DIR    # e.g. the example's <state>/media/videos/intro

Needs ``wrk`` and Debian's ``nginx-light`` (``bash ../shared/peers/run_all.sh setup``) and the
peers' ``bench.py`` (one bounded wrk run with the server's CPU from /proc, retried when other
load disturbs it). nginx runs the project's own ``docs/nginx/gatepass-hls.conf`` (one worker),
with one location added that serves the same files with no check; ``gatepass serve`` (one
worker, SQLite in a temporary directory) answers its ``auth_request``. Runs, each wrk -t2 -c64
with ``bench/wrk_urls.lua`` cycling over every segment URL of two videos:

  nginx, no check               /plain/<id>/segN.m4s
  nginx secure_link_md5, exact  /files/<id>/segN.m4s?md5=…&expires=…   (one link per segment)
  nginx secure_link_md5, prefix /hls/<id>/segN.m4s?md5=…&expires=…&prefix=/hls/<id>/
  nginx auth_request -> gatepass /videos/<id>/segN.m4s?exp=…&prefix=/videos/<id>/&kid=…&sig=…

The links are signed by gatepass (``gatepass sign-url --prefix`` form: a trailing ``/``; format
``hmac`` and ``nginx``), and every kind is checked to serve the right bytes, and to refuse a
changed signature and a path outside its prefix, before anything is measured. The segments are
the ``.m4s``/``.ts`` files of ``--media`` (one folder of ``examples/video-platform``'s HLS media,
made by ffmpeg at its setup; or a folder holding ``videos/42/`` and ``videos/43/``), or else
``--segments`` files of ``--segment-bytes`` random bytes per video (default 8 of 40,000 bytes,
about one of the example's 1 s segments). Every process started
here is stopped by its pid. Results: a markdown table; JSON lines in bench/results/video_edge.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from edge import Procs, free_port, start_gatepass, wait_http

from gatepass.oauth.signed_urls import secure_link_md5

REPO = Path(__file__).resolve().parent.parent
HERE = REPO / "bench"
# ../shared/peers from the main checkout; ../../shared/peers from a worktree under /work/wt/
PEERS = next(
    (p for p in (REPO.parent / "shared" / "peers", REPO.parent.parent / "shared" / "peers")
     if p.is_dir()),
    REPO.parent / "shared" / "peers",
)  # fmt: skip
CONF = REPO / "docs" / "nginx" / "gatepass-hls.conf"
VIDEOS = ("42", "43")
PLAIN = """
        location /plain/ {
            root @MEDIA_ROOT@;
        }

        location / { return 404; }"""


def make_media(root: Path, source: Path | None, count: int, size: int) -> list[str]:
    """The same segment files under videos/, hls/, files/ and plain/ (hard links); their names."""
    first = root / "videos"
    for vid in VIDEOS:
        d = first / vid
        d.mkdir(parents=True)
        if source is not None:
            src = source / "videos" / vid if (source / "videos" / vid).is_dir() else source
            for f in sorted(src.iterdir()):
                if f.suffix in (".m4s", ".ts", ".mp4", ".m3u8"):
                    shutil.copy(f, d / f.name)
        else:
            for n in range(count):
                (d / f"seg{n}.m4s").write_bytes(secrets.token_bytes(size))
    names = sorted(f.name for f in (first / VIDEOS[0]).iterdir() if f.suffix in (".m4s", ".ts"))
    if not names:
        raise SystemExit(f"no .m4s or .ts segments in {source}")
    for kind in ("hls", "files", "plain"):
        for vid in VIDEOS:
            d = root / kind / vid
            d.mkdir(parents=True)
            for f in (first / vid).iterdir():
                os.link(f, d / f.name)
    for p in root.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)  # nginx's workers run as nobody under root
    return names


def start_nginx(procs: Procs, work: Path, media: Path, gatepass: str, secret: str) -> str:
    prefix = work / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = CONF.read_text().replace("\n        location / { return 404; }", PLAIN, 1)
    for name, value in {
        "@PREFIX@": str(prefix),
        "@LISTEN@": f"127.0.0.1:{port}",
        "@GATEPASS@": gatepass,
        "@MEDIA_ROOT@": str(media),
        "@SECURE_LINK_SECRET@": secret,
    }.items():
        conf = conf.replace(name, value)
    (prefix / "nginx.conf").write_text(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    cmd = [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    subprocess.run([*cmd, "-t", "-q"], check=True, timeout=30)
    log = open(prefix / "stdout.log", "wb")  # noqa: SIM115 - closed with the process
    p = subprocess.Popen([*cmd, "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT)
    procs.add(p.pid)
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/")
    return url


def signed_targets(env: dict[str, str], secret: str, names: list[str]) -> dict[str, list[str]]:
    """Request targets per run, every segment of every video, signed by gatepass."""
    out: dict[str, list[str]] = {"plain": [], "files": [], "hls": [], "videos": []}
    for vid in VIDEOS:
        q_hmac = json.loads(_sign_json(env, f"/videos/{vid}/"))["query"]
        q_nginx = json.loads(_sign_json(env, f"/hls/{vid}/", "--format", "nginx"))["query"]
        exact = json.loads(_sign_json(env, f"/files/{vid}/{names[0]}", "--format", "nginx"))
        exp = int(exact["expires_at"])
        first_md5 = secure_link_md5(secret, f"/files/{vid}/{names[0]}", exp)
        if f"md5={first_md5}&" not in exact["url"]:
            raise SystemExit("gatepass's exact nginx link differs from secure_link_md5()")
        for name in names:
            out["plain"].append(f"/plain/{vid}/{name}")
            md5 = secure_link_md5(secret, f"/files/{vid}/{name}", exp)
            out["files"].append(f"/files/{vid}/{name}?md5={md5}&expires={exp}")
            out["hls"].append(f"/hls/{vid}/{name}?{q_nginx}")
            out["videos"].append(f"/videos/{vid}/{name}?{q_hmac}")
    return out


def _sign_json(env: dict[str, str], path: str, *args: str) -> str:
    # edge.sign returns the URL only; the prefix forms need the JSON's "query"
    r = subprocess.run([sys.executable, "-m", "gatepass.cli", "sign-url", path, "--ttl", "3600",
                        *args, "--json"], env=env, capture_output=True, text=True, timeout=60,
                       check=True)  # fmt: skip
    return r.stdout


def check(url: str, targets: dict[str, list[str]], media: Path) -> None:
    """Each kind serves the right bytes; a changed signature and another video are refused."""
    bad = []
    for kind, uris in targets.items():
        uri = uris[0]
        path = uri.split("?", 1)[0]
        want = (media / path.lstrip("/")).read_bytes()
        r = httpx.get(url + uri, timeout=10)
        if r.status_code != 200 or r.content != want:
            bad.append(f"{kind}: {r.status_code}")
        if kind == "plain":
            continue
        sig = re.search(r"(?:md5|sig)=([A-Za-z0-9_-]+)", uri).group(1)  # type: ignore[union-attr]
        changed = uri.replace(sig, ("A" if sig[0] != "A" else "B") + sig[1:])
        other = uri.replace(f"/{VIDEOS[0]}/", f"/{VIDEOS[1]}/", 1)
        for what, u in (("changed signature", changed), ("other video", other)):
            if httpx.get(url + u, timeout=10).status_code != 403:
                bad.append(f"{kind}: {what} not refused")
    if bad:
        raise SystemExit(f"correctness checks failed before measuring: {bad}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peers", default=str(PEERS))
    ap.add_argument("--media", help="a folder of HLS files (or videos/<id>/ folders of them)")
    ap.add_argument("--segments", type=int, default=8, help="generated segments per video")
    # about one of examples/video-platform's 1 s segments (VP9 250 kbit/s + Opus 48 kbit/s)
    ap.add_argument("--segment-bytes", type=int, default=40_000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--quick", action="store_true", help="1 s warm-up + 4 s per run")
    ap.add_argument("--quiet-wait", default=os.environ.get("BENCH_QUIET_WAIT", "60"))
    ap.add_argument("--retries", default=os.environ.get("BENCH_RETRIES", "1"))
    a = ap.parse_args()
    if a.quick:
        a.duration, a.warmup = 4, 1
    peers = Path(a.peers)
    if shutil.which("wrk") is None or not (
        shutil.which("nginx") or Path("/usr/sbin/nginx").exists()
    ):
        raise SystemExit("wrk and nginx are needed: bash ../shared/peers/run_all.sh setup")
    if not (peers / "bench.py").exists():
        raise SystemExit(f"no peers at {peers} (--peers DIR)")

    work = Path(tempfile.mkdtemp(prefix="gatepass-video-edge-"))
    work.chmod(0o755)
    procs = Procs()
    rows: list[dict] = []
    run_id = time.strftime("%Y-%m-%dT%H:%M:%S")
    try:
        media = work / "media"
        names = make_media(media, Path(a.media) if a.media else None, a.segments,
                           a.segment_bytes)  # fmt: skip
        secret = secrets.token_urlsafe(32)
        gp, env = start_gatepass(procs, work, GATEPASS_SECURE_LINK_SECRET=secret)
        gp_pid = procs.pids[-1]
        url = start_nginx(procs, work, media, gp, secret)
        nginx_pid = procs.pids[-1]
        targets = signed_targets(env, secret, names)
        check(url, targets, media)
        size = (media / "plain" / VIDEOS[0] / names[0]).stat().st_size
        print(f"{len(names)} segments x {len(VIDEOS)} videos, {size:,} bytes each (first)",
              file=sys.stderr)  # fmt: skip

        runs = [
            ("nginx, no check", "plain", [nginx_pid], "1"),
            ("nginx secure_link_md5, exact link per segment", "files", [nginx_pid], "1"),
            ("nginx secure_link_md5, prefix link (format nginx)", "hls", [nginx_pid], "1"),
            ("nginx auth_request -> gatepass /edge/verify, prefix HMAC", "videos",
             [nginx_pid, gp_pid], "1+1"),
        ]  # fmt: skip
        for label, kind, pids, workers in runs:
            rows.append({**bench_one(a, peers, work, url, label, targets[kind], pids, workers),
                         "run": run_id})  # fmt: skip
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    results = HERE / "results"
    results.mkdir(exist_ok=True)
    with (results / "video_edge.jsonl").open("a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    print_table(rows, a.connections)


def bench_one(a: argparse.Namespace, peers: Path, work: Path, url: str, label: str,
              targets: list[str], pids: list[int], workers: str) -> dict:  # fmt: skip
    urls = work / f"urls-{len(list(work.glob('urls-*')))}.txt"
    urls.write_text("\n".join(targets) + "\n")
    env = dict(os.environ, WRK_URLS_FILE=str(urls), WRK_THREADS="2")
    wrk = ["wrk", "-t2", f"-c{a.connections}", "--latency", "--timeout", "5s", "-s",
           str(HERE / "wrk_urls.lua"), url + "/"]  # fmt: skip
    if a.warmup:  # bench.py runs no warm-up for a custom load command: run it here
        subprocess.run([*wrk[:3], f"-d{a.warmup}s", *wrk[3:]], env=env, capture_output=True,
                       timeout=a.warmup + 30)  # fmt: skip
    out = work / "raw.jsonl"
    cmd = [sys.executable, str(peers / "bench.py"), "--label", label, "--server", label,
           "--endpoint", "GET segment", "--workers", workers, "--pids", ",".join(map(str, pids)),
           "--url", url + "/", "-t2", f"-c{a.connections}", f"-d{a.duration}", "--warmup", "0",
           "--out", str(out), "--quiet-wait", str(a.quiet_wait), "--retries", str(a.retries),
           "--loadgen", " ".join([*wrk[:3], f"-d{a.duration}s", *wrk[3:]])]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, stdout=sys.stderr,
                   timeout=(int(a.quiet_wait) + a.duration + 60) * (int(a.retries) + 1))  # fmt: skip
    mine = [json.loads(x) for x in out.read_text().splitlines() if json.loads(x)["label"] == label]
    clean = [x for x in mine if not x["contaminated"]] or mine
    return max(clean, key=lambda x: x["rps"])


def print_table(rows: list[dict], connections: int) -> None:
    base = rows[0]["rps"]
    print(f"\n| run (nginx 1 worker, gatepass 1 worker, wrk -t2 -c{connections}) | req/s | "
          "vs no check | p50 ms | p99 ms | server CPU µs/req | errors |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        flag = " (disturbed)" if r["contaminated"] else ""
        us = r["server_cpu_cores"] * 1e6 / r["rps"] if r["rps"] else float("nan")
        print(f"| {r['label']}{flag} | {r['rps']:,.0f} | {r['rps'] / base:.2f} | "
              f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {us:.1f} | {r['errors_total']} |")  # fmt: skip


if __name__ == "__main__":
    main()
