"""Index snapshots: memory-mappable copies of the indexes and of their hashes' owners, so a
restart maps files instead of reading every hash from the database.

One process per data folder writes them (whoever holds the writer lock file); the others
only read. A snapshot is written to a temporary folder, renamed into place and then named
by the `current` pointer, so a reader sees a whole snapshot or none; old ones are deleted
by the writer only, and a process that still maps one keeps its files alive (POSIX).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lykta.errors import InvalidInput
from lykta.hashing.registry import get_hasher
from lykta.index import HashIndex
from lykta.matching.owners import OwnerTable

log = logging.getLogger(__name__)

#: The folder of a snapshot's owner table, beside one per kind (no kind has this name).
OWNERS = "_owners"


@dataclass(frozen=True)
class Snapshot:
    revision: int
    indexes: dict[str, HashIndex]
    owners: OwnerTable


class SnapshotStore:
    """The snapshots of one database (named by its instance id) in one folder."""

    def __init__(self, root: Path, instance_id: str) -> None:
        self.folder = root / instance_id
        self._lock_file: IO[bytes] | None = None

    def claim_writer(self) -> bool:
        """Become this folder's snapshot writer if nobody is; held until ``release``."""
        if self._lock_file is not None:
            return True
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / "writer.lock", "ab")  # noqa: SIM115 - held while writer
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        return True

    @property
    def is_writer(self) -> bool:
        return self._lock_file is not None

    def release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing drops the flock
            self._lock_file = None

    def load(self) -> Snapshot | None:
        """The current snapshot, or None when there is none or it cannot be read."""
        try:
            name = (self.folder / "current").read_text().strip()
        except FileNotFoundError:
            return None
        folder = self.folder / name
        try:
            state = json.loads((folder / "state.json").read_text())
            indexes = {
                kind: type(get_hasher(kind).new_index()).load(folder / kind)
                for kind in state["kinds"]
            }
            owners = OwnerTable.load(folder / OWNERS)
        except (OSError, ValueError, KeyError, TypeError, InvalidInput) as error:
            # An older format, a kind no longer installed, or a snapshot the writer replaced
            # while we read: the change log rebuilds the index, the writer a new snapshot.
            log.warning("not using index snapshot %s: %s", folder, error)
            if self.claim_writer():  # the writer replaces it; readers leave it alone
                shutil.rmtree(folder, ignore_errors=True)
            return None
        return Snapshot(int(state["revision"]), indexes, owners)

    def save(
        self, revision: int, indexes: Mapping[str, HashIndex], owners: OwnerTable
    ) -> Path | None:
        """Write a snapshot of ``indexes`` and their ``owners`` (published, so never
        changed under us)."""
        if not self.is_writer:
            return None
        target = self.folder / f"r{revision}"
        if not target.exists():
            tmp = self.folder / f".tmp-{os.getpid()}-{threading.get_ident()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for kind, index in indexes.items():
                index.save(tmp / kind)
            owners.save(tmp / OWNERS)
            state = {"revision": revision, "kinds": sorted(indexes)}
            (tmp / "state.json").write_text(json.dumps(state))
            tmp.rename(target)
        pointer = self.folder / f".current-{os.getpid()}"
        pointer.write_text(target.name)
        pointer.replace(self.folder / "current")
        for old in self.folder.glob("r*"):
            if old.name[1:].isdigit() and int(old.name[1:]) < revision:
                shutil.rmtree(old, ignore_errors=True)
        return target
