"""The views' follower of `jobledger serve`: a child process that folds each commit into the views.

    JOBLEDGER_FOLLOW_DB=... [JOBLEDGER_FOLLOW_VIEWS=...] python -m jobledger.server.follower

The server's one process is held to one core by the GIL, and folding events into the views is
CPU the request path would otherwise wait for; here it runs on the other core. The server writes
a line to this process's stdin after a commit; the follower catches up to the store's head and
answers with one line, the position every view has reached. Lines that arrive while it folds are
answered by the next catch-up together. It stops at the end of its input (the server closed the
pipe, or died), and dies with the server.
"""

from __future__ import annotations

import os
import sys

from jobledger.service.ledger import JobLedger
from jobledger.service.opening import open_projector

from .children import as_child

FOLLOW_DB = "JOBLEDGER_FOLLOW_DB"  # the ledger (a PostgreSQL URL may hold a password: not in argv)
FOLLOW_VIEWS = "JOBLEDGER_FOLLOW_VIEWS"  # the views file, if not the ledger's own


def follow(db: str, views: str | None) -> None:
    """Catch up once per batch of lines on stdin, answering each with the views' position."""
    ledger = JobLedger(db, create=False)
    projector = open_projector(ledger, views)
    try:
        os.write(1, b"%d\n" % projector.position())  # ready
        while True:
            asked = os.read(0, 65536)  # every nudge waiting, answered by one catch-up
            if not asked:
                return
            try:
                projector.catch_up()
                reached = projector.position()
            except Exception as err:  # a store or disk failure: the next commit tries again
                print(f"jobledger: the views did not catch up: {err}", file=sys.stderr, flush=True)
                reached = -1
            os.write(1, b"%d\n" % reached)
    finally:
        projector.db.close()
        ledger.close()


def main() -> None:
    """Follow the ledger named in the environment."""
    as_child()
    follow(os.environ[FOLLOW_DB], os.environ.get(FOLLOW_VIEWS) or None)


if __name__ == "__main__":
    main()
