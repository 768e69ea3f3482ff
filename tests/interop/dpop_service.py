"""An SDK-protected FastAPI service for the interop test: GET /things needs a gatepass access
token (Bearer, or DPoP with its proof). Usage: python dpop_service.py ISSUER PORT"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import Depends, FastAPI

from gatepass.sdk import AccessClaims, Verifier
from gatepass.sdk.fastapi import BearerAuth

issuer, port = sys.argv[1], int(sys.argv[2])
verifier = Verifier.from_issuer(issuer, audience="gatepass")
auth = BearerAuth(verifier)  # htu from the request itself: no proxy in front here
app = FastAPI()


@app.get("/things")
async def things(claims: AccessClaims = Depends(auth)) -> dict[str, object]:
    return {"sub": claims.sub, "dpop_jkt": claims.jkt}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
