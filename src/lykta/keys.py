"""The 32-byte AES keys Lykta reads from its settings (evidence, exchange credentials)."""

from __future__ import annotations

import base64
import binascii
import re

from lykta.errors import NotConfigured


def parse_key(text: str, *, setting: str, unset: str) -> bytes:
    """The key in ``text`` (64 hex digits or URL-safe base64) from the setting named
    ``setting``; ``unset`` is the error when it is empty. The key's value never appears in
    an error."""
    text = text.strip()
    if not text:
        raise NotConfigured(unset)
    key: bytes | None = None
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        key = bytes.fromhex(text)
    else:
        try:
            key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            key = None
    if key is None or len(key) != 32:
        raise NotConfigured(f"{setting} must be 32 bytes: 64 hex digits or base64")
    return key
