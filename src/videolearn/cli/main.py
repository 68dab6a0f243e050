"""`videolearn` commands. Typer for arguments, rich for progress and tables.

Heavy modules load inside the commands so that `--help` is instant. Exit codes: 0 ok,
1 some inputs failed (the rest were done), 2 usage error.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from videolearn.config import DEFAULT_LIBRARY

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from videolearn.library import IndexResult, Library

app = typer.Typer(
    help="Index a video library and learn from it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

LibraryOption = Annotated[
    Path,
    typer.Option(
        "--library",
        envvar="VIDEOLEARN_LIBRARY",
        help="Library directory.",
        file_okay=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Machine output: one JSON object per line.")
]
NoProgressOption = Annotated[bool, typer.Option("--no-progress", help="No progress bar.")]

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def _emit(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"videolearn: {message}", err=True)
    return typer.Exit(code)


def _open(library: Path, create: bool = False) -> Library:
    from videolearn.errors import LibraryNotFoundError
    from videolearn.library import open_library

    try:
        return open_library(library, create=create)
    except LibraryNotFoundError as err:
        raise _fail(str(err), EXIT_USAGE) from None


class _RichProgress:
    """Files done out of all, and seconds of media within the current file."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.files: TaskID = progress.add_task("files", total=None, detail="")
        self.media: TaskID = progress.add_task("", total=None, detail="")

    def file_started(self, path: Path, number: int, total: int) -> None:
        self.progress.update(
            self.files, total=total, completed=number - 1, description=f"files {number}/{total}"
        )
        self.progress.update(
            self.media, description=path.name[:40], completed=0, total=None, detail=""
        )

    def media_progress(self, reached_s: float, duration_s: float) -> None:
        detail = f"{reached_s:.0f}/{duration_s:.0f} s" if duration_s else f"{reached_s:.0f} s"
        self.progress.update(
            self.media, completed=reached_s, total=duration_s or None, detail=detail
        )

    def file_done(self, result: IndexResult) -> None:
        self.progress.advance(self.files)
        if result.status == "failed":
            self.progress.console.print(f"[red]failed[/red] {result.path}: {result.reason}")


@app.command()
def index(
    # Plain strings: the library reports a missing or unreadable path per file, in order.
    paths: Annotated[list[str], typer.Argument(help="Files or folders to index.")],
    library: LibraryOption = Path(DEFAULT_LIBRARY),
    as_json: JsonOption = False,
    no_progress: NoProgressOption = False,
) -> None:
    """Add or refresh videos; resumable. Exit 1 when any file failed."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from videolearn.errors import LibraryLockedError

    with _open(library, create=True) as lib:
        show_bar = not as_json and not no_progress and sys.stderr.isatty()
        try:
            if show_bar:
                columns = (
                    TextColumn("{task.description}"),
                    BarColumn(),
                    TextColumn("{task.fields[detail]}"),
                    TimeRemainingColumn(),
                )
                with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                    results = lib.index(paths, _RichProgress(bar))
            else:
                results = lib.index(paths)
        except LibraryLockedError as err:
            raise _fail(str(err), EXIT_SOME_FAILED) from None
    for r in results:
        if as_json:
            _emit({"path": r.path, "video_id": r.video_id, "status": r.status, "reason": r.reason})
        else:
            line = f"{r.status:9} {r.path}"
            typer.echo(line + (f": {r.reason}" if r.reason else ""))
    if not as_json:
        counts = {
            s: sum(r.status == s for r in results) for s in ("indexed", "unchanged", "failed")
        }
        typer.echo(", ".join(f"{n} {s}" for s, n in counts.items()))
    if any(r.status == "failed" for r in results):
        raise typer.Exit(EXIT_SOME_FAILED)


@app.command()
def status(library: LibraryOption = Path(DEFAULT_LIBRARY), as_json: JsonOption = False) -> None:
    """Counts (indexed, failed, pending) and every failed file's reason."""
    with _open(library) as lib:
        st = lib.status()
    if as_json:
        _emit(
            {
                "videos": {"indexed": st.indexed, "failed": st.failed, "pending": st.pending},
                "failures": st.failures,
            }
        )
        return
    typer.echo(f"{st.indexed} indexed, {st.failed} failed, {st.pending} pending")
    for f in st.failures:
        typer.echo(f"failed {f['path']}: {f['reason']}")


