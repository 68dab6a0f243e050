"""GDT's cross-modal noise-contrastive objective (Patrick et al., "Multi-modal
Self-Supervision from Generalized Data Transformations", ICCV 2021).

A clip's video features must pick out its own audio among every other clip's in the batch
(and the other way round): L2-normalised projections, dot products at temperature 0.07,
cross-entropy both ways, averaged. Under DDP every rank's features join as negatives,
gathered without gradient, as the reference does. GDT's transformations can enter as
extra negatives: the same clip's audio shifted in time or reversed must score below its
true audio.

Our models keep synchrony apart (`SyncHead`, `sync_loss`): the pooled features that the
GDT loss compares say what is seen and heard, and pooling throws away when. Asking them to
tell a clip's audio from the same audio shifted left synchrony at chance (0.49-0.53) and
cost concept learning; a head on per-frame features with its own loss over the true,
shifted and reversed audio reached 0.90.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F  # noqa: N812

TEMPERATURE = 0.07


class ProjectionHead(nn.Module):
    """MLP projection (dim -> dim -> out) to the space the loss compares in, L2-normalised."""

    def __init__(self, dim: int, out: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.ReLU(inplace=True), nn.Linear(dim, out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x), dim=-1)


def gather_without_grad(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Every rank's `x` stacked (this rank's rows keep their gradient), and where this
    rank's rows start."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    parts = [torch.zeros_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.detach())
    rank = dist.get_rank()
    parts[rank] = x
    return torch.cat(parts), rank * x.shape[0]


def gdt_loss(
    video: torch.Tensor,
    audio: torch.Tensor,
    audio_negatives: torch.Tensor | None = None,
    temperature: float = TEMPERATURE,
) -> torch.Tensor:
    """The symmetric cross-modal NCE loss.

    Args:
        video: (B, d) L2-normalised video projections.
        audio: (B, d) L2-normalised projections of each clip's own audio.
        audio_negatives: (B, K, d) projections of transformed audio of the same clips
            (time-shifted, reversed): extra negatives for each clip's video.
        temperature: the softmax temperature.
    """
    all_audio, start = gather_without_grad(audio)
    all_video, _ = gather_without_grad(video)
    labels = torch.arange(video.shape[0], device=video.device) + start
    video_to_audio = video @ all_audio.T / temperature  # (B, world * B)
    if audio_negatives is not None:
        hard = torch.einsum("bd,bkd->bk", video, audio_negatives) / temperature
        video_to_audio = torch.cat([video_to_audio, hard], dim=1)
    audio_to_video = audio @ all_video.T / temperature
    return (F.cross_entropy(video_to_audio, labels) + F.cross_entropy(audio_to_video, labels)) / 2


def text_alignment_loss(
    video: torch.Tensor,
    text: torch.Tensor,
    temperature: float = TEMPERATURE,
    same: float = 0.98,
    *,
    right: torch.Tensor | None = None,
    apart: torch.Tensor | None = None,
) -> torch.Tensor:
    """Each clip's video projection must pick out the words said with it among the batch's
    (and the words their clip), as CLIP's loss does with captions; words that say the same
    (cosine at least `same`: one sentence said in two clips) are all right answers, so
    that two clips of one sentence are never each other's negatives, and so is every
    sentence said near a clip (`right`: MIL-NCE's bag of positives, a sentence said across
    two shots right for both). Negatives come from other videos: a sentence said elsewhere
    in a clip's own video or a copy of it (`apart`) is neither right nor wrong for it (a
    video speaks of what it shows all through; a copy says the same with other errors),
    so the two do not meet in the loss. The loss is the cross-entropy less the targets'
    own entropy (a KL divergence), both ways averaged: 0 when every clip scores all its
    right answers alike and far above the rest, and every sentence its clips.

    Args:
        video: (B, d) L2-normalised video projections.
        text: (B, d) L2-normalised vectors of what was said with each clip (a frozen text
            model's, e.g. multilingual-e5's).
        right: (B, B) bool, [i, j] true where sentence j was said near clip i (the rows'
            own pairs need not be marked).
        apart: (B, B) bool, [i, j] true where sentence j was said in clip i's video or a
            copy of it (where it is also right, it counts as right).
    """
    logits = video @ text.T / temperature
    alike = (text @ text.T >= same) | torch.eye(len(text), dtype=torch.bool, device=text.device)
    if right is not None:
        alike = alike | right
    if apart is not None:
        # Far below any cosine over the temperature, and finite: a target of 0 times an
        # infinite log-probability would be NaN.
        logits = logits.masked_fill(apart & ~alike, -1e4)
    total = logits.new_zeros(())
    for scores, answers in ((logits, alike.float()), (logits.T, alike.T.float())):
        targets = answers / answers.sum(1, keepdim=True)
        entropy = -(targets * targets.clamp_min(1e-12).log()).sum(1).mean()
        total = total + F.cross_entropy(scores, targets) - entropy
    return total / 2


SYNC_TEMPERATURE = 0.1


class SyncHead(nn.Module):
    """When things happen inside a clip, in each modality, on a common timeline.

    The video side reads the video tower's per-frame features through two temporal
    convolutions; the audio side is a small branch of its own over the log-mel (1-D
    convolutions across 10 ms frames, pooled to the video's frame steps), cheap enough that
    every transformed copy of the audio passes through it. Each side gives a
    (B, width * steps) L2-normalised timeline; their dot product scores synchrony.
    """

    def __init__(self, video_dim: int, steps: int, width: int = 32, hidden: int = 64) -> None:
        super().__init__()
        from videolearn.learning.models.audio import MELS, LogMel

        self.steps = steps
        self.video = nn.Sequential(
            nn.Conv1d(video_dim, hidden, 3, padding=1),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden, width, 3, padding=1),
        )
        self.logmel = LogMel()
        self.audio = nn.Sequential(
            nn.BatchNorm1d(MELS),
            nn.Conv1d(MELS, hidden, 5, padding=2),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden, hidden, 5, padding=2),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
        )
        self.audio_out = nn.Conv1d(hidden, width, 1)

    def video_timeline(self, per_frame: torch.Tensor) -> torch.Tensor:
        """(B, dim, T) video tower features per frame -> (B, width * steps)."""
        x = F.adaptive_avg_pool1d(per_frame, self.steps)
        return F.normalize(self.video(x).flatten(1), dim=-1)

    def audio_timeline(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) -> (B, width * steps)."""
        x = self.audio(self.logmel(audio)[:, 0])  # (B, hidden, frames)
        x = self.audio_out(F.adaptive_avg_pool1d(x, self.steps))
        return F.normalize(x.flatten(1), dim=-1)


def sync_loss(video: torch.Tensor, audio: torch.Tensor, transformed: torch.Tensor) -> torch.Tensor:
    """Each clip's video timeline must pick its true audio's among transformed copies of
    the same audio (shifted, reversed): cross-entropy over (B, 1 + K) candidates.

    Args:
        video: (B, d) video timelines.
        audio: (B, d) timelines of each clip's own audio.
        transformed: (B, K, d) timelines of its transformed copies.
    """
    true = (video * audio).sum(-1, keepdim=True)
    false = torch.einsum("bd,bkd->bk", video, transformed)
    logits = torch.cat([true, false], dim=1) / SYNC_TEMPERATURE
    return F.cross_entropy(logits, torch.zeros(len(video), dtype=torch.long, device=video.device))
