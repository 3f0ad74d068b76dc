"""Handles in the IPS shape and the aggregate ids derived from them."""

from __future__ import annotations

from datetime import timedelta, timezone
from uuid import UUID

from samples import T0

from jobledger.domain.handles import company_of, idempotency_id, job_id, run_handle, run_name, schedule_handle


def test_a_run_name_is_the_job_name_plus_a_utc_time_suffix() -> None:
    two_hours_east = T0.astimezone(timezone(timedelta(hours=2)))

    assert run_name("nightly", two_hours_east) == "nightly_2026-01-01-09:00:00"


def test_a_run_name_after_the_first_in_one_second_gets_a_counter() -> None:
    assert run_name("nightly", T0, 3) == "nightly_2026-01-01-09:00:00-3"


def test_run_and_schedule_handles_have_the_ips_shape() -> None:
    assert run_handle("47", "Add_2007-09-14-15:04:34") == "47||Add_2007-09-14-15:04:34"
    assert schedule_handle("47", "My Test Job") == "47|My Test Job|"
    assert company_of("47||Add_2007-09-14-15:04:34") == "47"


def test_the_aggregate_id_of_a_handle_is_its_recorded_uuid5_and_distinct() -> None:
    handle = run_handle("acme", "nightly_2026-01-01-09:00:00")

    # Recorded values: a change of namespace or of the name hashed moves every stored aggregate.
    assert handle == "acme||nightly_2026-01-01-09:00:00"
    assert job_id(handle) == UUID("4d40b6bb-b8f0-5687-8e52-a213307b15d6")
    assert job_id("acme||nightly_2026-01-01-09:00:00-2") == UUID("d3d885ab-8e82-577d-a1dd-78c30ad7e09f")
    assert job_id(schedule_handle("acme", "nightly")) == UUID("08d836d9-9524-539a-a680-150e35e4ce34")
    assert job_id(handle) != job_id(run_handle("acme", "nightly_2026-01-01-09:00:00-2"))


def test_the_idempotency_id_of_a_key_is_its_recorded_uuid5_and_per_company() -> None:
    assert idempotency_id("acme", "k1") == UUID("e787680f-f826-5841-a3ec-851146f6b987")
    assert idempotency_id("other", "k1") == UUID("db7468ea-3b79-544c-81a3-5174cda0f08b")
    assert idempotency_id("acme", "k1") != idempotency_id("other", "k1")
    assert idempotency_id("acme", "k1") != idempotency_id("acme", "k2")
    # A key's id is not the id of a handle that happens to spell the same text.
    assert idempotency_id("acme", "k1") != job_id("acme|k1")
