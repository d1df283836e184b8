"""The `lykta` command: serve the API, manage tokens and banks, hash and match files.

Each module holds one group of commands; this one puts them together under `app`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lykta import __version__
from lykta.cli import (
    banks,
    demo,
    doctor,
    evidence,
    exchanges,
    matching,
    plugins,
    reports,
    review,
    serve,
    streams,
    tokens,
    users,
    worker,
)
from lykta.cli.common import out

app = typer.Typer(
    help="Lykta: match content against banks of known material; serve the API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(tokens.app, name="token")
app.add_typer(banks.app, name="bank")
app.add_typer(exchanges.app, name="exchange")
app.add_typer(review.cases, name="case")
app.add_typer(review.audit, name="audit")
app.add_typer(users.app, name="user")
app.add_typer(evidence.app, name="evidence")
app.add_typer(reports.app, name="report")
app.command("export")(reports.export)
app.command()(serve.serve)
app.command("settings")(serve.show_settings)
app.command("hash")(matching.hash_command)
app.command("match")(matching.match_command)
app.command("watch")(streams.watch_command)
app.command("worker")(worker.worker_command)
app.command("plugins")(plugins.plugins_command)
app.command("doctor")(doctor.doctor)
app.command("demo")(demo.demo_command)


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="print the version")] = False,
) -> None:
    if version:
        out.print(__version__)
        raise typer.Exit()


def main() -> None:
    app()
