"""The core every door (HTTP, CLI, Python) shares: settings, database, banks, matcher, tokens.

Build one with `Lykta.open(settings)`; routers and commands call its services and never
reach into each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text

from lykta.auth.tokens import TokenRepository
from lykta.banks.matcher import LookupResult, Matcher, QueryHash
from lykta.banks.service import BankService
from lykta.errors import InvalidInput, NotFound
from lykta.hashing.photo import PhotoHashes, hash_photo
from lykta.hashing.registry import get_hasher
from lykta.settings import Settings, load_settings
from lykta.store.db import make_engine, migrate, session_factory


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
            self.sessions, settings.index_dir if snapshots and settings.snapshot_index else None
        )
        # A core opened only to manage banks (most CLI commands) never loads the indexes.
        self.live = False
        self.banks = BankService(self.sessions, on_change=self._after_write)
        self.tokens = TokenRepository(self.sessions)

    @classmethod
    def open(
        cls, settings: Settings | None = None, *, snapshots: bool = True, sync: bool = True
    ) -> Lykta:
        """Connect, migrate the schema and (by default) load the indexes."""
        settings = settings or load_settings()
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        core = cls(settings, engine, snapshots=snapshots)
        if sync:
            core.load_index()
        return core

    def load_index(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Bring the indexes up to date and keep them so after this core's own writes."""
        self.live = True
        self.matcher.sync(progress)

    def _after_write(self) -> None:
        if self.live:
            self.matcher.sync()

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
        return ContentLookup(hashes, self.matcher.lookup(queries_for_photo(hashes), banks))

    def lookup_hash(
        self,
        kind: str,
        value: str,
        *,
        banks: Iterable[str] | None = None,
        quality: int | None = None,
    ) -> LookupResult:
        return self.matcher.lookup([hash_query(kind, value, quality)], self._known_banks(banks))

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
        return self.matcher.lookup_many(queries, self._known_banks(banks))

    def _known_banks(self, banks: Iterable[str] | None) -> list[str] | None:
        """Check a bank filter: a misspelt name must not look like "no match"."""
        if banks is None:
            return None
        wanted = list(dict.fromkeys(banks))
        if not wanted:
            raise InvalidInput("name at least one bank, or leave the bank filter out")
        missing = set(wanted) - set(self.banks.names())
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
    return QueryHash(hasher.name, bytes.fromhex(hasher.validate(value)), "original", quality)


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
