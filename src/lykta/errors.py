"""Errors every layer raises and every door (HTTP, CLI) maps to a clear message.

Each error carries a message that says what was wrong and, where it helps, what to do.
The HTTP layer maps them to a 4xx status, the CLI to an exit code and one line.
"""

from __future__ import annotations


class LyktaError(Exception):
    """Base of all errors that are the caller's to fix (never a bug in Lykta)."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers that go with the error's status."""
        return {}


class InvalidInput(LyktaError):
    """The input is malformed: a bad hash, a bad file, a bad parameter."""

    status_code = 422


class MediaError(InvalidInput):
    """Content that cannot be decoded safely: empty, truncated, not media, too large."""


class Forbidden(LyktaError):
    """The server's configuration does not allow this (e.g. fetching from that address)."""

    status_code = 403


class NotFound(LyktaError):
    status_code = 404


class TooLarge(LyktaError):
    """The input is over a configured size limit."""

    status_code = 413


class Conflict(LyktaError):
    """The request clashes with what exists (a bank name taken, an id already indexed)."""

    status_code = 409


class DatabaseBusy(LyktaError):
    """Another write (a long import, say) held the database longer than a write may wait."""

    status_code = 503
    # A retried write queues again for up to LYKTA_DATABASE_WAIT, so a short pause will do.
    retry_after_seconds = 5

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class NotConfigured(LyktaError):
    """The server lacks a setting this needs (an evidence key, report credentials)."""

    status_code = 503
