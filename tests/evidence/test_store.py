"""The evidence blob store: blobs sealed in 1 MiB chunks, streamed in and out, that fail
to read when cut short, reordered, altered or renamed; blobs sealed whole before chunking
still read."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from lykta.app import Lykta
from lykta.errors import InvalidInput, NotFound
from lykta.evidence.store import CHUNK_BYTES, HEADER, NONCE_BYTES, TAG_BYTES, BlobStore
from lykta.store.models import KeptUpload
from tests.conftest import TEST_EVIDENCE_KEY

SEALED_CHUNK = CHUNK_BYTES + TAG_BYTES


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "evidence", TEST_EVIDENCE_KEY)


class CountingReader(io.BytesIO):
    """A file that remembers the largest read asked of it."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        self.largest = max(self.largest, CHUNK_BYTES * 1000 if size in (None, -1) else size)
        return super().read(size)


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 2 * CHUNK_BYTES + 5]
)
def test_blobs_are_sealed_in_chunks_and_read_back(store: BlobStore, size: int) -> None:
    data = os.urandom(size)
    sha256 = store.put(data)
    assert sha256 == hashlib.sha256(data).hexdigest()
    chunks = -(-size // CHUNK_BYTES) or 1
    assert store.path(sha256).stat().st_size == HEADER.size + size + chunks * TAG_BYTES
    pieces = list(store.chunks(sha256))
    assert len(pieces) == chunks and all(len(piece) <= CHUNK_BYTES for piece in pieces)
    assert store.get(sha256) == data
    assert size < 64 or data[:64] not in store.path(sha256).read_bytes()  # encrypted
    with store.open(sha256) as blob:  # as a seekable file, a chunk decrypted at a time
        assert blob.seek(0, os.SEEK_END) == size
        blob.seek(0)
        assert blob.read() == data
        middle = max(0, size // 2 - 3)
        blob.seek(middle)
        assert blob.read(CHUNK_BYTES + 6) == data[middle : middle + CHUNK_BYTES + 6]
        assert blob.tell() == min(size, middle + CHUNK_BYTES + 6)


def test_a_file_is_sealed_a_chunk_at_a_time(store: BlobStore) -> None:
    data = os.urandom(3 * CHUNK_BYTES + 100)
    upload = CountingReader(data)
    upload.seek(123)  # stored from its start wherever it was left
    assert store.put_file(upload) == (hashlib.sha256(data).hexdigest(), len(data))
    assert upload.largest == CHUNK_BYTES
    assert store.get(hashlib.sha256(data).hexdigest()) == data
    assert store.put(data) == hashlib.sha256(data).hexdigest()  # the same bytes: one file
    assert [p.name for p in store.path(hashlib.sha256(data).hexdigest()).parent.iterdir()] == [
        hashlib.sha256(data).hexdigest()
    ]


def test_a_blob_sealed_whole_before_chunking_still_reads(store: BlobStore) -> None:
    data = os.urandom(CHUNK_BYTES + 10)
    sha256 = hashlib.sha256(data).hexdigest()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(bytes.fromhex(TEST_EVIDENCE_KEY)).encrypt(nonce, data, sha256.encode())
    store.path(sha256).parent.mkdir(parents=True)
    store.path(sha256).write_bytes(nonce + sealed)
    assert store.get(sha256) == data
    with store.open(sha256) as blob:
        assert blob.seek(0, os.SEEK_END) == len(data)
        blob.seek(CHUNK_BYTES)
        assert blob.read() == data[CHUNK_BYTES:]
    store.path(sha256).write_bytes(nonce + sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(InvalidInput, match="does not decrypt"):
        store.get(sha256)


def _tampered(store: BlobStore, sha256: str, change: str) -> None:
    path = store.path(sha256)
    sealed = path.read_bytes()
    header, body = sealed[: HEADER.size], sealed[HEADER.size :]
    chunks = [body[at : at + SEALED_CHUNK] for at in range(0, len(body), SEALED_CHUNK)]
    if change == "cut at a chunk":
        chunks = chunks[:-1]
    elif change == "chunks swapped":
        chunks[0], chunks[1] = chunks[1], chunks[0]
    elif change == "chunk repeated":
        chunks.insert(1, chunks[0])
    elif change == "a bit flipped":
        chunks[1] = chunks[1][:5] + bytes([chunks[1][5] ^ 1]) + chunks[1][6:]
    elif change == "chunk size edited":
        header = header[:8] + (CHUNK_BYTES // 2).to_bytes(4, "big") + header[12:]
    path.write_bytes(header + b"".join(chunks))


@pytest.mark.parametrize(
    "change",
    ["cut at a chunk", "chunks swapped", "chunk repeated", "a bit flipped", "chunk size edited"],
)
def test_a_blob_cut_reordered_or_altered_does_not_read(store: BlobStore, change: str) -> None:
    sha256 = store.put(os.urandom(2 * CHUNK_BYTES + 7))
    _tampered(store, sha256, change)
    with pytest.raises(InvalidInput, match=f"evidence file {sha256} does not decrypt"):
        store.get(sha256)
    with (
        pytest.raises(InvalidInput, match=f"evidence file {sha256} does not decrypt"),
        store.open(sha256) as blob,
    ):
        blob.read()


def test_a_blob_under_another_name_or_key_does_not_read(store: BlobStore, tmp_path: Path) -> None:
    first, second = store.put(b"benign one"), store.put(b"benign two")
    store.path(first).replace(store.path(second))
    with pytest.raises(InvalidInput, match="does not decrypt"):
        store.get(second)
    other = BlobStore(store.root, "ff" * 32)
    third = store.put(b"benign three")
    with pytest.raises(InvalidInput, match="another key"):
        other.get(third)
    with pytest.raises(NotFound, match="no evidence file"):
        store.get(first)


def test_a_file_that_changes_while_it_is_stored_is_refused(store: BlobStore) -> None:
    class Changing(io.BytesIO):
        reads = 0

        def read(self, size: int | None = -1) -> bytes:
            self.reads += 1
            data = super().read(size)
            return data.upper() if self.reads > 3 else data  # the second pass differs

    with pytest.raises(InvalidInput, match="changed while it was being stored"):
        store.put_file(Changing(b"benign" * CHUNK_BYTES))
    assert not any(path.is_file() for path in store.root.rglob("*"))  # nothing half-written


def test_a_kept_upload_file_is_streamed_and_sized(sqlite_core: Lykta) -> None:
    core = sqlite_core
    core.evidence.keep_uploads = True
    data = os.urandom(2 * CHUNK_BYTES + 3)
    upload = CountingReader(data)
    assert core.evidence.keep_upload(upload, max_bytes=len(data) - 1) is None  # too large
    sha256 = core.evidence.keep_upload(upload, max_bytes=len(data))
    assert sha256 == hashlib.sha256(data).hexdigest() and upload.largest == CHUNK_BYTES
    assert core.evidence.store.get(sha256) == data
    with core.sessions() as session:
        kept = session.get(KeptUpload, sha256)
        assert kept is not None and kept.size == len(data)
