"""The exchanges Lykta can follow, gathered from the plugins and looked up by name."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from lykta.errors import InvalidInput, LyktaError
from lykta.exchanges.base import Exchange
from lykta.plugins import plugin_manager

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def check_exchanges(classes: Iterable[type[Exchange]]) -> dict[str, Exchange]:
    """Exchanges by name; a malformed or repeated name is a programming error and raises."""
    by_name: dict[str, Exchange] = {}
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, Exchange)):
            raise ValueError(f"{cls!r} is not an Exchange subclass")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"exchange {cls.__name__}: name {name!r} is not lower_snake")
        if name in by_name:
            raise ValueError(f"exchange name {name!r} is taken by {type(by_name[name]).__name__}")
        # The name is stored on every exchange row and is the API's name in HMA's routes.
        if cls.api_cls.get_name() != name:
            raise ValueError(f"exchange {name!r} wraps API {cls.api_cls.get_name()!r}")
        by_name[name] = cls()
    return by_name


@cache
def _registry() -> dict[str, Exchange]:
    # Plugins answer in reverse registration order; the built-ins come first in listings.
    answers = reversed(plugin_manager().hook.lykta_exchanges())
    try:
        return check_exchanges(cls for found in answers for cls in found)
    except ValueError as error:
        # An installed plugin's fault, not Lykta's: every door says so in one line.
        raise LyktaError(f"cannot register the plugins' exchanges: {error}") from None


def refresh() -> None:
    """Forget the gathered exchanges, after a plugin was registered at run time (tests do)."""
    _registry.cache_clear()


def get_exchange(name: str) -> Exchange:
    try:
        return _registry()[name]
    except KeyError:
        known = ", ".join(exchange_names())
        raise InvalidInput(f"no exchange API named {name!r} (known: {known})") from None


def exchange_names() -> list[str]:
    return list(_registry())
