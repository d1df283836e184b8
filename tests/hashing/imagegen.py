"""Benign synthetic photos for hashing tests: smooth gradients, soft shapes, light noise."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def make_photo(width: int = 640, height: int = 480, seed: int = 0) -> Image.Image:
    """A deterministic RGB picture with enough structure for a PDQ quality of 100."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [
            127 + 90 * np.sin(x / width * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6)),
            127 + 90 * np.cos(y / height * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6)),
            127 + 60 * np.sin((x + y) / (width + height) * np.pi * rng.uniform(2, 5)),
        ],
        axis=2,
    )
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        size = int(rng.integers(min(width, height) // 10, min(width, height) // 3))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + size, y0 + size), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + size, y0 + size // 2), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(2))
    noise = rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8), "RGB")


# The PIL operation that turns an image into what each dihedral variant hashes.
PIL_TRANSFORMS: dict[str, Image.Transpose | None] = {
    "original": None,
    "rotate90": Image.Transpose.ROTATE_90,
    "rotate180": Image.Transpose.ROTATE_180,
    "rotate270": Image.Transpose.ROTATE_270,
    "flip": Image.Transpose.FLIP_TOP_BOTTOM,
    "mirror": Image.Transpose.FLIP_LEFT_RIGHT,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}


def transformed(image: Image.Image, transform: str) -> Image.Image:
    """``image`` rotated or flipped as the dihedral variant named ``transform`` hashes it."""
    op = PIL_TRANSFORMS[transform]
    return image if op is None else image.transpose(op)


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def make_textured_photo(width: int = 800, height: int = 600, seed: int = 0) -> Image.Image:
    """``make_photo`` with small shapes and strokes over it: the corners and detail of a
    real photo, which local features (ORB) need and soft gradients lack."""
    rng = np.random.default_rng(seed + 1_000_003)
    image = make_photo(width, height, seed)
    draw = ImageDraw.Draw(image)
    for _ in range(150):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(4, 60))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = rng.random()
        if shape < 0.4:
            draw.ellipse((x0, y0, x0 + size, y0 + int(size * rng.uniform(0.3, 1))), fill=colour)
        elif shape < 0.8:
            corners = [(x0 + int(rng.integers(-size, size)), y0 + int(rng.integers(-size, size)))]
            corners += [(x0 + int(rng.integers(-size, size)), y0 + int(rng.integers(-size, size)))]
            corners += [(x0 + int(rng.integers(-size, size)), y0 + int(rng.integers(-size, size)))]
            draw.polygon(corners, fill=colour)
        else:
            end = (x0 + int(rng.integers(-80, 80)), y0 + int(rng.integers(-80, 80)))
            draw.line((x0, y0, *end), fill=colour, width=int(rng.integers(1, 4)))
    return image.filter(ImageFilter.GaussianBlur(0.8))


def cropped(image: Image.Image, share: float, seed: int = 0) -> Image.Image:
    """``image`` with ``share`` of its width and height cut off, unevenly between sides."""
    rng = np.random.default_rng(seed)
    width, height = image.size
    cut_x, cut_y = round(width * share), round(height * share)
    left, top = int(rng.integers(0, cut_x + 1)), int(rng.integers(0, cut_y + 1))
    return image.crop((left, top, left + width - cut_x, top + height - cut_y))


def rotated(image: Image.Image, degrees: float) -> Image.Image:
    """``image`` turned by ``degrees`` and cropped to the largest box without corners."""
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC)
    width, height = image.size
    angle = np.radians(abs(degrees))
    # Shrink so the turned content fills the frame, as phone editors do.
    keep = 1 / (np.cos(angle) + np.sin(angle) * max(width / height, height / width))
    dx, dy = width * (1 - keep) / 2, height * (1 - keep) / 2
    return turned.crop((round(dx), round(dy), round(width - dx), round(height - dy)))


