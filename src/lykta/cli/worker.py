"""`lykta worker`: watch this machine's share of a fleet's streams, handed out through NATS."""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from lykta.cli.common import JsonFlag, emit, err, friendly, open_core
from lykta.errors import InvalidInput

if TYPE_CHECKING:
    from lykta.streams import StreamSupervisor

DEFAULT_NATS = "nats://127.0.0.1:4222"


@friendly
def worker_command(
    nats_url: Annotated[
        str | None,
        typer.Option(
            "--nats", help=f"NATS server with JetStream (LYKTA_NATS_URL; default {DEFAULT_NATS})"
        ),
    ] = None,
    fleet: Annotated[
        str | None, typer.Option(help="the fleet's name on that server (LYKTA_FLEET)")
    ] = None,
    worker_id: Annotated[
        str | None, typer.Option("--id", help="this worker's name (default: host-pid-random)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Watch streams handed out through NATS JetStream, one worker of a fleet.

    Streams are added with `POST /api/v1/streams` on a server whose LYKTA_NATS_URL names the
    same NATS. Each stream is watched by exactly one worker; when a worker stops or dies,
    the others take its streams over within seconds. Matches are recorded as alerts (once,
    also across a takeover) and sent to each stream's webhook; with --json they are printed
    too, one JSON object a line.
    """
    import asyncio

    from lykta.streams import StreamSupervisor
    from lykta.workers.alerts import AlertsOnce

    core = open_core(matching=True)
    settings = core.settings
    url = nats_url or settings.nats_url or DEFAULT_NATS
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    core.matcher.start(settings.sync_interval)  # bank changes reach this worker too
    supervisor = StreamSupervisor(
        core.lookup_frame,
        alerts=AlertsOnce(core.sessions, listeners=core.alerts.listeners),
        webhook_secret=settings.webhook_secret,
        second_path_interval=settings.stream_second_path_interval,
    )
    if as_json:
        supervisor.on_match(emit)
    try:
        asyncio.run(_run(url, fleet or settings.fleet, worker_id, supervisor))
    finally:
        supervisor.close()
        core.close()


async def _run(url: str, fleet: str, worker_id: str | None, supervisor: StreamSupervisor) -> None:
    import asyncio

    import nats

    from lykta.workers import StreamBoard, Worker

    try:
        connection = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=-1)
    except Exception as error:
        raise InvalidInput(f"cannot reach NATS at {_redacted(url)}: {error}") from None
    try:
        board = await StreamBoard.open(connection, fleet=fleet)
        worker = Worker(board, supervisor, worker_id)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for stopping in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(stopping, stop.set)
        err.print(f"worker {worker.id} of fleet {fleet!r} on {_redacted(url)}; Ctrl-C stops")
        await worker.run(stop)
    finally:
        await connection.close()


def _redacted(url: str) -> str:
    """The URL without a password, for messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
