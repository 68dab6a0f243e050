"""`bank create|add|import|export|list` and `match`: known content and finding it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from videolearn.apps.banks import BankChange

bank_app = typer.Typer(help="Hash banks: known content to match against.", no_args_is_help=True)
app = typer.Typer()

BankArgument = Annotated[str, typer.Argument(help="The bank.", metavar="NAME")]


def _report(change: BankChange, as_json: bool, said: str) -> None:
    if as_json:
        emit(change.to_json())
        return
    typer.echo(said)
    if change.deferred is not None:
        typer.echo(
            f"stored videos not matched again now: {change.deferred}; the next index will",
            err=True,
        )
    elif change.rematched is not None and change.rematched.videos:
        r = change.rematched
        typer.echo(f"matched {r.videos} stored video(s) again: {r.matches} match(es)")


@bank_app.command("create")
def bank_create(
    name: Annotated[str, typer.Argument(help="Capital letters, digits and _.", metavar="NAME")],
    allow: Annotated[
        bool,
        typer.Option(
            "--allow",
            help="An allow list: its matches clear a video of other banks' matches there.",
            metavar="",
        ),
    ] = False,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Create an empty bank."""
    from videolearn.apps.banks import create_bank
    from videolearn.errors import BankError

    with open_cli_library(library, create=True) as lib:
        try:
            create_bank(lib, name, allow=allow)
        except BankError as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        emit({"bank": name, "status": "created", "allow": allow})
    else:
        typer.echo(f"created {'allow list' if allow else 'bank'} {name}")


@bank_app.command("entries")
def bank_entries(
    name: Annotated[str, typer.Argument(help="A bank.", metavar="NAME")],
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """A bank's entries with their ids, switched off or not."""
    from videolearn.apps.banks import bank_entries as entries_of
    from videolearn.errors import BankError

    with open_cli_library(library) as lib:
        try:
            entries = entries_of(lib, name)
        except BankError as err:
            raise fail(str(err), EXIT_USAGE) from None
    for e in entries:
        if as_json:
            emit(e.to_json())
        else:
            state = "" if e.enabled else "  (switched off)"
            typer.echo(f"{e.id:6}  {e.signal_type:12}  {e.content}{state}")


def _switch(entry: int, enabled: bool, library: Path, as_json: bool) -> None:
    from videolearn.apps.banks import switch_entry
    from videolearn.errors import BankError

    with open_cli_library(library) as lib:
        try:
            switched = switch_entry(lib, entry, enabled)
        except BankError as err:
            raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        emit(switched.to_json())
    else:
        typer.echo(f"{switched.id}: {'on' if enabled else 'off'} ({switched.bank})")


EntryArgument = Annotated[
    int, typer.Argument(help="The entry's id (`bank entries`).", metavar="ID")
]


@bank_app.command("disable")
def bank_disable(
    entry: EntryArgument, library: LibraryOption = DEFAULT_LIBRARY_PATH, as_json: JsonOption = False
) -> None:
    """Switch a bank entry off: kept and exported, never matched."""
    _switch(entry, False, library, as_json)


@bank_app.command("enable")
def bank_enable(
    entry: EntryArgument, library: LibraryOption = DEFAULT_LIBRARY_PATH, as_json: JsonOption = False
) -> None:
    """Switch a bank entry on again."""
    _switch(entry, True, library, as_json)


@bank_app.command("add")
def bank_add(
    name: BankArgument,
    target: Annotated[
        str,
        typer.Argument(help="A file to hash, or with --signal a hash value.", metavar="TARGET"),
    ],
    signal: Annotated[
        str | None,
        typer.Option("--signal", help="md5, pdq or vpdq: TARGET is a value.", metavar="SIGNAL"),
    ] = None,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Add a file (its MD5 and vPDQ) or one hash value to a bank."""
    from videolearn.apps.banks import add_file, add_value
    from videolearn.errors import BankError, MediaError

    with open_cli_library(library, create=True) as lib:
        try:
            if signal is not None:
                change = add_value(lib, name, signal, target)
                said = "added" if change.added else "already in the bank"
            else:
                change = add_file(lib, name, Path(target))
                said = f"added {change.added} signal(s) of {Path(target).name} to {name}"
        except (BankError, MediaError) as err:
            raise fail(str(err), EXIT_SOME_FAILED) from None
    _report(change, as_json, said)


@bank_app.command("import")
def bank_import(
    name: BankArgument,
    file: Annotated[
        Path,
        typer.Argument(help="`<signal_type> <signal>` lines, or a vPDQ file.", metavar="FILE"),
    ],
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Import signals from a python-threatexchange file or a vPDQ text file."""
    from videolearn.apps.banks import import_file
    from videolearn.errors import BankError

    with open_cli_library(library, create=True) as lib:
        try:
            change = import_file(lib, name, file)
        except BankError as err:
            raise fail(str(err), EXIT_SOME_FAILED) from None
    _report(change, as_json, f"imported {change.added} signal(s) into {name}")


@bank_app.command("export")
def bank_export(
    name: BankArgument,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Print a bank as python-threatexchange `<signal_type> <signal>` lines."""
    from videolearn.apps.banks import export_bank, export_json
    from videolearn.errors import BankError

    with open_cli_library(library, create=True) as lib:
        try:
            if as_json:
                for signal in export_json(lib, name):
                    emit(signal)
                return
            lines = export_bank(lib, name)
        except BankError as err:
            raise fail(str(err), EXIT_USAGE) from None
    for line in lines:
        typer.echo(line)


@bank_app.command("list")
def bank_list(library: LibraryOption = DEFAULT_LIBRARY_PATH, as_json: JsonOption = False) -> None:
    """Banks and how many signals of each type they hold."""
    from videolearn.apps.banks import list_banks

    with open_cli_library(library, create=True) as lib:
        summaries = list_banks(lib)
    for s in summaries:
        if as_json:
            emit(s.to_json())
        else:
            kind = " (allow list)" if s.allow else ""
            off = f", {s.switched_off} switched off" if s.switched_off else ""
            counts = ", ".join(f"{n} {t}" for t, n in s.entries.items())
            typer.echo(f"{s.name}{kind}: {counts}{off}")


@app.command()
def match(
    file: Annotated[
        Path, typer.Argument(help="A video or image to check.", dir_okay=False, metavar="FILE")
    ],
    bank: Annotated[str | None, typer.Option("--bank", help="Only this bank.", metavar="NAME")] = (
        None
    ),
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """Match a file against the banks: MD5, PDQ and vPDQ, with matched time spans."""
    from videolearn.apps.matching import match_file
    from videolearn.errors import BankError, MediaError

    with open_cli_library(library) as lib:
        try:
            report = match_file(lib, file, bank)
        except BankError as err:
            raise fail(str(err), EXIT_USAGE) from None
        except MediaError as err:
            raise fail(str(err), EXIT_SOME_FAILED) from None
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
    for m in report.matches:
        if as_json:
            emit(m.to_json())
        else:
            how = (
                f"distance {m.distance}"
                if m.distance is not None
                else f"{m.query_match_percent:.0f}% of the query, "
                f"{m.target_match_percent:.0f}% of the banked video"
            )
            typer.echo(
                f"{m.bank} {m.signal_type} {m.matched_content}: {how}, query "
                f"{m.query_start_s:.1f}-{m.query_end_s:.1f} s = match "
                f"{m.match_start_s:.1f}-{m.match_end_s:.1f} s"
            )
