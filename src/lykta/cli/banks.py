"""`lykta bank`: create banks, import and export their hashes, add media to them."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lykta.cli.common import (
    JsonFlag,
    emit,
    err,
    friendly,
    open_core,
    print_table,
    progress_bar,
    report_failure,
)
from lykta.cli.matching import hashing_progress
from lykta.errors import LyktaError

if TYPE_CHECKING:
    from lykta.app import ScannedFile

# The formats' names, written out so that help needs no import of the formats (and of the
# hashing they bring); a test checks them against `lykta.banks.formats.FORMATS`.
FORMAT_NAMES = "text, csv, vpdq, threatexchange"

app = typer.Typer(help="Create banks, import and export their hashes.", no_args_is_help=True)


@app.command("create")
@friendly
def bank_create(
    name: str,
    negative: Annotated[
        bool, typer.Option("--negative", help="its hashes suppress matches")
    ] = False,
    distance: Annotated[int, typer.Option(help="PDQ match distance")] = 31,
    min_quality: Annotated[int, typer.Option(help="minimum PDQ quality of a query")] = 50,
    description: Annotated[str, typer.Option(help="what the bank holds, for people")] = "",
    source: Annotated[str, typer.Option(help="where the hashes come from")] = "",
    licence: Annotated[str, typer.Option(help="terms the hashes come under")] = "",
    local_features: Annotated[
        bool,
        typer.Option(
            "--local-features",
            help="bank photos' local features (ORB) too, to match crops, rotations and "
            "screenshots of them",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a bank."""
    from lykta.outputs import BankOut

    bank = open_core().banks.create(
        name, description=description, source=source, licence=licence, negative=negative,
        pdq_distance=distance, pdq_min_quality=min_quality, local_features=local_features,
    )  # fmt: skip
    if as_json:
        emit(BankOut.of(bank).model_dump(mode="json"))
    else:
        err.print(f"bank {bank.name} created")


@app.command("list")
@friendly
def bank_list(as_json: JsonFlag = False) -> None:
    """List banks with their settings and sizes."""
    from rich.table import Table

    banks = open_core().banks.list_banks()
    if as_json:
        from lykta.outputs import BankOut  # pydantic: only for JSON

        for bank in banks:
            emit(BankOut.of(bank).model_dump(mode="json"))
        return
    table = Table(
        "bank", "content", "enabled", "negative", "local features", "thresholds", "source"
    )
    for b in banks:
        rules = ", ".join(
            f"{kind} <={rule.distance}"
            + ("" if rule.min_quality is None else f" q>={rule.min_quality}")
            for kind, rule in b.thresholds.items()
        )
        table.add_row(
            b.name, str(b.content_count), "yes" if b.enabled else "no",
            "yes" if b.negative else "", "yes" if b.local_features else "", rules, b.source,
        )  # fmt: skip
    print_table(table)


