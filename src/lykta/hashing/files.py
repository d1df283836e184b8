"""Hash photo and video files from disk on every core: the folder walk and the process pool.

Per-file failures (unreadable, not a photo or video, too large) come back as messages, never
as exceptions, so one bad file in a folder of thousands does not stop the rest. A video is
hashed from its file as it is decoded, never read into memory whole.
"""

from __future__ import annotations

import errno
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


def walk(paths: Iterable[Path]) -> Iterator[tuple[Path, str | None]]:
    """The files named, and every file under the folders named (sorted, recursively, links to
    folders followed once), each with None or why it is skipped: a broken link, a symlink
    loop, a folder reached again through a link. A path that does not exist is yielded for
    the reading to report."""
    for path in paths:
        if path.is_dir():
            yield from sorted(_walk_folder(path), key=lambda entry: entry[0])
        else:
            yield path, _link_problem(path)


def _walk_folder(folder: Path) -> Iterator[tuple[Path, str | None]]:
    walked = {os.path.realpath(folder)}
    for root, folders, files in os.walk(folder, followlinks=True):
        for name in list(folders):
            real = os.path.realpath(os.path.join(root, name))
            if real in walked:
                # A link back up the tree, or a second way into a folder: walked once only.
                folders.remove(name)
                yield Path(root, name), "a link to a folder walked already (not followed)"
            else:
                walked.add(real)
        for name in files:
            path = Path(root, name)
            problem = _link_problem(path)
            if problem is None and not path.is_file():
                problem = "not a regular file"  # a pipe or device: reading it could block
            yield path, problem


def _link_problem(path: Path) -> str | None:
    """Why a link cannot be followed to a file, or None (not a link, or a good one)."""
    if not path.is_symlink():
        return None
    try:
        path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symlink loop"
        return f"a broken link (to {os.readlink(path)})"
    return None


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
    readable = [path for path, problem in files if problem is None]
    work = partial(hash_file, dihedral=dihedral, trim=trim, max_pixels=max_pixels, video=video)
    pool = (
        ProcessPoolExecutor(max_workers=os.cpu_count() or 1)
        if len(readable) >= POOL_MIN_FILES
        else None
    )
    results: Iterator[FileHashes | str] = iter(
        map(work, readable) if pool is None else pool.map(work, readable, chunksize=4)
    )
    if progress is not None:
        progress(0, len(files))
    try:
        for done, (path, problem) in enumerate(files, start=1):
            result = problem if problem is not None else next(results)
            if progress is not None:
                progress(done, len(files))
            yield path, result
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
