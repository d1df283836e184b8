"""Alerts: matches recorded for review, from every source (look-ups given a subject,
videos, live streams), one row each, for cases to be built from."""

from lykta.alerts.repository import (
    AlertInfo,
    AlertListener,
    AlertRepository,
    MatchSource,
    NewAlert,
    alerts_of,
)

__all__ = [
    "AlertInfo",
    "AlertListener",
    "AlertRepository",
    "MatchSource",
    "NewAlert",
    "alerts_of",
]
