"""Domain helpers shared by the unit and property tests of the Job aggregate: a submitted job and the
state after the events a decision returned."""

from __future__ import annotations

from collections.abc import Sequence

from samples import MINIMAL_PAYLOADS, at

from jobledger.domain.events import JobEvent
from jobledger.domain.job import Job, decide_submit, evolve
from jobledger.domain.payloads import decode_payload, job_type

HANDLE = "acme||nightly_2026-01-01-09:00:00"
STATE_ORDER = {"New": 0, "Running": 1, "Stopping": 2, "Done": 3}


def then(job: Job | None, events: Sequence[JobEvent]) -> Job:
    """The state after the events a decision returned."""
    for event in events:
        job = evolve(event, job)
    assert job is not None
    return job


def submitted(kind: str = "optimizeImagesJob", payload: str | None = None) -> Job:
    """A job just submitted at T0, as HANDLE."""
    data = payload if payload is not None else MINIMAL_PAYLOADS[kind][0]
    events = decide_submit(
        company="acme",
        handle=HANDLE,
        name="nightly_2026-01-01-09:00:00",
        original_name="nightly",
        payload=decode_payload(kind, data),
        job_type=job_type(kind),
        user_email="ops@example.com",
        locale="en-US",
        description="the nightly optimise",
        at=at(0),
    )
    return then(None, events)
