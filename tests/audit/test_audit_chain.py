"""The hash chain: `audit digest` prints its head as POSITION:HEX, `audit verify` recomputes it and
names the first position that differs when the stored events are changed behind the ledger's back:
on SQLite (with sqlite3 on the file) and on PostgreSQL (with psycopg on the schema)."""

from __future__ import annotations

import re
from uuid import uuid4

import pytest
from audit_support import GENESIS, Store, StoreFactory, Tables, digest_of, fill, ok, recomputed_links, run
from cli_checks import assert_one_line_error

EVENTS = 34  # the history of audit_support.write_history


def verify_fails_at(store: Store, position: int, *args: str) -> str:
    """`audit verify` exits 1 with one line naming this position."""
    return assert_one_line_error(
        run(store, "audit", "verify", *args), 1, "does not verify", f"position {position}:"
    )


@pytest.fixture
def filled(store: Store) -> Store:
    fill(store)
    return store


def test_digest_is_the_position_and_hex_of_the_head_recomputed_from_the_stored_events(filled: Store) -> None:
    rows = Tables(filled).rows()

    digest = digest_of(filled)
    assert re.fullmatch(r"\d+:[0-9a-f]{64}", digest), digest
    assert digest == f"{EVENTS}:{recomputed_links(rows)[-1].hex()}"
    assert [link for _, _, link in Tables(filled).chain()] == recomputed_links(rows)


def test_digest_of_an_empty_ledger_is_position_0_and_the_genesis(store: Store) -> None:
    store.open().close()

    assert digest_of(store) == f"0:{GENESIS.hex()}"
    assert ok(store, "audit", "verify").startswith("chain intact: 0 events")


def test_the_digest_moves_with_every_append(filled: Store) -> None:
    before = digest_of(filled)
    ok(filled, "submit", "--company", "acme", "--name", "x", "--type", "metadataPublishJob")

    after = digest_of(filled)
    assert after.split(":")[0] == str(EVENTS + 1)
    assert after.split(":")[1] != before.split(":")[1]
    assert after == f"{EVENTS + 1}:{recomputed_links(Tables(filled).rows())[-1].hex()}"


def test_verify_passes_on_an_intact_ledger_with_or_without_its_own_digest(filled: Store) -> None:
    digest = digest_of(filled)

    assert ok(filled, "audit", "verify") == f"chain intact: {EVENTS} events; head {digest}\n"
    with_digest = ok(filled, "audit", "verify", "--digest", digest)
    assert with_digest.startswith(
        f"chain intact: {EVENTS} events and matches the digest at position {EVENTS}"
    )


def test_verify_accepts_a_digest_kept_before_more_events_were_appended(filled: Store) -> None:
    kept = digest_of(filled)
    ok(filled, "submit", "--company", "acme", "--name", "x", "--type", "metadataPublishJob")

    assert "matches the digest" in ok(filled, "audit", "verify", "--digest", kept)
    assert "matches the digest" in ok(filled, "audit", "verify", "--digest", f"0:{GENESIS.hex()}")


@pytest.mark.parametrize("position", [1, 17, EVENTS])
def test_verify_locates_one_altered_byte_of_one_stored_event(filled: Store, position: int) -> None:
    Tables(filled).flip_byte(position)

    verify_fails_at(filled, position)


@pytest.mark.parametrize("position", [1, 17, EVENTS])
def test_verify_locates_one_deleted_event(filled: Store, position: int) -> None:
    Tables(filled).delete(position)

    line = verify_fails_at(filled, position)
    assert "missing" in line or "deleted" in line


def test_verify_locates_two_reordered_events_at_the_first_of_them(filled: Store) -> None:
    tables = Tables(filled)
    eleventh, twentieth = tables.row(11), tables.row(20)
    tables.set_state(11, twentieth.state)
    tables.set_state(20, eleventh.state)

    verify_fails_at(filled, 11)


def test_verify_locates_an_event_appended_behind_the_ledgers_back(filled: Store) -> None:
    tables = Tables(filled)
    last = tables.row(EVENTS)
    tables.insert(last.originator_id, last.version + 1, last.topic, last.state)

    line = verify_fails_at(filled, EVENTS + 1)
    assert "not linked" in line


def test_verify_locates_a_new_aggregate_inserted_behind_the_ledgers_back(filled: Store) -> None:
    tables = Tables(filled)
    first = tables.row(1)
    tables.insert(uuid4(), 1, first.topic, first.state)

    verify_fails_at(filled, EVENTS + 1)


