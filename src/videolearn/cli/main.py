"""`videolearn`: the commands, gathered from one module per command group.

Heavy modules load inside the commands so that `--help` is instant. Exit codes: 0 ok,
1 some inputs failed (the rest were done), 2 usage error, 3 stopped part way by an
unexpected error (one sentence on stderr; VIDEOLEARN_TRACEBACK=1 shows the traceback).
"""

from __future__ import annotations

import os
import sys

import typer

from videolearn.cli import banks, learn, library, media, moderation, recommend, search, serve
from videolearn.cli.common import EXIT_SOME_FAILED, EXIT_STOPPED

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
app.add_typer(moderation.app)
app.add_typer(moderation.review_app, name="review")
app.add_typer(moderation.audit_app, name="audit")
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
    except Exception as err:
        if os.environ.get("VIDEOLEARN_TRACEBACK"):
            raise
        typer.echo(
            f"videolearn: stopped by an unexpected error: {type(err).__name__}: {err} "
            "(what was stored before it is kept; VIDEOLEARN_TRACEBACK=1 shows where)",
            err=True,
        )
        sys.exit(EXIT_STOPPED)


if __name__ == "__main__":
    main()
