"""The dashboard's ASGI layer: pages at /, the API (and health, metrics) passed through untouched.

Pages are rendered on the server from the views (JavaScript is needed only for live rows and
confirmations). The token is kept in an HttpOnly, SameSite=Strict cookie; every form carries the
session's CSRF token, and an action is sent to the API itself (the same route, roles and
answers as any client's), then the page is shown again with what happened.
"""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlencode

import msgspec
from jinja2 import Environment, PackageLoader, select_autoescape

from jobledger.server import wire
from jobledger.server.app import LedgerApp
from jobledger.server.auth import SESSION_COOKIE, Caller, ForeignRequestError
from jobledger.server.errors import HttpError, error_answer
from jobledger.server.http import BROKEN_PATH, Message, Receive, Request, Scope, Send, answer, answer_json

from . import format as fmt
from .pages import Pages
from .verification import Verifier

log = logging.getLogger("jobledger.web")
API_ROOTS = frozenset({"v1", "healthz", "readyz", "metrics"})
HTML = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")]
STATIC_TYPES = {".css": b"text/css; charset=utf-8", ".js": b"text/javascript; charset=utf-8"}
SECTIONS = {
    "active.html": "active",
    "logs.html": "logs",
    "run.html": "logs",
    "schedules.html": "schedules",
    "schedule.html": "schedules",
    "activity.html": "activity",
    "audit.html": "audit",
}
# What each action button sends: the API's method and path under /v1/jobs/{handle}.
ACTIONS = {
    "stop": ("POST", "stop"),
    "delete": ("DELETE", ""),
    "pause": ("POST", "pause"),
    "resume": ("POST", "resume"),
    "execute": ("POST", "execute"),
}