def blurred(image: Image.Image, radius: float = 2.0) -> Image.Image:
    """``image`` softened by a Gaussian blur of ``radius`` pixels."""
    return image.filter(ImageFilter.GaussianBlur(radius))


def greyed(image: Image.Image) -> Image.Image:
    """``image`` in greyscale (kept as RGB, as a re-encoded copy would be)."""
    return image.convert("L").convert("RGB")


def gamma_adjusted(image: Image.Image, gamma: float) -> Image.Image:
    """``image`` brightened (``gamma`` < 1) or darkened (> 1) by a gamma curve."""
    table = [round(255 * (level / 255) ** gamma) for level in range(256)]
    return image.point(table * len(image.getbands()))


def noisy(image: Image.Image, sigma: float = 8.0, seed: int = 0) -> Image.Image:
    """``image`` with Gaussian noise of ``sigma`` levels added to every channel."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    pixels += rng.normal(0, sigma, pixels.shape).astype(np.float32)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def overlaid(image: Image.Image, seed: int = 0) -> Image.Image:
    """``image`` stamped with a channel logo in a corner and a caption band of text."""
    rng = np.random.default_rng(seed)
    out = image.copy()
    draw = ImageDraw.Draw(out)
    width, height = out.size
    logo = int(min(width, height) * 0.14)
    x0, y0 = (int(rng.integers(8, 24)), int(rng.integers(8, 24)))
    if rng.random() < 0.5:
        x0 = width - logo - x0
    draw.ellipse((x0, y0, x0 + logo, y0 + logo), fill=(240, 240, 240), outline=(20, 20, 20))
    draw.text((x0 + logo // 4, y0 + logo // 3), "TV", fill=(200, 0, 0))
    band = int(height * 0.1)
    draw.rectangle((0, height - band - 12, width, height - 12), fill=(0, 0, 0))
    caption = "".join(chr(int(c)) for c in rng.integers(65, 91, 24))
    draw.text((16, height - band), f"{caption} watch more", fill=(255, 255, 255))
    return out


def screenshot(image: Image.Image, seed: int = 0) -> Image.Image:
    """``image`` as a phone shows it in a feed: status bar, header, the photo at the screen's
    width, caption, buttons and navigation bar, on a light or dark theme."""
    rng = np.random.default_rng(seed)
    width, height = 720, 1560
    dark = rng.random() < 0.5
    background = (18, 18, 18) if dark else (250, 250, 250)
    ink = (230, 230, 230) if dark else (30, 30, 30)
    frame = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(frame)
    draw.text((24, 14), "12:4" + str(int(rng.integers(0, 10))), fill=ink)
    for n in range(3):
        draw.rectangle((width - 40 - 26 * n, 16, width - 24 - 26 * n, 30), fill=ink)
    header = 60 + int(rng.integers(0, 40))
    draw.ellipse((20, header, 76, header + 56), fill=(int(rng.integers(0, 256)), 120, 180))
    draw.text((92, header + 12), "some_account_" + str(int(rng.integers(100, 999))), fill=ink)
    draw.text((92, header + 32), "Sponsored" if rng.random() < 0.3 else "2 h", fill=ink)
    shown = image.resize((width, round(image.height * width / image.width)))
    top = header + 76
    frame.paste(shown, (0, top))
    below = top + shown.height + 16
    for n in range(4):
        draw.rectangle((24 + 60 * n, below, 60 + 60 * n, below + 36), outline=ink, width=3)
    for line in range(4):
        words = "".join(chr(int(c)) for c in rng.integers(97, 123, int(rng.integers(20, 60))))
        draw.text((24, below + 56 + 22 * line), words, fill=ink)
    draw.rectangle((0, height - 96, width, height), fill=(30, 30, 30) if dark else (235, 235, 235))
    for n in range(5):
        x = 60 + n * (width - 120) // 4
        draw.ellipse((x - 18, height - 66, x + 18, height - 30), outline=ink, width=3)
    return frame
