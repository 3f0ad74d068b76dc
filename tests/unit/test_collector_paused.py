"""collector_paused: the garbage collector rests during large work only, and always comes back."""

from __future__ import annotations

import gc

import pytest

from jobledger.domain.collector import LARGE_WORK, collector_paused


def test_large_work_runs_with_the_collector_paused_and_it_comes_back() -> None:
    with collector_paused(LARGE_WORK):
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_comes_back_when_the_work_fails() -> None:
    with pytest.raises(RuntimeError), collector_paused(LARGE_WORK):
        raise RuntimeError("broken rule")
    assert gc.isenabled()


def test_small_work_leaves_the_collector_alone() -> None:
    with collector_paused(LARGE_WORK - 1):
        assert gc.isenabled()


def test_work_inside_paused_work_leaves_it_paused() -> None:
    with collector_paused(LARGE_WORK):
        with collector_paused(LARGE_WORK):
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
