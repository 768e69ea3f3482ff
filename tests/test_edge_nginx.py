"""The worked setup of docs/nginx/: Debian's nginx serving a folder of HLS files behind
``auth_request`` to a real ``gatepass serve``; and nginx alone checking ``format: nginx`` links.

nginx runs as a child process with its own prefix, pid file and temp dirs in tmp_path, on a free
loopback port, and is stopped by its pid. Without nginx the test is skipped, unless CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from conftest import need_binary
from servers import Server, base_env, cli, free_port, wait_until

pytestmark = pytest.mark.slow
CONF = Path(__file__).resolve().parent.parent / "docs" / "nginx" / "gatepass-hls.conf"
SECURE_LINK_SECRET = "nginx-link-secret-0123456789"
PASSWORD = "correct horse battery"


def nginx_binary() -> str:
    return need_binary("nginx", "apt-get install -y nginx-light")


def media(root: Path) -> None:
    for vid in ("42", "420", "43"):
        d = root / "videos" / vid
        d.mkdir(parents=True)
        (d / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n720p.m3u8\n")
        (d / "720p.m3u8").write_text(
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg0.ts\n#EXTINF:4.0,\nseg1.ts\n"
            "#EXT-X-ENDLIST\n"
        )
        for i in range(2):
            (d / f"seg{i}.ts").write_bytes(f"segment {vid}/{i}".encode())
    for vid in ("42", "420", "43"):  # the same stream under /hls/, checked by nginx alone
        shutil.copytree(root / "videos" / vid, root / "hls" / vid)
    (root / "files").mkdir()
    (root / "files" / "report.pdf").write_bytes(b"%PDF-1.4 report")
    (root / "secret.txt").write_text("never served")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    binary = nginx_binary()
    base = tmp_path_factory.mktemp("edge")
    env = base_env(base / "data", secure_link_secret=SECURE_LINK_SECRET)
    cli(
        env, "user", "create", "alice", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
    )
    gatepass = Server(base / "data", secure_link_secret=SECURE_LINK_SECRET).start()
    prefix, root = base / "nginx", base / "media"
    prefix.mkdir()
    media(root)
    port = free_port()
    conf = CONF.read_text()
    for name, value in {
        "@PREFIX@": str(prefix),
        "@LISTEN@": f"127.0.0.1:{port}",
        "@GATEPASS@": f"127.0.0.1:{gatepass.port}",
        "@MEDIA_ROOT@": str(root),
        "@SECURE_LINK_SECRET@": SECURE_LINK_SECRET,
    }.items():
        conf = conf.replace(name, value)
    assert "@" not in re.sub(r"#.*", "", conf)
    (prefix / "nginx.conf").write_text(conf)
    cmd = [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    test = subprocess.run([*cmd, "-t", "-q"], capture_output=True, text=True, timeout=30)
    assert test.returncode == 0, test.stderr
    # As root, nginx's workers would switch to "nobody", who cannot read pytest's 0700 tmp dirs.
    globals_ = "daemon off;" + (" user root;" if os.geteuid() == 0 else "")
    nginx = subprocess.Popen(
        [*cmd, "-g", globals_], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                httpx.get(url + "/", timeout=1)
            except httpx.HTTPError:
                return False
            return True

        assert wait_until(up, timeout=10), "nginx did not start"
        yield {"env": env, "url": url, "gatepass": gatepass}
    finally:
        nginx.send_signal(signal.SIGQUIT)  # graceful stop of the master, which ends its workers
        try:
            nginx.wait(timeout=15)
        except subprocess.TimeoutExpired:
            nginx.kill()
            nginx.wait(timeout=15)
        gatepass.stop()


def sign(stack: dict, *args: str) -> dict:
    return json.loads(cli(stack["env"], "sign-url", *args, "--json"))


def get(stack: dict, uri: str) -> httpx.Response:
    return httpx.get(stack["url"] + uri, timeout=10)


def uri_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_signed_prefix_fetches_playlist_and_segments(stack: dict) -> None:
    q = sign(stack, "/videos/42/", "--ttl", "300")["query"]
    master = get(stack, f"/videos/42/master.m3u8?{q}")
    assert master.status_code == 200
    assert master.headers["content-type"] == "application/vnd.apple.mpegurl"
    # the playlist lists its URIs with the grant appended, as a player will request them
    assert f"720p.m3u8?{q}\n" in master.text
    variant = get(stack, f"/videos/42/720p.m3u8?{q}")
    assert variant.status_code == 200
    segments = [line for line in variant.text.splitlines() if line.startswith("seg")]
    assert segments == [f"seg0.ts?{q}", f"seg1.ts?{q}"]
    seg = get(stack, "/videos/42/" + segments[1])
    assert seg.status_code == 200 and seg.content == b"segment 42/1"


def test_unsigned_tampered_and_out_of_prefix_requests_get_403(stack: dict) -> None:
    q = sign(stack, "/videos/42/", "--ttl", "300")["query"]
    assert get(stack, "/videos/42/seg0.ts").status_code == 403
    assert get(stack, "/videos/42/seg0.ts?exp=9999999999&kid=x&sig=" + "A" * 43).status_code == 403
    sig = q.rsplit("sig=", 1)[1]
    tampered = q.replace(sig, ("B" if sig[0] != "B" else "C") + sig[1:])
    assert get(stack, f"/videos/42/seg0.ts?{tampered}").status_code == 403
    exp = re.search(r"exp=(\d+)", q).group(1)  # type: ignore[union-attr]
    assert get(stack, f"/videos/42/seg0.ts?{q.replace(exp, str(int(exp) + 60))}").status_code == 403
    for path in (
        "/videos/420/seg0.ts",
        "/videos/43/seg0.ts",
        "/videos/42/../43/seg0.ts",
        "/videos/42/%2e%2e/43/seg0.ts",
        "/videos/42/..%2f43/seg0.ts",
        "/videos/42%2f..%2f43/seg0.ts",
        "/videos/42//seg0.ts",
    ):
        r = get(stack, f"{path}?{q}")
        assert r.status_code == 403, (path, r.status_code)
        assert b"segment" not in r.content
    # nginx itself resolves this one to /secret.txt, outside /videos/: not found, not served
    r = get(stack, f"/videos/42/%2e%2e/%2e%2e/secret.txt?{q}")
    assert r.status_code == 404 and b"never served" not in r.content


def test_expired_url_gets_403(stack: dict) -> None:
    # long enough for the CLI process to exit and the first GET to land on a busy machine (a
    # 1 s URL had expired before its first GET when the machine was loaded)
    q = sign(stack, "/videos/42/", "--ttl", "10")["query"]
    exp = int(re.search(r"exp=(\d+)", q).group(1))  # type: ignore[union-attr]
    assert get(stack, f"/videos/42/seg0.ts?{q}").status_code == 200  # good until it expires
    time.sleep(max(0.0, exp - time.time()) + 0.1)
    assert get(stack, f"/videos/42/seg0.ts?{q}").status_code == 403


def test_exact_path_grant_covers_one_file(stack: dict) -> None:
    url = sign(stack, "/videos/42/seg0.ts")["url"]
    assert get(stack, uri_of(url)).content == b"segment 42/0"
    assert get(stack, uri_of(url).replace("seg0.ts", "seg1.ts")).status_code == 403


def test_playback_jwt_url_plays(stack: dict) -> None:
    base = stack["gatepass"].url
    token = httpx.post(
        base + "/oauth/token",
        data={"grant_type": "password", "username": "alice", "password": PASSWORD},
        timeout=10,
    ).json()["access_token"]
    r = httpx.post(
        base + "/signed-urls",
        json={"video_id": "42", "format": "jwt"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    uri = uri_of(r.json()["url"])
    assert uri.startswith("/videos/42?token=")
    # /videos/42 -> 301 /videos/42/?token=… -> master.m3u8, every URI in it carrying the token
    playlist = httpx.get(stack["url"] + uri, timeout=10, follow_redirects=True)
    assert playlist.status_code == 200 and "720p.m3u8?token=" in playlist.text
    assert get(stack, uri.replace("/videos/42?", "/videos/42/seg0.ts?")).status_code == 200
    assert get(stack, uri.replace("/videos/42?", "/videos/43/seg0.ts?")).status_code == 403
    assert get(stack, f"/videos/42/seg0.ts?token={token}").status_code == 403  # access token


def test_nginx_alone_checks_secure_link_urls(stack: dict) -> None:
    out = sign(stack, "/files/report.pdf", "--format", "nginx")
    uri = uri_of(out["url"])
    assert re.fullmatch(r"/files/report\.pdf\?md5=[A-Za-z0-9_-]{22}&expires=\d+", uri)
    assert get(stack, uri).content == b"%PDF-1.4 report"
    assert get(stack, "/files/report.pdf").status_code == 403
    md5 = re.search(r"md5=([^&]+)", uri).group(1)  # type: ignore[union-attr]
    assert get(stack, uri.replace(md5, "A" * 22)).status_code == 403
    past = int(time.time()) - 10
    from gatepass.oauth.signed_urls import secure_link_md5

    md5 = secure_link_md5(SECURE_LINK_SECRET, "/files/report.pdf", past)
    assert get(stack, f"/files/report.pdf?md5={md5}&expires={past}").status_code == 410


# -- nginx alone, prefix links (format nginx with a prefix: /hls/ in gatepass-hls.conf) ----------
def raw_get(stack: dict, uri: str) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (httpx would resolve dot segments)."""
    conn = HTTPConnection(urlsplit(stack["url"]).netloc, timeout=10)
    try:
        conn.request("GET", uri)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_nginx_alone_prefix_link_plays_playlist_and_segments(stack: dict) -> None:
    out = sign(stack, "/hls/42/", "--format", "nginx", "--ttl", "300")
    q = out["query"]
    assert re.fullmatch(r"md5=[A-Za-z0-9_-]{22}&expires=\d+&prefix=/hls/42/", q)
    assert uri_of(out["url"]) == f"/hls/42/?{q}"
    status, master = raw_get(stack, f"/hls/42/?{q}")  # index master.m3u8
    assert status == 200 and f"720p.m3u8?{q}\n".encode() in master
    status, variant = raw_get(stack, f"/hls/42/720p.m3u8?{q}")
    assert status == 200
    segments = [line for line in variant.decode().splitlines() if line.startswith("seg")]
    assert segments == [f"seg0.ts?{q}", f"seg1.ts?{q}"]
    assert raw_get(stack, "/hls/42/" + segments[1]) == (200, b"segment 42/1")
    assert raw_get(stack, f"/hls/42//seg0.ts?{q}") == (200, b"segment 42/0")  # merged: in it


