"""Who may do what: bearer tokens with an IPS user type, kept as events of one token book.

A token's secret is shown once, when it is issued; the ledger keeps only its SHA-256. Every
token event belongs to one aggregate (the book), so the whole book is one indexed read and a
reader catching up reads only the events after the version it knows; two issuers at once meet
on the store's uniqueness of (book, version) and one decides again.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Literal, get_args
from uuid import UUID, uuid5

import msgspec

from .errors import InvalidValueError
from .events import DomainEvent

Role = Literal["IpsAdmin", "IpsCompanyAdmin", "IpsUser", "ReadOnly"]
ROLES: tuple[str, ...] = get_args(Role)
BOOK_ID = uuid5(UUID("5b0e7d36-2a5e-4b8f-9a7e-6f1d0c3a9e21"), "jobledger|tokens")
TOKEN_PREFIX = "jlt_"

# What each role may do beyond reading its company's jobs, logs and events.
DRIVE = "drive"  # submit, start, progress, log, complete, stop
MANAGE = "manage"  # delete; pause, resume and execute schedules; tokens of its company
EVERY_COMPANY = "every-company"  # read and act for any company; metrics; the audit digest
GRANTS: dict[str, frozenset[str]] = {
    "IpsAdmin": frozenset({DRIVE, MANAGE, EVERY_COMPANY}),
    "IpsCompanyAdmin": frozenset({DRIVE, MANAGE}),
    "IpsUser": frozenset({DRIVE}),
    "ReadOnly": frozenset(),
}


class AccessEvent(DomainEvent, frozen=True, kw_only=True):
    """Base of the token book's events."""

    tokenId: str
    companyHandle: str


class TokenIssued(AccessEvent, frozen=True, kw_only=True):
    """A bearer token was issued; only the hash of its secret is kept."""

    role: Role
    name: str = ""
    tokenHash: str


class TokenRevoked(AccessEvent, frozen=True, kw_only=True):
    """A token stops working."""

    reason: str = ""


ACCESS_EVENT_TYPES: tuple[type[AccessEvent], ...] = (TokenIssued, TokenRevoked)


class Token(msgspec.Struct, frozen=True, kw_only=True):
    """What the book knows of one token (never its secret)."""

    tokenId: str
    companyHandle: str
    role: Role
    name: str
    issued: datetime
    revoked: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None

    def may(self, grant: str) -> bool:
        return grant in GRANTS[self.role]

    def sees(self, company: str) -> bool:
        """Whether this token may read or act for `company`."""
        return company == self.companyHandle or EVERY_COMPANY in GRANTS[self.role]


class TokenBook:
    """Every token, by id and by the hash of its secret, as of the book's version."""

    def __init__(self) -> None:
        self.version = 0
        self.by_id: dict[str, Token] = {}
        self._hashes: dict[str, str] = {}  # hash -> token id

    def apply(self, event: AccessEvent) -> None:
        self.version = event.originator_version
        if isinstance(event, TokenIssued):
            self.by_id[event.tokenId] = Token(
                tokenId=event.tokenId,
                companyHandle=event.companyHandle,
                role=event.role,
                name=event.name,
                issued=event.timestamp,
            )
            self._hashes[event.tokenHash] = event.tokenId
        elif isinstance(event, TokenRevoked) and event.tokenId in self.by_id:
            token = self.by_id[event.tokenId]
            self.by_id[event.tokenId] = msgspec.structs.replace(token, revoked=event.timestamp)

    def holder(self, secret: str) -> Token | None:
        """The active token whose secret this is, if any."""
        token = self.by_id.get(self._hashes.get(hash_secret(secret), ""))
        return token if token is not None and token.active else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> tuple[str, str]:
    """A new token's id and its secret (which begins with the id, so it can be named)."""
    token_id = secrets.token_hex(6)
    return token_id, f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def check_role(role: str) -> Role:
    """The role, if it is one of the IPS user types; InvalidValueError (a bad value, 400) if not."""
    if role not in ROLES:
        raise InvalidValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    return role  # type: ignore[return-value]
