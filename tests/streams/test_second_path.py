"""Live streams on the second path: a frame PDQ does not match is looked up, at a bounded
rate, by the photo region it shows (every bank) and by its local features (banks that
enable them). Generated benign clips throughout."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import lykta.app
from lykta.app import Lykta
from lykta.hashing.local_features import features_of
from lykta.index.local_features import MIN_INLIERS, LocalFeatures
from lykta.streams import StreamSpec
from lykta.streams.base import FINAL_STATES
from tests.conftest import make_settings
from tests.hashing.imagegen import encode, make_textured_photo, screenshot
from tests.streams.conftest import wait_until
from tests.streams.media import write_pictures
from tests.videogen import cropped_and_turned

SIZE = (320, 240)
BANKED_SEED = 84


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Lykta]:
    """A core whose banks `robust` (local features) and `plain` both hold one photo; every
    second of a stream may go on to the second path."""
    lykta_core = Lykta.open(make_settings(tmp_path / "home", stream_second_path_interval=1.0))
    lykta_core.banks.create("robust", local_features=True)
    lykta_core.banks.create("plain")
    photo = encode(make_textured_photo(*SIZE, seed=BANKED_SEED))
    for bank in ("robust", "plain"):
        lykta_core.add_media(bank, photo, external_id="photo")
    yield lykta_core
    lykta_core.close()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("second-path")
    photo = make_textured_photo(*SIZE, seed=BANKED_SEED)
    unrelated = [make_textured_photo(*SIZE, seed=seed) for seed in (91, 92)]
    # A phone's screen showing the photo in a feed, at a video's size.
    phone = screenshot(photo, seed=5).resize((360, 780))
    return {
        "turned": write_pictures(folder / "turned.mp4", [unrelated[0], cropped_and_turned(photo)]),
        "unrelated": write_pictures(folder / "unrelated.mp4", unrelated),
        "phone": write_pictures(folder / "phone.mp4", [phone]),
    }


def watched(core: Lykta, path: Path, banks: list[str]) -> list[dict[str, Any]]:
    """The match events of watching ``path`` to its end with ``banks``."""
    stream = f"{path.stem}-{'-'.join(banks)}"
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    core.local_streams.on_match(
        lambda event: events.put(event) if event["stream"] == stream else None
    )
    core.local_streams.add(StreamSpec(str(path), id=stream, banks=tuple(banks)))
    wait_until(lambda: core.local_streams.get(stream).state in FINAL_STATES)
    wait_until(lambda: events.qsize() == core.local_streams.get(stream).matches)
    return [events.get() for _ in range(events.qsize())]


def test_an_edited_banked_photo_in_a_stream_matches_only_by_its_local_features(
    core: Lykta, clips: dict[str, Path]
) -> None:
    [event] = watched(core, clips["turned"], ["robust", "plain"])
    assert (event["bank"], event["id"], event["kind"]) == ("robust", "photo", "orb")
    assert event["transform"] == "local-features"
    assert event["distance"] >= MIN_INLIERS  # the inliers that verified
    assert event["offset_s"] >= 2 - 0.15  # the edited photo's seconds
    left, top, right, bottom = event["covered"]
    assert 0.5 <= (right - left) * (bottom - top) <= 0.97
    # One frame a second offered (LYKTA_STREAM_SECOND_PATH_INTERVAL of 1 s), of 4 s of stream.
    assert 3 <= core.local_streams.get(event["stream"]).second_path <= 5
    [alert] = core.alerts.list(source_id=event["stream"])
    assert (alert.kind, alert.transform, alert.distance) == (
        "orb",
        "local-features",
        event["distance"],
    )
    assert watched(core, clips["turned"], ["plain"]) == []  # PDQ alone misses it


def test_an_unrelated_stream_matches_nothing(core: Lykta, clips: dict[str, Path]) -> None:
    assert watched(core, clips["unrelated"], ["robust", "plain"]) == []


def test_a_banked_photo_on_a_phone_screen_in_a_stream_matches_by_its_region(
    core: Lykta, clips: dict[str, Path]
) -> None:
    [event] = watched(core, clips["phone"], ["plain"])
    assert (event["bank"], event["kind"], event["transform"]) == ("plain", "pdq", "region")
    assert event["covered"] is None


def test_without_a_local_features_bank_no_frame_has_its_keypoints_taken(
    core: Lykta, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[Image.Image] = []

    def counted(image: Image.Image) -> LocalFeatures:
        taken.append(image)
        return features_of(image)

    monkeypatch.setattr(lykta.app, "features_of", counted)
    assert watched(core, clips["turned"], ["plain"]) == []
    assert taken == []
    assert len(watched(core, clips["turned"], ["robust"])) == 1
    assert taken  # the same count sees the extractions when a bank enables them


def test_the_second_path_is_off_at_an_interval_of_zero(
    tmp_path: Path, clips: dict[str, Path]
) -> None:
    with Lykta.open(make_settings(tmp_path / "home", stream_second_path_interval=0)) as off:
        off.banks.create("robust", local_features=True)
        off.add_media("robust", encode(make_textured_photo(*SIZE, seed=BANKED_SEED)))
        assert watched(off, clips["turned"], ["robust"]) == []
        assert off.local_streams.get("turned-robust").second_path == 0
