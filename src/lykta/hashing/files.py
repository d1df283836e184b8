"""Hash photo files from disk on every core: the folder walk and the process pool.

Per-file failures (unreadable, not a photo, too large) come back as messages, never as
exceptions, so one bad file in a folder of thousands does not stop the rest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from lykta.errors import LyktaError
from lykta.hashing.photo import PhotoHashes, hash_photo

# Below this many files starting worker processes costs more than it saves.
POOL_MIN_FILES = 4


def walk(paths: Iterable[Path]) -> Iterator[Path]:
    """The files named, and every file under the folders named (sorted, recursively)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


def hash_file(path: Path, *, dihedral: bool, trim: bool, max_pixels: int) -> PhotoHashes | str:
    """The photo's hashes, or why it could not be hashed."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return f"cannot read: {error.strerror}"
    try:
        return hash_photo(data, dihedral=dihedral, trim=trim, max_pixels=max_pixels)
    except LyktaError as error:
        return error.message


def hash_files(
    paths: Iterable[Path],
    *,
    dihedral: bool,
    trim: bool,
    max_pixels: int,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[Path, PhotoHashes | str]]:
    """Hash every file (folders walked) on all cores, in walk order; `progress(done, total)`
    is told after each file."""
    files = list(walk(paths))
    work = partial(hash_file, dihedral=dihedral, trim=trim, max_pixels=max_pixels)
    pool = (
        ProcessPoolExecutor(max_workers=os.cpu_count() or 1)
        if len(files) >= POOL_MIN_FILES
        else None
    )
    results: Iterable[PhotoHashes | str] = (
        map(work, files) if pool is None else pool.map(work, files, chunksize=4)
    )
    if progress is not None:
        progress(0, len(files))
    try:
        for done, (path, result) in enumerate(zip(files, results, strict=True), start=1):
            if progress is not None:
                progress(done, len(files))
            yield path, result
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
