"""Live streams: N concurrent streams watched at a frame a second on this machine.

Each stream is MPEG-TS over UDP on loopback, sent at its real rate by a feeder process
(packets copied, not re-encoded, so the feeders cost little), from one benign generated
clip: moving pictures, with a banked stretch in the middle. The streams start a little
apart so their frames do not arrive in step. Lykta watches them all in one process (the
stream supervisor `lykta watch` and `lykta serve` use), looks each sampled frame up, records
the alert and calls a webhook served by a second process, which notes when each call
arrives. Printed: the lag behind real time the watchers report, sampled frames per second,
and the time from the banked stretch entering each stream to its webhook arriving, beside
the targets of issue 6 (no peer watches live streams: Meta's HMA has none).

    python bench/bench_live.py                         # 20 streams, 720p30, 60 s
    python bench/bench_live.py --streams 30 --seconds 90
    python bench/bench_live.py --local-features        # the second path too (issue 10)

With ``--local-features`` the streams also watch a bank that enables local features (a few
unrelated benign photos), so every frame PDQ does not match goes on to the second path
(photo region, ORB and a verified look-up) at most once every ``--second-path-interval``
seconds of each stream.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path

import av
import numpy as np
from PIL import Image

from lykta.app import Lykta
from lykta.banks.items import ContentItem, ItemHash
from lykta.hashing.video import hash_video
from lykta.settings import STREAM_SECOND_PATH_INTERVAL, load_settings
from lykta.streams import StreamSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fast_photos import fast_textured_photo

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lykta-bench" / "live"
BANKED_SECONDS = 6.0
SCENE_SECONDS = 5.0
STAGGER_SECONDS = 0.37  # between stream starts, so frames do not arrive in step
TARGET_LAG = 2.0
TARGET_WEBHOOK_P95 = 3.0
ROBUST_PHOTOS = 20  # banked in the local-features bank of ``--local-features``


def picture(seed: int, width: int, height: int) -> Image.Image:
    """A benign picture a little larger than the frame: gradients, soft shapes, light noise."""
    rng = np.random.default_rng(seed)
    w, h = width * 9 // 8, height * 9 // 8
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            127 + 90 * np.sin(x / w * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6)),
            127 + 90 * np.cos(y / h * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6)),
            127 + 60 * np.sin((x + y) / (w + h) * np.pi * rng.uniform(2, 5)),
        ],
        axis=2,
    )
    for _ in range(10):
        cx, cy, r = rng.integers(0, w), rng.integers(0, h), rng.integers(h // 10, h // 3)
        mask = (x - cx) ** 2 + (y - cy) ** 2 < r**2
        base[mask] = rng.integers(0, 256, 3)
    base += rng.normal(0, 3, base.shape)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def scenes(
    seeds: list[int], seconds: float, fps: int, width: int, height: int
) -> Iterator[np.ndarray]:
    """Frames of each scene: its picture panned slowly across the frame."""
    for seed in seeds:
        big = picture(seed, width, height)
        count = round(seconds * fps)
        for number in range(count):
            step = number / max(1, count - 1)
            left = round(step * (big.width - width))
            top = round(step * (big.height - height) / 2)
            yield np.asarray(big.crop((left, top, left + width, top + height)))


def encode(
    path: Path, frames: Iterable[np.ndarray], fps: int, width: int, height: int, fmt: str
) -> None:
    """H.264 as a live encoder sends it: a key frame every 2 s, B-frames, veryfast."""
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "g": str(2 * fps), "bf": "2", "crf": "23"}
        for pixels in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())


def prepare(seconds: float, fps: int, width: int, height: int) -> tuple[Path, Path, float]:
    """The stream clip (MPEG-TS) and the banked stretch (MP4), made once and cached; and
    where in the stream the banked stretch starts."""
    folder = CACHE / f"{width}x{height}p{fps}-{seconds:g}s"
    folder.mkdir(parents=True, exist_ok=True)
    before = max(1, round(seconds / 2 / SCENE_SECONDS))
    after = max(1, round((seconds / 2 - BANKED_SECONDS) / SCENE_SECONDS) + 2)
    banked_at = before * SCENE_SECONDS
    banked_seeds = [5001, 5002, 5003]
    per_scene = BANKED_SECONDS / len(banked_seeds)
    stream, banked = folder / "stream.ts", folder / "banked.mp4"
    if not stream.exists():
        print(f"encoding the benign {width}x{height} {fps} fps clips once, into {folder} ...")
        encode(banked, scenes(banked_seeds, per_scene, fps, width, height), fps, width, height,
               "mp4")  # fmt: skip
        frames = [
            *scenes(list(range(1000, 1000 + before)), SCENE_SECONDS, fps, width, height),
            *scenes(banked_seeds, per_scene, fps, width, height),
            *scenes(list(range(2000, 2000 + after)), SCENE_SECONDS, fps, width, height),
        ]
        encode(stream, iter(frames), fps, width, height, "mpegts")
    return stream, banked, banked_at


def feed(clip: Path, port: int, start_at: float, started: Queue) -> None:
    """Send the clip to udp://127.0.0.1:port at its real rate, starting at ``start_at``."""
    with av.open(str(clip)) as source:
        video = source.streams.video[0]
        target = f"udp://127.0.0.1:{port}?pkt_size=1316"
        with av.open(target, "w", format="mpegts") as out:
            stream = out.add_stream_from_template(video)
            time.sleep(max(0.0, start_at - time.time()))
            first_wall = time.time()
            started.put((port, first_wall))
            first_dts = None
            for packet in source.demux(video):
                if packet.dts is None:
                    continue
                seconds = float(packet.dts * video.time_base)
                first_dts = seconds if first_dts is None else first_dts
                time.sleep(max(0.0, first_wall + seconds - first_dts - time.time()))
                packet.stream = stream
                out.mux(packet)