@app.command("set")
@friendly
def bank_set(
    name: str,
    enabled: Annotated[
        bool | None,
        typer.Option("--enabled/--disabled", help="whether look-ups search it", show_default=False),
    ] = None,
    distance: Annotated[int | None, typer.Option(help="PDQ match distance")] = None,
    min_quality: Annotated[int | None, typer.Option(help="minimum PDQ quality")] = None,
    negative: Annotated[
        bool | None,
        typer.Option(
            "--negative/--positive", help="whether its hashes suppress matches", show_default=False
        ),
    ] = None,
    local_features: Annotated[
        bool | None,
        typer.Option(
            "--local-features/--no-local-features",
            help="match by local features (photos added from now on are banked with them)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Change a bank's settings; every replica applies them within LYKTA_SYNC_INTERVAL."""
    changes = {
        "enabled": enabled, "pdq_distance": distance, "pdq_min_quality": min_quality,
        "negative": negative, "local_features": local_features,
    }  # fmt: skip
    open_core().banks.update(name, **{k: v for k, v in changes.items() if v is not None})
    err.print(f"bank {name} updated")


@app.command("delete")
@friendly
def bank_delete(
    name: str, yes: Annotated[bool, typer.Option("--yes", help="don't ask")] = False
) -> None:
    """Delete a bank and all its hashes."""
    if not yes:
        typer.confirm(f"Delete bank {name} and all its hashes?", abort=True)
    open_core().banks.delete(name)
    err.print(f"bank {name} deleted")


@app.command("import")
@friendly
def bank_import(
    name: str,
    file: Annotated[str, typer.Argument(help="hash list file, or - for standard input")],
    format: Annotated[str | None, typer.Option(help=f"one of: {FORMAT_NAMES}")] = None,
    kind: Annotated[str, typer.Option(help="hash kind for formats without one")] = "pdq",
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="skip bad lines")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import a hash list in one transaction: a bad line stops it, the bank unchanged."""
    from lykta.banks.formats import file_stem, get_format, guess_format
    from lykta.outputs import ImportOut

    fmt = get_format(format or guess_format(file))
    stem = None if file == "-" else file_stem(file)
    core = open_core()
    core.banks.get(name)
    try:
        handle = sys.stdin if file == "-" else open(file, encoding="utf-8-sig")  # noqa: SIM115
    except OSError as error:
        raise LyktaError(f"cannot read {file}: {error.strerror}") from None
    with handle, progress_bar() as bar:
        task = bar.add_task(f"reading {file}", total=None)

        def reading(items: Iterable[Any]) -> Iterator[Any]:
            for count, item in enumerate(items, start=1):
                if count % 10_000 == 0:
                    bar.update(task, completed=count)
                yield item

        def writing(done: int, total: int) -> None:
            bar.update(task, description=f"writing into {name}", completed=done, total=total)

        try:
            summary = core.banks.import_parsed(
                name, reading(fmt.parse(handle, kind.lower(), stem)), source=file,
                skip_invalid=skip_invalid, added_by="cli", progress=writing,
            )  # fmt: skip
        except UnicodeDecodeError:
            raise LyktaError(f"{file} is not UTF-8 text") from None
    if as_json:
        emit(ImportOut.of(summary).model_dump(mode="json"))
        return
    err.print(
        f"imported {summary.added} hash(es) into {name}; {summary.duplicates} already there; "
        f"{len(summary.skipped)} bad line(s) skipped",
        highlight=False,
    )
    for line_error in summary.skipped[:20]:
        err.print(f"  {file}:{line_error.line}: {line_error.reason}", highlight=False)
    if len(summary.skipped) > 20:
        err.print(f"  ... and {len(summary.skipped) - 20} more", highlight=False)


@app.command("export")
@friendly
def bank_export(
    name: str,
    format: Annotated[str, typer.Option(help=f"one of: {FORMAT_NAMES}")] = "csv",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="file (default stdout)")
    ] = None,
) -> None:
    """Write a bank's hashes to standard output or a file."""
    from lykta.banks.formats import describe_skipped, get_format, skipped_kinds

    fmt = get_format(format)
    core = open_core()
    skipped = skipped_kinds(fmt, core.banks.kind_counts(name))
    target = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        for line in fmt.render(core.banks.export(name)):
            target.write(line)
    finally:
        if output:
            target.close()
    if skipped:
        err.print(f"[yellow]warning:[/yellow] {describe_skipped(fmt, skipped)}", highlight=False)


@app.command("add")
@friendly
def bank_add(
    name: str,
    paths: Annotated[list[Path], typer.Argument(help="media files or folders")],
    as_json: JsonFlag = False,
) -> None:
    """Hash photos and videos and add each with its file stem as external id: a photo's PDQ,
    MD5 and SHA-256; a video's MD5, SHA-256 and the PDQ of its frames (sampled every
    LYKTA_VIDEO_BANK_INTERVAL seconds, still scenes kept once)."""
    from lykta.outputs import ImportOut

    core = open_core()
    core.banks.get(name)
    hashed: list[ScannedFile] = []
    failures = 0
    with hashing_progress() as progress:
        for file in core.scan(paths, dihedral=False, trim=False, for_bank=name, progress=progress):
            if file.error is not None:
                failures += 1
                report_failure(file.path, file.error, as_json)
            else:
                hashed.append(file)
    summary = core.add_scanned(name, hashed, added_by="cli")
    if as_json:
        emit(ImportOut.of(summary).model_dump(mode="json") | {"failed": failures})
    else:
        err.print(
            f"added {summary.added} of {len(hashed)} file(s) to {name}; "
            f"{summary.duplicates} already there; {failures} file(s) unreadable",
            highlight=False,
        )
    if failures and not hashed:
        raise typer.Exit(1)
