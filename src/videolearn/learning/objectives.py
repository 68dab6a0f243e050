"""GDT's cross-modal noise-contrastive objective (Patrick et al., "Multi-modal
Self-Supervision from Generalized Data Transformations", ICCV 2021).

A clip's video features must pick out its own audio among every other clip's in the batch
(and the other way round): L2-normalised projections, dot products at temperature 0.07,
cross-entropy both ways, averaged. Under DDP every rank's features join as negatives,
gathered without gradient, as the reference does. GDT's transformations enter as extra
negatives: the same clip's audio shifted in time or reversed must score below its true
audio, which is what makes the features sensitive to synchrony.
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
