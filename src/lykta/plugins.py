"""Plugins: how built-in and third-party code adds hash kinds and exchanges and hears what
the core does.

Built-ins register through the very same hooks a third-party package uses, so a new hash
kind or exchange is one class plus one hook implementation, inside Lykta or out.
Third-party packages declare an entry point in the group ``lykta.plugins``; the hook
specifications below are the whole contract (see docs/plugins.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from lykta.exchanges.base import Exchange
    from lykta.hashing.base import Hasher

PROJECT = "lykta"
ENTRY_POINT_GROUP = "lykta.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class LyktaHooks:
    """The hook specifications. Every hook takes keyword arguments only (pluggy's rule)."""

    @hookspec
    def lykta_hashers(self) -> list[type[Hasher]]:  # type: ignore[empty-body]
        """Hash kinds this plugin provides, as ``Hasher`` subclasses with a unique ``name``."""

    @hookspec
    def lykta_exchanges(self) -> list[type[Exchange]]:  # type: ignore[empty-body]
        """Hash-sharing programmes this plugin provides, as ``Exchange`` subclasses whose
        ``name`` is unique and is their python-threatexchange API's ``get_name()``."""

    @hookspec
    def lykta_match_found(self, core: Any, content: Any, result: Any) -> None:
        """A look-up matched. ``content`` describes what was looked up (a path, an upload's
        name, a hash), ``result`` is the ``LookupResult``. Called after the look-up returns
        its answer to the caller's thread; keep it quick or hand work to a queue."""

    @hookspec
    def lykta_bank_changed(self, core: Any, bank: str, change: str) -> None:
        """A bank was created, updated, deleted or had content added or removed
        (``change`` is one of ``created``, ``updated``, ``deleted``, ``content_added``,
        ``content_removed``, ``content_updated``), after the change committed."""


_manager: pluggy.PluginManager | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager: built-ins first, then installed entry points."""
    global _manager
    if _manager is None:
        manager = pluggy.PluginManager(PROJECT)
        manager.add_hookspecs(LyktaHooks)
        # Imported here: the built-in plugin imports the hashers, which use this module's
        # markers.
        from lykta.hashing import builtin

        manager.register(builtin, name="lykta.builtin")
        manager.register(_BuiltinExchanges(), name="lykta.builtin_exchanges")
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        _manager = manager
    return _manager


class _BuiltinExchanges:
    """Lykta's own exchanges, through the hook a third-party plugin uses."""

    @hookimpl
    def lykta_exchanges(self) -> list[type[Exchange]]:
        # Imported when the exchanges are first asked for: python-threatexchange's clients
        # take seconds to import, which a command that never syncs should not pay.
        from lykta.exchanges.builtin import BUILTIN_EXCHANGES

        return list(BUILTIN_EXCHANGES)
