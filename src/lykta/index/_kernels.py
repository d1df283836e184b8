"""Numba kernels behind the indexes: the loops that must not run in the interpreter.

Kept in one module, few in number and compiled with ``cache=True``, so the first call in
a fresh process loads machine code from disk instead of spending seconds in the JIT.

Layout shared with ``hamming.py``: a 256-bit code is 32 bytes, seen as four little-endian
uint64 words. Table ``t`` of ``m`` holds substring ``t``, bits ``t * width`` onward; its top
``D`` bits ``hi`` index a directory, its low ``width - D`` bits ``lo`` (if any) are stored
per entry beside the row's position.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: Rows whose codes are fetched together while the previous chunk is checked. The codes
#: are read at random from the largest array, nearly each one a memory access: a tight
#: loop of prefetches keeps as many in flight as the core allows, and two chunks of lines
#: (8 KiB) stay in L1 until read. (Measured at 100M: chunks of 64 to 256 rows equal,
#: 16 slower; a prefetch a fixed distance ahead inside the checking loop, or every code
#: prefetched before any is read, slower still.)
CODE_CHUNK = 64


@intrinsic
def popcount(typingctx, x):  # type: ignore[no-untyped-def]
    """Population count as one ``popcnt`` instruction (numba has no portable builtin)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        value = context.cast(builder, args[0], signature.args[0], types.uint64)
        fnty = ir.FunctionType(ir.IntType(64), [ir.IntType(64)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.ctpop.i64")
        return builder.call(fn, [value])

    return types.int64(x), codegen


@intrinsic
def prefetch(typingctx, array, index):  # type: ignore[no-untyped-def]
    """Hint the cache to load ``array[index]`` without waiting for it."""
    if not isinstance(array, types.Array) or array.ndim != 1:
        return None

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [index])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        # read, keep in all cache levels, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.none(array, index), codegen


@njit(cache=True, nogil=True)
def _grow(buf: np.ndarray, used: int) -> np.ndarray:
    out = np.empty(max(2 * buf.shape[0], 1024), dtype=buf.dtype)
    out[:used] = buf[:used]
    return out


@njit(cache=True, nogil=True)
def _is_dead(dead: np.ndarray, row: int) -> bool:
    return dead.shape[0] > 0 and ((dead[row >> 3] >> (row & 7)) & 1) == 1


@njit(cache=True, nogil=True)
def _read_pos(pos_t: np.ndarray, i: int, bits: int) -> int:
    # Positions are packed in exactly as many bits as the row count needs (27 at 100M
    # rows), in uint64 words with one spare word at the end, because they are the largest
    # share of the memory per hash after the codes.
    # Branch-free: both words are always read (the spare one keeps that in bounds), and
    # the second is shifted in two steps so that a shift of 64 never occurs. Look-ups
    # unpack about 36,000 positions at 100M rows, where the branch was a coin toss.
    b = i * bits
    w = b >> 6
    s = np.uint64(b & 63)
    value = (pos_t[w] >> s) | ((pos_t[w + 1] << np.uint64(1)) << (np.uint64(63) - s))
    return np.int64(value & np.uint64((1 << bits) - 1))


@njit(cache=True, nogil=True)
def _write_pos(pos_t: np.ndarray, i: int, bits: int, value: int) -> None:
    """Store slot ``i``; the words start zeroed and each slot is written once."""
    b = i * bits
    w = b >> 6
    s = b & 63
    pos_t[w] |= np.uint64(value) << np.uint64(s)
    if s + bits > 64:
        pos_t[w + 1] |= np.uint64(value) >> np.uint64(64 - s)


@njit(cache=True, nogil=True)
def substring(words: np.ndarray, r: int, offset: int, width: int) -> int:
    """Bits ``offset .. offset + width - 1`` of row ``r`` of a ``(n, 4)`` uint64 view.

    Bit ``b`` of a code is bit ``b % 64`` of its little-endian word ``b // 64``.
    """
    k = offset >> 6
    shift = offset & 63
    value = words[r, k] >> np.uint64(shift)
    if shift + width > 64:
        value |= words[r, k + 1] << np.uint64(64 - shift)
    return np.int64(value & np.uint64((1 << width) - 1))


@njit(cache=True, nogil=True)
def _any_near(lo_t: np.ndarray, start: int, end: int, qlo: int, budget: int) -> bool:
    """Whether any ``lo`` in the range is within ``budget`` bits of ``qlo``.

    A branch-free count, which LLVM unrolls and pipelines; most buckets hold no
    survivor and stop here, so the branchy survivor loop runs rarely.
    """
    hits = 0
    for i in range(start, end):
        hits += popcount(np.int64(lo_t[i]) ^ qlo) <= budget
    return hits > 0


@njit(cache=True, nogil=True)
def scan(
    codes: np.ndarray, dead: np.ndarray, queries: np.ndarray, max_distance: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brute force: every live row within ``max_distance`` of each query.

    ``codes`` and ``queries`` are ``(n, 4)`` / ``(q, 4)`` uint64 views of the 32-byte codes.
    Returns parallel arrays (query index, row, distance).
    """
    cap = 1024
    out_q = np.empty(cap, dtype=np.int64)
    out_r = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap, dtype=np.int64)
    used = 0
    for qi in range(queries.shape[0]):
        q0, q1, q2, q3 = queries[qi, 0], queries[qi, 1], queries[qi, 2], queries[qi, 3]
        for r in range(codes.shape[0]):
            d = (
                popcount(codes[r, 0] ^ q0)
                + popcount(codes[r, 1] ^ q1)
                + popcount(codes[r, 2] ^ q2)
                + popcount(codes[r, 3] ^ q3)
            )
            if d <= max_distance and not _is_dead(dead, r):
                if used == out_q.shape[0]:
                    out_q, out_r, out_d = _grow(out_q, used), _grow(out_r, used), _grow(out_d, used)
                out_q[used], out_r[used], out_d[used] = qi, r, d
                used += 1
    return out_q[:used], out_r[:used], out_d[:used]


@njit(cache=True, nogil=True)
def probe(
    codes: np.ndarray,
    lo: np.ndarray,
    pos: np.ndarray,
    pos_bits: int,
    dirs: np.ndarray,
    dead: np.ndarray,
    queries: np.ndarray,
    max_distance: int,
    width: int,
    lo_bits: int,
    masks: np.ndarray,
    mask_weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Multi-index search, exact for ``max_distance < m * (rho + 1)``, ``m = dirs.shape[0]``.

    Table ``t`` holds substring ``t`` (bits ``t * width`` onward): its top bits ``hi``
    index the directory, the low ``lo_bits`` bits ``lo`` are stored per entry (none when
    the directory covers the whole substring). If two codes differ in at most
    ``max_distance`` bits, by pigeonhole one of the ``m`` disjoint substrings differs in
    at most ``rho = max_distance // m`` bits. For each table we visit every ``hi`` bucket
    within ``rho`` of the query's ``hi`` (``masks`` over ``D`` bits, lightest first) and
    keep entries whose ``lo`` is within the remaining budget; only those survivors read
    the 32-byte code. A row found in table ``t`` is emitted only if no earlier table
    would also have found it, so each match is reported once without a sort.

    Each query runs in steps, each prefetching what the next one reads (directory,
    buckets, positions); the codes are fetched ``CODE_CHUNK`` rows at a time, one chunk
    ahead of the one being checked, so many cache misses overlap instead of being
    waited for one by one. (Running the steps over several queries at once measured no
    faster: the extra lines in flight only evict each other.)
    """
    m = dirs.shape[0]
    lo_mask = (1 << lo_bits) - 1
    rho = max_distance // m
    n_masks = 0
    while n_masks < masks.shape[0] and mask_weights[n_masks] <= rho:
        n_masks += 1
    keys = np.empty(m, dtype=np.int64)
    lower = np.empty((m, n_masks), dtype=np.int64)
    upper = np.empty((m, n_masks), dtype=np.int64)
    guess = np.empty((m, n_masks), dtype=np.int64)
    # Rows to check, table by table: those of table t are rows[bounds[t]:bounds[t + 1]].
    bounds = np.empty(m + 1, dtype=np.int64)
    rows = np.empty(4096, dtype=np.int64)
    entries = np.empty(4096, dtype=np.int64)
    hits = np.empty(4096, dtype=np.int64)
    xor = np.empty((1, 4), dtype=np.uint64)
    cap = 1024
    out_q = np.empty(cap, dtype=np.int64)
    out_r = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap, dtype=np.int64)
    used = 0
    for qi in range(queries.shape[0]):
        # Step 0 prefetches the directory entries (a large directory misses the cache).
        for t in range(m):
            key = substring(queries, qi, t * width, width)
            keys[t] = key
            dirs_t = dirs[t]
            for mi in range(n_masks):
                prefetch(dirs_t, (key >> lo_bits) ^ masks[mi])
        # Step 1 reads the buckets' bounds and prefetches what step 2 reads of them.
        total = 0
        for t in range(m):
            key = keys[t]
            qhi, qlo = key >> lo_bits, key & lo_mask
            for mi in range(n_masks):
                bucket = qhi ^ masks[mi]
                start = np.int64(dirs[t, bucket])
                end = np.int64(dirs[t, bucket + 1])
                lower[t, mi], upper[t, mi] = start, end
                if start == end:
                    guess[t, mi] = start
                    continue
                if lo_bits == 0:
                    # Every entry survives: only its position is read.
                    prefetch(pos[t], (start * pos_bits) >> 6)
                    prefetch(pos[t], (end * pos_bits - 1) >> 6)
                    total += end - start
                elif mask_weights[mi] == rho:
                    # lo is sorted and near-uniform inside a bucket: interpolate.
                    start = start + ((qlo * (end - start)) >> lo_bits)
                    prefetch(lo[t], start)
                else:
                    for line in range(start, end, 64 // lo.itemsize):
                        prefetch(lo[t], line)
                guess[t, mi] = start
        # Step 2 lists the rows whose code must be read.
        if lo_bits == 0:
            if total > rows.shape[0]:
                rows = np.empty(max(total, 2 * rows.shape[0]), dtype=np.int64)
            n_rows = 0
            for t in range(m):
                bounds[t] = n_rows
                pos_t = pos[t]
                for mi in range(n_masks):
                    for i in range(lower[t, mi], upper[t, mi]):
                        rows[n_rows] = _read_pos(pos_t, i, pos_bits)
                        n_rows += 1
            bounds[m] = n_rows
        else:
            # Entries whose lo is within budget, their positions prefetched...
            n_rows = 0
            for t in range(m):
                bounds[t] = n_rows
                pos_t = pos[t]
                lo_t = lo[t]
                qlo = keys[t] & lo_mask
                for mi in range(n_masks):
                    lo_start, lo_end = lower[t, mi], upper[t, mi]
                    if lo_start == lo_end:
                        continue
                    budget = rho - mask_weights[mi]
                    if budget == 0:
                        # Walk from the interpolated guess to the first entry >= qlo.
                        i = guess[t, mi]
                        while i < lo_end and lo_t[i] < qlo:
                            i += 1
                        while i > lo_start and lo_t[i - 1] >= qlo:
                            i -= 1
                        start = i
                        while i < lo_end and lo_t[i] == qlo:
                            i += 1
                        end = i
                    elif _any_near(lo_t, lo_start, lo_end, qlo, budget):
                        start, end = lo_start, lo_end
                    else:
                        continue
                    for i in range(start, end):
                        if budget > 0 and popcount(np.int64(lo_t[i]) ^ qlo) > budget:
                            continue
                        if n_rows == entries.shape[0]:
                            entries = _grow(entries, n_rows)
                        prefetch(pos_t, (i * pos_bits) >> 6)
                        entries[n_rows] = i
                        n_rows += 1
            bounds[m] = n_rows
            # ...then their rows.
            if n_rows > rows.shape[0]:
                rows = np.empty(entries.shape[0], dtype=np.int64)
            for t in range(m):
                pos_t = pos[t]
                for c in range(bounds[t], bounds[t + 1]):
                    rows[c] = _read_pos(pos_t, entries[c], pos_bits)
        # Step 3 checks the full distance, a chunk of codes fetched ahead, and lists
        # the rows within it: a short loop that keeps many memory accesses in flight.
        if hits.shape[0] < n_rows:
            hits = np.empty(max(n_rows, 2 * hits.shape[0]), dtype=np.int64)
        q0, q1, q2, q3 = queries[qi, 0], queries[qi, 1], queries[qi, 2], queries[qi, 3]
        n_hits = 0
        for c in range(min(CODE_CHUNK, n_rows)):
            prefetch(codes[rows[c]], 0)
        for chunk in range(0, n_rows, CODE_CHUNK):
            for c in range(chunk + CODE_CHUNK, min(chunk + 2 * CODE_CHUNK, n_rows)):
                prefetch(codes[rows[c]], 0)
            for c in range(chunk, min(chunk + CODE_CHUNK, n_rows)):
                r = rows[c]
                d = popcount(codes[r, 0] ^ q0) + popcount(codes[r, 1] ^ q1)
                d += popcount(codes[r, 2] ^ q2) + popcount(codes[r, 3] ^ q3)
                if d <= max_distance:
                    hits[n_hits] = c
                    n_hits += 1
        # Step 4 keeps the live rows that no earlier table would also have found.
        t = 0
        for h in range(n_hits):
            c = hits[h]
            while c >= bounds[t + 1]:
                t += 1
            r = rows[c]
            if _is_dead(dead, r):
                continue
            xor[0, 0] = codes[r, 0] ^ q0
            xor[0, 1] = codes[r, 1] ^ q1
            xor[0, 2] = codes[r, 2] ^ q2
            xor[0, 3] = codes[r, 3] ^ q3
            seen = False
            for e in range(t):
                if popcount(substring(xor, 0, e * width, width)) <= rho:
                    seen = True
                    break
            if seen:
                continue
            d = popcount(xor[0, 0]) + popcount(xor[0, 1]) + popcount(xor[0, 2])
            d += popcount(xor[0, 3])
            if used == out_q.shape[0]:
                out_q, out_r, out_d = _grow(out_q, used), _grow(out_r, used), _grow(out_d, used)
            out_q[used], out_r[used], out_d[used] = qi, r, d
            used += 1
    return out_q[:used], out_r[:used], out_d[:used]


@njit(cache=True, nogil=True)
def table_keys(codes: np.ndarray, start: int, t: int, width: int) -> np.ndarray:
    """Substring ``t`` of rows ``start..`` of the ``(n, 4)`` uint64 view, as uint32."""
    keys = np.empty(codes.shape[0] - start, dtype=np.uint32)
    for r in range(start, codes.shape[0]):
        keys[r - start] = substring(codes, r, t * width, width)
    return keys


@njit(cache=True, nogil=True)
def sort_by_key(keys: np.ndarray, width: int) -> np.ndarray:
    """Stable order of ``keys`` (< 2**width): a counting sort when that is cheaper.

    Linear in the rows, which keeps a 100M-row build within minutes; small inputs take a
    merge sort instead of clearing a 2**width histogram.
    """
    k = keys.shape[0]
    if k * 8 < (1 << width):
        return np.argsort(keys, kind="mergesort")
    counts = np.zeros((1 << width) + 1, dtype=np.int64)
    for r in range(k):
        counts[np.int64(keys[r]) + 1] += 1
    for b in range(1 << width):
        counts[b + 1] += counts[b]
    order = np.empty(k, dtype=np.int64)
    for r in range(k):
        v = np.int64(keys[r])
        order[counts[v]] = r
        counts[v] += 1
    return order


@njit(cache=True, nogil=True)
def merge_table(
    old_lo: np.ndarray,
    old_pos: np.ndarray,
    old_bits: int,
    old_dirs: np.ndarray,
    remap: np.ndarray,
    new_keys: np.ndarray,
    new_order: np.ndarray,
    new_base: int,
    lo_bits: int,
    lo: np.ndarray,
    pos: np.ndarray,
    bits: int,
    dirs: np.ndarray,
) -> None:
    """Merge sorted new entries into one sorted table in one linear pass.

    Old entries map through ``remap`` (-1 drops a removed row, so compaction rides
    along); an empty ``old_dirs`` means there are none. New entry ``j`` is row
    ``new_base + new_order[j]`` with key ``new_keys[new_order[j]]``, whose low
    ``lo_bits`` go to ``lo`` (empty when the directory covers the whole key). Writes the
    preallocated ``lo``, the zeroed ``pos`` words and ``dirs``; old and new tables share
    the directory width.
    """
    buckets = dirs.shape[0] - 1
    lo_mask = (1 << lo_bits) - 1
    has_old = old_dirs.shape[0] > 0
    out = 0
    j = 0
    k = new_order.shape[0]
    for b in range(buckets):
        dirs[b] = out
        i, i_end = 0, 0
        if has_old:
            i, i_end = np.int64(old_dirs[b]), np.int64(old_dirs[b + 1])
        while True:
            take_new = j < k and (np.int64(new_keys[new_order[j]]) >> lo_bits) == b
            if i < i_end and (
                not take_new
                or lo_bits == 0
                or np.int64(old_lo[i]) <= (np.int64(new_keys[new_order[j]]) & lo_mask)
            ):
                row = remap[_read_pos(old_pos, i, old_bits)]
                value = old_lo[i] if lo_bits else 0
                i += 1
                if row < 0:
                    continue
            elif take_new:
                row = new_base + new_order[j]
                value = np.int64(new_keys[new_order[j]]) & lo_mask
                j += 1
            else:
                break
            if lo_bits:
                lo[out] = value
            _write_pos(pos, out, bits, row)
            out += 1
    dirs[buckets] = out


@njit(cache=True, nogil=True)
def find_unsorted(ids: np.ndarray, order: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row of each wanted id (-1 if absent), via ``order``, an argsort of ``ids``."""
    out = np.full(wanted.shape[0], -1, dtype=np.int64)
    for k in range(wanted.shape[0]):
        a, b = 0, order.shape[0]
        while a < b:
            mid = (a + b) >> 1
            if ids[order[mid]] < wanted[k]:
                a = mid + 1
            else:
                b = mid
        if a < order.shape[0] and ids[order[a]] == wanted[k]:
            out[k] = order[a]
    return out


@njit(cache=True, nogil=True)
def _row_less(a: np.ndarray, i: int, b: np.ndarray, j: int) -> bool:
    for w in range(a.shape[1]):
        if a[i, w] != b[j, w]:
            return a[i, w] < b[j, w]
    return False


@njit(cache=True, nogil=True)
def key_ranges(keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[first, last)`` rows equal to each query in lexicographically sorted ``keys``."""
    first = np.empty(queries.shape[0], dtype=np.int64)
    last = np.empty(queries.shape[0], dtype=np.int64)
    for q in range(queries.shape[0]):
        a, b = 0, keys.shape[0]
        while a < b:
            mid = (a + b) >> 1
            if _row_less(keys, mid, queries, q):
                a = mid + 1
            else:
                b = mid
        first[q] = a
        b = keys.shape[0]
        while a < b:
            mid = (a + b) >> 1
            if _row_less(queries, q, keys, mid):
                b = mid
            else:
                a = mid + 1
        last[q] = a
    return first, last


@njit(cache=True, nogil=True)
def merge_order(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Source of each output row when merging sorted ``a`` and ``b`` (b offset by len(a))."""
    out = np.empty(a.shape[0] + b.shape[0], dtype=np.int64)
    i = j = 0
    for k in range(out.shape[0]):
        if j == b.shape[0] or (i < a.shape[0] and not _row_less(b, j, a, i)):
            out[k] = i
            i += 1
        else:
            out[k] = a.shape[0] + j
            j += 1
    return out


# The local-features index's candidate search (``local_features.LocalFeatureIndex``): a
# query keypoint votes once for each photo with a posting in its word whose signature is
# close to its own. The word lists are scanned once, in place, and votes are counted in a
# dense array over the segment's photos; "the last keypoint that voted" for a photo tells
# a repeat from a new vote, as keypoints are scanned in order. A photo also filed in
# another segment (banked twice, or its rows added in two batches) is marked shared: its
# (keypoint, photo) pairs are written out instead and counted across segments at the end.


@njit(cache=True, nogil=True)
def _ranked(keys: np.ndarray, votes: np.ndarray, held: int, key: np.uint64, v: int) -> int:
    """Insert into the ranked list ``keys``/``votes`` (more votes first, then the lower
    key), at most its length long; returns how many it holds."""
    most = keys.shape[0]
    place = held
    while place > 0 and (votes[place - 1] < v or (votes[place - 1] == v and keys[place - 1] > key)):
        place -= 1
    if place >= most:
        return held
    for m in range(min(held, most - 1), place, -1):
        keys[m], votes[m] = keys[m - 1], votes[m - 1]
    keys[place], votes[place] = key, v
    return min(held + 1, most)


@njit(cache=True, nogil=True)
def _first_at_least(
    signatures: np.ndarray, low: int, high: int, part: np.uint64, split_mask: int
) -> int:
    """The first of ``signatures[low:high]`` (sorted by their ``split_mask`` bits) whose
    masked bits are at least ``part``."""
    while low < high:
        mid = (low + high) >> 1
        if (np.uint64(signatures[mid]) & np.uint64(split_mask)) < part:
            low = mid + 1
        else:
            high = mid
    return low


@njit(cache=True, nogil=True)
def segment_votes(
    word_start: np.ndarray,
    posting_slots: np.ndarray,
    posting_signatures: np.ndarray,
    photo_of_slot: np.ndarray,
    photo_groups: np.ndarray,
    shared: np.ndarray,
    dead: np.ndarray,
    words: np.ndarray,
    signatures: np.ndarray,
    full: int,
    max_distance: int,
    split_mask: int,
    min_votes: int,
    most: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One segment's votes: the group keys and votes of its ``most`` unshared photos with
    most votes (at least ``min_votes``), and (query keypoint, group key) of each vote for
    a shared photo. A vote is a live posting in a query keypoint's word within
    ``max_distance`` bits of its signature and equal to it on ``split_mask`` (each word's
    postings are sorted by those bits: only that part of the list is read); a word holding
    more than ``full`` postings casts none."""
    photos = photo_groups.shape[0]
    votes = np.zeros(photos, dtype=np.int32)
    last = np.full(photos, -1, dtype=np.int32)
    out_k = np.empty(64, dtype=np.int32)
    out_g = np.empty(64, dtype=np.uint64)
    used = 0
    for k in range(words.shape[0]):
        low = word_start[words[k]]
        high = word_start[words[k] + 1]
        if high - low > full:
            continue
        mine = np.uint64(signatures[k])
        part = mine & np.uint64(split_mask)
        low = _first_at_least(posting_signatures, low, high, part, split_mask)
        high = _first_at_least(posting_signatures, low, high, part + np.uint64(1), split_mask)
        for i in range(low, high):
            if popcount(np.uint64(posting_signatures[i]) ^ mine) > max_distance:
                continue
            slot = np.int64(posting_slots[i])
            if _is_dead(dead, slot):
                continue
            photo = photo_of_slot[slot]
            if last[photo] == k:
                continue
            last[photo] = k
            if shared[photo]:
                if used == out_k.shape[0]:
                    out_k, out_g = _grow(out_k, used), _grow(out_g, used)
                out_k[used] = k
                out_g[used] = photo_groups[photo]
                used += 1
            else:
                votes[photo] += 1
    best_keys = np.empty(most, dtype=np.uint64)
    best_votes = np.empty(most, dtype=np.int64)
    held = 0
    for photo in range(photos):
        if votes[photo] >= min_votes:
            held = _ranked(best_keys, best_votes, held, photo_groups[photo], votes[photo])
    return best_keys[:held], best_votes[:held], out_k[:used], out_g[:used]


@njit(cache=True, nogil=True)
def most_voted(
    counted_keys: np.ndarray,
    counted_votes: np.ndarray,
    keypoints: np.ndarray,
    groups: np.ndarray,
    n_keypoints: int,
    min_votes: int,
    most: int,
) -> np.ndarray:
    """The group keys with most votes, at least ``min_votes``, at most ``most`` of them,
    ties to the lower key: over the segments' counted photos (each in one segment only)
    and the shared photos' (keypoint, group key) pairs, one vote per keypoint and group
    however many segments name it."""
    n = keypoints.shape[0]
    # Pairs grouped by keypoint (a counting sort: several segments' pairs interleave), so
    # "the last keypoint that voted for this group" tells a repeat from a new vote.
    starts = np.zeros(n_keypoints + 1, dtype=np.int64)
    for i in range(n):
        starts[keypoints[i] + 1] += 1
    for k in range(n_keypoints):
        starts[k + 1] += starts[k]
    order = np.empty(n, dtype=np.int64)
    filled = starts[:-1].copy()
    for i in range(n):
        order[filled[keypoints[i]]] = i
        filled[keypoints[i]] += 1
    # Open addressing, slots by Fibonacci hashing of the group key.
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    capacity = 1 << bits
    keys = np.zeros(capacity, dtype=np.uint64)
    taken = np.zeros(capacity, dtype=np.bool_)
    votes = np.zeros(capacity, dtype=np.int64)
    last = np.full(capacity, -1, dtype=np.int64)
    for j in range(n):
        i = order[j]
        key = groups[i]
        at = np.int64((key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits))
        while taken[at] and keys[at] != key:
            at = (at + 1) & (capacity - 1)
        if not taken[at]:
            taken[at] = True
            keys[at] = key
        if last[at] != keypoints[i]:
            last[at] = keypoints[i]
            votes[at] += 1
    best_keys = np.empty(most, dtype=np.uint64)
    best_votes = np.empty(most, dtype=np.int64)
    held = 0
    for at in range(capacity):
        if taken[at] and votes[at] >= min_votes:
            held = _ranked(best_keys, best_votes, held, keys[at], votes[at])
    for c in range(counted_keys.shape[0]):
        held = _ranked(best_keys, best_votes, held, counted_keys[c], counted_votes[c])
    return best_keys[:held]
