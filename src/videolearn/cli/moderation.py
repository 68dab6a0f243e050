"""`moderate`, `review` and `audit`: verdicts under the library's policies with their
evidence, people's decisions on them, and the log of both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from videolearn.cli.common import (
    DEFAULT_LIBRARY_PATH,
    EXIT_SOME_FAILED,
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
        _evidence(v.to_json()["evidence"], "  ")
    flagged = len({v.video_id for v in report.verdicts})
    policies_n = f"{report.policies} polic{'y' if report.policies == 1 else 'ies'}"
    typer.echo(f"{report.videos} video(s) under {policies_n}: {flagged} with a verdict")


def _evidence(evidence: list[dict[str, Any]], indent: str) -> None:
    """A verdict's evidence (its JSON shape), a line each: where, signal, what, the words."""
    for e in evidence:
        said = f'  "{e["text"]}"' if e["text"] else ""
        span = f"{e['start_s']:7.1f} - {e['end_s']:7.1f} s"
        typer.echo(f"{indent}{span}  {e['signal']}: {e['matched']}{said}")


review_app = typer.Typer(
    help="Verdicts waiting for a person, and their decisions.", no_args_is_help=True
)


@review_app.command("list")
def review_list(
    status: Annotated[
        str | None,
        typer.Option(help="Only these: pending, accepted, rejected or noted (flags).", metavar="S"),
    ] = None,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Kept verdicts, oldest first: a line each with its id, status, policy and video."""
    from videolearn.apps.moderation import review_items
    from videolearn.errors import ReviewError

    with open_cli_library(library) as lib:
        try:
            items = review_items(lib, status)
        except ReviewError as err:
            raise fail(str(err), EXIT_USAGE) from None
    for item in items:
        if as_json:
            emit(item.to_json())
            continue
        out = item.to_json()
        typer.echo(f"{item.id:5}  {item.status:8}  {item.action:6}  {item.policy}  {out['path']}")
        _evidence(out["evidence"], "         ")
    if not items and not as_json:
        typer.echo("nothing to review" if status in (None, "pending") else f"no {status} items")


@review_app.command("decide")
def review_decide(  # noqa: PLR0917  typer options
    item: Annotated[int, typer.Argument(help="The item's id (`review list`).", metavar="ID")],
    accept: Annotated[
        bool,
        typer.Option(
            "--accept/--reject",
            help="The verdict stands (a block keeps the video hidden), or it does not (the "
            "same evidence is not queued again).",
            metavar="",
        ),
    ],
    note: Annotated[str, typer.Option(help="Why, for the audit log.", metavar="TEXT")] = "",
    bank: Annotated[
        str | None,
        typer.Option(help="Add an accepted video's file to this hash bank.", metavar="NAME"),
    ] = None,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Accept or reject a kept verdict."""
    from videolearn.apps.moderation import decide
    from videolearn.errors import BankError, ReviewError

    with open_cli_library(library) as lib:
        try:
            decided = decide(lib, item, accept=accept, note=note, bank=bank)
        except (ReviewError, BankError) as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        emit(decided.to_json())
    else:
        typer.echo(f"{decided.id}: {decided.status}")


audit_app = typer.Typer(
    help="Every verdict, decision, action, bank and policy change: who, when, what, why.",
    invoke_without_command=True,
)


@audit_app.callback()
def audit(
    ctx: typer.Context,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """The audit log, oldest first (`audit verify` checks that nothing in it changed)."""
    if ctx.invoked_subcommand is not None:
        return
    import time

    from videolearn.apps.audit import audit_log

    with open_cli_library(library) as lib:
        entries = audit_log(lib)
    for e in entries:
        if as_json:
            emit(e.to_json())
            continue
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at))
        typer.echo(f"{e.id:5}  {when}  {e.who}  {e.what}  {e.subject}  {json.dumps(e.detail)}")
    if not entries and not as_json:
        typer.echo("the audit log is empty")


@audit_app.command("verify")
def audit_verify(
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Check every row of the audit log against its hash and the row before it; exit 1
    when a row was changed or deleted."""
    from videolearn.apps.audit import verify_audit

    with open_cli_library(library) as lib:
        check = verify_audit(lib)
    if as_json:
        emit(check.to_json())
    else:
        for problem in check.problems:
            typer.echo(problem)
        typer.echo(f"{check.rows} rows: " + ("whole" if check.ok else "CHANGED"))
    if not check.ok:
        raise typer.Exit(EXIT_SOME_FAILED)
