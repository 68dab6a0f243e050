"""Learning from a library, as a person starts it: self-supervised training on the
library's videos (`learn`) and the generated audio-visual benchmark (`learn-eval`).

The models, the objective and the loop are `learning/`'s; this module turns the library's
settings and a person's options into a run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from videolearn.config import Settings
from videolearn.errors import OptionError
from videolearn.learning.data import ClipSpec, DecodedMedia
from videolearn.learning.train import LearnConfig, StepReport, checkpoint_step, library_media
from videolearn.library import Library

DEVICES = ("cpu", "cuda")


def _check_device(device: str) -> None:
    if device not in DEVICES:
        raise OptionError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")


@dataclass(frozen=True)
class LearnOptions:
    """What a person may choose for a run; None takes the library's `[learn]` setting."""

    steps: int | None = None
    device: str = "cpu"
    model: str | None = None
    size: str | None = None


@dataclass(frozen=True)
class TrainingPlan:
    """A run ready to start: what it trains on and where it saves."""

    config: LearnConfig
    device: str
    checkpoint: Path
    media: list[DecodedMedia]
    # One line per library file that could not be read for training.
    skipped: list[str] = field(default_factory=list)
    # The step a checkpoint already reached (its settings then hold), or None.
    resumes_at: int | None = None


def plan_training(library: Library, options: LearnOptions) -> TrainingPlan:
    """Read the library's videos with pictures and sound for training, at the clip size
    the options choose. Close the library before `train` (its loader forks).

    Raises:
        OptionError: an option's value cannot be used.
    """
    s = library.settings.learn
    size = options.size or s.size
    _check_device(options.device)
    try:
        config = LearnConfig(
            video_model=options.model or s.video_model,
            size=size,
            batch_size=s.batch_size,
            steps=options.steps or s.steps,
            lr=s.lr,
            seed=0,
            checkpoint_every_s=s.checkpoint_every_s,
            loader_workers=s.loader_workers,
            reverse=s.reverse,
            sync=s.sync,
            spec=ClipSpec(size_px=32 if size == "ci" else 112),
        )
    except ValueError as err:
        raise OptionError(str(err)) from None
    rows = library.store.videos()
    paths = [Path(v.path) for v in rows if v.audio_codec and v.fps]
    media, skipped = library_media(paths, config.spec, library.settings.decode, s.max_file_s)
    checkpoint = library.settings.library / "models" / "av.pt"
    resumes_at = checkpoint_step(checkpoint) if checkpoint.exists() else None
    return TrainingPlan(config, options.device, checkpoint, media, skipped, resumes_at)


def train_plan(plan: TrainingPlan, on_step: Callable[[StepReport], None] | None = None) -> Path:
    """Train (resuming the checkpoint when there is one); returns where it was saved."""
    from videolearn.learning.train import train

    train(plan.media, plan.config, plan.checkpoint, on_step=on_step, device=plan.device)
    return plan.checkpoint


@dataclass(frozen=True)
class EvalOptions:
    """The benchmark's options: `quick` is the 15-minute CPU setting."""

    quick: bool = False
    folder: Path | None = None
    models: tuple[str, ...] = ()
    seeds: int | None = None
    device: str = "cpu"


def run_benchmark(
    options: EvalOptions,
    settings: Settings,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Generate (or reuse) the benchmark files, train and measure; the results document
    (`learn-eval --json`). Of `settings` only the decode limits apply: the benchmark's
    models and budgets are its own."""
    from videolearn.learning.benchmark import BenchmarkConfig, run

    _check_device(options.device)
    config = BenchmarkConfig.quick() if options.quick else BenchmarkConfig()
    if options.models:
        config = replace(config, models=options.models)
    if options.seeds:
        config = replace(config, seeds=options.seeds)
    where = options.folder or Path(tempfile.gettempdir()) / "videolearn-learn-eval"
    return run(where, config, progress, device=options.device, limits=settings.decode)
