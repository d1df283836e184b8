"""Audit: the append-only log of every decision, view, export, login and admin action,
each entry chained to the one before by its hash, so tampering shows."""

from lykta.audit.log import MEDIA_VIEW, AuditEntryInfo, AuditLog, Verification

__all__ = ["MEDIA_VIEW", "AuditEntryInfo", "AuditLog", "Verification"]
