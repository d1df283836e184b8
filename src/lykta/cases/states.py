"""The life of a case: which decision may follow which, and the order of the queue."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from lykta.errors import InvalidInput


class CaseState(StrEnum):
    NEW = "new"
    IN_REVIEW = "in_review"
    CONFIRMED = "confirmed"
    FALSE_POSITIVE = "false_positive"
    ESCALATED = "escalated"
    REPORTED = "reported"
    CLOSED = "closed"


S = CaseState
TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    S.NEW: frozenset({S.IN_REVIEW, S.CONFIRMED, S.FALSE_POSITIVE, S.ESCALATED}),
    S.IN_REVIEW: frozenset({S.CONFIRMED, S.FALSE_POSITIVE, S.ESCALATED}),
    # An escalated case goes to someone senior, who decides it.
    S.ESCALATED: frozenset({S.IN_REVIEW, S.CONFIRMED, S.FALSE_POSITIVE}),
    # Confirmed abuse is reported; it is never closed unreported.
    S.CONFIRMED: frozenset({S.REPORTED}),
    S.FALSE_POSITIVE: frozenset({S.CLOSED}),
    S.REPORTED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
# New alerts about the subject join a case in these states; after them, a new case opens.
OPEN_STATES = frozenset({S.NEW, S.IN_REVIEW, S.ESCALATED, S.CONFIRMED})
# Decisions only a `child_safety` user or token may take.
CHILD_SAFETY_DECISIONS = frozenset({S.REPORTED})


def parse_state(text: str) -> CaseState:
    try:
        return CaseState(text.strip().lower())
    except ValueError:
        known = ", ".join(state.value for state in CaseState)
        raise InvalidInput(f"unknown case state {text!r}; use one of: {known}") from None


# Live abuse first, then recordings, then photos.
SOURCE_RANK = {"stream": 3, "video": 2, "photo": 1}
MAX_RANKED_DISTANCE = 999
MAX_BANK_RANK = 9999


def priority(source_kind: str, distance: int, bank: str, bank_order: Sequence[str]) -> int:
    """One number, larger first: the source kind, then the distance (closer first), then
    the bank's place in LYKTA_CASE_BANK_ORDER (listed banks first, in the order given)."""
    closeness = MAX_RANKED_DISTANCE - min(max(distance, 0), MAX_RANKED_DISTANCE)
    bank_rank = len(bank_order) - bank_order.index(bank) if bank in bank_order else 0
    return (
        SOURCE_RANK.get(source_kind, 0) * 10**8 + closeness * 10**4 + min(bank_rank, MAX_BANK_RANK)
    )
