"""Exchanges configured on banks, and the sync that keeps each bank equal to its exchange.

A sync takes the exchange's lock row (one replica at a time; the lock expires, so a
crashed holder blocks no one for long), then fetches from the committed checkpoint with
python-threatexchange's ``fetch_iter``. Updates are gathered into batches; each batch is
one transaction that replaces, adds and removes content by the exchange's own ids, moves
the checkpoint and renews the lock, so the bank is always at a point of the exchange's
history and a crash resumes from the last batch that committed. A page that fails with
throttling, a server error or a broken connection is fetched again, after a growing
pause, from that checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from queue import Empty, Full, Queue
from typing import Any

import requests
from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from threatexchange.exchanges import auth
from threatexchange.exchanges.fetch_state import FetchCheckpointBase
from threatexchange.utils import dataclass_json

from lykta.banks.content import ContentWriter, delete_content
from lykta.banks.service import BankService
from lykta.errors import Conflict, InvalidInput, LyktaError, NotConfigured, NotFound
from lykta.exchanges.base import SIGNAL_TYPES, Exchange, ExchangeError, FetchedItem
from lykta.exchanges.credentials import (
    check_reference,
    read_reference,
    redact,
    redact_http_logs,
    seal,
    unseal,
)
from lykta.exchanges.registry import get_exchange
from lykta.store.db import next_revision
from lykta.store.models import Bank, ExchangeCredential, ExchangeItem, utcnow
from lykta.store.models import Exchange as ExchangeRow

log = logging.getLogger(__name__)

#: Updates gathered before a batch is written: large enough that a million-entry sync
#: spends its time in bulk inserts, small enough that a crash loses little.
BATCH_ITEMS = 20_000
_CHUNK = 5_000

#: Told after each committed batch: (items written in this sync, checkpoint time or None).
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class SyncStatus:
    """Where an exchange's syncs stand (HMA's fetch status, and more)."""

    items: int
    checkpoint_ts: int | None
    running_since: datetime | None
    run_items: int
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_succeeded: bool | None
    last_error: str
    up_to_date: bool
    lock_holder: str | None
    lock_until: datetime | None


@dataclass(frozen=True)
class ExchangeInfo:
    bank: str
    api: str
    config: dict[str, Any]
    #: Where the credentials are read from (``env:NAME``, ``file:/path``, or empty for
    #: python-threatexchange's own variable): never the credentials themselves.
    credentials: str
    enabled: bool
    created_at: datetime | None
    status: SyncStatus


@dataclass
class SyncResult:
    bank: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    batches: int = 0
    retries: int = 0
    checkpoint_ts: int | None = None
    items: int = 0

    @property
    def written(self) -> int:
        return self.added + self.updated + self.removed + self.unchanged


@dataclass
class _Run:
    """One sync's state between batches."""

    exchange_id: int
    bank_id: int
    bank: str
    api: str
    holder: str
    result: SyncResult
    progress: Progress | None
    seen: set[str] | None = None  # keys of a whole-list fetch, to remove the rest
    # The exchange held nothing when this fetch of the whole list began: only keys seen
    # earlier in the fetch can be held, so the others need no look-up.
    started_empty: bool = False
    secrets: list[str] = field(default_factory=list)


@dataclass
class _Batch:
    """Converted updates, written in one transaction with the checkpoint after them."""

    items: list[FetchedItem]
    checkpoint_json: str | None
    checkpoint_ts: int | None
    final: bool
    #: The fetch sent anything at all (a list unchanged since the checkpoint sends nothing).
    listed: bool


def _batches(exchange: Exchange, collab: Any, deltas: Iterable[Any], size: int) -> Iterator[_Batch]:
    pending: dict[Any, Any] = {}
    last: FetchCheckpointBase | None = None

    def batch(final: bool) -> _Batch:
        text = None if last is None else dataclass_json.dataclass_dumps(last)
        ts = None if last is None else last.get_progress_timestamp()
        return _Batch(exchange.items(collab, pending), text, ts, final, last is not None)

    for delta in deltas:
        # Later updates of a key replace earlier ones: each is the item's whole state.
        pending.update(delta.updates)
        last = delta.checkpoint
        if len(pending) >= size:
            yield batch(False)
            pending = {}
    yield batch(True)


