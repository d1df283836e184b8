"""`lykta watch`: watch live streams (and files or pipes at their real rate) for banked
content; record alerts, call the webhook, print each match."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lykta.cli.common import JsonFlag, emit, err, friendly, open_core, out
from lykta.errors import InvalidInput
from lykta.settings import (
    STREAM_EPISODE_GAP,
    STREAM_INTERVAL,
    STREAM_READ_TIMEOUT,
    STREAM_WAIT,
)

if TYPE_CHECKING:
    from rich.table import Table

    from lykta.streams import StreamStatus

REFRESH_SECONDS = 0.5

Sources = Annotated[
    list[str],
    typer.Argument(
        help="rtmp://, rtsp://, http(s):// (HLS, MPEG-TS), udp:// URLs, files, or - (stdin)"
    ),
]


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    """A service manager stops with SIGTERM: stop as cleanly as on Ctrl-C."""

    def interrupt(_signal: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _table(statuses: list[StreamStatus]) -> Table:
    from rich.table import Table

    table = Table("stream", "state", "read", "sampled", "hashed", "lag", "matches", "last error")
    for status in statuses:
        table.add_row(
            status.id,
            status.state.value,
            str(status.frames_read),
            str(status.sampled),
            str(status.hashed),
            f"{status.lag_s:.1f} s",
            str(status.matches),
            status.last_error or "",
        )
    return table


@friendly
def watch_command(
    sources: Sources,
    bank: Annotated[
        list[str] | None, typer.Option("--bank", help="only this bank (repeatable)")
    ] = None,
    webhook: Annotated[
        str | None,
        typer.Option(help="URL to POST each match to, signed with LYKTA_WEBHOOK_SECRET"),
    ] = None,
    stream_id: Annotated[
        list[str] | None,
        typer.Option("--id", help="id of each source in the order given (default: the source)"),
    ] = None,
    subject: Annotated[
        str | None, typer.Option(help="the platform's id of the broadcaster")
    ] = None,
    viewer: Annotated[
        list[str] | None, typer.Option("--viewer", help="a viewer's id (repeatable)")
    ] = None,
    interval: Annotated[
        float, typer.Option(help="seconds of stream between sampled frames")
    ] = STREAM_INTERVAL,
    wait: Annotated[
        float, typer.Option(help="seconds to wait for a source to start before backing off")
    ] = STREAM_WAIT,
    timeout: Annotated[
        float, typer.Option(help="seconds without data before a source counts as dropped")
    ] = STREAM_READ_TIMEOUT,
    trim: Annotated[
        bool, typer.Option("--trim/--no-trim", help="also hash frames without their bars")
    ] = True,
    episode_gap: Annotated[
        float,
        typer.Option(help="seconds of stream after which a bank item's match alerts again"),
    ] = STREAM_EPISODE_GAP,
    as_json: JsonFlag = False,
) -> None:
    """Watch streams for banked content until they end or Ctrl-C."""
    from rich.live import Live

    from lykta.streams import StreamSpec, StreamState

    ids = stream_id or []
    if len(ids) > len(sources):
        raise InvalidInput(f"{len(ids)} --id given for {len(sources)} source(s)")
    if sources.count("-") > 1:
        raise InvalidInput("stdin (-) can be watched once only")
    specs = [
        StreamSpec(
            source=source,
            id=ids[number] if number < len(ids) else "",
            banks=tuple(bank) if bank else None,
            webhook=webhook,
            subject=subject,
            viewers=tuple(viewer or ()),
            interval=interval,
            wait=wait,
            read_timeout=timeout,
            episode_gap=episode_gap,
            trim=trim,
        )
        for number, source in enumerate(sources)
    ]
    if len({spec.stream_id for spec in specs}) < len(specs):
        raise InvalidInput("two sources have the same id; give each its own --id")
    core = open_core(matching=True)
    if webhook and not core.settings.webhook_secret:
        err.print("[yellow]warning:[/yellow] LYKTA_WEBHOOK_SECRET is not set: webhook calls "
                  "go unsigned", highlight=False)  # fmt: skip
    core.matcher.start(core.settings.sync_interval)  # bank changes reach the watchers
    streams = core.local_streams
    streams.on_match(emit if as_json else _print_match)
    streams.on_state(_print_state)
    failed = False
    # On a terminal, a table of every stream's live status, redrawn each second.
    display = Live(console=err, transient=True, auto_refresh=False) if err.is_terminal else None
    try:
        with _sigterm_stops(), display or nullcontext():
            for spec in specs:
                streams.add(spec)
            while streams.running():
                if display is not None:
                    display.update(_table(streams.list()), refresh=True)
                time.sleep(REFRESH_SECONDS)
            failed = any(status.state == StreamState.FAILED for status in streams.list())
    except KeyboardInterrupt:
        err.print("stopping")
    finally:
        core.close()
    if failed:
        raise typer.Exit(1)


def _print_match(event: dict[str, Any]) -> None:
    out.print(
        f"{event['stream']}\tMATCH at {event['offset_s']:.1f} s bank={event['bank']} "
        f"id={event['id']} distance={event['distance']} transform={event['transform']}",
        highlight=False,
    )


def _print_state(status: StreamStatus) -> None:
    reason = f" ({status.last_error})" if status.last_error else ""
    err.print(f"{status.id}: {status.state.value}{reason}", highlight=False)
