"""The load side of bench/serve.py, run as child processes: HTTP clients, or direct ledger writers.

    python bench/serve_load.py '<Config as JSON>'

A child prepares (opens its keep-alive connections, makes its jobs' bodies, for `logs` submits
and starts its jobs), prints "ready", waits for "go <deadline>" on stdin (a time.monotonic()
value, shared by every child of a run), runs until the deadline, writes one Result as JSON to a
temporary file and prints the file's name.
The CPU time it reports is its own (getrusage) from "go" to the end.

The HTTP client is asyncio (uvloop when importable) on raw streams: requests are written by hand
as HTTP/1.1 with keep-alive, answers are read as a status line, Content-Length and body (chunked
only for the event stream); many clients share one process and one event loop.

Modes:
- mix: each client drives its own jobs through the runner mix of bench/workload.py (submit,
  start, 5 progress updates, 10 log rows, complete), one command per request.
- logs: each client submits and starts one job, then posts arrays of `rows` job-log rows to it.
- sse: `subscribers` event streams (text/event-stream, from the current head) and a few writers
  posting the runner mix at `rate` commands/s in all; for each acknowledged command, the time
  from its send (and from its answer) to its arrival on each stream.
- direct: no server; one JobLedger writer (this process) drives its own jobs through the mix,
  one command per transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Coroutine
from typing import Any
from urllib.parse import quote

import msgspec
import workload

from jobledger.domain.commands import Command, Complete, LogDetail, Start, Submit, UpdateProgress
from jobledger.domain.payloads import payload_kind

TEMPLATES = 64  # job lifecycles per process, reused with fresh names
SAMPLES = 3  # error bodies kept per kind of error
GRACE_S = 60.0  # a run still going this long after its deadline is broken


class Config(msgspec.Struct, kw_only=True):
    """What one child does."""

    mode: str  # mix, logs, sse, direct
    port: int = 0
    db: str = ""  # direct: the ledger
    generator: int = 0  # this child's number among the run's children (names stay unique)
    clients: int = 1  # mix, logs: HTTP clients; sse: writers; direct: ignored (one writer)
    seed: int = 7
    rows: int = 100  # logs: rows per array
    subscribers: int = 10  # sse
    rate: float = 100.0  # sse: commands/s, all writers together


class Result(msgspec.Struct, kw_only=True):
    """What one child measured."""

    requests: int = 0  # answered with a 2xx (or, direct, commands that returned)
    events: int = 0  # commands made durable (an array of n log rows counts n)
    errors: dict[str, int] = msgspec.field(default_factory=dict)  # status code or exception: count
    samples: list[str] = msgspec.field(default_factory=list)  # a few error answers, as text
    latencies_ms: list[float] = msgspec.field(default_factory=list)  # of the 2xx answers
    started: float = 0.0  # time.monotonic() at go
    finished: float = 0.0  # time.monotonic() when the last answer was in
    cpu_s: float = 0.0  # this process's CPU time from go to finished
    from_send_ms: list[float] = msgspec.field(default_factory=list)  # sse: send to arrival
    from_answer_ms: list[float] = msgspec.field(default_factory=list)  # sse: answer to arrival
    missing: int = 0  # sse: (event, stream) pairs never seen
    streamed: int = 0  # sse: events acknowledged to the writers
    setup_events: int = 0  # logs: events of the set-up (submit and start), before go


class Answer(msgspec.Struct):
    """The two fields of a command's answer the load needs (the rest is skipped by the decoder)."""

    jobHandle: str
    position: int


_answer = msgspec.json.Decoder(Answer).decode
_encode = msgspec.json.Encoder().encode


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- the workload as HTTP bodies ----------------------------------------------------------------


def log_row(command: LogDetail) -> dict[str, Any]:
    """A JobLogDetail body of one LogDetail command."""
    row: dict[str, Any] = {"logType": command.log_type, "logMessage": command.message}
    if command.asset_name is not None:
        row["assetName"] = command.asset_name
    if command.asset_type is not None:
        row["assetType"] = command.asset_type
    if command.asset_handle is not None:
        row["assetHandle"] = command.asset_handle
    if command.aux:
        row["auxArray"] = command.aux
    return row


def step_body(command: Command) -> tuple[bytes, bytes]:
    """The action (path suffix) and JSON body of one command after the submit."""
    match command:
        case Start():
            return b"start", _encode({"serverName": command.server, "totalSize": command.total_size})
        case UpdateProgress():
            body = {
                "progress": command.percent,
                "progressMessage": command.message,
                "taskProgressArray": command.tasks,
            }
            return b"progress", _encode(body)
        case LogDetail():
            return b"log", _encode(log_row(command))
        case Complete():
            return b"complete", _encode({"fatalError": command.fatal, "message": command.message})
    raise TypeError(f"no HTTP body for {type(command).__name__}")


