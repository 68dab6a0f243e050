"""`index`, `status`, `show`, `forget`, `doctor`: filling a library and keeping it in order."""

from __future__ import annotations

import json
import sys
from collections import Counter
from contextlib import AbstractContextManager, nullcontext, redirect_stdout
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from videolearn.cli.common import (
    DEFAULT_LIBRARY_PATH,
    EXIT_SOME_FAILED,
    EXIT_STOPPED,
    EXIT_USAGE,
    EngineOption,
    JsonOption,
    LibraryOption,
    NoProgressOption,
    RayAddressOption,
    emit,
    engine_settings,
    fail,
    open_cli_library,
    show_progress,
)
from videolearn.types import shown_path

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from videolearn.config import Settings
    from videolearn.pipeline import IndexResult

app = typer.Typer()


def _say(result: IndexResult, as_json: bool, out: TextIO) -> None:
    """A file's line, printed as soon as the file is done."""
    if as_json:
        line = json.dumps(result.to_json(), default=str, ensure_ascii=False)
    else:
        line = f"{result.status:9} {shown_path(result.path)}"
        line += f": {note}" if (note := result.note()) else ""
    out.write(line + "\n")
    out.flush()


class _Lines:
    """Each file's line as it is done, and nothing else, on the standard output of when
    it was made (the ray engine's run sends what Ray prints to stderr)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.out = sys.stdout

    def file_started(self, path: Path, number: int, total: int) -> None:
        pass

    def media_progress(self, reached_s: float, duration_s: float) -> None:
        pass

    def file_done(self, result: IndexResult) -> None:
        _say(result, self.as_json, self.out)


class _RichProgress(_Lines):
    """Files done out of all, and seconds of media within the current file, under the
    files' lines (Rich prints what goes to stdout above its bar)."""

    def __init__(self, progress: Progress) -> None:
        super().__init__(as_json=False)
        self.progress = progress
        self.files: TaskID = progress.add_task("files", total=None, detail="")
        self.media: TaskID = progress.add_task("", total=None, detail="")

    def file_started(self, path: Path, number: int, total: int) -> None:
        self.progress.update(
            self.files, total=total, completed=number - 1, description=f"files {number}/{total}"
        )
        self.progress.update(
            self.media, description=shown_path(path.name)[:40], completed=0, total=None, detail=""
        )

    def media_progress(self, reached_s: float, duration_s: float) -> None:
        detail = f"{reached_s:.0f}/{duration_s:.0f} s" if duration_s else f"{reached_s:.0f} s"
        self.progress.update(
            self.media, completed=reached_s, total=duration_s or None, detail=detail
        )

    def file_done(self, result: IndexResult) -> None:
        self.progress.advance(self.files)
        super().file_done(result)

    def after_run(self, what: str, done: int, total: int) -> None:
        self.progress.update(
            self.media, description=what, completed=done, total=total, detail=f"{done:,}/{total:,}"
        )


@app.command()
def index(  # noqa: PLR0917  typer options
    # Plain strings: the library reports a missing or unreadable path per file, in order.
    paths: Annotated[list[str], typer.Argument(help="Files or folders to index.", metavar="PATH")],
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
    no_progress: NoProgressOption = False,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
) -> None:
    """Add or refresh videos; resumable; a line per file as it is done. Exit 1 when any
    file failed, 3 when the run stopped (what was stored stays)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from videolearn.errors import LibraryLockedError, RayEngineError, StoreWriteError
    from videolearn.pipeline import IndexStatus

    settings = engine_settings(library, engine, ray_address)
    with open_cli_library(library, create=True, settings=settings) as lib:
        try:
            if show_progress(as_json, no_progress):
                columns = (
                    TextColumn("{task.description}"),
                    BarColumn(),
                    TextColumn("{task.fields[detail]}"),
                    TimeRemainingColumn(),
                )
                with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                    shown: _Lines = _RichProgress(bar)
                    with _ray_to_stderr(settings):
                        results = lib.index(paths, shown)
            else:
                shown = _Lines(as_json)
                with _ray_to_stderr(settings):
                    results = lib.index(paths, shown)
        except LibraryLockedError as err:
            raise fail(str(err), EXIT_SOME_FAILED) from None
        except StoreWriteError as err:
            raise fail(str(err), EXIT_STOPPED) from None
        except RayEngineError as err:
            raise fail(str(err), EXIT_STOPPED) from None
    if not as_json:
        counts = Counter(r.status for r in results)
        typer.echo(", ".join(f"{counts[s]} {s}" for s in IndexStatus))
    if any(r.status == IndexStatus.FAILED for r in results):
        raise typer.Exit(EXIT_SOME_FAILED)


def _ray_to_stderr(settings: Settings) -> AbstractContextManager[object]:
    """What Ray prints to stdout while the ray engine runs (a worker that died, and was
    started again) goes to stderr: stdout holds a line per file, JSON with --json."""
    return redirect_stdout(sys.stderr) if settings.engine == "ray" else nullcontext()


@app.command()
def status(library: LibraryOption = DEFAULT_LIBRARY_PATH, as_json: JsonOption = False) -> None:
    """Counts (indexed, failed, pending) and every failed file's reason."""
    from videolearn.apps import catalog

    with open_cli_library(library) as lib:
        st = catalog.status(lib)
    if as_json:
        emit(st.to_json())
        return
    typer.echo(f"{st.indexed} indexed, {st.failed} failed, {st.pending} pending")
    for f in st.failures:
        typer.echo(f"failed {f.path}: {f.reason}")
    for problem in st.skipped_plugins:
        typer.echo(f"note: {problem}")


