"""What every command shares: the consoles, error handling, the core, JSON lines, progress."""

from __future__ import annotations

import getpass
import json
import os
import signal
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from lykta.errors import LyktaError
from lykta.settings import Settings, load_settings

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

    from lykta.app import Lykta

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="print one JSON object per line")]
F = TypeVar("F", bound=Callable[..., Any])


def failing_with(code: int) -> Callable[[F], F]:
    """Turn Lykta's errors into one line on stderr and exit ``code``, never a traceback."""

    def decorate(command: F) -> F:
        @wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            from sqlalchemy.exc import DBAPIError

            try:
                result = command(*args, **kwargs)
                sys.stdout.flush()  # a closed pipe fails here, not after, at exit
                return result
            except BrokenPipeError:
                # The reader went away (`lykta bank export X | head`): stop quietly, as
                # other tools do, with the status of a process that SIGPIPE ended.
                _stdout_to_devnull()
                raise typer.Exit(128 + signal.SIGPIPE) from None
            except LyktaError as error:
                err.print(f"[red]error:[/red] {error.message}", highlight=False)
                raise typer.Exit(code) from None
            except OSError as error:
                where = f" {error.filename}" if error.filename else ""
                err.print(f"[red]error:[/red]{where} {error.strerror or error}", highlight=False)
                raise typer.Exit(code) from None
            except DBAPIError as error:
                # The driver's first line says what failed; the URL (and any password) stays out.
                orig = error.orig
                reason = str(orig).strip().splitlines()[0] if orig else type(error).__name__
                err.print(f"[red]error:[/red] database: {reason}", highlight=False)
                raise typer.Exit(code) from None
            except KeyboardInterrupt:
                err.print("interrupted")
                raise typer.Exit(130) from None

        return run  # type: ignore[return-value]

    return decorate


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush finds no closed pipe."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return  # not a real file (tests capture it)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def print_table(table: Table) -> None:
    """A table on a terminal as wide as it is; piped, at its full width (never cut at 80)."""
    if out.is_terminal:
        out.print(table)
    else:
        Console(width=100_000, soft_wrap=True).print(table)


# Most commands exit 1 on an error; `lykta match` exits 2, as its 1 means "matched".
friendly = failing_with(1)


def open_core(*, matching: bool = False, settings: Settings | None = None) -> Lykta:
    """A core for one command; only matching commands load the indexes, with a progress bar."""
    from lykta.app import Lykta

    core = Lykta.open(settings or load_settings(), sync=False)
    if matching:
        load_banks(core)
    return core


def load_banks(core: Lykta) -> None:
    """Load the banks into the core's indexes, with a progress bar."""
    with progress_bar() as bar:
        task = bar.add_task("loading banks into the index", total=None)
        core.load_index(lambda done, total: bar.update(task, completed=done, total=total))
    core.matcher.snapshot_if_stale()


def write_line(text: str) -> None:
    """A line of tab-separated output, tabs kept (the console would expand them)."""
    sys.stdout.write(text + "\n")


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
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

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
