"""`lykta evidence` (show, hold, release, purge): the preserved evidence of confirmed
cases, through the same core service as the API."""

from __future__ import annotations

from typing import Annotated

import typer

from lykta.cli.common import JsonFlag, cli_actor, emit, err, friendly, open_core, out
from lykta.evidence import EvidenceInfo

app = typer.Typer(
    help="Evidence of confirmed cases: show, legal hold, purge.", no_args_is_help=True
)

CaseId = Annotated[int, typer.Argument(min=1, max=2**62, help="the case's id")]
As = Annotated[str | None, typer.Option("--as", help="who, as the audit log names them")]


def _emit(info: EvidenceInfo, as_json: bool) -> None:
    if as_json:
        emit(
            {
                "case_id": info.case_id,
                "created_at": info.created_at,
                "retain_until": info.retain_until,
                "legal_hold": info.legal_hold,
                "hold_note": info.hold_note,
                "purged_at": info.purged_at,
                "items": [
                    {"kind": i.kind, "name": i.name, "sha256": i.sha256, "size": i.size}
                    for i in info.items
                ],
            }
        )
        return
    hold = f", on legal hold ({info.hold_note})" if info.legal_hold else ""
    purged = f", purged {info.purged_at:%Y-%m-%d}" if info.purged_at else ""
    out.print(
        f"case {info.case_id}: evidence kept until {info.retain_until:%Y-%m-%d}{hold}{purged}",
        highlight=False,
    )
    for item in info.items:
        out.print(f"  {item.kind}\t{item.sha256}\t{item.size} bytes\t{item.name}", highlight=False)


@app.command("show")
@friendly
def evidence_show(case_id: CaseId, as_json: JsonFlag = False) -> None:
    """What is kept of a case, and until when."""
    _emit(open_core().evidence.info(case_id), as_json)


@app.command("hold")
@friendly
def evidence_hold(
    case_id: CaseId,
    note: Annotated[str, typer.Option(help="why (a case number, a request)")] = "",
    who: As = None,
) -> None:
    """Put a case's evidence on legal hold: the purge job keeps it past retention."""
    open_core().evidence.hold(case_id, True, actor=cli_actor(who), note=note)
    err.print(f"case {case_id}'s evidence is on legal hold")


@app.command("release")
@friendly
def evidence_release(case_id: CaseId, who: As = None) -> None:
    """Release a legal hold."""
    open_core().evidence.hold(case_id, False, actor=cli_actor(who))
    err.print(f"case {case_id}'s evidence is no longer on hold")


@app.command("purge")
@friendly
def evidence_purge(who: As = None, as_json: JsonFlag = False) -> None:
    """Delete the evidence past retention and not on hold (each case in the audit log)."""
    result = open_core().evidence.purge(actor=cli_actor(who))
    if as_json:
        emit({"cases": result.cases, "files_deleted": result.files_deleted,
              "uploads_expired": result.uploads_expired})  # fmt: skip
    else:
        out.print(
            f"purged {len(result.cases)} case(s), {result.files_deleted} file(s), "
            f"{result.uploads_expired} kept upload(s) past retention",
            highlight=False,
        )
