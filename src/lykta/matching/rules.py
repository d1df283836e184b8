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
from lykta.store.models import Bank, BankThreshold, Content


@dataclass(frozen=True, slots=True)
class BankRule:
    name: str
    enabled: bool
    negative: bool
    thresholds: Mapping[str, Threshold]
    # HMA's partial matching (the HMA routes apply it); None for every look-up.
    enabled_ratio: float | None = None
    # Whether the bank's local-features (`orb`) hashes may match.
    local_features: bool = False


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
            bank.enabled_ratio,
            bank.local_features,
        )
        for bank in session.scalars(select(Bank))
    }


def load_disabled(session: Session) -> dict[int, int]:
    """Content switched off by HMA's `disable_until_ts`: content id to its value (0 for
    good, else a Unix time). Few rows; a partial index finds them."""
    rows = session.execute(
        select(Content.id, Content.disable_until_ts).where(
            Content.disable_until_ts.is_not(None), Content.disable_until_ts != 1
        )
    )
    return {content_id: until for content_id, until in rows if until is not None}


def is_disabled(until: int | None, now: float) -> bool:
    """HMA's rule: 0 disabled, 1 (or none) enabled, a Unix time disabled until then."""
    return until is not None and until != 1 and (until == 0 or until > now)


def search_radius(rules: Mapping[int, BankRule]) -> dict[str, int]:
    """Per similarity kind, the widest distance any enabled bank matches at."""
    radius = {hasher.name: 0 for hasher in similarity_hashers()}
    for rule in rules.values():
        if rule.enabled:
            for kind, threshold in rule.thresholds.items():
                radius[kind] = max(radius.get(kind, 0), threshold.distance)
    return radius
