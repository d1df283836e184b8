"""Checks on what a caller may store in a bank: names, free text, labels, thresholds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lykta.banks.formats import (
    MAX_EXTERNAL_ID,
    MAX_TEXT,
    frame_problem,
    labels_problem,
    text_problem,
)
from lykta.banks.items import ContentItem
from lykta.errors import InvalidInput
from lykta.hashing.registry import get_hasher, similarity_hashers
from lykta.store.models import BankThreshold

BANK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")

# The video rule's defaults. Either share may carry a match: a 10-second excerpt of a banked
# video matches by its own frames (query share), a long upload that contains a banked clip
# by the clip's (bank share). vPDQ's reference asks 80% of the query's frames and nothing of
# the bank's, which misses the second case.
DEFAULT_QUERY_SHARE = 0.5
DEFAULT_BANK_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Threshold:
    """A bank's rule for one similarity kind: the largest distance that matches, and the
    lowest quality a query hash may have (None for kinds without quality)."""

    distance: int
    min_quality: int | None = None
    #: A video (or a frame-by-frame look-up) matches a bank video when at least this share
    #: of the query's frames matched it, or at least ``bank_share`` of the bank video's time.
    query_share: float = DEFAULT_QUERY_SHARE
    bank_share: float = DEFAULT_BANK_SHARE


def threshold_of(row: BankThreshold) -> Threshold:
    """A stored threshold row as a rule (shares stored as NULL take the defaults)."""
    return Threshold(
        row.distance,
        row.min_quality,
        DEFAULT_QUERY_SHARE if row.query_share is None else row.query_share,
        DEFAULT_BANK_SHARE if row.bank_share is None else row.bank_share,
    )


def default_thresholds() -> dict[str, Threshold]:
    return {
        hasher.name: Threshold(hasher.default_distance, hasher.default_min_quality)
        for hasher in similarity_hashers()
    }


def validate_bank_name(name: str) -> str:
    # fullmatch: `$` would let a trailing newline through, and a newline in a bank name
    # breaks the export's Content-Disposition header.
    if not isinstance(name, str) or not BANK_NAME.fullmatch(name):
        raise InvalidInput(
            f"bad bank name {name!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


def validate_text(value: str, what: str) -> str:
    """A free-text field the database can store: no NUL, no lone surrogates, not too long."""
    if len(value) > MAX_TEXT:
        raise InvalidInput(f"{what} is longer than {MAX_TEXT} characters")
    problem = text_problem(value)
    if problem:
        raise InvalidInput(f"bad {what}: it {problem}")
    return value


def validate_item(item: ContentItem) -> ContentItem:
    """An item's external id, labels, hash qualities and frame times are storable (and the
    id short enough)."""
    if not item.hashes:
        raise InvalidInput("a content item needs at least one hash")
    for number, hashed in enumerate(item.hashes):
        # Most hashes have neither: imports of millions skip the call.
        if (hashed.quality is not None or hashed.seconds is not None) and (
            problem := frame_problem(hashed.quality, hashed.seconds)
        ):
            raise InvalidInput(f"hashes[{number}]: {problem}")
    if item.external_id is not None:
        if len(item.external_id) > MAX_EXTERNAL_ID:
            raise InvalidInput(
                f"external id {item.external_id[:40]!r}... is longer than {MAX_EXTERNAL_ID} "
                "characters"
            )
        problem = text_problem(item.external_id)
        if problem:
            raise InvalidInput(f"bad external id {item.external_id!r}: it {problem}")
    if item.labels:
        problem = labels_problem(item.labels)
        if problem:
            raise InvalidInput(problem)
    if item.note is not None:
        validate_text(item.note, "note")
    return item


# What a threshold holds, by the names the API and the flat `<kind>_<field>` fields use.
THRESHOLD_FIELDS = ("distance", "min_quality", "query_share", "bank_share")


def threshold_changes(
    fields: dict[str, Any], current: Mapping[str, Threshold]
) -> dict[str, Threshold]:
    """Pop threshold fields from ``fields`` and return the thresholds they change.

    Two spellings are read: ``thresholds={"pdq": {"distance": 20, "min_quality": 60}}``,
    and per similarity kind the flat fields ``<kind>_distance``, ``<kind>_min_quality``,
    ``<kind>_query_share`` and ``<kind>_bank_share`` (``pdq_distance``), which the CLI and
    older clients use.
    """
    wanted: dict[str, dict[str, Any]] = {}
    for kind, rule in (fields.pop("thresholds", None) or {}).items():
        if not isinstance(rule, Mapping):
            raise InvalidInput(f"thresholds.{kind} must be an object with distance/min_quality")
        unknown = set(rule) - set(THRESHOLD_FIELDS)
        if unknown:
            raise InvalidInput(f"thresholds.{kind}: unknown field(s) {', '.join(sorted(unknown))}")
        wanted.setdefault(kind, {}).update(rule)
    for hasher in similarity_hashers():
        for part in THRESHOLD_FIELDS:
            key = f"{hasher.name}_{part}"
            if key in fields:
                wanted.setdefault(hasher.name, {})[part] = fields.pop(key)
    changed: dict[str, Threshold] = {}
    for kind, rule in wanted.items():
        hasher = get_hasher(kind)
        if not hasher.similarity:
            raise InvalidInput(f"{hasher.name} hashes match exactly: they take no threshold")
        old = current.get(hasher.name, Threshold(hasher.default_distance, None))
        distance = rule.get("distance", old.distance)
        quality = rule.get("min_quality", old.min_quality)
        changed[hasher.name] = Threshold(
            _bounded(distance, f"{hasher.name}_distance", hasher.max_distance),
            None if quality is None else _bounded(quality, f"{hasher.name}_min_quality", 100),
            _share(rule.get("query_share", old.query_share), f"{hasher.name}_query_share"),
            _share(rule.get("bank_share", old.bank_share), f"{hasher.name}_bank_share"),
        )
    return changed


def _share(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{what} must be a number between 0 and 1, got {value!r}")
    if not 0 < value <= 1:
        raise InvalidInput(f"{what} must be above 0 and at most 1, got {value}")
    return float(value)


def _bounded(value: object, what: str, top: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} must be an integer, got {value!r}")
    if not 0 <= value <= top:
        raise InvalidInput(f"{what} must be between 0 and {top}, got {value}")
    return value
