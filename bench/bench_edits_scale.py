"""Benchmark: candidate retrieval of the local-features index at scale. Is an edited copy's
banked photo among the verified candidates when many photos are banked, what does the
index cost in memory per banked photo, and how long does a look-up take?

``--photos`` generated textured photos (640x480, ``fast_photos.fast_textured_photo``, a few
ms each so that 100,000 can be made; seeds from 200,000; their ORB features cached under
``$TMPDIR/lykta-bench/orb`` by ``orb_cache``) are filed
into a ``LocalFeatureIndex`` as a replica's sync would (batches of 1,000 photos, then
``merge``), saved as a snapshot and loaded back memory-mapped. ``--queries`` banked photos,
spread over the bank, are edited (crop 5-15%, rotation 3-6 degrees, overlay, screenshot,
in turn) and looked up as the second path does (the upload's keypoints and, for a
screenshot, those of the photo region inside it); a fifth as many unrelated photos
(seeds from 300,000, edited alike) must match nothing.

    .venv/bin/python bench/bench_edits_scale.py --photos 10000 --queries 500
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from lykta.hashing.local_features import features_of
from lykta.hashing.regions import find_photo_region
from lykta.index.local_features import (
    CHUNK_BYTES,
    MAX_CANDIDATES,
    LocalFeatureIndex,
    LocalFeatures,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.hashing.imagegen import encode

from bench_edits import EDITS
from fast_photos import fast_textured_photo
from orb_cache import CACHE, codes

BANK_SEED = 200_000
UNRELATED_SEED = 300_000
SIZE = (640, 480)
KINDS = ["crop 5-15%", "rotation 3-6", "overlay", "screenshot"]
TARGET = 10_000_000


def query_codes(seeds: list[int], salt: int) -> list[list[bytes]]:
    """Per seed, the query codes of its edited copy (cached beside the bank's features)."""
    path = CACHE / f"queries-fast-{salt}-{seeds[0]}-{seeds[-1]}-{len(seeds)}.npz"
    if path.exists():
        saved = np.load(path)
        return [
            [bytes(code) for code in saved["codes"][saved["owner"] == n]] for n in range(len(seeds))
        ]
    rng = np.random.default_rng(salt)
    out: list[list[bytes]] = []
    for n, seed in enumerate(seeds):
        photo = fast_textured_photo(*SIZE, seed=seed)
        edited = EDITS[KINDS[n % len(KINDS)]](photo, rng).convert("RGB")
        upload = Image.open(io.BytesIO(encode(edited, quality=85)))
        shown = [upload]
        box = find_photo_region(upload)
        if box is not None:
            shown.append(upload.crop(box))
        out.append([features_of(image).to_code() for image in shown])
    owner = np.repeat(np.arange(len(out)), [len(c) for c in out])
    flat = np.frombuffer(b"".join(c for cs in out for c in cs), np.uint8).reshape(len(owner), -1)
    np.savez(path, codes=flat, owner=owner)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000, help="banked photos")
    parser.add_argument("--queries", type=int, default=500, help="edited banked photos")
    args = parser.parse_args()
    started = time.perf_counter()
    banked = codes(BANK_SEED, args.photos, SIZE, progress=True, fast=True)
    print(f"features of {args.photos} banked photos ready in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    index, first_row, keypoints = filed(banked)
    build = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        index.save(Path(folder) / "orb")
        index = LocalFeatureIndex.load(Path(folder) / "orb")
        assert index.mapped
        run(index, args, first_row, keypoints, build, banked)


def filed(banked: np.ndarray) -> tuple[LocalFeatureIndex, list[int], int]:
    """An index of the photos as a replica's sync files them (batches of 1,000 and
    ``merge`` when asked), the first row id of each, and the keypoints filed."""
    index = LocalFeatureIndex()
    first_row: list[int] = []
    keypoints = 0
    for start in range(0, len(banked), 1000):
        rows, ids = [], []
        for code in banked[start : start + 1000]:
            features = LocalFeatures.from_code(code)
            keypoints += len(features)
            chunks = features.to_chunks()
            first_row.append(10 * len(first_row))
            ids += range(first_row[-1], first_row[-1] + len(chunks))
            rows += chunks
        index.add(np.array(ids), np.frombuffer(b"".join(rows), np.uint8).reshape(-1, CHUNK_BYTES))
        if index.needs_merge():
            index.merge()
    return index, first_row, keypoints


def run(
    index: LocalFeatureIndex,
    args: argparse.Namespace,
    first_row: list[int],
    keypoints: int,
    build: float,
    banked: np.ndarray,
) -> None:
    step = max(1, args.photos // args.queries)
    targets = list(range(0, args.photos, step))[: args.queries]
    queries = query_codes([BANK_SEED + n for n in targets], salt=1)
    unrelated = query_codes([UNRELATED_SEED + n for n in range(max(1, args.queries // 5))], salt=2)

    def look_up(codes_of_one: list[bytes]) -> tuple[set[int], float, float]:
        """What the copy's keypoints verify, the look-up's time, and that of its
        candidate search alone (measured again apart)."""
        found: set[int] = set()
        took = search = 0.0
        for code in codes_of_one:
            query = LocalFeatures.from_code(code)
            t = time.perf_counter()
            found |= set(index.verified(query))
            took += time.perf_counter() - t
            t = time.perf_counter()
            index.candidates(query)
            search += time.perf_counter() - t
        return found, took * 1000, search * 1000

    times, searches = [], []
    hits: dict[str, list[bool]] = {kind: [] for kind in KINDS}
    wrong = 0
    for n, (target, query) in enumerate(zip(targets, queries, strict=True)):
        found, took, search = look_up(query)
        times.append(took)
        searches.append(search)
        hits[KINDS[n % len(KINDS)]].append(first_row[target] in found)
        wrong += bool(found - {first_row[target]})
    false = sum(bool(look_up(query)[0]) for query in unrelated)

    total = sum(sum(h) for h in hits.values()) / len(targets)
    per_photo = index.retrieval_nbytes / args.photos
    rows = index.rows_nbytes / args.photos
    print(
        f"\n{args.photos} banked photos ({keypoints / args.photos:.0f} keypoints each), "
        f"{len(targets)} edited copies looked up (at most {MAX_CANDIDATES} candidates "
        "verified each):"
    )
    for kind, found in hits.items():
        print(f"  {kind:<14} true photo among the verified candidates {np.mean(found):.3f}")
    print(
        f"  all            {total:.3f}; wrong matches {wrong}; "
        f"false matches over {len(unrelated)} unrelated photos {false}"
    )
    print(
        f"index memory per banked photo {per_photo:,.0f} bytes ({per_photo / 1024:.2f} KiB; "
        f"segments {index.segment_rows} rows), verification rows {rows:,.0f} bytes "
        f"(memory-mapped snapshot file); filed in {build:.1f} s"
    )
    search50 = statistics.median(searches)
    p50, p99 = statistics.median(times), float(np.percentile(times, 99))
    print(
        f"look-up (candidates + verification) p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
        f"candidate search p50 {search50:.1f} ms"
    )
    # The candidate search grows with the word lists, verification (MAX_CANDIDATES
    # photos) does not: its time at a quarter of the photos and at all of them, fitted
    # as a line, gives it at 10M.
    quarter = filed(banked[: args.photos // 4])[0]
    at_quarter = []
    for query in queries:
        features = [LocalFeatures.from_code(code) for code in query]
        t = time.perf_counter()
        for one in features:
            quarter.candidates(one)
        at_quarter.append((time.perf_counter() - t) * 1000)
    search25 = statistics.median(at_quarter)
    per_photo_ms = (search50 - search25) / (args.photos - args.photos // 4)
    projected = search50 + per_photo_ms * (TARGET - args.photos)
    print(
        f"candidate search p50 at {args.photos // 4} photos {search25:.1f} ms, at "
        f"{args.photos} {search50:.1f} ms: {per_photo_ms * 1e6:.2f} ms more per million photos"
    )
    print(
        f"projected at {TARGET:,}: index memory {per_photo * TARGET / 2**30:.1f} GiB "
        f"(+ {rows * TARGET / 2**40:.2f} TiB of rows on disk, memory-mapped), candidate "
        f"search about {projected:,.0f} ms, look-up p50 about {p50 - search50 + projected:,.0f} ms"
    )


if __name__ == "__main__":
    main()
