"""The `lykta` command as a user types it: exact commands, --json lines, one-line errors."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lykta.cli import app
from tests.conftest import make_photo
from tests.videogen import still_video, write_video

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LYKTA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LYKTA_DATABASE_URL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, code: int = 0):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args), input=input)
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        return result

    return invoke


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    (folder / "known.jpg").write_bytes(make_photo(10))
    (folder / "nested" / "other.png").write_bytes(make_photo(11, fmt="PNG"))
    (folder / "nested" / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_token_create_prints_secret_once(run) -> None:  # type: ignore[no-untyped-def]
    [created] = lines(run("token", "create", "--scope", "matcher", "--json").stdout)
    assert created["scope"] == "matcher" and str(created["token"]).startswith("lykta_")
    listed = lines(run("token", "list", "--json").stdout)
    assert listed == [{"id": created["id"], "name": "", "scope": "matcher", "revoked": False}]
    result = run("token", "create", "--scope", "root", code=1)
    assert "unknown scope 'root'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bank_create_import_export_list(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("bank", "create", "ncmec", "--distance", "25")
    run("bank", "create", "fp", "--negative")
    hashes = tmp_path / "hashes.txt"
    hashes.write_text(f"{PDQ},A1\n{'0' * 64}\n")
    [summary] = lines(run("bank", "import", "ncmec", str(hashes), "--json").stdout)
    assert summary == {
        "bank": "ncmec", "added": 2, "duplicates": 0, "skipped": [], "content_ids": [],
    }  # fmt: skip
    banks = {b["name"]: b for b in lines(run("bank", "list", "--json").stdout)}
    assert banks["ncmec"]["content_count"] == 2 and banks["ncmec"]["pdq_distance"] == 25
    assert banks["fp"]["negative"] is True
    exported = run("bank", "export", "ncmec").stdout
    assert exported.splitlines() == [
        "kind,hash,external_id,labels,quality,seconds",
        f"pdq,{PDQ},,A1,,",
        f"pdq,{'0' * 64},,,,",
    ]
    assert run("bank", "export", "ncmec", "--format", "text").stdout.splitlines()[0] == f"{PDQ},A1"


def test_import_stops_at_bad_line(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("bank", "create", "a")
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{PDQ}\nnot-a-hash\n")
    result = run("bank", "import", "a", str(bad), code=1)
    assert f"{bad}:2:" in result.stderr and "nothing imported" in result.stderr
    assert lines(run("bank", "list", "--json").stdout)[0]["content_count"] == 0
    [summary] = lines(run("bank", "import", "a", str(bad), "--skip-invalid", "--json").stdout)
    assert summary["added"] == 1 and summary["skipped"][0]["line"] == 2  # type: ignore[index]
    assert "cannot read" in run("bank", "import", "a", str(tmp_path / "missing.txt"), code=1).stderr
    assert "no bank named 'zzz'" in run("bank", "import", "zzz", str(bad), code=1).stderr
    assert (
        "unknown format" in run("bank", "import", "a", str(bad), "--format", "xml", code=1).stderr
    )


def test_import_from_stdin(run) -> None:  # type: ignore[no-untyped-def]
    run("bank", "create", "a")
    [summary] = lines(run("bank", "import", "a", "-", "--json", input=f"{PDQ}\n").stdout)
    assert summary["added"] == 1


def test_hash_walks_folders_and_reports_unreadable(run, photos: Path) -> None:  # type: ignore[no-untyped-def]
    # Exit 1: two files could not be hashed; each says why, and the summary counts them.
    result = run("hash", str(photos), "--json", code=1)
    assert result.stderr.splitlines()[-1] == "hashed 2 file(s); 2 could not be hashed"
    records = lines(result.stdout)
    good = [r for r in records if "pdq" in r]
    bad = {Path(str(r["path"])).name: r["error"] for r in records if "error" in r}
    assert sorted(Path(str(r["path"])).name for r in good) == ["known.jpg", "other.png"]
    assert set(good[0]) == {"path", "pdq", "quality", "md5", "sha256"}
    assert set(bad) == {"broken.jpg", "notes.txt"}


def test_bank_add_then_match(run, photos: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("bank", "create", "known")
    [added] = lines(run("bank", "add", "known", str(photos / "known.jpg"), "--json").stdout)
    assert added == {
        "bank": "known", "added": 1, "duplicates": 0, "skipped": [], "content_ids": [1],
        "failed": 0,
    }  # fmt: skip
    records = {
        Path(str(r["path"])).name: r
        for r in lines(run("match", str(photos), "--json", code=1).stdout)
    }
    [match] = records["known.jpg"]["matches"]  # type: ignore[misc]
    assert (match["bank"], match["id"], match["distance"], match["transform"]) == (
        "known",
        "known",
        0,
        "original",
    )
    assert records["other.png"]["matches"] == []
    assert "error" in records["broken.jpg"]
    # A mirrored copy matches through the dihedral variants, and not without them.
    from PIL import Image, ImageOps

    mirrored = tmp_path / "mirrored.jpg"
    ImageOps.mirror(Image.open(photos / "known.jpg")).save(mirrored, quality=90)
    [record] = lines(run("match", str(mirrored), "--json", code=1).stdout)
    assert {m["transform"] for m in record["matches"]} == {"mirror"}  # type: ignore[union-attr]
    [record] = lines(run("match", str(mirrored), "--no-dihedral", "--json").stdout)
    assert record["matches"] == []
    assert "no bank named 'nope'" in run("match", str(mirrored), "--bank", "nope", code=2).stderr


def test_local_features_bank_matches_a_crop(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.hashing.imagegen import cropped, make_textured_photo, rotated

    run("bank", "create", "robust", "--local-features")
    photo = make_textured_photo(seed=60)
    photo.save(tmp_path / "banked.jpg", quality=90)
    run("bank", "add", "robust", str(tmp_path / "banked.jpg"))
    [bank] = lines(run("bank", "list", "--json").stdout)
    assert bank["local_features"] is True
    query = tmp_path / "query"
    query.mkdir()
    rotated(cropped(photo, 0.1, 1), 4).save(query / "edited.jpg", quality=85)
    [record] = lines(run("match", str(query), "--json", code=1).stdout)
    [match] = record["matches"]  # type: ignore[misc]
    assert (match["id"], match["kind"], match["transform"]) == ("banked", "orb", "local-features")
    assert int(match["distance"]) >= 25
    [record] = lines(run("match", str(query), "--no-local-features", "--json").stdout)
    assert record["matches"] == []
    run("bank", "set", "robust", "--no-local-features")
    [record] = lines(run("match", str(query), "--json").stdout)
    assert record["matches"] == []


def test_local_features_bank_matches_an_edited_video(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.videogen import cropped_and_turned, write_video

    run("bank", "create", "robust", "--local-features")
    banked = write_video(tmp_path / "banked.mp4", [87, 88], scene_seconds=3, textured=True)
    run("bank", "add", "robust", str(banked))
    edited = tmp_path / "edited.mp4"
    write_video(edited, [87, 88], scene_seconds=3, textured=True, edit=cropped_and_turned)
    [record] = lines(run("match", str(edited), "--json", code=1).stdout)
    [match] = record["matches"]  # type: ignore[misc]
    assert (match["id"], match["kind"], match["transform"]) == ("banked", "orb", "local-features")
    assert int(match["distance"]) >= 25 and match["segments"] and len(match["covered"]) == 4
    assert "covered=" in run("match", str(edited), code=1).stdout
    [record] = lines(run("match", str(edited), "--no-local-features", "--json").stdout)
    assert record["matches"] == []


def test_bank_set_and_delete(run) -> None:  # type: ignore[no-untyped-def]
    run("bank", "create", "a")
    run("bank", "set", "a", "--disabled", "--distance", "12")
    [bank] = lines(run("bank", "list", "--json").stdout)
    assert (bank["enabled"], bank["pdq_distance"]) == (False, 12)
    assert "between 0 and 64" in run("bank", "set", "a", "--distance", "999", code=1).stderr
    run("bank", "delete", "a", "--yes")
    assert lines(run("bank", "list", "--json").stdout) == []


def test_settings_redacts_secrets(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LYKTA_DATABASE_URL", "sqlite:///tmp/secret-password.db")
    rows = {r["name"]: r for r in lines(run("settings", "--json").stdout)}
    assert rows["database_url"]["value"] == "***"
    monkeypatch.setenv("LYKTA_PORT", "eighty")
    assert "LYKTA_PORT" in run("settings", code=1).stderr


def test_environment_problems_are_one_line(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    run("bank", "create", "a")
    result = run("bank", "export", "a", "-o", str(tmp_path / "missing" / "x.csv"), code=1)
    assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    assert "nothing to change" in run("bank", "set", "a", code=1).stderr
    assert run("token", "revoke", "99999999999999999999", code=2).exit_code == 2
    monkeypatch.setenv("LYKTA_DATABASE_URL", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    result = run("bank", "list", code=1)
    assert result.stderr.startswith("error: database:")
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_plugins_lists_the_kinds_each_brings(run) -> None:  # type: ignore[no-untyped-def]
    hashers, exchanges = lines(run("plugins", "--json").stdout)
    assert hashers == {
        "plugin": "lykta.builtin",
        "hash_kinds": ["pdq", "md5", "sha256", "orb"],
        "exchanges": [],
        "hooks": ["lykta_hashers"],
    }
    assert exchanges["plugin"] == "lykta.builtin_exchanges" and exchanges["hash_kinds"] == []
    assert {"ncmec", "stop_ncii", "fb_threatexchange", "url_list"} <= set(exchanges["exchanges"])
    assert exchanges["hooks"] == ["lykta_exchanges"]
    table = run("plugins").stdout
    assert "pdq (distance)" in table and "md5 (exact)" in table
    assert "orb (verified local features)" in table


def test_oversized_description_and_labels_are_one_line_errors(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("bank", "create", "a", "--description", "x" * 4097, code=1)
    assert result.stderr.splitlines() == ["error: description is longer than 4096 characters"]
    run("bank", "create", "a")
    hashes = tmp_path / "labels.txt"
    hashes.write_text(f"{PDQ},{'x' * 257}\n")
    result = run("bank", "import", "a", str(hashes), code=1)
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {hashes}:1: label 'xxx") and "longer than 256" in line


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_import_reads_any_line_ending(run, tmp_path: Path, newline: str) -> None:  # type: ignore[no-untyped-def]
    run("bank", "create", "a")
    hashes = tmp_path / "hashes.csv"
    hashes.write_bytes(newline.join(["hash,labels", f"{PDQ},x", f"{'0' * 63}1,y", ""]).encode())
    [summary] = lines(run("bank", "import", "a", str(hashes), "--json").stdout)
    assert summary["added"] == 2


def test_vpdq_export_warns_about_what_it_left_out(run, photos: Path) -> None:  # type: ignore[no-untyped-def]
    run("bank", "create", "a")
    run("bank", "add", "a", str(photos / "known.jpg"))
    result = run("bank", "export", "a", "--format", "vpdq")
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr.splitlines() == [
        "warning: vpdq holds only pdq hashes: left out 1 md5, 1 sha256; "
        "export as csv to keep every kind"
    ]
    assert run("bank", "export", "a", "--format", "csv").stderr == ""


def test_hash_and_bank_add_take_videos(run, photos: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = still_video(photos / "clip-3.mp4", [1, 2], fps=5, bars=30)
    [record] = lines(run("hash", str(clip), "--json").stdout)
    assert record["media_kind"] == "video"
    assert record["md5"] == hashlib.md5(clip.read_bytes()).hexdigest()
    frames = record["frames"]
    assert isinstance(frames, list)
    # One frame a second (LYKTA_VIDEO_CHECK_INTERVAL), each with and without its bars.
    assert [(f["seconds"], f["transform"]) for f in frames] == [
        (0.0, "original"), (0.0, "trimmed"), (1.0, "original"), (1.0, "trimmed"),
    ]  # fmt: skip
    assert set(frames[0]) == {"seconds", "transform", "pdq", "quality"}
    text = run("hash", str(clip)).stdout.splitlines()
    assert text[0].split()[1:4] == ["video", "duration=2.000", "frames=2"]
    assert text[1].split()[1] == "seconds=0.000" and text[1].split()[-1] == "transform=original"
    run("bank", "create", "known")
    [added] = [r for r in lines(run("bank", "add", "known", str(photos), "--json").stdout)
               if "bank" in r]  # fmt: skip
    assert (added["added"], added["failed"]) == (3, 2)  # two photos and the video
    summary = lines(run("bank", "add", "known", str(photos), "--json").stdout)[-1]
    assert (summary["added"], summary["duplicates"], summary["failed"]) == (0, 3, 2)
    exported = run("bank", "export", "known", "--format", "csv").stdout
    assert exported.count(",clip-3,") >= 4  # two scenes, each with and without bars


def test_match_finds_an_excerpt_of_a_banked_video(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    banked = write_video(tmp_path / "banked.mp4", [41, 42, 43], scene_seconds=4)
    excerpt = write_video(tmp_path / "excerpt.mp4", [41, 42, 43], scene_seconds=4, start=4, end=9)
    unrelated = write_video(tmp_path / "unrelated.mp4", [51, 52], scene_seconds=4)
    run("bank", "create", "videos")
    run("bank", "add", "videos", str(banked))
    records = {
        Path(str(r["path"])).stem: r
        for r in lines(run("match", str(excerpt), str(unrelated), "--json", code=1).stdout)
    }
    [match] = records["excerpt"]["matches"]  # type: ignore[misc]
    assert (match["bank"], match["id"]) == ("videos", "banked")
    assert match["query_share"] >= 0.8 and match["segments"]
    segment = match["segments"][0]
    assert abs(segment["bank_start"] - 4.0) <= 1.0  # located in the banked video
    assert records["unrelated"]["matches"] == []
    text = run("match", str(excerpt), code=1).stdout
    assert "MATCH bank=videos id=banked" in text and "query_share=" in text


def test_match_exit_status_says_what_happened(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    known, other = tmp_path / "known.jpg", tmp_path / "other.jpg"
    known.write_bytes(make_photo(10))
    other.write_bytes(make_photo(11))
    # No banks at all: an error (2), never "no match".
    assert "no banks to match against" in run("match", str(other), code=2).stderr
    run("bank", "create", "known")
    run("bank", "add", "known", str(known))
    result = run("match", str(other))  # 0: nothing matched
    assert result.stdout == f"{other}\tno match\n"
    assert result.stderr.splitlines()[-1] == (
        "1 file(s) checked: 0 matched, 0 suppressed by a negative bank, 1 without match, "
        "0 skipped; 0 below a bank's minimum quality"
    )
    assert run("match", str(tmp_path / "nosuchfile.jpg"), code=2).stderr.startswith(
        f"skipped {tmp_path / 'nosuchfile.jpg'}: cannot read: No such file or directory"
    )
    # A match wins over a failure elsewhere: the script learns of the match (1).
    result = run("match", str(known), str(tmp_path / "nosuchfile.jpg"), "--json", code=1)
    assert [r.get("error", "matched") for r in lines(result.stdout)] == [
        "matched",
        "cannot read: No such file or directory",
    ]
    assert "1 matched" in result.stderr and "1 skipped" in result.stderr
    run("bank", "set", "known", "--disabled")
    assert "every bank to match against is disabled" in run("match", str(known), code=2).stderr


def test_match_reports_broken_links_and_loops_in_folders(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("bank", "create", "known")
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(make_photo(12))
    (folder / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    (folder / "up").symlink_to(folder)
    result = run("match", str(folder), code=2)
    assert result.stdout == f"{folder / 'a.jpg'}\tno match\n"
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert skipped == [
        f"skipped {folder / 'gone.jpg'}: a broken link (to {tmp_path / 'deleted.jpg'})",
        f"skipped {folder / 'loop.jpg'}: a symlink loop",
        f"skipped {folder / 'up'}: a link to a folder walked already (not followed)",
    ]


def test_match_says_when_a_photo_is_below_the_banks_minimum_quality(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    flat = tmp_path / "flat.png"
    Image.new("RGB", (64, 64), (128, 128, 128)).save(flat)  # a flat photo: PDQ quality 0
    run("bank", "create", "strict", "--min-quality", "50")
    run("bank", "add", "strict", str(tmp_path / "flat.png"))
    [record] = lines(run("match", str(flat), "--json", "--bank", "strict", code=1).stdout)
    # It matches by its MD5, and says its PDQ was not compared.
    assert record["warnings"] == [
        "pdq quality 0 is below bank strict's minimum 50: pdq not compared there"
    ]
    other = tmp_path / "flat2.png"
    Image.new("RGB", (64, 64), (100, 100, 100)).save(other)
    result = run("match", str(other))
    assert result.stdout == f"{other}\tno match\n"
    assert f"note {other}: pdq quality 0 is below bank strict's minimum 50" in result.stderr
    assert "1 below a bank's minimum quality" in result.stderr.splitlines()[-1]


def test_hash_of_a_missing_folder_fails(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("hash", str(tmp_path / "nosuchdir"), code=1)
    assert "cannot read: No such file or directory" in result.stderr


def _all_commands(command, path):  # type: ignore[no-untyped-def]
    if hasattr(command, "commands"):
        yield path, command
        for name, sub in command.commands.items():
            yield from _all_commands(sub, [*path, name])
    else:
        yield path, command


def test_help_renders_as_designed_and_every_option_has_help(run) -> None:  # type: ignore[no-untyped-def]
    import typer.main

    for path, command in _all_commands(typer.main.get_command(app), []):
        text = run(*path, "--help").stdout
        for leak in ("<bool>", "<list[", "<str>", "<int", "9223372036854775807", "[default: None]"):
            assert leak not in text, f"`lykta {' '.join(path)} --help` shows {leak}"
        assert not re.search(r"<=\d{10,}", text), f"`lykta {' '.join(path)}` shows a huge bound"
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help, f"`lykta {' '.join(path)}` option {param.opts} has no help"


def test_bank_format_help_names_every_format() -> None:
    from lykta.banks.formats import FORMATS
    from lykta.cli.banks import FORMAT_NAMES

    assert FORMAT_NAMES.split(", ") == list(FORMATS)


def test_the_cli_loads_no_heavy_module_for_help() -> None:
    """`lykta --help` (and a command's) stays fast: FastAPI, alembic, SQLAlchemy, numba and
    the video decoder are imported by the commands that use them, not up front."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from lykta.cli import app\n"
        "for args in (['--help'], ['match', '--help'], ['bank', 'import', '--help']):\n"
        "    try:\n"
        "        app(args, prog_name='lykta')\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = {'fastapi', 'alembic', 'sqlalchemy', 'numba', 'av', 'nats', 'numpy'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_commands_that_open_the_core_load_no_media_or_network_module(tmp_path: Path) -> None:
    """Managing banks, tokens and cases imports neither the kernels and decoders of hashing
    and matching (numba, PyAV, OpenCV) nor the clients of the fleet and of reports (NATS,
    httpx), nor Alembic once the database is migrated: those come with the first hash,
    match, stream or migration."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "LYKTA_HOME": str(tmp_path / "home"), "LYKTA_DATABASE_URL": ""}
    # The first command migrates the new database (Alembic), in a process of its own.
    subprocess.run([sys.executable, "-m", "lykta", "bank", "create", "first"], env=env,
                   check=True, capture_output=True)  # fmt: skip
    code = (
        "import sys\n"
        "from lykta.cli import app\n"
        "for args in (['bank', 'list'], ['bank', 'create', 'second'], ['bank', 'list', '--json'],\n"
        "             ['token', 'list'], ['case', 'list'], ['case', 'list', '--json']):\n"
        "    try:\n"
        "        app(args, prog_name='lykta')\n"
        "    except SystemExit as done:\n"
        "        assert not done.code, (args, done.code)\n"
        "heavy = {'numba', 'llvmlite', 'av', 'cv2', 'nats', 'httpx', 'alembic'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}), file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "second" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_the_core_loads_its_kernels_when_it_hashes_or_will_match(tmp_path: Path) -> None:
    """The other side of the lazy imports: a core opened for bank work imports numba with
    its first hash, one opened for matching (as `lykta serve`) at once, before a look-up
    could wait for it; and both hash and match correctly."""
    import os
    import subprocess
    import sys

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(make_photo(3))
    env = {**os.environ, "LYKTA_HOME": str(tmp_path / "home"), "LYKTA_DATABASE_URL": ""}
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from lykta.app import Lykta\n"
        "from lykta.settings import load_settings\n"
        "if sys.argv[1] == 'bank work':\n"
        "    with Lykta.open(load_settings(), sync=False) as core:\n"
        "        print('numba' in sys.modules, file=sys.stderr)\n"
        "        core.banks.create('b')\n"
        "        core.add_media('b', Path(sys.argv[2]))\n"
        "        print('numba' in sys.modules, file=sys.stderr)\n"
        "else:\n"
        "    with Lykta.open(load_settings()) as core:\n"
        "        print('numba' in sys.modules, file=sys.stderr)\n"
        "        found = core.lookup_photo(Path(sys.argv[2]).read_bytes())\n"
        "        print(len(found.result.matches), file=sys.stderr)\n"
    )
    for role, expected in (("bank work", ["False", "True"]), ("matching", ["True", "1"])):
        done = subprocess.run([sys.executable, "-c", code, role, str(photo)], env=env,
                              capture_output=True, text=True)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stderr.strip().splitlines()[-2:] == expected, (role, done.stderr)


def test_bank_list_piped_keeps_long_names_whole(run) -> None:  # type: ignore[no-untyped-def]
    name = "a-bank-with-a-name-longer-than-a-terminal-is-wide-" + "x" * 60
    run("bank", "create", name, "--source", "a hotline with a long name, too")
    listed = run("bank", "list").stdout
    [row] = [line for line in listed.splitlines() if "xxxx" in line]
    assert name in row and "a hotline with a long name, too" in row


def test_export_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    """`lykta bank export X | head` prints no "Broken pipe" error."""
    import os
    import random
    import subprocess
    import sys

    env = {**os.environ, "LYKTA_HOME": str(tmp_path / "home"), "LYKTA_DATABASE_URL": ""}
    hashes = tmp_path / "many.txt"
    rng = random.Random(5)
    hashes.write_text("".join(f"{rng.getrandbits(256):064x}\n" for _ in range(20_000)))
    lykta = [sys.executable, "-m", "lykta"]
    for args in (["bank", "create", "big"], ["bank", "import", "big", str(hashes)]):
        subprocess.run([*lykta, *args], env=env, check=True, capture_output=True)
    done = subprocess.run(
        f"{' '.join(lykta)} bank export big --format text | head -n 2",
        shell=True, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert len(done.stdout.splitlines()) == 2
    assert done.stderr == ""


def test_demo_makes_a_sample_and_never_overwrites(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "sample"
    run("demo", str(folder))
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.*")) == [
        "hashes.csv",
        "known/known-4.jpg",
        "known/known-5.jpg",
        "uploads/demo-2-resized.jpg",
        "uploads/holiday.jpg",
        "uploads/known-5-mirrored.jpg",
    ]
    assert "exists already" in run("demo", str(folder), code=1).stderr
