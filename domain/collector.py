"""Pausing the cyclic garbage collector around large folds and batches."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

LARGE_WORK = 1000


def collector_paused(work: int) -> AbstractContextManager[None]:
    """Pause the cyclic garbage collector for a large piece of work (`work` items or more).

    Folding builds many short-lived objects, and collections triggered by them scan everything
    alive; measured on large batches and rebuilds, pausing saved a quarter of the time. Nothing
    here forms reference cycles, and the collector runs again afterwards. Small work (every single
    command) gets a plain null context: a generator-based one cost a few microseconds each time.
    """
    if work < LARGE_WORK or not gc.isenabled():
        return _NOT_PAUSED
    return _paused()


_NOT_PAUSED: AbstractContextManager[None] = nullcontext()  # holds no state: one serves every caller


@contextmanager
def _paused() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
