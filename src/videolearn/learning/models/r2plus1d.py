"""R(2+1)D (Tran et al., CVPR 2018), tiny: the convolutional control for the TimeSformer.

Every 3-D convolution is factored into a spatial (1 x k x k) and a temporal (k x 1 x 1)
one. Four stages of one residual block each, then global average pooling.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class R2Plus1DConfig:
    frames: int = 8
    size_px: int = 112
    widths: tuple[int, ...] = (32, 64, 128, 256)

    @classmethod
    def ci(cls) -> R2Plus1DConfig:
        return cls(frames=8, size_px=32, widths=(32, 64, 96, 128))


def _conv2plus1d(cin: int, cout: int, stride: tuple[int, int]) -> nn.Sequential:
    # stride: (time, space)
    mid = max(cin, cout)
    st, ss = stride
    return nn.Sequential(
        nn.Conv3d(cin, mid, (1, 3, 3), stride=(1, ss, ss), padding=(0, 1, 1), bias=False),
        nn.BatchNorm3d(mid),
        nn.ReLU(inplace=True),
        nn.Conv3d(mid, cout, (3, 1, 1), stride=(st, 1, 1), padding=(1, 0, 0), bias=False),
    )


class ResidualBlock2Plus1D(nn.Module):
    """Two (2+1)D convolutions with a residual connection; stride is (time, space)."""

    def __init__(self, cin: int, cout: int, stride: tuple[int, int]) -> None:
        super().__init__()
        self.conv1 = _conv2plus1d(cin, cout, stride)
        self.bn1 = nn.BatchNorm3d(cout)
        self.conv2 = _conv2plus1d(cout, cout, (1, 1))
        self.bn2 = nn.BatchNorm3d(cout)
        self.skip: nn.Module = nn.Identity()
        if cin != cout or stride != (1, 1):
            self.skip = nn.Sequential(
                nn.Conv3d(cin, cout, 1, stride=(stride[0], stride[1], stride[1]), bias=False),
                nn.BatchNorm3d(cout),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.skip(x))


class R2Plus1D(nn.Module):
    """(B, 3, T, H, W) clips in [0, 1] -> (B, dim) pooled features."""

    def __init__(self, cfg: R2Plus1DConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.widths
        self.dim = w[-1]
        self.stem = nn.Sequential(
            nn.Conv3d(3, w[0], (1, 5, 5), stride=(1, 2, 2), padding=(0, 2, 2), bias=False),
            nn.BatchNorm3d(w[0]),
            nn.ReLU(inplace=True),
            nn.Conv3d(w[0], w[0], (3, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(w[0]),
            nn.ReLU(inplace=True),
        )
        strides = [(1, 1), (2, 2), (2, 2), (2, 2)]
        self.stages = nn.Sequential(
            *(
                ResidualBlock2Plus1D(cin, cout, s)
                for cin, cout, s in zip((w[0], *w[:-1]), w, strides, strict=True)
            )
        )

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.features(clips)[0]

    def features(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, dim) pooled features and (B, dim, T') averaged over space per time step."""
        x = self.stages(self.stem(clips - 0.5))  # (B, C, T', H', W')
        return x.mean(dim=(2, 3, 4)), x.mean(dim=(3, 4))
