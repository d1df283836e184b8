"""What every command shares: the consoles, error handling, the core, JSON lines, progress."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.exc import DBAPIError

from lykta.app import Lykta
from lykta.errors import LyktaError
from lykta.settings import Settings, load_settings

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


def cli_actor(name: str | None = None) -> str:
    """Who runs a command, as case histories and the audit log name them: the name given
    (`--as`) or the operating-system user."""
    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    return f"cli:{name}"


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


def report_failure(path: Path, message: str, as_json: bool) -> None:
    if as_json:
        emit({"path": str(path), "error": message})
    else:
        err.print(f"[yellow]skipped[/yellow] {path}: {message}", highlight=False)
