"""`lykta serve` and `lykta settings`: run the HTTP API, show how it is configured."""

from __future__ import annotations

import errno
import os
import socket
import time
from typing import Annotated

import typer
from rich.table import Table

from lykta import __version__
from lykta.cli.common import JsonFlag, emit, err, friendly, open_core, print_table
from lykta.cli.logs import LOG_FORMATS, logging_config
from lykta.errors import InvalidInput
from lykta.settings import describe, load_settings, setting_sources, unknown_variables


@friendly
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on [LYKTA_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on [LYKTA_PORT]")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes [LYKTA_WORKERS]")] = None,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs)."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    settings = load_settings({"host": host, "port": port, "workers": workers})
    warn_of_unknown_variables()
    if settings.workers < 1:
        raise InvalidInput(
            f"workers (--workers, LYKTA_WORKERS) must be at least 1, got {settings.workers}"
        )
    address = listen_address(settings.host, settings.port)
    try:
        log_level = LogLevels(settings.log_level.lower())
    except ValueError:
        raise InvalidInput(
            f"unknown log level {settings.log_level!r} (LYKTA_LOG_LEVEL); "
            "use debug, info, warning or error"
        ) from None
    if settings.log_format not in LOG_FORMATS:
        raise InvalidInput(
            f"unknown log format {settings.log_format!r} (LYKTA_LOG_FORMAT); use text or json"
        )
    # Migrate, load the index and snapshot it once, so workers start by mapping the snapshot.
    started = time.perf_counter()
    core = open_core(matching=True, settings=settings)
    core.matcher.save_snapshot()
    sizes = core.matcher.size()
    banks = len(core.banks.names())
    engine_name = core.engine.dialect.name
    no_tokens = not core.tokens.list()
    core.close()
    err.print(
        f"index ready in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{count:,} {kind}" for kind, count in sizes.items()),
        highlight=False,
    )
    if no_tokens:
        err.print(
            "no API tokens yet: create one with `lykta token create --scope matcher` "
            "(every route but the probes /health and /readyz needs one)",
            highlight=False,
        )
    # The workers' shared counts start again with the server, as Prometheus expects.
    for stale in settings.metrics_dir.glob("*.json"):
        stale.unlink(missing_ok=True)
    if host:
        os.environ["LYKTA_HOST"] = host
    if port:
        os.environ["LYKTA_PORT"] = str(port)
    if workers:
        os.environ["LYKTA_WORKERS"] = str(workers)  # so each worker knows it has peers
    err.print(
        f"Lykta {__version__}: {banks} bank(s), database {engine_name}, "
        f"listening on http://{settings.host}:{settings.port} (API docs at /docs)",
        highlight=False,
    )
    # Granian (HTTP in Rust) serves look-ups at about twice uvicorn's rate on the same app,
    # measured side by side by bench/bench_http.py --servers.
    Granian(
        "lykta.api.asgi:create_app_from_env",
        factory=True,
        interface=Interfaces.ASGI,
        address=address,
        port=settings.port,
        workers=settings.workers,
        websockets=False,
        log_level=log_level,
        log_dictconfig=logging_config(settings.log_format, log_level.value),
        log_access=settings.access_log,
        respawn_failed_workers=True,
    ).serve()


def listen_address(host: str, port: int) -> str:
    """The IP address to listen on, once sure that `port` on it can be bound, so that a
    bad port or host, or a port in use, is one line before the index is loaded rather than
    a traceback from the server after it."""
    if not 1 <= port <= 65535:
        raise InvalidInput(f"port {port} (--port, LYKTA_PORT) must be between 1 and 65535")
    try:
        # The server takes an IP address; a host name is resolved here, once.
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InvalidInput(
            f"cannot listen on host {host!r} (--host, LYKTA_HOST): {reason}"
        ) from None
    family, _, _, _, sockaddr = found[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the server binds: a port whose old connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(sockaddr)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise InvalidInput(
                    f"port {port} on {host} is already in use (another lykta serve?); "
                    "stop it or choose another with --port"
                ) from None
            raise InvalidInput(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return str(sockaddr[0])


@friendly
def show_settings(as_json: JsonFlag = False) -> None:
    """Print every setting, its value (secrets redacted), where the value comes from
    (default, file, env or flag) and what it does; warn of unknown LYKTA_ variables."""
    rows = describe(load_settings())
    sources = setting_sources()
    warn_of_unknown_variables()
    if as_json:
        for name, value, help_text in rows:
            emit(
                {
                    "name": name,
                    "env": f"LYKTA_{name.upper()}",
                    "value": value,
                    "source": sources[name],
                    "help": help_text,
                }
            )
        return
    table = Table("setting", "value", "source", "help")
    for name, value, help_text in rows:
        table.add_row(f"LYKTA_{name.upper()}", value, sources[name], help_text)
    print_table(table)


def warn_of_unknown_variables() -> None:
    for warning in unknown_variables():
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
