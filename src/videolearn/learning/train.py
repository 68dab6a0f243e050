"""Self-supervised training: the video and audio towers learn from clips with GDT's loss.

One step: a batch of clips, each clip's video through the video tower and its audio
through the audio tower, projections, GDT's loss; the synchrony head's loss over each
clip's true, time-shifted and reversed audio; AdamW with warm-up and cosine decay.
Batches are a pure function of (seed, step), so a run killed and resumed from its last
checkpoint sees the same batches it would have seen. Checkpoints are written whole to a
temporary file and renamed over the old one. Under `torchrun` (or Ray Train, `on_ray`)
every rank trains its share of each batch, the same global batch a single process
trains, and the loss gathers every rank's features.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from videolearn.config import DecodeLimits
from videolearn.learning.data import ClipSpec, DecodedMedia, TrainingClips
from videolearn.learning.models import (
    AudioResNet,
    AudioResNetConfig,
    R2Plus1D,
    R2Plus1DConfig,
    TimeSformer,
    TimeSformerConfig,
)
from videolearn.learning.objectives import ProjectionHead, SyncHead, gdt_loss, sync_loss

VIDEO_MODELS = ("timesformer", "r2plus1d")
SYNC_SHARE = 0.5


@dataclass(frozen=True)
class LearnConfig:
    """A training run. Sizes: "tiny" (8 x 112 px) or "ci" (8 x 32 px)."""

    video_model: str = "timesformer"
    size: str = "tiny"
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    steps: int = 2000
    # Train for this much wall time instead, the schedule following the clock (the
    # benchmark's fixed budgets; such a run does not resume exactly).
    budget_s: float | None = None
    # Time-shifted audio of the same clip, a negative for its video (seconds, either way):
    # in the synchrony head's loss, and with `shift_negatives` in the GDT loss too. Off by
    # default: there it asks the pooled concept features to tell the same sound apart by
    # time, and costs an audio-tower pass per clip. With the synchrony head, 3.5 minutes
    # at batch 32 (one seed): held-out video kNN 0.55 without it, 0.36 with it; synchrony
    # 0.91 and 0.88.
    shift_s: tuple[float, float] = (0.2, 0.5)
    shift_negatives: bool = False
    # The clip's own audio played backwards, another negative for its video (GDT's
    # time-reversal transformation). Off by default: in 6 minutes on 2 cores it cost a
    # third of the steps and taught no synchrony (held-out video kNN 0.50 against 0.62).
    reverse: bool = False
    # A synchrony head (`objectives.SyncHead`) with a loss of its own: each clip's video
    # timeline must pick its true audio's among its shifted and reversed copies. In 6
    # minutes on 2 cores (one seed, batch 64) synchrony 0.94 against 0.48 without it, at
    # the same held-out video kNN (0.615), for ~10% of the steps.
    sync: bool = True
    seed: int = 0
    checkpoint_every_s: float = 60.0
    loader_workers: int = 1
    spec: ClipSpec = field(default_factory=ClipSpec)

    def __post_init__(self) -> None:
        if self.video_model not in VIDEO_MODELS:
            raise ValueError(f"video_model must be one of {', '.join(VIDEO_MODELS)}")
        if self.size not in ("tiny", "ci"):
            raise ValueError("size must be tiny or ci")


class AudioVisualModel(nn.Module):
    """Both towers, their projection heads and (with `sync`) the synchrony head.

    The towers' backbone features (`embed_*`) pool over time: they say what is seen and
    heard, not when. The synchrony head reads when from the video tower's per-frame
    features and from a small audio branch of its own (see `objectives.SyncHead`).
    """

    def __init__(
        self,
        video_model: str,
        size: str,
        *,
        reverse: bool = False,
        sync: bool = False,
        frames: int = 8,
        shift_negatives: bool = False,
    ) -> None:
        super().__init__()
        self.reverse = reverse
        self.shift_negatives = shift_negatives
        ci = size == "ci"
        self.video: nn.Module
        if video_model == "timesformer":
            cfg = TimeSformerConfig.ci() if ci else TimeSformerConfig()
            self.video = TimeSformer(replace(cfg, stem_channels=32, pool="max"))
        else:
            self.video = R2Plus1D(R2Plus1DConfig.ci() if ci else R2Plus1DConfig())
        self.audio = AudioResNet(AudioResNetConfig.ci() if ci else AudioResNetConfig())
        self.video_head = ProjectionHead(int(self.video.dim))
        self.audio_head = ProjectionHead(int(self.audio.dim))
        self.sync_head = SyncHead(int(self.video.dim), frames) if sync else None
        # The synchrony timelines' share of the joint space (see `project_video`).
        self.sync_share = SYNC_SHARE

    def embed_video(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, S, S) -> (B, dim) backbone features."""
        return self.video(clips)  # type: ignore[no-any-return]

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) -> (B, dim) backbone features."""
        return self.audio(audio)  # type: ignore[no-any-return]

    def project_video(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, S, S) -> (B, d) L2-normalised points of the joint space: the concept
        projection, and with a synchrony head its video timeline beside it, scaled by
        `sync_share` (so a dot product is the concept score plus `sync_share`² times the
        synchrony score, over 1 + `sync_share`²)."""
        concept, per_time = self._video_concept(clips)
        if self.sync_head is None:
            return concept
        return self._joint(concept, self.sync_head.video_timeline(per_time))

    def project_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) -> (B, d) L2-normalised points of the joint space."""
        concept = self._audio_concept(audio)
        if self.sync_head is None:
            return concept
        return self._joint(concept, self.sync_head.audio_timeline(audio))

    def _joint(self, concept: torch.Tensor, timeline: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(torch.cat([concept, self.sync_share * timeline], 1), dim=1)

    def _video_concept(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The video's concept projection and the tower's per-frame features."""
        pooled, per_time = self.video.features(clips)  # type: ignore[operator]  # every tower has it
        return self.video_head(pooled), per_time

    def _audio_concept(self, audio: torch.Tensor) -> torch.Tensor:
        return self.audio_head(self.audio(audio))  # type: ignore[no-any-return]

    def forward(
        self, video: torch.Tensor, audio: torch.Tensor, shifted: torch.Tensor
    ) -> torch.Tensor:
        """The loss of a batch of clips, their audio and their audio shifted in time: GDT's
        loss (the shifted audio a further negative with `shift_negatives`, the reversed
        audio with `reverse`), plus, with a synchrony head, its loss over the true,
        shifted and reversed audio."""
        v, per_time = self._video_concept(video)
        heard = [audio]
        heard += [shifted] if self.shift_negatives else []
        heard += [audio.flip(-1)] if self.reverse else []
        a = self._audio_concept(torch.cat(heard))
        b = video.shape[0]
        negatives = a[b:].view(len(heard) - 1, b, -1).transpose(0, 1) if len(heard) > 1 else None
        loss = gdt_loss(v, a[:b], negatives)
        if self.sync_head is not None:
            sv = self.sync_head.video_timeline(per_time)
            sa = self.sync_head.audio_timeline(torch.cat([audio, shifted, audio.flip(-1)]))
            loss = loss + sync_loss(sv, sa[:b], sa[b:].view(2, b, -1).transpose(0, 1))
        return loss


