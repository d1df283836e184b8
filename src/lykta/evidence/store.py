"""Encrypted, content-addressed files: a blob is named by the SHA-256 of its plaintext and
stored as nonce + AES-256-GCM ciphertext, the name bound in as associated data so a file
moved under another name fails to decrypt."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lykta import keys
from lykta.errors import InvalidInput, NotFound

NONCE_BYTES = 12
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def parse_key(text: str) -> bytes:
    """The 32-byte key from LYKTA_EVIDENCE_KEY (64 hex digits or URL-safe base64). The
    key's value never appears in an error."""
    return keys.parse_key(
        text,
        setting="LYKTA_EVIDENCE_KEY",
        unset=(
            "LYKTA_EVIDENCE_KEY is not set: evidence cannot be stored or read without it "
            '(make one with `python -c "import secrets; print(secrets.token_hex(32))"`)'
        ),
    )


class BlobStore:
    """Blobs under ``root``/ab/abcd…; the key is read only when a blob is written or read."""

    def __init__(self, root: Path, key_text: str) -> None:
        self.root = root
        self._key_text = key_text

    def _cipher(self) -> AESGCM:
        return AESGCM(parse_key(self._key_text))

    def path(self, sha256: str) -> Path:
        if not SHA256_HEX.match(sha256):
            raise InvalidInput(f"{sha256!r} is not a SHA-256 in hex")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` (once: the same bytes are one file); its SHA-256."""
        cipher = self._cipher()
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + cipher.encrypt(nonce, data, sha256.encode())
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(sealed)
        os.replace(partial, path)
        return sha256

    def get(self, sha256: str) -> bytes:
        cipher = self._cipher()
        path = self.path(sha256)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no evidence file {sha256}") from None
        try:
            data = cipher.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], sha256.encode())
        except InvalidTag:
            raise InvalidInput(
                f"evidence file {sha256} does not decrypt: another key, or it was altered"
            ) from None
        return data

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def delete(self, sha256: str) -> bool:
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True
