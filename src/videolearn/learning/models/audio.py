"""The audio tower: a small ResNet over log-mel spectrograms, and the log-mel front end.

16 kHz mono audio, 25 ms windows every 10 ms, 64 mel bands (as GDT and YAMNet-style
networks take it). The mel filter bank is built here (no torchaudio): triangular filters
evenly spaced on the HTK mel scale between 0 Hz and 8 kHz (`extractors.audio`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from videolearn.extractors.audio import mel_filters as shared_mel_filters

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


def mel_filters() -> torch.Tensor:
    """(64, 257) triangular filters on the HTK mel scale between 0 Hz and 8 kHz."""
    return torch.from_numpy(shared_mel_filters(mels=MELS, rate_hz=SAMPLE_RATE_HZ))


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
