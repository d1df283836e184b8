"""HMA-compatible routes: a client written for Meta's hasher-matcher-actioner (OpenMediaMatch),
such as ROOST Coop, can point at Lykta instead.

Paths, parameters, bodies, response shapes and status codes follow HMA's `/h`, `/m` and `/c`
blueprints (one module each here, plus `/status`); errors carry HMA's `{"message": ...}` (and
Lykta's `detail`). Unlike HMA every route needs a bearer token: matcher scope for hashing and
look-ups, curator scope for `/c`. Media is fetched by URL only when `LYKTA_HMA_FETCH_URLS`
allows it. See docs/hma.md.
"""

from __future__ import annotations

from fastapi import APIRouter

from lykta.api.hma import curation, exchanges, hashing, matching, status
from lykta.api.hma.errors import HmaRoute

router = APIRouter(tags=["hma"], route_class=HmaRoute)
for part in (status, hashing, matching, curation, exchanges):
    router.include_router(part.router)

__all__ = ["router"]