@app.command()
def show(
    video: Annotated[str, typer.Argument(help="A path or a video id (or 6+ leading characters).")],
    library: LibraryOption = Path(DEFAULT_LIBRARY),
    as_json: JsonOption = False,
) -> None:
    """One video: its info and every moment found in it."""
    from videolearn.errors import VideoNotFoundError

    with _open(library) as lib:
        try:
            detail = lib.show(video)
        except VideoNotFoundError as err:
            raise _fail(str(err), EXIT_USAGE) from None
    if as_json:
        _emit(detail.to_json())
        return
    info = detail.info
    typer.echo(f"{info['path']}\n  id {info['video_id']}")
    size = f"{info['width_px']}x{info['height_px']}, " if info["width_px"] else "audio only, "
    typer.echo(f"  {size}{info['duration_s']:.2f} s, {info['container']}")
    for m in detail.moments:
        span = f"{m.span.start_s:9.2f} - {m.span.end_s:9.2f}"
        typer.echo(f"  {span}  {m.modality:6} {m.text or m.label}")
    kinds = Counter((e["kind"], e["dim"], e["model"]) for e in detail.embeddings)
    for (kind, dim, model), count in sorted(kinds.items()):
        typer.echo(f"  vectors: {count} x {kind} ({dim}-d, {model})")


DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]


@app.command()
def search(  # noqa: PLR0917  typer options
    query: Annotated[
        str,
        typer.Argument(
            help="Words in any language; `sound:laughter` names a modality, and "
            "`sound:laughter & speech:birthday` finds laughter while someone says birthday."
        ),
    ],
    limit: Annotated[int, typer.Option(min=1, help="Moments at most.")] = 10,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every moment that matches (its words, or its meaning closer than "
            "search.min_similarity), by video in time order.",
        ),
    ] = False,
    modality: Annotated[
        list[str] | None,
        typer.Option(help="Only moments of this kind: speech, text, sound, visual (repeatable)."),
    ] = None,
    video: Annotated[
        list[str] | None, typer.Option(help="Only this video: a path or an id (repeatable).")
    ] = None,
    path_glob: Annotated[
        str, typer.Option(help="Only videos whose path matches this glob (* crosses folders).")
    ] = "",
    language: Annotated[
        str, typer.Option(help="Only videos with speech in this language (en, de, ...).")
    ] = "",
    after: Annotated[
        datetime | None,
        typer.Option(
            formats=DATE_FORMATS,
            help="Only files last changed at or after this local time (YYYY-MM-DD[THH:MM]).",
        ),
    ] = None,
    before: Annotated[
        datetime | None,
        typer.Option(
            formats=DATE_FORMATS,
            help="Only files last changed before this local time (YYYY-MM-DD[THH:MM]).",
        ),
    ] = None,
    min_duration: Annotated[
        float, typer.Option(min=0, help="Only moments lasting at least this many seconds.")
    ] = 0.0,
    library: LibraryOption = Path(DEFAULT_LIBRARY),
    as_json: JsonOption = False,
) -> None:
    """Moments that answer a query: what was said, written on screen, heard or shown, and
    when."""
    from videolearn.apps.search import SearchFilters, group_by_video, search_moments
    from videolearn.errors import QueryError, VideoNotFoundError

    with _open(library) as lib:
        try:
            ids = tuple(lib.resolve(v)["video_id"] for v in video or ())
            filters = SearchFilters(
                modalities=tuple(modality or ()),
                video_ids=ids,
                path_glob=path_glob,
                language=language,
                after=after,
                before=before,
                min_duration_s=min_duration,
            )
            hits = search_moments(lib, query, None if every else limit, None, filters, every)
        except (VideoNotFoundError, QueryError) as err:
            raise _fail(str(err), EXIT_USAGE) from None
    if as_json:
        for hit in hits:
            _emit(hit.to_json())
        return
    if not hits:
        typer.echo("no moment matches")
    if every:
        for path, found in group_by_video(hits):
            typer.echo(f"{path}  ({len(found)} moments)")
            for hit in found:
                span = f"{hit.span.start_s:9.2f} - {hit.span.end_s:9.2f}"
                typer.echo(f"  {span}  {hit.modality:6} {hit.snippet}")
        return
    for hit in hits:
        span = f"{hit.span.start_s:9.2f} - {hit.span.end_s:9.2f}"
        typer.echo(f"{hit.path}\n  {span}  {hit.modality:6} {hit.snippet}")


