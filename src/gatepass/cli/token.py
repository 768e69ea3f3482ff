"""``gatepass token inspect``: a token's header and claims, its DPoP binding (RFC 9449 §6.1),
and whether it verifies."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from gatepass.cli.common import fmt_time


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    tok = sub.add_parser("token", help="tokens").add_subparsers(
        dest="token_command", required=True, metavar="ACTION"
    )
    ti = tok.add_parser(
        "inspect",
        help="show a token's header and claims, and whether it verifies",
        parents=[common],
    )
    ti.add_argument("token", help="the token ('-' reads it from stdin)")
    ti.add_argument("--json", action="store_true")


async def _token_inspect(svc: Any, args: argparse.Namespace) -> int:
    from gatepass.core import jose
    from gatepass.oauth.id_tokens import verify_hint
    from gatepass.sdk.errors import VerifierError

    token = sys.stdin.readline().strip() if args.token == "-" else args.token.strip()
    parts = token.split(".")
    report: dict[str, Any] = {"header": None, "claims": None}
    if len(parts) == 3 and len(token) <= jose.MAX_TOKEN_BYTES:
        for name, seg in (("header", parts[0]), ("claims", parts[1])):
            try:
                report[name] = json.loads(jose.b64url_decode(seg))
            except (jose.JoseError, ValueError, UnicodeDecodeError):
                report[name] = None
    report["dpop_jkt"] = _dpop_binding(report["claims"])
    try:
        svc.verifier.verify(token)
        report["verified"], report["reason"] = True, None
    except VerifierError as exc:
        report["verified"] = False
        report["reason"] = getattr(exc, "reason", type(exc).__name__)
    # an OpenID Connect ID token of this server (checked with the ID-token keys only): it is
    # never an access token, whatever it says
    report["id_token"] = verify_hint(svc, token) is not None
    if args.json:
        print(json.dumps(report))
    else:
        if report["header"] is None:
            print("not a JWT (three base64url parts of JSON)")
        else:
            print("header: " + json.dumps(report["header"], indent=2))
            print("claims: " + json.dumps(report["claims"], indent=2))
            exp = report["claims"].get("exp") if isinstance(report["claims"], dict) else None
            if isinstance(exp, int | float):
                print(f"expires: {fmt_time(exp)}")
            jkt = report["dpop_jkt"]
            print(
                f"binding: DPoP, key thumbprint {jkt} (usable only with a proof by that key)"
                if jkt
                else "binding: none (a bearer token: whoever holds it can use it)"
            )
        verdict = "verifies" if report["verified"] else f"does NOT verify ({report['reason']})"
        print(f"as an access token, against the local keys, issuer and audience: {verdict}")
        if report["id_token"]:
            print("an ID token signed by this server's ID-token key (not an access token)")
    return 0 if report["verified"] else 1


def _dpop_binding(claims: object) -> str | None:
    """The DPoP key thumbprint a token is bound to (RFC 9449 §6.1 ``cnf.jkt``), or None."""
    from gatepass.core import rfc9449

    try:
        return rfc9449.binding(claims) if isinstance(claims, dict) else None
    except ValueError:
        return None


HANDLERS: dict[tuple[str, str], Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    ("token", "inspect"): _token_inspect,
}
