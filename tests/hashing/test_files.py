"""Hashing files from disk: the walk's order, and failures as messages."""

from __future__ import annotations

from pathlib import Path

from lykta.hashing.files import hash_file, hash_files, walk
from tests.conftest import make_photo


def test_walk_names_files_then_sorted_folder_contents(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/b.jpg", "d/a.jpg", "d/sub/c.jpg", "single.jpg"):
        (tmp_path / name).write_bytes(b"x")
    named = [tmp_path / "single.jpg", tmp_path / "d"]
    found = [p.relative_to(tmp_path).as_posix() for p in walk(named)]
    assert found == ["single.jpg", "d/a.jpg", "d/b.jpg", "d/sub/c.jpg"]


def test_failures_are_messages(tmp_path: Path) -> None:
    assert hash_file(tmp_path / "missing.jpg", dihedral=False, trim=False, max_pixels=10**8) == (
        "cannot read: No such file or directory"
    )
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    assert isinstance(hash_file(text, dihedral=False, trim=False, max_pixels=10**8), str)


def test_few_files_are_hashed_in_process_with_progress(tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    photo.write_bytes(make_photo(30))
    told: list[tuple[int, int]] = []
    [(path, hashes)] = hash_files(
        [photo], dihedral=True, trim=False, max_pixels=10**8, progress=lambda *t: told.append(t)
    )
    assert path == photo and not isinstance(hashes, str) and len(hashes.variants) == 8
    assert told == [(0, 1), (1, 1)]
