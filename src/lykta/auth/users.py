"""People who sign in to the review console: their roles, passwords (argon2), lock-out
after repeated failures, and browser sessions with their CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from lykta.audit import AuditLog
from lykta.auth.preferences import ReviewPreferences
from lykta.errors import Conflict, InvalidInput, LyktaError, NotFound
from lykta.store.models import User, WebSession

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MAX_NAME = 128
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """What a password given for a name that does not exist is checked against, so a wrong
    name takes as long as a wrong password. Made at the first sign-in, not on import: an
    argon2 hash takes a third of a second, which every command opening the core would pay."""
    return _hasher.hash("no such user, no such password")


class Role(StrEnum):
    ADMIN = "admin"  # everything
    REVIEWER = "reviewer"  # cases and their metadata
    CHILD_SAFETY = "child_safety"  # also media and reports


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise InvalidInput(f"unknown role {text!r}; use one of: {known}") from None


class LoginRefused(LyktaError):
    """A wrong name or password, or a locked account. The message never says which of
    name and password was wrong."""

    status_code = 401


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    role: Role

    @property
    def may_report(self) -> bool:
        return self.role in (Role.CHILD_SAFETY, Role.ADMIN)

    @property
    def may_view_media(self) -> bool:
        """Media goes to those who may report (the export's media too); a reviewer decides
        on metadata and match details only."""
        return self.may_report

    @property
    def actor(self) -> str:
        """How case histories and the audit log name this person."""
        return f"user:{self.name}"


@dataclass(frozen=True)
class SessionInfo:
    user: UserInfo
    csrf_token: str
    preferences: ReviewPreferences = field(default_factory=ReviewPreferences)
    media_views: int = 0  # media items served to this session since sign-in or a break

    def csrf_ok(self, sent: str) -> bool:
        return hmac.compare_digest(self.csrf_token.encode(), sent.encode())


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class UserRepository:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        audit: AuditLog,
        *,
        max_failures: int,
        lockout_seconds: float,
        session_seconds: float,
        preference_defaults: ReviewPreferences | None = None,
    ) -> None:
        self._sessions = sessions
        self.preference_defaults = preference_defaults or ReviewPreferences()
        self._audit = audit
        self.max_failures = max_failures
        self.lockout = timedelta(seconds=lockout_seconds)
        self.session_length = timedelta(seconds=session_seconds)

    def create(self, name: str, role: Role, password: str, *, actor: str) -> UserInfo:
        """Add a user; the name must be new and the password at least MIN_PASSWORD long."""
        if not name.strip() or len(name) > MAX_NAME or not name.isprintable() or " " in name:
            raise InvalidInput(f"a user name is 1 to {MAX_NAME} printable characters, no spaces")
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidInput(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        hashed = _hasher.hash(password)
        try:
            with self._sessions() as session, session.begin():
                row = User(name=name, role=role.value, password_hash=hashed, failed_logins=0)
                session.add(row)
                session.flush()
                self._audit.append(
                    session, actor, "user.create", f"user:{name}", {"role": role.value}
                )
                return UserInfo(row.id, row.name, role)
        except IntegrityError:
            raise Conflict(f"a user named {name!r} exists already") from None

    def get(self, name: str) -> UserInfo:
        """The user named ``name`` (NotFound when there is none)."""
        with self._sessions() as session:
            row = session.scalars(select(User).where(User.name == name)).first()
            if row is None:
                raise NotFound(f"no user named {name!r} (create one with `lykta user create`)")
            return UserInfo(row.id, row.name, Role(row.role))

    def login(self, name: str, password: str) -> tuple[SessionInfo, str]:
        """Check the password and open a session: its info and the cookie's secret. After
        ``max_failures`` wrong passwords in a row the account is locked for a while; every
        attempt is in the audit log."""
        # Not printable covers NUL and lone surrogates, which the database cannot store.
        if len(name) > MAX_NAME or not name.isprintable():
            raise LoginRefused("wrong name or password")
        now = datetime.now(UTC)
        # A refusal is raised after the transaction commits: the failure count and the
        # audit entry must stay.
        refusal = "wrong name or password"
        dummy = _dummy_hash()  # before the look-up, so the first refusal takes no longer
        with self._sessions() as session, session.begin():
            row = session.scalars(select(User).where(User.name == name)).one_or_none()
            if row is None:
                _check(dummy, password)
                self._audit.append(session, f"user:{name[:MAX_NAME]}", "login.failure", "")
            elif row.locked_until is not None and _utc(row.locked_until) > now:
                self._audit.append(session, f"user:{row.name}", "login.locked", "")
                minutes = max(1, round((_utc(row.locked_until) - now).total_seconds() / 60))
                refusal = f"too many failed logins: try again in {minutes} minute(s)"
            elif not _check(row.password_hash, password):
                row.failed_logins += 1
                detail = {"failures": row.failed_logins}
                if row.failed_logins >= self.max_failures:
                    row.locked_until = now + self.lockout
                    row.failed_logins = 0
                    detail["locked"] = True
                self._audit.append(session, f"user:{row.name}", "login.failure", "", detail)
            else:
                row.failed_logins = 0
                row.locked_until = None
                secret = secrets.token_urlsafe(32)
                csrf = secrets.token_urlsafe(32)
                session.add(
                    WebSession(
                        id=_digest(secret),
                        user_id=row.id,
                        csrf_token=csrf,
                        created_at=now,
                        expires_at=now + self.session_length,
                    )
                )
                self._audit.append(session, f"user:{row.name}", "login.success", "")
                return SessionInfo(UserInfo(row.id, row.name, Role(row.role)), csrf), secret
        raise LoginRefused(refusal)

    def session(self, secret: str) -> SessionInfo | None:
        """The live session the cookie's secret names, or None."""
        with self._sessions() as session:
            found = session.execute(
                select(WebSession, User)
                .join(User, User.id == WebSession.user_id)
                .where(WebSession.id == _digest(secret))
            ).one_or_none()
            if found is None:
                return None
            web, user = found
            if _utc(web.expires_at) <= datetime.now(UTC):
                return None
            return SessionInfo(
                UserInfo(user.id, user.name, Role(user.role)), web.csrf_token,
                self.preference_defaults.over(json.loads(user.preferences or "{}")),
                web.media_views,
            )  # fmt: skip

    def set_preferences(self, name: str, chosen: Mapping[str, Any]) -> ReviewPreferences:
        """Store a person's own wellness choices (validated as a whole; an empty mapping
        goes back to the organisation's defaults); audited. Only the choices that differ
        from the defaults are stored, so the rest follow a later change of the defaults."""
        defaults = asdict(self.preference_defaults)
        unknown = sorted(set(chosen) - set(defaults))
        if unknown:
            raise InvalidInput(f"unknown preference(s): {', '.join(unknown)}")
        preferences = replace(self.preference_defaults, **chosen)
        own = {k: v for k, v in asdict(preferences).items() if v != defaults[k]}
        with self._sessions() as session, session.begin():
            row = session.scalars(select(User).where(User.name == name)).first()
            if row is None:
                raise NotFound(f"no user named {name!r}")
            row.preferences = json.dumps(own, sort_keys=True)
            self._audit.append(
                session, f"user:{name}", "user.preferences", f"user:{name}", asdict(preferences)
            )
        return preferences

    def count_media_view(self, secret: str) -> int:
        """One more media item served to the session; how many since sign-in or a break."""
        with self._sessions() as session, session.begin():
            session.execute(
                update(WebSession)
                .where(WebSession.id == _digest(secret))
                .values(media_views=WebSession.media_views + 1)
            )
            views = session.scalar(
                select(WebSession.media_views).where(WebSession.id == _digest(secret))
            )
            return int(views or 0)

    def take_break(self, secret: str) -> None:
        """The reviewer took the break the console suggested: the count starts again."""
        with self._sessions() as session, session.begin():
            web = session.get(WebSession, _digest(secret))
            if web is not None:
                user = session.get(User, web.user_id)
                name = user.name if user is not None else "?"
                self._audit.append(
                    session, f"user:{name}", "console.break", f"user:{name}",
                    {"media_views": web.media_views},
                )  # fmt: skip
                web.media_views = 0

    def logout(self, secret: str) -> None:
        with self._sessions() as session, session.begin():
            web = session.get(WebSession, _digest(secret))
            if web is not None:
                user = session.get(User, web.user_id)
                session.execute(delete(WebSession).where(WebSession.id == web.id))
                name = user.name if user is not None else "?"
                self._audit.append(session, f"user:{name}", "logout", f"user:{name}")


def _check(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
