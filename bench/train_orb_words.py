"""Learn the visual-word vocabulary that ``lykta.index.visual_words`` ships.

ORB descriptors of 1,000 generated textured photos (seeds 500,000-500,999, which no test
or benchmark banks), k-majority with seed 0: the same photos and seed give the same file
bit for bit. Writes ``src/lykta/index/orb_words.npy``.

    .venv/bin/python bench/train_orb_words.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from lykta.index.local_features import LocalFeatures
from lykta.index.visual_words import _FILE, train

sys.path.insert(0, str(Path(__file__).resolve().parent))
from orb_cache import codes

TRAINING_SEED = 500_000
TRAINING_PHOTOS = 1_000


def main() -> None:
    started = time.perf_counter()
    photos = codes(TRAINING_SEED, TRAINING_PHOTOS, progress=True)
    descriptors = np.concatenate([LocalFeatures.from_code(c).descriptors for c in photos])
    centroids = train(descriptors, seed=0)
    np.save(_FILE, centroids)
    print(
        f"{len(descriptors)} descriptors of {TRAINING_PHOTOS} photos -> {centroids.shape[0]} "
        f"centroids in {_FILE} ({time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
