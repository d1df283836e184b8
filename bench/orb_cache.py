"""ORB features of generated textured photos, cached on disk so the scale benchmark and
the vocabulary training rerun in seconds.

Photos come from ``tests.hashing.imagegen.make_textured_photo`` under seeds no test uses,
or, with ``fast``, from ``fast_photos.fast_textured_photo`` (a few ms a photo, for banks
of 100,000); their features (one ``LocalFeatures.to_code()`` a photo) are kept in blocks
of ``BLOCK`` photos under ``$TMPDIR/lykta-bench/orb``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from lykta.hashing.local_features import features_of
from lykta.index.local_features import CODE_BYTES

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.hashing.imagegen import make_textured_photo

from fast_photos import fast_textured_photo

BLOCK = 500
CACHE = Path(os.environ.get("TMPDIR") or tempfile.gettempdir()) / "lykta-bench" / "orb"


def codes(
    first_seed: int,
    count: int,
    size: tuple[int, int] = (800, 600),
    progress: bool = False,
    fast: bool = False,
) -> np.ndarray:
    """``(count, CODE_BYTES)`` query codes of the ``size`` photos of seeds
    ``first_seed...``, extracted only where not cached: 100-300 ms a photo with its
    generation (most of it the generation), or about 20 ms with ``fast``."""
    make = fast_textured_photo if fast else make_textured_photo
    out = np.zeros((count, CODE_BYTES), np.uint8)
    CACHE.mkdir(parents=True, exist_ok=True)
    for start in range(0, count, BLOCK):
        seed = first_seed + start
        path = CACHE / f"{'fast-' if fast else ''}{seed}-{BLOCK}-{size[0]}x{size[1]}.npy"
        if not path.exists():
            block = np.stack(
                [
                    np.frombuffer(features_of(make(*size, seed=s)).to_code(), np.uint8)
                    for s in range(seed, seed + BLOCK)
                ]
            )
            tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
            np.save(tmp, block)
            tmp.replace(path)
            if progress:
                print(f"extracted seeds {seed}..{seed + BLOCK - 1}", flush=True)
        block = np.load(path, mmap_mode="r")
        end = min(start + BLOCK, count)
        out[start:end] = block[: end - start]
    return out


if __name__ == "__main__":
    width, height = (int(side) for side in sys.argv[3].split("x"))
    codes(int(sys.argv[1]), int(sys.argv[2]), (width, height), progress=True)
