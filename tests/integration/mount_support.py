"""Real mounts for the storage-fault tests (a tmpfs, a read-only bind mount): CI runs as root;
elsewhere the tests that need them skip and say why."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mounted(folder: Path, *steps: Sequence[str]) -> Iterator[Path]:
    """Run the mount commands in turn (each ends with its target), skip the test if one fails,
    and unmount `folder` afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a file system needs root (CI runs as root)")
    done = False
    try:
        for step in steps:
            result = subprocess.run(["mount", *step], capture_output=True, text=True)
            if result.returncode:
                pytest.skip(f"cannot mount here ({' '.join(step)}): {result.stderr.strip()}")
            done = True
        yield folder
    finally:
        if done:
            subprocess.run(["umount", "-l", str(folder)], check=False)
