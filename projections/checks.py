"""The values the views' queries take, checked and spelled as the views store them.

The CLI's options and the server's query parameters both check with these, so a value one
refuses the other refuses in the same words, and a value one takes finds the same runs in both.
"""

from __future__ import annotations

from collections.abc import Sequence

from jobledger.domain.constants import JOB_STATES, parse_log_type
from jobledger.domain.limits import MAX_COUNT
from jobledger.domain.payloads import PAYLOAD_KINDS
from jobledger.projections.queries import MAX_PER_PAGE

ACTIVE_STATES = tuple(state for state in JOB_STATES if state != "Done")  # getActiveJobs: runs not yet Done
# The last page of getJobLogDetails whose first row's offset a 64-bit integer holds.
MAX_PAGE = MAX_COUNT // MAX_PER_PAGE + 1

# Either vocabulary names a job type: its IPS Job Types value, or the payload kind it is submitted as.
_JOB_TYPES: dict[str, str] = {
    **{kind.casefold(): job_type for kind, (_, job_type) in PAYLOAD_KINDS.items()},
    **{job_type.casefold(): job_type for _, job_type in PAYLOAD_KINDS.values()},
}


class UnknownValueError(ValueError):
    """A value a query does not take; the message names the ones it does."""


def one_of(value: str, choices: Sequence[str]) -> str:
    """`value`, if it is one of `choices` as spelled."""
    if value not in choices:
        raise UnknownValueError(f"{value!r} is not one of {', '.join(map(repr, choices))}.")
    return value


def job_type(value: str) -> str:
    """The job type a job type (UrlUpload) or a payload kind (uploadUrlsJob) names, in any case."""
    found = _JOB_TYPES.get(value.strip().casefold())
    if found is None:
        known = ", ".join(sorted({t for _, t in PAYLOAD_KINDS.values()}))
        raise UnknownValueError(
            f"unknown job type {value!r}; job types are {known}, or a payload kind"
            " (`jobledger kinds` lists both)"
        )
    return found


def log_type(value: str) -> str:
    """A Job Log Type as IPS spells it (matched without regard to case)."""
    found = parse_log_type(value)
    if found is None:
        raise UnknownValueError(f"unknown log type {value!r} (`jobledger log-types` lists them)")
    return found