@dataclass(frozen=True)
class StepReport:
    step: int
    steps: int
    loss: float
    clips_per_s: float


def _lr_at(config: LearnConfig, step: int, elapsed_s: float) -> float:
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    done = elapsed_s / config.budget_s if config.budget_s else step / config.steps
    return config.lr * warm * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))


class _Batches(torch.utils.data.IterableDataset[tuple[torch.Tensor, ...]]):
    """Whole batches, clip i of batch k drawn from a stream seeded by (seed, k, i):
    resumable exactly, and the same global batch whatever the number of ranks (rank r of
    R takes its R-th of it). Loader worker w of W makes batches w, w + W, ...; the loader
    hands them out in that order."""

    def __init__(  # noqa: PLR0917  a plain record of the run's place
        self, clips: TrainingClips, batch: int, first: int, last: int, rank: int, ranks: int
    ) -> None:
        self.clips = clips
        self.share = batch // ranks
        self.rank = rank
        self.first = first
        self.last = last

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        mine = range(self.rank * self.share, (self.rank + 1) * self.share)
        for step in range(self.first + worker, self.last, workers):
            items = [next(self.clips.stream([self.clips.seed, step, i])) for i in mine]
            yield tuple(torch.stack(list(parts)) for parts in zip(*items, strict=True))