@dataclass
class _Source:
    """Where a sync's batches come from: the API's client, in a process of its own for
    the exchanges that can send millions of entries (parsing their pages and converting
    their entries then runs beside the database writes, not in turn with them under the
    GIL), in a thread for the others."""

    exchange: Exchange
    bank: str
    config: dict[str, Any]
    collab: Any
    credentials: auth.CredentialHelper | None
    size: int
    hosts: str

    def batches(self, checkpoint: FetchCheckpointBase | None) -> Iterator[_Batch]:
        base_url = self.config.get("base_url")
        if not self.exchange.fetch_in_process:
            client = self.exchange.client(self.collab, self.credentials, base_url)
            client = self.exchange.restricted(client, self.hosts)
            deltas = client.fetch_iter(SIGNAL_TYPES, checkpoint)
            return _ahead(_batches(self.exchange, self.collab, deltas, self.size))
        text = None if checkpoint is None else dataclass_json.dataclass_dumps(checkpoint)
        # The class itself (pickled by name): a plugin's exchange registered at run time is
        # not in the fetching process's registry.
        spec = (
            type(self.exchange), self.bank, self.config, self.credentials, text, self.size,
            self.hosts,
        )  # fmt: skip
        return _from_process(spec)


class _FetchFailed(Exception):
    """The fetching process's error, as it said it."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


_DONE = "done"


def _fetch_process(spec: tuple[Any, ...], queue: Any) -> None:
    """The fetching process: the API's client, its pages converted into batches."""
    exchange_cls, bank, config, credentials, checkpoint_text, size, hosts = spec
    redact_http_logs()
    try:
        exchange = exchange_cls()
        collab = exchange.collab(bank, config)
        client = exchange.client(collab, credentials, config.get("base_url"))
        client = exchange.restricted(client, hosts)
        checkpoint = exchange.checkpoint_of(checkpoint_text)
        deltas = client.fetch_iter(SIGNAL_TYPES, checkpoint)
        for batch in _batches(exchange, collab, deltas, size):
            wire = [item.to_wire() for item in batch.items]
            queue.put((wire, batch.checkpoint_json, batch.checkpoint_ts, batch.final,
                       batch.listed))  # fmt: skip
    except BaseException as error:
        message = error.message if isinstance(error, LyktaError) else _describe(error)
        queue.put(("failed", message, _retryable(error)))
        return
    queue.put(_DONE)


@cache
def _process_context() -> Any:
    # A fork server, started once per process, forks fetchers that already import what
    # they need (a spawned one would take seconds to), without the threads of this one.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["lykta.exchanges.service"])
    return context


def _from_process(spec: tuple[Any, ...]) -> Iterator[_Batch]:
    context = _process_context()
    queue = context.Queue(maxsize=2)
    process = context.Process(target=_fetch_process, args=(spec, queue), daemon=True)
    process.start()
    try:
        while True:
            try:
                value = queue.get(timeout=1.0)
            except Empty:
                if not process.is_alive():
                    raise ExchangeError("the fetching process ended without a word") from None
                continue
            if value == _DONE:
                return
            if value[0] == "failed":  # the fetcher's error: an exception may not pickle
                raise _FetchFailed(value[1], value[2])
            wire, checkpoint_json, checkpoint_ts, final, listed = value
            items = [FetchedItem.from_wire(item) for item in wire]
            yield _Batch(items, checkpoint_json, checkpoint_ts, final, listed)
    finally:
        if process.is_alive():
            process.terminate()
        process.join(timeout=5)
        queue.close()


