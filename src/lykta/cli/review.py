"""`lykta case` (list, show, decide, assign) and `lykta audit` (verify, list): review from
the command line, through the same core services as the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lykta.cli.common import JsonFlag, cli_actor, emit, err, friendly, open_core, out

if TYPE_CHECKING:
    from lykta.outputs import CaseDetailOut

cases = typer.Typer(
    help="The review queue: list, show, decide and assign cases.", no_args_is_help=True
)
audit = typer.Typer(help="The audit log: verify its chain, list entries.", no_args_is_help=True)


def _case_id(value: int) -> int:
    # Bounded here: as a range, help would print the 19-digit bound.
    if value > 2**62:
        raise typer.BadParameter("no case has so large an id")
    return value


CaseId = Annotated[int, typer.Argument(min=1, callback=_case_id, help="the case's id")]
As = Annotated[
    str | None,
    typer.Option("--as", help="who decides, as the history names them (default: your user)"),
]
Note = Annotated[str, typer.Option(help="why")]


@cases.command("list")
@friendly
def case_list(
    state: Annotated[str | None, typer.Option(help="only cases in this state")] = None,
    bank: Annotated[str | None, typer.Option(help="only cases with alerts of this bank")] = None,
    assignee: Annotated[str | None, typer.Option(help="only cases assigned to")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="at most this many")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The queue, highest priority first."""
    from rich.table import Table

    found = open_core().cases.queue(state=state, bank=bank, assignee=assignee, limit=limit)
    if as_json:
        from lykta.outputs import CaseOut  # pydantic: only for JSON

        for case in found:
            emit(CaseOut.of(case).model_dump(mode="json"))
        return
    table = Table("id", "state", "subject", "source", "distance", "alerts", "assignee")
    for case in found:
        table.add_row(
            str(case.id), case.state.value, case.subject or case.group_key,
            case.top_source_kind, str(case.min_distance), str(case.alert_count),
            case.assignee or "",
        )  # fmt: skip
    out.print(table)


def _print_case(detail: CaseDetailOut) -> None:
    out.print(
        f"case {detail.id}: {detail.state}, subject {detail.subject or detail.group_key}, "
        f"{detail.alert_count} alert(s), assignee {detail.assignee or '-'}",
        highlight=False,
    )
    for alert in detail.alerts:
        where = f" at {alert.offset_s:g} s" if alert.offset_s is not None else ""
        out.print(
            f"  alert {alert.id}: {alert.source_kind} {alert.source_id}{where} matched "
            f"{alert.bank}/{alert.external_id or alert.content_id} ({alert.kind} distance "
            f"{alert.distance})",
            highlight=False,
        )
    for event in detail.history:
        change = f" {event.from_state or ''}->{event.to_state}" if event.to_state else ""
        note = f": {event.note}" if event.note else ""
        out.print(f"  {event.at} {event.actor} {event.action}{change}{note}", highlight=False)
    for item in detail.context:
        out.print(f"  context {item.kind}: {item.value}", highlight=False)


@cases.command("show")
@friendly
def case_show(case_id: CaseId, who: As = None, as_json: JsonFlag = False) -> None:
    """A case with its alerts, history and context (the view is audited)."""
    from lykta.outputs import CaseDetailOut

    detail = CaseDetailOut.of_detail(open_core().cases.get(case_id, viewer=cli_actor(who)))
    if as_json:
        emit(detail.model_dump(mode="json"))
    else:
        _print_case(detail)


@cases.command("decide")
@friendly
def case_decide(
    case_id: CaseId,
    decision: Annotated[
        str,
        typer.Argument(help="in_review, confirmed, false_positive, escalated, reported, closed"),
    ],
    who: As = None,
    note: Note = "",
    negative_bank: Annotated[
        str | None,
        typer.Option(help="with false_positive: put the matched hashes into this negative bank"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Decide a case. The command line is the operator's (it holds the database), so it
    may also mark a case reported."""
    from lykta.outputs import CaseDetailOut

    decided = open_core().cases.decide(
        case_id, decision, actor=cli_actor(who), note=note, may_report=True,
        negative_bank=negative_bank,
    )  # fmt: skip
    detail = CaseDetailOut.of_detail(decided)
    if as_json:
        emit(detail.model_dump(mode="json"))
    else:
        err.print(f"case {case_id} is now {detail.state}")


@cases.command("assign")
@friendly
def case_assign(
    case_id: CaseId,
    assignee: Annotated[str, typer.Argument(help="the reviewer; '-' for nobody")],
    who: As = None,
    note: Note = "",
) -> None:
    """Give a case to a reviewer."""
    name = None if assignee == "-" else assignee
    open_core().cases.assign(case_id, name, actor=cli_actor(who), note=note)
    err.print(f"case {case_id} assigned to {name or 'nobody'}")


@audit.command("verify")
@friendly
def audit_verify(as_json: JsonFlag = False) -> None:
    """Check the audit log's chain: exit 0 when intact, 1 naming the first bad entry."""
    result = open_core().audit.verify()
    if as_json:
        emit({"ok": result.ok, "checked": result.checked, "first_bad": result.first_bad,
              "problem": result.problem})  # fmt: skip
    elif result.ok:
        out.print(f"audit log intact: {result.checked} entries")
    elif result.first_bad is not None:
        err.print(f"audit log broken at entry {result.first_bad}: it {result.problem}")
    else:
        err.print(f"audit log broken after {result.checked} entries: {result.problem}")
    if not result.ok:
        raise typer.Exit(1)


@audit.command("list")
@friendly
def audit_list(
    action: Annotated[str | None, typer.Option(help="only this action, e.g. case.decision")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="at most this many")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The newest entries first (reading the log is itself logged)."""
    from lykta.outputs import AuditEntryOut

    core = open_core()
    found = core.audit.list(action=action, limit=limit)
    core.audit.record(cli_actor(), "audit.view", "", {"action": action})
    for entry in found:
        shown = AuditEntryOut.of(entry)
        if as_json:
            emit(shown.model_dump(mode="json"))
        else:
            out.print(
                f"{shown.id}\t{shown.at.isoformat()}\t{shown.actor}\t{shown.action}\t{shown.target}",
                highlight=False,
            )
