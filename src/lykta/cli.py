"""The `lykta` command: serve the API, manage tokens and banks, hash and match files."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial, wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from lykta import __version__
from lykta.app import Lykta, queries_for_photo
from lykta.auth.tokens import parse_scope
from lykta.banks.formats import FORMATS, ParsedHash, get_format, guess_format
from lykta.errors import LyktaError
from lykta.hashing.photo import PhotoHashes, hash_photo
from lykta.settings import Settings, describe, load_settings

app = typer.Typer(
    help="Lykta: match content against banks of known material; serve the API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)
bank_app = typer.Typer(help="Create banks, import and export their hashes.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.add_typer(bank_app, name="bank")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON object per line")]
F = TypeVar("F", bound=Callable[..., Any])


def friendly(command: F) -> F:
    """Turn Lykta's errors into one line on stderr and exit code 1, never a traceback."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LyktaError as error:
            err.print(f"[red]error:[/red] {error.message}", highlight=False)
            raise typer.Exit(1) from None
        except OSError as error:
            where = f" {error.filename}" if error.filename else ""
            err.print(f"[red]error:[/red]{where} {error.strerror or error}", highlight=False)
            raise typer.Exit(1) from None
        except DBAPIError as error:
            # The driver's first line says what failed; the URL (and any password) stays out.
            reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
            err.print(f"[red]error:[/red] database: {reason}", highlight=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return run  # type: ignore[return-value]


def open_core(*, matching: bool = False, settings: Settings | None = None) -> Lykta:
    """A core for one command; only matching commands load the indexes, with a progress bar."""
    core = Lykta.open(settings or load_settings(), sync=False)
    if matching:
        with progress_bar() as bar:
            task = bar.add_task("loading banks into the index", total=None)
            core.load_index(lambda done, total: bar.update(task, completed=done, total=total))
        core.matcher.snapshot_if_stale()
    return core


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")


def progress_bar(transient: bool = True) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=transient,
        disable=not err.is_terminal,
    )


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="print the version")] = False,
) -> None:
    if version:
        out.print(__version__)
        raise typer.Exit()


# --- serve -------------------------------------------------------------------------------


@app.command()
@friendly
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on [LYKTA_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on [LYKTA_PORT]")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes [LYKTA_WORKERS]")] = None,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    settings = load_settings({"host": host, "port": port, "workers": workers})
    # Migrate, load the index and snapshot it once, so workers start by mapping the snapshot.
    started = time.perf_counter()
    core = open_core(matching=True, settings=settings)
    core.matcher.save_snapshot()
    sizes = core.matcher.size()
    banks = len(core.banks.list())
    engine_name = core.engine.dialect.name
    no_tokens = not core.tokens.list()
    core.close()
    err.print(
        f"index ready in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{count:,} {kind}" for kind, count in sizes.items()),
        highlight=False,
    )
    if no_tokens:
        err.print(
            "no API tokens yet: create one with `lykta token create --scope matcher` "
            "(every route but /health needs one)",
            highlight=False,
        )
    if host:
        os.environ["LYKTA_HOST"] = host
    if port:
        os.environ["LYKTA_PORT"] = str(port)
    err.print(
        f"Lykta {__version__}: {banks} bank(s), database {engine_name}, "
        f"listening on http://{settings.host}:{settings.port} (API docs at /docs)",
        highlight=False,
    )
    uvicorn.run(
        "lykta.api.asgi:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
    )


@app.command("settings")
@friendly
def show_settings(as_json: JsonFlag = False) -> None:
    """Print every setting, its value (secrets redacted) and what it does."""
    rows = describe(load_settings())
    if as_json:
        for name, value, help_text in rows:
            emit({"name": name, "env": f"LYKTA_{name.upper()}", "value": value, "help": help_text})
        return
    table = Table("setting", "value", "help")
    for name, value, help_text in rows:
        table.add_row(f"LYKTA_{name.upper()}", value, help_text)
    out.print(table)


# --- tokens ------------------------------------------------------------------------------


