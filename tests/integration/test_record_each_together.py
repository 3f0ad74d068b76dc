"""record_each with `together`: ranges of a group recorded all or none, as one request's (a
runner's array of log rows). One failing command of a range leaves no event of the range; the
rest of the group is recorded as without it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from samples import OPTIMIZE, at

from jobledger.domain.commands import Command, LogDetail, Submit, UpdateProgress
from jobledger.domain.errors import LedgerError, NotRecordedError, RuleError
from jobledger.domain.job import Job
from jobledger.domain.payloads import decode_payload
from jobledger.service.ledger import JobLedger

PAYLOAD = decode_payload("optimizeImagesJob", OPTIMIZE)


def row(run: str, n: int, log_type: str = "UploadSuccess") -> LogDetail:
    return LogDetail(handle=run, log_type=log_type, message=f"file-{n}.jpg", at=at(10 + n))


def live_run(ledger: JobLedger) -> str:
    run = ledger.submit("acme", "nightly", PAYLOAD, at=at(0))
    ledger.start(run, "srv1", at=at(1))
    return run


def test_a_range_with_a_broken_rule_appends_none_of_its_commands(ledger: JobLedger) -> None:
    run = live_run(ledger)
    before = ledger.event_count()
    group = [row(run, 0), row(run, 1), row(run, 2, "Nope"), row(run, 3), row(run, 4)]
    outcomes, positions, _ = ledger.record_each(group, together=[range(1, 4)])
    assert isinstance(outcomes[0], Job) and isinstance(outcomes[4], Job)
    assert isinstance(outcomes[2], RuleError) and not isinstance(outcomes[2], NotRecordedError)
    for index in (1, 3):
        failed = outcomes[index]
        assert isinstance(failed, NotRecordedError) and failed.failed == 1  # the range's second
    assert positions[1:4] == [0, 0, 0]
    assert ledger.event_count() == before + 2
    assert ledger.get_job(run).detailTotalRows == 2
    assert outcomes[4].detailTotalRows == 2  # type: ignore[union-attr]  # it saw no row of the range


def test_a_range_with_an_invalid_command_appends_none_of_its_commands(ledger: JobLedger) -> None:
    run = live_run(ledger)
    before = ledger.event_count()
    bad = UpdateProgress(handle=run, percent=50.5, at=at(20))  # type: ignore[arg-type]
    outcomes, positions, _ = ledger.record_each([row(run, 0), bad, row(run, 1)], together=[range(0, 3)])
    assert isinstance(outcomes[1], LedgerError) and not isinstance(outcomes[1], NotRecordedError)
    assert isinstance(outcomes[0], NotRecordedError) and isinstance(outcomes[2], NotRecordedError)
    assert positions == [0, 0, 0] and ledger.event_count() == before


def test_a_failed_range_leaves_the_next_range_alone(ledger: JobLedger) -> None:
    run = live_run(ledger)
    group = [row(run, 0, "Nope"), row(run, 1), row(run, 2), row(run, 3)]
    outcomes, _, _ = ledger.record_each(group, together=[range(0, 2), range(2, 4)])
    assert [type(outcome).__name__ for outcome in outcomes[:2]] == ["InvalidValueError", "NotRecordedError"]
    assert all(isinstance(outcome, Job) for outcome in outcomes[2:])
    assert ledger.get_job(run).detailTotalRows == 2


def test_an_idempotency_key_claimed_in_a_failed_range_stays_free(ledger: JobLedger) -> None:
    run = live_run(ledger)
    submit = Submit(company="acme", name="other", payload=PAYLOAD, idempotency_key="k1", at=at(5))
    group = [submit, row(run, 0, "Nope"), submit]
    outcomes, _, replayed = ledger.record_each(group, together=[range(0, 2)])
    assert isinstance(outcomes[0], NotRecordedError)
    assert isinstance(outcomes[2], Job) and replayed == [False, False, False]  # a first submit
    assert ledger.submitted("acme", "k1") is not None


def test_without_ranges_each_command_stands_alone(ledger: JobLedger) -> None:
    run = live_run(ledger)
    outcomes, _, _ = ledger.record_each([row(run, 0), row(run, 1, "Nope"), row(run, 2)])
    assert isinstance(outcomes[0], Job) and isinstance(outcomes[2], Job)
    assert ledger.get_job(run).detailTotalRows == 2


# --- the invariant: a group with ranges records what the requests would one by one ---------------

Request = list[tuple[int, bool]]  # rows of one request: (job index, whether the row is broken)
requests = st.lists(
    st.lists(st.tuples(st.integers(0, 2), st.booleans()), min_size=1, max_size=4),
    min_size=1,
    max_size=6,
)


def commands_of(runs: list[str], request: Request, first: int) -> list[Command]:
    return [
        row(runs[job], first + n, "Nope" if broken else "UploadSuccess")
        for n, (job, broken) in enumerate(request)
    ]


@settings(max_examples=25, deadline=None)
@given(requests)
def test_a_group_with_ranges_records_what_its_requests_would_one_at_a_time(asked: list[Request]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        grouped, alone = (JobLedger(Path(folder) / f"{name}.db") for name in ("grouped", "alone"))
        try:
            runs = {
                name: [live_run(ledger) for _ in range(3)] for name, ledger in (("g", grouped), ("a", alone))
            }
            group: list[Command] = []
            spans: list[range] = []
            for request in asked:
                made = commands_of(runs["g"], request, len(group))
                spans.append(range(len(group), len(group) + len(made)))
                group += made
            outcomes, _, _ = grouped.record_each(group, together=spans)
            first = 0
            for request, span in zip(asked, spans, strict=True):
                made = commands_of(runs["a"], request, first)
                first += len(made)
                try:
                    alone.record(made)
                    recorded = True
                except RuleError:
                    recorded = False
                assert all(isinstance(outcomes[i], Job) for i in span) == recorded
            for g, a in zip(runs["g"], runs["a"], strict=True):
                assert grouped.get_job(g).detailTotalRows == alone.get_job(a).detailTotalRows
            assert grouped.event_count() == alone.event_count()
        finally:
            grouped.close()
            alone.close()
