"""`lykta report` (cybertipline, status, retract) and `lykta export`: reports of
confirmed cases to NCMEC's CyberTipline and exports for police and hotlines, as a named
review-console user, through the same core services as the API."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lykta.cli.common import JsonFlag, cli_actor, emit, err, friendly, open_core, out
from lykta.errors import Forbidden

if TYPE_CHECKING:  # `lykta --help` imports no database or media code
    from lykta.app import Lykta
    from lykta.auth.users import UserInfo
    from lykta.reports import ReportInfo

app = typer.Typer(help="Reports of cases to NCMEC's CyberTipline.", no_args_is_help=True)

CaseId = Annotated[int, typer.Argument(min=1, max=2**62, help="the case's id")]
AsUser = Annotated[
    str, typer.Option("--as", help="the review-console user (child_safety) who sends it")
]


def _reporter(core: Lykta, name: str) -> UserInfo:
    user = core.users.get(name)
    if not user.may_report:
        raise Forbidden(f"user {name!r} is a {user.role}: only child_safety users send reports")
    return user


def _emit_json(info: ReportInfo) -> None:
    from lykta.outputs import ReportOut

    emit(ReportOut.of(info).model_dump(mode="json"))


def _print(info: ReportInfo) -> None:
    lost = "  LOST: unfinished after 24 h, NCMEC deleted it" if info.lost else ""
    failed = f"  last error: {info.error}" if info.error and not info.lost else ""
    out.print(
        f"report {info.id}: {info.step}, NCMEC id {info.ncmec_report_id or '-'}, "
        f"{len(info.files)} file(s), by {info.actor}, to {info.endpoint}{lost}{failed}",
        highlight=False,
    )


@app.command("cybertipline")
@friendly
def report_cybertipline(case_id: CaseId, who: AsUser, as_json: JsonFlag = False) -> None:
    """Send the case's report to the CyberTipline, or resume its unfinished one."""
    core = open_core()
    user = _reporter(core, who)
    client = core.cybertipline()
    try:
        info = core.reports.send(case_id, client, actor=user.actor, may_report=True)
    finally:
        client.close()
    if as_json:
        _emit_json(info)
    else:
        err.print(f"case {case_id} reported: NCMEC report {info.ncmec_report_id}")


@app.command("retract")
@friendly
def report_retract(case_id: CaseId, who: AsUser) -> None:
    """Withdraw the case's unfinished report."""
    core = open_core()
    user = _reporter(core, who)
    client = core.cybertipline()
    try:
        info = core.reports.retract(case_id, client, actor=user.actor)
    finally:
        client.close()
    err.print(f"report {info.id} (NCMEC id {info.ncmec_report_id or '-'}) retracted")


@app.command("status")
@friendly
def report_status(case_id: CaseId, as_json: JsonFlag = False) -> None:
    """The case's reports, newest first, and whether an unfinished one is lost."""
    found = open_core().reports.status(case_id)
    for info in found:
        if as_json:
            _emit_json(info)
        else:
            _print(info)
    if not found and not as_json:
        err.print(f"case {case_id} has no reports")


@friendly
def export(
    case_id: CaseId,
    target: Annotated[Path, typer.Argument(help="the zip to write", dir_okay=False)],
    media: Annotated[
        bool, typer.Option("--media", help="add the decrypted media (child_safety users)")
    ] = False,
    who: Annotated[
        str | None, typer.Option("--as", help="the review-console user exporting it")
    ] = None,
) -> None:
    """Export a case for police or a hotline: a zip of JSON and CSV (and media)."""
    core = open_core()
    user = core.users.get(who) if who is not None else None
    if media and (user is None or not user.may_report):
        raise Forbidden("--media needs --as a child_safety user")
    actor = user.actor if user is not None else cli_actor()
    data = core.reports.export(case_id, viewer=actor, media=media, may_view_media=media)
    target.write_bytes(data)
    err.print(f"case {case_id} exported to {target} ({len(data)} bytes)")