@app.command()
def show(
    video: Annotated[
        str,
        typer.Argument(help="A path or a video id (or 6+ leading characters).", metavar="VIDEO"),
    ],
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """One video: its info and every moment found in it."""
    from videolearn.apps import catalog
    from videolearn.errors import VideoNotFoundError

    with open_cli_library(library) as lib:
        try:
            detail = catalog.show(lib, video)
        except VideoNotFoundError as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        emit(detail.to_json())
        return
    v = detail.video
    typer.echo(f"{v.path}\n  id {v.video_id}")
    size = f"{v.width_px}x{v.height_px}, " if v.width_px else "audio only, "
    typer.echo(f"  {size}{v.duration_s or 0.0:.2f} s, {v.container}")
    for m in detail.moments:
        span = f"{m.span.start_s:9.2f} - {m.span.end_s:9.2f}"
        typer.echo(f"  {span}  {m.modality:6} {m.text or m.label}")
    kinds = Counter((e.kind, e.dim, e.model) for e in detail.embeddings)
    for (kind, dim, model), count in sorted(kinds.items()):
        typer.echo(f"  vectors: {count} x {kind} ({dim}-d, {model})")
    for item in detail.review:
        typer.echo(
            f"  review {item['id']}: {item['action']} under {item['policy']}, {item['status']}"
        )


@app.command()
def title(
    video: Annotated[str, typer.Argument(help="A path or a video id.", metavar="VIDEO")],
    text: Annotated[
        str | None,
        typer.Argument(help="The title; left out, the video's title is printed.", metavar="TITLE"),
    ] = None,
    clear: Annotated[
        bool,
        typer.Option("--clear", help="Take the title away (its file's name shown).", metavar=""),
    ] = False,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Give a video a title (shown in the web UI, found by search), or print its title."""
    from videolearn.apps import catalog
    from videolearn.errors import QueryError, VideoNotFoundError

    if clear and text is not None:
        raise fail("give a TITLE or --clear, not both", EXIT_USAGE)
    with open_cli_library(library) as lib:
        try:
            if text is None and not clear:
                named = catalog.title_of(lib, video)
            else:
                named = catalog.set_title(lib, video, text or "")
        except (VideoNotFoundError, QueryError) as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        emit(named.to_json())
    elif named.title is None:
        typer.echo(f"{named.path} has no title")
    else:
        typer.echo(f"{named.path}: {named.title}")


@app.command()
def forget(
    video: Annotated[str, typer.Argument(help="A path or a video id.", metavar="VIDEO")],
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Remove a video and everything derived from it."""
    from videolearn.apps import catalog
    from videolearn.errors import LibraryLockedError, VideoNotFoundError

    with open_cli_library(library) as lib:
        try:
            gone = catalog.forget(lib, video)
        except VideoNotFoundError as err:
            raise fail(str(err), EXIT_USAGE) from None
        except LibraryLockedError as err:
            raise fail(str(err), EXIT_SOME_FAILED) from None
    if as_json:
        emit(gone.to_json())
    else:
        typer.echo(f"forgot {gone.path} ({gone.video_id[:12]})")


@app.command()
def doctor(
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
    fix: Annotated[
        bool, typer.Option("--fix", help="Repair what can be repaired.", metavar="")
    ] = False,
) -> None:
    """Check that the ledger and the tables agree. Exit 1 with what to run otherwise."""
    from videolearn.apps import catalog

    with open_cli_library(library) as lib:
        report = catalog.doctor(lib, fix=fix)
    if as_json:
        emit(report.to_json())
    else:
        typer.echo("library is consistent" if report.ok else "\n".join(report.problems))
        for notice in report.notices:
            typer.echo(f"note: {notice}")
        for command in report.fixes:
            typer.echo(f"run: {command}")
    if not report.ok:
        raise typer.Exit(EXIT_SOME_FAILED)
