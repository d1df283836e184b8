"""Request and response bodies of the native API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from lykta.banks.matcher import LookupResult
from lykta.banks.service import ContentInfo, ImportSummary
from lykta.hashing.photo import PhotoHashes


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
    model_config = ConfigDict(from_attributes=True)

    bank: str
    content_id: int
    external_id: str | None
    labels: list[str]
    kind: str
    hash: str = Field(description="the bank's hash that matched")
    distance: int
    transform: str = Field(description="how the query was changed to match, e.g. mirror, trimmed")
    query_hash: str


class LookupOut(BaseModel):
    matches: list[MatchOut]
    suppressed_by: list[MatchOut] = Field(
        description="negative-bank matches; when present, positive matches are withheld"
    )

    @classmethod
    def of(cls, result: LookupResult) -> LookupOut:
        return cls(
            matches=[MatchOut.model_validate(m) for m in result.matches],
            suppressed_by=[MatchOut.model_validate(m) for m in result.suppressed_by],
        )


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


class BankIn(BaseModel):
    name: str
    description: str = ""
    source: str = ""
    licence: str = ""
    enabled: bool = True
    negative: bool = False
    pdq_distance: int = Field(default=31, ge=0, le=256)
    pdq_min_quality: int = Field(default=50, ge=0, le=100)


class BankPatch(BaseModel):
    name: str | None = None
    description: str | None = None
    source: str | None = None
    licence: str | None = None
    enabled: bool | None = None
    negative: bool | None = None
    pdq_distance: int | None = Field(default=None, ge=0, le=256)
    pdq_min_quality: int | None = Field(default=None, ge=0, le=100)


class BankOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str
    source: str
    licence: str
    enabled: bool
    negative: bool
    pdq_distance: int
    pdq_min_quality: int
    created_at: datetime | None
    content_count: int


class ContentIn(BaseModel):
    kind: str = "pdq"
    hash: str
    external_id: str | None = Field(default=None, max_length=512)
    labels: list[str] = []


class ContentOut(BaseModel):
    id: int
    bank: str
    kind: str
    hash: str
    external_id: str | None
    labels: list[str]
    added_at: datetime | None
    added_by: str

    @classmethod
    def of(cls, content: ContentInfo) -> ContentOut:
        return cls(
            id=content.id,
            bank=content.bank,
            kind=content.kind,
            hash=content.value,
            external_id=content.external_id,
            labels=list(content.labels),
            added_at=content.added_at,
            added_by=content.added_by,
        )


class LineErrorOut(BaseModel):
    line: int
    reason: str


class ImportOut(BaseModel):
    bank: str
    added: int
    duplicates: int
    skipped: list[LineErrorOut]

    @classmethod
    def of(cls, summary: ImportSummary) -> ImportOut:
        return cls(
            bank=summary.bank,
            added=summary.added,
            duplicates=summary.duplicates,
            skipped=[LineErrorOut(line=e.line, reason=e.reason) for e in summary.skipped],
        )


class StatusOut(BaseModel):
    ok: bool
    version: str
    database: bool
    revision: int
    index_size: dict[str, int]
