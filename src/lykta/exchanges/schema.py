"""Field descriptions of an exchange API's settings and credentials, from their
dataclasses, for forms that build an exchange (HMA's `/c/exchanges/api/{api}/schema`)."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing as t
from typing import Any

from lykta.exchanges.base import Exchange

# Filled in from the exchange row, never asked for.
_FILLED_IN = frozenset({"name", "api", "enabled"})
_KINDS: dict[Any, str] = {str: "string", int: "number", float: "number", bool: "boolean"}


def _kind(hint: Any) -> tuple[str, list[Any] | None]:
    origin = t.get_origin(hint)
    if origin in (t.Union, types.UnionType):
        rest = [arg for arg in t.get_args(hint) if arg is not type(None)]
        if len(rest) == 1:
            return _kind(rest[0])
    if origin in (set, frozenset, list):
        [inner] = t.get_args(hint) or (str,)
        prefix = "list" if origin is list else "set"
        return f"{prefix}_of_{_kind(inner)[0]}", None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "enum", [member.value for member in hint]
    return _KINDS.get(hint, "string"), None


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return value


def fields_of(cls: type[Any], skip: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    hints = t.get_type_hints(cls)
    out = []
    for field in dataclasses.fields(cls):
        if not field.init or field.name in skip:
            continue
        kind, choices = _kind(hints.get(field.name, str))
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        out.append({
            "name": field.name, "type": kind, "required": required,
            "default": None if required else _default(field),
            "help": field.metadata.get("help", ""), "choices": choices,
        })  # fmt: skip
    return out


def exchange_schema(exchange: Exchange) -> dict[str, Any]:
    """{"config_schema": {"fields": [...]}, "credentials_schema": {"fields": [...]} or None}."""
    config = fields_of(exchange.config_cls, _FILLED_IN)
    if exchange.takes_base_url:
        config.append({
            "name": "base_url", "type": "string", "required": False, "default": None,
            "help": "Lykta: the server to fetch from instead of the programme's own (a proxy, "
            "a test server)", "choices": None,
        })  # fmt: skip
    credentials = exchange.credential_cls
    return {
        "config_schema": {"fields": config},
        "credentials_schema": None if credentials is None else {"fields": fields_of(credentials)},
    }
