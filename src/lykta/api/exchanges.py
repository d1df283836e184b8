"""Exchanges: banks that follow hash-sharing programmes, and their syncs."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from lykta.api.deps import Core, Curator
from lykta.api.schemas import ExchangeIn, errors
from lykta.errors import NotFound
from lykta.exchanges.schedule import sync_in_background
from lykta.outputs import ExchangeOut

router = APIRouter(prefix="/api/v1/exchanges", tags=["exchanges"], responses=errors(401, 403))


@router.get("", response_model=list[ExchangeOut])
def list_exchanges(core: Core, _: Curator) -> list[ExchangeOut]:
    """Every exchange with where its syncs stand; credentials are named, never shown."""
    return [ExchangeOut.of(info) for info in core.exchanges.list_exchanges()]


@router.post("", response_model=ExchangeOut, status_code=201, responses=errors(400, 409, 422, 503))
def add_exchange(core: Core, _: Curator, body: ExchangeIn) -> ExchangeOut:
    """Make a bank follow an exchange (the bank is created when missing)."""
    info = core.exchanges.add(
        body.bank, body.api, config=body.config, credentials=body.credentials,
        enabled=body.enabled,
    )  # fmt: skip
    return ExchangeOut.of(info)


@router.get("/{bank}", response_model=ExchangeOut, responses=errors(404, 422))
def get_exchange(core: Core, _: Curator, bank: str) -> ExchangeOut:
    """A bank's exchange and its sync status: checkpoint, last sync, a sync under way."""
    return ExchangeOut.of(core.exchanges.get(bank))


@router.post(
    "/{bank}/sync", response_model=ExchangeOut, status_code=202, responses=errors(404, 409, 422)
)
async def sync_exchange(core: Core, _: Curator, bank: str) -> ExchangeOut:
    """Start a sync in the background (never on the request); follow it with
    `GET /api/v1/exchanges/{bank}`. 409 while one runs."""
    await run_in_threadpool(sync_in_background, core.exchanges, bank)
    return ExchangeOut.of(await run_in_threadpool(core.exchanges.get, bank))


@router.delete("/{bank}", status_code=204, responses=errors(404, 422))
def remove_exchange(core: Core, _: Curator, bank: str) -> Response:
    """Stop following the bank's exchange; the bank keeps what it holds."""
    if not core.exchanges.remove(bank):
        raise NotFound(f"bank {bank!r} follows no exchange")
    return Response(status_code=204)
