"""A served ledger with tokens for the auth tests: an IpsAdmin, a token per (company, role) for two
companies, and a running job in each company."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from server_support import Served, job_path, serving

from jobledger.service.ledger import JobLedger

PAYLOAD = {"optimizeImagesJob": {"emailSetting": "All"}}
COMPANIES = ("acme", "globex")
ROLES = (("IpsCompanyAdmin", "cadmin"), ("IpsUser", "user"), ("ReadOnly", "reader"))


def role_tokens(db: str) -> dict[str, str]:
    """Secrets by name: "admin" (an IpsAdmin of acme) and "<company>-<cadmin|user|reader>"."""
    made: dict[str, str] = {}
    with JobLedger(db) as ledger:
        made["admin"] = ledger.create_token("acme", "IpsAdmin", name="ops").secret
        for company in COMPANIES:
            for role, short in ROLES:
                made[f"{company}-{short}"] = ledger.create_token(company, role).secret
    return made


class AuthWorld:
    """The served ledger, its tokens, and each company's run."""

    def __init__(self, server: Served, tokens: dict[str, str]) -> None:
        self.server = server
        self.tokens = tokens
        self.runs: dict[str, str] = {}

    @classmethod
    @contextmanager
    def serving(cls, folder: Path, server_name: str) -> Iterator[Self]:
        """A ledger in `folder` with the role tokens (made before it is served), served with
        tokens, and a run started on `server_name` in each company."""
        db = str(folder / "ledger.db")
        tokens = role_tokens(db)
        with serving(db, auth=True) as server:
            world = cls(server, tokens)
            world.start_runs(server_name)
            yield world

    def call(self, who: str | None, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """A request with `who`'s token (none for None)."""
        headers = {"authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return self.server.call(method, path, body, headers=headers)

    def count(self) -> int:
        status, body = self.call("admin", "GET", "/v1/audit/digest")
        assert status == 200
        return int(body["events"])

    def start_runs(self, server_name: str) -> None:
        """Submit and start a run in each company, by its IpsUser."""
        for company in COMPANIES:
            status, run = self.call(
                f"{company}-user", "POST", "/v1/jobs", {"companyHandle": company, "jobName": "n", **PAYLOAD}
            )
            assert status == 201, run
            self.runs[company] = run["jobHandle"]
            start = job_path(run["jobHandle"], "start")
            assert self.call(f"{company}-user", "POST", start, {"serverName": server_name})[0] == 200
