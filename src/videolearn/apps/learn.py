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
ENGINES = ("local", "ray")


def _check_device(device: str) -> None:
    if device not in DEVICES:
        raise OptionError(f"--device must be one of {', '.join(DEVICES)}, not {device!r}")


@dataclass(frozen=True)
class LearnOptions:
    """What a person may choose for a run; None takes the library's `[learn]` setting
    (for `engine`, its `engine` setting: "local" or "ray")."""

    steps: int | None = None
    device: str = "cpu"
    model: str | None = None
    size: str | None = None
    engine: str | None = None


@dataclass(frozen=True)
class TrainingPlan:
    """A run ready to start: what it trains on and where it saves."""

    config: LearnConfig
    device: str
    checkpoint: Path
    # The library's videos with pictures and sound, decoded here for a local run; a run
    # on Ray decodes them on the cluster (`paths`), and says there what it skipped.
    media: list[DecodedMedia]
    # One line per library file that could not be read for training.
    skipped: list[str] = field(default_factory=list)
    # The step a checkpoint already reached (its settings then hold), or None.
    resumes_at: int | None = None
    paths: list[Path] = field(default_factory=list)
    settings: Settings | None = None  # the library's, for a run on Ray

    @property
    def videos(self) -> int:
        """The videos it trains on (on Ray: those it will try to read)."""
        return len(self.media) if self.settings is None else len(self.paths)


def plan_training(library: Library, options: LearnOptions) -> TrainingPlan:
    """Read the library's videos with pictures and sound for training (a run on Ray reads
    them on the cluster), at the clip size the options choose. Close the library before
    `train` (its loader forks).

    Raises:
        OptionError: an option's value cannot be used.
    """
    s = library.settings.learn
    size = options.size or s.size
    _check_device(options.device)
    engine = options.engine or library.settings.engine
    if engine not in ENGINES:
        raise OptionError(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
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
    checkpoint = library.settings.library / "models" / "av.pt"
    resumes_at = checkpoint_step(checkpoint) if checkpoint.exists() else None
    if engine == "ray":
        return TrainingPlan(
            config, options.device, checkpoint, [], [], resumes_at, paths, library.settings
        )
    media, skipped = library_media(paths, config.spec, library.settings.decode, s.max_file_s)
    return TrainingPlan(config, options.device, checkpoint, media, skipped, resumes_at, paths)


def train_plan(
    plan: TrainingPlan,
    on_step: Callable[[StepReport], None] | None = None,
    on_skipped: Callable[[str], None] | None = None,
) -> Path:
    """Train (resuming the checkpoint when there is one), here or on the Ray cluster;
    returns where it was saved. `on_skipped` hears of each file a run on Ray could not
    read (a local run's are in `plan.skipped`).

    Raises:
        RayEngineError: Ray could not be reached, or the training failed there.
        OptionError: the batch does not split over the Ray workers asked for.
    """
    if plan.settings is not None:
        from videolearn.learning.on_ray import train_on_ray

        train_on_ray(
            plan.paths,
            plan.config,
            plan.checkpoint,
            plan.settings,
            device=plan.device,
            on_step=on_step,
            on_skipped=on_skipped,
        )
        return plan.checkpoint
    from videolearn.learning.train import train

    train(plan.media, plan.config, plan.checkpoint, on_step=on_step, device=plan.device)
    return plan.checkpoint


# Speech and on-screen text say what a shot shows; sound labels name what is heard.
_SAID_KINDS = {"e5_speech": "speech", "e5_text": "text"}


@dataclass(frozen=True)
class WordsReport:
    """What `learn_words` learned from, and where it saved the map."""

    saved: Path
    shots: int  # shots with words near them
    sentences: int
    pairs: int
    loss: float

    def to_json(self) -> dict[str, Any]:
        return {
            "saved": str(self.saved),
            "shots": self.shots,
            "sentences": self.sentences,
            "pairs": self.pairs,
            "loss": round(self.loss, 4),
        }


def learn_words(library: Library, steps: int | None = None) -> WordsReport:
    """Learn the map from what the model sees in each shot to the words said and shown
    with it (`learning.words`), from the vectors the library stores, and save it in the
    library (`models/words.npz`): search then finds shots by their look.

    Raises:
        OptionError: the library holds no shot vectors of its model, or no shot with a
            sentence near it.
    """
    from videolearn.apps.copies import copies_of
    from videolearn.learning.embed import embed_checkpoint, embed_model_name
    from videolearn.learning.words import WORDS_MAP, learn_seen_words, pair_up
    from videolearn.text import is_sentence

    settings = library.settings
    model = embed_model_name(embed_checkpoint(settings))
    store = library.store
    shot_places, looks = store.embedding_matrix("av_video", model)
    if not shot_places:
        raise OptionError(
            f"no shot vectors of the model {model} in {settings.library}: index with the "
            "av_embed extractor first (`extractors` in the settings)"
        )
    said = {
        (m.video_id, m.span.start_s, m.span.end_s): m.text
        for m in store.moments_of(tuple(_SAID_KINDS.values()))
    }
    text_places, texts = store.text_vector_matrix(tuple(_SAID_KINDS))
    # Only sentences: counters and lone words on screen say little of what is shown.
    rows = [
        i
        for i, p in enumerate(text_places)
        if is_sentence(said.get((p.video_id, p.start_s, p.end_s), ""))
    ]
    pairs = pair_up(
        [(p.video_id, p.start_s, p.end_s) for p in shot_places],
        [(text_places[i].video_id, text_places[i].start_s, text_places[i].end_s) for i in rows],
        settings.learn.words_window_s,
    )
    if not pairs:
        raise OptionError(
            f"no shot in {settings.library} has a sentence said or shown within "
            f"{settings.learn.words_window_s:g} s of it: nothing to learn from"
        )
    # Negatives from other videos: one number per video, shared by a family of copies.
    copies = copies_of(library)
    numbers: dict[frozenset[str], int] = {}
    videos = [numbers.setdefault(copies.family(p.video_id), len(numbers)) for p in shot_places]
    learned = learn_seen_words(
        looks, texts[rows], pairs, model, steps=steps or settings.learn.words_steps, videos=videos
    )
    saved = settings.library / WORDS_MAP
    learned.save(saved)
    return WordsReport(saved, learned.shots, learned.sentences, learned.pairs, learned.loss)


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
