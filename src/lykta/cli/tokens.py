"""`lykta token`: create, list and revoke API tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from lykta.cli.common import (
    JsonFlag,
    cli_actor,
    emit,
    err,
    friendly,
    open_core,
    out,
    print_table,
)

app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@app.command("create")
@friendly
def token_create(
    scope: Annotated[
        str,
        typer.Option(
            help="admin, curator, matcher, reviewer, child_safety or metrics (reads /metrics only)"
        ),
    ],
    name: Annotated[str, typer.Option(help="who or what the token is for")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create a token and print its secret once; only a hash of it is stored."""
    from lykta.auth.tokens import parse_scope

    core = open_core()
    info, secret = core.tokens.create(parse_scope(scope), name, actor=cli_actor())
    if as_json:
        emit({"id": info.id, "name": info.name, "scope": info.scope.value, "token": secret})
    else:
        err.print(f"token {info.id} ({info.scope}) created; it is shown only this once:")
        out.print(secret, highlight=False)


@app.command("list")
@friendly
def token_list(as_json: JsonFlag = False) -> None:
    """List tokens (never their secrets)."""
    from rich.table import Table

    tokens = open_core().tokens.list()
    if as_json:
        for t in tokens:
            emit({"id": t.id, "name": t.name, "scope": t.scope.value, "revoked": t.revoked})
        return
    table = Table("id", "name", "scope", "revoked")
    for t in tokens:
        table.add_row(str(t.id), t.name, t.scope.value, "yes" if t.revoked else "")
    print_table(table)


@app.command("revoke")
@friendly
def token_revoke(
    token_id: Annotated[int, typer.Argument(min=1, help="its id (`lykta token list`)")],
) -> None:
    """Revoke a token (takes effect within seconds in every replica)."""
    if token_id >= 2**63:  # checked here: as a range, help would print the 19-digit bound
        raise typer.BadParameter("no token has so large an id", param_hint="TOKEN_ID")
    open_core().tokens.revoke(token_id, actor=cli_actor())
    err.print(f"token {token_id} revoked")