def default_holder() -> str:
    """Names this process in a lock row, so `exchange status` shows who holds it."""
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ExchangeService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        banks: BankService,
        on_change: Callable[[str, str], None],
        *,
        exchange_key: str = "",
        hosts: str = "",
        retries: int = 5,
        backoff: float = 2.0,
        lock_seconds: float = 300.0,
    ) -> None:
        self._sessions = sessions
        self._banks = banks
        # Called after every committed batch, so this process's matcher catches up at once.
        self._on_change = on_change
        self._exchange_key = exchange_key
        # LYKTA_EXCHANGE_HOSTS: where a curator may point the server's fetches.
        self.hosts = hosts
        self.retries = retries
        self.backoff = backoff
        self.lock_seconds = lock_seconds
        self.batch_items = BATCH_ITEMS
        redact_http_logs()

    # --- configuration -----------------------------------------------------------------

    def add(
        self,
        bank: str,
        api: str,
        *,
        config: Mapping[str, Any] | None = None,
        credentials: str = "",
        enabled: bool = True,
    ) -> ExchangeInfo:
        """Make ``bank`` follow exchange ``api``; the bank is created when missing (as
        HMA does), an existing bank keeps what it holds."""
        exchange = get_exchange(api)
        if not isinstance(config or {}, Mapping):
            raise InvalidInput("the exchange's config must be a JSON object")
        checked = exchange.check_config(config or {})
        self._check_hosts(exchange, checked)
        reference = check_reference(credentials)
        if reference and exchange.credential_cls is None:
            raise InvalidInput(f"exchange {api!r} takes no credentials")
        if bank not in self._banks.names():
            self._banks.create(bank, source=f"exchange {api}")
        with self._sessions() as session, session.begin():
            bank_row = self._bank(session, bank)
            taken = session.scalars(
                select(ExchangeRow.api).where(ExchangeRow.bank_id == bank_row.id)
            ).first()
            if taken is not None:
                raise Conflict(f"bank {bank!r} follows exchange {taken!r} already")
            session.add(
                ExchangeRow(
                    bank_id=bank_row.id, api=api, config_json=json.dumps(checked),
                    credentials=reference, enabled=enabled,
                )
            )  # fmt: skip
        return self.get(bank)

    def get(self, bank: str) -> ExchangeInfo:
        with self._sessions() as session:
            bank_row = self._bank(session, bank)
            row = self._row(session, bank_row)
            return self._info(session, bank_row.name, row)

    def list_exchanges(self) -> list[ExchangeInfo]:
        with self._sessions() as session:
            rows = session.execute(
                select(Bank.name, ExchangeRow)
                .join(ExchangeRow, ExchangeRow.bank_id == Bank.id)
                .order_by(Bank.name)
            ).all()
            return [self._info(session, name, row) for name, row in rows]

    def set_enabled(self, bank: str, enabled: bool) -> ExchangeInfo:
        with self._sessions() as session, session.begin():
            row = self._row(session, self._bank(session, bank))
            row.enabled = enabled
        return self.get(bank)

    def remove(self, bank: str) -> bool:
        """Stop following the exchange; the bank keeps its content. False when ``bank``
        follows none."""
        with self._sessions() as session, session.begin():
            bank_row = session.scalars(select(Bank).where(Bank.name == bank)).one_or_none()
            if bank_row is None:
                return False
            row = session.scalars(
                select(ExchangeRow).where(ExchangeRow.bank_id == bank_row.id)
            ).one_or_none()
            if row is None:
                return False
            session.execute(delete(ExchangeItem).where(ExchangeItem.exchange_id == row.id))
            session.delete(row)
            return True

    # --- API credentials set through HMA's route ----------------------------------------

    def api_credentials_set(self, api: str) -> bool:
        """Whether credentials of ``api`` are at hand (stored sealed, or in
        python-threatexchange's environment variable)."""
        cls = get_exchange(api).credential_cls
        if cls is None:
            return False
        if cls.ENV_VARIABLE and os.environ.get(cls.ENV_VARIABLE):
            return True
        with self._sessions() as session:
            return session.get(ExchangeCredential, api) is not None

    def set_api_credentials(self, api: str, fields: Mapping[str, Any] | None) -> None:
        """Store ``fields`` sealed as the credentials of ``api``; empty ones forget them."""
        exchange = get_exchange(api)
        cls = exchange.credential_cls
        if cls is None:
            raise InvalidInput(f"exchange API {api!r} takes no credentials")
        with self._sessions() as session, session.begin():
            if not fields:
                row = session.get(ExchangeCredential, api)
                if row is not None:
                    session.delete(row)
                return
            # Checked for shape only, as HMA does: a sync says when they are not accepted.
            credentials = _credentials_of(cls, dict(fields), api, check=False)
            sealed = seal(self._exchange_key, api, dataclasses.asdict(credentials))  # type: ignore[call-overload]
            session.merge(ExchangeCredential(api=api, sealed=sealed, updated_at=utcnow()))

    def _credentials(
        self, session: Session, exchange: Exchange, bank: str, reference: str
    ) -> auth.CredentialHelper | None:
        cls = exchange.credential_cls
        if cls is None:
            return None
        if reference:
            text = read_reference(reference)
            if text is None:
                raise NotConfigured(
                    f"the credentials of the exchange of bank {bank!r} are missing: "
                    f"{reference} is not set or not readable"
                )
            return exchange.parse_credentials(text)
        text = os.environ.get(cls.ENV_VARIABLE) if cls.ENV_VARIABLE else None
        if text:
            return exchange.parse_credentials(text)
        stored = session.get(ExchangeCredential, exchange.name)
        if stored is not None:
            fields = unseal(self._exchange_key, exchange.name, stored.sealed)
            return _credentials_of(cls, fields, exchange.name)
        raise NotConfigured(
            f"the exchange of bank {bank!r} has no credentials: set {cls.ENV_VARIABLE} "
            f"({exchange.credential_format}), or name them on the exchange "
            "(credentials env:VARIABLE or file:/path)"
        )

    # --- sync --------------------------------------------------------------------------

    def sync(
        self, bank: str, *, progress: Progress | None = None, holder: str | None = None
    ) -> SyncResult:
        """Fetch what changed since the committed checkpoint into ``bank``."""
        holder = holder or default_holder()
        with self._sessions() as session:
            bank_row = self._bank(session, bank)
            row = self._row(session, bank_row)
            exchange = get_exchange(row.api)
            config = json.loads(row.config_json)
            run = _Run(row.id, bank_row.id, bank, row.api, holder, SyncResult(bank), progress)
            self._acquire(row.id, bank, holder)
            try:
                credentials = self._credentials(session, exchange, bank, row.credentials)
            except LyktaError as error:
                self._release(run, error.message)
                raise
        if credentials is not None:
            run.secrets = [v for v in vars(credentials).values() if isinstance(v, str)]
        try:
            self._check_hosts(exchange, config)  # the setting, or the name's address, changed
            collab = exchange.collab(bank, config)
            source = _Source(
                exchange, bank, config, collab, credentials, self.batch_items, self.hosts
            )
            self._fetch_all(run, source)
        except Exception as error:
            message = redact(
                error.message if isinstance(error, LyktaError) else _describe(error), run.secrets
            )
            self._release(run, message)
            if isinstance(error, LyktaError):
                raise
            raise ExchangeError(f"sync of bank {bank!r} from {run.api} failed: {message}") from None
        self._release(run, None)
        run.result.items = self.get(bank).status.items
        return run.result

    def _check_hosts(self, exchange: Exchange, config: Mapping[str, Any]) -> None:
        # Here, not at the top: the fetch module brings httpx, which opening the core must
        # not load (CLI start-up).
        from lykta.media.fetch import check_host

        for url in exchange.urls(config):
            check_host(url, self.hosts, "LYKTA_EXCHANGE_HOSTS")

    def _fetch_all(self, run: _Run, source: _Source) -> None:
        attempt = 0
        while True:
            checkpoint = self._checkpoint(run.exchange_id, source.exchange)
            whole = checkpoint is None or source.exchange.full_fetch
            run.seen = set() if whole else None
            run.started_empty = whole and not self._holds_items(run.exchange_id)
            try:
                for batch in source.batches(checkpoint):
                    self._commit(run, batch)
                return
            except Exception as error:
                if not _retryable(error) or attempt >= self.retries:
                    raise
                attempt += 1
                run.result.retries += 1
                pause = self.backoff * 2 ** (attempt - 1)
                log.warning(
                    "exchange %s of bank %s: %s; fetching again from the last checkpoint "
                    "in %g s (retry %d of %d)", run.api, run.bank,
                    redact(_describe(error), run.secrets), pause, attempt, self.retries,
                )  # fmt: skip
                self._renew(run)
                time.sleep(pause)

    def _holds_items(self, exchange_id: int) -> bool:
        with self._sessions() as session:
            return (
                session.scalar(
                    select(ExchangeItem.id).where(ExchangeItem.exchange_id == exchange_id).limit(1)
                )
                is not None
            )

    def _checkpoint(self, exchange_id: int, exchange: Exchange) -> FetchCheckpointBase | None:
        """The committed checkpoint; None to fetch the whole list (first sync, or a
        checkpoint the API says is too old to resume from). A list without deltas is sent
        whole anyway; its checkpoint lets it answer that nothing changed."""
        with self._sessions() as session:
            text = session.scalar(
                select(ExchangeRow.checkpoint_json).where(ExchangeRow.id == exchange_id)
            )
        checkpoint = exchange.checkpoint_of(text)
        if checkpoint is None or checkpoint.is_stale():
            return None
        return checkpoint

    def _commit(self, run: _Run, batch: _Batch) -> None:
        fetched = batch.items
        keys = [item.key for item in fetched]
        if run.seen is not None and run.started_empty:
            held_keys = [key for key in keys if key in run.seen]
        else:
            held_keys = keys
        if run.seen is not None:
            run.seen.update(keys)
        final = batch.final
        result = run.result
        with self._sessions() as session, session.begin():
            revision = next_revision(session)
            self._renew(run, session, batch)
            now = utcnow()
            existing = _existing(session, run.exchange_id, held_keys)
            stale: list[int] = []  # content replaced or removed
            dropped: list[int] = []  # their provenance rows
            touched: list[int] = []  # unchanged items, stamped as fetched again
            new: list[FetchedItem] = []
            for item in fetched:
                old = existing.get(item.key)
                if item.item is not None and old is not None and old[2] == item.digest:
                    touched.append(old[0])
                    result.unchanged += 1
                    continue
                if old is not None:
                    stale.append(old[1])
                    dropped.append(old[0])
                if item.item is None:
                    result.removed += old is not None
                else:
                    new.append(item)
                    if old is None:
                        result.added += 1
                    else:
                        result.updated += 1
            if final and run.seen is not None and batch.listed:
                for row_id, content_id in _unseen(session, run.exchange_id, run.seen):
                    stale.append(content_id)
                    dropped.append(row_id)
                    result.removed += 1
            delete_content(session, revision, stale)
            for start in range(0, len(dropped), _CHUNK):
                session.execute(
                    delete(ExchangeItem).where(ExchangeItem.id.in_(dropped[start : start + _CHUNK]))
                )
            for start in range(0, len(touched), _CHUNK):
                session.execute(
                    update(ExchangeItem)
                    .where(ExchangeItem.id.in_(touched[start : start + _CHUNK]))
                    .values(fetched_at=now)
                )
            _write_new(session, run, new, revision, now)
        result.batches += 1
        if batch.checkpoint_json is not None:
            result.checkpoint_ts = batch.checkpoint_ts
        if stale or new:
            self._on_change(run.bank, "exchange_synced")
        if run.progress is not None:
            run.progress(result.written, result.checkpoint_ts)

    # --- the lock ----------------------------------------------------------------------

    def _acquire(self, exchange_id: int, bank: str, holder: str) -> None:
        now = utcnow()
        with self._sessions() as session, session.begin():
            taken = _rowcount(session.execute(
                update(ExchangeRow)
                .where(
                    ExchangeRow.id == exchange_id,
                    or_(ExchangeRow.lock_holder.is_(None), ExchangeRow.lock_until < now),
                )
                .values(
                    lock_holder=holder, lock_until=now + timedelta(seconds=self.lock_seconds),
                    running_since=now, run_items=0, last_started_at=now,
                )
            ))  # fmt: skip
            if taken != 1:
                row = session.get(ExchangeRow, exchange_id)
                assert row is not None
                raise Conflict(
                    f"the exchange of bank {bank!r} is being synced by {row.lock_holder} "
                    f"(lock held until {row.lock_until}); try again later"
                )

    def _renew(
        self, run: _Run, session: Session | None = None, batch: _Batch | None = None
    ) -> None:
        """Extend the lock (and, inside a batch's transaction, move the checkpoint with the
        data); a lock taken over by another replica ends this sync without writing."""
        values: dict[str, Any] = {
            "lock_until": utcnow() + timedelta(seconds=self.lock_seconds),
            "run_items": run.result.written,
        }
        if batch is not None and batch.checkpoint_json is not None:
            values["checkpoint_json"] = batch.checkpoint_json
            values["checkpoint_ts"] = batch.checkpoint_ts
        if batch is not None and batch.final:
            values["up_to_date"] = True
        statement = (
            update(ExchangeRow)
            .where(ExchangeRow.id == run.exchange_id, ExchangeRow.lock_holder == run.holder)
            .values(**values)
        )
        if session is not None:
            renewed = _rowcount(session.execute(statement))
        else:
            with self._sessions() as own, own.begin():
                renewed = _rowcount(own.execute(statement))
        if renewed != 1:
            raise ExchangeError(
                f"the sync of bank {run.bank!r} lost its lock (it ran past "
                f"{self.lock_seconds:g} s without progress); nothing of this batch was written"
            )

    def _release(self, run: _Run, error: str | None) -> None:
        with self._sessions() as session, session.begin():
            values: dict[str, Any] = {
                "lock_holder": None, "lock_until": None, "running_since": None,
                "last_finished_at": utcnow(), "last_succeeded": error is None,
                "last_error": error or "", "run_items": run.result.written,
            }  # fmt: skip
            if error is not None:
                values["up_to_date"] = False
            session.execute(
                update(ExchangeRow)
                .where(ExchangeRow.id == run.exchange_id, ExchangeRow.lock_holder == run.holder)
                .values(**values)
            )

    # --- schedule ----------------------------------------------------------------------

    def due(self, interval: float) -> list[str]:
        """Banks whose enabled exchange has not started a sync for ``interval`` seconds."""
        since = utcnow() - timedelta(seconds=interval)
        with self._sessions() as session:
            return list(
                session.scalars(
                    select(Bank.name)
                    .join(ExchangeRow, ExchangeRow.bank_id == Bank.id)
                    .where(
                        ExchangeRow.enabled.is_(True),
                        or_(
                            ExchangeRow.last_started_at.is_(None),
                            ExchangeRow.last_started_at < since,
                        ),
                    )
                    .order_by(Bank.name)
                )
            )

    def sync_due(self, interval: float) -> list[SyncResult]:
        """Sync every exchange that is due; one held by another replica is left to it, a
        failing one is logged (its status says why) and the others carry on."""
        results = []
        for bank in self.due(interval):
            try:
                results.append(self.sync(bank))
            except Conflict:
                continue
            except LyktaError as error:
                log.warning("scheduled sync of bank %s failed: %s", bank, error.message)
        return results

    # --- reading -----------------------------------------------------------------------

    def _bank(self, session: Session, name: str) -> Bank:
        bank = session.scalars(select(Bank).where(Bank.name == name)).one_or_none()
        if bank is None:
            raise NotFound(f"no bank named {name!r}")
        return bank

    def _row(self, session: Session, bank: Bank) -> ExchangeRow:
        row = session.scalars(
            select(ExchangeRow).where(ExchangeRow.bank_id == bank.id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"bank {bank.name!r} follows no exchange")
        return row

    def _info(self, session: Session, bank: str, row: ExchangeRow) -> ExchangeInfo:
        items = session.scalar(
            select(func.count()).select_from(ExchangeItem).where(ExchangeItem.exchange_id == row.id)
        )
        status = SyncStatus(
            items or 0, row.checkpoint_ts, row.running_since, row.run_items,
            row.last_started_at, row.last_finished_at, row.last_succeeded, row.last_error,
            row.up_to_date, row.lock_holder, row.lock_until,
        )  # fmt: skip
        return ExchangeInfo(
            bank, row.api, json.loads(row.config_json), row.credentials, row.enabled,
            row.created_at, status,
        )  # fmt: skip


def _credentials_of(
    cls: type[auth.CredentialHelper], fields: dict[str, Any], api: str, *, check: bool = True
) -> auth.CredentialHelper:
    try:
        credentials = dataclass_json.dataclass_load_dict(fields, cls)
    except Exception:
        names = ", ".join(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        raise InvalidInput(f"the credentials of exchange API {api!r} take {names}") from None
    if check and not credentials._are_valid():
        raise InvalidInput(f"the credentials given for exchange API {api!r} are not valid")
    return credentials


def _existing(
    session: Session, exchange_id: int, keys: Sequence[str]
) -> dict[str, tuple[int, int, str]]:
    """(row id, content id, digest) of each of ``keys`` the exchange brought before."""
    found: dict[str, tuple[int, int, str]] = {}
    columns = (ExchangeItem.item_key, ExchangeItem.id, ExchangeItem.content_id,
               ExchangeItem.digest)  # fmt: skip
    for start in range(0, len(keys), _CHUNK):
        for key, row_id, content_id, digest in session.execute(
            select(*columns).where(
                ExchangeItem.exchange_id == exchange_id,
                ExchangeItem.item_key.in_(keys[start : start + _CHUNK]),
            )
        ):
            found[key] = (row_id, content_id, digest)
    return found


def _unseen(session: Session, exchange_id: int, seen: set[str]) -> Iterable[tuple[int, int]]:
    rows = session.execute(
        select(ExchangeItem.item_key, ExchangeItem.id, ExchangeItem.content_id).where(
            ExchangeItem.exchange_id == exchange_id
        )
    ).all()
    return [(row_id, content_id) for key, row_id, content_id in rows if key not in seen]


def _write_new(
    session: Session, run: _Run, new: Sequence[FetchedItem], revision: int, now: datetime
) -> None:
    if not new:
        return
    writer = ContentWriter(session, run.bank_id, f"exchange {run.api}", revision, None, len(new))
    slots = []
    for fetched in new:
        assert fetched.item is not None
        slots.append(writer.add(fetched.item, fetched.codes))
    writer.finish()
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    to_db = ExchangeItem.__table__.c.fetched_at.type.dialect_impl(
        connection.dialect
    ).bind_processor(connection.dialect)
    stamp = to_db(now) if to_db else now
    labels: dict[tuple[str, ...], str] = {}
    rows = []
    for f, slot in zip(new, slots, strict=True):
        text = labels.get(f.labels)
        if text is None:
            text = labels[f.labels] = json.dumps(list(f.labels))
        rows.append((run.exchange_id, f.key, writer.content_id(slot), stamp, f.opinion, text,
                     f.digest))  # fmt: skip
    connection.exec_driver_sql(
        "INSERT INTO exchange_item (exchange_id, item_key, content_id, fetched_at, opinion, "
        f"labels, digest) VALUES ({', '.join([marker] * 7)})",
        rows,
    )


def _ahead(deltas: Iterator[Any], depth: int = 8) -> Iterator[Any]:
    """``deltas`` in order, fetched by a thread of their own while the caller writes the
    ones before: waiting for the server and writing to the database overlap. The fetcher's
    error is raised here, after the deltas it yielded first; a caller that stops (a failed
    write) stops the fetcher."""
    done = object()
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: Any) -> bool:
        while not stop.is_set():
            try:
                queue.put(value, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def fetch() -> None:
        try:
            for delta in deltas:
                if not put(delta):
                    return
        except BaseException as error:  # handed to the caller, raised there
            put(_Failed(error))
            return
        put(done)

    thread = threading.Thread(target=fetch, name="lykta-exchange-fetch", daemon=True)
    thread.start()
    try:
        while True:
            value = queue.get()
            if value is done:
                return
            if isinstance(value, _Failed):
                raise value.error
            yield value
    finally:
        stop.set()
        thread.join(timeout=5)


@dataclass(frozen=True)
class _Failed:
    error: BaseException


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return result.rowcount


def _retryable(error: BaseException) -> bool:
    """Throttling, server errors and broken connections pass; anything else is the
    configuration's or the data's and would fail the same way again."""
    if isinstance(error, _FetchFailed):
        return error.retryable
    if isinstance(error, requests.HTTPError):
        status = error.response.status_code if error.response is not None else 0
        return status == 429 or status >= 500
    return isinstance(error, requests.RequestException)


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:500]
