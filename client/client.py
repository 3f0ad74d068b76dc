"""`Client`: JobLedger's methods and return types, answered by `jobledger serve` over HTTP.

A runner switches from the embedded ledger to a server by changing one line:

    ledger = JobLedger("jobledger.db")                         # in process
    ledger = Client("http://ledger:8080", token=os.environ["JOBLEDGER_TOKEN"])  # over HTTP

Commands are validated here first, as the ledger validates them (a wrong type never leaves the
process), then sent as the API's JSON bodies (server/wire.py) on one kept-alive connection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import msgspec

from jobledger.domain.access import Token, TokenBook
from jobledger.domain.aggregates import Aggregate
from jobledger.domain.commands import (
    Command,
    Complete,
    Delete,
    Execute,
    Fire,
    JobCommand,
    LogDetail,
    Pause,
    RequestStop,
    Resume,
    Start,
    Submit,
    UpdateProgress,
)
from jobledger.domain.errors import LedgerError, RuleError, UnknownHandleError
from jobledger.domain.events import DomainEvent
from jobledger.domain.handles import company_of
from jobledger.domain.job import Job
from jobledger.domain.payloads import payload_kind
from jobledger.domain.schedule import Schedule
from jobledger.domain.validation import validate, validate_batch
from jobledger.server import wire
from jobledger.server.wire import job_path
from jobledger.service.batch import Outcomes
from jobledger.service.commanding import Commands, Submission
from jobledger.service.records import payload_record
from jobledger.service.tokens import IssuedToken, UnknownTokenError

from . import states
from .connection import TIMEOUT_S, Connection, EventStream, error_from

Params = Mapping[str, str | int | bool | datetime | list[str] | None]


class Client(Commands):
    """A ledger served by `jobledger serve` at `url`, reached with a bearer `token`."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = TIMEOUT_S) -> None:
        self.url = url
        self._http = Connection(url, token, timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (a later call opens it again)."""
        self._http.close()

    # --- reads -----------------------------------------------------------------------------------

    def get(self, handle: str, company: str | None = None) -> Aggregate:
        """The current state of a run or schedule."""
        return states.aggregate(self.get_json(_path(handle, company), {"companyHandle": company})["job"])

    def history(self, handle: str, company: str | None = None, limit: int | None = None) -> list[DomainEvent]:
        """Every event of a run or schedule, in order (the first `limit`, if given)."""
        params: Params = {"companyHandle": company, "limit": limit}
        answer = self.get_json(_path(handle, company, "history"), params)
        return [states.event(record, handle) for record in answer["events"]]

    def _state_at(
        self, handle: str, as_of: datetime | None, version: int | None, company: str | None
    ) -> Aggregate:
        params: Params = {"asOf": as_of, "version": version, "companyHandle": company}
        return states.aggregate(self.get_json(_path(handle, company), params)["job"])

    def head_position(self) -> int:
        """Position of the last stored event (0 for an empty ledger)."""
        return int(self.get_json("/v1/position")["position"])

    def event_count(self) -> int:
        """How many events the ledger holds (an IpsAdmin token: it counts every company's)."""
        return int(self.get_json("/v1/audit/digest")["events"])

    def get_json(self, path: str, params: Params | None = None) -> Any:
        """A GET of the API (query parameters with the IPS names), its JSON answer."""
        return self._http.json("GET", path + _query(params or {}))

    def get_text(self, path: str, params: Params | None = None) -> str:
        """A GET whose answer is not JSON (the NDJSON of /v1/events)."""
        return self._http.request("GET", path + _query(params or {}))[1].decode()

    def event_stream(self, params: Params | None = None) -> EventStream:
        """The live event stream (`/v1/events` as SSE) from `params["after"]` on."""
        return self._http.stream("/v1/events" + _query(params or {}))

    # --- tokens ----------------------------------------------------------------------------------

    def create_token(self, company: str, role: str, *, name: str = "") -> IssuedToken:
        """Issue a token (the server's IpsAdmin, or IpsCompanyAdmin of `company`)."""
        body = wire.CreateToken(companyHandle=company, role=role, name=name)
        answer = self._http.json("POST", "/v1/tokens", body)
        return IssuedToken(answer.pop("token"), msgspec.convert(answer, Token))

    def revoke_token(self, token_id: str, *, company: str | None = None) -> Token:
        """Revoke a token by its id (of `company` only, when given)."""
        if token_id == "":
            raise UnknownTokenError(token_id, company)  # a path without it would name no token
        path = f"/v1/tokens/{quote(token_id, safe='')}" + _query({"companyHandle": company})
        return msgspec.convert(self._http.json("DELETE", path), Token)

    def tokens(self, book: TokenBook | None = None) -> TokenBook:
        """Every token the caller may see (revoked ones too); never a secret or its hash."""
        listed = TokenBook()
        for record in self.get_json("/v1/tokens", {"all": True})["tokenArray"]:
            token = msgspec.convert(record, Token)
            listed.by_id[token.tokenId] = token
        return listed

    # --- how a command is sent -----------------------------------------------------------------

    def _submit(self, command: Submit) -> Submission:
        checked = validate(command)
        assert isinstance(checked, Submit)
        body, key = _submit_body(checked)
        status, data = self._http.request(
            "POST",
            "/v1/jobs",
            msgspec.json.encode(body),
            # (as UTF-8 bytes: http.client writes a header's text as Latin-1)
            {"idempotency-key": key.encode().decode("latin-1")} if key is not None else None,
        )
        # 201 made a new run or schedule; 200 replayed the submit that first used the key.
        return Submission(msgspec.json.decode(data)["jobHandle"], status == 200)

    # --- batches ---------------------------------------------------------------------------------

    def record(self, commands: Sequence[Command]) -> list[Aggregate]:
        """Record a batch of commands in order in one transaction of the server's: every one, or
        (on the first broken rule) none. Returns the state after each command. At most MAX_BATCH
        commands (the server's bound on a request): more raise InvalidFieldError."""
        items = [_item(command, index) for index, command in enumerate(validate_batch(commands), 1)]
        if not items:
            return []  # nothing to record (the API takes no empty batch)
        answer = self._http.json("POST", "/v1/batch", {"atomic": True, "commands": items})
        return [states.aggregate(record) for record in answer["states"]]

    def record_each(self, commands: Sequence[Command]) -> Outcomes:
        """Record independent commands in one group commit of the server's: a command that breaks
        a rule, or is invalid, fails alone. Each command's state or error, the position of its
        last event (0: none) and whether it replayed an earlier submit. More than the server takes
        in one request (MAX_BATCH) go in requests of that many."""
        count = len(commands)
        outcomes: list[Aggregate | LedgerError | None] = [None] * count
        positions, replayed = [0] * count, [False] * count
        items, sent = [], []
        for index, command in enumerate(commands):
            try:
                items.append(_item(validate(command), index + 1))
                sent.append(index)
            except LedgerError as err:  # refused here as the server would refuse it: it fails alone
                outcomes[index] = err
        results = []
        for start in range(0, len(items), wire.MAX_BATCH):  # (each stands alone: pieces change nothing)
            piece = items[start : start + wire.MAX_BATCH]
            results += self._http.json("POST", "/v1/batch", {"atomic": False, "commands": piece})["results"]
        for index, result in zip(sent, results, strict=True):
            if "error" in result:
                outcomes[index] = error_from(int(result["status"]), msgspec.json.encode(result))
            else:
                outcomes[index] = states.aggregate(result["state"])
                positions[index] = int(result["position"])
                replayed[index] = bool(result["replayed"])
        return Outcomes([outcome for outcome in outcomes if outcome is not None], positions, replayed)

    def _execute(self, command: Execute) -> str:
        schedule = states.aggregate(self._send(command)["state"])
        assert isinstance(schedule, Schedule) and schedule.lastRunHandle is not None
        return schedule.lastRunHandle  # the run this execute made

    def _any(self, command: Command) -> Aggregate:
        return states.aggregate(self._send(command)["state"])

    def _one(self, command: Command) -> Job:
        state = self._any(command)
        assert isinstance(state, Job)
        return state

    def _schedule(self, command: Command) -> Schedule:
        state = self._any(command)
        assert isinstance(state, Schedule)
        return state

    def _send(self, command: Command) -> Any:
        checked = validate(command)
        assert isinstance(checked, JobCommand)
        handle = checked.handle
        if checked.company is not None and company_of(handle) != checked.company:
            raise UnknownHandleError(handle, checked.company)
        action, body = _body(checked)
        method = "DELETE" if action == "" else "POST"
        return self._http.json(method, _path(handle, checked.company, action), _present(body))


def _path(handle: str, company: str | None, action: str = "") -> str:
    """The API path of a run or schedule; an empty handle, which a path cannot hold, names none."""
    if handle == "":
        raise UnknownHandleError(handle, company)
    return job_path(handle, action)


def _submit_body(command: Submit) -> tuple[dict[str, Any], str | None]:
    """The POST /v1/jobs body (IPS names) of a checked Submit, and its idempotency key."""
    kind = payload_kind(command.payload)
    body = {
        "companyHandle": command.company,
        "jobName": command.name,
        kind: payload_record(command.payload),
        "execTime": command.exec_time,
        "execSchedule": command.exec_schedule,
        "timeZone": command.time_zone,
        "locale": command.locale,
        "description": command.description,
        "submitUserEmail": command.user_email,
        "at": command.at,
    }
    return _present(body), command.idempotency_key


def _item(command: Command, index: int) -> dict[str, Any]:
    """A checked command as an item of POST /v1/batch."""
    if isinstance(command, Submit):
        body, key = _submit_body(command)
        return _present({"action": "submit", "body": body, "idempotencyKey": key})
    if isinstance(command, Fire) or not isinstance(command, JobCommand):
        raise RuleError(
            f"command {index} ({type(command).__name__}): a server's schedules fire on its own"
            " scheduler; use execute to run one now"
        )
    if command.company is not None and company_of(command.handle) != command.company:
        raise UnknownHandleError(command.handle, command.company)
    action, body = _body(command)
    return {"action": action or "delete", "jobHandle": command.handle, "body": _present(body)}


def _body(command: JobCommand) -> tuple[str, dict[str, Any]]:
    """The action path and JSON body (IPS names) of a command on a run or schedule."""
    at = {"at": command.at}
    if isinstance(command, Start):
        return "start", {"serverName": command.server, "totalSize": command.total_size, **at}
    if isinstance(command, UpdateProgress):
        return "progress", {
            "progress": command.percent,
            "progressMessage": command.message,
            "taskProgressArray": command.tasks,
            "serverName": command.server,
            **at,
        }
    if isinstance(command, LogDetail):
        return "log", {
            "logType": command.log_type,
            "logMessage": command.message,
            "assetName": command.asset_name,
            "assetType": command.asset_type,
            "assetHandle": command.asset_handle,
            "auxArray": command.aux,
            **at,
        }
    if isinstance(command, Complete):
        return "complete", {
            "fatalError": command.fatal,
            "message": command.message,
            "counters": command.counters,
            **at,
        }
    if isinstance(command, RequestStop):
        return "stop", {"reason": command.reason, "requestedBy": command.requested_by, **at}
    if isinstance(command, Pause | Resume | Delete):
        action = {Pause: "pause", Resume: "resume", Delete: ""}[type(command)]
        return action, {"requestedBy": command.requested_by, **at}
    if isinstance(command, Execute):
        return "execute", at
    raise TypeError(f"{type(command).__name__} cannot be sent to a server")


def _present(body: dict[str, Any]) -> dict[str, Any]:
    # Absent, not null: the API's fields default as the ledger's arguments do.
    return {key: value for key, value in body.items() if value is not None}


def _query(params: Params) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None or value is False:
            continue
        for one in value if isinstance(value, list) else [value]:
            text = one.isoformat() if isinstance(one, datetime) else "true" if one is True else str(one)
            pairs.append((key, text))
    return f"?{urlencode(pairs)}" if pairs else ""
