"""The bare ASGI plumbing: a request's parts, its body, and answers (JSON, text, streams).

No framework sits on the command path (reference/serve-stack.md: a framework's own CPU per request
would cost more than group commit saves); this is the little of one the API needs.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import parse_qs, unquote

import msgspec

from jobledger.domain.limits import TIME_RANGE, outside

from .errors import HttpError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 8 * 1024 * 1024  # bytes: a log array of 1,000 rows with long messages fits
MAX_INTEGER = 2**63 - 1  # the largest integer a query parameter (and SQLite) holds
JSON = [(b"content-type", b"application/json")]
_encode = msgspec.json.Encoder().encode


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
BROKEN_PATH = "the path's percent-encoding is broken (% and two hex digits, of UTF-8 bytes)"


# A runner sends a run's handle (percent-encoded: it holds '|') with each of its commands.
@lru_cache(maxsize=4096)
def _unquote(part: str) -> str | None:
    """A path segment percent-decoded (UTF-8), or None if its escapes are broken."""
    if _BAD_ESCAPE.search(part):
        return None
    try:
        return unquote(part, errors="strict")
    except UnicodeDecodeError:
        return None


def declared_size(headers: list[tuple[bytes, bytes]]) -> int:
    """The body size a request's Content-Length says (0 if it says none, or no number)."""
    declared = next((value for name, value in headers if name.lower() == b"content-length"), b"")
    return int(declared) if declared.isdigit() else 0


def body_too_large() -> HttpError:
    """The 413 of a body that went past MAX_BODY as it came."""
    return HttpError(413, "too_large", f"a body over {MAX_BODY:,} bytes")


class Request:
    """One request: method, path segments (percent-decoded one by one), query, headers."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.method: str = scope["method"]
        raw = scope.get("raw_path") or scope["path"].encode()
        # Split before decoding: a handle may hold '|' (sent as %7C or as is) or even '%2F'.
        parts = [part for part in raw.split(b"?", 1)[0].decode("latin-1").split("/") if part]
        self.bad_path = False  # an escape that is not %XX, or not UTF-8: the API's 400
        for index, part in enumerate(parts):
            if "%" in part:
                done = _unquote(part)
                if done is None:
                    self.bad_path = True
                else:
                    parts[index] = done
        self.segments = parts
        self.query_string: str = scope["query_string"].decode("latin-1")
        self._scope = scope
        self._receive = receive

    # The query and the headers are read when asked for: a command reads neither query nor most
    # headers, and the server's one core spends what every request costs.

    @cached_property
    def lists(self) -> dict[str, list[str]]:
        """Every value of each query parameter (a bare `?name` or `name=` gives "")."""
        return parse_qs(self.query_string, keep_blank_values=True)

    @cached_property
    def query(self) -> dict[str, str]:
        """The last value of each query parameter."""
        return {key: values[-1] for key, values in self.lists.items()}

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers as they came: names and values as bytes, in order, repeats kept."""
        headers: list[tuple[bytes, bytes]] = self._scope["headers"]
        return headers

    @cached_property
    def headers(self) -> dict[str, str]:
        """The headers by lower-case name (the last of a repeated one)."""
        return {
            key.decode("latin-1").lower(): value.decode("latin-1") for key, value in self._scope["headers"]
        }

    async def body(self) -> bytes:
        """The whole body; 413 past MAX_BODY."""
        declared = declared_size(self._scope["headers"])
        if declared > MAX_BODY:
            raise HttpError(413, "too_large", f"a body of {declared:,} bytes is over {MAX_BODY:,}")
        chunks = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise HttpError(400, "disconnected", "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                raise body_too_large()
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def disconnected(self) -> None:
        """Return once the client has gone (for a stream, after its request body was read)."""
        while (await self._receive())["type"] != "http.disconnect":
            pass

    # --- query parameters, checked ---------------------------------------------------------------

    def text(self, name: str, *aliases: str) -> str | None:
        """A text parameter, if given (under its name, or else one of its aliases)."""
        return next((value for key in (name, *aliases) if (value := self.query.get(key))), None)

    def integer(
        self, name: str, default: int | None = None, *, least: int = 0, most: int = MAX_INTEGER
    ) -> int | None:
        """An integer parameter in least..most."""
        value = self.query.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise HttpError(400, "bad_query", f"{name} must be an integer, got {value!r}") from None
        if not least <= number <= most:
            raise HttpError(400, "bad_query", f"{name} must be between {least} and {most:,}, got {number}")
        return number

    def flag(self, name: str) -> bool | None:
        """A boolean parameter (true/false/1/0; given bare, `?name`, it is true)."""
        value = self.query.get(name)
        if value is None:
            return None
        if value == "":
            return True
        if value.lower() in ("true", "1", "yes"):
            return True
        if value.lower() in ("false", "0", "no"):
            return False
        raise HttpError(400, "bad_query", f"{name} must be true or false, got {value!r}")

    def moment(self, name: str) -> datetime | None:
        """An ISO 8601 time parameter."""
        value = self.query.get(name)
        if not value:
            return None
        try:  # (as the CLI's options read a time: a date alone is its midnight)
            moment = datetime.fromisoformat(value.replace(" ", "+").strip())
        except ValueError:
            raise HttpError(400, "bad_query", f"{name} must be an ISO 8601 time, got {value!r}") from None
        if outside(moment):  # (in the CLI's words for its options)
            raise HttpError(400, "bad_query", f"{name} {value!r} is out of range: times go from {TIME_RANGE}")
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    def choice(self, name: str, choices: tuple[str, ...] | list[str], default: str) -> str:
        """One of a fixed set of values."""
        value = self.query.get(name) or default
        if value not in choices:
            raise HttpError(400, "bad_query", f"{name} must be one of {', '.join(choices)}; got {value!r}")
        return value


async def answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A whole answer."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *(headers if headers is not None else JSON),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def answer_json(
    send: Send, status: int, value: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A JSON answer (`headers`: its own, content-type included)."""
    await answer(send, status, _encode(value), headers)
