"""HMA's `/m` blueprint: look up hashes and media, report the index's state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from lykta.api.deps import Core, Matcher
from lykta.api.hma.common import (
    VPDQ,
    Banks,
    Types,
    bank_list,
    coinflip_banks,
    fetch_for_hashing,
    parse_bool,
    read_form,
    read_form_file,
    read_json_body,
    signal_kind,
    signal_names,
    signal_names_of_index,
    undecodable_video,
    video_file,
)
from lykta.api.hma.errors import HmaError, HmaRoute, hma_errors
from lykta.app import Lykta
from lykta.banks.formats import parse_vpdq_signal
from lykta.banks.validation import default_thresholds
from lykta.errors import LyktaError, MediaError
from lykta.hashing.local_features import OrbHasher
from lykta.hashing.registry import get_hasher
from lykta.hashing.video import FrameVariant, SampledFrame
from lykta.matching import Match

# The hash kinds of a whole file's bytes: a match by one is the very file.
DIGEST_KINDS = frozenset({"md5", "sha256"})

router = APIRouter(route_class=HmaRoute)


def _by_bank(matches: Iterable[Match]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for match in matches:
        out.setdefault(match.bank, []).append(
            {"bank_content_id": match.content_id, "distance": _distance(match)}
        )
    return out


def _distance(match: Match) -> str:
    """HMA's distance text: a hash's distance, or for a video how much of the query and of
    the bank video matched, as python-threatexchange's vPDQ writes it (`80%[100%]`)."""
    if match.video is None and match.kind == OrbHasher.name:
        # An inlier count, where more is closer: never to be read as a Hamming distance.
        return f"{OrbHasher.name}:{match.distance}"
    if match.video is None:
        return str(match.distance)
    return f"{match.video.query_share * 100:.0f}%[{match.video.bank_share * 100:.0f}%]"


