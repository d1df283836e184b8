"""Request bodies of the native API, and responses that only it gives; the shapes of
matches, banks, content and import summaries, which the CLI prints too, are in
`lykta.outputs`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from lykta.banks.formats import MAX_EXTERNAL_ID, MAX_LABEL, MAX_LABELS, MAX_TEXT, text_problem
from lykta.outputs import HashesOut, LookupOut, VideoHashesOut, flat_threshold_fields


class ErrorOut(BaseModel):
    """Every error the native API answers, validation errors included."""

    detail: str = Field(description="what was wrong and, where it helps, what to do")


ERROR_MEANINGS = {
    400: "the body cannot be parsed (malformed JSON or multipart)",
    401: "no bearer token, or an invalid or revoked one",
    403: "the token's scope does not allow this route",
    404: "no such bank or bank content",
    409: "the change clashes with what exists (a bank name taken)",
    413: "the body is over LYKTA_MAX_UPLOAD_BYTES, or a batch over LYKTA_MAX_BATCH_HASHES",
    422: "bad input; the message says what was wrong",
    502: "a service Lykta calls (the CyberTipline) refused or could not be reached",
    503: "another write (such as a long import) held the database past LYKTA_DATABASE_WAIT; "
    "retry after Retry-After seconds",
}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds to wait", "schema": {"type": "string"}}},
}


def errors(
    *statuses: int,
    model: type[BaseModel] = ErrorOut,
    meanings: Mapping[int, str] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` entries for the error statuses a route can answer."""
    meaning = {**ERROR_MEANINGS, **(meanings or {})}
    return {
        status: {
            "model": model,
            "description": meaning[status],
            **({"headers": ERROR_HEADERS[status]} if status in ERROR_HEADERS else {}),
        }
        for status in statuses
    }


# The limits are enforced by the bank service, which every door calls; here they are only
# documented. (A pydantic length constraint would also refuse a lone surrogate before the
# service can name the problem.)
Text = Annotated[str, Field(json_schema_extra={"maxLength": MAX_TEXT})]
Label = Annotated[str, Field(json_schema_extra={"maxLength": MAX_LABEL})]


def _one_line(text: str) -> str:
    """A filter or a name: what the database can store (no NUL, no lone surrogate) and
    what reads on one line."""
    if text_problem(text) is not None or not text.isprintable():
        raise ValueError("must be printable text on one line")
    return text


OneLine = Annotated[str, AfterValidator(_one_line)]


class ContentLookupOut(LookupOut):
    hashes: HashesOut | VideoHashesOut = Field(
        description="the upload's hashes: a photo's, or a video's (`media_kind` video) "
        "digests and sampled frames"
    )


class BatchHash(BaseModel):
    kind: str = "pdq"
    hash: str
    quality: int | None = Field(default=None, ge=0, le=100)


class BatchLookupIn(BaseModel):
    hashes: list[BatchHash]
    banks: list[str] | None = None
    record: bool = Field(default=False, description="record the matches as alerts")
    subject: str | None = Field(
        default=None,
        description="the platform's account id the hashes came from (with record=true)",
        json_schema_extra={"maxLength": 512},
    )


class BatchResultOut(LookupOut):
    kind: str
    hash: str


class BatchLookupOut(BaseModel):
    results: list[BatchResultOut]


class ThresholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    distance: int | None = None
    min_quality: int | None = None
    query_share: float | None = Field(default=None, gt=0, le=1)
    bank_share: float | None = Field(default=None, gt=0, le=1)


class BankIn(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra=flat_threshold_fields)

    name: str
    description: Text = ""
    source: Text = ""
    licence: Text = ""
    enabled: bool = True
    negative: bool = False
    local_features: bool = Field(
        default=False, description="bank photos' local features and match by them too"
    )
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
    local_features: bool | None = None
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


class ReadinessOut(BaseModel):
    ready: bool
    database: bool = Field(description="the database answers")
    migrations: bool = Field(description="its schema is the one this Lykta expects")
    index: bool = Field(description="the indexes are loaded")
    problems: list[str] = Field(description="why not ready, one line each")


class ExchangeIn(BaseModel):
    bank: str = Field(description="the bank that follows it (created when missing)")
    api: str = Field(description="ncmec, stop_ncii, fb_threatexchange, sample or local_file")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description='the API\'s settings, e.g. {"environment": "Industry"} for ncmec; '
        "base_url points its client at another server",
    )
    credentials: str = Field(
        default="",
        description="where the credentials are read from: env:VARIABLE or file:/path; "
        "empty = python-threatexchange's variable. Never the credentials themselves",
    )
    enabled: bool = True
