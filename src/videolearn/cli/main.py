"""`videolearn`: the commands, gathered from one module per command group.

Heavy modules load inside the commands so that `--help` is instant. Exit codes: 0 ok,
1 some inputs failed (the rest were done), 2 usage error.
"""

from __future__ import annotations

import sys

import typer

from videolearn.cli import banks, learn, library, media, recommend, search, serve
from videolearn.cli.common import EXIT_SOME_FAILED

app = typer.Typer(
    help="Index a video library and learn from it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(library.app)
app.add_typer(search.app)
app.add_typer(recommend.app)
app.add_typer(recommend.duplicates_app, name="duplicates")
app.add_typer(media.app)
app.add_typer(banks.bank_app, name="bank")
app.add_typer(banks.app)
app.add_typer(learn.app)
app.add_typer(serve.app)
app.add_typer(serve.token_app, name="token")


def main() -> None:
    from videolearn.errors import VideolearnError

    try:
        app()
    except VideolearnError as err:
        typer.echo(f"videolearn: {err}", err=True)
        sys.exit(EXIT_SOME_FAILED)


if __name__ == "__main__":
    main()
