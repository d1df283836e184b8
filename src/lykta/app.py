"""The core every door (HTTP, CLI, Python) shares: settings, database, banks, matcher, tokens.

Build one with `Lykta.open(settings)`; routers and commands call its services and never
reach into each other.
"""

from __future__ import annotations

import importlib
import io
import logging
import statistics
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from PIL import Image
from sqlalchemy import Engine, text

from lykta.alerts import AlertRepository, MatchSource, alerts_of
from lykta.audit import AuditLog
from lykta.auth.preferences import organisation_defaults
from lykta.auth.tokens import TokenRepository
from lykta.auth.users import UserRepository
from lykta.banks.items import ContentItem, ItemHash
from lykta.banks.service import BankService, ImportSummary
from lykta.cases import CaseService
from lykta.errors import InvalidInput, NotFound
from lykta.evidence import BlobStore, EvidenceService
from lykta.evidence.media import MediaService
from lykta.exchanges import ExchangeService
from lykta.hashing.files import hash_files, is_video_file
from lykta.hashing.local_features import MIN_KEYPOINTS, WORK_SIDE, OrbHasher, features_of
from lykta.hashing.pdq import pdq_from_image
from lykta.hashing.photo import PhotoHashes, hash_photo
from lykta.hashing.regions import find_photo_region
from lykta.hashing.registry import check_stored_kinds, get_hasher, hashers
from lykta.hashing.video import (
    FrameVariant,
    KeyFrame,
    SampledFrame,
    VideoHashes,
    VideoLimits,
    hash_video,
)
from lykta.matching import LookupResult, Match, Matcher, QueryHash
from lykta.matching.owners import video_lengths
from lykta.matching.results import VideoMatch
from lykta.matching.video import QueryFrame, aggregate
from lykta.media import decode_image
from lykta.media.video import SNIFF_BYTES, looks_like_video
from lykta.plugins import plugin_manager
from lykta.reports import CyberTiplineClient, ReportService
from lykta.settings import Settings, load_settings
from lykta.stats import Tally
from lykta.store.db import (
    current_state,
    make_engine,
    migrate,
    schema_revisions,
    session_factory,
)

if TYPE_CHECKING:
    from lykta.streams import StreamSupervisor
    from lykta.workers.fleet import FleetStreams

log = logging.getLogger(__name__)

# What `add_media` adds of a photo unless told otherwise.
MEDIA_KINDS = ("pdq", "md5", "sha256")
# Transforms of the second path's queries: the photo found inside a screenshot or frame,
# and the local features of the upload and of that region.
REGION = "region"
LOCAL_FEATURES = "local-features"
# Key frames of a video whose local features are taken, at most: of a video checked
# against banks with local features (an ORB extraction and a verified look-up each, about
# 50 ms), and of a video added to such a bank (10 rows of 1,816 bytes each).
QUERY_KEY_FRAMES = 16
BANK_KEY_FRAMES = 32


@dataclass(frozen=True)
class ContentLookup:
    hashes: PhotoHashes
    result: LookupResult


@dataclass(frozen=True)
class ScannedFile:
    """One file of a scan: its hashes and, when look-ups were asked for, what they found;
    or, when it could not be read or hashed, why (`error`)."""

    path: Path
    hashes: PhotoHashes | None = None
    result: LookupResult | None = None
    error: str | None = None
    video: VideoHashes | None = None


@dataclass(frozen=True)
class Readiness:
    """Whether this core can answer look-ups: what `/readyz` and `lykta doctor` report."""

    database: bool  # reachable
    migrations: bool  # the schema is the one this version of Lykta expects
    index: bool  # the indexes are loaded
    lag: int | None  # change-log revisions the indexes are behind (None: unknown)
    problems: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class AddedMedia:
    """What adding one file did: its hashes by kind (a video's first frame's PDQ), the
    video's hashes when it was one, and the bank's summary, whose one content id is the
    item's, whether added now or already there."""

    hashes: dict[str, str]
    summary: ImportSummary
    video: VideoHashes | None = None

    @property
    def content_id(self) -> int:
        return self.summary.content_ids[0]


