"""Each bank's matching rules, held in memory and re-read whenever the change log moves.

Banks are few and small, so every new revision re-reads them all: a look-up never asks
the database whether a bank is enabled or how far it matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lykta.banks.validation import Threshold, default_thresholds, threshold_of
from lykta.hashing.registry import similarity_hashers
from lykta.store.models import Bank, BankThreshold


@dataclass(frozen=True, slots=True)
class BankRule:
    name: str
    enabled: bool
    negative: bool
    thresholds: Mapping[str, Threshold]


def load_rules(session: Session) -> dict[int, BankRule]:
    thresholds: dict[int, dict[str, Threshold]] = {}
    for row in session.scalars(select(BankThreshold)):
        thresholds.setdefault(row.bank_id, {})[row.kind] = threshold_of(row)
    return {
        bank.id: BankRule(
            bank.name,
            bank.enabled,
            bank.negative,
            default_thresholds() | thresholds.get(bank.id, {}),
        )
        for bank in session.scalars(select(Bank))
    }


def search_radius(rules: Mapping[int, BankRule]) -> dict[str, int]:
    """Per similarity kind, the widest distance any enabled bank matches at."""
    radius = {hasher.name: 0 for hasher in similarity_hashers()}
    for rule in rules.values():
        if rule.enabled:
            for kind, threshold in rule.thresholds.items():
                radius[kind] = max(radius.get(kind, 0), threshold.distance)
    return radius
