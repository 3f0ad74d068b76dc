"""`jobledger serve`'s token routes: list a company's tokens, create one (its secret shown once,
the ledger keeps its hash), revoke one. Tokens are events of the ledger, written between groups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from jobledger.domain.access import MANAGE
from jobledger.service.ledger import JobLedger
from jobledger.service.records import token_record
from jobledger.service.tokens import UnknownTokenError

from . import wire
from .auth import Caller, Gate
from .errors import HttpError
from .http import Request, Send, answer_json
from .query_params import check_names

T = TypeVar("T")


class Writes(Protocol):
    """What the token routes use of the server (its LedgerApp)."""

    ledger: JobLedger
    gate: Gate

    async def write(self, write: Callable[[], T]) -> T:
        """A write of the ledger's own, between two of the writer's groups."""


async def answer_tokens(app: Writes, request: Request, route: list[str], caller: Caller, send: Send) -> int:
    """GET (list), POST (create: the secret is shown once) and DELETE /v1/tokens/{id} (revoke)."""
    caller.require(MANAGE, "manage tokens")
    scope = caller.scope
    if route == ["tokens"] and request.method == "GET":
        check_names(request, route)
        await app.gate.refresh(force=True)
        chosen = caller.company(request.text("companyHandle"))
        revoked_too = bool(request.flag("all"))
        listed = [
            token_record(token)
            for token in app.gate.book.by_id.values()
            if (chosen is None or token.companyHandle == chosen) and (token.active or revoked_too)
        ]
        await answer_json(send, 200, {"tokenArray": listed})
        return 200
    if route == ["tokens"] and request.method == "POST":
        asked = wire.decode(wire.CreateToken, await request.body())
        caller.acts_for(asked.companyHandle)
        caller.handles_role(asked.role, "create")
        issued = await app.write(
            lambda: app.ledger.create_token(asked.companyHandle, asked.role, name=asked.name)
        )
        await app.gate.refresh(force=True)
        await answer_json(send, 201, {"token": issued.secret, **token_record(issued.token)})
        return 201
    if len(route) == 2 and request.method == "DELETE":
        token_id, asked = route[1], request.text("companyHandle")
        if scope is not None and asked not in (None, scope):
            raise UnknownTokenError(token_id, asked)  # the caller sees no other company's tokens
        company = asked or scope  # revoke_token's `company=`: of that company only
        await app.gate.refresh(force=True)  # a token's role never changes: the book's is it
        target = app.gate.book.by_id.get(token_id)
        if target is not None and target.companyHandle == scope:  # another company's: 404 below
            caller.handles_role(target.role, "revoke")
        token = await app.write(lambda: app.ledger.revoke_token(token_id, company=company))
        await app.gate.refresh(force=True)
        await answer_json(send, 200, token_record(token))
        return 200
    raise HttpError(404, "not_found", f"no such path: /v1/{'/'.join(route)}")
