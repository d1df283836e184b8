"""Numba kernels computing PDQ from a luma plane, bit for bit as Meta's C++ reference does.

Reference: facebook/ThreatExchange ``pdq/cpp/downscaling/downscaling.cpp`` (Jarosz box
filter, decimation) and ``pdq/cpp/hashing/pdqhashing.cpp`` (quality, DCT, Torben median).
All arithmetic is float32 in the reference's order, so results equal
``pdqhash`` (which compiles that C++) exactly; numba does not fuse multiply-adds without
``fastmath``, which is why it is never enabled here.

Only the work the hash needs is done: the second row pass writes just the 64 columns the
decimation samples, and the second column pass runs on those 64 columns only. Row passes
go through the transposed image so that the sliding sums of many rows advance together
in SIMD lanes instead of as one serial chain per row; the first row pass on uint8 luma
needs no transposes, its sums being exact integers whatever their order.

The dihedral variants are the hashes of the rotated and flipped pixels, not the reference's
sign flips of one DCT (which assume a mirror-symmetric filter): see ``_variant_buffers``.
They round in float32 otherwise than the reference would on the turned image, which only
shows where DCT coefficients nearly tie at the median (docs/hashing.md).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# The reference hashes nothing smaller than 5 pixels on a side: all-zero hash, quality 0.
MIN_HASHABLE_DIM = 5
_SIDE = 64


def _dct_matrix() -> np.ndarray:
    # As the reference: a float scale factor times a double cosine, stored as float.
    scale = np.float64(np.float32(math.sqrt(2.0 / 64)))
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(64, dtype=np.float64)[None, :]
    return (scale * np.cos((math.pi / 2.0 / 64.0) * i * (2 * j + 1))).astype(np.float32)


_DCT = _dct_matrix()
_DCT_T = np.ascontiguousarray(_DCT.T)


@njit(cache=True, nogil=True)
def luma_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """Float32 luma of an ``(h, w, 3)`` uint8 array, rounded from double like ``pdqhash``."""
    rows, cols = rgb.shape[0], rgb.shape[1]
    out = np.empty((rows, cols), np.float32)
    for i in range(rows):
        for j in range(cols):
            out[i, j] = np.float32(
                rgb[i, j, 0] * 0.299 + rgb[i, j, 1] * 0.587 + rgb[i, j, 2] * 0.114
            )
    return out


@njit(cache=True, nogil=True)
def _window(old: int) -> int:
    return (old + 2 * _SIDE - 1) // (2 * _SIDE)


@njit(cache=True, nogil=True)
def _sample_indices(length: int) -> np.ndarray:
    out = np.empty(_SIDE, np.int64)
    for i in range(_SIDE):
        out[i] = int(((i + 0.5) * length) / _SIDE)
    return out


@njit(cache=True, nogil=True)
def _transpose(src: np.ndarray, dst: np.ndarray) -> None:
    """``dst = src.T`` as float32, through 8x8 blocks that LLVM turns into shuffles."""
    rows, cols = src.shape
    rows8, cols8 = rows - rows % 8, cols - cols % 8
    for i0 in range(0, rows8, 8):
        for j0 in range(0, cols8, 8):
            for j in range(8):
                for i in range(8):
                    dst[j0 + j, i0 + i] = src[i0 + i, j0 + j]
        for i in range(i0, i0 + 8):
            for j in range(cols8, cols):
                dst[j, i] = src[i, j]
    for i in range(rows8, rows):
        for j in range(cols):
            dst[j, i] = src[i, j]


@njit(cache=True, nogil=True)
def _box_down(src: np.ndarray, dst: np.ndarray, window: int, keep: np.ndarray) -> None:
    """Reference ``box1DFloat`` down every column of ``src`` at once (one SIMD row a step).

    Output row ``keep[k]`` goes to ``dst[k]``; ``keep`` is non-decreasing. The sliding sums
    still visit every row, since each output depends on the rounding of all sums before it.
    """
    rows, cols = src.shape
    half = (window + 2) // 2
    p1, p2, p3, p4 = half - 1, window - half + 1, rows - window, half - 1
    sums = np.zeros(cols, np.float32)
    ri = li = k = 0
    size = 0
    for _ in range(p1):
        for j in range(cols):
            sums[j] += src[ri, j]
        size += 1
        ri += 1
    for oi in range(p2 + p3 + p4):
        if oi < p2:
            for j in range(cols):
                sums[j] += src[ri, j]
            size += 1
            ri += 1
        elif oi < p2 + p3:
            for j in range(cols):
                sums[j] += src[ri, j]
                sums[j] -= src[li, j]
            ri += 1
            li += 1
        else:
            for j in range(cols):
                sums[j] -= src[li, j]
            size -= 1
            li += 1
        # Small images sample one row more than once.
        while k < keep.shape[0] and keep[k] == oi:
            fsize = np.float32(size)
            for j in range(cols):
                dst[k, j] = sums[j] / fsize
            k += 1


@njit(cache=True, nogil=True, error_model="numpy")
def _exact_row(
    src_row: np.ndarray, out: np.ndarray, runs: np.ndarray, size: np.ndarray, window: int
) -> None:
    """Pass 1 of one uint8 row: integer window sums are exact in float32, in any order.

    ``runs`` is two rows of ``cols + window - 1``, the first with zero borders: the row
    goes between them, so every output (edges too) is the sum of ``window`` consecutive
    values, found by doubling run lengths; the borders are zeroed again on the way out.
    """
    cols = src_row.shape[0]
    half = (window + 2) // 2
    behind = window - half
    length = cols + window - 1
    run = runs[0]
    body = run[behind : behind + cols]
    for j in range(cols):
        body[j] = src_row[j]
    first = True
    width = 1
    off = 0
    w = window
    level = 0
    while True:
        if w & 1:
            part = run[off : off + cols]
            if first:
                for j in range(cols):
                    out[j] = part[j]
                first = False
            else:
                for j in range(cols):
                    out[j] += part[j]
            off += width
        w >>= 1
        if w == 0:
            break
        length -= width
        level += 1
        nxt = runs[level & 1]
        ahead = run[width : width + length]
        for j in range(length):
            nxt[j] = run[j] + ahead[j]
        run = nxt
        width *= 2
    for j in range(cols):
        out[j] = out[j] / size[j]
    runs[0, :behind] = 0
    runs[0, behind + cols :] = 0


@njit(cache=True, nogil=True, error_model="numpy")
def _exact_rows(src: np.ndarray, dst: np.ndarray, window: int) -> None:
    """The reference's row pass over a uint8 image, row-major in and out (no transposes).

    Every running sum of the reference is an integer below 2**24 here, exact in float32
    whatever the order of the adds, so only the division by the window size must match.
    """
    rows, cols = src.shape
    half = (window + 2) // 2
    behind = window - half
    size = np.empty(cols, np.float32)
    for oi in range(cols):
        size[oi] = np.float32(min(oi + half, cols) - max(0, oi - behind))
    runs = np.zeros((2, cols + window - 1), np.float32)
    for i in range(rows):
        _exact_row(src[i], dst[i], runs, size, window)


@njit(cache=True, nogil=True)
def _downsample(luma: np.ndarray, work: np.ndarray) -> np.ndarray:
    """Jarosz filter (rows, cols, rows, cols: the reference's two x-y passes), decimated.

    A pass along rows is a pass down the transposed image, so every pass runs across
    SIMD lanes, except the first on uint8 luma, which ``_exact_rows`` does in place of two
    transposes; ``work`` holds two float32 planes of the image's size, reused per call.
    """
    rows, cols = luma.shape
    along_rows, along_cols = _window(cols), _window(rows)
    keep_rows, keep_cols = _sample_indices(rows), _sample_indices(cols)
    plane_a = work[0, : rows * cols]
    plane_b = work[1, : rows * cols]
    if luma.itemsize == 1:
        # uint8 luma ("L" images): exact integer sums, straight along the rows.
        _exact_rows(luma, plane_a.reshape((rows, cols)), along_rows)
    else:
        _transpose(luma, plane_a.reshape((cols, rows)))
        _box_down(
            plane_a.reshape((cols, rows)),
            plane_b.reshape((cols, rows)),
            along_rows,
            np.arange(cols),
        )
        _transpose(plane_b.reshape((cols, rows)), plane_a.reshape((rows, cols)))
    _box_down(
        plane_a.reshape((rows, cols)), plane_b.reshape((rows, cols)), along_cols, np.arange(rows)
    )
    _transpose(plane_b.reshape((rows, cols)), plane_a.reshape((cols, rows)))
    narrow = np.empty((_SIDE, rows), np.float32)
    _box_down(plane_a.reshape((cols, rows)), narrow, along_rows, keep_cols)
    narrow_t = np.empty((rows, _SIDE), np.float32)
    _transpose(narrow, narrow_t)
    out = np.empty((_SIDE, _SIDE), np.float32)
    _box_down(narrow_t, out, along_cols, keep_rows)
    return out


@njit(cache=True, nogil=True)
def _quality(a: np.ndarray) -> int:
    # Reference pdqImageDomainQualityMetric: float difference, truncated to int per pair.
    total = 0
    for i in range(_SIDE - 1):
        for j in range(_SIDE):
            total += abs(int(((a[i, j] - a[i + 1, j]) * np.float32(100)) / np.float32(255)))
    for i in range(_SIDE):
        for j in range(_SIDE - 1):
            total += abs(int(((a[i, j] - a[i, j + 1]) * np.float32(100)) / np.float32(255)))
    return min(total // 90, 100)


@njit(cache=True, nogil=True)
def _dct16(a: np.ndarray, d: np.ndarray, d_t: np.ndarray) -> np.ndarray:
    """B = D A D^T with the reference's sequential float32 sums.

    Each sum still adds its terms in the reference's order; the loops run that order over
    whole rows (``d_t`` is ``d`` transposed) so that independent sums fill SIMD lanes.
    """
    t = np.zeros((16, _SIDE), np.float32)
    for i in range(16):
        for k in range(_SIDE):
            weight = d[i, k]
            for j in range(_SIDE):
                t[i, j] += weight * a[k, j]
    b = np.zeros((16, 16), np.float32)
    for i in range(16):
        for k in range(_SIDE):
            value = t[i, k]
            for j in range(16):
                b[i, j] += value * d_t[k, j]
    return b


@njit(cache=True, nogil=True)
def _torben(m: np.ndarray) -> np.float32:
    """The reference's Torben median of a flat float32 array (its ties and rounding too)."""
    n = m.shape[0]
    lo = hi = m[0]
    for i in range(1, n):
        lo = min(lo, m[i])
        hi = max(hi, m[i])
    half = (n + 1) // 2
    while True:
        guess = (lo + hi) / np.float32(2)
        less = greater = equal = 0
        below, above = lo, hi
        for i in range(n):
            v = m[i]
            if v < guess:
                less += 1
                below = max(below, v)
            elif v > guess:
                greater += 1
                above = min(above, v)
            else:
                equal += 1
        if less <= half and greater <= half:
            break
        if less > greater:
            hi = below
        else:
            lo = above
    if less >= half:
        return below
    if less + equal >= half:
        return guess
    return above


@njit(cache=True, nogil=True)
def _pack(b: np.ndarray, out: np.ndarray) -> None:
    # Bit k = 16 i + j is set when B[i, j] > median; hex is the 256-bit number big-endian.
    flat = b.ravel()
    median = _torben(flat)
    out[:] = 0
    for k in range(256):
        if flat[k] > median:
            out[31 - k // 8] |= np.uint8(1 << (k % 8))


@njit(cache=True, nogil=True)
def _symmetric(length: int) -> bool:
    """Whether flipping this axis merely reverses the 64 samples of its filter.

    An even window reaches one pixel further ahead than behind, and a length divisible by
    128 puts the samples (i + 1/2) * length / 64 on whole pixels, rounded down on both
    sides of the centre; either breaks the mirror symmetry.
    """
    return _window(length) % 2 == 1 and length % (2 * _SIDE) != 0


@njit(cache=True, nogil=True)
def _axis_filter(length: int, flipped: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both box passes and the decimation along one axis, as one linear filter.

    Sample k is the sum of ``weights[k, m]`` times input ``starts[k] + m`` for m below
    ``counts[k]``; the weights are those of the reference's two passes (each dividing by
    its own, at the edges shorter, window) multiplied out in float64. ``flipped`` gives the
    filter of the reversed axis, the flipped image's sample k, on unflipped positions.
    """
    window = _window(length)
    half = (window + 2) // 2
    behind, ahead = window - half, half - 1
    keep = _sample_indices(length)
    starts = np.empty(_SIDE, np.int64)
    counts = np.empty(_SIDE, np.int64)
    weights = np.zeros((_SIDE, 2 * window - 1), np.float32)
    steps = np.empty(2 * window, np.float64)
    for k in range(_SIDE):
        lo, hi = max(0, keep[k] - behind), min(length - 1, keep[k] + ahead)
        first, last = max(0, lo - behind), min(length - 1, hi + ahead)
        # Each first-pass output u in the sample's window adds 1 / (its size) to every
        # input in its own window: a difference array, summed up below.
        steps[:] = 0.0
        for u in range(lo, hi + 1):
            u_lo, u_hi = max(0, u - behind), min(length - 1, u + ahead)
            share = 1.0 / (u_hi - u_lo + 1)
            steps[u_lo - first] += share
            steps[u_hi - first + 1] -= share
        count = last - first + 1
        total = 0.0
        for m in range(count):
            total += steps[m]
            weights[k, count - 1 - m if flipped else m] = total / (hi - lo + 1)
        starts[k] = length - 1 - last if flipped else first
        counts[k] = count
    return starts, counts, weights


@njit(cache=True, nogil=True)
def _filter_columns(
    luma: np.ndarray, starts: np.ndarray, counts: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """The column filter at its 64 samples, ``(64, cols)``: sums of whole rows, in SIMD."""
    cols = luma.shape[1]
    out = np.zeros((_SIDE, cols), np.float32)
    for k in range(_SIDE):
        acc = out[k]
        for m in range(counts[k]):
            weight = weights[k, m]
            row = luma[starts[k] + m]
            for j in range(cols):
                acc[j] += weight * np.float32(row[j])
    return out


@njit(cache=True, nogil=True)
def _filter_rows(
    sampled: np.ndarray, starts: np.ndarray, counts: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """The row filter of ``_filter_columns``'s output: the ``(64, 64)`` buffer."""
    columns = np.empty((sampled.shape[1], _SIDE), np.float32)
    _transpose(sampled, columns)
    out_t = np.zeros((_SIDE, _SIDE), np.float32)
    for j in range(_SIDE):
        acc = out_t[j]
        for m in range(counts[j]):
            weight = weights[j, m]
            column = columns[starts[j] + m]
            for i in range(_SIDE):
                acc[i] += weight * column[i]
    return out_t.T.copy()


@njit(cache=True, nogil=True)
def _flipped_buffers(
    luma: np.ndarray, exact: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 64x64 buffers of the image flipped top-bottom, left-right and both.

    Each is what the reference's filter gives on the flipped pixels, up to float32
    rounding: along a symmetric axis by reversing ``exact`` (the original's buffer),
    along the other by the axis filter of the flipped image applied to the original.
    """
    rows, cols = luma.shape
    asymmetric_x, asymmetric_y = not _symmetric(cols), not _symmetric(rows)
    plain_x = _axis_filter(cols, False)
    flipped_x = _axis_filter(cols, True)
    if asymmetric_x:
        mirror = _filter_rows(_filter_columns(luma, *_axis_filter(rows, False)), *flipped_x)
    else:
        mirror = exact[:, ::-1].copy()
    if asymmetric_y:
        upside_down = _filter_columns(luma, *_axis_filter(rows, True))
        flip = _filter_rows(upside_down, *plain_x)
        both = _filter_rows(upside_down, *flipped_x) if asymmetric_x else flip[:, ::-1].copy()
    else:
        flip = exact[::-1].copy()
        both = mirror[::-1].copy()
    return flip, mirror, both


@njit(cache=True, nogil=True)
def _turned(luma: np.ndarray, variant: int) -> np.ndarray:
    """The luma as dihedral variant ``variant`` (1-7, reference order) sees it, contiguous."""
    if variant == 1:
        return luma[:, ::-1].T.copy()
    if variant == 2:
        return luma[::-1, ::-1].copy()
    if variant == 3:
        return luma[::-1].T.copy()
    if variant == 4:
        return luma[::-1].copy()
    if variant == 5:
        return luma[:, ::-1].copy()
    if variant == 6:
        return luma.T.copy()
    return luma[::-1, ::-1].T.copy()


@njit(cache=True, nogil=True)
def _variant_buffers(
    luma: np.ndarray, work: np.ndarray, exact: np.ndarray, quality: int
) -> tuple[np.ndarray, np.ndarray]:
    """64x64 buffers and qualities of dihedral variants 1-7, the rotated or flipped pixels'.

    Quarter turns are transposes of the flipped buffers: along each axis the filter only
    depends on that axis's length. An image with a side under 64 repeats samples along it,
    which leaves DCT coefficients nearly tied, so there the turned pixels are hashed
    themselves (at most 8 times a small cost), for the reference's own rounding.
    """
    buffers = np.empty((7, _SIDE, _SIDE), np.float32)
    qualities = np.empty(7, np.int64)
    rows, cols = luma.shape
    if min(rows, cols) < _SIDE:
        for variant in range(1, 8):
            buffers[variant - 1] = _downsample(_turned(luma, variant), work)
            qualities[variant - 1] = _quality(buffers[variant - 1])
        return buffers, qualities
    flip, mirror, both = _flipped_buffers(luma, exact)
    # A flip or transpose only reorders the neighbour pairs that quality sums.
    flip_quality = quality if _symmetric(rows) else _quality(flip)
    mirror_quality = quality if _symmetric(cols) else _quality(mirror)
    both_quality = flip_quality if _symmetric(cols) else _quality(both)
    buffers[0], qualities[0] = mirror.T, mirror_quality
    buffers[1], qualities[1] = both, both_quality
    buffers[2], qualities[2] = flip.T, flip_quality
    buffers[3], qualities[3] = flip, flip_quality
    buffers[4], qualities[4] = mirror, mirror_quality
    buffers[5], qualities[5] = exact.T, quality
    buffers[6], qualities[6] = both.T, both_quality
    return buffers, qualities


@njit(cache=True, nogil=True)
def pdq_codes(luma: np.ndarray, work: np.ndarray, dihedral: bool) -> tuple[np.ndarray, np.ndarray]:
    """PDQ of a 2-D luma array: ``(n, 32)`` uint8 codes and ``(n,)`` qualities.

    n is 1, or 8 with ``dihedral``: original, rotate 90, 180, 270, flip x, flip y, flip
    +1, flip -1 as in the reference, but each hashed from the 64x64 buffer of the rotated
    or flipped pixels (``_variant_buffers``) rather than by sign flips of the original's
    DCT, which ignores the filter's asymmetries.
    """
    count = 8 if dihedral else 1
    codes = np.zeros((count, 32), np.uint8)
    qualities = np.zeros(count, np.int64)
    if luma.shape[0] < MIN_HASHABLE_DIM or luma.shape[1] < MIN_HASHABLE_DIM:
        return codes, qualities
    small = _downsample(luma, work)
    qualities[0] = _quality(small)
    _pack(_dct16(small, _DCT, _DCT_T), codes[0])
    if dihedral:
        buffers, variant_qualities = _variant_buffers(luma, work, small, qualities[0])
        for variant in range(1, 8):
            _pack(_dct16(buffers[variant - 1], _DCT, _DCT_T), codes[variant])
            qualities[variant] = variant_qualities[variant - 1]
    return codes, qualities
