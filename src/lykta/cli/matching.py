"""`lykta hash` and `lykta match`: hash files (folders walked) on all cores, match them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from lykta.alerts import MatchSource
from lykta.app import ScannedFile, video_sampling
from lykta.cli.common import JsonFlag, emit, friendly, open_core, out, progress_bar, report_failure
from lykta.errors import InvalidInput
from lykta.hashing.files import hash_files
from lykta.hashing.video import VideoHashes
from lykta.matching import LookupResult, Match
from lykta.outputs import scanned_file
from lykta.settings import load_settings

Paths = Annotated[list[Path], typer.Argument(help="media files or folders")]


@contextmanager
def hashing_progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar for a scan, as the callback the core reports to."""
    with progress_bar() as bar:
        task = bar.add_task("hashing", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@friendly
def hash_command(paths: Paths, as_json: JsonFlag = False) -> None:
    """Hash photos (PDQ with quality, MD5, SHA-256) and videos (MD5, SHA-256, duration, and
    PDQ of a frame every LYKTA_VIDEO_CHECK_INTERVAL seconds, without bars too)."""
    # Hashing needs no banks, so no database either: the core is not opened.
    settings = load_settings()
    with hashing_progress() as progress:
        hashed = hash_files(
            paths,
            dihedral=False,
            trim=False,
            max_pixels=settings.max_pixels,
            # The frames as they are (and without bars): mirrored copies are for look-ups.
            video=video_sampling(settings, for_bank=False) | {"mirror": False},
            progress=progress,
        )
        for path, hashes in hashed:
            if isinstance(hashes, str):
                report_failure(path, hashes, as_json)
            elif isinstance(hashes, VideoHashes):
                if as_json:
                    emit(scanned_file(ScannedFile(path, video=hashes)))
                else:
                    print_video(path, hashes)
            elif as_json:
                emit(scanned_file(ScannedFile(path, hashes)))
            else:
                out.print(
                    f"{path}\tpdq={hashes.pdq}\tquality={hashes.quality}"
                    f"\tmd5={hashes.md5}\tsha256={hashes.sha256}",
                    highlight=False,
                )


def video_summary(match: Match) -> str:
    """A video match's shares and its segments (query seconds -> bank seconds)."""
    if match.video is None:
        return ""
    segments = ", ".join(
        f"{s.query_start:g}-{s.query_end:g}s"
        + ("" if s.bank_start is None else f" -> {s.bank_start:g}-{s.bank_end:g}s")
        for s in match.video.segments
    )
    return f" query_share={match.video.query_share:.2f} bank_share={match.video.bank_share:.2f}" + (
        f" segments={segments}" if segments else ""
    )


def print_video(path: Path, hashes: VideoHashes) -> None:
    """A video's digests on one line, then a line per sampled frame and variant."""
    duration = "unknown" if hashes.duration is None else f"{hashes.duration:.3f}"
    out.print(
        f"{path}\tvideo\tduration={duration}\tframes={len(hashes.frames)}"
        f"\tmd5={hashes.md5}\tsha256={hashes.sha256}",
        highlight=False,
    )
    for frame in hashes.frames:
        for variant in frame.variants:
            out.print(
                f"{path}\tseconds={frame.seconds:.3f}\tpdq={variant.pdq}"
                f"\tquality={variant.quality}\ttransform={variant.transform}",
                highlight=False,
            )


@friendly
def match_command(
    paths: Paths,
    bank: Annotated[
        list[str] | None, typer.Option("--bank", help="only this bank (repeatable)")
    ] = None,
    dihedral: Annotated[bool | None, typer.Option("--dihedral/--no-dihedral")] = None,
    trim: Annotated[bool | None, typer.Option("--trim/--no-trim")] = None,
    local_features: Annotated[
        bool,
        typer.Option(
            "--local-features/--no-local-features",
            help="where PDQ matches nothing, look for a photo inside a screenshot and "
            "match local features in banks that enable them",
        ),
    ] = True,
    record: Annotated[
        bool, typer.Option("--record", help="record matches as alerts for review")
    ] = False,
    subject: Annotated[
        str | None, typer.Option("--subject", help="the account the files came from (--record)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Match photos and videos (folders walked recursively) against the banks."""
    source = recording_source(record, subject)
    core = open_core(matching=True)
    with hashing_progress() as progress:
        scanned = core.scan(
            paths,
            lookup=True,
            banks=bank,
            dihedral=dihedral,
            trim=trim,
            progress=progress,
            source=source,
            local_features=local_features,
        )
        for file in scanned:
            if as_json:
                emit(scanned_file(file))
            elif file.error is not None:
                report_failure(file.path, file.error, as_json)
            elif file.result is not None:
                print_matches(file.path, file.result)


def recording_source(record: bool, subject: str | None) -> MatchSource | None:
    """What --record and --subject ask for: both or neither."""
    if record != (subject is not None):
        raise InvalidInput("--record and --subject go together: give both or neither")
    return MatchSource(subject) if subject is not None else None


def print_matches(path: Path, found: LookupResult) -> None:
    for m in found.matches:
        out.print(
            f"{path}\tMATCH bank={m.bank} id={m.external_id} "
            f"distance={m.distance} transform={m.transform}{video_summary(m)}",
            highlight=False,
        )
    if found.suppressed_by:
        out.print(
            f"{path}\tsuppressed by negative bank {found.suppressed_by[0].bank}",
            highlight=False,
        )
    elif not found.matches:
        out.print(f"{path}\tno match", highlight=False)
