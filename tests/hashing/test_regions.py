"""Tests for lykta.hashing.regions: the photo inside a screenshot, and no region elsewhere."""

from __future__ import annotations

from PIL import Image

from lykta.hashing.regions import find_photo_region

from .imagegen import make_photo, make_textured_photo, screenshot


def test_the_photo_in_a_phone_screenshot_is_found_to_a_few_pixels() -> None:
    for seed in range(4):
        photo = make_textured_photo(800, 600, seed)
        shot = screenshot(photo, seed)
        box = find_photo_region(shot)
        assert box is not None
        left, top, right, bottom = box
        # The screenshot shows the photo at 720 wide, so 540 tall, somewhere below the header.
        assert left <= 4 and right >= 716
        assert abs((bottom - top) - 540) <= 12, box


def test_plain_photos_and_flat_images_have_no_region() -> None:
    for seed in range(4):
        assert find_photo_region(make_textured_photo(seed=seed)) is None
        assert find_photo_region(make_photo(seed=seed)) is None
    assert find_photo_region(Image.new("RGB", (400, 300), (200, 10, 10))) is None
