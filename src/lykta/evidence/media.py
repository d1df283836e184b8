"""A case's media for the review console and the API: the uploads its alerts saw, where
Lykta kept them (LYKTA_EVIDENCE_KEEP_UPLOADS, or the evidence of a confirmed case). Only a
person who may view media gets any bytes, and every item served is written to the audit log
first. Photos go out re-encoded, videos as a storyboard of frames (decoded once, cached)
or, asked for, as the file itself."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lykta.alerts import AlertInfo
from lykta.audit import MEDIA_VIEW, AuditLog
from lykta.cases import CaseService
from lykta.errors import Forbidden, InvalidInput, NotFound
from lykta.evidence.service import MEDIA, content_sha256
from lykta.evidence.store import SHA256_HEX, BlobStore
from lykta.media.previews import StoryboardFrame, photo_preview, storyboard
from lykta.store.models import Evidence, EvidenceItem, KeptUpload

MEDIA_KINDS = ("photo", "video")
MIN_FRAMES, MAX_FRAMES = 2, 32
CACHED_STORYBOARDS = 32
# Near-exact: within this PDQ distance two photos are the same picture re-encoded or
# resized (PDQ's own match threshold is 31); exact hashes (MD5, SHA-256) match at 0.
NEAR_EXACT_DISTANCE = 10
LOCAL_FEATURES = "orb"
# Decoded video is a sniffed container; anything else is sent as bytes to download.
VIDEO_TYPES = ((b"ftyp", 4, "video/mp4"), (b"\x1a\x45\xdf\xa3", 0, "video/webm"))


def is_near_exact(alert: AlertInfo) -> bool:
    """An exact hash match, or a PDQ match close enough to be the same picture. (Local
    features count inliers, not bits: never near-exact.)"""
    return alert.kind != LOCAL_FEATURES and alert.distance <= NEAR_EXACT_DISTANCE


@dataclass(frozen=True)
class CaseMedia:
    """One kept upload of a case, with the alerts that matched it."""

    sha256: str
    kind: str  # "photo" or "video"
    size: int
    alert_ids: tuple[int, ...]


@dataclass(frozen=True)
class CaseMediaList:
    items: list[CaseMedia]
    not_kept: int  # photos and videos the alerts saw whose bytes Lykta did not keep
    streams: int  # live-stream alerts: never recorded by Lykta
    decidable_without_media: bool  # every match exact or near-exact on a positive bank


class MediaService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        cases: CaseService,
        store: BlobStore,
        *,
        storyboard_frames: int = 8,
        max_pixels: int = 100_000_000,
        max_seconds: float = 6 * 3600.0,
    ) -> None:
        if not MIN_FRAMES <= storyboard_frames <= MAX_FRAMES:
            raise InvalidInput(
                f"LYKTA_CONSOLE_STORYBOARD_FRAMES must be from {MIN_FRAMES} to {MAX_FRAMES}"
            )
        self._sessions = sessions
        self._audit = audit
        self._cases = cases
        self._store = store
        self.storyboard_frames = storyboard_frames
        self._max_pixels = max_pixels
        self._max_seconds = max_seconds
        self._boards: OrderedDict[str, list[StoryboardFrame]] = OrderedDict()
        self._lock = threading.Lock()

    def of_case(self, case_id: int, alerts: Sequence[AlertInfo] | None = None) -> CaseMediaList:
        """What media of the case is kept (metadata only; nothing is read or audited).
        ``alerts``: the case's alerts when the caller has read them already (a case page)."""
        with self._sessions() as session:
            if alerts is None:
                alerts = self._cases.detail_in(session, case_id).alerts
            seen: dict[str, tuple[str, list[int]]] = {}
            streams = 0
            for alert in alerts:
                sha = content_sha256(alert)
                if alert.source_kind == "stream":
                    streams += 1
                elif sha and alert.source_kind in MEDIA_KINDS:
                    seen.setdefault(sha, (alert.source_kind, []))[1].append(alert.id)
            sizes = self._kept(session, case_id, set(seen))
        items = [
            CaseMedia(sha, kind, sizes[sha], tuple(ids))
            for sha, (kind, ids) in seen.items()
            if sha in sizes
        ]
        near_exact = bool(alerts) and all(map(is_near_exact, alerts))
        unseen = sum(1 for a in alerts if a.source_kind != "stream" and not content_sha256(a))
        return CaseMediaList(items, len(seen) - len(items) + unseen, streams, near_exact)

    def _kept(self, session: Session, case_id: int, wanted: set[str]) -> dict[str, int]:
        if not wanted:
            return {}
        kept = session.execute(
            select(KeptUpload.sha256, KeptUpload.size).where(KeptUpload.sha256.in_(wanted))
        )
        sizes = {sha: size for sha, size in kept}
        preserved = session.execute(
            select(EvidenceItem.sha256, EvidenceItem.size)
            .join(Evidence, Evidence.id == EvidenceItem.evidence_id)
            .where(Evidence.case_id == case_id, EvidenceItem.kind == MEDIA)
        )
        sizes.update((sha, size) for sha, size in preserved if sha in wanted)
        return {sha: size for sha, size in sizes.items() if self._store.exists(sha)}

    def _item(self, case_id: int, sha256: str, may_view_media: bool) -> CaseMedia:
        if not may_view_media:
            raise Forbidden("only a child_safety user may view a case's media")
        if not SHA256_HEX.match(sha256):
            raise NotFound(f"case {case_id} has no media {sha256[:80]!r}")
        for item in self.of_case(case_id).items:
            if item.sha256 == sha256:
                return item
        raise NotFound(f"case {case_id} has no kept media {sha256}")

    def _audited(self, viewer: str, case_id: int, item: CaseMedia, part: str) -> None:
        self._audit.record(
            viewer, MEDIA_VIEW, f"case:{case_id}",
            {"sha256": item.sha256, "kind": item.kind, "part": part},
        )  # fmt: skip

    def photo(self, case_id: int, sha256: str, *, viewer: str, may_view_media: bool) -> bytes:
        """A kept photo of the case as a fresh JPEG; the view is audited."""
        item = self._item(case_id, sha256, may_view_media)
        if item.kind != "photo":
            raise NotFound(f"{sha256} of case {case_id} is a video: ask for its storyboard")
        self._audited(viewer, case_id, item, "photo")
        return photo_preview(self._store.get(sha256), max_pixels=self._max_pixels)

    def video(
        self, case_id: int, sha256: str, *, viewer: str, may_view_media: bool
    ) -> tuple[bytes, str]:
        """A kept video of the case as it was uploaded, with its media type; audited."""
        item = self._item(case_id, sha256, may_view_media)
        if item.kind != "video":
            raise NotFound(f"{sha256} of case {case_id} is a photo")
        self._audited(viewer, case_id, item, "video")
        data = self._store.get(sha256)
        media_type = next(
            (kind for magic, at, kind in VIDEO_TYPES if data[at : at + len(magic)] == magic),
            "application/octet-stream",
        )
        return data, media_type

    def storyboard(self, case_id: int, sha256: str, *, may_view_media: bool) -> list[float]:
        """The moments (seconds) of a kept video's storyboard frames; no bytes go out, so
        nothing is audited."""
        item = self._item(case_id, sha256, may_view_media)
        if item.kind != "video":
            raise NotFound(f"{sha256} of case {case_id} is a photo")
        return [frame.seconds for frame in self._board(sha256)]

    def frame(
        self, case_id: int, sha256: str, index: int, *, viewer: str, may_view_media: bool
    ) -> bytes:
        """Frame ``index`` of a kept video's storyboard as a JPEG; the view is audited."""
        item = self._item(case_id, sha256, may_view_media)
        if item.kind != "video":
            raise NotFound(f"{sha256} of case {case_id} is a photo")
        board = self._board(sha256)
        if not 0 <= index < len(board):
            raise NotFound(f"the storyboard of {sha256} has {len(board)} frames")
        self._audited(viewer, case_id, item, f"frame:{index}")
        jpeg: bytes = board[index].jpeg
        return jpeg

    def _board(self, sha256: str) -> list[StoryboardFrame]:
        """Decoded once per process and kept in memory (plain frames never touch disk),
        the least recently used dropped first."""
        with self._lock:
            board = self._boards.get(sha256)
            if board is not None:
                self._boards.move_to_end(sha256)
                return board
        board = storyboard(
            self._store.get(sha256), self.storyboard_frames, max_seconds=self._max_seconds
        )
        with self._lock:
            self._boards[sha256] = board
            while len(self._boards) > CACHED_STORYBOARDS:
                self._boards.popitem(last=False)
        return board