class Job:
    """One job's lifecycle as HTTP bodies: the submit (named per use) and the 17 steps after it."""

    def __init__(self, commands: list[Command]) -> None:
        submit = commands[0]
        if not isinstance(submit, Submit):
            raise TypeError("a lifecycle starts with a Submit")
        self.commands = commands
        self.task = submit.name.rsplit("-", 1)[0]
        self.submit: dict[str, Any] = {
            "companyHandle": submit.company,
            "jobName": "",
            payload_kind(submit.payload): submit.payload,
            "locale": submit.locale,
            "description": submit.description,
            "submitUserEmail": submit.user_email,
        }
        self.steps = [step_body(command) for command in commands[1:]]
        self.rows = [log_row(command) for command in commands if isinstance(command, LogDetail)]

    def submit_body(self, name: str) -> bytes:
        self.submit["jobName"] = name
        return _encode(self.submit)


def templates(config: Config) -> list[Job]:
    rng = random.Random(config.seed * 1000 + config.generator)
    return [Job(workload.lifecycle(rng, index)) for index in range(TEMPLATES)]


# --- HTTP/1.1 on raw asyncio streams -------------------------------------------------------------


class ProtocolError(Exception):
    """An answer this client does not understand."""


class Http:
    """One keep-alive connection to the server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 22)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def call(
        self, method: bytes, path: bytes, body: bytes = b"", headers: bytes = b""
    ) -> tuple[int, bytes]:
        """Send one request and read its whole answer: (status, body)."""
        if self.writer is None:
            await self.connect()
        reader, writer = self.reader, self.writer
        assert reader is not None and writer is not None
        writer.write(
            b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n%s\r\n" % (method, path, len(body), headers) + body
        )
        if len(body) > 65536:
            await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        return int(head[9:12]), await self.read_body(head.lower())

    async def read_body(self, head: bytes) -> bytes:
        assert self.reader is not None
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            length = int(head[at + 17 : head.index(b"\r\n", at + 2)])
            data = await self.reader.readexactly(length) if length else b""
        elif b"\r\ntransfer-encoding: chunked" in head:
            parts = []
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                parts.append((await self.reader.readexactly(size + 2))[:-2])
            await self.reader.readuntil(b"\r\n")
            data = b"".join(parts)
        else:
            raise ProtocolError(f"an answer without a length: {head[:200]!r}")
        if b"\r\nconnection: close" in head:
            self.close()
        return data


class Client:
    """One HTTP client: its connection and the process's shared tallies."""

    def __init__(self, port: int, result: Result, errors: Counter[str]) -> None:
        self.http = Http(port)
        self.result = result
        self.errors = errors

    async def send(self, method: bytes, path: bytes, body: bytes, events: int = 1) -> bytes | None:
        """One timed request; its answer's body if 2xx, else None (the error is counted)."""
        sent = time.perf_counter()
        try:
            status, data = await self.http.call(method, path, body)
        except (
            OSError,
            EOFError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ProtocolError,
        ) as err:
            self.http.close()
            self.error(type(err).__name__, str(err))
            return None
        if 200 <= status < 300:
            self.result.latencies_ms.append((time.perf_counter() - sent) * 1000)
            self.result.requests += 1
            self.result.events += events
            return data
        self.error(str(status), data.decode(errors="replace")[:300])
        return None

    def error(self, kind: str, text: str) -> None:
        self.errors[kind] += 1
        if sum(1 for sample in self.result.samples if sample.startswith(f"{kind}:")) < SAMPLES:
            self.result.samples.append(f"{kind}: {text}")


def job_path(handle: str) -> bytes:
    return b"/v1/jobs/%s/" % quote(handle, safe="").encode()


async def drive_jobs(client: Client, jobs: list[Job], name: str, deadline: float, *, first: int) -> None:
    """The runner mix, one job after another, until the deadline (the job under way is left)."""
    number = 0
    while time.monotonic() < deadline:
        job = jobs[(first + number) % len(jobs)]
        answer = await client.send(b"POST", b"/v1/jobs", job.submit_body(f"{job.task}-{name}-{number:06d}"))
        number += 1
        if answer is None:
            continue
        base = job_path(_answer(answer).jobHandle)
        for action, body in job.steps:
            if time.monotonic() >= deadline:
                return
            await client.send(b"POST", base + action, body)


async def post_logs(
    client: Client, path: bytes, arrays: list[bytes], rows: int, deadline: float, *, first: int
) -> None:
    number = first
    while time.monotonic() < deadline:
        await client.send(b"POST", path, arrays[number % len(arrays)], events=rows)
        number += 1