def _lookup_media(
    core: Lykta, data: bytes, names: list[str], banks: list[str] | None, vpdq_asked: bool
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Hash and look up one file: `{signal_type: {bank: [match, ...]}}` as HMA answers.

    A photo's PDQ is looked up with all the variants Lykta's settings call for (rotations,
    flips, trimmed borders), so it finds at least what HMA would. A video asked for its
    vPDQ is hashed once and looked up as a video: `vpdq` gives the bank items its frames
    match (videos, and photos a frame shows), the digests the very file. A file that
    cannot be decoded as a video has no vPDQ (see ``undecodable_video``)."""
    if VPDQ in names:
        try:
            return _lookup_video(core, data, names, banks)
        except MediaError as error:
            names = undecodable_video(names, error, vpdq_asked)
    kinds = {name: signal_kind(name) for name in names}
    found = core.lookup_media_by_kind(
        data, kinds=kinds.values(), banks=banks, ignore_unknown_banks=True
    )
    answer = {name: _by_bank(found[kinds[name]].matches) for name in names}
    if "pdq" in kinds.values() and not any(r.matches or r.suppressed_by for r in found.values()):
        # PDQ's second path, as a native look-up takes it: answered under the PDQ signal.
        second = core.second_path(data, banks, ignore_unknown_banks=True).matches
        answer |= {name: _by_bank(second) for name in names if kinds[name] == "pdq"}
    return answer


def _lookup_video(
    core: Lykta, data: bytes, names: list[str], banks: list[str] | None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    hashes = core.hash_video(video_file(data), local_features=True, banks=banks)
    matches = core.lookup_video(hashes, banks=banks, ignore_unknown_banks=True).matches
    # The digests' matches are the very file; vPDQ's every item the frames matched.
    exact = [match for match in matches if match.kind in DIGEST_KINDS]
    return {
        name: _by_bank(matches if name == VPDQ else [replace(m, video=None) for m in exact])
        for name in names
    }


def _lookup_hash(
    core: Lykta, signal_type: str, signal: str, banks: list[str] | None
) -> list[Match]:
    if signal_type == VPDQ:
        return _lookup_vpdq(core, signal, banks)
    kind = signal_kind(signal_type)
    return core.lookup_hash(kind, signal, banks=banks, ignore_unknown_banks=True).matches


def _lookup_vpdq(core: Lykta, signal: str, banks: list[str] | None) -> list[Match]:
    """A vPDQ signal's frames looked up as a video, as a sampled upload is."""
    try:
        item = parse_vpdq_signal(signal)
    except LyktaError as error:
        raise HmaError(400, error.message) from None
    frames = [
        SampledFrame(h.seconds or 0.0, (FrameVariant("original", h.value, h.quality or 0),))
        for h in sorted(item.hashes, key=lambda h: h.seconds or 0.0)
    ]
    return core.lookup_video_frames(frames, banks=banks, ignore_unknown_banks=True).matches


@router.get("/m/raw_lookup", responses=hma_errors(400, 401))
def raw_lookup(
    core: Core,
    _: Matcher,
    signal: str | None = None,
    signal_type: str | None = None,
    banks: Banks = None,
    include_distance: str = "false",
) -> dict[str, list[Any]]:
    """`{"matches": [content_id, ...]}`, or `[{"bank_content_id", "distance"}]` with distance."""
    if signal is None:
        raise HmaError(400, "signal is required")
    if signal_type is None:
        raise HmaError(400, "signal_type is required")
    with_distance = parse_bool(include_distance)
    return raw_lookup_answer(
        _lookup_hash(core, signal_type, signal, bank_list(banks)), with_distance
    )


def raw_lookup_answer(matches: Iterable[Match], with_distance: bool) -> dict[str, list[Any]]:
    """The body of `/m/raw_lookup`, for this route and its fast path (api/hot.py) alike."""
    if with_distance:
        return {
            "matches": [
                {"bank_content_id": m.content_id, "distance": _distance(m)} for m in matches
            ]
        }
    return {"matches": [m.content_id for m in matches]}


@router.get("/m/lookup", responses=hma_errors(400, 401, 403, 413))
async def lookup_get(
    core: Core,
    _: Matcher,
    url: str | None = None,
    content_type: str | None = None,
    types: Types = None,
    signal: str | None = None,
    signal_type: str | None = None,
    banks: Banks = None,
    seed: str | None = None,
    bypass_coinflip: str = "false",
) -> dict[str, Any]:
    """By hash: `{bank: [{"bank_content_id", "distance"}]}`. By url: the same keyed by signal
    type, or unkeyed for the one `signal_type` given. `seed` and `bypass_coinflip` steer
    HMA's coin flip for banks with a partial `enabled_ratio`."""
    wanted = coinflip_banks(core, bank_list(banks), seed, parse_bool(bypass_coinflip))
    if url:
        data, names = await fetch_for_hashing(core, url, content_type, types)
        found = await run_in_threadpool(_lookup_media, core, data, names, wanted, types is not None)
        if signal_type is not None:
            return found.get(signal_type, {})
        return found
    if not signal or not signal_type:
        raise HmaError(400, "Either url or both signal and signal_type are required")
    matches = await run_in_threadpool(_lookup_hash, core, signal_type, signal, wanted)
    return _by_bank(matches)


@router.post("/m/lookup", responses=hma_errors(400, 401, 413))
async def lookup_post(
    request: Request,
    core: Core,
    _: Matcher,
    types: Types = None,
    banks: Banks = None,
    seed: str | None = None,
    bypass_coinflip: str = "false",
) -> dict[str, Any]:
    """Hash and look up one uploaded file: `{signal_type: {bank: [match, ...]}}`."""
    wanted = coinflip_banks(core, bank_list(banks), seed, parse_bool(bypass_coinflip))
    found = await read_form_file(core, await read_form(request))
    if found is None:
        raise HmaError(400, "Missing multipart/form-data file upload")
    kind, data = found
    names = signal_names(kind, types)
    return await run_in_threadpool(_lookup_media, core, data, names, wanted, types is not None)


@router.get("/m/index/status", responses=hma_errors(400, 401))
def index_status(core: Core, _: Matcher, signal_type: str | None = None) -> dict[str, Any]:
    """`{signal_type: {"present", "built_to", "size"}}`; Lykta's index is always current."""
    sizes = core.matcher.size()
    names = signal_names_of_index()
    if signal_type is not None:
        signal_kind(signal_type)
        names = [signal_type]
    return {
        name: {
            "present": True,
            "built_to": core.matcher.revision,
            "size": sizes.get(signal_kind(name), 0),
        }
        for name in names
    }


@router.post("/m/compare", responses=hma_errors(400, 401, 413))
async def compare(request: Request, _: Matcher) -> dict[str, Any]:
    """Compare pairs of hashes: `{signal_type: [a, b]}` gives `{signal_type: [match,
    {"distance": n}]}`, a match being within the kind's default threshold."""
    body = await read_json_body(request)
    if not isinstance(body, dict):
        raise HmaError(400, "Request input was not a dict")
    thresholds = default_thresholds()
    results: dict[str, Any] = {}
    for name, pair in body.items():
        if not isinstance(pair, list):
            raise HmaError(400, f"Comparison hashes for {name} was not a list")
        if len(pair) != 2:
            raise HmaError(400, "Comparison hash list length must be exactly 2")
        kind = signal_kind(name)
        hasher = get_hasher(kind)
        try:
            left, right = (hasher.validate(value) for value in pair)
        except (LyktaError, TypeError, AttributeError) as error:
            raise HmaError(400, f"Invalid {name} hash: {error}") from None
        distance = hasher.distance(left, right)
        rule = thresholds.get(kind)
        results[name] = [distance <= (rule.distance if rule else 0), {"distance": distance}]
    return results
