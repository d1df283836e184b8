"""The exchanges Lykta can follow, by name."""

from __future__ import annotations

from functools import cache

from lykta.errors import InvalidInput
from lykta.exchanges.base import Exchange
from lykta.exchanges.builtin import BUILTIN_EXCHANGES


@cache
def _registry() -> dict[str, Exchange]:
    by_name: dict[str, Exchange] = {}
    for cls in BUILTIN_EXCHANGES:
        if cls.name in by_name:
            raise ValueError(f"exchange name {cls.name!r} is taken twice")
        if cls.api_cls.get_name() != cls.name:
            raise ValueError(f"exchange {cls.name!r} wraps API {cls.api_cls.get_name()!r}")
        by_name[cls.name] = cls()
    return by_name


def get_exchange(name: str) -> Exchange:
    try:
        return _registry()[name]
    except KeyError:
        known = ", ".join(exchange_names())
        raise InvalidInput(f"no exchange API named {name!r} (known: {known})") from None


def exchange_names() -> list[str]:
    return list(_registry())
