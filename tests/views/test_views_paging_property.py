"""For random runs recorded through the ledger API (sort values drawn from small ranges, so they
repeat, and some stored as NULL), any page size, sort and filter: the pages walked forward from the
first, or backward from the last, concatenate to exactly `job_logs`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paging_support import (
    COMPANIES,
    SORTS,
    USERS,
    Run,
    null_sort_values,
    record_runs,
    walk_backward,
    walk_forward,
)

from jobledger.projections import queries
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

runs = st.lists(
    st.builds(
        Run,
        company=st.integers(0, len(COMPANIES) - 1),
        name=st.integers(0, 2),
        user=st.integers(0, len(USERS) - 1),
        payload=st.integers(0, 4),
        submitted=st.integers(0, 4),
        started=st.none() | st.integers(0, 3),
        counters=st.none() | st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    ),
    max_size=30,
)
filters = st.fixed_dictionaries(
    {},
    optional={
        "company": st.sampled_from(COMPANIES),
        "user": st.sampled_from(USERS),
        "state": st.sampled_from(["New", "Running", "Done"]),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    history=runs,
    nulled=st.sets(st.integers(0, 29), max_size=6),
    limit=st.integers(1, 8),
    sort=st.sampled_from(SORTS),
    query=filters,
)
def test_pages_concatenate_to_job_logs(
    history: list[Run], nulled: set[int], limit: int, sort: tuple[str, str], query: dict[str, str]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ledger = JobLedger(str(Path(folder) / "ledger.db"))
        projector = open_projector(ledger)
        try:
            handles = record_runs(ledger, history)
            projector.catch_up()
            null_sort_values(projector.db, [h for i, h in enumerate(handles) if i in nulled])
            sort_by, direction = sort
            expected = queries.job_logs(projector.db, sort_by=sort_by, direction=direction, **query)
            assert (
                walk_forward(projector.db, limit, sort_by=sort_by, direction=direction, **query) == expected
            )
            assert (
                walk_backward(projector.db, limit, sort_by=sort_by, direction=direction, **query) == expected
            )
        finally:
            projector.db.close()
            ledger.close()
