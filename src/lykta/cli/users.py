"""`lykta user create`: people who sign in to the review console at /ui."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lykta.cli.common import JsonFlag, cli_actor, emit, err, friendly, open_core
from lykta.errors import InvalidInput

app = typer.Typer(help="Users of the review console.", no_args_is_help=True)


@app.command("create")
@friendly
def user_create(
    name: Annotated[str, typer.Argument(help="the name they sign in with")],
    role: Annotated[str, typer.Option(help="admin, reviewer or child_safety")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a user; the password is asked for twice (or read from standard input)."""
    from lykta.auth.users import parse_role

    wanted = parse_role(role)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise InvalidInput("no password given")
    user = open_core().users.create(name, wanted, password, actor=cli_actor())
    if as_json:
        emit({"id": user.id, "name": user.name, "role": user.role.value})
    else:
        err.print(f"user {user.name} ({user.role}) created")
