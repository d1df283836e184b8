"""Every Lykta setting, declared once: name, type, default and one line of help.

Values come from an optional TOML file (`LYKTA_CONFIG`), overridden by `LYKTA_<NAME>`
environment variables, overridden by CLI flags. `lykta settings` prints them with secrets
redacted and where each came from, and warns of `LYKTA_` variables that are no setting.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from lykta.errors import InvalidInput

# A watched stream's defaults, which every door shares (`lykta watch`, the API, workers):
# here rather than in `lykta.streams`, so that the CLI can show them without loading it.
STREAM_INTERVAL = 1.0  # seconds of stream between sampled frames
STREAM_WAIT = 30.0  # seconds to wait for a source to start
STREAM_READ_TIMEOUT = 10.0  # seconds without data before a source counts as dropped
# A match of the same bank item within this many seconds of stream time of the previous
# one in the same stream is the same episode: no new alert (see docs/streams.md).
STREAM_EPISODE_GAP = 30.0
# Seconds of a watched stream between look-ups of a frame on the second path (the photo
# region it shows; local features where a watched bank enables them), about 50 ms each.
STREAM_SECOND_PATH_INTERVAL = 5.0


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one Lykta process."""

    home: Path = Path("~/.lykta")
    database_url: str = ""
    database_wait: float = 30.0
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    sync_interval: float = 0.5
    max_pixels: int = 100_000_000
    max_upload_bytes: int = 64 * 1024 * 1024
    max_stream_upload_bytes: int = 16 * 1024**3
    max_batch_hashes: int = 10_000
    max_matches: int = 100
    video_check_interval: float = 1.0
    video_bank_interval: float = 0.2
    video_dedupe_distance: int = 4
    video_max_seconds: float = 6 * 3600.0
    video_max_frames: int = 1_000_000
    dihedral: bool = True
    trim: bool = True
    snapshot_index: bool = True
    log_level: str = "info"
    log_format: str = "text"
    access_log: bool = False
    hma_fetch_urls: str = ""
    exchange_hosts: str = ""
    webhook_secret: str = ""
    nats_url: str = ""
    fleet: str = "lykta"
    stream_second_path_interval: float = STREAM_SECOND_PATH_INTERVAL
    case_bank_order: str = ""
    quarantine_after: int = 3
    login_max_failures: int = 5
    login_lockout_seconds: float = 900.0
    session_seconds: float = 43200.0
    console_blur: int = 6
    console_greyscale: bool = True
    console_reveal: str = "click"
    console_break_after: int = 50
    console_storyboard_frames: int = 8
    home_banks: bool = True
    evidence_key: str = ""
    evidence_dir: str = ""
    evidence_retention_days: int = 365
    evidence_keep_uploads: bool = False
    evidence_purge_interval: float = 86400.0
    cybertipline_url: str = "https://exttest.cybertip.org/ispws"
    cybertipline_username: str = ""
    cybertipline_password: str = ""
    cybertipline_reporter_name: str = ""
    cybertipline_reporter_email: str = ""
    auto_report_banks: str = ""
    exchange_interval: float = 3600.0
    exchange_retries: int = 5
    exchange_backoff: float = 2.0
    exchange_lock_seconds: float = 300.0
    exchange_key: str = ""

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home_path / 'lykta.db'}"

    @property
    def bank_order(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.case_bank_order.split(",") if name.strip())

    @property
    def home_path(self) -> Path:
        return self.home.expanduser()

    @property
    def evidence_path(self) -> Path:
        return (
            Path(self.evidence_dir).expanduser()
            if self.evidence_dir
            else self.home_path / "evidence"
        )

    @property
    def auto_report_bank_names(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.auto_report_banks.split(",") if name.strip())

    @property
    def metrics_dir(self) -> Path:
        """Where the workers of one `lykta serve` share their request counts."""
        return self.home_path / "metrics"

    @property
    def index_dir(self) -> Path:
        return self.home_path / "index"


