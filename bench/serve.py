"""`jobledger serve` under load: durable commands/s, latency and group sizes, against baselines
measured in the same run.

Run by hand, for example:

    python bench/serve.py --quick
    python bench/serve.py                          # 5 s a level
    python bench/serve.py --parts sqlite --clients 64 --duration 10

Each level starts a fresh `jobledger serve --no-auth` on a free port (a fresh ledger in a temp
folder, or a fresh PostgreSQL schema), waits for /healthz, runs the load, stops the server with
SIGTERM (it must exit 0) and checks that the ledger holds exactly as many events as commands were
acknowledged. The load comes from child processes (bench/serve_load.py: asyncio streams, uvloop,
hand-written HTTP/1.1 with keep-alive), each running many clients.

1. SQLite: C clients (--clients, default 1 16 64 256), one command per request, each client driving
   its own jobs through the runner mix of bench/workload.py (submit, start, 5 progress updates,
   10 log rows, complete). Durable commands/s, p50/p99 latency, the mean group size from /metrics
   (jobledger_group_commands), the writer's busy time (jobledger_group_commit_seconds), the
   server's CPU (/proc/<pid>/stat) and the load generator's CPU per request (getrusage). The
   64-client level is run again split over --generators processes: the same rate within noise
   shows the generator was not the limit. Baseline: raw sqlite3 (bench/append.py's RawWriter: WAL,
   synchronous=FULL, eventsourcing's stored_events shape) committing one row per transaction,
   measured before and after the levels. Targets at 64 clients: 1.5x raw, p99 under 50 ms.
2. PostgreSQL (--postgres, or JOBLEDGER_TEST_POSTGRES): the server (views in a SQLite file) with
   64 clients, against 8 JobLedger writer processes on one ledger, each driving its own jobs
   through the same mix, one command per transaction. Fresh schemas, dropped at the end. Target:
   5x the writers' rate.
3. POST /log with arrays of --log-rows rows from --log-clients clients: events/s against raw
   executemany of as many rows per transaction (the ledger's DetailLogged rows). Target 0.3.
4. SSE: --subscribers streams on /v1/events from the current head, writers posting the mix at
   --sse-rate commands/s; for each acknowledged command, the time from its send (and from its
   answer) to its arrival on each stream, matched by position. Target: p99 at most 100 ms.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import msgspec
import workload
from append import RawWriter, Row, describe_environment, reference_rows
from serve_load import Config, Result

from jobledger.service.ledger import JobLedger

LOAD = Path(__file__).with_name("serve_load.py")
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
RAW_RATIO_TARGET = 1.5  # the server's commands/s at 64 clients over raw one-row commits/s
P99_TARGET_MS = 50.0
POSTGRES_TARGET = 5.0  # the server on PostgreSQL over 8 direct writers
LOG_TARGET = 0.3  # /log arrays over raw executemany of the same rows per transaction
SSE_P99_TARGET_MS = 100.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- figures -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile of sorted values (nearest rank); NaN for none."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


@dataclass
class Load:
    """What the children of one run measured, put together."""

    results: list[Result]
    wall: float  # first child's go to last child's end
    server_cpu: float = 0.0  # seconds, over `window`
    window: float = 0.0  # wall seconds over which server_cpu and the metrics deltas were taken
    metrics: dict[str, float] = field(default_factory=dict)  # deltas over the run

    @property
    def events(self) -> int:
        return sum(r.events for r in self.results)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)

    @property
    def acknowledged(self) -> int:
        """Events the ledger must hold from this run (set-up included)."""
        return self.events + sum(r.setup_events for r in self.results)

    @property
    def rate(self) -> float:
        return self.events / self.wall

    @property
    def errors(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for r in self.results:
            total.update(r.errors)
        return total

    @property
    def latencies(self) -> list[float]:
        return sorted(x for r in self.results for x in r.latencies_ms)

    @property
    def generator_cpu(self) -> float:
        return sum(r.cpu_s for r in self.results)

    def group_mean(self) -> float:
        count = self.metrics.get("jobledger_group_commands_count", 0.0)
        return self.metrics.get("jobledger_group_commands_sum", 0.0) / count if count else float("nan")

    def groups(self) -> float:
        return self.metrics.get("jobledger_group_commands_count", 0.0)

    def commit_ms(self) -> float:
        count = self.metrics.get("jobledger_group_commit_seconds_count", 0.0)
        seconds = self.metrics.get("jobledger_group_commit_seconds_sum", 0.0)
        return seconds / count * 1000 if count else float("nan")

    def writer_busy(self) -> float:
        """Share of the run the writer spent deciding and committing groups."""
        return self.metrics.get("jobledger_group_commit_seconds_sum", 0.0) / self.window

    def refused(self) -> float:
        return sum(
            value
            for name, value in self.metrics.items()
            if name.startswith("jobledger_commands_total{") and 'result="ok"' not in name
        )

    def error_text(self) -> str:
        errors = self.errors
        if not errors:
            return "none"
        shown = ", ".join(f"{kind} x{count}" for kind, count in errors.most_common())
        samples = [s for r in self.results for s in r.samples][:3]
        return f"{shown} (e.g. {' | '.join(samples)})"


# --- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A `jobledger serve` process on a free port."""

    def __init__(self, db: str, views: str | None, log: IO[bytes]) -> None:
        self.db = db
        self.port = free_port()
        self.log = log
        args = [sys.executable, "-m", "jobledger.cli", "--db", db]
        if views:
            args += ["--views", views]
        args += ["serve", "--port", str(self.port), "--no-auth"]
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not answer /healthz in {timeout} s:\n{self.log_text()}")
            time.sleep(0.05)

    def get(self, path: str) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def metrics(self) -> dict[str, float]:
        """Every sample of /metrics, by name with labels."""
        status, text = self.get("/metrics")
        if status != 200:
            raise SystemExit(f"/metrics answered {status}")
        samples = {}
        for line in text.decode().splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def cpu(self) -> float:
        """CPU seconds (user + system, every thread) the server process has used."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime: fields 14, 15

    def stop(self) -> None:
        """SIGTERM; the server must answer what it took and exit 0."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise SystemExit(f"the server did not stop in 60 s after SIGTERM:\n{self.log_text()}") from None
        if code != 0:
            raise SystemExit(f"the server exited with {code} after SIGTERM:\n{self.log_text()}")

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]