@app.command()
def forget(
    video: Annotated[str, typer.Argument(help="A path or a video id.")],
    library: LibraryOption = Path(DEFAULT_LIBRARY),
    as_json: JsonOption = False,
) -> None:
    """Remove a video and everything derived from it."""
    from videolearn.errors import LibraryLockedError, VideoNotFoundError

    with _open(library) as lib:
        try:
            row = lib.forget(video)
        except VideoNotFoundError as err:
            raise _fail(str(err), EXIT_USAGE) from None
        except LibraryLockedError as err:
            raise _fail(str(err), EXIT_SOME_FAILED) from None
    if as_json:
        _emit({"video_id": row["video_id"], "path": row["path"], "status": "forgotten"})
    else:
        typer.echo(f"forgot {row['path']} ({row['video_id'][:12]})")


@app.command()
def doctor(
    library: LibraryOption = Path(DEFAULT_LIBRARY),
    as_json: JsonOption = False,
    fix: Annotated[bool, typer.Option("--fix", help="Repair what can be repaired.")] = False,
) -> None:
    """Check that the ledger and the tables agree. Exit 1 with what to run otherwise."""
    with _open(library) as lib:
        report = lib.doctor(fix=fix)
    if as_json:
        _emit(
            {
                "ok": report.ok,
                "problems": report.problems,
                "fixes": report.fixes,
                "notices": report.notices,
            }
        )
    else:
        typer.echo("library is consistent" if report.ok else "\n".join(report.problems))
        for notice in report.notices:
            typer.echo(f"note: {notice}")
        for command in report.fixes:
            typer.echo(f"run: {command}")
    if not report.ok:
        raise typer.Exit(EXIT_SOME_FAILED)