class Lykta:
    def __init__(self, settings: Settings, engine: Engine, *, snapshots: bool) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = session_factory(engine)
        self.matcher = Matcher(
            self.sessions,
            settings.index_dir if snapshots and settings.snapshot_index else None,
            match_cap=settings.max_matches,
        )
        # A core opened only to manage banks (most CLI commands) never loads the indexes.
        self.live = False
        self.banks = BankService(self.sessions, on_change=self._after_write)
        self.audit = AuditLog(self.sessions)
        self.exchanges = ExchangeService(
            self.sessions,
            self.banks,
            self._after_write,
            exchange_key=settings.exchange_key,
            hosts=settings.exchange_hosts,
            retries=settings.exchange_retries,
            backoff=settings.exchange_backoff,
            lock_seconds=settings.exchange_lock_seconds,
        )
        self.tokens = TokenRepository(self.sessions, self.audit)
        self.users = UserRepository(
            self.sessions,
            self.audit,
            max_failures=settings.login_max_failures,
            lockout_seconds=settings.login_lockout_seconds,
            session_seconds=settings.session_seconds,
            preference_defaults=organisation_defaults(
                settings.console_blur, settings.console_greyscale, settings.console_reveal,
                settings.console_break_after,
            ),
        )  # fmt: skip
        self.cases = CaseService(
            self.sessions,
            self.audit,
            self.banks,
            bank_order=settings.bank_order,
            quarantine_after=settings.quarantine_after,
        )
        self.evidence = EvidenceService(
            self.sessions,
            self.audit,
            self.cases,
            BlobStore(settings.evidence_path, settings.evidence_key),
            retention_days=settings.evidence_retention_days,
            keep_uploads=settings.evidence_keep_uploads,
        )
        self.cases.decision_listeners.append(self.evidence.on_decision)
        self.media = MediaService(
            self.sessions, self.audit, self.cases, self.evidence.store,
            storyboard_frames=settings.console_storyboard_frames,
            max_pixels=settings.max_pixels, max_seconds=settings.video_max_seconds,
        )  # fmt: skip
        self.reports = ReportService(
            self.sessions,
            self.audit,
            self.cases,
            self.evidence,
            reporter_name=settings.cybertipline_reporter_name,
            reporter_email=settings.cybertipline_reporter_email,
            auto_report_banks=settings.auto_report_bank_names,
        )
        # Every alert, from any source, joins its case in the transaction that records it.
        self.alerts = AlertRepository(self.sessions, listeners=[self.cases.attach])
        self.hooks = plugin_manager().hook
        # Look-ups, matched look-ups and matches, for /metrics: counted without a lock.
        self.stats = Tally()
        self._local_streams: StreamSupervisor | None = None
        self._fleet: FleetStreams | None = None

    @classmethod
    def open(
        cls, settings: Settings | None = None, *, snapshots: bool = True, sync: bool = True
    ) -> Lykta:
        """Connect, migrate the schema and (by default) load the indexes."""
        settings = settings or load_settings()
        engine = make_engine(settings.resolved_database_url, wait=settings.database_wait)
        migrate(engine)
        core = cls(settings, engine, snapshots=snapshots)
        try:
            check_stored_kinds(core.banks.stored_kinds())
        except Exception:
            core.close()
            raise
        if sync:
            core.load_index()
        return core

    def cybertipline(self) -> CyberTiplineClient:
        """A client of the CyberTipline this deployment reports to (LYKTA_CYBERTIPLINE_*)."""
        settings = self.settings
        return CyberTiplineClient(
            settings.cybertipline_url, settings.cybertipline_username,
            settings.cybertipline_password,
        )  # fmt: skip

    def load_index(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Bring the indexes up to date and keep them so after this core's own writes.

        The numba kernels of hashing and matching are imported here, by a core that will
        match, rather than by a server's first look-up; cores that only manage banks, tokens
        or cases never import them."""
        self.live = True
        importlib.import_module("lykta.hashing._pdq_kernels")
        importlib.import_module("lykta.index._kernels")
        self.matcher.sync(progress)

    def _after_write(self, bank: str, change: str) -> None:
        if self.live:
            try:
                self.matcher.sync()
            except Exception:
                # The write has committed: the caller must hear it succeeded. The follower
                # thread applies it on its next round.
                log.exception("index sync after a write to bank %s failed; retrying", bank)
                self.matcher.wake()
        self._announce("lykta_bank_changed", bank=bank, change=change)

    def _found(
        self,
        content: Any,
        result: LookupResult,
        source: MatchSource | None = None,
        source_kind: str = "photo",
        source_id: str = "",
        content_sha256: str = "",
    ) -> LookupResult:
        """Tell the plugins of a look-up's matches and, when the caller named a subject
        (``source``), record them as alerts first: a failure to record is the caller's
        to hear (they asked for it), so it is raised, not logged."""
        stats = self.stats
        stats.add("lookups")
        if result.suppressed_by:
            stats.add("suppressed")
        if result.matches:
            if source is not None:
                self.alerts.record_many(
                    alerts_of(source_kind, source, source_id, result, content_sha256)
                )
            stats.add("matched")
            stats.add("matches", len(result.matches))
            self._announce("lykta_match_found", content=content, result=result)
        return result

    def _announce(self, hook: str, **event: Any) -> None:
        """Tell the plugins; a plugin's failure is logged, never the caller's: the write
        has committed, and the look-up's answer stands."""
        try:
            getattr(self.hooks, hook)(core=self, **event)
        except Exception:
            log.exception("a plugin failed in %s; the core carries on", hook)

    @property
    def local_streams(self) -> StreamSupervisor:
        """The streams this process watches in its own threads (made on first use)."""
        if self._local_streams is None:
            from lykta.streams import StreamSupervisor  # webhooks' HTTP client: only for streams

            self._local_streams = StreamSupervisor(
                self.lookup_frame,
                alerts=self.alerts,
                webhook_secret=self.settings.webhook_secret,
                second_path_interval=self.settings.stream_second_path_interval,
            )
        return self._local_streams

    @property
    def streams(self) -> StreamSupervisor | FleetStreams:
        """The streams the API manages: this process's, or, with ``LYKTA_NATS_URL`` set,
        the fleet of `lykta worker`s'."""
        if not self.settings.nats_url:
            return self.local_streams
        if self._fleet is None:
            from lykta.workers.fleet import FleetStreams  # NATS: only for a fleet

            settings = self.settings
            self._fleet = FleetStreams(settings.nats_url, settings.fleet, self.lookup_frame)
        return self._fleet

    def stop_streams(self) -> None:
        """Stop watching every stream here, and let go of the fleet (a later use of
        `streams` starts afresh)."""
        if self._local_streams is not None:
            self._local_streams.close()
            self._local_streams = None
        if self._fleet is not None:
            self._fleet.close()
            self._fleet = None

    def close(self) -> None:
        """Stop the change-log follower and close the database connections."""
        self.stop_streams()
        self.matcher.stop()
        self.engine.dispose()

    def __enter__(self) -> Lykta:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- content ---------------------------------------------------------------------

    def hash_photo(
        self, data: bytes, *, dihedral: bool | None = None, trim: bool | None = None
    ) -> PhotoHashes:
        return hash_photo(
            data,
            dihedral=self.settings.dihedral if dihedral is None else dihedral,
            trim=self.settings.trim if trim is None else trim,
            max_pixels=self.settings.max_pixels,
        )

    def video_limits(self) -> VideoLimits:
        return video_limits(self.settings)

    def lookup_photo(
        self,
        data: bytes,
        *,
        banks: Iterable[str] | None = None,
        dihedral: bool | None = None,
        trim: bool | None = None,
        local_features: bool = True,
        source: MatchSource | None = None,
    ) -> ContentLookup:
        """Look a photo up by its digests and PDQ variants; where they match nothing and
        ``local_features`` is on, by the second path too (``second_path``). With
        ``source``, its matches are recorded as alerts."""
        banks = self._known_banks(banks)
        hashes = self.hash_photo(data, dihedral=dihedral, trim=trim)
        result = self.matcher.lookup(queries_for_photo(hashes), banks)
        if local_features and not (result.matches or result.suppressed_by):
            result = self.second_path(data, banks)
        found = self._found(
            hashes, result, source, "photo", f"sha256:{hashes.sha256}", hashes.sha256
        )
        if source is not None and found.matches:
            self.evidence.keep_upload(data)
        return ContentLookup(hashes, found)

    def second_path(
        self,
        data: bytes,
        banks: Iterable[str] | None = None,
        *,
        ignore_unknown_banks: bool = False,
    ) -> LookupResult:
        """What a photo that PDQ did not match matches otherwise: the PDQ of the photo it
        shows inside a screenshot or frame (every bank), and, for banks that enable local
        features, the verified local features of the upload and of that region."""
        wanted = self._known_banks(banks, ignore_unknown_banks)
        image = decode_image(data, max_pixels=self.settings.max_pixels, min_side=WORK_SIDE)
        return self._second_path_of(image, wanted)

    def _second_path_of(self, image: Image.Image, banks: Iterable[str] | None) -> LookupResult:
        """``second_path`` of a decoded photo or video frame."""
        box = find_photo_region(image)
        region = None if box is None else image.crop(box)
        queries: list[QueryHash] = []
        if region is not None:
            pdq, quality = pdq_from_image(region)
            queries.append(QueryHash("pdq", bytes.fromhex(pdq), REGION, quality))
        if self.matcher.local_features_banks(banks):
            orb = OrbHasher.name
            queries.append(QueryHash(orb, features_of(image).to_code(), LOCAL_FEATURES))
            if region is not None:
                code = features_of(region).to_code()
                queries.append(QueryHash(orb, code, f"{REGION}+{LOCAL_FEATURES}"))
        if not queries:
            return self.matcher.result_of([])
        return self.matcher.lookup(queries, banks)

    def lookup_frame(
        self,
        variants: Sequence[FrameVariant],
        *,
        banks: Iterable[str] | None = None,
        luma: np.ndarray | None = None,
    ) -> LookupResult:
        """Look up one video frame (a live stream's, as it arrives) like a photo: against
        photo banks and the frames of banked videos; with the frame's ``luma``, where PDQ
        found nothing, on the second path as well (``second_path``: the photo region the
        frame shows, and local features only where a bank enables them)."""
        wanted = self._known_banks(banks)
        queries = frame_queries(variants)
        result = self.matcher.lookup(queries, wanted)
        if luma is not None and not (result.matches or result.suppressed_by):
            result = self._second_path_of(Image.fromarray(luma, "L"), wanted)
        return self._found(queries, result)

    def hash_video(
        self,
        source: Path | BinaryIO,
        *,
        interval: float | None = None,
        mirror: bool = True,
        local_features: bool = False,
        banks: Iterable[str] | None = None,
    ) -> VideoHashes:
        """Hash a video to check it: a frame every ``interval`` seconds (the settings'
        check interval when None), with mirrored and bar-trimmed variants, within the
        settings' limits. With ``local_features``, and a bank (of ``banks``) that enables
        them, the local features of up to ``QUERY_KEY_FRAMES`` key frames too: what
        ``lookup_video`` matches where PDQ does not."""
        sampling = video_sampling(self.settings, for_bank=False)
        if interval is not None:
            sampling["interval"] = interval
        if local_features and self.matcher.local_features_banks(banks):
            sampling |= {"key_frames": QUERY_KEY_FRAMES, "regions": True}
        return hash_video(source, **(sampling | {"mirror": mirror}))

    def lookup_video(
        self,
        hashes: VideoHashes,
        *,
        banks: Iterable[str] | None = None,
        source: MatchSource | None = None,
        ignore_unknown_banks: bool = False,
        local_features: bool = True,
    ) -> LookupResult:
        """Match a hashed video against the banks: bank videos by their frames (with the
        shares and segments of ``matching.video``), photos a frame matches, and files
        with the same digest; then, unless ``local_features`` is off, by the local
        features of its key frames (hashed with ``local_features``) in the banks that
        enable them where none of that matched (``_key_frame_matches``). With ``source``,
        the matches are recorded as alerts."""
        wanted = self._known_banks(banks, ignore_unknown_banks)
        matches = self._frame_matches(hashes.frames, wanted)
        digests = [
            QueryHash("md5", bytes.fromhex(hashes.md5)),
            QueryHash("sha256", bytes.fromhex(hashes.sha256)),
        ]
        exact = self.matcher.lookup(digests, wanted)
        for match in exact.matches + exact.suppressed_by:
            # The very file: all of both match, whatever the frames alone found (black or
            # low-quality frames count for nothing there); the frames still locate it.
            held = matches.get(match.content_id)
            segments = held.video.segments if held and held.video else ()
            matches[match.content_id] = replace(match, video=VideoMatch(1.0, 1.0, segments))
        if local_features and hashes.key_frames:
            matches.update(self._key_frame_matches(hashes.key_frames, wanted, matches.values()))
        result = self.matcher.result_of(matches.values())
        return self._found(
            hashes, result, source, "video", f"sha256:{hashes.sha256}", hashes.sha256
        )

    def lookup_video_frames(
        self,
        frames: Sequence[SampledFrame],
        *,
        banks: Iterable[str] | None = None,
        ignore_unknown_banks: bool = False,
    ) -> LookupResult:
        """``lookup_video`` of a video known only by its frames' hashes (a vPDQ signal):
        the same aggregation, without the file digests."""
        wanted = self._known_banks(banks, ignore_unknown_banks)
        matches = self._frame_matches(frames, wanted)
        return self._found(frames, self.matcher.result_of(matches.values()))

    def _frame_matches(
        self, frames: Sequence[SampledFrame], wanted: list[str] | None
    ) -> dict[int, Match]:
        """The bank items a video's sampled frames match, by content id, each with its
        ``VideoMatch``."""
        queries = [frame_queries(frame.variants) for frame in frames]
        return self._aggregated(
            [QueryFrame(frame.seconds, max(v.quality for v in frame.variants)) for frame in frames],
            self.matcher.frame_hits(queries, wanted),
        )

    def _key_frame_matches(
        self, key_frames: Sequence[KeyFrame], wanted: list[str] | None, found: Iterable[Match]
    ) -> dict[int, Match]:
        """A video's second path, in the banks where PDQ and digests found nothing, none
        once a negative bank has matched: the bank items its key frames match, aggregated
        like frames (``segments`` the key frames' times), by the PDQ of the photo region a
        key frame shows (every bank; transform ``region``) and, in banks that enable local
        features, by the verified local features of the frame and of that region (kind
        ``orb``, ``distance`` the best frame's inlier count)."""
        held = list(found)
        if any(match.negative for match in held):
            return {}
        matched = {match.bank for match in held}
        every = sorted(self.matcher.bank_names()) if wanted is None else wanted
        banks = [bank for bank in every if bank not in matched]
        if not banks:
            return {}
        robust = self.matcher.local_features_banks(banks)
        by_pdq = [
            [QueryHash("pdq", bytes.fromhex(key.region.pdq), REGION, key.region.quality)]
            if key.region is not None
            else []
            for key in key_frames
        ]
        by_features = [
            [QueryHash(OrbHasher.name, key.features.to_code(), LOCAL_FEATURES)]
            + (
                [
                    QueryHash(
                        OrbHasher.name,
                        key.region.features.to_code(),
                        f"{REGION}+{LOCAL_FEATURES}",
                    )
                ]
                if key.region is not None and len(key.region.features) >= MIN_KEYPOINTS
                else []
            )
            for key in key_frames
        ]
        hits = self.matcher.frame_hits(by_pdq, banks) if any(by_pdq) else [[] for _ in key_frames]
        if robust:
            for frame, more in zip(hits, self.matcher.frame_hits(by_features, robust), strict=True):
                frame.extend(more)
        return self._aggregated([QueryFrame(key.seconds, None) for key in key_frames], hits)

    def _aggregated(
        self, frames: Sequence[QueryFrame], hits: list[list[tuple[Match, float | None]]]
    ) -> dict[int, Match]:
        """The bank items matched by frames' hits, by content id, each with its
        ``VideoMatch`` under its bank's video rule."""
        content_ids = {
            match.content_id for frame in hits for match, seconds in frame if seconds is not None
        }
        return {
            match.content_id: match
            for match in aggregate(
                frames,
                hits,
                interval=_sampling_interval([frame.seconds for frame in frames]),
                rule=lambda bank: self.matcher.threshold(bank, "pdq"),
                bank_lengths=video_lengths(self.sessions, content_ids) if content_ids else {},
            )
        }

    def lookup_hash(
        self,
        kind: str,
        value: str,
        *,
        banks: Iterable[str] | None = None,
        quality: int | None = None,
        ignore_unknown_banks: bool = False,
        source: MatchSource | None = None,
    ) -> LookupResult:
        """Look a hash up; with ``source``, its matches are recorded as alerts."""
        query = hash_query(kind, value, quality)  # a bad hash is an error whatever the banks
        result = self.matcher.lookup([query], self._known_banks(banks, ignore_unknown_banks))
        return self._found(query, result, source, "photo", f"{query.kind}:{query.value.hex()}")

    def lookup_hashes(
        self,
        hashes: Sequence[tuple[str, str, int | None]],
        *,
        banks: Iterable[str] | None = None,
        source: MatchSource | None = None,
    ) -> list[LookupResult]:
        """Look up many (kind, hash, quality) at once, each as its own piece of content;
        with ``source``, every match is recorded as an alert about its subject."""
        queries = []
        for number, (kind, value, quality) in enumerate(hashes):
            try:
                queries.append([hash_query(kind, value, quality)])
            except InvalidInput as error:
                raise InvalidInput(f"hashes[{number}]: {error.message}") from None
        results = self.matcher.lookup_many(queries, self._known_banks(banks))
        for query, result in zip(queries, results, strict=True):
            self._found(
                query[0], result, source, "photo", f"{query[0].kind}:{query[0].value.hex()}"
            )
        return results

    def hash_media(self, data: bytes, kinds: Iterable[str]) -> dict[str, str]:
        """The hashes of `kinds` of one file, by kind. The file is decoded only when PDQ is
        asked for, so exact hashes of any file (a video's MD5) need no decoder."""
        wanted = list(dict.fromkeys(get_hasher(kind).name for kind in kinds))
        if "pdq" in wanted:
            found = by_kind(self.hash_photo(data, dihedral=False, trim=False))
            return {kind: found[kind] for kind in wanted}
        return {kind: get_hasher(kind).hash_bytes(data) for kind in wanted}

    def lookup_media(
        self,
        data: bytes,
        *,
        kinds: Iterable[str] | None = None,
        banks: Iterable[str] | None = None,
        ignore_unknown_banks: bool = False,
    ) -> LookupResult:
        """Look one file up by its hashes of `kinds` (every kind when None). With PDQ the
        photo is looked up with the variants the settings call for (rotations, flips,
        trimmed borders); without it the file is not decoded."""
        wanted = None if kinds is None else {get_hasher(kind).name for kind in kinds}
        queries = self._media_queries(data, wanted)
        result = self.matcher.lookup(queries, self._known_banks(banks, ignore_unknown_banks))
        return self._found(queries, result)

    def lookup_media_by_kind(
        self,
        data: bytes,
        *,
        kinds: Iterable[str],
        banks: Iterable[str] | None = None,
        ignore_unknown_banks: bool = False,
    ) -> dict[str, LookupResult]:
        """As ``lookup_media``, answered per kind (HMA answers per signal type): an item
        holding a photo's PDQ and MD5 is a match under each kind its hashes match, not only
        under its closest. A negative-bank match under any kind suppresses them all."""
        wanted = list(dict.fromkeys(get_hasher(kind).name for kind in kinds))
        queries = self._media_queries(data, set(wanted))
        results = self.matcher.lookup_many(
            [[query for query in queries if query.kind == kind] for kind in wanted],
            self._known_banks(banks, ignore_unknown_banks),
        )
        suppressed = [match for result in results for match in result.suppressed_by]
        for result in results:
            if suppressed:
                result.matches, result.suppressed_by = [], suppressed
        every = LookupResult(
            [match for result in results for match in result.matches],
            suppressed,
            any(result.capped for result in results),
            self.matcher.match_cap,
        )
        self._found(queries, every)
        return dict(zip(wanted, results, strict=True))

    def _media_queries(self, data: bytes, wanted: set[str] | None) -> list[QueryHash]:
        """The queries of one file's hashes of ``wanted`` kinds (every kind when None)."""
        if wanted is None or "pdq" in wanted:
            return [
                query
                for query in queries_for_photo(self.hash_photo(data))
                if wanted is None or query.kind in wanted
            ]
        return [
            hash_query(kind, value, None) for kind, value in self.hash_media(data, wanted).items()
        ]

    def scan(
        self,
        paths: Iterable[Path],
        *,
        lookup: bool = False,
        banks: Iterable[str] | None = None,
        dihedral: bool | None = None,
        trim: bool | None = None,
        for_bank: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        local_features: bool = True,
        source: MatchSource | None = None,
    ) -> Iterator[ScannedFile]:
        """Hash photos and videos (folders walked recursively) on all cores and, with
        `lookup`, look each up in `banks`. Videos are sampled for a check, or, ``for_bank``,
        as that bank keeps them. A file that cannot be read or hashed comes back with its
        `error` and the scan goes on; `progress(done, total)` is told after each file. With
        ``source``, matches are recorded as alerts, each file (by path) a source of its own.
        A photo PDQ does not match goes on to ``second_path``, and a video to its key
        frames' local features, unless ``local_features`` is off."""
        wanted = self._known_banks(banks) if lookup else None
        sampling = self._video_sampling(for_bank)
        if lookup and local_features and self.matcher.local_features_banks(wanted):
            sampling |= {"key_frames": QUERY_KEY_FRAMES, "regions": True}
        hashed = hash_files(
            paths,
            dihedral=self.settings.dihedral if dihedral is None else dihedral,
            trim=self.settings.trim if trim is None else trim,
            max_pixels=self.settings.max_pixels,
            video=sampling,
            progress=progress,
        )
        for path, hashes in hashed:
            if isinstance(hashes, str):
                yield ScannedFile(path, error=hashes)
            elif isinstance(hashes, VideoHashes):
                each = replace(source, source_id=source.source_id or str(path)) if source else None
                found = (
                    self.lookup_video(
                        hashes, banks=wanted, source=each, local_features=local_features
                    )
                    if lookup
                    else None
                )
                yield ScannedFile(path, video=hashes, result=found)
            elif lookup:
                found = self.matcher.lookup(queries_for_photo(hashes), wanted)
                if local_features and not (found.matches or found.suppressed_by):
                    found = self.second_path(path.read_bytes(), wanted)
                found = self._found(path, found, source, "photo", str(path), hashes.sha256)
                yield ScannedFile(path, hashes, found)
            else:
                yield ScannedFile(path, hashes)

    def _video_sampling(self, for_bank: str | None) -> dict[str, Any]:
        """`hash_video`'s arguments for a check, or for adding to bank ``for_bank`` (with
        its key frames' local features when the bank enables them)."""
        if for_bank is None:
            return video_sampling(self.settings, for_bank=False)
        sampling = video_sampling(self.settings, True, self._min_quality(for_bank))
        if self.banks.get(for_bank).local_features:
            sampling["key_frames"] = BANK_KEY_FRAMES
        return sampling

    def _min_quality(self, bank: str) -> int:
        """The bank's PDQ quality floor: frames below it would never match, so are not kept."""
        rule = self.banks.get(bank).thresholds.get("pdq")
        return 0 if rule is None or rule.min_quality is None else rule.min_quality

    def add_media(
        self,
        bank: str,
        media: bytes | Path | BinaryIO,
        *,
        external_id: str | None = None,
        kinds: Iterable[str] = MEDIA_KINDS,
        added_by: str = "",
        note: str | None = None,
    ) -> AddedMedia:
        """Hash one photo or video (its bytes, an open file, or a path whose stem is the
        default external id) and add its hashes of `kinds` to `bank` in one transaction;
        hashes the bank already holds are counted as duplicates and keep their ids. A video
        (told by its container) is sampled as `LYKTA_VIDEO_BANK_INTERVAL` says and hashed
        as it is read, never held in memory whole."""
        # A missing bank is reported before the file is hashed.
        local = self.banks.get(bank).local_features
        if isinstance(media, Path):
            external_id = media.stem if external_id is None else external_id
        wanted = [get_hasher(kind).name for kind in kinds]
        video = None
        if "pdq" in wanted and is_video(media):
            source = io.BytesIO(media) if isinstance(media, bytes) else media
            video = hash_video(source, **self._video_sampling(bank))
            if local:
                wanted.append(OrbHasher.name)
                _warn_without_key_frames(video)
            item = video_item(video, external_id, wanted)
        else:
            data = _read_all(media)
            if "pdq" in wanted:
                photo = self.hash_photo(data, dihedral=False, trim=False)
                item = photo_item(photo, external_id, wanted)
                if local:
                    item.hashes += self._local_features_hashes(data)
                    wanted.append(OrbHasher.name)
            else:
                exact = self.hash_media(data, wanted)
                item = ContentItem(tuple(ItemHash(k, v) for k, v in exact.items()), external_id)
        item.note = note
        summary = self.banks.add_content(bank, [item], added_by=added_by)
        first = {h.kind: h.value for h in reversed(item.hashes)}
        return AddedMedia(
            dict(sorted(first.items(), key=lambda kv: wanted.index(kv[0]))), summary, video
        )

    def _local_features_hashes(self, data: bytes) -> tuple[ItemHash, ...]:
        """A photo's ``orb`` hash for a bank that enables local features; none (said in the
        log) when the photo is too plain to have ``MIN_KEYPOINTS`` keypoints."""
        image = decode_image(data, max_pixels=self.settings.max_pixels, min_side=WORK_SIDE)
        features = features_of(image)
        if len(features) < MIN_KEYPOINTS:
            log.warning(
                "photo has %d keypoints (fewer than %d): banked without local features",
                len(features), MIN_KEYPOINTS,
            )  # fmt: skip
            return ()
        rows = OrbHasher().rows_of(features)
        return tuple(ItemHash(OrbHasher.name, row) for row in rows)

    def add_scanned(
        self, bank: str, files: Iterable[ScannedFile], *, added_by: str = ""
    ) -> ImportSummary:
        """Add the hashes of files a scan hashed (those it could) to `bank`, each under its
        file stem, in one transaction: `add_media` for a folder, hashed on all cores (scan
        with ``for_bank`` so videos are sampled as the bank keeps them). For a bank that
        enables local features, each photo is read again for its keypoints, and each video
        brings its key frames' (the scan took them)."""
        local = self.banks.get(bank).local_features
        items = []
        for file in files:
            if file.hashes is not None:
                items.append(photo_item(file.hashes, file.path.stem))
                if local:
                    items[-1].hashes += self._local_features_hashes(file.path.read_bytes())
            elif file.video is not None:
                if local:
                    _warn_without_key_frames(file.video)
                kinds = (*MEDIA_KINDS, OrbHasher.name) if local else MEDIA_KINDS
                items.append(video_item(file.video, file.path.stem, kinds))
        return self.banks.add_content(bank, items, added_by=added_by)

    def _known_banks(
        self, banks: Iterable[str] | None, ignore_unknown: bool = False
    ) -> list[str] | None:
        """Check a bank filter: a misspelt name must not look like "no match". With
        `ignore_unknown` (HMA's rule) unknown names are dropped, and a filter of only
        those matches nothing."""
        if banks is None:
            return None
        wanted = list(dict.fromkeys(banks))
        known = self.matcher.bank_names() if self.live else set(self.banks.names())
        if ignore_unknown:
            return [bank for bank in wanted if bank in known]
        if not wanted:
            raise InvalidInput("name at least one bank, or leave the bank filter out")
        missing = set(wanted) - known
        if missing:
            raise NotFound(f"no bank named {', '.join(repr(n) for n in sorted(missing))}")
        return wanted

    def readiness(self) -> Readiness:
        """Check the database, its schema and the indexes (reads the database: call it off
        an event loop)."""
        problems = []
        database = self.database_ok()
        migrations, lag = False, None
        if not database:
            problems.append("database: not reachable")
        else:
            try:
                current, heads = schema_revisions(self.engine)
                migrations = current == heads
                if not migrations:
                    problems.append(
                        f"migrations: the database is at {sorted(current) or 'no revision'}, "
                        f"this Lykta expects {sorted(heads)}"
                    )
                with self.sessions() as session:
                    lag = max(current_state(session).revision - self.matcher.revision, 0)
            except Exception as error:
                problems.append(f"database: {str(error).splitlines()[0]}")
        if not self.live:
            problems.append("index: not loaded")
        return Readiness(database, migrations, self.live, lag, tuple(problems))

    def database_ok(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False


def video_limits(settings: Settings) -> VideoLimits:
    """What the settings let one video cost."""
    return VideoLimits(settings.video_max_seconds, settings.video_max_frames, settings.max_pixels)


def _warn_without_key_frames(video: VideoHashes) -> None:
    """Say (in the log) that a video for a bank with local features has no second path."""
    if not video.key_frames:
        log.warning(
            "video has no frame with %d keypoints: banked without local features",
            MIN_KEYPOINTS,
        )


def video_sampling(settings: Settings, for_bank: bool, min_quality: int = 0) -> dict[str, Any]:
    """`hash_video`'s arguments for a check (a frame every check interval, mirrored and
    without bars too) or, ``for_bank``, for a bank (denser, near-repeats and frames below
    ``min_quality`` dropped, each frame kept as given and without its bars)."""
    if not for_bank:
        return {
            "interval": settings.video_check_interval,
            "trim": settings.trim,
            "mirror": True,
            "limits": video_limits(settings),
        }
    dedupe = settings.video_dedupe_distance
    return {
        "interval": settings.video_bank_interval,
        "trim": True,
        "dedupe": None if dedupe < 0 else dedupe,
        "min_quality": min_quality,
        "limits": video_limits(settings),
    }


def hash_query(kind: str, value: str, quality: int | None) -> QueryHash:
    """A hash given as text (any case, whitespace around it) as the matcher's query."""
    hasher = get_hasher(kind)
    if hasher.local_features:
        raise InvalidInput(
            f"{hasher.name} hashes cannot be looked up on their own: look the photo up"
        )
    try:
        return QueryHash(hasher.name, hasher.to_code(value), "original", quality)
    except InvalidInput as error:
        raise InvalidInput(error.message + _other_kind_hint(hasher.name, value)) from None


def _other_kind_hint(kind: str, value: str) -> str:
    """When a hash is not of the kind asked for but is a valid one of other kinds (an MD5
    looked up as the default PDQ), say which, and how to ask for it."""
    fits = []
    for other in hashers():
        if other.name == kind:
            continue
        try:
            other.to_code(value)
        except InvalidInput:
            continue
        fits.append(other.name)
    if not fits:
        return ""
    options = " or ".join(f"kind={name}" for name in fits)
    return f"; this looks like a hash of kind {' or '.join(fits)}: pass {options}"


def by_kind(hashes: PhotoHashes) -> dict[str, str]:
    """A photo's hashes as a bank stores them (the photo as given), by kind."""
    return {"pdq": hashes.pdq, "md5": hashes.md5, "sha256": hashes.sha256}


def photo_item(
    hashes: PhotoHashes, external_id: str | None, kinds: Iterable[str] = MEDIA_KINDS
) -> ContentItem:
    """A photo as one bank content item holding its hashes of ``kinds``."""
    wanted = set(kinds)
    found = [
        ItemHash(kind, value, hashes.quality if kind == "pdq" else None)
        for kind, value in by_kind(hashes).items()
        if kind in wanted
    ]
    return ContentItem(tuple(found), external_id, media_kind="photo")


def video_item(
    hashes: VideoHashes, external_id: str | None, kinds: Iterable[str] = MEDIA_KINDS
) -> ContentItem:
    """A video as one bank content item: its file digests and, per kept frame, the PDQ of
    each variant (as given and, with bars, without) with its quality and time; with kind
    ``orb``, each key frame's local features as rows with its time."""
    wanted = set(kinds)
    found = [
        ItemHash(kind, value)
        for kind, value in (("md5", hashes.md5), ("sha256", hashes.sha256))
        if kind in wanted
    ]
    if "pdq" in wanted:
        found += [
            ItemHash("pdq", variant.pdq, variant.quality, frame.seconds)
            for frame in hashes.frames
            for variant in frame.variants
        ]
    if OrbHasher.name in wanted:
        orb = OrbHasher()
        found += [
            ItemHash(OrbHasher.name, row, None, key.seconds)
            for key in hashes.key_frames
            for row in orb.rows_of(key.features)
        ]
    return ContentItem(tuple(found), external_id, media_kind="video", duration=hashes.duration)


def is_video(media: bytes | Path | BinaryIO) -> bool:
    """Whether ``media`` is a video, told by its container (an open file is left where it
    was)."""
    if isinstance(media, bytes):
        return looks_like_video(media[:SNIFF_BYTES])
    if isinstance(media, Path):
        return is_video_file(media)
    start = media.tell()
    head = media.read(SNIFF_BYTES)
    media.seek(start)
    return looks_like_video(head)


def _read_all(media: bytes | Path | BinaryIO) -> bytes:
    if isinstance(media, bytes):
        return media
    if isinstance(media, Path):
        return media.read_bytes()
    return media.read()


def _sampling_interval(times: Sequence[float]) -> float:
    """How far apart the video's frames were sampled: the median gap (1 s if unknown)."""
    gaps = [round(b - a, 2) for a, b in pairwise(times)]
    gaps = [gap for gap in gaps if gap > 0]
    return statistics.median(gaps) if gaps else 1.0


def frame_queries(variants: Sequence[FrameVariant]) -> list[QueryHash]:
    """The PDQ queries of one video frame (as given, and without its bars)."""
    return [
        QueryHash("pdq", bytes.fromhex(variant.pdq), variant.transform, variant.quality)
        for variant in variants
    ]


def queries_for_photo(hashes: PhotoHashes) -> list[QueryHash]:
    queries = [
        QueryHash("md5", bytes.fromhex(hashes.md5)),
        QueryHash("sha256", bytes.fromhex(hashes.sha256)),
    ]
    seen: set[str] = set()
    for variant in hashes.variants:
        if variant.pdq in seen:
            continue
        seen.add(variant.pdq)
        queries.append(
            QueryHash("pdq", bytes.fromhex(variant.pdq), variant.transform, variant.quality)
        )
    if hashes.pdq not in seen:
        queries.append(QueryHash("pdq", bytes.fromhex(hashes.pdq), "original", hashes.quality))
    return queries
