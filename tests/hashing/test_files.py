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
    found = [p.relative_to(tmp_path).as_posix() for p, problem in walk(named) if problem is None]
    assert found == ["single.jpg", "d/a.jpg", "d/b.jpg", "d/sub/c.jpg"]


def test_walk_reports_broken_links_loops_and_follows_a_link_to_a_folder_once(
    tmp_path: Path,
) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "e.jpg").write_bytes(b"x")
    (tmp_path / "d" / "a.jpg").write_bytes(b"x")
    (tmp_path / "d" / "gone.jpg").symlink_to(tmp_path / "nothing-here.jpg")
    (tmp_path / "d" / "loop.jpg").symlink_to(tmp_path / "d" / "loop.jpg")
    (tmp_path / "d" / "sub" / "up").symlink_to(tmp_path / "d")
    (tmp_path / "d" / "linked").symlink_to(tmp_path / "elsewhere")
    found = {p.relative_to(tmp_path).as_posix(): problem for p, problem in walk([tmp_path / "d"])}
    assert found == {
        "d/a.jpg": None,
        "d/gone.jpg": f"a broken link (to {tmp_path / 'nothing-here.jpg'})",
        "d/linked/e.jpg": None,
        "d/loop.jpg": "a symlink loop",
        "d/sub/up": "a link to a folder walked already (not followed)",
    }
    hashed = dict(hash_files([tmp_path / "d"], dihedral=False, trim=False, max_pixels=10**8))
    assert hashed[tmp_path / "d" / "loop.jpg"] == "a symlink loop"
    assert len(hashed) == 5


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