@app.command()
def transcribe(
    file: Annotated[Path, typer.Argument(help="An audio or video file.", dir_okay=False)],
    fmt: Annotated[str, typer.Option("--format", help="srt, vtt, json or txt.")] = "txt",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
    library: LibraryOption = Path(DEFAULT_LIBRARY),
    no_progress: NoProgressOption = False,
) -> None:
    """Transcribe one file (no library needed): subtitles, JSON with words, or text."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from videolearn.apps.transcribe import FORMATS, render, transcribe_file
    from videolearn.config import load_settings
    from videolearn.errors import MediaError

    if fmt not in FORMATS:
        raise _fail(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}", EXIT_USAGE)
    # Settings come from the library's TOML file when there is one; none is needed.
    settings = load_settings(library)
    try:
        if not no_progress and sys.stderr.isatty():
            columns = (TextColumn(file.name[:40]), BarColumn(), TimeRemainingColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("", total=None)

                def on_progress(reached_s: float, duration_s: float) -> None:
                    bar.update(task, completed=reached_s, total=duration_s or None)

                transcript = transcribe_file(file, settings, on_progress=on_progress)
        else:
            transcript = transcribe_file(file, settings)
    except MediaError as err:
        raise _fail(str(err), EXIT_SOME_FAILED) from None
    text = render(transcript, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        partial = output.with_name(output.name + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(output)


@app.command("hash")
def hash_command(
    file: Annotated[Path, typer.Argument(help="A video, audio or image file.", dir_okay=False)],
    signal: Annotated[str, typer.Option("--signal", help="pdq, vpdq or md5.")] = "vpdq",
    library: LibraryOption = Path(DEFAULT_LIBRARY),
    as_json: JsonOption = False,
) -> None:
    """Hash a file for exchange: vPDQ in the reference text format, PDQ, or MD5."""
    from videolearn.apps.hashing import SIGNALS, frame_hashes, md5_of
    from videolearn.config import load_settings
    from videolearn.errors import MediaError

    if signal not in SIGNALS:
        raise _fail(f"--signal must be one of {', '.join(SIGNALS)}, not {signal!r}", EXIT_USAGE)
    settings = load_settings(library)
    try:
        if signal == "md5":
            digest = md5_of(file, settings)
            if as_json:
                _emit({"signal": "md5", "hash": digest})
            else:
                typer.echo(digest)
            return
        hashes = frame_hashes(file, signal, settings)
    except MediaError as err:
        raise _fail(str(err), EXIT_SOME_FAILED) from None
    for h in hashes:
        if as_json:
            _emit(
                {
                    "signal": signal,
                    "frame": h.frame,
                    "quality": h.quality,
                    "hash": h.pdq_hex,
                    "timestamp_s": h.timestamp_s,
                }
            )
        elif signal == "vpdq":
            typer.echo(h.vpdq_line())
        else:
            typer.echo(f"{h.pdq_hex},{h.quality},{h.timestamp_s:.3f}")


bank_app = typer.Typer(help="Hash banks: known content to match against.", no_args_is_help=True)
app.add_typer(bank_app, name="bank")


def _rematch(lib: Library) -> None:
    """Match the library's stored videos against the changed banks."""
    from videolearn.errors import LibraryLockedError

    try:
        with lib.store.writing():
            result = lib.rematch()
    except LibraryLockedError as err:
        typer.echo(f"stored videos not matched again now: {err}; the next index will", err=True)
        return
    if result.videos:
        typer.echo(f"matched {result.videos} stored video(s) again: {result.matches} match(es)")


def _banks_of(library: Path) -> Any:
    lib = _open(library, create=True)
    return lib, lib.store.banks


@bank_app.command("create")
def bank_create(
    name: Annotated[str, typer.Argument(help="Capital letters, digits and _.")],
    library: LibraryOption = Path(DEFAULT_LIBRARY),
) -> None:
    """Create an empty bank."""
    from videolearn.store.banks import BankError

    lib, banks = _banks_of(library)
    with lib:
        try:
            banks.create(name)
        except BankError as err:
            raise _fail(str(err), EXIT_USAGE) from None
    typer.echo(f"created bank {name}")


@bank_app.command("add")
def bank_add(
    name: Annotated[str, typer.Argument(help="The bank.")],
    target: Annotated[str, typer.Argument(help="A file to hash, or with --signal a hash value.")],
    signal: Annotated[
        str | None, typer.Option("--signal", help="md5, pdq or vpdq: TARGET is a value.")
    ] = None,
    library: LibraryOption = Path(DEFAULT_LIBRARY),
) -> None:
    """Add a file (its MD5 and vPDQ) or one hash value to a bank."""
    from videolearn.apps.matching import bank_file
    from videolearn.errors import MediaError
    from videolearn.store.banks import EXCHANGED_TYPES, BankError, check_value, vpdq_from_tx

    lib, banks = _banks_of(library)
    with lib:
        try:
            banks.require(name)
            if signal is not None:
                if signal not in EXCHANGED_TYPES:
                    raise BankError(f"--signal must be one of {', '.join(EXCHANGED_TYPES)}")
                if signal == "vpdq":
                    frames = vpdq_from_tx(target, "the value")
                    added = banks.add(name, "vpdq", "value", frames=frames)
                else:
                    added = banks.add(name, signal, "value", check_value(signal, target, "value"))
                typer.echo("added" if added else "already in the bank")
                return
            path = Path(target)
            added = bank_file(banks, name, path, lib.settings)
        except (BankError, MediaError) as err:
            raise _fail(str(err), EXIT_SOME_FAILED) from None
        typer.echo(f"added {added} signal(s) of {path.name} to {name}")
        _rematch(lib)


