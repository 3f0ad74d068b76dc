"""Issuing, revoking and reading bearer tokens: events of the token book (domain/access.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from jobledger.domain.access import (
    BOOK_ID,
    AccessEvent,
    Token,
    TokenBook,
    TokenIssued,
    TokenRevoked,
    check_role,
    hash_secret,
    new_secret,
)
from jobledger.domain.errors import InvalidFieldError, RuleError
from jobledger.domain.job import check_text
from jobledger.domain.limits import MAX_NAME
from jobledger.domain.validation import check_name_text
from jobledger.store.writer import LostRace

from .contention import Contention

ReadBook = Callable[[int], list[AccessEvent]]  # the book's events after a version
Append = Callable[[Sequence[AccessEvent]], list[int]]


class IssuedToken(NamedTuple):
    """A new token: its secret (shown once, never stored) and what the book keeps of it."""

    secret: str
    token: Token


class UnknownTokenError(RuleError):
    """No token has this id (or not in the caller's company)."""

    def __init__(self, token_id: str, company: str | None = None) -> None:
        where = f" for company {company}" if company else ""
        super().__init__(f"no token with id {token_id!r}{where}")


def read_book(read: ReadBook, book: TokenBook | None = None) -> TokenBook:
    """The book brought up to date: a new one, or `book` with the events since its version."""
    book = book or TokenBook()
    for event in read(book.version):
        book.apply(event)
    return book


def issue(read: ReadBook, append: Append, company: str, role: str, name: str = "") -> IssuedToken:
    """Issue a token for `company` with `role`."""
    checked = check_role(role)
    _check_name("company", company, required=True)
    check_text("company", company)  # as a submit checks it: a company no run could have
    _check_name("name", name, required=False)
    token_id, secret = new_secret()

    def event(book: TokenBook) -> TokenIssued:
        return TokenIssued(
            originator_id=BOOK_ID,
            originator_version=book.version + 1,
            timestamp=datetime.now(UTC),
            tokenId=token_id,
            companyHandle=company,
            role=checked,
            name=name,
            tokenHash=hash_secret(secret),
        )

    book = _append(read, append, event)
    return IssuedToken(secret, book.by_id[token_id])


def revoke(read: ReadBook, append: Append, token_id: str, company: str | None = None) -> Token:
    """Revoke a token (of `company` only, when given); revoking it again changes nothing."""

    def event(book: TokenBook) -> TokenRevoked | None:
        token = book.by_id.get(token_id)
        if token is None or (company is not None and token.companyHandle != company):
            raise UnknownTokenError(token_id, company)
        if not token.active:
            return None
        return TokenRevoked(
            originator_id=BOOK_ID,
            originator_version=book.version + 1,
            timestamp=datetime.now(UTC),
            tokenId=token_id,
            companyHandle=token.companyHandle,
        )

    return _append(read, append, event).by_id[token_id]


def _append(read: ReadBook, append: Append, make: Callable[[TokenBook], AccessEvent | None]) -> TokenBook:
    """Decide on the book as stored and append; decide again if another writer got there first."""
    contention = Contention()
    book = read_book(read)
    while True:
        new = make(book)
        if new is None:
            return book
        try:
            append([new])
        except LostRace as err:
            contention.lose(holding_turn=False, cause=err)
            book = read_book(read, book)
            continue
        book.apply(new)
        return book


def _check_name(field: str, value: object, *, required: bool) -> None:
    if not isinstance(value, str):
        raise InvalidFieldError(field, f"expected a string, got {type(value).__name__}")
    if required and not value:
        raise InvalidFieldError(field, "must not be empty")
    if len(value) > MAX_NAME:
        raise InvalidFieldError(field, f"longer than {MAX_NAME} characters")
    check_name_text(field, value)  # the rule every command's names keep
