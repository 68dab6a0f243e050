"""What every command shares: the `--library`, `--json` and `--no-progress` options, the
exit codes, JSON lines out, and opening the library with a clear error."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from videolearn.config import DEFAULT_LIBRARY

if TYPE_CHECKING:
    from videolearn.config import Settings
    from videolearn.library import Library

# 3: the command stopped part way (an unexpected error, a library it could not write).
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 3

LibraryOption = Annotated[
    Path,
    typer.Option(
        "--library",
        envvar="VIDEOLEARN_LIBRARY",
        help="Library directory.",
        file_okay=False,
        metavar="DIR",
    ),
]
# A flag takes no value: `metavar=""` keeps typer from labelling it `<bool>`.
JsonOption = Annotated[
    bool, typer.Option("--json", help="Machine output: one JSON object per line.", metavar="")
]
NoProgressOption = Annotated[
    bool, typer.Option("--no-progress", help="No progress bar.", metavar="")
]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help="local (this machine) or ray (a Ray cluster: Ray actors extract, Ray Train's "
        "workers train); default: the library's `engine` setting.",
        metavar="ENGINE",
    ),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        help="The Ray cluster for --engine ray (ray://HOST:10001, HOST:6379 or auto); "
        "default: the `ray.address` setting, else a Ray started here for the run.",
        metavar="ADDRESS",
    ),
]
DEFAULT_LIBRARY_PATH = Path(DEFAULT_LIBRARY)


def engine_settings(library: Path, engine: str | None, ray_address: str | None) -> Settings:
    """The library's settings with `--engine` and `--ray-address` over them, or exit 2
    naming an engine that is none."""
    from videolearn.config import load_settings

    if engine not in {None, "local", "ray"}:
        raise fail(f"--engine must be local or ray, not {engine!r}", EXIT_USAGE)
    settings = load_settings(library)
    if engine or ray_address:
        ray = settings.ray.model_copy(update={"address": ray_address or settings.ray.address})
        settings = settings.model_copy(update={"engine": engine or settings.engine, "ray": ray})
    return settings


def emit(obj: Any, out: TextIO | None = None) -> None:
    """One JSON object on a line of its own (on `out`, else the standard output)."""
    out = out or sys.stdout
    out.write(json.dumps(obj, default=str, ensure_ascii=False) + "\n")
    out.flush()


def fail(message: str, code: int) -> typer.Exit:
    """Say what went wrong on stderr; raise the result to exit with `code`."""
    typer.echo(f"videolearn: {message}", err=True)
    return typer.Exit(code)


def open_cli_library(
    library: Path, create: bool = False, settings: Settings | None = None
) -> Library:
    """The library at `library` (opened with `settings` when given), or exit 2 saying
    why it is not one."""
    from videolearn.errors import LibraryNotFoundError
    from videolearn.library import open_library

    try:
        return open_library(library, create=create, settings=settings)
    except LibraryNotFoundError as err:
        raise fail(str(err), EXIT_USAGE) from None


def show_progress(as_json: bool, no_progress: bool) -> bool:
    """Whether to draw a progress bar: on a terminal, unless asked not to."""
    return not as_json and not no_progress and sys.stderr.isatty()
