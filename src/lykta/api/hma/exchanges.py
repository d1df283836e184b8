"""HMA's exchange routes (part of its `/c` blueprint): exchanges named after the bank they
fill, the installed exchange APIs, their credentials and schemas, and fetch status."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from threatexchange.utils import dataclass_json

from lykta.api.deps import Core, Curator
from lykta.api.hma.common import read_json_body
from lykta.api.hma.errors import HmaError, HmaRoute, hma_errors
from lykta.app import Lykta
from lykta.errors import InvalidInput, NotFound
from lykta.exchanges import ExchangeInfo, exchange_names, get_exchange
from lykta.exchanges.base import LYKTA_FIELDS
from lykta.exchanges.schema import exchange_schema

router = APIRouter(route_class=HmaRoute, responses=hma_errors(401, 403))
# HMA's rule for exchange (bank) names.
EXCHANGE_NAME = re.compile(r"^[A-Z0-9_]+$")


class ExchangeUpdateIn(BaseModel):
    enabled: bool | None = None


def _exchange(core: Lykta, name: str) -> ExchangeInfo:
    try:
        return core.exchanges.get(name)
    except NotFound:
        raise HmaError(404, f"Exchange '{name}' not found") from None


def _collab(info: ExchangeInfo) -> dict[str, Any]:
    """The exchange as HMA shows it: its python-threatexchange config, serialised."""
    config = {k: v for k, v in info.config.items() if k not in LYKTA_FIELDS}
    collab = get_exchange(info.api).collab(info.bank, config)
    collab.enabled = info.enabled
    dumped: dict[str, Any] = dataclass_json.dataclass_dump_dict(collab)
    return dumped


def _api(name: str, status: int = 400) -> str:
    if name not in exchange_names():
        raise HmaError(status, f"no such Exchange API '{name}'")
    return name


@router.get("/c/exchanges/apis")
def exchange_api_list(_: Curator) -> list[str]:
    return exchange_names()


def _auth_status(core: Lykta, api: str) -> dict[str, bool]:
    return {
        "supports_authentification": get_exchange(api).credential_cls is not None,
        "has_set_authentification": core.exchanges.api_credentials_set(api),
    }


@router.get("/c/exchanges/api/{api_name}", responses=hma_errors(400))
def exchange_api_config_get(core: Core, _: Curator, api_name: str) -> dict[str, bool]:
    return _auth_status(core, _api(api_name))


@router.post("/c/exchanges/api/{api_name}", responses=hma_errors(400, 503))
async def exchange_api_config_update(
    core: Core, _: Curator, api_name: str, request: Request
) -> dict[str, bool]:
    """Set the API's credentials (``credential_json``; empty forgets them). Lykta stores
    them sealed under LYKTA_EXCHANGE_KEY, and answers 503 without it (see docs/hma.md)."""
    api = _api(api_name)
    body = await read_json_body(request)
    if not isinstance(body, dict):
        raise HmaError(400, "this endpoint expects a json object payload")
    fields = body.get("credential_json")
    if fields is not None:
        if not isinstance(fields, dict):
            raise HmaError(400, "credential_json must be an object")
        if fields or get_exchange(api).credential_cls is not None:
            core.exchanges.set_api_credentials(api, fields)
    return _auth_status(core, api)


@router.get("/c/exchanges/api/{api_name}/schema", responses=hma_errors(404))
def exchange_api_schema_get(_: Curator, api_name: str) -> dict[str, Any]:
    return exchange_schema(get_exchange(_api(api_name, 404)))


@router.post("/c/exchanges", status_code=201, responses=hma_errors(400, 413, 503))
async def exchange_create(core: Core, _: Curator, request: Request) -> dict[str, str]:
    """Create an exchange and the bank of the same name it fills."""
    body = await read_json_body(request)
    if not isinstance(body, dict):
        raise HmaError(400, "this endpoint expects a json object payload")
    bank = body.get("bank")
    if not isinstance(bank, str):
        raise HmaError(400, "Field `bank` is required")
    if not EXCHANGE_NAME.match(bank) or len(bank) > 128:
        raise HmaError(400, "Field `bank` must match /^[A-Z0-9_]+$/")
    api_json = body.get("api_json", {})
    if not isinstance(api_json, dict):
        raise HmaError(400, "Field `api_json` must be object")
    api = body.get("api")
    if api is None:
        raise HmaError(400, "Field `api_type` is required")
    if not isinstance(api, str) or api not in exchange_names():
        raise HmaError(400, f"No such exchange type '{api}'")
    config = {k: v for k, v in api_json.items() if k not in ("name", "api", "enabled")}
    try:
        enabled = api_json.get("enabled", True) is not False
        core.exchanges.add(bank, api, config=config, enabled=enabled)
    except InvalidInput as error:
        raise HmaError(400, f"Failed to parse `api_json` - {error.message}") from None
    return {"message": "Created successfully"}


@router.get("/c/exchanges")
def exchange_list(core: Core, _: Curator) -> list[str]:
    return [info.bank for info in core.exchanges.list_exchanges()]


@router.get("/c/exchange/{exchange_name}", responses=hma_errors(404))
def exchange_show(core: Core, _: Curator, exchange_name: str) -> dict[str, Any]:
    return _collab(_exchange(core, exchange_name))


@router.get("/c/exchange/{exchange_name}/status", responses=hma_errors(404))
def exchange_fetch_status(core: Core, _: Curator, exchange_name: str) -> dict[str, Any]:
    status = _exchange(core, exchange_name).status
    return {
        "checkpoint_ts": status.checkpoint_ts,
        "running_fetch_start_ts": _unix(status.running_since),
        "last_fetch_complete_ts": _unix(status.last_finished_at),
        "last_fetch_succeeded": status.last_succeeded,
        "up_to_date": status.up_to_date,
        "fetched_items": status.items,
    }


@router.put("/c/exchange/{exchange_name}", responses=hma_errors(400, 404))
def exchange_update(
    core: Core, _: Curator, exchange_name: str, body: ExchangeUpdateIn
) -> dict[str, Any]:
    _exchange(core, exchange_name)
    if body.enabled is not None:
        core.exchanges.set_enabled(exchange_name, body.enabled)
    return _collab(_exchange(core, exchange_name))


@router.delete("/c/exchange/{exchange_name}")
def exchange_delete(core: Core, _: Curator, exchange_name: str) -> dict[str, str]:
    """As in HMA, deleting an exchange that does not exist succeeds. Unlike HMA, the bank
    and what it holds stay (docs/hma.md)."""
    core.exchanges.remove(exchange_name)
    return {"message": "Exchange deleted"}


def _unix(moment: Any) -> int | None:
    if moment is None:
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