def test_a_consistent_rewrite_of_the_chain_is_caught_only_by_a_digest_kept_before(filled: Store) -> None:
    kept = digest_of(filled)
    tables = Tables(filled)
    # A forgery that still decodes (a flipped byte may not: verify names such an event as well).
    forged = next(row for row in tables.rows() if b"ips-1" in row.state)
    tables.set_state(forged.position, forged.state.replace(b"ips-1", b"ips-7"))
    tables.relink()

    # The forger recomputed every link, so the chain alone is consistent again ...
    assert ok(filled, "audit", "verify").startswith(f"chain intact: {EVENTS} events")
    assert digest_of(filled) != kept
    # ... but not with the digest an operator kept elsewhere.
    line = verify_fails_at(filled, EVENTS, "--digest", kept)
    assert "rewritten" in line


def test_a_truncated_and_relinked_ledger_is_caught_by_a_digest_kept_before(filled: Store) -> None:
    kept = digest_of(filled)
    tables = Tables(filled)
    tables.delete(EVENTS)
    tables.delete_link(EVENTS)

    assert ok(filled, "audit", "verify").startswith(f"chain intact: {EVENTS - 1} events")
    line = assert_one_line_error(run(filled, "audit", "verify", "--digest", kept), 1, f"position {EVENTS}")
    assert f"{EVENTS - 1} events" in line


def test_verify_with_a_digest_of_the_right_position_but_another_hash_fails(filled: Store) -> None:
    position, hexa = digest_of(filled).split(":")
    forged = f"{position}:{'0' * 64}"

    verify_fails_at(filled, int(position), "--digest", forged)
    assert hexa != "0" * 64


@pytest.fixture(scope="module")
def intact(new_store: StoreFactory) -> Store:
    """A filled SQLite ledger that the tests using it leave as it is."""
    store = new_store("sqlite")
    fill(store)
    return store


@pytest.mark.parametrize(
    "malformed",
    [
        "abc",
        "12",
        "12:",
        f"12:{'a' * 63}",
        f"12:{'a' * 65}",
        f"12:{'g' * 64}",
        f"-1:{'a' * 64}",
        f":{'a' * 64}",
    ],
)
def test_verify_with_a_malformed_digest_is_a_usage_error(intact: Store, malformed: str) -> None:
    assert_one_line_error(run(intact, "audit", "verify", "--digest", malformed), 2, "--digest")


def test_verify_with_a_digest_beyond_the_ledger_fails_naming_both_lengths(intact: Store) -> None:
    line = assert_one_line_error(
        run(intact, "audit", "verify", "--digest", f"{EVENTS + 5}:{'a' * 64}"), 1, f"position {EVENTS + 5}"
    )
    assert f"{EVENTS} events" in line


def test_verify_locates_an_altered_link_of_the_chain(filled: Store) -> None:
    tables = Tables(filled)
    tables.set_link(12, bytes(32))

    verify_fails_at(filled, 12)


def test_verify_after_an_event_and_its_link_are_both_deleted_names_the_gap_or_the_event_after_it(
    filled: Store,
) -> None:
    tables = Tables(filled)
    tables.delete(17)
    tables.delete_link(17)

    if filled.is_postgres:  # positions there may skip (a writer that lost a race used one up)
        verify_fails_at(filled, 18)
    else:  # SQLite's never do: the gap itself is named
        assert "deleted" in verify_fails_at(filled, 17)


UPLOAD = "acme||upload_2026-03-02-08:00:00"  # the history's first run; its Started event is at position 4


@pytest.mark.parametrize(
    "command",
    [
        ("show", UPLOAD),
        ("show", UPLOAD, "--as-of", "2026-03-02T12:00:00Z"),
        ("history", UPLOAD),
        ("export",),
    ],
    ids=" ".join,
)
def test_reading_an_event_whose_bytes_were_altered_is_a_one_line_error_not_a_traceback(
    sqlite_store: Store, command: tuple[str, ...]
) -> None:
    fill(sqlite_store)
    tables = Tables(sqlite_store)
    started = tables.row(4)
    assert b"originator_version" in started.state
    tables.set_state(4, started.state.replace(b"originator_version", b"originator_versiom"))

    assert_one_line_error(run(sqlite_store, *command), 1, "position 4")


def test_the_views_and_the_event_log_read_past_an_event_whose_bytes_were_altered(sqlite_store: Store) -> None:
    fill(sqlite_store)
    tables = Tables(sqlite_store)
    tables.set_state(4, tables.row(4).state.replace(b"originator_version", b"originator_versiom"))

    logs = run(sqlite_store, "logs")
    assert logs.exit_code == 0 and UPLOAD in logs.stdout, logs.stderr
    events = run(sqlite_store, "events")
    assert events.exit_code == 0, events.stderr
    assert events.stderr.startswith("warning: 1 event passed over, not decodable: position 4 (")
