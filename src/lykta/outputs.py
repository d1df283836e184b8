"""The one public shape of each result, shared by every door: HTTP bodies and the CLI's
`--json` lines are these models, so a match, a bank or an import summary reads the same
wherever it comes from. Request bodies stay with their door (`api/schemas.py`).

Fields are only ever added: scripts and clients read them by name.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

from lykta.alerts import AlertInfo
from lykta.app import ScannedFile
from lykta.audit import AuditEntryInfo
from lykta.banks.service import BankInfo, ContentInfo, ImportSummary
from lykta.banks.validation import DEFAULT_BANK_SHARE, DEFAULT_QUERY_SHARE
from lykta.cases import CaseDetail, CaseInfo, ContextInfo, MisfireInfo
from lykta.evidence import EvidenceInfo
from lykta.evidence.media import CaseMediaList
from lykta.exchanges import ExchangeInfo, SyncResult
from lykta.hashing.photo import PhotoHashes
from lykta.hashing.registry import similarity_hashers
from lykta.hashing.video import VideoHashes
from lykta.matching import LookupResult, Match
from lykta.reports import ReportInfo
from lykta.streams import StreamStatus


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back the UTC times Lykta stored without their zone; say which zone it is.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, AfterValidator(_as_utc)]


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


class FrameOut(BaseModel):
    seconds: float = Field(description="where in the video the frame is")
    transform: str = Field(description="original, or trimmed (without its bars)")
    pdq: str
    quality: int


class VideoHashesOut(BaseModel):
    media_kind: str = "video"
    md5: str
    sha256: str
    duration: float | None
    frames: list[FrameOut] = Field(
        description="PDQ of each sampled frame, and of the frame without its bars when it has any"
    )

    @classmethod
    def of(cls, hashes: VideoHashes) -> VideoHashesOut:
        return cls(
            md5=hashes.md5,
            sha256=hashes.sha256,
            duration=hashes.duration,
            frames=[
                FrameOut(seconds=frame.seconds, transform=v.transform, pdq=v.pdq, quality=v.quality)
                for frame in hashes.frames
                for v in frame.variants
            ],
        )


class SegmentOut(BaseModel):
    """A stretch of the query video that matched a stretch of the bank item (seconds from
    each one's start; the bank side is null when the bank item is a photo)."""

    model_config = ConfigDict(from_attributes=True)

    query_start: float
    query_end: float
    bank_start: float | None
    bank_end: float | None


class MatchOut(BaseModel):
    """Which bank content item matched and why; never the bank's hash values."""

    model_config = ConfigDict(from_attributes=True)

    bank: str
    negative: bool
    content_id: int
    external_id: str | None
    labels: list[str]
    kind: str = Field(description="the hash kind that matched (the item's closest)")
    distance: int = Field(
        description="Hamming distance (0: identical); for local-features kinds (orb) the "
        "number of verified keypoint inliers instead, where more is closer"
    )
    transform: str = Field(
        description="how the query was changed to match, e.g. mirror, trimmed, region "
        "(the photo inside a screenshot), local-features"
    )
    query_hash: str = Field(
        description="the query's own hash that matched (empty for local features)"
    )
    query_share: float | None = Field(
        default=None, description="video look-ups: share of the query's frames that matched"
    )
    bank_share: float | None = Field(
        default=None, description="video look-ups: share of the bank video's time matched"
    )
    segments: list[SegmentOut] | None = Field(
        default=None, description="video look-ups: the stretches that matched, in seconds"
    )
    covered: list[float] | None = Field(
        default=None,
        description="local-features matches: the box of the banked photo (or a banked "
        "video's key frame) that the query shows, [left, top, right, bottom] as shares of "
        "its width and height ([0, 0, 1, 1]: all of it)",
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="the external id again, under the name `lykta match --json` first gave it"
    )
    @property
    def id(self) -> str | None:
        return self.external_id

    @classmethod
    def of(cls, match: Match) -> MatchOut:
        out = cls.model_validate(match)
        if match.video is not None:
            out.query_share = match.video.query_share
            out.bank_share = match.video.bank_share
            out.segments = [SegmentOut.model_validate(s) for s in match.video.segments]
        return out


class LookupOut(BaseModel):
    matches: list[MatchOut]
    suppressed_by: list[MatchOut] = Field(
        description="negative-bank matches; when present, positive matches are withheld"
    )
    capped: bool = Field(description="more matches were found than match_cap; the closest kept")
    match_cap: int = Field(description="most matches returned per content (LYKTA_MAX_MATCHES)")

    @classmethod
    def of(cls, result: LookupResult) -> LookupOut:
        return cls(
            matches=[MatchOut.of(m) for m in result.matches],
            suppressed_by=[MatchOut.of(m) for m in result.suppressed_by],
            capped=result.capped,
            match_cap=result.match_cap,
        )


def flat_threshold_fields(schema: dict[str, Any]) -> None:
    """Document the flat `<kind>_distance`/`<kind>_min_quality` fields of every similarity
    kind the registry knows (read and written as extra fields)."""
    properties = schema.setdefault("properties", {})
    for hasher in similarity_hashers():
        properties[f"{hasher.name}_distance"] = {
            "type": "integer", "minimum": 0, "maximum": hasher.max_distance,
            "description": f"largest {hasher.name} distance that matches "
            f"(default {hasher.default_distance})",
        }  # fmt: skip
        if hasher.has_quality:
            properties[f"{hasher.name}_min_quality"] = {
                "type": ["integer", "null"], "minimum": 0, "maximum": 100,
                "description": f"lowest {hasher.name} quality a query may have "
                f"(default {hasher.default_min_quality})",
            }  # fmt: skip
        properties[f"{hasher.name}_query_share"] = {
            "type": "number", "exclusiveMinimum": 0, "maximum": 1,
            "description": "a video matches a bank video when this share of its frames "
            f"matched (default {DEFAULT_QUERY_SHARE})",
        }  # fmt: skip
        properties[f"{hasher.name}_bank_share"] = {
            "type": "number", "exclusiveMinimum": 0, "maximum": 1,
            "description": "... or when this share of the bank video's time matched "
            f"(default {DEFAULT_BANK_SHARE})",
        }  # fmt: skip


class ThresholdOut(BaseModel):
    distance: int
    min_quality: int | None
    query_share: float
    bank_share: float


class BankOut(BaseModel):
    """A bank. Each similarity kind's rule is given twice: in `thresholds`, and flat as
    `<kind>_distance`/`<kind>_min_quality` (`pdq_distance`), as the CLI and older clients
    read it."""

    model_config = ConfigDict(extra="allow", json_schema_extra=flat_threshold_fields)

    name: str
    description: str
    source: str
    licence: str
    enabled: bool
    negative: bool
    local_features: bool
    thresholds: dict[str, ThresholdOut]
    created_at: Timestamp | None
    content_count: int

    @classmethod
    def of(cls, bank: BankInfo) -> BankOut:
        flat: dict[str, Any] = {}
        for kind, rule in bank.thresholds.items():
            flat.update({f"{kind}_{part}": value for part, value in asdict(rule).items()})
        return cls(
            name=bank.name, description=bank.description, source=bank.source,
            licence=bank.licence, enabled=bank.enabled, negative=bank.negative,
            local_features=bank.local_features,
            thresholds={kind: asdict(rule) for kind, rule in bank.thresholds.items()},
            created_at=bank.created_at, content_count=bank.content_count, **flat,
        )  # fmt: skip


class HashOut(BaseModel):
    kind: str
    value: str
    quality: int | None
    seconds: float | None = Field(description="where in a video the frame is")


class ContentOut(BaseModel):
    id: int
    bank: str
    external_id: str | None
    labels: list[str]
    media_kind: str | None
    duration: float | None
    hashes: list[HashOut]
    added_at: Timestamp | None
    added_by: str

    @classmethod
    def of(cls, content: ContentInfo) -> ContentOut:
        return cls(
            id=content.id, bank=content.bank, external_id=content.external_id,
            labels=list(content.labels), media_kind=content.media_kind,
            duration=content.duration,
            hashes=[HashOut.model_validate(asdict(h)) for h in content.item.hashes],
            added_at=content.added_at, added_by=content.added_by,
        )  # fmt: skip


class LineErrorOut(BaseModel):
    line: int
    reason: str


class ImportOut(BaseModel):
    bank: str
    added: int
    duplicates: int
    skipped: list[LineErrorOut]
    content_ids: list[int] = Field(
        description="each given item's id, new or already held (empty for file imports)"
    )

    @classmethod
    def of(cls, summary: ImportSummary) -> ImportOut:
        return cls(
            bank=summary.bank,
            added=summary.added,
            duplicates=summary.duplicates,
            skipped=[LineErrorOut(line=e.line, reason=e.reason) for e in summary.skipped],
            content_ids=summary.content_ids,
        )


def scanned_file(file: ScannedFile) -> dict[str, Any]:
    """One file of a scan: `{"path", "error"}` when it could not be hashed, else its path
    with its look-up (`matches`, `suppressed_by`, ...) or, when none was asked for, its
    hashes (a video's with `"media_kind": "video"` and its frames)."""
    record: dict[str, Any] = {"path": str(file.path)}
    if file.error is not None:
        record["error"] = file.error
    elif file.result is not None:
        record.update(LookupOut.of(file.result).model_dump(mode="json"))
    elif file.hashes is not None:
        # A scan without look-ups hashes the photo as given: variants would repeat the PDQ.
        record.update(HashesOut.of(file.hashes).model_dump(mode="json", exclude={"variants"}))
    elif file.video is not None:
        record.update(VideoHashesOut.of(file.video).model_dump(mode="json"))
    return record


class StreamOut(BaseModel):
    """A watched stream and its live status."""

    id: str
    source: str
    state: str = Field(
        description="starting, waiting (for the source to start), watching, reconnecting, "
        "ended (a file or pipe), failed (a file or pipe that cannot be read) or stopped"
    )
    subject: str | None = Field(description="the platform's id of the broadcaster")
    viewers: list[str]
    banks: list[str] | None = Field(description="the banks looked in; null = all")
    frames_read: int
    sampled: int
    hashed: int
    second_path: int = Field(
        description="sampled frames offered to the second path (photo region, local "
        "features; looked up there where PDQ found nothing), at most one every "
        "LYKTA_STREAM_SECOND_PATH_INTERVAL seconds"
    )
    matches: int = Field(description="match episodes, each one alert and one webhook call")
    lag_s: float = Field(description="seconds the newest frame was read behind real time")
    position_s: float = Field(description="seconds of stream read, across reconnections")
    reconnects: int
    decode_errors: int = Field(description="packets that could not be decoded (skipped)")
    last_error: str | None
    started_at: Timestamp | None
    last_frame_at: Timestamp | None

    @classmethod
    def of(cls, status: StreamStatus) -> StreamOut:
        return cls.model_validate(status.as_json())


class AlertOut(BaseModel):
    """A match recorded for review."""

    id: int
    case_id: int | None = Field(
        description="the case it joined; null for a quarantined bank item's match"
    )
    source_kind: str = Field(description="stream, video or photo")
    source_id: str = Field(description="the stream's id, the upload's id, or a hash of it")
    source_uri: str
    offset_s: float | None = Field(description="seconds into a stream or video")
    subject: str | None = Field(description="the platform's account id")
    viewers: list[str]
    bank: str
    content_id: int
    external_id: str | None
    labels: list[str]
    kind: str
    distance: int
    transform: str
    query_hash: str = Field(description="the looked-up hash that matched")
    created_at: Timestamp | None

    @classmethod
    def of(cls, alert: AlertInfo) -> AlertOut:
        return cls.model_validate(asdict(alert))


class CaseOut(BaseModel):
    """A case in the queue."""

    id: int
    subject: str | None
    group_key: str = Field(description="subject:<id>, or the source when there is no subject")
    state: str = Field(
        description="new, in_review, confirmed, false_positive, escalated, reported or closed"
    )
    assignee: str | None
    priority: int = Field(
        description="larger first: stream > video > photo, then closer, then bank order"
    )
    top_source_kind: str
    min_distance: int
    alert_count: int
    created_at: Timestamp | None
    updated_at: Timestamp | None

    @classmethod
    def of(cls, case: CaseInfo) -> CaseOut:
        return cls.model_validate(asdict(case))


class EventOut(BaseModel):
    """One entry of a case's history."""

    id: int
    at: Timestamp | None
    actor: str
    action: str = Field(description="opened, assigned or decision")
    from_state: str | None
    to_state: str | None
    note: str
    detail: dict[str, Any]


class ContextOut(BaseModel):
    """Context a platform attached to a subject or an alert."""

    id: int
    subject: str
    alert_id: int | None
    kind: str = Field(description="screen_name, email, ip_capture or chat")
    value: str
    event: str | None
    at: Timestamp | None
    added_by: str
    created_at: Timestamp | None

    @classmethod
    def of(cls, item: ContextInfo) -> ContextOut:
        return cls.model_validate(asdict(item))


class CaseDetailOut(CaseOut):
    """A case with its alerts (matches first, media never), history and context."""

    alerts: list[AlertOut]
    history: list[EventOut]
    context: list[ContextOut]

    @classmethod
    def of_detail(cls, detail: CaseDetail) -> CaseDetailOut:
        return cls(
            **CaseOut.of(detail.case).model_dump(),
            alerts=[AlertOut.of(alert) for alert in detail.alerts],
            history=[EventOut.model_validate(asdict(event)) for event in detail.history],
            context=[ContextOut.of(item) for item in detail.context],
        )


class MisfireOut(BaseModel):
    """A bank item with false positives, quarantined after LYKTA_QUARANTINE_AFTER."""

    bank: str
    content_id: int
    external_id: str | None
    false_positives: int
    quarantined_at: Timestamp | None

    @classmethod
    def of(cls, misfire: MisfireInfo) -> MisfireOut:
        return cls.model_validate(asdict(misfire))


class AuditEntryOut(BaseModel):
    """One entry of the audit log."""

    id: int
    at: Timestamp
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    entry_hash: str

    @classmethod
    def of(cls, entry: AuditEntryInfo) -> AuditEntryOut:
        return cls.model_validate(asdict(entry))


class ReportFileOut(BaseModel):
    name: str
    sha256: str
    md5: str = ""
    file_id: str | None = Field(description="NCMEC's file id once uploaded")
    details_sent: bool


class ReportOut(BaseModel):
    """A CyberTipline report of a case and the step it reached."""

    id: int
    case_id: int
    step: str = Field(description="new, submitting, submitted, finished, retracted or lost")
    ncmec_report_id: str | None
    endpoint: str = Field(description="the CyberTipline it went to")
    actor: str
    xml_sha256: str = Field(description="the report XML sent, kept in the case's evidence")
    files: list[ReportFileOut]
    error: str
    created_at: Timestamp | None
    submitted_at: Timestamp | None
    updated_at: Timestamp | None
    lost: bool = Field(description="unfinished after 24 h: NCMEC has deleted it")

    @classmethod
    def of(cls, report: ReportInfo) -> ReportOut:
        return cls.model_validate(asdict(report))


class EvidenceItemOut(BaseModel):
    kind: str = Field(description="case_record, media or report_xml")
    name: str
    sha256: str
    size: int
    created_at: Timestamp | None


class EvidenceOut(BaseModel):
    """What is kept of a confirmed case, and until when."""

    id: int
    case_id: int
    created_at: Timestamp | None
    retain_until: Timestamp | None
    legal_hold: bool
    hold_note: str
    purged_at: Timestamp | None
    items: list[EvidenceItemOut]

    @classmethod
    def of(cls, evidence: EvidenceInfo) -> EvidenceOut:
        return cls.model_validate(asdict(evidence))


class CaseMediaItemOut(BaseModel):
    sha256: str = Field(description="SHA-256 of the upload's bytes")
    kind: str = Field(description="`photo` or `video`")
    size: int
    alert_ids: list[int] = Field(description="the case's alerts that matched it")


class CaseMediaOut(BaseModel):
    """What media of a case Lykta kept (metadata only; the bytes are separate, audited)."""

    items: list[CaseMediaItemOut]
    not_kept: int = Field(description="photos and videos the alerts saw whose bytes were not kept")
    streams: int = Field(description="alerts from live streams, which Lykta never records")
    decidable_without_media: bool = Field(
        description="every match is exact or near-exact (distance ≤ 10, not local features)"
    )

    @classmethod
    def of(cls, media: CaseMediaList) -> CaseMediaOut:
        return cls.model_validate(asdict(media))


class ExchangeStatusOut(BaseModel):
    """Where an exchange's syncs stand."""

    items: int = Field(description="content items the exchange brought that the bank holds")
    checkpoint_ts: int | None = Field(description="Unix time the committed checkpoint covers")
    running_since: Timestamp | None = Field(description="when the sync under way started")
    run_items: int = Field(description="items written by the sync under way (or the last)")
    last_started_at: Timestamp | None
    last_finished_at: Timestamp | None
    last_succeeded: bool | None
    last_error: str
    up_to_date: bool
    lock_holder: str | None = Field(description="the replica syncing it now")
    lock_until: Timestamp | None


class ExchangeOut(BaseModel):
    """A bank's exchange. ``credentials`` names where they are read from, never them."""

    bank: str
    api: str
    config: dict[str, Any]
    credentials: str
    enabled: bool
    created_at: Timestamp | None
    status: ExchangeStatusOut

    @classmethod
    def of(cls, info: ExchangeInfo) -> ExchangeOut:
        return cls(
            bank=info.bank, api=info.api, config=info.config, credentials=info.credentials,
            enabled=info.enabled, created_at=info.created_at,
            status=ExchangeStatusOut(**asdict(info.status)),
        )  # fmt: skip


class SyncResultOut(BaseModel):
    """What one sync did."""

    bank: str
    added: int
    updated: int
    removed: int
    unchanged: int
    batches: int
    retries: int
    checkpoint_ts: int | None
    items: int

    @classmethod
    def of(cls, result: SyncResult) -> SyncResultOut:
        return cls(**asdict(result))
