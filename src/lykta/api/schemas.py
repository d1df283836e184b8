"""Request and response bodies of the native API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lykta.hashing.photo import PhotoHashes
from lykta.hashing.registry import similarity_hashers


class VariantOut(BaseModel):
    transform: str
    pdq: str
    quality: int


class HashesOut(BaseModel):
    pdq: str
    quality: int
    md5: str
    sha256: str
    variants: list[VariantOut] = Field(description="PDQ of each rotation/flip and trimmed copy")

    @classmethod
    def of(cls, hashes: PhotoHashes) -> HashesOut:
        return cls(
            pdq=hashes.pdq,
            quality=hashes.quality,
            md5=hashes.md5,
            sha256=hashes.sha256,
            variants=[
                VariantOut(transform=v.transform, pdq=v.pdq, quality=v.quality)
                for v in hashes.variants
            ],
        )


class MatchOut(BaseModel):
    """Which bank content matched and why; never the bank's hash value."""

    bank: str
    negative: bool
    content_id: int
    external_id: str | None
    id: str | None = Field(description="the external id again (what `lykta match` prints)")
    labels: list[str]
    kind: str
    distance: int
    transform: str = Field(description="how the query was changed to match, e.g. mirror, trimmed")
    query_hash: str = Field(description="the query's own hash that matched")


class LookupOut(BaseModel):
    matches: list[MatchOut]
    suppressed_by: list[MatchOut] = Field(
        description="negative-bank matches; when present, positive matches are withheld"
    )
    capped: bool = Field(description="more matches were found than match_cap; the closest kept")
    match_cap: int = Field(description="most matches returned per content (LYKTA_MAX_MATCHES)")


class ContentLookupOut(LookupOut):
    hashes: HashesOut


class BatchHash(BaseModel):
    kind: str = "pdq"
    hash: str
    quality: int | None = Field(default=None, ge=0, le=100)


class BatchLookupIn(BaseModel):
    hashes: list[BatchHash]
    banks: list[str] | None = None


class BatchResultOut(LookupOut):
    kind: str
    hash: str


class BatchLookupOut(BaseModel):
    results: list[BatchResultOut]


def _flat_threshold_fields(schema: dict[str, Any]) -> None:
    """Document the flat `<kind>_distance`/`<kind>_min_quality` fields of every similarity
    kind the registry knows (they are read as extra fields)."""
    for hasher in similarity_hashers():
        schema.setdefault("properties", {})[f"{hasher.name}_distance"] = {
            "type": "integer", "minimum": 0, "maximum": hasher.max_distance,
            "description": f"largest {hasher.name} distance that matches "
            f"(default {hasher.default_distance})",
        }  # fmt: skip
        if hasher.has_quality:
            schema["properties"][f"{hasher.name}_min_quality"] = {
                "type": ["integer", "null"], "minimum": 0, "maximum": 100,
                "description": f"lowest {hasher.name} quality a query may have "
                f"(default {hasher.default_min_quality})",
            }  # fmt: skip


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    distance: int | None = None
    min_quality: int | None = None


class ThresholdOut(BaseModel):
    distance: int
    min_quality: int | None


class BankIn(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra=_flat_threshold_fields)

    name: str
    description: str = ""
    source: str = ""
    licence: str = ""
    enabled: bool = True
    negative: bool = False
    thresholds: dict[str, ThresholdIn] | None = Field(
        default=None, description="per similarity kind: {distance, min_quality}"
    )


class BankPatch(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra=_flat_threshold_fields)

    name: str | None = None
    description: str | None = None
    source: str | None = None
    licence: str | None = None
    enabled: bool | None = None
    negative: bool | None = None
    thresholds: dict[str, ThresholdIn] | None = None


class BankOut(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra=_flat_threshold_fields)

    name: str
    description: str
    source: str
    licence: str
    enabled: bool
    negative: bool
    thresholds: dict[str, ThresholdOut]
    created_at: datetime | None
    content_count: int


class HashIn(BaseModel):
    kind: str = "pdq"
    hash: str
    quality: int | None = Field(default=None, ge=0, le=100)
    seconds: float | None = Field(default=None, ge=0)


class ContentIn(BaseModel):
    """One content item: `kind` + `hash` for a single hash, or `hashes` for several."""

    kind: str = "pdq"
    hash: str | None = None
    hashes: list[HashIn] | None = None
    external_id: str | None = Field(default=None, max_length=512)
    labels: list[str] = []


class HashOut(BaseModel):
    kind: str
    value: str
    quality: int | None
    seconds: float | None


class ContentOut(BaseModel):
    id: int
    bank: str
    external_id: str | None
    labels: list[str]
    media_kind: str | None
    duration: float | None
    hashes: list[HashOut]
    added_at: datetime | None
    added_by: str


class LineErrorOut(BaseModel):
    line: int
    reason: str


class ImportOut(BaseModel):
    bank: str
    added: int
    duplicates: int
    skipped: list[LineErrorOut]
    content_ids: list[int] = Field(description="each given item's id, new or already held")


class StatusOut(BaseModel):
    ok: bool
    version: str
    database: bool
    revision: int
    index_size: dict[str, int]
