"""Create, check and revoke bearer tokens. Only a SHA-256 of each secret is stored."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from lykta.audit import AuditLog
from lykta.errors import InvalidInput, NotFound
from lykta.store.models import ApiToken

TOKEN_PREFIX = "lykta_"


class Scope(StrEnum):
    """What a token may do (see INCLUDES for what each one also allows)."""

    ADMIN = "admin"  # tokens, settings, the audit log, everything the others may do
    CURATOR = "curator"  # banks and bank content, import/export, plus matching
    MATCHER = "matcher"  # hash and look up content, record alerts, attach context
    REVIEWER = "reviewer"  # alerts, cases, context and decisions on them
    CHILD_SAFETY = "child_safety"  # a reviewer who may also mark cases reported
    METRICS = "metrics"  # read /metrics only


# Two lines of trust: banks (matcher < curator) and review (reviewer < child_safety); a
# reviewer need not manage banks, nor a curator read cases. Metrics stands apart. Admin
# holds them all.
INCLUDES: dict[Scope, frozenset[Scope]] = {
    Scope.MATCHER: frozenset({Scope.MATCHER}),
    Scope.CURATOR: frozenset({Scope.CURATOR, Scope.MATCHER}),
    Scope.REVIEWER: frozenset({Scope.REVIEWER}),
    Scope.CHILD_SAFETY: frozenset({Scope.CHILD_SAFETY, Scope.REVIEWER}),
    # A monitoring system's token reads /metrics and nothing else.
    Scope.METRICS: frozenset({Scope.METRICS}),
    Scope.ADMIN: frozenset(Scope),
}


def parse_scope(text: str) -> Scope:
    try:
        return Scope(text.strip().lower())
    except ValueError:
        known = ", ".join(s.value for s in Scope)
        raise InvalidInput(f"unknown scope {text!r}; use one of: {known}") from None


def grants(held: Scope, needed: Scope) -> bool:
    return needed in INCLUDES[held]


def digest(secret: str) -> str:
    """What is stored of a secret, and what servers key their table of live tokens by."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    scope: Scope
    revoked: bool


class TokenRepository:
    """Tokens; creating and revoking one is an admin action, written to the audit log in
    the same transaction."""

    def __init__(self, sessions: sessionmaker[Session], audit: AuditLog) -> None:
        self._sessions = sessions
        self._audit = audit

    def create(
        self, scope: Scope, name: str = "", *, actor: str = "system"
    ) -> tuple[TokenInfo, str]:
        """Store a new token and return it with its secret, which is never retrievable again."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._sessions() as session, session.begin():
            row = ApiToken(name=name, scope=scope.value, secret_sha256=digest(secret))
            session.add(row)
            session.flush()
            info = TokenInfo(row.id, row.name, scope, False)
            detail = {"name": name, "scope": scope.value}
            self._audit.append(session, actor, "token.create", f"token:{row.id}", detail)
        return info, secret

    def authenticate(self, secret: str) -> TokenInfo | None:
        with self._sessions() as session:
            row = session.scalars(
                select(ApiToken).where(ApiToken.secret_sha256 == digest(secret))
            ).one_or_none()
            if row is None or row.revoked:
                return None
            return TokenInfo(row.id, row.name, Scope(row.scope), row.revoked)

    def live(self) -> dict[str, TokenInfo]:
        """Every token not revoked, by the digest of its secret."""
        with self._sessions() as session:
            rows = session.scalars(select(ApiToken).where(ApiToken.revoked.is_(False))).all()
            return {r.secret_sha256: TokenInfo(r.id, r.name, Scope(r.scope), False) for r in rows}

    def list(self) -> list[TokenInfo]:
        with self._sessions() as session:
            rows = session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
            return [TokenInfo(r.id, r.name, Scope(r.scope), r.revoked) for r in rows]

    def revoke(self, token_id: int, *, actor: str = "system") -> None:
        with self._sessions() as session, session.begin():
            row = session.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"no token with id {token_id}")
            row.revoked = True
            self._audit.append(session, actor, "token.revoke", f"token:{token_id}")
