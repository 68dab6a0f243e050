"""`moderate`: each video's verdicts under the library's policies, with the evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from videolearn.cli.common import (
    DEFAULT_LIBRARY_PATH,
    EXIT_USAGE,
    JsonOption,
    LibraryOption,
    emit,
    fail,
    open_cli_library,
)

app = typer.Typer()


@app.command()
def moderate(
    videos: Annotated[
        list[str] | None,
        typer.Argument(
            help="Indexed videos (paths or ids); every indexed video when none.",
            metavar="[VIDEO...]",
        ),
    ] = None,
    policies: Annotated[
        Path | None,
        typer.Option(
            help="A policy file to use instead of the library's (policies.toml).",
            metavar="FILE",
        ),
    ] = None,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Verdicts under the library's policies (flag, review, block), with the evidence
    that decided each: signal, time span, score, words or label. Reads what indexing
    stored; decodes nothing."""
    from videolearn.apps.moderation import moderate as judge
    from videolearn.apps.policies import load_policies
    from videolearn.errors import PolicyError, VideoNotFoundError

    with open_cli_library(library) as lib:
        try:
            chosen = None
            if policies is not None:
                if not policies.is_file():
                    raise fail(f"no policy file at {policies}", EXIT_USAGE)
                chosen = load_policies(policies)
            report = judge(lib, videos or (), chosen)
        except (PolicyError, VideoNotFoundError) as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        for verdict in report.verdicts:
            emit(verdict.to_json())
        return
    if not report.policies:
        typer.echo("no policies: write them in policies.toml in the library (see the README)")
        return
    for v in report.verdicts:
        typer.echo(f"{v.action:6}  {v.policy}  {v.path}  (score {v.score:.2f})")
        for e in v.evidence:
            said = f'  "{e.text}"' if e.text else ""
            typer.echo(f"  {e.start_s:7.1f} - {e.end_s:7.1f} s  {e.signal}: {e.matched}{said}")
    flagged = len({v.video_id for v in report.verdicts})
    policies_n = f"{report.policies} polic{'y' if report.policies == 1 else 'ies'}"
    typer.echo(f"{report.videos} video(s) under {policies_n}: {flagged} with a verdict")
