"""`lykta hash` and `lykta match`: hash files (folders walked) on all cores, match them.

`lykta match` exits as virus scanners do (clamscan): 0 when nothing matched, 1 when
something matched, 2 when nothing matched and something failed; a summary line ends
every run on stderr. With `--server` the files are checked by a running server instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lykta.cli.common import (
    JsonFlag,
    emit,
    err,
    failing_with,
    friendly,
    load_banks,
    open_core,
    progress_bar,
    report_failure,
    write_line,
)
from lykta.errors import InvalidInput

if TYPE_CHECKING:
    from lykta.alerts import MatchSource
    from lykta.app import Lykta, ScannedFile
    from lykta.hashing.video import VideoHashes

Paths = Annotated[list[Path], typer.Argument(help="media files or folders", show_default=False)]

# `lykta match` exit codes, as clamscan's.
NOTHING_MATCHED, MATCHED, FAILED = 0, 1, 2


@contextmanager
def hashing_progress() -> Iterator[Callable[[int, int], None]]:
    """A progress bar for a scan, as the callback the core reports to."""
    with progress_bar() as bar:
        task = bar.add_task("hashing", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@friendly
def hash_command(paths: Paths, as_json: JsonFlag = False) -> None:
    """Hash photos (PDQ with quality, MD5, SHA-256) and videos (MD5, SHA-256, duration, and
    PDQ of a frame every LYKTA_VIDEO_CHECK_INTERVAL seconds, without bars too). Exits 1
    when a file could not be hashed (each one is reported)."""
    from lykta.app import ScannedFile, video_sampling
    from lykta.hashing.files import hash_files
    from lykta.hashing.video import VideoHashes
    from lykta.outputs import scanned_file
    from lykta.settings import load_settings

    # Hashing needs no banks, so no database either: the core is not opened.
    settings = load_settings()
    hashed_count = failed = 0
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
                failed += 1
                report_failure(path, hashes, as_json)
                continue
            hashed_count += 1
            if isinstance(hashes, VideoHashes):
                if as_json:
                    emit(scanned_file(ScannedFile(path, video=hashes)))
                else:
                    print_video(path, hashes)
            elif as_json:
                emit(scanned_file(ScannedFile(path, hashes)))
            else:
                write_line(
                    f"{path}\tpdq={hashes.pdq}\tquality={hashes.quality}"
                    f"\tmd5={hashes.md5}\tsha256={hashes.sha256}"
                )
    err.print(f"hashed {hashed_count} file(s); {failed} could not be hashed", highlight=False)
    if failed:
        raise typer.Exit(1)


def video_summary(match: dict[str, Any]) -> str:
    """A video match's shares and its segments (query seconds -> bank seconds)."""
    if match.get("query_share") is None:
        return ""
    segments = ", ".join(
        f"{s['query_start']:g}-{s['query_end']:g}s"
        + ("" if s["bank_start"] is None else f" -> {s['bank_start']:g}-{s['bank_end']:g}s")
        for s in match.get("segments") or ()
    )
    return f" query_share={match['query_share']:.2f} bank_share={match['bank_share']:.2f}" + (
        f" segments={segments}" if segments else ""
    )


def covered_summary(match: dict[str, Any]) -> str:
    """A local-features match's covered box of the banked photo, in percent of its sides."""
    box = match.get("covered")
    if box is None:
        return ""
    left, top, right, bottom = (round(100 * share) for share in box)
    return f" covered={left}-{right}%x{top}-{bottom}%"


def print_video(path: Path, hashes: VideoHashes) -> None:
    """A video's digests on one line, then a line per sampled frame and variant."""
    duration = "unknown" if hashes.duration is None else f"{hashes.duration:.3f}"
    write_line(
        f"{path}\tvideo\tduration={duration}\tframes={len(hashes.frames)}"
        f"\tmd5={hashes.md5}\tsha256={hashes.sha256}"
    )
    for frame in hashes.frames:
        for variant in frame.variants:
            write_line(
                f"{path}\tseconds={frame.seconds:.3f}\tpdq={variant.pdq}"
                f"\tquality={variant.quality}\ttransform={variant.transform}"
            )


BankOption = Annotated[
    list[str] | None,
    typer.Option("--bank", help="only this bank (repeatable)", show_default=False),
]
DihedralOption = Annotated[
    bool | None,
    typer.Option(
        "--dihedral/--no-dihedral",
        help="also try the 7 rotations and flips (default: LYKTA_DIHEDRAL)",
        show_default=False,
    ),
]
TrimOption = Annotated[
    bool | None,
    typer.Option(
        "--trim/--no-trim",
        help="also try without uniform borders (default: LYKTA_TRIM)",
        show_default=False,
    ),
]
ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="check the files against this running Lykta (e.g. http://127.0.0.1:8000) "
        "instead of loading the banks here; photos only",
        show_default=False,
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="LYKTA_TOKEN",
        help="the server's bearer token (matcher scope); better in LYKTA_TOKEN",
        show_default=False,
    ),
]


