"""The audio tower: a small ResNet over log-mel spectrograms, and the log-mel front end.

16 kHz mono audio, 25 ms windows every 10 ms, 64 mel bands (as GDT and YAMNet-style
networks take it). The mel filter bank is built here (no torchaudio): triangular filters
evenly spaced on the HTK mel scale between 0 Hz and 8 kHz.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

SAMPLE_RATE_HZ = 16_000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
MELS = 64


@dataclass(frozen=True)
class AudioResNetConfig:
    widths: tuple[int, ...] = (32, 64, 128, 256)

    @classmethod
    def ci(cls) -> AudioResNetConfig:
        return cls(widths=(32, 64, 96, 128))


def mel_filters(n_fft: int = 512, mels: int = MELS, rate_hz: int = SAMPLE_RATE_HZ) -> torch.Tensor:
    """(mels, n_fft // 2 + 1) triangular filters on the HTK mel scale."""

    def to_mel(hz: float) -> float:
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    def to_hz(mel: torch.Tensor) -> torch.Tensor:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)

    edges = to_hz(torch.linspace(0.0, to_mel(rate_hz / 2), mels + 2, dtype=torch.float64))
    bins = torch.linspace(0.0, rate_hz / 2, n_fft // 2 + 1, dtype=torch.float64)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


class LogMel(nn.Module):
    """(B, samples) float audio -> (B, 1, 64, frames) log-mel, one frame per 10 ms."""

    window: torch.Tensor
    filters: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(WINDOW), persistent=False)
        self.register_buffer("filters", mel_filters(), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = (
            torch.stft(audio, 512, HOP, WINDOW, self.window, center=True, return_complex=True).abs()
            ** 2
        )  # (B, 257, frames)
        mel = torch.matmul(self.filters, spec)
        return torch.log(mel + 1e-6).unsqueeze(1)


class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.skip: nn.Module = nn.Identity()
        if cin != cout or stride != 1:
            self.skip = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class AudioResNet(nn.Module):
    """(B, samples) 16 kHz audio -> (B, dim) pooled features (log-mel computed inside)."""

    def __init__(self, cfg: AudioResNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.dim = w[-1]
        self.logmel = LogMel()
        self.norm = nn.BatchNorm2d(1)
        # A strided stem: full-resolution 3x3 layers over 64 x 100 per second cost more
        # than the whole video tower at the CI size.
        self.stem = nn.Sequential(
            nn.Conv2d(1, w[0], 5, stride=2, padding=2, bias=False),
            nn.BatchNorm2d(w[0]),
            nn.ReLU(True),
        )
        self.stages = nn.Sequential(
            *(_Block(cin, cout, 2) for cin, cout in zip((w[0], *w[:-1]), w, strict=True))
        )

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.features(audio)[0]

    def features(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, dim) pooled features and (B, dim, T') averaged over frequency per time step."""
        x = self.stages(self.stem(self.norm(self.logmel(audio))))  # (B, C, F', T')
        return x.mean(dim=(2, 3)), x.mean(dim=2)
