"""`lykta plugins`: which plugins this process loaded, and the hash kinds and exchanges each
brings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lykta.cli.common import JsonFlag, emit, friendly, print_table

if TYPE_CHECKING:
    from lykta.hashing.base import Hasher


@friendly
def plugins_command(as_json: JsonFlag = False) -> None:
    """List the loaded plugins and the hash kinds and exchanges they provide."""
    from rich.table import Table

    from lykta.hashing.registry import hashers
    from lykta.plugins import plugin_manager

    manager = plugin_manager()
    kinds = {hasher.name: hasher for hasher in hashers()}
    rows = []
    for name, plugin in manager.list_name_plugin():
        provided = [cls.name for cls in _provided(plugin, "lykta_hashers")]
        exchanges = [cls.name for cls in _provided(plugin, "lykta_exchanges")]
        hooks = sorted(h.name for h in manager.get_hookcallers(plugin) or [])
        rows.append((name or repr(plugin), provided, exchanges, hooks))
    if as_json:
        for name, provided, exchanges, hooks in rows:
            emit({"plugin": name, "hash_kinds": provided, "exchanges": exchanges, "hooks": hooks})
        return
    table = Table("plugin", "hash kinds", "exchanges", "hooks")
    for name, provided, exchanges, hooks in rows:
        described = ", ".join(f"{kind} ({_compared_by(kinds[kind])})" for kind in provided)
        table.add_row(name, described, ", ".join(exchanges), ", ".join(hooks))
    print_table(table)


def _compared_by(hasher: Hasher) -> str:
    if hasher.local_features:
        return "verified local features"
    return "distance" if hasher.similarity else "exact"


def _provided(plugin: object, hook_name: str) -> list[Any]:
    hook = getattr(plugin, hook_name, None)
    return list(hook()) if callable(hook) else []