def train(
    media: Sequence[DecodedMedia],
    config: LearnConfig,
    checkpoint: Path,
    *,
    on_step: Callable[[StepReport], None] | None = None,
    device: str = "cpu",
) -> AudioVisualModel:
    """Train (or resume training, when `checkpoint` exists) and return the model.

    Args:
        media: decoded files to draw clips from.
        config: the run; a resumed run keeps the checkpoint's config.
        checkpoint: where state is saved (every `checkpoint_every_s` and at the end).
        on_step: called after every step (rank 0).
        device: "cpu" or "cuda"; CUDA trains in bfloat16 autocast.
    """
    rank, world = _distributed()
    state = (
        torch.load(checkpoint, map_location=device, weights_only=False)
        if checkpoint.exists()
        else None
    )
    if state is not None:  # the model is built as the checkpoint's config says
        config = _config_of(state)
    torch.manual_seed(config.seed)
    model = build_model(config).to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
    trained: nn.Module = model
    if world > 1:
        trained = nn.parallel.DistributedDataParallel(model)
    clips = TrainingClips(media, config.spec, seed=config.seed * 1000, shift_s=config.shift_s)
    loader = torch.utils.data.DataLoader(
        _Batches(clips, config.batch_size, step, config.steps, rank, world),
        batch_size=None,
        num_workers=config.loader_workers,
        prefetch_factor=4 if config.loader_workers else None,
        persistent_workers=False,
    )
    started = last_save = time.monotonic()
    first = step
    model.train()
    for video, audio, shifted in loader:
        elapsed_s = time.monotonic() - started
        if world > 1 and config.budget_s is not None:
            # Rank 0's clock for every rank: each stops at the same step, at the same
            # learning rate (each on its own clock, one would wait on the others for ever).
            clock = torch.tensor([elapsed_s], dtype=torch.float64, device=device)
            dist.broadcast(clock, src=0)
            elapsed_s = float(clock.item())
        if config.budget_s is not None and elapsed_s >= config.budget_s:
            break
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(config, step, elapsed_s)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            # Through DDP's forward when distributed: that is what syncs the gradients.
            loss = trained(video.to(device), audio.to(device), shifted.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        reported = loss.detach().float()
        if world > 1:  # the whole batch's loss, as one process would report it
            dist.all_reduce(reported)
            reported /= world
        now = time.monotonic()
        if rank == 0 and now - last_save >= config.checkpoint_every_s:
            save_checkpoint(checkpoint, model, optimizer, config, step)
            last_save = now
        if rank == 0 and on_step is not None:
            rate = (step - first) * config.batch_size / max(1e-9, now - started)
            on_step(StepReport(step, config.steps, reported.item(), rate))
    if rank == 0:
        save_checkpoint(checkpoint, model, optimizer, config, step)
    return model


def save_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    config: LearnConfig,
    step: int,
) -> None:
    """Write the training state beside `path`, then rename it over `path`. Without an
    optimizer, the weights and config alone: a model to ship, not to resume."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    state: dict[str, Any] = {"config": asdict(config), "model": model.state_dict(), "step": step}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    torch.save(state, tmp)
    tmp.replace(path)


def checkpoint_config(path: Path) -> LearnConfig:
    """The config a checkpoint was trained with (its tensors are not read)."""
    return _config_of(torch.load(path, map_location="cpu", weights_only=False, mmap=True))


def checkpoint_step(path: Path) -> int:
    """How many steps the checkpoint at `path` has trained."""
    return int(torch.load(path, map_location="cpu", weights_only=False)["step"])


def load_model(path: Path, device: str = "cpu") -> tuple[AudioVisualModel, LearnConfig, int]:
    """A trained model (in eval mode), its config and its step, from a checkpoint."""
    state = torch.load(path, map_location=device, weights_only=False)
    config = _config_of(state)
    model = build_model(config).to(device)
    model.load_state_dict(state["model"])
    return model.eval(), config, int(state["step"])


def build_model(config: LearnConfig) -> AudioVisualModel:
    """The model a config trains, at random initialisation."""
    return AudioVisualModel(
        config.video_model,
        config.size,
        reverse=config.reverse,
        sync=config.sync,
        frames=config.spec.frames,
        shift_negatives=config.shift_negatives,
    )


def _config_of(state: dict[str, Any]) -> LearnConfig:
    saved = dict(state["config"])
    # Options that no longer exist are dropped (those checkpoints trained without them);
    # options newer than the checkpoint take the value it trained with.
    known = {f.name for f in fields(LearnConfig)}
    saved = {k: v for k, v in saved.items() if k in known}
    saved.setdefault("sync", False)
    saved.setdefault("shift_negatives", True)
    return LearnConfig(**{**saved, "spec": ClipSpec(**saved["spec"])})


def _distributed() -> tuple[int, int]:
    """(rank, world size); joins the process group when started by torchrun."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()


def library_media(
    paths: Sequence[Path], spec: ClipSpec, limits: DecodeLimits, max_file_s: float
) -> tuple[list[DecodedMedia], list[str]]:
    """Decode the library's files for training: (decoded, one line per file skipped)."""
    from videolearn.errors import MediaError
    from videolearn.learning.data import decode_media

    media, skipped = [], []
    for path in paths:
        try:
            media.append(decode_media(path, spec, limits, max_s=max_file_s))
        except MediaError as err:
            skipped.append(str(err))
    return media, skipped
