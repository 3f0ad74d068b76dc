"""`jobledger tokens`: bearer tokens for `jobledger serve`, kept as events (only their hashes)."""

from __future__ import annotations

import click

from jobledger.cli.group import Config, cli, pass_config
from jobledger.cli.render import emit, output_options
from jobledger.cli.timefmt import when
from jobledger.domain.access import ROLES, Token
from jobledger.service.records import token_record

TOKEN_FIELDS = ["tokenId", "companyHandle", "role", "name", "issued", "revoked"]


@cli.group("tokens")
def tokens_group() -> None:
    """Create, list and revoke the bearer tokens `jobledger serve` accepts."""


@tokens_group.command("create")
@click.option("--company", required=True, help="The company the token reads and acts for.")
@click.option(
    "--role",
    required=True,
    type=click.Choice(ROLES),
    help="IpsAdmin: every company. IpsCompanyAdmin: all of its company. IpsUser: submit and drive"
    " jobs, read its company. ReadOnly: queries and events of its company.",
)
@click.option("--name", default="", help="What the token is for (a runner's host, a person).")
@pass_config
def create(config: Config, company: str, role: str, name: str) -> None:
    """Issue a token and print its secret: shown this once, the ledger keeps only its hash."""
    issued = config.jobs(create=True).create_token(company, role, name=name)
    click.echo(issued.secret)
    click.echo(
        f"token {issued.token.tokenId} ({role} of {company}): keep it now, it is not shown again", err=True
    )


@tokens_group.command("list")
@click.option("--company", default=None, help="Only this company's tokens.")
@click.option("--all", "show_all", is_flag=True, help="Revoked tokens too.")
@output_options()
@pass_config
def list_tokens(config: Config, company: str | None, show_all: bool, fmt: str) -> None:
    """List tokens (never their secrets): id, company, role, name, when issued and revoked."""
    book = config.jobs().tokens()
    chosen = [
        token
        for token in book.by_id.values()
        if (company is None or token.companyHandle == company) and (show_all or token.active)
    ]
    if fmt == "table":
        emit(fmt, [_table_row(token) for token in chosen], TOKEN_FIELDS)
    else:
        emit(fmt, [token_record(token) for token in chosen], TOKEN_FIELDS)


@tokens_group.command("revoke")
@click.argument("token_id")
@pass_config
def revoke(config: Config, token_id: str) -> None:
    """Revoke a token by its id (the part after `jlt_` up to the next `_`); it stops working at once."""
    token = config.jobs().revoke_token(token_id.removeprefix("jlt_").split("_")[0])
    click.echo(f"revoked token {token.tokenId} ({token.role} of {token.companyHandle})", err=True)


def _table_row(token: Token) -> dict[str, object]:
    return {**token_record(token), "issued": when(token.issued), "revoked": when(token.revoked)}
