"""Taking an SQLite file's write lock by asking often, for the ledger's writer and the views'.

SQLite's own busy wait sleeps ever longer (up to 100 ms at a time) while another connection
holds the lock, so a writer that asks again every few hundred microseconds takes the lock
nearly every time it comes free and the other falls behind. `jobledger serve`'s writer and the
views' catch-up share one file by default: both ask this often.
"""

from __future__ import annotations

import sqlite3
import time

LOCK_POLL_S = 0.0003  # between two asks for the write lock


def begin_immediate(conn: sqlite3.Connection, timeout_s: float, busy_timeout_ms: int) -> None:
    """BEGIN IMMEDIATE on `conn`, asking every LOCK_POLL_S until `timeout_s` has passed (then the
    "locked" error is raised); the connection's busy timeout is `busy_timeout_ms` again after."""
    deadline = time.monotonic() + timeout_s
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
            time.sleep(LOCK_POLL_S)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
