"""Hash photo and video files from disk on every core: the folder walk and the process pool.

Per-file failures (unreadable, not a photo or video, too large) come back as messages, never
as exceptions, so one bad file in a folder of thousands does not stop the rest. A video is
hashed from its file as it is decoded, never read into memory whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from lykta.errors import LyktaError
from lykta.hashing.photo import PhotoHashes, hash_photo
from lykta.hashing.video import VideoHashes, hash_video
from lykta.media.video import SNIFF_BYTES, VIDEO_SUFFIXES, looks_like_video

FileHashes = PhotoHashes | VideoHashes

# Below this many files starting worker processes costs more than it saves.
POOL_MIN_FILES = 4


def walk(paths: Iterable[Path]) -> Iterator[Path]:
    """The files named, and every file under the folders named (sorted, recursively)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


def is_video_file(path: Path) -> bool:
    """Whether the file is a video: by its first bytes, or failing that by its suffix (so a
    broken video is reported as a video that cannot be decoded, not as a bad photo)."""
    with path.open("rb") as file:
        head = file.read(SNIFF_BYTES)
    return looks_like_video(head) or path.suffix.lower() in VIDEO_SUFFIXES


def hash_file(
    path: Path,
    *,
    dihedral: bool,
    trim: bool,
    max_pixels: int,
    video: Mapping[str, Any] | None = None,
) -> FileHashes | str:
    """The photo's or video's hashes, or why they could not be taken. ``video`` holds
    `hash_video`'s sampling arguments; without it a video is sampled every second."""
    try:
        if is_video_file(path):
            return hash_video(path, **(video or {}))
        data = path.read_bytes()
    except OSError as error:
        return f"cannot read: {error.strerror}"
    except LyktaError as error:
        return error.message
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
    video: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[Path, FileHashes | str]]:
    """Hash every file (folders walked) on all cores, in walk order; `progress(done, total)`
    is told after each file. ``video`` is `hash_video`'s sampling for the videos."""
    files = list(walk(paths))
    work = partial(hash_file, dihedral=dihedral, trim=trim, max_pixels=max_pixels, video=video)
    pool = (
        ProcessPoolExecutor(max_workers=os.cpu_count() or 1)
        if len(files) >= POOL_MIN_FILES
        else None
    )
    results: Iterable[FileHashes | str] = (
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
