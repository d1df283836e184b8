"""Encrypted, content-addressed files: a blob is named by the SHA-256 of its plaintext and
sealed with AES-256-GCM, the name bound in as associated data so a file moved under another
name fails to decrypt.

Blobs are sealed in chunks of 1 MiB, streamed in and out, so a long video never sits in
memory whole: a header (``MAGIC``, the chunk size, a random nonce prefix), then each chunk's
ciphertext and tag. A chunk's nonce is the prefix, the chunk's index and whether it is the
last one, so chunks dropped from the end, reordered or repeated fail to decrypt. Blobs
written before chunking (the nonce, then the whole ciphertext) are still read.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lykta import keys
from lykta.errors import InvalidInput, NotFound

NONCE_BYTES = 12
TAG_BYTES = 16
CHUNK_BYTES = 1 << 20
# A blob sealed in one piece opens with its random nonce, which starts with these 8 bytes
# once in 2**64.
MAGIC = b"LYKTA\x00c1"
PREFIX_BYTES = 7  # + a 4-byte chunk index + a last-chunk flag = the 12-byte nonce
HEADER = struct.Struct(f">{len(MAGIC)}sI{PREFIX_BYTES}s")
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


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _read_full(read: Callable[[int], bytes], size: int) -> bytes:
    """``size`` bytes, fewer only at the end (a raw stream may hand over less at a time)."""
    data = read(size)
    while 0 < len(data) < size:
        more = read(size - len(data))
        if not more:
            break
        data += more
    return data


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

    # --- writing ---------------------------------------------------------------------------

    def put(self, data: bytes) -> str:
        """Store ``data`` (once: the same bytes are one file); its SHA-256."""
        sha256 = hashlib.sha256(data).hexdigest()
        self._write(sha256, io.BytesIO(data).read)
        return sha256

    def put_file(self, file: BinaryIO) -> tuple[str, int]:
        """Store a seekable file from its start, a chunk at a time (read twice: once for its
        name, once to seal it); its SHA-256 and size."""
        file.seek(0)
        digest, size = hashlib.sha256(), 0
        while chunk := _read_full(file.read, CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
        sha256 = digest.hexdigest()
        file.seek(0)
        self._write(sha256, file.read)
        return sha256, size

    def _write(self, sha256: str, read: Callable[[int], bytes]) -> None:
        """Seal what ``read`` hands over, chunk by chunk, into the blob named ``sha256``
        (nothing when it exists); written aside and renamed, so a blob is whole or absent."""
        cipher = self._cipher()
        path = self.path(sha256)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        header = HEADER.pack(MAGIC, CHUNK_BYTES, os.urandom(PREFIX_BYTES))
        prefix, associated = header[-PREFIX_BYTES:], sha256.encode() + header
        partial = path.with_suffix(f".{os.getpid()}.part")
        digest = hashlib.sha256()
        try:
            with partial.open("wb") as out:
                out.write(header)
                current, index = _read_full(read, CHUNK_BYTES), 0
                while True:
                    # One chunk ahead: the last chunk is sealed as the last.
                    following = (
                        _read_full(read, CHUNK_BYTES) if len(current) == CHUNK_BYTES else b""
                    )
                    last = not following
                    digest.update(current)
                    out.write(cipher.encrypt(_nonce(prefix, index, last), current, associated))
                    if last:
                        break
                    current, index = following, index + 1
            if digest.hexdigest() != sha256:
                raise InvalidInput("the file changed while it was being stored as evidence")
            os.replace(partial, path)
        finally:
            with suppress(FileNotFoundError):
                partial.unlink()

    # --- reading ---------------------------------------------------------------------------

    def get(self, sha256: str) -> bytes:
        """The whole blob (see ``chunks`` to stream it)."""
        return b"".join(self.chunks(sha256))

    def chunks(self, sha256: str) -> Iterator[bytes]:
        """The blob's plaintext, a chunk at a time, each checked before it is handed over;
        a blob cut short or altered raises at the chunk where it shows."""
        cipher = self._cipher()
        path = self.path(sha256)
        try:
            file = path.open("rb")
        except FileNotFoundError:
            raise NotFound(f"no evidence file {sha256}") from None
        undecryptable = InvalidInput(
            f"evidence file {sha256} does not decrypt: another key, or it was altered"
        )
        return self._opened(file, cipher, sha256, undecryptable)

    @staticmethod
    def _opened(
        file: BinaryIO, cipher: AESGCM, sha256: str, undecryptable: InvalidInput
    ) -> Iterator[bytes]:
        with file:
            header = file.read(HEADER.size)
            magic, chunk_bytes, prefix = (
                HEADER.unpack(header) if len(header) == HEADER.size else (b"", 0, b"")
            )
            if magic != MAGIC:
                sealed = header + file.read()
                try:
                    yield cipher.decrypt(
                        sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], sha256.encode()
                    )
                except InvalidTag:
                    raise undecryptable from None
                return
            associated = sha256.encode() + header
            sealed_bytes = chunk_bytes + TAG_BYTES
            current, index = file.read(sealed_bytes), 0
            while True:
                following = file.read(sealed_bytes) if len(current) == sealed_bytes else b""
                last = not following
                try:
                    yield cipher.decrypt(_nonce(prefix, index, last), current, associated)
                except InvalidTag:
                    raise undecryptable from None
                if last:
                    return
                current, index = following, index + 1

    def open(self, sha256: str) -> BinaryIO:
        """The blob's plaintext as a seekable file, decrypted a chunk at a time as it is
        read (what an upload streams from, with its length known beforehand)."""
        path = self.path(sha256)
        try:
            file = path.open("rb")
        except FileNotFoundError:
            raise NotFound(f"no evidence file {sha256}") from None
        try:
            reader = BlobReader(file, self._cipher(), sha256)
        except BaseException:
            file.close()
            raise
        return io.BufferedReader(reader, CHUNK_BYTES)

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def delete(self, sha256: str) -> bool:
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True


class BlobReader(io.RawIOBase):
    """A sealed blob read as a plain, seekable file: only the chunk under the read position
    is decrypted (and checked) at a time; a blob sealed in one piece is opened whole."""

    def __init__(self, file: BinaryIO, cipher: AESGCM, sha256: str) -> None:
        super().__init__()
        self._file, self._cipher, self._sha256 = file, cipher, sha256
        self._undecryptable = InvalidInput(
            f"evidence file {sha256} does not decrypt: another key, or it was altered"
        )
        stored = os.fstat(file.fileno()).st_size
        header = file.read(HEADER.size)
        magic, chunk_bytes, self._prefix = (
            HEADER.unpack(header) if len(header) == HEADER.size else (b"", 0, b"")
        )
        self._position = 0
        self._chunk: tuple[int, bytes] | None = None  # (index, plaintext) last decrypted
        if magic != MAGIC:
            file.seek(0)
            self._whole: bytes | None = b"".join(
                BlobStore._opened(file, cipher, sha256, self._undecryptable)
            )
            self.size = len(self._whole)
            return
        self._whole = None
        self._associated = sha256.encode() + header
        self._chunk_bytes = chunk_bytes
        if not chunk_bytes:
            raise self._undecryptable
        sealed = stored - HEADER.size
        self._chunks = max(1, -(-sealed // (chunk_bytes + TAG_BYTES)))
        self.size = sealed - self._chunks * TAG_BYTES
        if self.size < 0:
            raise self._undecryptable

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self.size:
            return 0
        if self._whole is not None:
            data = self._whole[self._position : self._position + len(buffer)]
        else:
            index, within = divmod(self._position, self._chunk_bytes)
            data = self._plain(index)[within : within + len(buffer)]
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def _plain(self, index: int) -> bytes:
        if self._chunk is None or self._chunk[0] != index:
            sealed_bytes = self._chunk_bytes + TAG_BYTES
            self._file.seek(HEADER.size + index * sealed_bytes)
            sealed = self._file.read(sealed_bytes)
            last = index == self._chunks - 1
            try:
                plain = self._cipher.decrypt(
                    _nonce(self._prefix, index, last), sealed, self._associated
                )
            except InvalidTag:
                raise self._undecryptable from None
            self._chunk = (index, plain)
        return self._chunk[1]

    def close(self) -> None:
        self._file.close()
        super().close()