@token_app.command("create")
@friendly
def token_create(
    scope: Annotated[str, typer.Option(help="admin, curator or matcher")],
    name: Annotated[str, typer.Option(help="who or what the token is for")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create a token and print its secret once; only a hash of it is stored."""
    core = open_core()
    info, secret = core.tokens.create(parse_scope(scope), name)
    if as_json:
        emit({"id": info.id, "name": info.name, "scope": info.scope.value, "token": secret})
    else:
        err.print(f"token {info.id} ({info.scope}) created; it is shown only this once:")
        out.print(secret, highlight=False)


@token_app.command("list")
@friendly
def token_list(as_json: JsonFlag = False) -> None:
    """List tokens (never their secrets)."""
    tokens = open_core().tokens.list()
    if as_json:
        for t in tokens:
            emit({"id": t.id, "name": t.name, "scope": t.scope.value, "revoked": t.revoked})
        return
    table = Table("id", "name", "scope", "revoked")
    for t in tokens:
        table.add_row(str(t.id), t.name, t.scope.value, "yes" if t.revoked else "")
    out.print(table)


@token_app.command("revoke")
@friendly
def token_revoke(token_id: Annotated[int, typer.Argument(min=1, max=2**63 - 1)]) -> None:
    """Revoke a token (takes effect within seconds in every replica)."""
    open_core().tokens.revoke(token_id)
    err.print(f"token {token_id} revoked")


# --- banks -------------------------------------------------------------------------------


@bank_app.command("create")
@friendly
def bank_create(
    name: str,
    negative: Annotated[
        bool, typer.Option("--negative", help="its hashes suppress matches")
    ] = False,
    distance: Annotated[int, typer.Option(help="PDQ match distance")] = 31,
    min_quality: Annotated[int, typer.Option(help="minimum PDQ quality of a query")] = 50,
    description: Annotated[str, typer.Option()] = "",
    source: Annotated[str, typer.Option(help="where the hashes come from")] = "",
    licence: Annotated[str, typer.Option(help="terms the hashes come under")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create a bank."""
    bank = open_core().banks.create(
        name, description=description, source=source, licence=licence, negative=negative,
        pdq_distance=distance, pdq_min_quality=min_quality,
    )  # fmt: skip
    if as_json:
        emit(_bank_json(bank))
    else:
        err.print(f"bank {bank.name} created")


def _bank_json(bank: Any) -> dict[str, Any]:
    return {
        "name": bank.name, "enabled": bank.enabled, "negative": bank.negative,
        "pdq_distance": bank.pdq_distance, "pdq_min_quality": bank.pdq_min_quality,
        "content_count": bank.content_count, "source": bank.source, "licence": bank.licence,
        "description": bank.description,
    }  # fmt: skip


@bank_app.command("list")
@friendly
def bank_list(as_json: JsonFlag = False) -> None:
    """List banks with their settings and sizes."""
    banks = open_core().banks.list()
    if as_json:
        for bank in banks:
            emit(_bank_json(bank))
        return
    table = Table("bank", "hashes", "enabled", "negative", "distance", "min quality", "source")
    for b in banks:
        table.add_row(
            b.name, str(b.content_count), "yes" if b.enabled else "no",
            "yes" if b.negative else "", str(b.pdq_distance), str(b.pdq_min_quality), b.source,
        )  # fmt: skip
    out.print(table)


@bank_app.command("set")
@friendly
def bank_set(
    name: str,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled")] = None,
    distance: Annotated[int | None, typer.Option(help="PDQ match distance")] = None,
    min_quality: Annotated[int | None, typer.Option(help="minimum PDQ quality")] = None,
    negative: Annotated[bool | None, typer.Option("--negative/--positive")] = None,
) -> None:
    """Change a bank's settings; every replica applies them on its next look-up."""
    changes = {
        "enabled": enabled, "pdq_distance": distance, "pdq_min_quality": min_quality,
        "negative": negative,
    }  # fmt: skip
    open_core().banks.update(name, **{k: v for k, v in changes.items() if v is not None})
    err.print(f"bank {name} updated")


@bank_app.command("delete")
@friendly
def bank_delete(
    name: str, yes: Annotated[bool, typer.Option("--yes", help="don't ask")] = False
) -> None:
    """Delete a bank and all its hashes."""
    if not yes:
        typer.confirm(f"Delete bank {name} and all its hashes?", abort=True)
    open_core().banks.delete(name)
    err.print(f"bank {name} deleted")


@bank_app.command("import")
@friendly
def bank_import(
    name: str,
    file: Annotated[str, typer.Argument(help="hash list file, or - for standard input")],
    format: Annotated[str | None, typer.Option(help=f"one of: {', '.join(FORMATS)}")] = None,
    kind: Annotated[str, typer.Option(help="hash kind for formats without one")] = "pdq",
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="skip bad lines")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Import a hash list in one transaction: a bad line stops it, the bank unchanged."""
    fmt = get_format(format or guess_format(file))
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
                name, reading(fmt.parse(handle, kind.lower())), source=file,
                skip_invalid=skip_invalid, added_by="cli", progress=writing,
            )  # fmt: skip
        except UnicodeDecodeError:
            raise LyktaError(f"{file} is not UTF-8 text") from None
    if as_json:
        emit({
            "bank": name, "added": summary.added, "duplicates": summary.duplicates,
            "skipped": [{"line": e.line, "reason": e.reason} for e in summary.skipped],
        })  # fmt: skip
        return
    err.print(
        f"imported {summary.added} hash(es) into {name}; {summary.duplicates} already there; "
        f"{len(summary.skipped)} bad line(s) skipped",
        highlight=False,
    )
    for error in summary.skipped[:20]:
        err.print(f"  {file}:{error.line}: {error.reason}", highlight=False)
    if len(summary.skipped) > 20:
        err.print(f"  ... and {len(summary.skipped) - 20} more", highlight=False)


@bank_app.command("export")
@friendly
def bank_export(
    name: str,
    format: Annotated[str, typer.Option(help=f"one of: {', '.join(FORMATS)}")] = "csv",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="file (default stdout)")
    ] = None,
) -> None:
    """Write a bank's hashes to standard output or a file."""
    fmt = get_format(format)
    core = open_core()
    core.banks.get(name)
    target = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        for line in fmt.render(core.banks.export(name)):
            target.write(line)
    finally:
        if output:
            target.close()


@bank_app.command("add")
@friendly
def bank_add(
    name: str,
    paths: Annotated[list[Path], typer.Argument(help="media files or folders")],
    as_json: JsonFlag = False,
) -> None:
    """Hash media files and add each (PDQ, MD5, SHA-256) with its file stem as external id."""
    core = open_core()
    core.banks.get(name)
    rows: list[ParsedHash] = []
    failures = 0
    for path, result in hash_files(
        paths, dihedral=False, trim=False, max_pixels=core.settings.max_pixels
    ):
        if isinstance(result, str):
            failures += 1
            report_failure(path, result, as_json)
            continue
        stem = path.stem
        rows += [
            ParsedHash("pdq", result.pdq, stem),
            ParsedHash("md5", result.md5, stem),
            ParsedHash("sha256", result.sha256, stem),
        ]
    summary = core.banks.add_hashes(name, rows, added_by="cli")
    if as_json:
        emit(
            {
                "bank": name,
                "added": summary.added,
                "duplicates": summary.duplicates,
                "failed": failures,
            }
        )
    else:
        err.print(
            f"added {summary.added} hash(es) from {len(rows) // 3} file(s) to {name}; "
            f"{summary.duplicates} already there; {failures} file(s) unreadable",
            highlight=False,
        )
    if failures and not rows:
        raise typer.Exit(1)


# --- hashing and matching ----------------------------------------------------------------


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


def report_failure(path: Path, message: str, as_json: bool) -> None:
    if as_json:
        emit({"path": str(path), "error": message})
    else:
        err.print(f"[yellow]skipped[/yellow] {path}: {message}", highlight=False)


@app.command("hash")
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


@app.command("match")
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
        matches = [
            {"bank": m.bank, "id": m.external_id, "content_id": m.content_id,
             "distance": m.distance, "transform": m.transform, "kind": m.kind,
             "labels": list(m.labels)}
            for m in found.matches
        ]  # fmt: skip
        if as_json:
            record: dict[str, Any] = {"path": str(path), "matches": matches}
            if found.suppressed_by:
                record["suppressed_by"] = [m.bank for m in found.suppressed_by]
            emit(record)
        elif matches:
            for m in matches:
                out.print(
                    f"{path}\tMATCH bank={m['bank']} id={m['id']} "
                    f"distance={m['distance']} transform={m['transform']}",
                    highlight=False,
                )
        elif found.suppressed_by:
            out.print(
                f"{path}\tsuppressed by negative bank {found.suppressed_by[0].bank}",
                highlight=False,
            )
        else:
            out.print(f"{path}\tno match", highlight=False)


def main() -> None:
    app()
