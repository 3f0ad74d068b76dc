"""The vocabularies errors refer to: `kinds` (payload kinds, job types, fields) and `log-types`;
and the read commands' options that take one of them, checked as the server checks its queries."""

from __future__ import annotations

from typing import Any

import click
import msgspec

from jobledger.cli.group import cli
from jobledger.cli.render import emit, output_options
from jobledger.domain.constants import LOG_TYPES, canonical_log_type
from jobledger.domain.payloads import PAYLOAD_KINDS
from jobledger.projections import checks


class JobType(click.ParamType[str]):
    """A job type (UrlUpload) or the payload kind it is submitted as (uploadUrlsJob), any case."""

    name = "TYPE|KIND"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return checks.job_type(str(value))
        except checks.UnknownValueError as err:
            self.fail(str(err), param, ctx)


class OneOf(click.Choice[str]):
    """A click.Choice checked by the queries' own check, which the server's parameters use too."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return checks.one_of(str(value), [str(choice) for choice in self.choices])
        except checks.UnknownValueError as err:
            self.fail(str(err), param, ctx)


JOB_TYPE = JobType()


def kind_records() -> list[dict[str, Any]]:
    """Each payload kind with its job type and its required and optional fields (JSON names)."""
    records = []
    for kind, (cls, job_type) in PAYLOAD_KINDS.items():
        fields = msgspec.structs.fields(cls)
        records.append(
            {
                "kind": kind,
                "type": job_type,
                "required": [f.encode_name for f in fields if f.required],
                "optional": [f.encode_name for f in fields if not f.required],
            }
        )
    return records


@cli.command("kinds")
@output_options("table", "json", "ndjson")
def kinds(fmt: str) -> None:
    """List the payload kinds `submit --type` takes, their job types and their fields."""
    records = kind_records()
    if fmt != "table":
        emit(fmt, records, ["kind", "type", "required", "optional"])
        return
    rows = [{**r, "required": ", ".join(r["required"]) or "-"} for r in records]
    emit(fmt, rows, ["kind", "type", "required"], free=["required"])


@cli.command("log-types")
@output_options("table", "json", "ndjson")
def log_types(fmt: str) -> None:
    """List the Job Log Types `log --log-type` takes (IPS's misspellings too, with what they mean)."""
    records = [
        {"logType": value, "means": canonical_log_type(value) if canonical_log_type(value) != value else None}
        for value in sorted(LOG_TYPES, key=lambda name: (name.casefold(), name))  # (ties: one order)
    ]
    emit(fmt, records, ["logType", "means"])