@failing_with(FAILED)
def match_command(
    paths: Paths,
    bank: BankOption = None,
    dihedral: DihedralOption = None,
    trim: TrimOption = None,
    server: ServerOption = None,
    token: TokenOption = None,
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
    """Match photos and videos (folders walked recursively) against the banks.

    Exit status, as clamscan's: 0 nothing matched, 1 something matched, 2 nothing matched
    and a file or the command failed. Every file skipped and every hash below a bank's
    minimum quality is reported (on stderr, or in the --json record); a summary line ends
    the run on stderr."""
    source = recording_source(record, subject)
    if server is not None:
        from lykta.cli.remote import remote_records

        if source is not None:
            raise InvalidInput("--record records alerts here: it does not go with --server")
        records = remote_records(server, token, paths, bank, dihedral, trim, local_features)
    else:
        records = local_records(paths, bank, dihedral, trim, source, local_features)
    tally = Tally()
    for found in records:
        tally.count(found)
        if as_json:
            emit(found)
        else:
            print_record(found)
    tally.report()
    raise typer.Exit(tally.exit_code)


def local_records(
    paths: list[Path],
    bank: list[str] | None,
    dihedral: bool | None,
    trim: bool | None,
    source: MatchSource | None,
    local_features: bool = True,
) -> Iterator[dict[str, Any]]:
    """Each file's `--json` record, matched here against the banks loaded into an index."""
    from lykta.outputs import scanned_file

    core = open_core()
    floors = quality_floors(core, bank)
    load_banks(core)
    with hashing_progress() as progress:
        for file in core.scan(
            paths,
            lookup=True,
            banks=bank,
            dihedral=dihedral,
            trim=trim,
            progress=progress,
            source=source,
            local_features=local_features,
        ):
            record = scanned_file(file)
            if file.error is None:
                record["warnings"] = quality_warnings(file, floors)
            yield record


def recording_source(record: bool, subject: str | None) -> MatchSource | None:
    """What --record and --subject ask for: both or neither."""
    from lykta.alerts import MatchSource

    if record != (subject is not None):
        raise InvalidInput("--record and --subject go together: give both or neither")
    return MatchSource(subject) if subject is not None else None


def quality_floors(core: Lykta, wanted: list[str] | None) -> dict[str, int]:
    """The PDQ minimum quality of each bank a match can come from (0: none); an error when
    there is no such bank, so that "no match" never means "nothing to match against"."""
    from lykta.errors import LyktaError

    banks = [
        b
        for b in core.banks.list_banks()
        if not b.negative and (wanted is None or b.name in wanted)
    ]
    if wanted:
        for name in wanted:
            core.banks.get(name)  # an unknown bank is an error, not an empty result
    if not banks:
        raise LyktaError(
            "no banks to match against: create one with `lykta bank create NAME` and fill it "
            "with `lykta bank import` or `lykta bank add`"
        )
    enabled = [b for b in banks if b.enabled]
    if not enabled:
        names = ", ".join(b.name for b in banks)
        raise LyktaError(f"every bank to match against is disabled ({names})")
    if not any(b.content_count for b in enabled):
        err.print(
            "[yellow]warning:[/yellow] the banks hold no content yet: nothing can match",
            highlight=False,
        )
    floors = {}
    for b in enabled:
        rule = b.thresholds.get("pdq")
        floors[b.name] = 0 if rule is None or rule.min_quality is None else rule.min_quality
    return floors


def quality_warnings(file: ScannedFile, floors: dict[str, int]) -> list[str]:
    """Why a file's PDQ was not compared with a bank: its quality (a photo's, or every
    sampled frame's of a video) below the bank's minimum."""
    if file.hashes is not None:
        quality, what = file.hashes.quality, "pdq quality"
    elif file.video is not None and file.video.frames:
        quality = max(max(v.quality for v in f.variants) for f in file.video.frames)
        what = "best frame's pdq quality"
    else:
        return []
    return [
        f"{what} {quality} is below bank {name}'s minimum {floor}: pdq not compared there"
        for name, floor in floors.items()
        if quality < floor
    ]


@dataclass
class Tally:
    """What a run found, for its summary line and exit status."""

    files: int = 0
    matched: int = 0
    suppressed: int = 0
    failed: int = 0
    below_quality: int = 0

    def count(self, record: dict[str, Any]) -> None:
        self.files += 1
        if "error" in record:
            self.failed += 1
        elif record.get("matches"):
            self.matched += 1
        elif record.get("suppressed_by"):
            self.suppressed += 1
        if record.get("warnings"):
            self.below_quality += 1

    @property
    def exit_code(self) -> int:
        if self.matched:
            return MATCHED
        return FAILED if self.failed else NOTHING_MATCHED

    def report(self) -> None:
        clean = self.files - self.matched - self.suppressed - self.failed
        err.print(
            f"{self.files} file(s) checked: {self.matched} matched, {self.suppressed} "
            f"suppressed by a negative bank, {clean} without match, {self.failed} skipped; "
            f"{self.below_quality} below a bank's minimum quality",
            highlight=False,
        )


def print_record(record: dict[str, Any]) -> None:
    """A file's record as text: a line per match on stdout; failures and warnings on stderr."""
    path = record["path"]
    if "error" in record:
        report_failure(Path(path), record["error"], False)
        return
    for m in record["matches"]:
        write_line(
            f"{path}\tMATCH bank={m['bank']} id={m['external_id']} "
            f"distance={m['distance']} transform={m['transform']}{covered_summary(m)}"
            f"{video_summary(m)}"
        )
    if record["suppressed_by"]:
        write_line(f"{path}\tsuppressed by negative bank {record['suppressed_by'][0]['bank']}")
    elif not record["matches"]:
        write_line(f"{path}\tno match")
    for warning in record.get("warnings", ()):
        err.print(f"[yellow]note[/yellow] {path}: {warning}", highlight=False)
