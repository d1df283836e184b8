"""Benchmark: video match quality on generated benign clips, Lykta beside Meta's vPDQ.

Unrelated source clips (generated from different seeds, plus one video of each scene among
the shared sample videos) are each transformed as re-uploads are: re-encoded at a low and a
high bit rate, rescaled down and up, letterboxed, pillarboxed, cut to a 10-second excerpt,
given a logo, mirrored, cropped by a tenth, turned by 4 degrees. Each copy is then checked
against every source:

- Lykta: the sources are banked densely (a frame every ``--bank-interval`` s, 0.2 by
  default) in a bank of a fresh core on SQLite, with their key frames' local features
  (the bank enables them), and each copy, hashed at a frame a second, is looked up through
  the core (``Lykta.lookup_video``) twice: by PDQ alone (``local_features=False``), and
  with its key frames' local features where PDQ finds nothing (the second path).
- vPDQ: each source and copy hashed by ``vpdq.computeHash`` with the same sampling, and
  compared pairwise by vPDQ's own rule (python-threatexchange's ``match_VPDQ_hash_brute``:
  frames of quality >= 50, a frame matches within distance 31; a match when >= 80% of the
  copy's frames match and >= 0% of the source's, its ``VPDQSignal`` defaults).

Recall is the share of copies found as their own source; a false match is a copy matched
to a source it was not made from. The peer is built by ``bench/peers/setup_vpdq.sh``.

    .venv/bin/python bench/bench_video_match.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw

from lykta.app import BANK_KEY_FRAMES, MEDIA_KINDS, Lykta, video_item
from lykta.hashing.video import hash_video
from lykta.settings import load_settings
from video_clips import cache_dir, duration, generated_clip

TESTDATA = (
    Path(__file__).resolve().parents[2] / "shared" / "testdata" / "threatexchange" / "tmk"
) / "sample-videos"
# One video of each scene among the shared samples: the others are variants of these.
TESTDATA_SOURCES = (
    "chair-orig-22-sd-bar.mp4",
    "doorknob-hd-no-bar.mp4",
    "pattern-longer-no-bar.mp4",
)
SETUP_HINT = "vpdq: not installed, run bench/peers/setup_vpdq.sh"
EXCERPT_SECONDS = 10.0
RECALL_TARGET = 0.95

Pixels = np.ndarray  # an RGB frame, height x width x 3, uint8


def even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def letterbox(frame: Pixels) -> Pixels:
    """Black bars above and below: the picture in a frame a third taller."""
    height, width, _ = frame.shape
    bar = even(height / 6)
    out = np.zeros((height + 2 * bar, width, 3), np.uint8)
    out[bar : bar + height] = frame
    return out


def pillarbox(frame: Pixels) -> Pixels:
    """Black bars left and right: the picture in a frame a third wider."""
    height, width, _ = frame.shape
    bar = even(width / 6)
    out = np.zeros((height, width + 2 * bar, 3), np.uint8)
    out[:, bar : bar + width] = frame
    return out


def with_logo(frame: Pixels) -> Pixels:
    """A broadcaster's mark in the top right corner: a light box, 70% opaque, with a shape."""
    height, width, _ = frame.shape
    box_h = min(width, height) // 8
    box_w = min(box_h * 5 // 2, width // 2)  # wider than tall, landscape or portrait
    logo = Image.new("RGB", (box_w, box_h), (235, 235, 235))
    draw = ImageDraw.Draw(logo)
    draw.ellipse((box_h // 6, box_h // 6, box_h * 5 // 6, box_h * 5 // 6), fill=(200, 30, 30))
    draw.rectangle((box_h, box_h // 3, box_w - box_h // 4, box_h * 2 // 3), fill=(30, 30, 120))
    top, left = height // 20, width - box_w - width // 20
    region = frame[top : top + box_h, left : left + box_w].astype(np.float32)
    blended = 0.3 * region + 0.7 * np.asarray(logo, np.float32)
    out = frame.copy()
    out[top : top + box_h, left : left + box_w] = blended.astype(np.uint8)
    return out


def mirror(frame: Pixels) -> Pixels:
    return np.ascontiguousarray(frame[:, ::-1])


def crop(frame: Pixels) -> Pixels:
    """A tenth of each side cut off (more of it from the top left), at the frame's size."""
    height, width, _ = frame.shape
    top, left = height * 6 // 100, width * 6 // 100
    cut = frame[top : top + height * 9 // 10, left : left + width * 9 // 10]
    return np.asarray(Image.fromarray(cut).resize((width, height), Image.Resampling.BILINEAR))


def rotate(frame: Pixels) -> Pixels:
    """Turned by 4 degrees and cropped to the largest box without corners, as phone
    editors do, at the frame's size."""
    height, width, _ = frame.shape
    turned = Image.fromarray(frame).rotate(4, resample=Image.Resampling.BICUBIC)
    angle = np.radians(4)
    keep = 1 / (np.cos(angle) + np.sin(angle) * max(width / height, height / width))
    dx, dy = width * (1 - keep) / 2, height * (1 - keep) / 2
    box = (round(dx), round(dy), round(width - dx), round(height - dy))
    return np.asarray(turned.crop(box).resize((width, height), Image.Resampling.BILINEAR))


@dataclass(frozen=True)
class Transform:
    """How a copy is made from a source: a change of each frame, a size relative to the
    source's, a bit rate, and a part of the source (start, length) or all of it."""

    frame: Callable[[Pixels], Pixels] | None = None
    scale: float = 1.0
    bit_rate: int | None = None  # None: constant quality (crf 23)
    excerpt: bool = False


TRANSFORMS: dict[str, Transform] = {
    "bitrate 150k": Transform(bit_rate=150_000),
    "bitrate 2M": Transform(bit_rate=2_000_000),
    "rescaled 50%": Transform(scale=0.5),
    "rescaled 200%": Transform(scale=2.0),
    "letterboxed": Transform(frame=letterbox),
    "pillarboxed": Transform(frame=pillarbox),
    "10 s excerpt": Transform(excerpt=True),
    "logo": Transform(frame=with_logo),
    "mirrored": Transform(frame=mirror),
    "cropped 10%": Transform(frame=crop),
    "rotated 4": Transform(frame=rotate),
}


def excerpt_start(length: float) -> float:
    """Where a copy's excerpt starts: past a third of the source, off the sampling grid."""
    return round(length / 3, 0) + 0.43


def decoded_frames(path: Path, start: float, stop: float) -> Iterator[Pixels]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            seconds = float(frame.time or 0.0)
            if seconds + 1e-6 < start:
                continue
            if seconds >= stop:
                break
            yield frame.to_ndarray(format="rgb24")


def make_copy(source: Path, name: str, transform: Transform, dest: Path) -> Path | None:
    """The copy of ``source`` that ``transform`` makes, cached; None when the source is
    too short for it (an excerpt needs a source three times its length)."""
    if dest.exists():
        return dest
    length = duration(source)
    start, stop = 0.0, float("inf")
    if transform.excerpt:
        if length < 3 * EXCERPT_SECONDS:
            return None
        start = excerpt_start(length)
        stop = start + EXCERPT_SECONDS
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or Fraction(30)
    partial = dest.with_suffix(".partial.mp4")
    with av.open(str(partial), mode="w") as out:
        encoder = out.add_stream("libx264", rate=rate)
        encoder.pix_fmt = "yuv420p"
        encoder.time_base = 1 / Fraction(rate)
        options = {"preset": "veryfast"}
        if transform.bit_rate is None:
            options["crf"] = "23"
        else:
            encoder.bit_rate = transform.bit_rate
        encoder.options = options
        for number, pixels in enumerate(decoded_frames(source, start, stop)):
            if transform.frame is not None:
                pixels = transform.frame(pixels)
            height, width, _ = pixels.shape
            size = (even(width * transform.scale), even(height * transform.scale))
            if number == 0:
                encoder.width, encoder.height = size
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame = frame.reformat(width=size[0], height=size[1], interpolation="AREA")
            frame.pts = number
            out.mux(encoder.encode(frame))
        out.mux(encoder.encode(None))
    partial.rename(dest)
    return dest


@dataclass
class Copy:
    source: str
    transform: str
    path: Path


# --- Lykta ---------------------------------------------------------------------------


def lykta_found(core: Lykta, copy: Path, local_features: bool) -> set[str]:
    """The bank videos a copy is found as: hashed as the core checks a video (a frame a
    second, as given, mirrored and without bars; with ``local_features``, up to 16 key
    frames' keypoints too) and matched by the banks' rules."""
    hashes = core.hash_video(copy, local_features=local_features)
    result = core.lookup_video(hashes, local_features=local_features)
    return {m.external_id for m in result.matches if m.external_id is not None}


# --- vPDQ ----------------------------------------------------------------------------


@dataclass
class VpdqHash:
    codes: np.ndarray  # frames x 256 bits, deduplicated and quality-filtered as vPDQ does
    raw: list[Any]  # the features as vpdq returned them, for the rule check


def vpdq_hash(vpdq: Any, path: Path, interval: float, quality: int) -> VpdqHash:
    features = vpdq.computeHash(str(path), seconds_per_hash=interval)
    seen: set[str] = set()
    kept = []
    for feature in features:  # vpdq_util.dedupe, then quality_filter
        if feature.hex in seen:
            continue
        seen.add(feature.hex)
        if feature.quality >= quality:
            kept.append(feature.hex)
    codes = np.array(
        [np.unpackbits(np.frombuffer(bytes.fromhex(h), np.uint8)) for h in kept], np.uint8
    ).reshape(len(kept), 256)
    return VpdqHash(codes, features)


def vpdq_shares(query: VpdqHash, target: VpdqHash, distance: int) -> tuple[float, float]:
    """``match_VPDQ_hash_brute``'s two percentages, vectorised."""
    if not len(query.codes) or not len(target.codes):
        return 0.0, 0.0
    distances = (query.codes[:, None, :] != target.codes[None, :, :]).sum(axis=2)
    close = distances <= distance
    return 100 * close.any(axis=1).mean(), 100 * close.any(axis=0).mean()


def check_vpdq_rule(query: VpdqHash, target: VpdqHash, ours: tuple[float, float]) -> None:
    """The vectorised rule must give python-threatexchange's own figures."""
    from threatexchange.extensions.vpdq.vpdq_brute_matcher import match_VPDQ_hash_brute
    from threatexchange.extensions.vpdq.vpdq_util import VpdqCompactFeature

    def compact(features: list[Any]) -> list[Any]:
        return [VpdqCompactFeature.from_vpdq_feature(f) for f in features]

    theirs = match_VPDQ_hash_brute(compact(query.raw), compact(target.raw), 50, 31)
    got = (theirs.query_match_percent, theirs.compared_match_percent)
    assert np.allclose(got, ours), f"vPDQ rule differs from threatexchange's: {ours} vs {got}"


# --- the run -------------------------------------------------------------------------


def sources(args: argparse.Namespace) -> dict[str, Path]:
    found = {
        f"gen{seed}": generated_clip(seed, args.seconds, tuple(args.size))
        for seed in range(1, args.generated + 1)
    }
    if args.testdata:
        for name in TESTDATA_SOURCES:
            if (TESTDATA / name).exists():
                found[name.removesuffix(".mp4")] = TESTDATA / name
    return found


def copies(originals: dict[str, Path], wanted: list[str]) -> list[Copy]:
    folder = cache_dir() / "copies"
    folder.mkdir(exist_ok=True)
    made = []
    for source, path in originals.items():
        stem = f"{path.stem}-{path.stat().st_size}"
        for name in wanted:
            dest = folder / f"{stem}-{name.replace(' ', '_').replace('%', 'pc')}.mp4"
            copy = make_copy(path, name, TRANSFORMS[name], dest)
            if copy is not None:
                made.append(Copy(source, name, copy))
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generated", type=int, default=4, help="generated source clips")
    parser.add_argument("--seconds", type=float, default=40.0, help="their length")
    parser.add_argument("--size", type=int, nargs=2, default=[640, 360], metavar=("W", "H"))
    parser.add_argument(
        "--testdata",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"also use the shared sample videos {', '.join(TESTDATA_SOURCES)} as sources",
    )
    parser.add_argument(
        "--transforms", default=",".join(TRANSFORMS), help="comma-separated, of those listed"
    )
    parser.add_argument("--bank-interval", type=float, default=0.2, help="seconds, banked side")
    parser.add_argument("--no-peer", action="store_true", help="measure Lykta only")
    args = parser.parse_args()
    wanted = args.transforms.split(",")
    for name in wanted:
        if name not in TRANSFORMS:
            parser.error(f"unknown transform {name!r}: use {', '.join(TRANSFORMS)}")

    started = time.perf_counter()
    print("preparing sources and copies (cached for later runs) ...", flush=True)
    originals = sources(args)
    made = copies(originals, wanted)
    print(f"{len(originals)} sources, {len(made)} copies ({time.perf_counter() - started:.0f} s)")

    lykta_hits: dict[tuple[str, str], set[str]] = {}
    second_hits: dict[tuple[str, str], set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="lykta-vbench-") as home:
        core = Lykta.open(load_settings({"home": Path(home)}, environ={}))
        try:
            core.banks.create("videos", local_features=True)
            start = time.perf_counter()
            items = [
                video_item(
                    hash_video(path, interval=args.bank_interval, key_frames=BANK_KEY_FRAMES),
                    name,
                    (*MEDIA_KINDS, "orb"),
                )
                for name, path in originals.items()
            ]
            core.banks.add_content("videos", items)
            frames = sum(1 for item in items for h in item.hashes if h.kind == "pdq")
            keys = sum(1 for item in items for h in item.hashes if h.kind == "orb") // 10
            print(
                f"lykta: banked {frames} frames and {keys} key frames' local features in "
                f"{time.perf_counter() - start:.1f} s"
            )
            for local, hits in ((False, lykta_hits), (True, second_hits)):
                start = time.perf_counter()
                for copy in made:
                    hits[(copy.source, copy.transform)] = lykta_found(core, copy.path, local)
                print(
                    f"lykta: looked up {len(made)} copies "
                    f"({'with key frames' if local else 'PDQ alone'}) in "
                    f"{time.perf_counter() - start:.1f} s"
                )
        finally:
            core.close()

    vpdq_hits: dict[tuple[str, str], set[str]] | None = None
    try:
        import vpdq  # type: ignore[import-not-found]  # built by bench/peers/setup_vpdq.sh
    except ImportError:
        vpdq = None
    if vpdq is not None and not args.no_peer:
        start = time.perf_counter()
        banked = {
            name: vpdq_hash(vpdq, path, args.bank_interval, 50) for name, path in originals.items()
        }
        vpdq_hits = {}
        checked = False
        for copy in made:
            query = vpdq_hash(vpdq, copy.path, 1.0, 50)
            found = set()
            for name, target in banked.items():
                shares = vpdq_shares(query, target, 31)
                if not checked:
                    check_vpdq_rule(query, target, shares)
                    checked = True
                if shares[0] >= 80.0 and shares[1] >= 0.0:
                    found.add(name)
            vpdq_hits[(copy.source, copy.transform)] = found
        print(f"vpdq: hashed and compared in {time.perf_counter() - start:.1f} s")

    print()
    print(
        "lykta: Lykta.lookup_video, the bank's default rule (distance 31, quality 50, query or "
        "bank share 0.5), by PDQ alone and with key frames' local features (the second path); "
        "vpdq: its own rule (80% of the copy's frames within 31)"
    )
    columns = {"lykta PDQ": lykta_hits, "+ key frames": second_hits, "vpdq": vpdq_hits}
    header = f"{'transform':>14} {'copies':>6} | " + " | ".join(
        f"{name:>12} {'false':>5}" for name in columns
    )
    print(header + f" | {'target':>12}")
    print("-" * (len(header) + 15))
    totals = {name: [0, 0] for name in columns}
    for name in wanted:
        group = [c for c in made if c.transform == name]
        if not group:
            continue
        cells = []
        for column, hits in columns.items():
            if hits is None:
                cells.append(f"{'-':>12} {'-':>5}")
                continue
            found = sum(c.source in hits[(c.source, name)] for c in group)
            false = sum(len(hits[(c.source, name)] - {c.source}) for c in group)
            totals[column][0] += found
            totals[column][1] += false
            cells.append(f"{found / len(group):>12.0%} {false:>5}")
        target = f">={RECALL_TARGET:.0%}, 0 false"
        print(f"{name:>14} {len(group):>6} | " + " | ".join(cells) + f" | {target:>12}")
    print("-" * (len(header) + 15))
    cells = [
        f"{'-':>12} {'-':>5}" if hits is None else
        f"{totals[column][0] / len(made):>12.0%} {totals[column][1]:>5}"
        for column, hits in columns.items()
    ]  # fmt: skip
    print(f"{'all':>14} {len(made):>6} | " + " | ".join(cells))
    for column, hits in columns.items():
        if hits is None:
            continue
        missed = [
            f"{c.source} {c.transform}"
            for c in made
            if c.source not in hits[(c.source, c.transform)]
        ]
        if missed:
            print(f"{column} missed ({len(missed)}): {'; '.join(missed)}")
    if vpdq_hits is None and not args.no_peer:
        print(SETUP_HINT)


if __name__ == "__main__":
    main()
