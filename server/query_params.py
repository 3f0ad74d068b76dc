"""The views' query parameters that name a value (a state, a job type, a log type, a sort), checked
by the checks the CLI's options use (projections/checks.py): a value the CLI refuses is a 400 here
in the CLI's words, and a spelling it takes (a payload kind for `type`) finds the same runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from jobledger.projections import checks

from .errors import HttpError
from .http import Request


def checked(request: Request, name: str, check: Callable[[str], str]) -> str | None:
    """A parameter as `check` spells it, if given."""
    value = request.text(name)
    return None if value is None else _check(name, check, value)


def one_of(request: Request, name: str, choices: Sequence[str]) -> str | None:
    """A parameter that takes one of `choices`, if given."""
    value = request.text(name)
    return None if value is None else _check(name, lambda v: checks.one_of(v, choices), value)


def choice(request: Request, name: str, choices: Sequence[str], default: str) -> str:
    """A parameter that takes one of `choices`, or `default` if not given."""
    return one_of(request, name, choices) or default


def many_of(request: Request, name: str, choices: Sequence[str]) -> list[str]:
    """A parameter repeated or separated by commas, each one of `choices`."""
    return each(request, name, lambda value: checks.one_of(value, choices))


def each(request: Request, name: str, check: Callable[[str], str]) -> list[str]:
    """A parameter repeated or separated by commas, each value as `check` spells it."""
    given = [value for values in request.lists.get(name, []) for value in values.split(",") if value]
    return [_check(name, check, value) for value in given]


def log_types(request: Request) -> list[str]:
    """logTypeArray (repeated, or separated by commas), each as IPS spells it."""
    return each(request, "logTypeArray", checks.log_type)


def _check(name: str, check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except checks.UnknownValueError as err:
        raise HttpError(400, "bad_query", f"Invalid value for '{name}': {err}") from None