# --- the event stream ----------------------------------------------------------------------------


class Subscriber:
    """One SSE stream; when each event id (position) arrived."""

    def __init__(self, port: int) -> None:
        self.http = Http(port)
        self.seen: dict[int, float] = {}
        self.last = 0
        self.moved = asyncio.Event()

    async def open(self, after: int) -> None:
        await self.http.connect()
        assert self.http.reader is not None and self.http.writer is not None
        self.http.writer.write(
            b"GET /v1/events?after=%d HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
            % after
        )
        head = (await self.http.reader.readuntil(b"\r\n\r\n")).lower()
        if int(head[9:12]) != 200 or b"transfer-encoding: chunked" not in head:
            raise ProtocolError(f"the event stream did not open: {head[:300]!r}")

    async def listen(self) -> None:
        reader = self.http.reader
        assert reader is not None
        buffer = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            data = await reader.readexactly(size + 2)
            now = time.perf_counter()
            *blocks, buffer = (buffer + data[:-2]).split(b"\n\n")
            for block in blocks:
                if block.startswith(b"id: "):
                    position = int(block[4 : block.index(b"\n")])
                    self.seen[position] = now
                    self.last = max(self.last, position)
            self.moved.set()

    async def reach(self, position: int) -> None:
        while self.last < position:
            self.moved.clear()
            await self.moved.wait()


async def head_position(port: int) -> int:
    http = Http(port)
    try:
        status, text = await http.call(b"GET", b"/metrics")
    finally:
        http.close()
    if status != 200:
        raise ProtocolError(f"/metrics answered {status}")
    for line in text.decode().splitlines():
        if line.startswith("jobledger_head_position "):
            return int(float(line.split()[1]))
    raise ProtocolError("/metrics has no jobledger_head_position")


async def paced_writer(
    client: Client,
    jobs: list[Job],
    name: str,
    interval: float,
    deadline: float,
    acked: list[tuple[int, float, float]],
) -> None:
    """The runner mix at one command per `interval` seconds; (position, sent, answered) of each."""
    number = 0
    upcoming = time.perf_counter() + random.random() * interval
    handle_path = b""
    steps: list[tuple[bytes, bytes]] = []
    while time.monotonic() < deadline:
        pause = upcoming - time.perf_counter()
        if pause > 0:
            await asyncio.sleep(pause)
        upcoming = max(upcoming + interval, time.perf_counter())
        if not steps:
            job = jobs[number % len(jobs)]
            path, body = b"/v1/jobs", job.submit_body(f"{job.task}-{name}-{number:06d}")
            number += 1
        else:
            action, body = steps.pop(0)
            path = handle_path + action
        sent = time.perf_counter()
        data = await client.send(b"POST", path, body)
        answered = time.perf_counter()
        if data is None:
            steps = []
            continue
        answer = _answer(data)
        acked.append((answer.position, sent, answered))
        if path == b"/v1/jobs":
            handle_path = job_path(answer.jobHandle)
            steps = list(jobs[(number - 1) % len(jobs)].steps)


# --- a run ---------------------------------------------------------------------------------------


async def wait_for_go() -> float:
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    word, _, deadline = line.partition(" ")
    if word != "go":
        raise SystemExit(f"expected 'go <deadline>', got {line!r}")
    return float(deadline)


def gather(*work: Coroutine[Any, Any, None]) -> asyncio.Future[list[None]]:
    return asyncio.gather(*work)


