"""Request bodies of the native API, and responses that only it gives; the shapes of
matches, banks, content and import summaries, which the CLI prints too, are in
`lykta.outputs`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from lykta.outputs import HashesOut, LookupOut


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


class ContentIn(BaseModel):
    kind: str = "pdq"
    hash: str
    external_id: str | None = Field(default=None, max_length=512)
    labels: list[str] = []


class StatusOut(BaseModel):
    ok: bool
    version: str
    database: bool
    revision: int
    index_size: dict[str, int]
