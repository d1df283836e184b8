"""`lykta doctor`: check settings, database, migrations, index and tokens, and say what to
fix. Changes nothing: a database that is missing or behind is reported, not migrated."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import typer

from lykta.cli.common import JsonFlag, emit, err, friendly, out
from lykta.errors import LyktaError
from lykta.settings import Settings, load_settings, unknown_variables

Status = Literal["ok", "warn", "fail"]
SHOWN = {"ok": "[green]ok[/green]  ", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    message: str


def findings() -> list[Finding]:
    """Every check's result, in order; later checks are skipped when they cannot run."""
    found: list[Finding] = []
    try:
        settings = load_settings()
    except LyktaError as error:
        return [Finding("settings", "fail", error.message)]
    unknown = unknown_variables()
    found.append(Finding("settings", "ok", f"data folder {settings.home_path}"))
    found.extend(Finding("settings", "warn", warning) for warning in unknown)
    found.append(_evidence(settings))
    database = _database(settings, found)
    if database is None:
        return found
    engine_ok, schema_current = database
    if engine_ok and schema_current:
        _core(settings, found)
    return found


def _evidence(settings: Settings) -> Finding:
    """Confirming a case needs the evidence key; its value is never shown."""
    from lykta.evidence import parse_key

    if not settings.evidence_key:
        return Finding("evidence", "warn", "LYKTA_EVIDENCE_KEY is not set: confirming a case "
                       "(which preserves its evidence) will be refused")  # fmt: skip
    try:
        parse_key(settings.evidence_key)
    except LyktaError as error:
        return Finding("evidence", "fail", error.message)
    return Finding("evidence", "ok", f"key set; files in {settings.evidence_path}")


def _database(settings: Settings, found: list[Finding]) -> tuple[bool, bool] | None:
    from lykta.store.db import make_engine, schema_revisions

    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        path = url.removeprefix("sqlite:///")
        if not Path(path).exists():
            found.append(Finding("database", "warn", f"no database yet at {path}: any lykta "
                                 "command creates it (e.g. lykta serve)"))  # fmt: skip
            return None
    try:
        engine = make_engine(url, wait=settings.database_wait)
    except LyktaError as error:
        found.append(Finding("database", "fail", error.message))
        return None
    try:
        try:
            current, heads = schema_revisions(engine)
        except Exception as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            found.append(Finding("database", "fail", f"{engine.dialect.name}: {reason}"))
            return None
        found.append(Finding("database", "ok", f"{engine.dialect.name}, reachable"))
        if current == heads:
            found.append(Finding("migrations", "ok", f"schema current ({', '.join(heads)})"))
            return True, True
        if not current:
            found.append(Finding("migrations", "warn", "the database is empty: any lykta "
                                 "command creates the schema (e.g. lykta serve)"))  # fmt: skip
        elif current - _known_revisions():
            found.append(Finding("migrations", "fail", f"the database is at {sorted(current)}, "
                                 "newer than this Lykta: upgrade Lykta"))  # fmt: skip
        else:
            found.append(Finding("migrations", "warn", f"the database is at {sorted(current)}; "
                                 "the next lykta command migrates it"))  # fmt: skip
        return True, False
    finally:
        engine.dispose()


def _known_revisions() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from lykta.store.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def _core(settings: Settings, found: list[Finding]) -> None:
    from lykta.app import Lykta

    try:
        core = Lykta.open(settings, sync=False)
    except LyktaError as error:  # e.g. a hash kind whose plugin is not installed
        found.append(Finding("index", "fail", error.message))
        return
    try:
        started = time.perf_counter()
        try:
            core.load_index()
        except Exception as error:
            found.append(Finding("index", "fail", f"cannot load: {error}"))
            return
        sizes = ", ".join(f"{count:,} {kind}" for kind, count in core.matcher.size().items())
        readiness = core.readiness()
        found.append(Finding("index", "ok" if readiness.ready else "fail",
                             f"loaded in {time.perf_counter() - started:.1f} s: {sizes}"
                             if readiness.ready else "; ".join(readiness.problems)))  # fmt: skip
        banks = core.banks.list_banks()
        if banks:
            found.append(Finding("banks", "ok", f"{len(banks)} bank(s)"))
        else:
            found.append(Finding("banks", "warn", "no banks yet: lykta bank create NAME"))
        live = [token for token in core.tokens.list() if not token.revoked]
        if live:
            scopes = sorted({token.scope.value for token in live})
            found.append(Finding("tokens", "ok", f"{len(live)} live ({', '.join(scopes)})"))
        else:
            found.append(Finding("tokens", "warn", "no API tokens: every route but the probes "
                                 "needs one; lykta token create --scope matcher"))  # fmt: skip
    finally:
        core.close()


@friendly
def doctor(as_json: JsonFlag = False) -> None:
    """Check settings, database, migrations, index, banks and tokens; exit 1 if any check
    fails (warnings do not)."""
    results = findings()
    for finding in results:
        if as_json:
            emit({"check": finding.check, "status": finding.status, "message": finding.message})
        else:
            out.print(f"{SHOWN[finding.status]} {finding.check:<10} {finding.message}",
                      highlight=False)  # fmt: skip
    failed = [finding for finding in results if finding.status == "fail"]
    if failed:
        err.print(f"{len(failed)} problem(s) found", highlight=False)
        raise typer.Exit(1)
