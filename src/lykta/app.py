"""The core every door (HTTP, CLI, Python) shares: settings, database, banks, matcher, tokens.

Build one with `Lykta.open(settings)`; routers and commands call its services and never
reach into each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from lykta.auth.tokens import TokenRepository
from lykta.banks.service import BankService
from lykta.errors import InvalidInput, NotFound
from lykta.hashing.photo import PhotoHashes, hash_photo
from lykta.hashing.registry import check_stored_kinds, get_hasher
from lykta.matching import LookupResult, Matcher, QueryHash
from lykta.plugins import plugin_manager
from lykta.settings import Settings, load_settings
from lykta.store.db import make_engine, migrate, session_factory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContentLookup:
    hashes: PhotoHashes
    result: LookupResult


class Lykta:
    def __init__(self, settings: Settings, engine: Engine, *, snapshots: bool) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = session_factory(engine)
        self.matcher = Matcher(
            self.sessions,
            settings.index_dir if snapshots and settings.snapshot_index else None,
            match_cap=settings.max_matches,
        )
        # A core opened only to manage banks (most CLI commands) never loads the indexes.
        self.live = False
        self.banks = BankService(self.sessions, on_change=self._after_write)
        self.tokens = TokenRepository(self.sessions)
        self.hooks = plugin_manager().hook

    @classmethod
    def open(
        cls, settings: Settings | None = None, *, snapshots: bool = True, sync: bool = True
    ) -> Lykta:
        """Connect, migrate the schema and (by default) load the indexes."""
        settings = settings or load_settings()
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        core = cls(settings, engine, snapshots=snapshots)
        try:
            check_stored_kinds(core.banks.stored_kinds())
        except Exception:
            core.close()
            raise
        if sync:
            core.load_index()
        return core

    def load_index(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Bring the indexes up to date and keep them so after this core's own writes."""
        self.live = True
        self.matcher.sync(progress)

    def _after_write(self, bank: str, change: str) -> None:
        if self.live:
            try:
                self.matcher.sync()
            except Exception:
                # The write has committed: the caller must hear it succeeded. The follower
                # thread applies it on its next round.
                log.exception("index sync after a write to bank %s failed; retrying", bank)
                self.matcher.wake()
        self.hooks.lykta_bank_changed(core=self, bank=bank, change=change)

    def _found(self, content: Any, result: LookupResult) -> LookupResult:
        if result.matches:
            self.hooks.lykta_match_found(core=self, content=content, result=result)
        return result

    def close(self) -> None:
        self.matcher.stop()
        self.engine.dispose()

    # --- content ---------------------------------------------------------------------

    def hash_photo(
        self, data: bytes, *, dihedral: bool | None = None, trim: bool | None = None
    ) -> PhotoHashes:
        return hash_photo(
            data,
            dihedral=self.settings.dihedral if dihedral is None else dihedral,
            trim=self.settings.trim if trim is None else trim,
            max_pixels=self.settings.max_pixels,
        )

    def lookup_photo(
        self,
        data: bytes,
        *,
        banks: Iterable[str] | None = None,
        dihedral: bool | None = None,
        trim: bool | None = None,
    ) -> ContentLookup:
        banks = self._known_banks(banks)
        hashes = self.hash_photo(data, dihedral=dihedral, trim=trim)
        result = self.matcher.lookup(queries_for_photo(hashes), banks)
        return ContentLookup(hashes, self._found(hashes, result))

    def lookup_hash(
        self,
        kind: str,
        value: str,
        *,
        banks: Iterable[str] | None = None,
        quality: int | None = None,
    ) -> LookupResult:
        query = hash_query(kind, value, quality)
        result = self.matcher.lookup([query], self._known_banks(banks))
        return self._found(query, result)

    def lookup_hash_in_memory(
        self,
        kind: str,
        value: str,
        *,
        banks: Iterable[str] | None = None,
        quality: int | None = None,
    ) -> LookupResult | None:
        """``lookup_hash`` when it can be answered from memory alone, else None: for callers
        on an event loop, which must not wait on the database."""
        query = hash_query(kind, value, quality)
        found = self.matcher.lookup_in_memory([[query]], self._known_banks(banks))
        return None if found is None else self._found(query, found[0])

    def lookup_hashes(
        self, hashes: Sequence[tuple[str, str, int | None]], *, banks: Iterable[str] | None = None
    ) -> list[LookupResult]:
        """Look up many (kind, hash, quality) at once, each as its own piece of content."""
        queries = []
        for number, (kind, value, quality) in enumerate(hashes):
            try:
                queries.append([hash_query(kind, value, quality)])
            except InvalidInput as error:
                raise InvalidInput(f"hashes[{number}]: {error.message}") from None
        results = self.matcher.lookup_many(queries, self._known_banks(banks))
        for query, result in zip(queries, results, strict=True):
            self._found(query[0], result)
        return results

    def _known_banks(self, banks: Iterable[str] | None) -> list[str] | None:
        """Check a bank filter: a misspelt name must not look like "no match"."""
        if banks is None:
            return None
        wanted = list(dict.fromkeys(banks))
        if not wanted:
            raise InvalidInput("name at least one bank, or leave the bank filter out")
        known = self.matcher.bank_names() if self.live else set(self.banks.names())
        missing = set(wanted) - known
        if missing:
            raise NotFound(f"no bank named {', '.join(repr(n) for n in sorted(missing))}")
        return wanted

    def database_ok(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False


def hash_query(kind: str, value: str, quality: int | None) -> QueryHash:
    """A hash given as text (any case, whitespace around it) as the matcher's query."""
    hasher = get_hasher(kind)
    return QueryHash(hasher.name, hasher.to_code(value), "original", quality)


def queries_for_photo(hashes: PhotoHashes) -> list[QueryHash]:
    queries = [
        QueryHash("md5", bytes.fromhex(hashes.md5)),
        QueryHash("sha256", bytes.fromhex(hashes.sha256)),
    ]
    seen: set[str] = set()
    for variant in hashes.variants:
        if variant.pdq in seen:
            continue
        seen.add(variant.pdq)
        queries.append(
            QueryHash("pdq", bytes.fromhex(variant.pdq), variant.transform, variant.quality)
        )
    if hashes.pdq not in seen:
        queries.append(QueryHash("pdq", bytes.fromhex(hashes.pdq), "original", hashes.quality))
    return queries