HELP: dict[str, str] = {
    "home": "data folder: SQLite database, index snapshots",
    "database_url": "SQLAlchemy URL; empty means SQLite in the data folder "
    "(e.g. postgresql+psycopg://user@host/db)",
    "database_wait": "seconds a write waits for another write (e.g. a long import) to finish "
    "before it is refused as busy (HTTP 503 with Retry-After; CLI exit code 1)",
    "host": "address `lykta serve` listens on",
    "port": "port `lykta serve` listens on",
    "workers": "HTTP worker processes for `lykta serve` (each holds the index, kept in sync)",
    "sync_interval": "seconds between checks of the change log for other replicas' bank changes",
    "max_pixels": "largest image (width x height) Lykta will decode; larger ones are refused",
    "max_upload_bytes": "largest upload the HTTP API accepts",
    "max_stream_upload_bytes": "largest video the streamed upload route accepts (spooled to "
    "the data folder as it arrives, never held in memory)",
    "max_batch_hashes": "most hashes one batch look-up may carry",
    "max_matches": "most matches a look-up returns per content (the closest; the result "
    "says when it was capped)",
    "video_check_interval": "seconds between the frames of a video that is checked "
    "(looked up); 0 = every frame",
    "video_bank_interval": "seconds between the frames of a video added to a bank; 0 = every "
    "frame (denser than checks, so time-shifted copies still meet a banked frame)",
    "video_dedupe_distance": "a banked video's frame within this PDQ distance of the last "
    "frame kept is dropped, so a still scene costs one hash; -1 keeps every sampled frame",
    "video_max_seconds": "longest video Lykta will decode; longer ones are refused",
    "video_max_frames": "most frames Lykta will decode of one video; more are refused",
    "dihedral": "look up all 8 rotations and flips of a photo by default",
    "trim": "trim uniform borders (letterboxing, padding) before hashing by default",
    "snapshot_index": "keep memory-mappable index snapshots in the data folder for fast restarts",
    "log_level": "log level of `lykta serve` (debug, info, warning, error)",
    "log_format": "log lines of `lykta serve`: `text`, or `json` (one object per line)",
    "access_log": "log every HTTP request (method, path, status, milliseconds)",
    "hma_fetch_urls": "let HMA routes fetch `url=` media: empty = never (default), `public` = "
    "hosts with public addresses only, or a comma list of host names to allow",
    "exchange_hosts": "hosts the server may fetch exchanges from (a `url_list`'s `url`, a "
    "`base_url`): empty = any (default), `public` = hosts with public addresses only, and/or "
    "a comma list of host names to allow whatever they resolve to",
    "webhook_secret": "key of the HMAC-SHA256 signature of stream match webhooks "
    "(header X-Lykta-Signature); empty = calls go unsigned",
    "nats_url": "NATS server (with JetStream) of a fleet of `lykta worker`s, e.g. "
    "nats://127.0.0.1:4222; when set, the streams API hands streams to the fleet instead of "
    "watching them in the server process",
    "stream_second_path_interval": "seconds of a watched stream between frames looked up on "
    "the second path where PDQ found nothing (the photo region a frame shows; local features "
    "where a watched bank enables them; about 50 ms a frame); 0 = never",
    "fleet": "name of the worker fleet on that NATS (its key-value buckets are named after it)",
    "case_bank_order": "comma list of bank names, most urgent first: among cases of the same "
    "source kind and distance, those matching a bank listed earlier come first in the queue",
    "login_max_failures": "wrong passwords in a row after which a review console account is locked",
    "login_lockout_seconds": "how long a locked review console account stays locked",
    "session_seconds": "how long a review console sign-in lasts",
    "console_blur": "the review console's default blur of media, 0 (none) to 10 (strongest); "
    "each user may change it",
    "console_greyscale": "show media in greyscale in the review console until revealed, by "
    "default; each user may change it",
    "console_reveal": "how a reviewer reveals blurred media by default: `click` or `hover`",
    "console_break_after": "media items viewed in one console session after which a break is "
    "suggested, by default; 0 = never",
    "console_storyboard_frames": "key frames in a video's storyboard in the review console",
    "quarantine_after": "false positives after which a bank item is quarantined (its matches "
    "no longer open or join cases); 0 = never",
    "home_banks": "list bank names and sizes on the home page (`/`), which needs no token",
    "evidence_key": "AES-256-GCM key of the evidence store: 32 bytes as 64 hex digits or "
    "URL-safe base64; confirming a case needs it (secret, from the environment only)",
    "evidence_dir": "folder of the encrypted, content-addressed evidence files; empty = "
    "`evidence` in the data folder",
    "evidence_retention_days": "days evidence of a confirmed case is kept before the purge job "
    "may delete it (legal hold keeps it longer); the US REPORT Act asks for one year",
    "evidence_keep_uploads": "keep (encrypted) the bytes of uploads whose matches raised alerts, "
    "so a confirmed case's evidence and report can carry the media; off = only hashes are kept",
    "evidence_purge_interval": "seconds between runs of the evidence purge job in `lykta serve`; "
    "0 = never in the server (run `lykta evidence purge` instead)",
    "cybertipline_url": "base URL of NCMEC's CyberTipline Reporting API: the test environment "
    "by default, https://report.cybertip.org/ispws for production",
    "cybertipline_username": "CyberTipline API user name (secret, from the environment only)",
    "cybertipline_password": "CyberTipline API password (secret, from the environment only)",
    "cybertipline_reporter_name": "the reporting person in CyberTipline reports, as `First Last`",
    "cybertipline_reporter_email": "the reporting person's email in CyberTipline reports",
    "auto_report_banks": "comma list of banks whose exact matches are reported to the "
    "CyberTipline without a person's decision; empty (default) = every report needs a "
    "`child_safety` user's confirmation",
    "exchange_interval": "seconds between scheduled syncs of each enabled exchange in "
    "`lykta serve` (a background thread, one replica at a time); 0 = never in the server "
    "(run `lykta exchange sync` instead)",
    "exchange_retries": "times a sync fetches a failing page again (throttling, server "
    "errors, broken connections) before it gives up",
    "exchange_backoff": "seconds before a sync's first retry; each further retry waits twice "
    "as long",
    "exchange_lock_seconds": "how long a sync's lock lasts without progress: a replica that "
    "crashed mid-sync blocks the exchange no longer than this",
    "exchange_key": "AES-256-GCM key sealing exchange credentials set through HMA's "
    "`/c/exchanges/api/{api}` route: 64 hex digits or URL-safe base64 (secret, from the "
    "environment only)",
}

