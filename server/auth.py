"""Bearer tokens on every request: who calls, which company they see, what they may do.

The token book is read from the ledger at start and brought up to date at most once a second
(a token revoked by `jobledger tokens` on the ledger's host stops working within a second, and
one issued there works at once: an unknown token reads the book again);
tokens issued or revoked through the API change the book at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Awaitable, Callable
from functools import lru_cache

from jobledger.domain.access import DRIVE, EVERY_COMPANY, MANAGE, Token, TokenBook

from .errors import HttpError
from .http import Request

REFRESH_S = 1.0
# The dashboard keeps the token in this cookie (HttpOnly, SameSite=Strict); a request that changes
# something on the strength of the cookie must also carry the session's CSRF token.
SESSION_COOKIE = "jobledger_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD")
ReadBook = Callable[[TokenBook | None], Awaitable[TokenBook]]


class Caller:
    """The token a request came with (None: the server runs with --no-auth and trusts all)."""

    def __init__(self, token: Token | None) -> None:
        self.token = token

    @property
    def scope(self) -> str | None:
        """The one company this caller sees, or None for every company."""
        if self.token is None or self.token.may(EVERY_COMPANY):
            return None
        return self.token.companyHandle

    @property
    def drives(self) -> bool:
        """May submit, start, report, complete and stop runs."""
        return self.token is None or self.token.may(DRIVE)

    @property
    def manages(self) -> bool:
        """May delete runs and pause, resume, execute or delete schedules."""
        return self.token is None or self.token.may(MANAGE)

    @property
    def sees_all(self) -> bool:
        """Reads every company (and the metrics and the audit digest)."""
        return self.scope is None

    def require(self, grant: str, doing: str) -> None:
        """403 unless the caller's role has `grant`; the answer says what was asked (`doing`)."""
        if self.token is not None and not self.token.may(grant):
            role = self.token.role
            article = "an" if role[:1] in "AEIOU" else "a"
            raise HttpError(403, "forbidden", f"{article} {role} token may not {doing}")

    def company(self, asked: str | None) -> str | None:
        """The company a query is about: the asked one, which must be the caller's own; 404 for
        another company's, as if it did not exist."""
        scope = self.scope
        if scope is None:
            return asked
        if asked is not None and asked != scope:
            raise HttpError(404, "not_found", f"no company {asked!r}")
        return scope

    def handles_role(self, role: str, action: str) -> None:
        """403 unless the caller may `action` (create, revoke) tokens of `role`: IpsAdmin tokens
        are for an IpsAdmin token alone."""
        if self.scope is not None and role == "IpsAdmin":
            raise HttpError(403, "forbidden", f"only an IpsAdmin token may {action} IpsAdmin tokens")

    def acts_for(self, company: str) -> None:
        """403 unless the caller may act for `company` (a submit names its company)."""
        scope = self.scope
        if scope is not None and company != scope:
            raise HttpError(403, "forbidden", f"this token acts for company {scope!r} only")


DRIVING = "submit or drive jobs"  # what a DRIVE grant allows, as a 403 says it
EVERYONE = Caller(None)


