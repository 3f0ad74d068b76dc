"""The registry of views: each a module with NAME, ROW_TYPE, KEY_COLUMNS, INDEXES, key and apply."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from jobledger.domain.events import DomainEvent
from jobledger.projections import active_jobs, activity, job_log_details, job_logs, scheduled_jobs
from jobledger.projections.rows import RowCodec

Key = tuple[Any, ...]
# The (job handle, company) a row is named with when its run's Submitted was quarantined.
UNNAMED = ("", "")


@dataclass(frozen=True)
class View:
    """One view: how events pick its rows, how a row folds an event, how rows are stored."""

    name: str
    row_type: type[Any]
    key_columns: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...]
    # (event, run id) -> key, or (event, RunFacts) for a run-aware view
    key: Callable[..., Key | None]
    events: type[DomainEvent]  # the events that can touch a row; others are not even offered
    apply: Callable[..., Any]  # (row, event), or (row, event, RunFacts) for a run-aware view
    # Whether apply needs the previous row; detail rows are written once and never read back.
    folds_rows: bool = True
    # For a view whose rows name their run (job handle, company): the row an event makes given
    # those, used by every fold instead of `apply` (which leaves them empty).
    named: Callable[[DomainEvent, str, str], Any] | None = None
    # For a view whose rows depend on facts of the event's run (activity): `key` and `apply` take
    # the run's RunFacts instead of its id, and the folds supply them.
    run_aware: bool = False
    codec: RowCodec[Any] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "codec", RowCodec(self.row_type))

    @classmethod
    def from_module(cls, module: ModuleType, *, folds_rows: bool = True) -> View:
        """A view from the module that defines it."""
        return cls(
            name=module.NAME,
            row_type=module.ROW_TYPE,
            key_columns=module.KEY_COLUMNS,
            indexes=module.INDEXES,
            key=module.key,
            events=module.EVENTS,
            apply=module.apply,
            folds_rows=folds_rows,
            named=getattr(module, "named", None),
            run_aware=getattr(module, "RUN_AWARE", False),
        )

    def row_key(self, values: tuple[Any, ...]) -> Key:
        """The key of a stored row (values in column order)."""
        columns = self.codec.columns
        return tuple(values[columns.index(column)] for column in self.key_columns)


VIEWS: dict[str, View] = {
    view.name: view
    for view in (
        View.from_module(active_jobs),
        View.from_module(job_logs),
        View.from_module(job_log_details, folds_rows=False),
        View.from_module(scheduled_jobs),
        # After job_logs: a batch's catch-up takes the run facts from the rows job_logs just folded.
        View.from_module(activity),
    )
}
