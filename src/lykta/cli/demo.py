"""`lykta demo`: a benign sample to try Lykta on in minutes, made on the spot: generated
photos (gradients, discs and noise; no real image is ever downloaded), a hash list of
some of them as a hotline would send it, and uploads that match them and one that does not."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated

import typer

from lykta.cli.common import err, friendly
from lykta.errors import LyktaError

# The hotline's list: these photos' hashes go into hashes.csv, the photos themselves nowhere.
LISTED = {"demo-1": 101, "demo-2": 102, "demo-3": 103}
# Your own known photos, added to a bank as files (`lykta bank add`).
KNOWN = {"known-4": 104, "known-5": 105}


@friendly
def demo_command(
    folder: Annotated[Path, typer.Argument(help="folder to create (must not exist yet)")] = Path(
        "lykta-demo"
    ),
) -> None:
    """Create a benign sample: hashes.csv (a hash list to import), known/ (photos to add to a
    bank) and uploads/ (photos to check: a resized listed photo, a mirrored known one, and
    an unrelated one)."""
    from PIL import Image, ImageOps

    from lykta.hashing.photo import hash_photo

    if folder.exists():
        raise LyktaError(f"{folder} exists already: name a new folder")
    (folder / "known").mkdir(parents=True)
    (folder / "uploads").mkdir()
    photos = {name: generated_photo(seed) for name, seed in (LISTED | KNOWN).items()}
    with (folder / "hashes.csv").open("w", newline="", encoding="utf-8") as listing:
        rows = csv.writer(listing, lineterminator="\n")
        rows.writerow(["kind", "hash", "external_id", "labels", "quality"])
        for name in LISTED:
            hashes = hash_photo(photos[name], dihedral=False, trim=False)
            rows.writerow(["pdq", hashes.pdq, name, "demo", hashes.quality])
            rows.writerow(["md5", hashes.md5, name, "demo", ""])
    for name in KNOWN:
        (folder / "known" / f"{name}.jpg").write_bytes(photos[name])
    resized = Image.open(io.BytesIO(photos["demo-2"])).resize((480, 360))
    resized.save(folder / "uploads" / "demo-2-resized.jpg", quality=80)
    mirrored = ImageOps.mirror(Image.open(io.BytesIO(photos["known-5"])))
    mirrored.save(folder / "uploads" / "known-5-mirrored.jpg", quality=90)
    (folder / "uploads" / "holiday.jpg").write_bytes(generated_photo(999))
    err.print(
        f"created {folder}: hashes.csv ({len(LISTED)} listed photos), known/ ({len(KNOWN)} "
        "photos), uploads/ (3 photos: 2 that match, 1 that does not)",
        highlight=False,
    )


def generated_photo(seed: int, size: tuple[int, int] = (640, 480)) -> bytes:
    """A benign synthetic photo (JPEG): smooth gradients, discs and noise, one per seed."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        fx, fy = (float(f) for f in rng.uniform(0.002, 0.03, 2))
        phase = float(rng.uniform(0, 6.28))
        channels.append(127 + 100 * np.sin(x * fx + y * fy + phase))
    pixels = np.stack(channels, axis=-1)
    for _ in range(6):
        cx, cy = rng.integers(0, width), rng.integers(0, height)
        radius = rng.integers(min(size) // 12, min(size) // 4)
        pixels[(x - cx) ** 2 + (y - cy) ** 2 < radius**2] = rng.integers(0, 255, 3)
    pixels += rng.normal(0, 4, pixels.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").save(
        buffer, "JPEG", quality=92
    )
    return buffer.getvalue()