@bank_app.command("import")
def bank_import(
    name: Annotated[str, typer.Argument(help="The bank.")],
    file: Annotated[Path, typer.Argument(help="`<signal_type> <signal>` lines, or a vPDQ file.")],
    library: LibraryOption = Path(DEFAULT_LIBRARY),
) -> None:
    """Import signals from a python-threatexchange file or a vPDQ text file."""
    from videolearn.store.banks import BankError

    lib, banks = _banks_of(library)
    with lib:
        try:
            added = banks.import_file(name, file)
        except BankError as err:
            raise _fail(str(err), EXIT_SOME_FAILED) from None
        typer.echo(f"imported {added} signal(s) into {name}")
        _rematch(lib)


@bank_app.command("export")
def bank_export(
    name: Annotated[str, typer.Argument(help="The bank.")],
    library: LibraryOption = Path(DEFAULT_LIBRARY),
) -> None:
    """Print a bank as python-threatexchange `<signal_type> <signal>` lines."""
    from videolearn.store.banks import BankError

    lib, banks = _banks_of(library)
    with lib:
        try:
            lines = banks.export_lines(name)
        except BankError as err:
            raise _fail(str(err), EXIT_USAGE) from None
    for line in lines:
        typer.echo(line)


@bank_app.command("list")
def bank_list(library: LibraryOption = Path(DEFAULT_LIBRARY), as_json: JsonOption = False) -> None:
    """Banks and how many signals of each type they hold."""
    lib, banks = _banks_of(library)
    with lib:
        summaries = banks.summaries()
    for s in summaries:
        if as_json:
            _emit({"name": s.name, "entries": s.entries})
        else:
            typer.echo(f"{s.name}: " + ", ".join(f"{n} {t}" for t, n in s.entries.items()))


@app.command()
def match(
    file: Annotated[Path, typer.Argument(help="A video or image to check.", dir_okay=False)],
    bank: Annotated[str | None, typer.Option("--bank", help="Only this bank.")] = None,
    library: LibraryOption = Path(DEFAULT_LIBRARY),
    as_json: JsonOption = False,
) -> None:
    """Match a file against the banks: MD5, PDQ and vPDQ, with matched time spans."""
    from videolearn.apps.matching import Matcher, hash_for_matching
    from videolearn.errors import MediaError
    from videolearn.store.banks import BankError

    with _open(library) as lib:
        try:
            if bank is not None:
                lib.store.banks.require(bank)
            query = hash_for_matching(file, lib.settings)
        except BankError as err:
            raise _fail(str(err), EXIT_USAGE) from None
        except MediaError as err:
            raise _fail(str(err), EXIT_SOME_FAILED) from None
        matcher = Matcher(lib.store.banks, lib.settings.match)
        found = matcher.match(str(file.absolute()), query, bank)
        vpdq = query.vpdq
        if not vpdq and not query.pdq:
            typer.echo(f"note: {file} has no frame to hash (audio only)", err=True)
        elif vpdq and all(f.quality < lib.settings.match.vpdq_quality for f in vpdq):
            typer.echo(
                f"note: every frame of {file} is below the vPDQ quality bar "
                f"({lib.settings.match.vpdq_quality}): too dark or flat to match",
                err=True,
            )
    for m in found:
        if as_json:
            _emit(m.to_json())
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