def feeders(clip: Path, ports: list[int], start_at: float, started: Queue) -> None:
    threads = [
        threading.Thread(target=feed, args=(clip, port, start_at + n * STAGGER_SECONDS, started))
        for n, port in enumerate(ports)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def receiver(port: int, arrivals: Queue, ready: Event) -> None:
    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            arrivals.put((body["stream"], body["offset_s"], time.time()))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Hook)
    ready.set()
    server.serve_forever()


def free_ports(count: int, kind: int) -> list[int]:
    ports = []
    holders = []
    for _ in range(count):
        probe = socket.socket(socket.AF_INET, kind)
        probe.bind(("127.0.0.1", 0))
        holders.append(probe)
        ports.append(probe.getsockname()[1])
    for probe in holders:
        probe.close()
    return ports


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each stream")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    parser.add_argument(
        "--local-features", action="store_true", help="watch a bank with local features too"
    )
    parser.add_argument(
        "--second-path-interval", type=float, default=STREAM_SECOND_PATH_INTERVAL,
        help="seconds of stream between frames sent to the second path",
    )  # fmt: skip
    args = parser.parse_args()

    clip, banked, banked_at = prepare(args.seconds, args.fps, args.width, args.height)
    home = Path(tempfile.mkdtemp(prefix="lykta-bench-live-"))
    settings = load_settings({
        "home": home, "snapshot_index": False,
        "stream_second_path_interval": args.second_path_interval,
    })  # fmt: skip
    core = Lykta.open(settings)
    hashes = hash_video(banked, interval=0.2)
    frames = tuple(ItemHash("pdq", f.pdq, f.quality, f.seconds) for f in hashes.frames)
    core.banks.create("known")
    core.banks.add_content(
        "known", [ContentItem(frames, "banked-clip", media_kind="video", duration=hashes.duration)]
    )
    watched: tuple[str, ...] = ("known",)
    if args.local_features:
        core.banks.create("robust", local_features=True)
        for seed in range(ROBUST_PHOTOS):
            photo = io.BytesIO()
            fast_textured_photo(seed=900_000 + seed).save(photo, "JPEG", quality=90)
            core.add_media("robust", photo.getvalue(), external_id=f"photo-{seed}")
        watched += ("robust",)

    context = mp.get_context("spawn")
    arrivals: Queue = context.Queue()
    started: Queue = context.Queue()
    ready = context.Event()
    [hook_port] = free_ports(1, socket.SOCK_STREAM)
    hook = context.Process(target=receiver, args=(hook_port, arrivals, ready), daemon=True)
    hook.start()
    ready.wait(10)

    ports = free_ports(args.streams, socket.SOCK_DGRAM)
    streams = core.local_streams
    for n, port in enumerate(ports):
        streams.add(StreamSpec(
            source=f"udp://127.0.0.1:{port}", id=f"cam-{n}", banks=watched,
            webhook=f"http://127.0.0.1:{hook_port}/hook", interval=args.interval,
        ))  # fmt: skip
    start_at = time.time() + 3.0
    feeder = context.Process(target=feeders, args=(clip, ports, start_at, started))
    cpu_before = os.times()
    feeder.start()
    what = f"{args.streams} streams of {args.width}x{args.height} at {args.fps} fps"
    if args.local_features:
        what += f", second path every {args.second_path_interval:g} s"
    print(f"{what}, {args.seconds:g} s each, a frame every {args.interval:g} s", file=sys.stderr)

    lags: list[float] = []
    hashed_at_start = None
    warm = start_at + args.streams * STAGGER_SECONDS + 5
    while feeder.is_alive():
        time.sleep(1.0)
        statuses = streams.list()
        if time.time() > warm:
            if hashed_at_start is None:
                hashed_at_start = (time.time(), sum(s.hashed for s in statuses))
            for status in statuses:
                if status.state.value == "watching":
                    lags.append(status.lag_s)
    feeder.join()
    ended = time.time()
    statuses = streams.list()
    hashed_rate = 0.0
    if hashed_at_start is not None:
        hashed_rate = (sum(s.hashed for s in statuses) - hashed_at_start[1]) / (
            ended - hashed_at_start[0]
        )
    time.sleep(3.0)  # the last webhooks
    cpu_after = os.times()
    core.stop_streams()
    starts = {}
    while not started.empty():
        port, wall = started.get()
        starts[f"cam-{ports.index(port)}"] = wall
    latencies = []
    first_arrival: dict[str, float] = {}
    while not arrivals.empty():
        stream, _offset, wall = arrivals.get()
        first_arrival.setdefault(stream, wall)
    for stream, wall in first_arrival.items():
        latencies.append(wall - (starts[stream] + banked_at))
    hook.terminate()
    core.close()

    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    worst = max(lags, default=float("nan"))
    rows = [
        ("streams watched", f"{args.streams}", ">= 20"),
        ("streams whose banked stretch alerted", f"{len(first_arrival)}", f"{args.streams}"),
        ("lag behind real time, p50 (s)", f"{pct(lags, 50):.2f}", ""),
        ("lag behind real time, p95 (s)", f"{pct(lags, 95):.2f}", ""),
        ("lag behind real time, max (s)", f"{worst:.2f}", "<= 2"),
        ("frames hashed per second, all streams", f"{hashed_rate:.1f}",
         f"{args.streams / args.interval:.1f}"),
        ("banked frame in -> webhook, p50 (s)", f"{pct(latencies, 50):.2f}", ""),
        ("banked frame in -> webhook, p95 (s)", f"{pct(latencies, 95):.2f}", "<= 3"),
        ("banked frame in -> webhook, max (s)", f"{max(latencies, default=float('nan')):.2f}", ""),
        (f"watcher CPU, cores busy (of {os.cpu_count()})", f"{cpu / (ended - start_at):.2f}", ""),
        ("undecodable packets, all streams", f"{sum(s.decode_errors for s in statuses)}", ""),
    ]  # fmt: skip
    print(f"\n{'':44} {'Lykta':>10} {'target':>10}")
    for label, value, target in rows:
        print(f"{label:44} {value:>10} {target:>10}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print("no peer: Meta's HMA and vPDQ's tools do not watch live streams")


if __name__ == "__main__":
    main()
