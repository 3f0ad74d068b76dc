"""A scheduler process for the concurrency tests: tick one ledger at each given time, print the runs.

Usage: python schedule_worker.py DB VIEWS|- TIME...   (VIEWS "-" means the views live in DB)
With WORKER_READY and WORKER_GO set, it touches WORKER_READY and waits for WORKER_GO before ticking.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector
from jobledger.service.scheduler import tick


def main(db: str, views: str, times: list[str]) -> None:
    ledger = JobLedger(db)
    try:
        projector = open_projector(ledger, None if views == "-" else views)
        projector.catch_up()
        # Start together: wait for the test to create the "go" file once every worker is ready.
        ready, go = os.environ.get("WORKER_READY"), os.environ.get("WORKER_GO")
        if ready and go:
            Path(ready).touch()
            deadline = time.monotonic() + 20
            while not Path(go).exists() and time.monotonic() < deadline:
                time.sleep(0.005)
        for text in times:
            for handle in tick(ledger, projector, datetime.fromisoformat(text)):
                print(handle, flush=True)
    finally:
        ledger.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