async def run_http(config: Config) -> Result:
    result, errors = Result(), Counter[str]()
    jobs = templates(config)
    clients = [Client(config.port, result, errors) for _ in range(config.clients)]
    names = [f"g{config.generator}c{number:03d}" for number in range(config.clients)]
    subscribers: list[Subscriber] = []
    listening: list[asyncio.Future[None]] = []
    acked: list[tuple[int, float, float]] = []
    paths: list[bytes] = []
    arrays: list[bytes] = []
    await gather(*(client.http.connect() for client in clients))
    if config.mode == "logs":
        pool = [row for job in jobs for row in job.rows]
        for number, client in enumerate(clients):
            job = jobs[number % len(jobs)]
            answer = await client.send(
                b"POST", b"/v1/jobs", job.submit_body(f"{job.task}-{names[number]}-logs")
            )
            if answer is None:
                raise SystemExit(f"could not submit the job of log client {number}: {result.samples}")
            paths.append(job_path(_answer(answer).jobHandle))
            if await client.send(b"POST", paths[-1] + b"start", _encode({"serverName": "bench"})) is None:
                raise SystemExit(f"could not start the job of log client {number}: {result.samples}")
        arrays = [
            _encode([pool[(start + n) % len(pool)] for n in range(config.rows)])
            for start in range(0, 8 * config.rows, config.rows)
        ]
        result.setup_events, result.requests, result.events = result.events, 0, 0  # not measured
        result.latencies_ms.clear()
    if config.mode == "sse":
        after = await head_position(config.port)
        subscribers = [Subscriber(config.port) for _ in range(config.subscribers)]
        await gather(*(subscriber.open(after) for subscriber in subscribers))
        listening = [asyncio.ensure_future(subscriber.listen()) for subscriber in subscribers]
    deadline = await wait_for_go()
    result.started, cpu = time.monotonic(), cpu_seconds()
    if config.mode == "mix":
        work = [
            drive_jobs(client, jobs, names[number], deadline, first=number * 7)
            for number, client in enumerate(clients)
        ]
    elif config.mode == "logs":
        work = [
            post_logs(client, paths[number] + b"log", arrays, config.rows, deadline, first=number)
            for number, client in enumerate(clients)
        ]
    elif config.mode == "sse":
        interval = config.clients / config.rate
        work = [
            paced_writer(client, jobs, names[number], interval, deadline, acked)
            for number, client in enumerate(clients)
        ]
    else:
        raise SystemExit(f"unknown mode {config.mode}")
    await asyncio.wait_for(gather(*work), deadline - time.monotonic() + GRACE_S)
    result.finished = time.monotonic()
    if config.mode == "sse":
        last = max((position for position, _, _ in acked), default=0)
        with contextlib.suppress(TimeoutError):  # what never came is counted as missing
            await asyncio.wait_for(gather(*(subscriber.reach(last) for subscriber in subscribers)), 10)
        for task in listening:
            task.cancel()
        result.streamed = len(acked)
        for position, sent, answered in acked:
            for subscriber in subscribers:
                arrived = subscriber.seen.get(position)
                if arrived is None:
                    result.missing += 1
                else:
                    result.from_send_ms.append((arrived - sent) * 1000)
                    result.from_answer_ms.append((arrived - answered) * 1000)
        for subscriber in subscribers:
            subscriber.http.close()
    result.cpu_s = cpu_seconds() - cpu
    for client in clients:
        client.http.close()
    result.errors = dict(errors)
    return result


def run_direct(config: Config) -> Result:
    """One JobLedger writer driving its own jobs through the mix, one command per transaction."""
    from append import method_driver  # the bench's command -> JobLedger method mapping

    from jobledger.domain.errors import LedgerError
    from jobledger.service.ledger import JobLedger

    result, errors = Result(), Counter[str]()
    rng = random.Random(config.seed * 1000 + config.generator)
    lifecycles = [workload.lifecycle(rng, index) for index in range(TEMPLATES)]
    ledger = JobLedger(config.db)
    drive = method_driver(ledger)
    latencies = result.latencies_ms

    def timed(command: Command) -> object:
        sent = time.perf_counter()
        try:
            outcome = drive(command)
        except LedgerError as err:
            errors[type(err).__name__] += 1
            if len(result.samples) < SAMPLES:
                result.samples.append(f"{type(err).__name__}: {err}")
            return None
        latencies.append((time.perf_counter() - sent) * 1000)
        return outcome

    deadline = asyncio.run(wait_for_go())
    result.started, cpu = time.monotonic(), cpu_seconds()
    number = 0
    while time.monotonic() < deadline:
        commands = lifecycles[number % len(lifecycles)]
        submit = commands[0]
        assert isinstance(submit, Submit)
        task = submit.name.rsplit("-", 1)[0]
        handle = timed(msgspec.structs.replace(submit, name=f"{task}-d{config.generator}-{number:06d}"))
        number += 1
        if not isinstance(handle, str):
            continue
        for command in commands[1:]:
            if time.monotonic() >= deadline:
                break
            timed(msgspec.structs.replace(command, handle=handle))
    result.finished = time.monotonic()
    result.cpu_s = cpu_seconds() - cpu
    ledger.close()
    result.requests = result.events = len(latencies)
    result.errors = dict(errors)
    return result


def main() -> None:
    config = msgspec.json.decode(sys.argv[1], type=Config)
    if config.mode == "direct":
        result = run_direct(config)
    else:
        try:
            import uvloop
        except ImportError:
            result = asyncio.run(run_http(config))
        else:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                result = runner.run(run_http(config))
    # The result goes to a file, its name to stdout: a result longer than a pipe holds (64 KiB of
    # latencies) came through cut short now and then, with the child exiting 0.
    with tempfile.NamedTemporaryFile("wb", prefix="serve-load-", suffix=".json", delete=False) as out:
        out.write(msgspec.json.encode(result))
    print(out.name, flush=True)


if __name__ == "__main__":
    main()
