"""The protected example API."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from gatepass.core.access_token import AccessClaims
from gatepass.server.deps import bearer

router = APIRouter()


@router.get("/api/profile")
async def profile(claims: AccessClaims = Depends(bearer())) -> dict[str, object]:
    return {
        "message": f"Welcome user {claims.sub}",
        "sub": claims.sub,
        "roles": sorted(claims.roles),
        "scope": claims.scope_str,
    }
