"""A reviewer's wellness preferences in the review console: how strongly media is blurred,
whether it is grey, how it is revealed and after how many media items a break is suggested.
Each is the person's own choice where they made one, else the organisation's default
(`LYKTA_CONSOLE_*`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from lykta.errors import InvalidInput

MAX_BLUR = 10
REVEALS = ("click", "hover")
MAX_BREAK_AFTER = 10_000


@dataclass(frozen=True)
class ReviewPreferences:
    blur: int = 6  # 0 (none) to MAX_BLUR
    greyscale: bool = True
    reveal: str = "click"  # one of REVEALS
    break_after: int = 50  # media items; 0 = never

    def __post_init__(self) -> None:
        if isinstance(self.blur, bool) or not isinstance(self.blur, int):
            raise InvalidInput(f"blur must be a whole number from 0 to {MAX_BLUR}")
        if not 0 <= self.blur <= MAX_BLUR:
            raise InvalidInput(f"blur must be from 0 to {MAX_BLUR}, not {self.blur}")
        if not isinstance(self.greyscale, bool):
            raise InvalidInput("greyscale must be true or false")
        if self.reveal not in REVEALS:
            raise InvalidInput(f"reveal must be one of {', '.join(REVEALS)}, not {self.reveal!r}")
        if isinstance(self.break_after, bool) or not isinstance(self.break_after, int):
            raise InvalidInput("break_after must be a whole number")
        if not 0 <= self.break_after <= MAX_BREAK_AFTER:
            raise InvalidInput(f"break_after must be from 0 (never) to {MAX_BREAK_AFTER}")

    def over(self, chosen: Mapping[str, Any]) -> ReviewPreferences:
        """These defaults with a person's own choices (stored JSON) on top; a choice that
        no longer validates (a setting's range changed) falls back to the default."""
        known = {k: v for k, v in chosen.items() if k in asdict(self)}
        try:
            return replace(self, **known)
        except InvalidInput:
            return self


def organisation_defaults(
    blur: int, greyscale: bool, reveal: str, break_after: int
) -> ReviewPreferences:
    """The defaults from settings, with an error naming the setting when one is out of range."""
    try:
        return ReviewPreferences(blur, greyscale, reveal.strip().lower(), break_after)
    except InvalidInput as error:
        name = error.message.split(" ", 1)[0].upper()
        raise InvalidInput(f"LYKTA_CONSOLE_{name}: {error.message}") from None