# Names whose values must never be printed or logged.
# A NATS URL may carry a user and password.
SECRET_NAMES = frozenset(
    {
        "database_url", "webhook_secret", "nats_url", "evidence_key", "cybertipline_username",
        "cybertipline_password", "exchange_key",
    }
)  # fmt: skip


def _parse(name: str, kind: type, raw: Any) -> Any:
    if isinstance(raw, kind) and kind is not bool:
        return raw
    text = str(raw).strip()
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            if text.lower() in {"1", "true", "yes", "on"}:
                return True
            if text.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(text)
        if kind is Path:
            return Path(text)
        return kind(text)
    except ValueError:
        raise InvalidInput(
            f"setting {name} (LYKTA_{name.upper()}) must be {kind.__name__}, got {text!r}"
        ) from None


# Variables Lykta reads that are not settings: the config file, and the test suite's own.
OTHER_VARIABLES = frozenset({"LYKTA_CONFIG"})
TEST_VARIABLE_PREFIX = "LYKTA_TEST"


def _gather(
    overrides: Mapping[str, Any] | None, env: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The raw values given, and where each came from: `file`, `env` or `flag`."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    config_file = env.get("LYKTA_CONFIG")
    if config_file:
        try:
            values.update(tomllib.loads(Path(config_file).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise InvalidInput(f"cannot read LYKTA_CONFIG {config_file}: {error}") from None
        in_file = sorted(SECRET_NAMES & set(values))
        if in_file:
            names = ", ".join(f"LYKTA_{name.upper()}" for name in in_file)
            raise InvalidInput(f"{config_file}: secrets come from the environment only ({names})")
        sources.update(dict.fromkeys(values, "file"))
    for field in fields(Settings):
        key = f"LYKTA_{field.name.upper()}"
        if key in env:
            values[field.name] = env[key]
            sources[field.name] = "env"
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    values.update(given)
    sources.update(dict.fromkeys(given, "flag"))
    return values, sources


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Build settings from the environment, the optional config file and `overrides`."""
    env = os.environ if environ is None else environ
    values, _ = _gather(overrides, env)
    known = {field.name: field for field in fields(Settings)}
    unknown = set(values) - set(known)
    if unknown:
        raise InvalidInput(f"unknown setting(s): {', '.join(sorted(unknown))}")
    parsed = {}
    for name, raw in values.items():
        kind = type(known[name].default)
        parsed[name] = _parse(name, Path if kind.__name__.endswith("Path") else kind, raw)
    return Settings(**parsed)


def setting_sources(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Where each setting's value comes from: `default`, `file` (LYKTA_CONFIG), `env` or
    `flag`, as `load_settings` with the same arguments resolves it."""
    env = os.environ if environ is None else environ
    _, sources = _gather(overrides, env)
    return {field.name: sources.get(field.name, "default") for field in fields(Settings)}


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning for each `LYKTA_` variable that is no setting (a misspelt one would
    otherwise be ignored without a word), with the setting it was likely meant to be."""
    env = os.environ if environ is None else environ
    known = {f"LYKTA_{field.name.upper()}" for field in fields(Settings)} | OTHER_VARIABLES
    warnings = []
    for name in sorted(env):
        if not name.startswith("LYKTA_") or name in known:
            continue
        if name.startswith(TEST_VARIABLE_PREFIX):
            continue
        guess = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        hint = f"; did you mean {guess[0]}?" if guess else " (see `lykta settings`)"
        warnings.append(f"{name} is not a Lykta setting and is ignored{hint}")
    return warnings


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(name, value, help) rows with secrets redacted, for `lykta settings` and docs."""
    rows = []
    for field in fields(Settings):
        value = getattr(settings, field.name)
        shown = "***" if field.name in SECRET_NAMES and value else str(value)
        rows.append((field.name, shown, HELP[field.name]))
    return rows
