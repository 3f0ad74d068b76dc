"""Every error the API answers, by type, in one place: a status and `{"error": {code, message}}`."""

from __future__ import annotations

import re

import msgspec

from jobledger.domain.errors import (
    ClockSkewError,
    IdempotencyConflictError,
    InvalidFieldError,
    InvalidValueError,
    LedgerError,
    RuleError,
    StoreError,
    UnknownHandleError,
)
from jobledger.domain.limits import explain
from jobledger.domain.payloads import PayloadError
from jobledger.service.tokens import UnknownTokenError

from .group_commit import ShuttingDownError
from .views import ViewsBehindError
from .wire import ErrorBody, ErrorDetail


class HttpError(Exception):
    """An answer decided by the HTTP layer itself (bad path, method, query, size)."""

    def __init__(
        self, status: int, code: str, message: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers or []  # sent with the answer (a 405's Allow)


# msgspec's words for a value out of its type's bounds or vocabulary (not of the wrong type).
_OUT_OF_RANGE = re.compile(r"Expected `[^`]*` (?:of length )?[<>]=? |Invalid enum value")

# Most specific first: the first class an error is an instance of decides.
_STATUS: list[tuple[type[BaseException], int, str]] = [
    (HttpError, 400, "bad_request"),
    (msgspec.ValidationError, 400, "invalid_body"),
    (msgspec.DecodeError, 400, "invalid_json"),
    (PayloadError, 400, "invalid_payload"),
    (ClockSkewError, 400, "clock_skew"),
    (InvalidFieldError, 400, "invalid_field"),
    (InvalidValueError, 400, "invalid_value"),
    (UnknownHandleError, 404, "not_found"),
    (UnknownTokenError, 404, "not_found"),
    (IdempotencyConflictError, 409, "idempotency_conflict"),
    (RuleError, 409, "rule_broken"),
    (ShuttingDownError, 503, "shutting_down"),
    (ViewsBehindError, 503, "views_behind"),
    (StoreError, 503, "store_unavailable"),
    (LedgerError, 400, "refused"),
]


def error_answer(err: BaseException) -> tuple[int, bytes]:
    """The status and JSON body for an error."""
    if isinstance(err, HttpError):
        status, code = err.status, err.code
    else:
        status, code = next(
            ((status, code) for kind, status, code in _STATUS if isinstance(err, kind)), (500, "")
        )
    if not code:
        return 500, encode_error("internal", "internal error; the server's log has the details")
    message = str(err)
    if isinstance(err, msgspec.ValidationError):
        # In the ledger's words (as InvalidFieldError says them): "invalid progress: expected
        # int, got float", the field named with its IPS name.
        path, problem = explain(err)
        message = f"invalid body: {path}: {problem}" if path else f"invalid body: {problem}"
        if _OUT_OF_RANGE.search(str(err)):  # a bound or a vocabulary, as the ledger's own say it
            code = "invalid_value"
    elif isinstance(err, msgspec.DecodeError) and not message.startswith("JSON is malformed"):
        message = f"JSON is malformed: {message}"  # ("Input data was truncated" says it less)
    elif isinstance(err, InvalidFieldError) and "over the limit of" in message and "bytes" in message:
        status, code = 413, "too_large"
    if isinstance(err, LedgerError):
        return status, encode_error(code, message, err)
    return status, encode_error(code, message)


def encode_error(code: str, message: str, err: LedgerError | None = None) -> bytes:
    """`{"error": {"code": ..., "message": ...}}` with a one-line message (and the ledger
    error's type and plain attributes, None ones too: the client sets every one again)."""
    line = " ".join(message.split()) or code
    detail = ErrorDetail(code=code, message=line)
    if err is not None:
        detail.type = type(err).__name__
        detail.details = {
            key: value
            for key, value in vars(err).items()
            if isinstance(value, str | int | bool | None) and not key.startswith("_")
        } or None
    return msgspec.json.encode(ErrorBody(error=detail))
