"""`jobledger serve`: the ledger as an HTTP service (server/)."""

from __future__ import annotations

import click

from jobledger.cli.group import Config, cli, pass_config


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@click.option(
    "--no-auth",
    is_flag=True,
    help="Serve without tokens, every caller an IpsAdmin: only on a loopback address, for trying it out.",
)
@click.option("--no-dashboard", is_flag=True, help="Serve the API only, without the pages at /.")
@click.option(
    "--db",
    "db",
    default=None,
    help="Event store, as the group's --db (either place; this one wins).",
)
@click.option(
    "--views",
    "views",
    default=None,
    help="SQLite file for the views, as the group's --views (either place; this one wins).",
)
@pass_config
def serve(
    config: Config, host: str, port: int, no_auth: bool, no_dashboard: bool, db: str | None, views: str | None
) -> None:
    """Serve the ledger over HTTP: the only writer of its ledger, with group commit.

    Runners and operators use the JSON API under /v1 (described at /v1/openapi.json and /v1/docs);
    operators log in to the dashboard at / with a token; /healthz, /readyz and /metrics are for
    the platform. SIGTERM or Ctrl-C stops taking commands,
    answers every command already taken, and exits 0.
    """
    from jobledger.server.auth import is_loopback
    from jobledger.server.serving import listening, serve_lock
    from jobledger.server.serving import serve as run
    from jobledger.web.dashboard import Dashboard

    # `jobledger serve --db X` reads as the issue and the platforms' unit files write it; the
    # group's `jobledger --db X serve` is the other commands' way.
    config.named_db(db)
    config.refuse_server()  # before the serve lock makes its file beside the ledger
    if views is not None:
        config.views = views
    if no_auth and not is_loopback(host):
        raise click.UsageError(
            f"--no-auth serves only a loopback address (127.0.0.1, ::1, localhost), not {host}:"
            " create tokens with `jobledger tokens create` instead"
        )
    # The address first: one that is taken is refused before a ledger or a lock file is made.
    with listening(host, port) as sock, serve_lock(config.db):
        ledger = config.ledger(create=True)
        try:
            if no_auth:
                click.echo(
                    "warning: serving without tokens: every caller on this machine is an IpsAdmin", err=True
                )
            elif not ledger.tokens().by_id:
                click.echo(
                    "warning: the ledger has no tokens yet, so every request will be refused (401);"
                    " create one with `jobledger tokens create --company C --role IpsAdmin`",
                    err=True,
                )
            run(ledger, config.views, sock, host, auth=not no_auth, wrap=None if no_dashboard else Dashboard)
        finally:
            ledger.close()