@contextmanager
def serving(db: str, views: str | None, tmp: Path) -> Iterator[Server]:
    with open(tmp / f"serve-{uuid.uuid4().hex[:8]}.log", "wb") as log:
        server = Server(db, views, log)
        try:
            server.wait_ready()
            yield server
            server.stop()
        finally:
            if server.process.poll() is None:
                server.process.kill()
                server.process.wait()


def check_events(db: str, expected: int, what: str) -> None:
    """The ledger must hold exactly the acknowledged events."""
    ledger = JobLedger(db, create=False)
    try:
        stored = ledger.reader.count()
    finally:
        ledger.close()
    if stored != expected:
        raise SystemExit(f"{what}: the ledger holds {stored:,} events but {expected:,} were acknowledged")
    print(f"  checked: {what}: the ledger holds {stored:,} events, as many as acknowledged")


# --- the load ------------------------------------------------------------------------------------


def run_load(configs: Sequence[Config], duration: float, server: Server | None = None) -> Load:
    """Start the children, let them prepare, start them together, collect their results."""
    children = [
        subprocess.Popen(
            [sys.executable, str(LOAD), msgspec.json.encode(config).decode()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for config in configs
    ]
    try:
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            if line.strip() != "ready":
                child.wait(30)
                raise SystemExit(f"a load process did not get ready (exit {child.returncode}): {line!r}")
        before = server.metrics() if server else {}
        cpu, opened = (server.cpu() if server else 0.0), time.monotonic()
        deadline = time.monotonic() + duration
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"go {deadline}\n")
            child.stdin.close()
        outputs = []
        for child in children:
            assert child.stdout is not None
            outputs.append(child.stdout.read())
            if child.wait() != 0:
                raise SystemExit(f"a load process failed (exit {child.returncode})")
        load = Load(
            [msgspec.json.decode(take_result(out), type=Result) for out in outputs],
            wall=0.0,
            window=time.monotonic() - opened,
        )
        if server:
            load.server_cpu = server.cpu() - cpu
            after = server.metrics()
            load.metrics = {name: value - before.get(name, 0.0) for name, value in after.items()}
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    load.wall = max(r.finished for r in load.results) - min(r.started for r in load.results)
    return load


def take_result(printed: str) -> bytes:
    """A load child's result, from the file it named (then removed)."""
    path = Path(printed.strip())
    try:
        return path.read_bytes()
    finally:
        path.unlink(missing_ok=True)


def split(mode: str, port: int, clients: int, generators: int, like: Config) -> list[Config]:
    """`clients` clients over `generators` processes, otherwise as `like`."""
    shares = [clients // generators + (1 if g < clients % generators else 0) for g in range(generators)]
    return [
        msgspec.structs.replace(like, mode=mode, port=port, generator=g, clients=share)
        for g, share in enumerate(shares)
        if share
    ]


# --- raw sqlite3 baselines -----------------------------------------------------------------------


def fresh_rows(templates: Sequence[Row]) -> Iterator[Row]:
    """The template rows over and over, each round under fresh originator ids (same sizes)."""
    round_ = 0
    while True:
        prefix = f"{round_:08x}"
        for oid, version, topic, state in templates:
            yield prefix + oid[8:], version, topic, state
        round_ += 1


@dataclass
class Raw:
    rows: int
    transactions: int
    wall: float
    latencies: list[float]  # ms per transaction, sorted

    @property
    def commits(self) -> float:
        return self.transactions / self.wall

    @property
    def rate(self) -> float:
        return self.rows / self.wall


def raw_run(path: Path, templates: Sequence[Row], per_commit: int, duration: float) -> Raw:
    """Raw sqlite3 committing `per_commit` rows per transaction (executemany past one) for a while."""
    writer = RawWriter(path)
    rows = fresh_rows(templates)
    latencies = []
    try:
        started = time.perf_counter()
        deadline = started + duration
        now = started
        while now < deadline:
            batch = [next(rows) for _ in range(per_commit)]
            if per_commit == 1:
                writer.single(batch)
            else:
                writer.batch(batch)
            then, now = now, time.perf_counter()
            latencies.append((now - then) * 1000)
        wall = now - started
    finally:
        writer.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return Raw(len(latencies) * per_commit, len(latencies), wall, sorted(latencies))


# --- the parts -----------------------------------------------------------------------------------


HEADER = (
    f"  {'clients':>7} {'procs':>5} {'commands/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'group':>6}"
    f" {'groups/s':>8} {'commit ms':>9} {'writer':>6} {'server CPU':>10} {'gen CPU':>7}"
    f" {'gen us/req':>10}  errors"
)


def level_line(clients: int, load: Load) -> str:
    latencies = load.latencies
    return (
        f"  {clients:>7} {len(load.results):>5} {load.rate:>10,.0f} {percentile(latencies, 0.5):>7.2f}"
        f" {percentile(latencies, 0.99):>7.2f} {load.group_mean():>6.1f} {load.groups() / load.window:>8,.0f}"
        f" {load.commit_ms():>9.2f} {load.writer_busy():>6.0%} {load.server_cpu / load.window:>10.0%}"
        f" {load.generator_cpu / load.wall:>7.0%} {load.generator_cpu / max(load.requests, 1) * 1e6:>10.1f}"
        f"  {load.error_text()}"
    )


@dataclass
class Targets:
    lines: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.lines.append(text)


def serve_level(
    db: str, views: str | None, tmp: Path, clients: int, generators: int, duration: float, like: Config
) -> Load:
    """One fresh server, one run of load, the stop and the count."""
    mode = like.mode
    with serving(db, views, tmp) as server:
        load = run_load(split(mode, server.port, clients, generators, like), duration, server)
    check_events(db, load.acknowledged, f"{mode}, {clients} clients")
    return load


def part_sqlite(args: argparse.Namespace, tmp: Path, templates: Sequence[Row], targets: Targets) -> None:
    print(
        f"\nPart 1: SQLite, the runner mix, one command per request, {args.duration:g} s a level;"
        " baseline raw sqlite3 one row per transaction"
    )
    before = raw_run(tmp / "raw-before.db", templates, 1, args.duration)
    print(
        f"  raw sqlite3 before: {before.commits:,.0f} commits/s"
        f" (commit p50 {percentile(before.latencies, 0.5):.2f} ms,"
        f" p99 {percentile(before.latencies, 0.99):.2f} ms)"
    )
    print(HEADER)
    levels: dict[tuple[int, int], Load] = {}
    runs = [(clients, 1) for clients in args.clients]
    if 64 in args.clients and args.generators > 1:
        runs.append((64, args.generators))
    for number, (clients, generators) in enumerate(runs):
        db = str(tmp / f"serve-{number}.db")
        load = serve_level(
            db, None, tmp, clients, generators, args.duration, Config(mode="mix", seed=args.seed)
        )
        levels[clients, generators] = load
        print(level_line(clients, load))
    apart: Load | None = None
    if 64 in args.clients:
        # The same 64-client level with the views in a file of their own (serve --views).
        apart = serve_level(
            str(tmp / "serve-apart.db"),
            str(tmp / "serve-apart.views.db"),
            tmp,
            64,
            1,
            args.duration,
            Config(mode="mix", seed=args.seed),
        )
        print(level_line(64, apart) + "  (views apart)")
    after = raw_run(tmp / "raw-after.db", templates, 1, args.duration)
    raw = (before.commits + after.commits) / 2
    print(
        f"  raw sqlite3 after:  {after.commits:,.0f} commits/s"
        f" (commit p50 {percentile(after.latencies, 0.5):.2f} ms,"
        f" p99 {percentile(after.latencies, 0.99):.2f} ms); baseline = mean {raw:,.0f} commits/s"
    )
    for (clients, generators), load in levels.items():
        print(f"  {clients} clients / {generators} process(es): {load.rate / raw:.2f}x raw")
    if apart is not None:
        print(f"  64 clients, the views in a file of their own: {apart.rate / raw:.2f}x raw")
    if (64, 1) in levels:
        at64 = levels[64, 1]
        ratio, p99 = at64.rate / raw, percentile(at64.latencies, 0.99)
        targets.add(
            f"SQLite, 64 clients: {ratio:.2f}x raw one-row commits,"
            f" {verdict(ratio >= RAW_RATIO_TARGET)} {RAW_RATIO_TARGET}x"
        )
        targets.add(
            f"SQLite, 64 clients: p99 {p99:.1f} ms, {verdict(p99 < P99_TARGET_MS)} < {P99_TARGET_MS:g} ms"
        )
        print(
            f"  the generator at 64 clients: {at64.generator_cpu / at64.requests * 1e6:.1f} us CPU a request,"
            f" {at64.generator_cpu / at64.wall:.0%} of a core; the server"
            f" {at64.server_cpu / at64.requests * 1e6:.1f} us a request,"
            f" {at64.server_cpu / at64.window:.0%} of a core"
        )
        if (64, args.generators) in levels:
            other = levels[64, args.generators]
            change = other.rate / at64.rate
            targets.add(
                f"generator not the limit: 64 clients over {args.generators} processes {other.rate:,.0f}"
                f" commands/s against {at64.rate:,.0f} in one ({change:.2f}x)"
            )


def postgres_url(dsn: str, schema: str) -> str:
    return f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}"


def part_postgres(args: argparse.Namespace, tmp: Path, targets: Targets) -> None:
    import psycopg

    print(
        f"\nPart 2: PostgreSQL ({args.postgres}), the runner mix: the server with 64 clients against"
        f" {args.direct_writers} direct JobLedger writer processes, {args.duration:g} s each"
    )
    try:
        with psycopg.connect(args.postgres, autocommit=True, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        print(f"  skipped: PostgreSQL not reachable ({err})")
        targets.add("PostgreSQL: skipped (not reachable)")
        return
    schemas = [f"bench_serve_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    try:
        served_db, direct_db = (postgres_url(args.postgres, schema) for schema in schemas)
        print(HEADER)
        load = serve_level(
            served_db, str(tmp / "views-pg.db"), tmp, 64, 1, args.duration, Config(mode="mix", seed=args.seed)
        )
        print(level_line(64, load))
        JobLedger(direct_db).close()  # the schema and tables, before the writers race to make them
        direct = run_load(
            [
                Config(mode="direct", db=direct_db, generator=g, seed=args.seed)
                for g in range(args.direct_writers)
            ],
            args.duration,
        )
        check_events(direct_db, direct.acknowledged, f"{args.direct_writers} direct writers")
        latencies = direct.latencies
        print(
            f"  {args.direct_writers} direct writers: {direct.rate:,.0f} commands/s,"
            f" p50 {percentile(latencies, 0.5):.2f} ms, p99 {percentile(latencies, 0.99):.2f} ms,"
            f" CPU {direct.generator_cpu / direct.wall:.0%} of a core"
            f" in all; errors {direct.error_text()}"
        )
        ratio = load.rate / direct.rate
        print(f"  server / direct writers: {ratio:.2f}x")
        targets.add(
            f"PostgreSQL: server at 64 clients {ratio:.2f}x {args.direct_writers} direct writers,"
            f" {verdict(ratio >= POSTGRES_TARGET)} {POSTGRES_TARGET:g}x"
        )
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def raw_line(when: str, run: Raw) -> None:
    print(
        f"  raw executemany {when}: {run.rate:,.0f} rows/s ({run.commits:,.0f} transactions/s,"
        f" p50 {percentile(run.latencies, 0.5):.2f} ms, p99 {percentile(run.latencies, 0.99):.2f} ms)"
    )


def part_logs(args: argparse.Namespace, tmp: Path, templates: Sequence[Row], targets: Targets) -> None:
    print(
        f"\nPart 3: POST /log with arrays of {args.log_rows} rows, {args.log_clients} clients each on its own"
        f" job; baseline raw executemany of {args.log_rows} rows a transaction, {args.duration:g} s each"
    )
    details = [row for row in templates if row[2].endswith(":DetailLogged")]
    before = raw_run(tmp / "raw-logs-before.db", details, args.log_rows, args.duration)
    raw_line("before", before)
    like = Config(mode="logs", rows=args.log_rows, seed=args.seed)
    load = serve_level(str(tmp / "serve-logs.db"), None, tmp, args.log_clients, 1, args.duration, like)
    apart_views = str(tmp / "serve-logs-apart.views.db")
    apart = serve_level(
        str(tmp / "serve-logs-apart.db"), apart_views, tmp, args.log_clients, 1, args.duration, like
    )
    after = raw_run(tmp / "raw-logs-after.db", details, args.log_rows, args.duration)
    raw_line("after", after)
    raw = (before.rate + after.rate) / 2
    print(f"  baseline = mean {raw:,.0f} rows/s")
    latencies = load.latencies
    ratio = load.rate / raw
    print(
        f"  server: {load.rate:,.0f} events/s ({load.requests / load.wall:,.0f} arrays/s),"
        f" p50 {percentile(latencies, 0.5):.2f} ms,"
        f" p99 {percentile(latencies, 0.99):.2f} ms; groups of {load.group_mean():.0f} commands,"
        f" {load.commit_ms():.1f} ms a group, writer busy {load.writer_busy():.0%}, server CPU"
        f" {load.server_cpu / load.window:.0%},"
        f" generator {load.generator_cpu / max(load.requests, 1) * 1e6:.0f} us an array;"
        f" errors {load.error_text()}"
    )
    print(f"  server / raw: {ratio:.2f}")
    print(
        f"  with the views in a file of their own (serve --views): {apart.rate:,.0f} events/s,"
        f" p99 {percentile(apart.latencies, 0.99):.2f} ms: {apart.rate / raw:.2f} of raw"
    )
    targets.add(
        f"/log arrays of {args.log_rows}: {ratio:.2f} of raw executemany,"
        f" {verdict(ratio >= LOG_TARGET)} {LOG_TARGET}"
    )


def part_sse(args: argparse.Namespace, tmp: Path, targets: Targets) -> None:
    print(
        f"\nPart 4: SSE, {args.subscribers} subscribers on /v1/events, writers posting the mix at"
        f" {args.sse_rate:g} commands/s, {args.duration:g} s"
    )
    like = Config(mode="sse", subscribers=args.subscribers, rate=args.sse_rate, seed=args.seed)
    load = serve_level(str(tmp / "serve-sse.db"), None, tmp, 4, 1, args.duration, like)
    (result,) = load.results
    sent, answered = sorted(result.from_send_ms), sorted(result.from_answer_ms)
    p99 = percentile(sent, 0.99)
    print(
        f"  {result.streamed:,} commands acknowledged ({load.rate:,.0f}/s), {len(sent):,} deliveries,"
        f" {result.missing} missing; command p50 {percentile(load.latencies, 0.5):.2f} ms,"
        f" p99 {percentile(load.latencies, 0.99):.2f} ms; errors {load.error_text()}"
    )
    print(
        f"  send -> stream: p50 {percentile(sent, 0.5):.2f} ms, p99 {p99:.2f} ms,"
        f" max {percentile(sent, 1):.2f} ms"
    )
    print(
        f"  answer -> stream: p50 {percentile(answered, 0.5):.2f} ms, p99 {percentile(answered, 0.99):.2f} ms"
        f" (negative: the stream had the event before the writer had its answer)"
    )
    ok = p99 <= SSE_P99_TARGET_MS and result.missing == 0
    targets.add(
        f"SSE: p99 send -> stream {p99:.1f} ms, {result.missing} missing,"
        f" {verdict(ok)} <= {SSE_P99_TARGET_MS:g} ms"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s a level instead of 5")
    parser.add_argument("--duration", type=float, default=None, help="seconds a level (default 5, --quick 2)")
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=("sqlite", "postgres", "logs", "sse"),
        default=["sqlite", "postgres", "logs", "sse"],
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16, 64, 256])
    parser.add_argument("--generators", type=int, default=2, help="processes of the split run at 64 clients")
    parser.add_argument("--postgres", default=os.environ.get("JOBLEDGER_TEST_POSTGRES") or DEFAULT_POSTGRES)
    parser.add_argument("--direct-writers", type=int, default=8)
    parser.add_argument("--log-rows", type=int, default=100)
    parser.add_argument("--log-clients", type=int, default=8)
    parser.add_argument("--subscribers", type=int, default=10)
    parser.add_argument(
        "--sse-rate", type=float, default=200.0, help="commands/s the SSE part's writers post"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the SQLite files go")
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 2.0 if args.quick else 5.0
    if args.duration <= 0 or min(args.clients) < 1 or args.generators < 1 or args.log_rows < 1:
        parser.error("durations, clients, generators and rows must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    targets = Targets()
    with tempfile.TemporaryDirectory(prefix="jobledger-serve-bench-", dir=args.tmpdir) as name:
        tmp = Path(name)
        describe_environment(tmp)
        load1, load5, load15 = os.getloadavg()
        print(
            f"machine load at start: {load1:.2f} {load5:.2f} {load15:.2f} (1, 5, 15 min);"
            f" {os.cpu_count()} CPUs"
        )
        # The ledger's own rows for 64 jobs of the mix: the raw baselines write these (fresh ids).
        templates = reference_rows(
            tmp / "reference.db", workload.commands(64, seed=args.seed), 64 * workload.EVENTS_PER_JOB
        )
        if "sqlite" in args.parts:
            part_sqlite(args, tmp, templates, targets)
        if "postgres" in args.parts:
            part_postgres(args, tmp, targets)
        if "logs" in args.parts:
            part_logs(args, tmp, templates, targets)
        if "sse" in args.parts:
            part_sse(args, tmp, targets)
    load1, _, _ = os.getloadavg()
    print(f"\nSummary ({time.perf_counter() - started:.0f} s in all; load at the end {load1:.2f}):")
    for line in targets.lines:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
