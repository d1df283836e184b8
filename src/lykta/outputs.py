"""The one public shape of each result, shared by every door: HTTP bodies and the CLI's
`--json` lines are these models, so a match, a bank or an import summary reads the same
wherever it comes from. Request bodies stay with their door (`api/schemas.py`).

Fields are only ever added: scripts and clients read them by name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from lykta.app import ScannedFile
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

    @computed_field(  # type: ignore[prop-decorator]
        description="the external id again, under the name `lykta match --json` first gave it"
    )
    @property
    def id(self) -> str | None:
        return self.external_id


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


def scanned_file(file: ScannedFile) -> dict[str, Any]:
    """One file of a scan: `{"path", "error"}` when it could not be hashed, else its path
    with its look-up (`matches`, `suppressed_by`) or, when none was asked for, its hashes."""
    record: dict[str, Any] = {"path": str(file.path)}
    if file.error is not None:
        record["error"] = file.error
    elif file.result is not None:
        record.update(LookupOut.of(file.result).model_dump(mode="json"))
    elif file.hashes is not None:
        # A scan without look-ups hashes the photo as given: variants would repeat the PDQ.
        record.update(HashesOut.of(file.hashes).model_dump(mode="json", exclude={"variants"}))
    return record