@pytest.mark.parametrize(
    "path",
    [
        "/hls/420/seg0.ts",  # the prefix ends with "/": not a string prefix of the next id
        "/hls/43/seg0.ts",
        "/hls/42/../43/seg0.ts",
        "/hls/42/./../43/seg0.ts",
        "/hls/42/%2e%2e/43/seg0.ts",
        "/hls/42/%2E%2E/43/seg0.ts",
        "/hls/42/.%2e/43/seg0.ts",
        "/hls/42/%2e./43/seg0.ts",
        "/hls/42/..%2f43/seg0.ts",
        "/hls/42/..%2F43/seg0.ts",
        "/hls/42%2f..%2f43/seg0.ts",
        "/hls/42/%2e%2e%2f43/seg0.ts",
        "/hls/42/%2e%2e%2f%2e%2e%2f/hls/43/seg0.ts",
        "/hls/42/seg0.ts/../../43/seg0.ts",
        "/hls/42/%5c..%5c43/seg0.ts",  # a backslash is a name character to Linux, not a separator
        "/hls/42/%252e%252e/43/seg0.ts",  # double encoding: nginx decodes once, a literal %2e%2e
        "/hls/4%32/../43/seg0.ts",
    ],
)
def test_nginx_alone_prefix_link_covers_nothing_outside_its_prefix(stack: dict, path: str) -> None:
    q = sign(stack, "/hls/42/", "--format", "nginx", "--ttl", "300")["query"]
    status, body = raw_get(stack, f"{path}?{q}")
    assert status in (403, 404), (path, status, body[:80])
    assert b"segment 43" not in body and b"segment 420" not in body


