"""The server's helper processes (the views' follower; on PostgreSQL the writer): how they start."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import sys
from collections.abc import Mapping

PR_SET_PDEATHSIG = 1


async def spawn(module: str, env: Mapping[str, str]) -> asyncio.subprocess.Process:
    """Run `python -m module` with pipes on its stdin and stdout (settings in `env`: a PostgreSQL
    URL may hold a password, and the command line is visible to every user)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        env=dict(env),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )


async def stop(process: asyncio.subprocess.Process, timeout: float, last: bytes = b"") -> None:
    """End a helper's input (after `last`), let it finish within `timeout` seconds, else kill it."""
    if process.stdin is not None and process.returncode is None:
        if last:
            process.stdin.write(last)
        process.stdin.close()
    try:
        await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()


def as_child() -> None:
    """In a helper: leave Ctrl-C and SIGTERM to the server (a terminal sends Ctrl-C to every
    process of the group, and systemd's and `timeout`'s stops send SIGTERM to all of it; the
    server answers what it took, then ends the helper's input), and die with the server, a
    kill -9 included (Linux; elsewhere the end of its input stops it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
