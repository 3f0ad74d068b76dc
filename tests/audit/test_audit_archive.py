"""`export` and `import`: NDJSON envelopes in global order; importing into an empty ledger, or one
holding a prefix of the file, gives the same digest and the same views; a file that conflicts or
does not verify is refused with one line and nothing appended; SQLite to PostgreSQL and back."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from audit_support import (
    JOBLEDGER,
    OPTIMIZE,
    Handles,
    Store,
    StoreFactory,
    Tables,
    at,
    child_env,
    digest_of,
    event_count,
    iso,
    ok,
    payload,
    recomputed_links,
    run,
    write_history,
)
from cli_checks import assert_one_line_error, explain

ENVELOPE_KEYS = {
    "format",
    "position",
    "ordinal",
    "originator_id",
    "originator_version",
    "topic",
    "event",
    "handle",
    "companyHandle",
    "timestamp",
    "fields",
    "state",
    "link",
}
EARLY_STEPS = 5  # the history's first five steps make the "early" export


def export(store: Store, path: Path, *args: str) -> list[dict[str, Any]]:
    """`export -o PATH`; the envelopes written."""
    result = run(store, "export", *args, "-o", str(path))
    assert result.exit_code == 0, explain(result)
    assert result.stdout == ""
    lines = path.read_bytes().splitlines()
    assert result.stderr == f"exported {len(lines)} events to {path}\n"
    return [json.loads(line) for line in lines]


def import_ok(store: Store, path: Path | str) -> str:
    """`import PATH` that must succeed; its report line."""
    return ok(store, "import", str(path))


def views(store: Store) -> dict[str, str]:
    """Every view's JSON answer (and each run's job log and history), as a user would compare them."""
    answers = {
        " ".join(query): ok(store, *query, "--format", "json")
        for query in (("logs",), ("active",), ("active", "--include-waiting"), ("scheduled",))
    }
    handles = [row["jobHandle"] for row in json.loads(answers["logs"])]
    assert handles, "the ledger has no runs to compare"
    for handle in handles:
        answers[f"details {handle}"] = ok(store, "details", handle, "--format", "json")
        answers[f"history {handle}"] = ok(store, "history", handle, "--format", "ndjson")
    for schedule in json.loads(answers["scheduled"]):
        handle = schedule["jobHandle"]
        answers[f"show {handle}"] = ok(store, "show", handle, "--format", "json")
    answers["events"] = ok(store, "events")
    return answers


@dataclass
class Source:
    """A filled SQLite ledger and two exports of it: after its first steps, and complete."""

    store: Store
    handles: Handles
    early: Path
    full: Path
    early_count: int
    full_count: int


@pytest.fixture(scope="module")
def source(new_store: StoreFactory, tmp_path_factory: pytest.TempPathFactory) -> Source:
    store = new_store("sqlite")
    folder = tmp_path_factory.mktemp("exports")
    handles = Handles()
    ledger = store.open()
    try:
        steps = write_history(ledger, handles)
        for _ in range(EARLY_STEPS):
            next(steps)
        early = export(store, folder / "early.ndjson")
        for _ in steps:
            pass
    finally:
        ledger.close()
    full = export(store, folder / "full.ndjson")
    return Source(store, handles, folder / "early.ndjson", folder / "full.ndjson", len(early), len(full))


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_export_writes_one_envelope_per_event_in_global_order_with_its_chain_link(source: Source) -> None:
    envelopes = [json.loads(line) for line in lines_of(source.full)]
    rows = Tables(source.store).rows()

    assert all(set(e) == ENVELOPE_KEYS for e in envelopes)
    assert {e["format"] for e in envelopes} == {"jobledger-event/1"}
    assert [e["position"] for e in envelopes] == [row.position for row in rows]
    assert [e["ordinal"] for e in envelopes] == list(range(1, len(rows) + 1))
    assert [e["link"] for e in envelopes] == [link.hex() for link in recomputed_links(rows)]
    assert [base64.b64decode(e["state"]) for e in envelopes] == [row.state for row in rows]
    assert [(e["originator_id"], e["originator_version"], e["topic"]) for e in envelopes] == [
        (str(row.originator_id), row.version, row.topic) for row in rows
    ]
    events = [json.loads(line) for line in ok(source.store, "events").splitlines()]
    assert [
        (e["event"], e["handle"], e["companyHandle"], e["timestamp"], e["fields"]) for e in envelopes
    ] == [(e["event"], e["handle"], e["companyHandle"], e["timestamp"], e["fields"]) for e in events]


def test_export_to_stdout_writes_the_same_bytes_as_to_a_file(source: Source) -> None:
    assert ok(source.store, "export").encode() == source.full.read_bytes()


def test_export_after_a_position_and_of_one_company(source: Source, tmp_path: Path) -> None:
    everything = [json.loads(line) for line in lines_of(source.full)]

    assert export(source.store, tmp_path / "after.ndjson", "--after", "20") == everything[20:]
    globex = export(source.store, tmp_path / "globex.ndjson", "--company", "globex")
    assert globex == [e for e in everything if e["companyHandle"] == "globex"]
    assert 0 < len(globex) < len(everything)


def test_import_into_an_empty_ledger_gives_the_same_digest_and_the_same_views(
    source: Source, new_store: StoreFactory
) -> None:
    target = new_store("sqlite")

    assert (
        import_ok(target, source.full)
        == f"imported {source.full_count} events; head {digest_of(source.store)}\n"
    )
    assert digest_of(target) == digest_of(source.store)
    assert ok(target, "audit", "verify").startswith(f"chain intact: {source.full_count} events")
    assert views(target) == views(source.store)
    assert ok(target, "projections", "verify").startswith("all views match")
    assert Tables(target).rows() == Tables(source.store).rows()


def test_reimporting_the_same_file_appends_nothing(source: Source, new_store: StoreFactory) -> None:
    target = new_store("sqlite")
    import_ok(target, source.full)
    digest = digest_of(target)

    assert import_ok(target, source.full) == f"imported 0 events; head {digest}\n"
    assert event_count(target) == source.full_count
    assert digest_of(target) == digest


def test_import_into_a_ledger_holding_a_prefix_of_the_file_appends_only_the_rest(
    source: Source, new_store: StoreFactory
) -> None:
    target = new_store("sqlite")
    import_ok(target, source.early)
    early_views = ok(target, "logs", "--format", "json")  # the live views fold the prefix first

    report = import_ok(target, source.full)

    assert (
        report
        == f"imported {source.full_count - source.early_count} events; head {digest_of(source.store)}\n"
    )
    assert early_views != ok(target, "logs", "--format", "json")
    assert views(target) == views(source.store)
    assert ok(target, "projections", "verify").startswith("all views match")


def test_an_export_after_a_position_imports_into_a_ledger_holding_exactly_what_precedes_it(
    source: Source, new_store: StoreFactory, tmp_path: Path
) -> None:
    rest = tmp_path / "rest.ndjson"
    export(source.store, rest, "--after", str(source.early_count))
    target = new_store("sqlite")
    import_ok(target, source.early)

    assert import_ok(target, rest).startswith(f"imported {source.full_count - source.early_count} events")
    assert digest_of(target) == digest_of(source.store)


def test_an_export_after_a_position_is_refused_by_an_empty_ledger(
    source: Source, new_store: StoreFactory, tmp_path: Path
) -> None:
    rest = tmp_path / "rest.ndjson"
    export(source.store, rest, "--after", str(source.early_count))
    target = new_store("sqlite")

    assert_one_line_error(run(target, "import", str(rest)), 1, f"position {source.early_count + 1}")
    assert event_count(target) == 0


def test_import_reads_standard_input_given_as_a_dash(source: Source, new_store: StoreFactory) -> None:
    target = new_store("sqlite")

    report = ok(target, "import", "-", stdin=source.full.read_bytes())

    assert report == f"imported {source.full_count} events; head {digest_of(source.store)}\n"
    assert views(target) == views(source.store)


def test_import_reads_a_pipe_in_another_process(source: Source, new_store: StoreFactory) -> None:
    target = new_store("sqlite")
    with source.full.open("rb") as stdin:
        done = subprocess.run(
            [JOBLEDGER, *target.options(), "import", "-"],
            stdin=stdin,
            capture_output=True,
            env=child_env(),
            timeout=60,
            check=False,
        )

    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.decode() == f"imported {source.full_count} events; head {digest_of(source.store)}\n"


# --- refusals: one line, exit 1, nothing appended --------------------------------------------------


def _replace_line(
    number: int, change: Callable[[dict[str, Any]], None]
) -> Callable[[list[bytes]], list[bytes]]:
    def edit(lines: list[bytes]) -> list[bytes]:
        envelope = json.loads(lines[number - 1])
        change(envelope)
        return [*lines[: number - 1], json.dumps(envelope).encode(), *lines[number:]]

    return edit


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(envelope: dict[str, Any]) -> None:
        envelope[key] = value

    return change


def _flip_state_byte(envelope: dict[str, Any]) -> None:
    state = bytearray(base64.b64decode(envelope["state"]))
    state[len(state) // 2] ^= 0x01
    envelope["state"] = base64.b64encode(bytes(state)).decode()


def _alter_field(envelope: dict[str, Any]) -> None:
    assert envelope["event"] == "Started"
    envelope["fields"]["serverName"] = "ips-9"


def _change_stored_server(envelope: dict[str, Any]) -> None:
    """Change the server named in the stored bytes only; the fields still say the old one."""
    assert envelope["fields"]["serverName"] == "ips-2"
    state = base64.b64decode(envelope["state"])
    envelope["state"] = base64.b64encode(state.replace(b"ips-2", b"ips-7")).decode()


def _forge_log_message(envelope: dict[str, Any]) -> None:
    """Change a logged message in the stored bytes and the fields alike: only the chain can tell."""
    assert envelope["fields"]["logMessage"] == "disk full"
    state = base64.b64decode(envelope["state"])
    assert state.count(b"disk full") == 1
    envelope["state"] = base64.b64encode(state.replace(b"disk full", b"disk FULL")).decode()
    envelope["fields"]["logMessage"] = "disk FULL"


FULL = 34
BAD_FILES: dict[str, tuple[Callable[[list[bytes]], list[bytes]], tuple[str, ...]]] = {
    "an altered field": (_replace_line(31, _alter_field), ("line 31", "fields do not match")),
    "an altered state byte": (_replace_line(FULL, _flip_state_byte), (f"line {FULL}",)),
    "a changed string in the stored bytes": (
        _replace_line(31, _change_stored_server),
        ("line 31", "fields do not match"),
    ),
    "a forged event with matching fields": (
        _replace_line(32, _forge_log_message),
        ("line 32", "chain does not verify at position 32"),
    ),
    "a broken link": (
        _replace_line(FULL - 1, _set("link", "0" * 64)),
        (f"line {FULL - 1}", f"chain does not verify at position {FULL - 1}"),
    ),
    "a non-JSON line": (
        lambda lines: [*lines[:29], b"this is not json", *lines[29:]],
        ("line 30", "not JSON"),
    ),
    "a JSON line that is no envelope": (
        lambda lines: [*lines, b'{"hello": "world"}'],
        (f"line {FULL + 1}", "not a jobledger-event/1 envelope"),
    ),
    "an envelope of another format": (
        _replace_line(FULL, _set("format", "jobledger-event/2")),
        (f"line {FULL}", "envelope"),
    ),
    "a line left out": (lambda lines: [*lines[:25], *lines[26:]], ("line 26",)),
    "two lines swapped": (lambda lines: [*lines[:25], lines[26], lines[25], *lines[27:]], ("line 26",)),
    "no events at all": (lambda lines: [], ("no events",)),
    "an event of an unknown kind": (
        _replace_line(FULL, _set("topic", "jobledger.domain.events:Exploded")),
        (f"line {FULL}", "cannot be read"),
    ),
}


@pytest.mark.parametrize("bad", list(BAD_FILES))
def test_a_bad_file_is_refused_with_one_line_and_nothing_appended(
    source: Source, new_store: StoreFactory, tmp_path: Path, bad: str
) -> None:
    edit, fragments = BAD_FILES[bad]
    lines = lines_of(source.full)
    assert len(lines) == FULL
    broken = tmp_path / "broken.ndjson"
    broken.write_bytes(b"".join(line + b"\n" for line in edit(lines)))
    target = new_store("sqlite")
    import_ok(target, source.early)
    digest = digest_of(target)

    assert_one_line_error(run(target, "import", str(broken)), 1, *fragments)
    assert_one_line_error(run(target, "import", "-", stdin=broken.read_bytes()), 1, *fragments)
    assert event_count(target) == source.early_count
    assert digest_of(target) == digest


def test_an_export_of_one_company_is_refused(source: Source, new_store: StoreFactory, tmp_path: Path) -> None:
    acme = tmp_path / "acme.ndjson"
    export(source.store, acme, "--company", "acme")
    target = new_store("sqlite")
    import_ok(target, source.early)

    assert_one_line_error(run(target, "import", str(acme)), 1, "filtered export")
    assert event_count(target) == source.early_count


def test_a_file_that_conflicts_with_the_ledgers_own_events_is_refused(
    source: Source, new_store: StoreFactory
) -> None:
    target = new_store("sqlite")
    ledger = target.open()
    try:
        ledger.submit("initech", "mine", payload("optimizeImagesJob", OPTIMIZE), at=at(0))
        ledger.submit("initech", "also-mine", payload("optimizeImagesJob", OPTIMIZE), at=at(1))
    finally:
        ledger.close()
    digest = digest_of(target)

    assert_one_line_error(run(target, "import", str(source.full)), 1, "line 1", "position 1", "differs")
    assert event_count(target) == 2
    assert digest_of(target) == digest


def test_a_ledger_whose_later_events_differ_from_the_file_is_refused(
    source: Source, new_store: StoreFactory
) -> None:
    target = new_store("sqlite")
    import_ok(target, source.early)
    ok(
        target,
        "submit",
        "--company",
        "acme",
        "--name",
        "diverged",
        "--type",
        "metadataPublishJob",
        "--at",
        iso(500),
    )

    line = assert_one_line_error(
        run(target, "import", str(source.full)), 1, f"position {source.early_count + 1}"
    )
    assert "differs" in line
    assert event_count(target) == source.early_count + 1


def test_importing_a_missing_file_is_a_one_line_error(new_store: StoreFactory, tmp_path: Path) -> None:
    target = new_store("sqlite")

    assert_one_line_error(run(target, "import", str(tmp_path / "nowhere.ndjson")), 1, "nowhere.ndjson")


# --- SQLite to PostgreSQL and back -------------------------------------------------------------------


@pytest.mark.parametrize("middle", ["sqlite", "postgres"])
def test_a_demo_ledger_moved_to_another_store_and_back_gives_identical_views_and_digest(
    new_store: StoreFactory, tmp_path: Path, middle: str
) -> None:
    origin = new_store("sqlite")
    via = new_store(middle)
    back = new_store("sqlite")
    ok(origin, "demo", "--jobs", "25", "--companies", "3", "--seed", "11")
    expected_views, expected_digest = views(origin), digest_of(origin)

    first = export(origin, tmp_path / "origin.ndjson")
    import_ok(via, tmp_path / "origin.ndjson")
    assert digest_of(via) == expected_digest
    assert views(via) == expected_views
    assert ok(via, "audit", "verify").startswith(f"chain intact: {len(first)} events")

    second = export(via, tmp_path / "via.ndjson")
    assert second == first
    import_ok(back, tmp_path / "via.ndjson")
    assert digest_of(back) == expected_digest
    assert views(back) == expected_views
    assert ok(back, "projections", "verify").startswith("all views match")


def _stderr_on_a_terminal(store: Store, *args: str) -> tuple[int, str, str]:
    """Run `jobledger ARGS` with its stderr on a pseudo-terminal; (exit code, stdout, stderr)."""
    controller, terminal = os.openpty()
    try:
        child = subprocess.Popen(
            [JOBLEDGER, *store.options(), *args],
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=child_env(),
        )
    finally:
        os.close(terminal)
    seen = b""
    try:
        while chunk := os.read(controller, 4096):
            seen += chunk
    except OSError:  # the terminal hangs up once the child has exited
        pass
    finally:
        os.close(controller)
    stdout, _ = child.communicate(timeout=60)
    return child.returncode, stdout.decode(), seen.decode(errors="replace")


def test_import_and_export_report_progress_on_a_terminal(
    source: Source, new_store: StoreFactory, tmp_path: Path
) -> None:
    target = new_store("sqlite")

    code, stdout, terminal = _stderr_on_a_terminal(target, "import", str(source.full))
    assert code == 0, terminal
    assert stdout.startswith(f"imported {source.full_count} events")
    assert "importing" in terminal
    assert "100%" in terminal

    code, _, terminal = _stderr_on_a_terminal(target, "export", "-o", str(tmp_path / "again.ndjson"))
    assert code == 0, terminal
    assert "exporting" in terminal
    assert (tmp_path / "again.ndjson").read_bytes() == source.full.read_bytes()
