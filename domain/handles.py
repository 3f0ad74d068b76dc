"""Handles in the IPS shape and the aggregate ids derived from them.

Aggregate ids are uuid5 of the handle, so the store's uniqueness of (id, version 1) is what
makes a handle unique, across processes and machines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from uuid import UUID, uuid5

_NAMESPACE = UUID("5b0e7d36-2a5e-4b8f-9a7e-6f1d0c3a9e21")


@lru_cache(maxsize=65536)
def job_id(handle: str) -> UUID:
    """The aggregate id of a job or schedule handle."""
    return uuid5(_NAMESPACE, handle)


def idempotency_id(company: str, key: str) -> UUID:
    """The aggregate id of a company's idempotency key."""
    return uuid5(_NAMESPACE, f"idempotency|{company}|{key}")


def run_name(original_name: str, at: datetime, counter: int = 1) -> str:
    """IPS run name: the submitted name plus a UTC time suffix, and a counter after the first."""
    # isoformat, not strftime: it writes year 1 as "0001" on every platform (strftime writes "1" on
    # Linux), and is faster.
    text = at.astimezone(UTC).isoformat()
    stamp = f"{text[:10]}-{text[11:19]}"
    suffix = "" if counter == 1 else f"-{counter}"
    return f"{original_name}_{stamp}{suffix}"


def run_handle(company: str, name: str) -> str:
    """Handle of a run: `company||runName`."""
    return f"{company}||{name}"


def schedule_handle(company: str, name: str) -> str:
    """Handle of a schedule (trigger): `company|name|`."""
    return f"{company}|{name}|"


def company_of(handle: str) -> str:
    """The company part of a handle."""
    return handle.split("|", 1)[0]
