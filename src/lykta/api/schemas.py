"""Request bodies of the native API, and responses that only it gives; the shapes of
matches, banks, content and import summaries, which the CLI prints too, are in
`lykta.outputs`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from lykta.banks.formats import MAX_EXTERNAL_ID, MAX_LABEL, MAX_LABELS, MAX_TEXT
from lykta.outputs import HashesOut, LookupOut, flat_threshold_fields

# The limits are enforced by the bank service, which every door calls; here they are only
# documented. (A pydantic length constraint would also refuse a lone surrogate before the
# service can name the problem.)
Text = Annotated[str, Field(json_schema_extra={"maxLength": MAX_TEXT})]
Label = Annotated[str, Field(json_schema_extra={"maxLength": MAX_LABEL})]


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


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    distance: int | None = None
    min_quality: int | None = None


class BankIn(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra=flat_threshold_fields)

    name: str
    description: Text = ""
    source: Text = ""
    licence: Text = ""
    enabled: bool = True
    negative: bool = False
    thresholds: dict[str, ThresholdIn] | None = Field(
        default=None, description="per similarity kind: {distance, min_quality}"
    )


class BankPatch(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra=flat_threshold_fields)

    name: str | None = None
    description: Text | None = None
    source: Text | None = None
    licence: Text | None = None
    enabled: bool | None = None
    negative: bool | None = None
    thresholds: dict[str, ThresholdIn] | None = None


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
    external_id: str | None = Field(default=None, max_length=MAX_EXTERNAL_ID)
    labels: list[Label] = Field(default=[], json_schema_extra={"maxItems": MAX_LABELS})


class StatusOut(BaseModel):
    ok: bool
    version: str
    database: bool
    revision: int
    index_size: dict[str, int]
