"""Each bank's matching rules, held in memory and re-read whenever the change log moves.

Banks are few and small, so every new revision re-reads them all: a look-up never asks
the database whether a bank is enabled or how far it matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lykta.hashing.registry import similarity_hashers
from lykta.store.models import Bank, BankThreshold


@dataclass(frozen=True, slots=True)
class BankRule:
    name: str
    enabled: bool
    negative: bool
    #: kind -> (largest distance that matches, lowest query quality or None)
    thresholds: Mapping[str, tuple[int, int | None]]


def load_rules(session: Session) -> dict[int, BankRule]:
    defaults = {h.name: (h.default_distance, h.default_min_quality) for h in similarity_hashers()}
    thresholds: dict[int, dict[str, tuple[int, int | None]]] = {}
    for row in session.scalars(select(BankThreshold)):
        thresholds.setdefault(row.bank_id, {})[row.kind] = (row.distance, row.min_quality)
    return {
        bank.id: BankRule(
            bank.name, bank.enabled, bank.negative, defaults | thresholds.get(bank.id, {})
        )
        for bank in session.scalars(select(Bank))
    }


def search_radius(rules: Mapping[int, BankRule]) -> dict[str, int]:
    """Per similarity kind, the widest distance any enabled bank matches at."""
    radius = {hasher.name: 0 for hasher in similarity_hashers()}
    for rule in rules.values():
        if rule.enabled:
            for kind, (distance, _) in rule.thresholds.items():
                radius[kind] = max(radius.get(kind, 0), distance)
    return radius
