"""`lykta exchange`: banks that follow hash-sharing programmes (NCMEC, StopNCII,
ThreatExchange, lists), and their syncs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lykta.cli.common import JsonFlag, emit, err, friendly, open_core, out, print_table
from lykta.errors import InvalidInput, LyktaError

if TYPE_CHECKING:
    from lykta.exchanges import ExchangeInfo

app = typer.Typer(
    help="Make banks follow hash-sharing programmes (NCMEC, StopNCII, ThreatExchange, "
    "lists) and sync them.",
    no_args_is_help=True,
)


@app.command("add")
@friendly
def exchange_add(
    bank: Annotated[str, typer.Argument(help="the bank that follows it (created if missing)")],
    api: Annotated[
        str,
        typer.Argument(help="ncmec, stop_ncii, fb_threatexchange, sample or local_file"),
    ],
    config: Annotated[
        str,
        typer.Option(
            help='the API\'s settings as a JSON object, e.g. \'{"environment": "Industry"}\' '
            "for ncmec; base_url points it at another server"
        ),
    ] = "{}",
    credentials: Annotated[
        str,
        typer.Option(
            help="where the credentials are read from: env:VARIABLE or file:/path (default: "
            "python-threatexchange's variable, e.g. TX_NCMEC_CREDENTIALS); never the "
            "credentials themselves"
        ),
    ] = "",
    enabled: Annotated[
        bool, typer.Option("--enabled/--disabled", help="whether scheduled syncs run it")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Make a bank follow an exchange."""
    from lykta.outputs import ExchangeOut

    try:
        settings = json.loads(config)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"--config is not JSON: {error.msg}") from None
    if not isinstance(settings, dict):
        raise InvalidInput("--config must be a JSON object")
    info = open_core().exchanges.add(
        bank, api, config=settings, credentials=credentials, enabled=enabled
    )
    if as_json:
        emit(ExchangeOut.of(info).model_dump(mode="json"))
    else:
        err.print(f"bank {info.bank} follows exchange {info.api}; sync it with "
                  f"`lykta exchange sync {info.bank}`")  # fmt: skip


@app.command("list")
@friendly
def exchange_list(as_json: JsonFlag = False) -> None:
    """List exchanges with where their syncs stand."""
    from rich.table import Table

    from lykta.outputs import ExchangeOut

    exchanges = open_core().exchanges.list_exchanges()
    if as_json:
        for info in exchanges:
            emit(ExchangeOut.of(info).model_dump(mode="json"))
        return
    table = Table("bank", "api", "enabled", "items", "checkpoint", "last sync", "credentials")
    for info in exchanges:
        table.add_row(
            info.bank, info.api, "yes" if info.enabled else "no", str(info.status.items),
            _time(info.status.checkpoint_ts), _last(info), info.credentials or "(default)",
        )  # fmt: skip
    print_table(table)


@app.command("sync")
@friendly
def exchange_sync(
    banks: Annotated[
        list[str] | None,
        typer.Argument(help="banks to sync (default: every enabled exchange)", show_default=False),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Fetch what changed since the last sync; resumes where a stopped sync left off."""
    from lykta.outputs import SyncResultOut

    core = open_core()
    names = banks or [info.bank for info in core.exchanges.list_exchanges() if info.enabled]
    failed = 0
    for name in names:

        def progress(written: int, checkpoint: int | None, name: str = name) -> None:
            err.print(f"{name}: {written} items, up to {_time(checkpoint)}", highlight=False)

        try:
            result = core.exchanges.sync(name, progress=progress)
        except LyktaError as error:
            if len(names) == 1:
                raise
            failed += 1
            err.print(f"[red]error:[/red] {error.message}", highlight=False)
            continue
        if as_json:
            emit(SyncResultOut.of(result).model_dump(mode="json"))
        else:
            out.print(
                f"{name}: {result.added} added, {result.updated} updated, "
                f"{result.removed} removed, {result.unchanged} unchanged; "
                f"{result.items} items", highlight=False,
            )  # fmt: skip
    if failed:
        raise typer.Exit(1)


@app.command("status")
@friendly
def exchange_status(bank: str, as_json: JsonFlag = False) -> None:
    """Where a bank's exchange stands: checkpoint, last sync, a sync under way."""
    from lykta.outputs import ExchangeOut

    info = open_core().exchanges.get(bank)
    if as_json:
        emit(ExchangeOut.of(info).model_dump(mode="json"))
        return
    status = info.status
    rows: list[tuple[str, Any]] = [
        ("bank", info.bank), ("api", info.api), ("enabled", info.enabled),
        ("credentials", info.credentials or "(python-threatexchange's default)"),
        ("items", status.items), ("checkpoint", _time(status.checkpoint_ts)),
        ("up to date", status.up_to_date), ("last sync", _last(info)),
    ]  # fmt: skip
    if status.running_since is not None:
        rows.append(("running", f"since {status.running_since:%Y-%m-%d %H:%M:%S}, "
                                f"{status.run_items} items, by {status.lock_holder}"))  # fmt: skip
    if status.last_error:
        rows.append(("last error", status.last_error))
    for key, value in rows:
        out.print(f"{key}: {value}", highlight=False)


@app.command("apis")
@friendly
def exchange_apis(as_json: JsonFlag = False) -> None:
    """The exchange APIs a bank can follow."""
    from lykta.exchanges import exchange_names, get_exchange

    for name in exchange_names():
        exchange = get_exchange(name)
        cls = exchange.credential_cls
        if as_json:
            emit({"api": name, "credentials_variable": cls.ENV_VARIABLE if cls else None})
        else:
            where = f"credentials: {cls.ENV_VARIABLE} ({exchange.credential_format})" if cls else ""
            out.print(f"{name}  {where}".rstrip(), highlight=False)


@app.command("remove")
@friendly
def exchange_remove(bank: str) -> None:
    """Stop following a bank's exchange; the bank keeps what it holds."""
    if not open_core().exchanges.remove(bank):
        raise InvalidInput(f"bank {bank!r} follows no exchange")
    err.print(f"bank {bank} no longer follows its exchange")


def _time(ts: int | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _last(info: ExchangeInfo) -> str:
    status = info.status
    if status.last_finished_at is None:
        return "never"
    outcome = "ok" if status.last_succeeded else "failed"
    return f"{status.last_finished_at:%Y-%m-%d %H:%M:%S} {outcome}"
