"""Alerts: matches found while watching something (a live stream now; uploads later),
recorded once each, for cases to be built from."""

from lykta.alerts.repository import AlertInfo, AlertRepository, NewAlert

__all__ = ["AlertInfo", "AlertRepository", "NewAlert"]
