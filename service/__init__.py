"""jobledger service: the JobLedger application (the only code that appends), the scheduler's tick,
and opening a ledger with its views."""

from jobledger.service.commanding import Submission
from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

__all__ = ["JobLedger", "Submission", "open_projector"]
