"""Helper processes fed frames on their stdin: how they start, frame, read and stop.

The bulk appender (store/appender.py) and the rebuild's row writer (projections/writer.py) each
run a module of ours as `python -m MODULE` in a child process: a plain subprocess rather than
multiprocessing, whose spawn re-imports the caller's main module (breaking any script without a
__main__ guard). Frames are a length, then that many bytes; the child answers on stdout, and a
child that died leaves its last stderr line as the reason.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:  # subprocess loads when a child starts: a read command never starts one
    import subprocess

_LENGTH = struct.Struct("<Q")
STOP_SECONDS = 30


def start(module: str, *args: str) -> subprocess.Popen[bytes]:
    """`python -m module args...` with pipes on stdin, stdout and stderr."""
    import subprocess

    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def frame(data: bytes) -> bytes:
    """One frame: the length of `data`, then `data`."""
    return _LENGTH.pack(len(data)) + data


def frames(stream: BinaryIO) -> Iterator[bytes]:
    """The frames on a stream, until it closes."""
    while header := stream.read(_LENGTH.size):
        yield stream.read(_LENGTH.unpack(header)[0])


def stop(child: subprocess.Popen[bytes]) -> None:
    """Close the pipes left open (the child sees its stdin end) and wait; kill it if it hangs."""
    for stream in (child.stdin, child.stdout, child.stderr):
        if stream is not None and not stream.closed:
            stream.close()
    import subprocess

    try:
        child.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def why_stopped(child: subprocess.Popen[bytes]) -> str:
    """Why a child that stopped early stopped: its last line on stderr, or its exit status."""
    child.wait(STOP_SECONDS)
    assert child.stderr is not None
    last = child.stderr.read().decode(errors="replace").strip().splitlines()[-1:]
    return last[0] if last else f"exit status {child.returncode}"
