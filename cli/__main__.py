"""`python -m jobledger.cli`: the `jobledger` console script."""

from jobledger.cli.main import cli

if __name__ == "__main__":
    cli(prog_name="jobledger")