class Gate:
    """Turns a request's Authorization header into its Caller."""

    def __init__(self, read: ReadBook, *, enabled: bool) -> None:
        self.enabled = enabled
        self._read = read
        self.book = TokenBook()
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()
        self._csrf_key = secrets.token_bytes(32)  # a restart ends every page's forms

    def csrf(self, secret: str) -> str:
        """The CSRF token of a session (of the token `secret`; "" without tokens)."""
        return hmac.new(self._csrf_key, secret.encode(), hashlib.sha256).hexdigest()[:32]

    def secret_of(self, request: Request) -> tuple[str, bool]:
        """The token a request carries, and whether it came in the session cookie."""
        given = request.headers.get("authorization", "")
        if given:
            scheme, _, secret = given.partition(" ")
            return (secret.strip() if scheme.lower() == "bearer" else ""), False
        return cookie(request, SESSION_COOKIE), True

    async def refresh(self, *, force: bool = False, read_before: float | None = None) -> None:
        """Read the book's new events if it was read more than REFRESH_S ago (or before the
        moment `read_before`, or at all with `force`)."""
        async with self._lock:
            stale = time.monotonic() - REFRESH_S if read_before is None else read_before
            if force or self._read_at <= stale:
                started = time.monotonic()
                self.book = await self._read(self.book)
                self._read_at = started

    async def holds(self, caller: Caller, *, read_since: float) -> bool:
        """Whether the caller's token still works, by a read of the book begun at or after the
        moment `read_since` (time.monotonic)."""
        if caller.token is None:
            return True
        await self.refresh(read_before=read_since)
        token = self.book.by_id.get(caller.token.tokenId)
        return token is not None and token.active

    def check_addressed(self, request: Request) -> None:
        """Without tokens, refuse (ForeignRequestError) what is not this machine's own client's:
        the dashboard asks it of every request, its forms included."""
        if not self.enabled:
            _addressed_to_this_machine(request)

    async def caller(self, request: Request, *, form_checked: bool = False) -> Caller:
        """Who sent a request (`form_checked`: a dashboard form whose CSRF field was checked)."""
        if not self.enabled:
            _addressed_to_this_machine(request)
            return EVERYONE
        arrived = time.monotonic()
        secret, from_cookie = self.secret_of(request)
        if not secret:
            raise HttpError(
                401, "unauthorized", "this server needs a bearer token (Authorization: Bearer ...)"
            )
        if from_cookie and request.method not in SAFE_METHODS and not form_checked:
            # A browser sends the cookie with any site's form: a change needs the page's CSRF token.
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(given, self.csrf(secret)):
                raise HttpError(
                    403, "csrf", f"a request with the session cookie needs the {CSRF_HEADER} header"
                )
        await self.refresh()
        token = self.book.holder(secret)
        if token is None:
            # Maybe a token issued since the last read: read again, unless a read began after
            # this request came (misses at once share one read of the store).
            await self.refresh(read_before=arrived)
            token = self.book.holder(secret)
        if token is None:
            raise HttpError(401, "unauthorized", "the token is not valid (unknown or revoked)")
        return Caller(token)


def is_loopback(host: str) -> bool:
    """Whether `host` is an address of this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ForeignRequestError(HttpError):
    """A request a server without tokens refuses: another site's page, or a rebound name."""

    def __init__(self, message: str) -> None:
        super().__init__(403, "forbidden", message)


def _addressed_to_this_machine(request: Request) -> None:
    """Without tokens every caller is an IpsAdmin, so only this machine's own clients may call:
    a page of another site (its Origin) or a name rebound to 127.0.0.1 (its Host) is refused."""
    host = origin = None
    for name, value in request.raw_headers:  # (names come lower-case; every request asks)
        if name == b"host":
            host = value
        elif name == b"origin":
            origin = value
    if host and not _loopback_host(host):
        shown = host.decode("latin-1")
        raise ForeignRequestError(
            f"a server without tokens answers only requests to a loopback host, not {shown}"
        )
    if origin is not None and not _loopback_origin(origin):
        shown = origin.decode("latin-1")
        raise ForeignRequestError(f"a server without tokens answers no other site's pages ({shown})")


@lru_cache(maxsize=64)
def _loopback_host(authority: bytes) -> bool:
    """Whether a Host header names this machine (`host[:port]` or `[v6]:port`)."""
    text = authority.decode("latin-1")
    if text.startswith("["):
        return is_loopback(text[1:].partition("]")[0])
    return is_loopback(text.rpartition(":")[0] if text.count(":") == 1 else text)


@lru_cache(maxsize=64)
def _loopback_origin(origin: bytes) -> bool:
    """Whether an Origin header is a page of this machine's (http or https, any port)."""
    scheme, found, authority = origin.partition(b"://")
    return bool(found) and scheme in (b"http", b"https") and _loopback_host(authority)


def cookie(request: Request, name: str) -> str:
    """A cookie's value, or ""."""
    for part in request.headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return str(value)
    return ""
