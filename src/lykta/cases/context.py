"""Context a platform attaches to a subject or an alert, for the reviewer and the report:
screen names, emails, IP capture events and chat excerpts (NCMEC's `personOrUserReported`
carries the first three)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime

from lykta.banks.formats import text_problem
from lykta.errors import InvalidInput

CONTEXT_KINDS = ("screen_name", "email", "ip_capture", "chat")
MAX_VALUE = {"screen_name": 512, "email": 320, "ip_capture": 64, "chat": 20_000}
MAX_EVENT = 128


def check_text(name: str, value: str, limit: int, *, one_line: bool = True) -> str:
    """``value`` if it can be stored and shown, else InvalidInput naming ``name``."""
    if len(value) > limit:
        raise InvalidInput(f"{name} is at most {limit} characters")
    problem = text_problem(value)
    if problem is not None:
        raise InvalidInput(f"{name} {problem}")
    if one_line and not value.isprintable():
        raise InvalidInput(f"{name} must be printable text on one line")
    return value


@dataclass(frozen=True)
class NewContext:
    """One item: ``value`` is the name, the address, the IP or the excerpt; ``event``
    what happened (for an IP capture: login, upload...); ``at`` when."""

    kind: str
    value: str
    event: str | None = None
    at: datetime | None = None

    def checked(self) -> NewContext:
        """The item normalised, or InvalidInput saying what is wrong."""
        if self.kind not in CONTEXT_KINDS:
            raise InvalidInput(f"context kind must be one of {', '.join(CONTEXT_KINDS)}")
        chat = self.kind == "chat"
        value = check_text(
            f"a {self.kind}", self.value if chat else self.value.strip(),
            MAX_VALUE[self.kind], one_line=not chat,
        )  # fmt: skip
        if not value.strip():
            raise InvalidInput(f"a {self.kind} needs a value")
        if self.kind == "email" and ("@" not in value or " " in value):
            raise InvalidInput(f"{value!r} is not an email address")
        if self.kind == "ip_capture":
            try:
                value = str(ipaddress.ip_address(value))
            except ValueError:
                raise InvalidInput(f"{value!r} is not an IP address") from None
        event = self.event
        if event is not None:
            check_text("the event", event, MAX_EVENT)
        at = self.at
        if at is not None:
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        return NewContext(self.kind, value, event or None, at)


@dataclass(frozen=True)
class ContextInfo(NewContext):
    id: int = 0
    subject: str = ""
    alert_id: int | None = None
    added_by: str = ""
    created_at: datetime | None = None
