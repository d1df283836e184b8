"""`lykta plugins`: which plugins this process loaded and the hash kinds each brings."""

from __future__ import annotations

from lykta.cli.common import JsonFlag, emit, friendly, print_table


@friendly
def plugins_command(as_json: JsonFlag = False) -> None:
    """List the loaded plugins and the hash kinds they provide."""
    from rich.table import Table

    from lykta.hashing.registry import hashers
    from lykta.plugins import plugin_manager

    manager = plugin_manager()
    kinds = {hasher.name: hasher for hasher in hashers()}
    rows = []
    for name, plugin in manager.list_name_plugin():
        hook = getattr(plugin, "lykta_hashers", None)
        provided = [cls.name for cls in hook()] if callable(hook) else []
        hooks = sorted(h.name for h in manager.get_hookcallers(plugin) or [])
        rows.append((name or repr(plugin), provided, hooks))
    if as_json:
        for name, provided, hooks in rows:
            emit({"plugin": name, "hash_kinds": provided, "hooks": hooks})
        return
    table = Table("plugin", "hash kinds", "hooks")
    for name, provided, hooks in rows:
        described = ", ".join(
            f"{kind} ({'distance' if kinds[kind].similarity else 'exact'})" for kind in provided
        )
        table.add_row(name, described, ", ".join(hooks))
    print_table(table)
