"""Where an exchange's credentials come from, and how they are kept out of the database
and the logs.

An exchange names its credentials (``env:NAME`` or ``file:/path``, or nothing for
python-threatexchange's own variable); only that name is stored. HMA's route that sets an
API's credentials stores them sealed with AES-256-GCM under LYKTA_EXCHANGE_KEY, which
comes from the environment only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lykta import keys
from lykta.errors import InvalidInput, NotConfigured

NONCE_BYTES = 12
_REFERENCE = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$")
# A ThreatExchange access token travels in URLs, which urllib3 logs at DEBUG and requests
# repeats in its error messages.
_TOKEN_IN_URL = re.compile(r"(access_token=)[^&\s\"']+")


def check_reference(reference: str) -> str:
    """``reference`` if it names a source of credentials (never the credentials)."""
    reference = reference.strip()
    if reference and not _REFERENCE.match(reference):
        raise InvalidInput("credentials are named, never given: env:VARIABLE or file:/path/to/file")
    return reference


def read_reference(reference: str) -> str | None:
    """The text ``reference`` names, or None when it names nothing that exists."""
    kind, _, where = reference.partition(":")
    if kind == "env":
        return os.environ.get(where) or None
    path = Path(where).expanduser()
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def parse_key(text: str) -> bytes:
    """The 32-byte LYKTA_EXCHANGE_KEY; its value never appears in an error."""
    return keys.parse_key(
        text,
        setting="LYKTA_EXCHANGE_KEY",
        unset=(
            "LYKTA_EXCHANGE_KEY is not set: exchange credentials can only be stored sealed "
            'with it (make one with `python -c "import secrets; print(secrets.token_hex(32))"`), '
            "or name them on the exchange instead (env:VARIABLE or file:/path)"
        ),
    )


def seal(key_text: str, api: str, fields: dict[str, Any]) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    data = json.dumps(fields, sort_keys=True).encode()
    return nonce + AESGCM(parse_key(key_text)).encrypt(nonce, data, api.encode())


def unseal(key_text: str, api: str, sealed: bytes) -> dict[str, Any]:
    try:
        data = AESGCM(parse_key(key_text)).decrypt(
            sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], api.encode()
        )
    except InvalidTag:
        raise NotConfigured(
            f"the stored credentials of exchange API {api!r} do not open with "
            "LYKTA_EXCHANGE_KEY (was the key changed?); set them again"
        ) from None
    value = json.loads(data)
    assert isinstance(value, dict)
    return value


def redact(text: str, secrets_: list[str]) -> str:
    """``text`` with every credential value and URL access token replaced by ***."""
    for value in secrets_:
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return _TOKEN_IN_URL.sub(r"\1***", text)


class RedactTokens(logging.Filter):
    """Redacts access tokens from the HTTP libraries' log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "access_token=" in str(record.msg) or any(
            "access_token=" in str(arg) for arg in (record.args or ())
        ):
            record.msg = redact(record.getMessage(), [])
            record.args = ()
        return True


def redact_http_logs() -> None:
    for name in ("urllib3.connectionpool", "requests"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