def test_nginx_alone_prefix_link_query_cannot_be_changed(stack: dict) -> None:
    from gatepass.oauth.signed_urls import secure_link_md5

    q = sign(stack, "/hls/42/", "--format", "nginx", "--ttl", "300")["query"]
    md5 = re.search(r"md5=([^&]+)", q).group(1)  # type: ignore[union-attr]
    exp = int(re.search(r"expires=(\d+)", q).group(1))  # type: ignore[union-attr]
    seg43 = "/hls/43/seg0.ts"
    for query in (
        q.replace("prefix=/hls/42/", "prefix=/hls/"),  # widened
        q.replace("prefix=/hls/42/", "prefix=/hls/4"),
        q.replace("prefix=/hls/42/", "prefix=/hls/43/"),
        q.replace("prefix=/hls/42/", "prefix=%2Fhls%2F43%2F"),
        f"prefix=/hls/43/&{q}",  # nginx reads the first: another MD5
        f"PREFIX=/hls/43/&{q}",  # another spelling of the name first
        f"md5={md5}&expires={exp}",  # no prefix
        q.replace(f"expires={exp}", f"expires={exp + 3600}"),
    ):
        assert raw_get(stack, f"{seg43}?{query}")[0] == 403, query
        assert raw_get(stack, f"/hls/42/seg0.ts?{query}")[0] == 403, query
    # a second prefix after the signed one is ignored: still confined to /hls/42/
    assert raw_get(stack, f"{seg43}?{q}&prefix=/hls/43/")[0] == 403
    assert raw_get(stack, f"/hls/42/seg0.ts?{q}&prefix=/hls/43/")[0] == 200
    # an exact link for the directory /hls/42/ is not a prefix link for it (the ":prefix:" tag)
    exact = sign(stack, "/hls/42/", "--format", "hmac")  # sanity: the path is signable
    assert exact["url"]
    md5_exact = secure_link_md5(SECURE_LINK_SECRET, "/hls/42/", exp)
    forged = f"md5={md5_exact}&expires={exp}&prefix=/hls/42/"
    assert raw_get(stack, f"/hls/42/seg0.ts?{forged}")[0] == 403
    # and a prefix link is no exact link in /files/, nor the other way round
    assert raw_get(stack, f"/files/report.pdf?{q}")[0] == 403
    link = uri_of(sign(stack, "/files/report.pdf", "--format", "nginx")["url"])
    assert raw_get(stack, link.replace("/files/report.pdf", "/hls/42/seg0.ts"))[0] == 403
    # expired: 410, as for exact links
    past = int(time.time()) - 10
    old = secure_link_md5(SECURE_LINK_SECRET, "/hls/42/", past, prefix=True)
    assert raw_get(stack, f"/hls/42/seg0.ts?md5={old}&expires={past}&prefix=/hls/42/")[0] == 410