class Dashboard:
    """ASGI: the dashboard's pages around a LedgerApp."""

    def __init__(self, api: LedgerApp) -> None:
        self.api = api
        self.env = Environment(
            loader=PackageLoader("jobledger.web", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            when=fmt.when, iso=fmt.iso, in_zone=fmt.in_zone, handle_path=_handle_path, segment=_segment
        )
        self.verifier = Verifier(api)
        self.pages = Pages(api, self.verifier)
        folder = importlib.resources.files("jobledger.web") / "static"
        self.static = {item.name: item.read_bytes() for item in folder.iterdir() if item.name[0] != "."}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].strip("/").split("/")[0] in API_ROOTS:
            await self.api(scope, receive, send)
            return
        request = Request(scope, receive)
        send = self._counted(send)
        try:
            self.api.gate.check_addressed(request)  # (every page and form: the forms carry no token)
            await self._route(request, send)
        except Exception as err:
            status, body = error_answer(err)
            if status == 500:
                log.exception("unexpected error on %s", scope["path"])
            if status == 401:
                await self._redirect(send, f"/login?{urlencode({'next': _here(request)})}")
                return
            message = msgspec.json.decode(body)["error"]["message"]
            foreign = isinstance(err, ForeignRequestError)  # (it gets no form token to replay)
            await self._render(
                send, "error.html", request, None, status=status, message=message, with_csrf=not foreign
            )

    def _counted(self, send: Send) -> Send:
        """`send`, counting the page's answer in the server's requests by status (as the API's are)."""
        count = self.api.metrics.count_request

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                count(message["status"])
            await send(message)

        return counted

    async def _route(self, request: Request, send: Send) -> None:
        parts, method = request.segments, request.method
        if request.bad_path:
            raise HttpError(400, "bad_request", BROKEN_PATH)
        if parts[:1] == ["static"] and len(parts) == 2 and parts[1] in self.static:
            kind = STATIC_TYPES.get(parts[1][parts[1].rfind(".") :], b"application/octet-stream")
            await answer(send, 200, self.static[parts[1]], [(b"content-type", kind)])
            return
        if parts == ["login"]:
            await (self._log_in(request, send) if method == "POST" else self._login_page(request, send))
            return
        if parts == ["logout"] and method == "POST":
            await self._check_csrf(request, await self._form(request))
            await self._redirect(send, "/login", clear=True)
            return
        if parts == ["actions", "verify", "chain"] and method == "POST":
            await self._verify(request, send)
            return
        if parts[:1] == ["actions"] and len(parts) == 3 and method == "POST":
            await self._act(request, send, parts[1], parts[2])
            return
        if method not in ("GET", "HEAD"):
            raise HttpError(405, "method_not_allowed", f"{method} is not allowed here")
        caller = await self.api.gate.caller(request)
        page: Callable[[Request, Caller], Awaitable[tuple[str, dict[str, Any]]]] | None = {
            (): self.pages.active,
            ("logs",): self.pages.logs,
            ("schedules",): self.pages.schedules,
            ("audit",): self.pages.audit,
            ("activity",): self.pages.activity,
        }.get(tuple(parts))
        if page is None and len(parts) == 2 and parts[0] == "runs":
            page = self.pages.run
        if page is None and parts == ["confirm"]:
            page = self.pages.confirm
        if parts == ["fragments", "active-rows"]:
            _, values = await self.pages.active(request, caller)
            back = "/?" + urlencode(
                {k: v for k, v in request.query.items() if k not in ("jobHandle", "minPosition")}
            )
            await self._render(send, "active_rows.html", request, caller, here=back, **values)
            return
        if parts == ["audit", "verification"]:
            _admins_only(caller)
            last = self.verifier.last
            await answer_json(send, 200, last.record() if last is not None else {"running": False})
            return
        if page is None:
            raise HttpError(404, "not_found", f"no page /{'/'.join(parts)}")
        template, values = await page(request, caller)
        await self._render(send, template, request, caller, **values)

    # --- sessions ---------------------------------------------------------------------------------

    async def _login_page(
        self, request: Request, send: Send, *, status: int = 200, message: str = "", nxt: str | None = None
    ) -> None:
        nxt = fmt.local_path(nxt if nxt is not None else request.text("next"))
        await self._render(send, "login.html", request, None, status=status, next=nxt, message=message)

    async def _log_in(self, request: Request, send: Send) -> None:
        form = await self._form(request)
        token = form.get("token", "").strip()
        gate = self.api.gate
        await gate.refresh(force=True)
        if not gate.enabled or gate.book.holder(token) is None:
            message = "this server runs without tokens" if not gate.enabled else "that token is not valid"
            await self._login_page(
                request, send, status=401 if gate.enabled else 400, message=message, nxt=form.get("next")
            )
            return
        await self._redirect(send, fmt.local_path(form.get("next")), session=token)

    async def _check_csrf(self, request: Request, form: dict[str, str]) -> str:
        """The session's token, once the form's CSRF token is the session's."""
        secret, _ = self.api.gate.secret_of(request)
        if form.get("csrf") != self.api.gate.csrf(secret):
            raise HttpError(
                403, "csrf", "this form has expired (or came from another site): load the page again"
            )
        return secret

    # --- actions ------------------------------------------------------------------------------------

    async def _act(self, request: Request, send: Send, action: str, handle: str) -> None:
        form = await self._form(request)
        secret = await self._check_csrf(request, form)
        if action not in ACTIONS:
            raise HttpError(404, "not_found", f"no action {action}")
        method, tail = ACTIONS[action]
        status, body = await self._call_api(method, wire.job_path(handle, tail), secret)
        if status >= 400:
            notice = f"{action} failed: {body['error']['message']}"
        elif action == "execute":
            notice = f"executed {handle}: run {body['state'].get('lastRunHandle')}"
        elif action == "delete":
            notice = f"deleted {handle}"  # (its state stays what it was; the flag says deleted)
        else:
            notice = (
                f"{action}: {handle} is now {body['state'].get('state') or body['state'].get('triggerState')}"
            )
        back = fmt.local_path(form.get("back"))
        path, _, query = back.partition("?")
        kept = [(key, value) for key, value in parse_qsl(query, keep_blank_values=True) if key != "notice"]
        await self._redirect(send, f"{path}?{urlencode([*kept, ('notice', notice)])}")  # (one notice)

    async def _verify(self, request: Request, send: Send) -> None:
        await self._check_csrf(request, await self._form(request))
        _admins_only(await self.api.gate.caller(request, form_checked=True))
        _, events = await self.api.digest()
        self.verifier.start(events)
        await self._redirect(send, "/audit")

    async def _call_api(self, method: str, path: str, secret: str) -> tuple[int, Any]:
        """One request to the API in this process, as a client would make it."""
        headers = [(b"content-type", b"application/json")]
        if secret:
            headers.append((b"authorization", f"Bearer {secret}".encode()))
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": headers,
        }
        given = False
        result: dict[str, Any] = {"status": 500, "body": b""}

        async def receive() -> dict[str, Any]:
            nonlocal given
            if given:
                return {"type": "http.disconnect"}
            given = True
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def capture(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                result["status"] = message["status"]
            else:
                result["body"] += message.get("body", b"")

        await self.api(scope, receive, capture)
        return int(result["status"]), msgspec.json.decode(result["body"] or b"{}")

    # --- answers ------------------------------------------------------------------------------------

    async def _render(
        self,
        send: Send,
        template: str,
        request: Request,
        caller: Caller | None,
        *,
        status: int = 200,
        here: str | None = None,
        with_csrf: bool = True,
        **values: Any,
    ) -> None:
        secret, _ = self.api.gate.secret_of(request)
        page = self.env.get_template(template).render(
            section=SECTIONS.get(template, ""),
            caller=caller,
            who=_who(caller, self.api.gate.enabled),
            status=status,
            csrf=self.api.gate.csrf(secret) if with_csrf else "",
            here=here if here is not None else _here(request),
            notice=request.text("notice") or "",
            auth=self.api.gate.enabled,
            **values,
        )
        await answer(send, status, page.encode(), HTML)

    async def _redirect(
        self, send: Send, to: str, *, session: str | None = None, clear: bool = False
    ) -> None:
        headers = [(b"location", to.encode()), (b"content-type", b"text/plain")]
        if session is not None:
            headers.append(
                (b"set-cookie", f"{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/".encode())
            )
        if clear:
            headers.append(
                (b"set-cookie", f"{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0".encode())
            )
        await answer(send, 303, b"", headers)

    async def _form(self, request: Request) -> dict[str, str]:
        body = await request.body()
        return {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}


def _admins_only(caller: Caller) -> None:
    if not caller.sees_all:
        raise HttpError(403, "forbidden", "only an IpsAdmin may verify the chain")


def _who(caller: Caller | None, auth: bool) -> str:
    if caller is None:
        return ""
    if caller.token is None:
        return "no tokens (IpsAdmin)" if not auth else ""
    name = f" {caller.token.name}" if caller.token.name else ""
    return f"{caller.token.role} of {caller.token.companyHandle}{name}"


def _here(request: Request) -> str:
    path = "/" + "/".join(quote(part, safe="") for part in request.segments)
    query = request.query_string
    return f"{path}?{query}" if query else path


def _handle_path(handle: str) -> str:
    return "/runs/" + _segment(handle)


def _segment(text: str) -> str:
    """`text` as one segment of a path: '/' escaped too (Jinja's urlencode leaves it)."""
    return quote(text, safe="")
