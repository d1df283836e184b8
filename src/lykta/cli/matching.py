"""`lykta hash` and `lykta match`: hash files (folders walked) on all cores, match them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from lykta.app import queries_for_photo
from lykta.cli.common import JsonFlag, emit, friendly, open_core, out, progress_bar, report_failure
from lykta.errors import LyktaError
from lykta.hashing.photo import PhotoHashes, hash_photo
from lykta.settings import load_settings


def walk(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())
        else:
            yield path


def _hash_one(path: Path, dihedral: bool, trim: bool, max_pixels: int) -> PhotoHashes | str:
    try:
        data = path.read_bytes()
    except OSError as error:
        return f"cannot read: {error.strerror}"
    try:
        return hash_photo(data, dihedral=dihedral, trim=trim, max_pixels=max_pixels)
    except LyktaError as error:
        return error.message


def hash_files(
    paths: Iterable[Path], *, dihedral: bool, trim: bool, max_pixels: int
) -> Iterator[tuple[Path, PhotoHashes | str]]:
    """Hash files on all cores with a progress bar; yields a message for unreadable files."""
    files = list(walk(paths))
    work = partial(_hash_one, dihedral=dihedral, trim=trim, max_pixels=max_pixels)
    with progress_bar() as bar:
        task = bar.add_task("hashing", total=len(files))
        if len(files) < 4:
            results: Iterable[PhotoHashes | str] = map(work, files)
        else:
            pool = ProcessPoolExecutor(max_workers=os.cpu_count() or 1)
            results = pool.map(work, files, chunksize=4)
        try:
            for path, result in zip(files, results, strict=True):
                bar.advance(task)
                yield path, result
        finally:
            if len(files) >= 4:
                pool.shutdown(cancel_futures=True)


@friendly
def hash_command(
    paths: Annotated[list[Path], typer.Argument(help="media files or folders")],
    as_json: JsonFlag = False,
) -> None:
    """Hash photos: PDQ (with quality), MD5, SHA-256."""
    for path, result in hash_files(
        paths, dihedral=False, trim=False, max_pixels=load_settings().max_pixels
    ):
        if isinstance(result, str):
            report_failure(path, result, as_json)
        elif as_json:
            emit(
                {
                    "path": str(path),
                    "pdq": result.pdq,
                    "quality": result.quality,
                    "md5": result.md5,
                    "sha256": result.sha256,
                }
            )
        else:
            out.print(
                f"{path}\tpdq={result.pdq}\tquality={result.quality}\tmd5={result.md5}\tsha256={result.sha256}",
                highlight=False,
            )


@friendly
def match_command(
    paths: Annotated[list[Path], typer.Argument(help="media files or folders")],
    bank: Annotated[
        list[str] | None, typer.Option("--bank", help="only this bank (repeatable)")
    ] = None,
    dihedral: Annotated[bool | None, typer.Option("--dihedral/--no-dihedral")] = None,
    trim: Annotated[bool | None, typer.Option("--trim/--no-trim")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Match photos (folders walked recursively) against the banks."""
    core = open_core(matching=True)
    for name in bank or []:
        core.banks.get(name)
    settings = core.settings
    matched = 0
    for path, result in hash_files(
        paths,
        dihedral=settings.dihedral if dihedral is None else dihedral,
        trim=settings.trim if trim is None else trim,
        max_pixels=settings.max_pixels,
    ):
        if isinstance(result, str):
            report_failure(path, result, as_json)
            continue
        found = core.matcher.lookup(queries_for_photo(result), bank)
        matched += bool(found.matches)
        if as_json:
            emit({"path": str(path), **found.to_json()})
        elif found.matches:
            for m in found.matches:
                out.print(
                    f"{path}\tMATCH bank={m.bank} id={m.external_id} "
                    f"distance={m.distance} transform={m.transform}",
                    highlight=False,
                )
        elif found.suppressed_by:
            out.print(
                f"{path}\tsuppressed by negative bank {found.suppressed_by[0].bank}",
                highlight=False,
            )
        else:
            out.print(f"{path}\tno match", highlight=False)