@app.command()
def learn(  # noqa: PLR0917  typer options
    steps: Annotated[int | None, typer.Option(help="Training steps in all.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    model: Annotated[str | None, typer.Option(help="timesformer or r2plus1d.")] = None,
    size: Annotated[str | None, typer.Option(help="tiny (112 px) or ci (32 px).")] = None,
    library: LibraryOption = Path(DEFAULT_LIBRARY),
    no_progress: NoProgressOption = False,
) -> None:
    """Self-supervised training on the library's videos (GDT); resumes its checkpoint.

    Under torchrun every process trains a share of each batch.
    """
    from videolearn.learning.data import ClipSpec
    from videolearn.learning.train import (
        LearnConfig,
        StepReport,
        checkpoint_step,
        library_media,
        train,
    )

    with _open(library) as lib:
        s = lib.settings.learn
        size = size or s.size
        try:
            config = LearnConfig(
                video_model=model or s.video_model,
                size=size,
                batch_size=s.batch_size,
                steps=steps or s.steps,
                lr=s.lr,
                seed=0,
                checkpoint_every_s=s.checkpoint_every_s,
                loader_workers=s.loader_workers,
                reverse=s.reverse,
                sync=s.sync,
                spec=ClipSpec(size_px=32 if size == "ci" else 112),
            )
        except ValueError as err:
            raise _fail(str(err), EXIT_USAGE) from None
        if device not in ("cpu", "cuda"):
            raise _fail("--device must be cpu or cuda", EXIT_USAGE)
        paths = [Path(v["path"]) for v in lib.store.videos() if v["audio_codec"] and v["fps"]]
        root, limits = lib.store.root, lib.settings.decode
    # The library is closed before the loader's worker processes fork.
    media, skipped = library_media(paths, config.spec, limits, s.max_file_s)
    for line in skipped:
        typer.echo(f"skipped {line}", err=True)
    if not media:
        raise _fail(
            f"no video with pictures and sound in {root}: index some first", EXIT_SOME_FAILED
        )
    checkpoint = root / "models" / "av.pt"
    typer.echo(f"training on {len(media)} video(s); checkpoint {checkpoint}")
    if checkpoint.exists():
        done = checkpoint_step(checkpoint)
        typer.echo(f"resuming from step {done} (the checkpoint's settings hold)")
    show_bar = not no_progress and sys.stderr.isatty()

    def report(r: StepReport) -> None:
        line = f"step {r.step}/{r.steps} loss {r.loss:.3f} {r.clips_per_s:.0f} clips/s"
        if show_bar:
            typer.echo("\r" + line, err=True, nl=False)
        elif r.step % 50 == 0 or r.step == r.steps:
            typer.echo(line)

    train(media, config, checkpoint, on_step=report, device=device)
    if show_bar:
        typer.echo("", err=True)
    typer.echo(f"saved {checkpoint}")


@app.command("learn-eval")
def learn_eval(  # noqa: PLR0917  typer options
    quick: Annotated[bool, typer.Option("--quick", help="The 15-minute CPU setting.")] = False,
    folder: Annotated[
        Path | None, typer.Option(help="Where the generated files go (kept for reuse).")
    ] = None,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated: timesformer,r2plus1d.")
    ] = None,
    seeds: Annotated[int | None, typer.Option(help="Training seeds per model.")] = None,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    as_json: JsonOption = False,
) -> None:
    """The generated audio-visual benchmark: trained models against random ones."""
    import tempfile
    from dataclasses import replace

    from videolearn.learning.benchmark import BenchmarkConfig, run

    config = BenchmarkConfig.quick() if quick else BenchmarkConfig()
    if models:
        config = replace(config, models=tuple(m.strip() for m in models.split(",")))
    if seeds:
        config = replace(config, seeds=seeds)
    where = folder or Path(tempfile.gettempdir()) / "videolearn-learn-eval"

    def progress(line: str) -> None:
        typer.echo(line, err=True)

    results = run(where, config, progress, device=device)
    if as_json:
        _emit(results)
        return
    for name, runs in results["models"].items():
        for kind, metrics in runs.items():
            typer.echo(f"{name} {kind}: " + _metric_line(metrics))
    typer.echo("raw: " + _metric_line(results["raw"]))
    typer.echo("chance: " + _metric_line(results["chance"]))


def _metric_line(metrics: dict[str, float]) -> str:
    return ", ".join(
        f"{k} {v:.3f}" + (f"±{metrics[k + '_std']:.3f}" if k + "_std" in metrics else "")
        for k, v in metrics.items()
        if not k.endswith("_std")
    )


def main() -> None:
    from videolearn.errors import VideolearnError

    try:
        app()
    except VideolearnError as err:
        typer.echo(f"videolearn: {err}", err=True)
        sys.exit(EXIT_SOME_FAILED)


if __name__ == "__main__":
    main()
