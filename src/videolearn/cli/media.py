"""`transcribe` and `hash`: one file, no library needed (its settings file is read when
there is one)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from videolearn.cli.common import (
    DEFAULT_LIBRARY_PATH,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    JsonOption,
    LibraryOption,
    NoProgressOption,
    emit,
    fail,
    show_progress,
)

app = typer.Typer()


@app.command()
def transcribe(  # noqa: PLR0917  typer options
    file: Annotated[
        Path, typer.Argument(help="An audio or video file.", dir_okay=False, metavar="FILE")
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="srt, vtt, json or txt.", metavar="FORMAT")
    ] = "txt",
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write here instead of stdout.", metavar="OUT"),
    ] = None,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: Annotated[
        bool, typer.Option("--json", help="The same as --format json.", metavar="")
    ] = False,
    no_progress: NoProgressOption = False,
) -> None:
    """Transcribe one file (no library needed): subtitles, JSON with words, or text."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from videolearn.apps.transcribe import FORMATS, render, save_text, transcribe_file
    from videolearn.config import load_settings
    from videolearn.errors import MediaError

    if as_json:
        fmt = "json"
    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}", EXIT_USAGE)
    # Settings come from the library's TOML file when there is one; none is needed.
    settings = load_settings(library)
    try:
        if show_progress(False, no_progress):
            columns = (TextColumn(file.name[:40]), BarColumn(), TimeRemainingColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("", total=None)

                def on_progress(reached_s: float, duration_s: float) -> None:
                    bar.update(task, completed=reached_s, total=duration_s or None)

                transcript = transcribe_file(file, settings, on_progress=on_progress)
        else:
            transcript = transcribe_file(file, settings)
    except MediaError as err:
        raise fail(str(err), EXIT_SOME_FAILED) from None
    text = render(transcript, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        save_text(output, text)


@app.command("hash")
def hash_command(
    file: Annotated[
        Path,
        typer.Argument(help="A video, audio or image file.", dir_okay=False, metavar="FILE"),
    ],
    signal: Annotated[str, typer.Option("--signal", help="pdq, vpdq or md5.", metavar="SIGNAL")] = (
        "vpdq"
    ),
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Hash a file for exchange: vPDQ in the reference text format, PDQ, or MD5."""
    from videolearn.apps.hashing import hash_file
    from videolearn.config import load_settings
    from videolearn.errors import MediaError, OptionError

    try:
        hashes = hash_file(file, signal, load_settings(library))
    except OptionError as err:
        raise fail(f"--{err}", EXIT_USAGE) from None
    except MediaError as err:
        raise fail(str(err), EXIT_SOME_FAILED) from None
    for line in hashes.to_json() if as_json else hashes.to_text():
        if as_json:
            emit(line)
        else:
            typer.echo(line)
