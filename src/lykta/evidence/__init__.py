"""Evidence of confirmed cases: encrypted (AES-256-GCM), content-addressed files, kept
for the retention period, with legal hold and a purge job."""

from lykta.evidence.service import EvidenceInfo, EvidenceItemInfo, EvidenceService, PurgeResult
from lykta.evidence.store import BlobStore, parse_key

__all__ = [
    "BlobStore",
    "EvidenceInfo",
    "EvidenceItemInfo",
    "EvidenceService",
    "PurgeResult",
    "parse_key",
]
