"""`learn` and `learn-eval`: self-supervised training on a library, and the benchmark."""

from __future__ import annotations

import os
import sys
from contextlib import nullcontext, redirect_stdout
from pathlib import Path
from typing import Annotated

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

app = typer.Typer()

DeviceOption = Annotated[str, typer.Option(help="cpu or cuda.", metavar="DEVICE")]


@app.command()
def learn(  # noqa: PLR0917  typer options
    steps: Annotated[int | None, typer.Option(help="Training steps in all.", metavar="N")] = None,
    device: DeviceOption = "cpu",
    model: Annotated[
        str | None, typer.Option(help="timesformer or r2plus1d.", metavar="MODEL")
    ] = None,
    size: Annotated[
        str | None, typer.Option(help="tiny (112 px) or ci (32 px).", metavar="SIZE")
    ] = None,
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
    no_progress: NoProgressOption = False,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
    words: Annotated[
        bool,
        typer.Option(
            "--words",
            help="Learn what shots look like from the words said and shown with them "
            "(from the stored vectors, in seconds): search then finds shots by their look.",
            metavar="",
        ),
    ] = False,
) -> None:
    """Self-supervised training on the library's videos (GDT); resumes its checkpoint.

    Under torchrun, or with --engine ray on `ray.workers` workers, every process trains
    a share of each batch. With --words, the map from shots to words instead (index with
    the av_embed extractor first; learn it again after indexing more, or after `learn`).
    """
    from videolearn.apps.learn import LearnOptions, learn_words, plan_training, train_plan
    from videolearn.errors import OptionError, RayEngineError
    from videolearn.learning.train import StepReport

    if words:
        with open_cli_library(library) as lib:
            try:
                learned = learn_words(lib, steps)
            except OptionError as err:
                raise fail(str(err), EXIT_SOME_FAILED) from None
        if as_json:
            emit(learned.to_json())
        else:
            typer.echo(
                f"learned from {learned.pairs} shot-sentence pairs ({learned.shots} shots, "
                f"{learned.sentences} sentences), last loss {learned.loss:.3f}; saved "
                f"{learned.saved}"
            )
        return
    settings = engine_settings(library, engine, ray_address)
    with open_cli_library(library, settings=settings) as lib:
        try:
            plan = plan_training(lib, LearnOptions(steps, device, model, size))
        except OptionError as err:
            raise fail(str(err), EXIT_USAGE) from None
        root = lib.settings.library
    # The library is closed before the loader's worker processes fork.
    for line in plan.skipped:
        typer.echo(f"skipped {line}", err=True)
    if not plan.videos:
        raise fail(
            f"no video with pictures and sound in {root}: index some first", EXIT_SOME_FAILED
        )
    # With --json, stdout holds JSON only: what is said for a person goes to stderr.
    # Under torchrun, rank 0 speaks for every process.
    first = os.environ.get("RANK", "0") == "0"
    where = " on Ray" if plan.settings is not None else ""
    if first:
        typer.echo(
            f"training on {plan.videos} video(s){where}; checkpoint {plan.checkpoint}",
            err=as_json,
        )
    if plan.resumes_at is not None and first:
        typer.echo(
            f"resuming from step {plan.resumes_at} (the checkpoint's settings hold)", err=as_json
        )
    bar = show_progress(as_json, no_progress)

    out = sys.stdout  # the steps' stream, whatever Ray's output is sent to below

    def report(r: StepReport) -> None:
        line = f"step {r.step}/{r.steps} loss {r.loss:.3f} {r.clips_per_s:.0f} clips/s"
        if as_json:
            emit(
                {"step": r.step, "steps": r.steps, "loss": r.loss, "clips_per_s": r.clips_per_s},
                out,
            )
        elif bar:
            typer.echo("\r" + line, err=True, nl=False)
        elif r.step % 50 == 0 or r.step == r.steps:
            typer.echo(line, file=out)

    def skipped(line: str) -> None:
        typer.echo(f"skipped {line}", err=True)

    try:
        # What Ray prints goes to stderr: stdout holds the steps (JSON with --json).
        with redirect_stdout(sys.stderr) if plan.settings is not None else nullcontext():
            saved = train_plan(plan, report, skipped)
    except OptionError as err:
        raise fail(str(err), EXIT_USAGE) from None
    except RayEngineError as err:
        raise fail(str(err), EXIT_STOPPED) from None
    if bar:
        typer.echo("", err=True)
    if not first:
        return
    if as_json:
        emit({"checkpoint": str(saved), "status": "saved"})
    else:
        typer.echo(f"saved {saved}")


@app.command("learn-eval")
def learn_eval(  # noqa: PLR0917  typer options
    quick: Annotated[
        bool, typer.Option("--quick", help="The 15-minute CPU setting.", metavar="")
    ] = False,
    folder: Annotated[
        Path | None,
        typer.Option(help="Where the generated files go (kept for reuse).", metavar="DIR"),
    ] = None,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated: timesformer,r2plus1d.", metavar="MODELS")
    ] = None,
    seeds: Annotated[
        int | None, typer.Option(help="Training seeds per model.", metavar="N")
    ] = None,
    device: DeviceOption = "cpu",
    library: LibraryOption = DEFAULT_LIBRARY_PATH,
    as_json: JsonOption = False,
) -> None:
    """The generated audio-visual benchmark: trained models against random ones (no
    library needed; its settings file's decode limits apply when there is one)."""
    from videolearn.apps.learn import EvalOptions, run_benchmark
    from videolearn.config import load_settings
    from videolearn.errors import OptionError

    chosen = tuple(m.strip() for m in models.split(",")) if models else ()
    options = EvalOptions(quick, folder, chosen, seeds, device)

    def progress(line: str) -> None:
        typer.echo(line, err=True)

    try:
        results = run_benchmark(options, load_settings(library), progress)
    except OptionError as err:
        raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        emit(results)
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
