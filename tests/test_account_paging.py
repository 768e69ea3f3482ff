"""The lists that grow with use come a page at a time (``oauth/paging.py``): a user's sessions
and connected apps, in JSON (``GET /auth/sessions``, ``GET /auth/consents``, ``GET
/admin/users/{id}/sessions``) and on the account pages. Every row is seen once across the pages,
also when many rows share one moment (a frozen clock: the order falls back on the id), and a
cursor that is not one is a 400, never a 500."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from conftest import Harness
from gatepass.clock import FrozenClock
from gatepass.oauth.issuance import start_login
from test_account_pages import sign_in
from test_console_pages import signed_in

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
BAD_CURSORS = [
    "%%%",
    "WyJ4Il0",  # ["x"]: the wrong shape
    "WyJuYW4iLCJ4Il0",  # ["nan","x"]: not a moment
    "WzEsIngiXQ",  # [1,"x"]: a number where a string goes
    "A" * 600,
    "%00",
]


def logins(h: Harness, user_id: str, n: int, client_id: str = "gatepass") -> list[str]:
    """``n`` logins of the user started at the same moment, each from its own address (the
    ``n``-th from ``198.51.100.n``); their access tokens."""
    out = []
    for i in range(n):
        r = h.run(
            start_login,
            h.svc,
            user_id=user_id,
            roles=(),
            client_id=client_id,
            scope=frozenset({"profile"}),
            ip=f"198.51.100.{i}",
            user_agent=UA,
        )
        out.append(r.access_token)
    return out


def walk(h: Harness, path: str, key: str, token: str, limit: int) -> list[list[dict[str, Any]]]:
    pages = []
    url = f"{path}?limit={limit}"
    while url:
        r = h.client.get(url, headers=h.bearer(token))
        assert r.status_code == 200, r.text
        pages.append(r.json()[key])
        nxt = r.json()["next"]
        url = f"{path}?limit={limit}&cursor={nxt}" if nxt else ""
    return pages


def test_sessions_and_consents_in_json_pages(
    make_harness: Callable[..., Harness], database_url: str
) -> None:
    clock = FrozenClock()
    h = make_harness(clock=clock, database_url=database_url)
    h.create_user("alice", roles=("admin",))
    bob = h.create_user("bob")
    tokens = logins(h, bob.id, 5)
    clock.advance(10)
    tokens += logins(h, bob.id, 2)
    live = {r.id for r in h.run(h.svc.logins.of_user, bob.id, active_at=clock.now())}
    assert len(live) == 7

    pages = walk(h, "/auth/sessions", "sessions", tokens[-1], limit=3)
    ids = [s["id"] for page in pages for s in page]
    assert [len(p) for p in pages] == [3, 3, 1] and len(ids) == len(set(ids)) and set(ids) == live
    assert [s["created"] for page in pages for s in page] == sorted(
        s["created"] for page in pages for s in page
    )  # oldest first, as the list always was
    whole = h.client.get("/auth/sessions", headers=h.bearer(tokens[-1])).json()
    assert whole["next"] is None and {s["id"] for s in whole["sessions"]} == live
    assert sum(s["current"] for s in whole["sessions"]) == 1

    admin = h.admin_token()
    pages = walk(h, f"/admin/users/{bob.id}/sessions", "sessions", admin, limit=2)
    assert [s["id"] for page in pages for s in page] == ids

    names = []
    for i in range(5):
        client, _ = h.run(
            h.svc.clients.create,
            f"app {i}",
            now=clock.now(),
            grants=["password"],
            scopes=[],
            public=True,
            token_format="jwt",
        )
        h.run(h.svc.consents.allow, bob.id, client.id, frozenset({"profile"}), clock.now())
        names.append(f"app {i}")
    pages = walk(h, "/auth/consents", "consents", tokens[-1], limit=2)
    listed = [c["client_name"] for page in pages for c in page]
    assert sorted(listed) == names and [len(p) for p in pages] == [2, 2, 1]

    pages = walk(h, "/admin/clients", "clients", admin, limit=2)
    listed = [c["name"] for page in pages for c in page]
    assert sorted(n for n in listed if n.startswith("app ")) == names
    assert len(listed) == len(set(listed)) == len(h.run(h.svc.clients.list))

    paths = (
        "/auth/sessions",
        "/auth/consents",
        f"/admin/users/{bob.id}/sessions",
        "/admin/clients",
    )
    for path in paths:
        who = admin if path.startswith("/admin") else tokens[-1]
        for bad in [f"cursor={c}" for c in BAD_CURSORS] + ["limit=0", "limit=201", "limit=x"]:
            r = h.client.get(f"{path}?{bad}", headers=h.bearer(who))
            assert r.status_code == 400 and r.json()["error"] == "invalid_request", (path, bad)


def _rows(page: str, pattern: str) -> list[str]:
    return re.findall(pattern, page)


def _walk_pages(b: Any, path: str, pattern: str) -> tuple[list[list[str]], list[str]]:
    pages, texts = [], []
    url: str | None = path
    while url:
        r = b.get(url)
        assert r.status_code == 200, r.text
        pages.append(_rows(r.text, pattern))
        texts.append(r.text)
        found = re.search(r'<a href="([^"]+)" rel="next">', r.text)
        url = found.group(1).replace("&amp;", "&") if found else None
    return pages, texts


def test_account_pages_show_every_session_and_app_across_pages(gp: Harness) -> None:
    bob = gp.run(gp.svc.users.by_name, "bob")
    logins(gp, bob.id, 30)
    b = sign_in(gp)
    live = {r.id for r in gp.run(gp.svc.logins.of_user, bob.id, active_at=gp.svc.clock.now())}
    pages, texts = _walk_pages(b, "/account/sessions", r'href="/account/sessions/([^"/]+)/end"')
    seen = [sid for page in pages for sid in page]
    assert len(pages) == 2 and len(seen) == len(set(seen)) == len(live) - 1  # all but this one
    assert set(seen) < live
    assert "this device" in texts[0] and "this device" not in texts[1]
    assert "Sign out everywhere else" in texts[1] and 'rel="prev"' in texts[1]

    for i in range(27):
        client, _ = gp.run(
            gp.svc.clients.create,
            f"app {i:02}",
            now=gp.svc.clock.now(),
            grants=["password"],
            scopes=[],
            public=True,
            token_format="jwt",
        )
        gp.run(gp.svc.consents.allow, bob.id, client.id, frozenset(), gp.svc.clock.now())
    pages, _ = _walk_pages(b, "/account/apps", r'href="/account/apps/([^"/]+)/revoke"')
    seen = [cid for page in pages for cid in page]
    assert [len(p) for p in pages] == [25, 2] and len(set(seen)) == 27

    for path in ("/account/sessions", "/account/apps"):
        for bad in BAD_CURSORS[:-1]:  # a NUL is refused before any page (server/middleware.py)
            r = b.get(f"{path}?cursor={bad}")
            assert r.status_code == 400 and "<html" in r.text.lower(), (path, bad)
            assert "Traceback" not in r.text


def test_console_lists_of_clients_and_of_a_users_sessions_page_by_keyset(gp: Harness) -> None:
    bob = gp.run(gp.svc.users.by_name, "bob")
    logins(gp, bob.id, 27)
    for i in range(27):
        gp.run(
            gp.svc.clients.create,
            f"app {i:02}",
            now=gp.svc.clock.now(),
            grants=["password"],
            scopes=[],
            public=True,
            token_format="jwt",
        )
    alice = signed_in(gp)
    pages, _ = _walk_pages(alice, f"/console/users/{bob.id}", r"(198\.51\.100\.\d+)")
    seen = [ip for page in pages for ip in page]
    assert [len(p) for p in pages] == [25, 2] and len(set(seen)) == 27
    pages, _ = _walk_pages(alice, "/console/clients", r'href="/console/clients/(gpc_[^"/?]+)"')
    seen = [cid for page in pages for cid in page]
    total = len(gp.run(gp.svc.clients.list))
    assert len(pages) == 2 and len(seen) == len(set(seen)) == total
    for bad in BAD_CURSORS[:-1]:  # the console shows the first page for a cursor that is not one
        r = alice.get(f"/console/clients?cursor={bad}")
        assert r.status_code == 200 and "app 00" in r.text, bad
