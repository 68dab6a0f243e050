"""TimeSformer (Bertasius, Wang and Torresani, ICML 2021) with divided space-time attention.

Each block attends over time first (every patch position against itself in the other
frames), then over space (every patch of a frame against the frame's other patches and the
class token), then an MLP. Space and time have separate learned position embeddings. The
temporal attention's output projection starts at zero, as in the reference, so a fresh
block begins as a per-frame image transformer. An optional convolutional stem replaces the
single strided patch projection: from-scratch training on a small library needs the
locality it brings (`stem_channels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from videolearn.learning.models.r2plus1d import ResidualBlock2Plus1D


@dataclass(frozen=True)
class TimeSformerConfig:
    """Sizes. The default is the tiny model; `ci()` the one tests and `--quick` train."""

    frames: int = 8
    size_px: int = 112
    patch_px: int = 16
    dim: int = 192
    depth: int = 4
    heads: int = 3
    mlp_ratio: float = 4.0
    # Channels of the convolutional stem's 3x3 layers before patchify (0: a plain strided
    # patch projection, as in the paper).
    stem_channels: int = 0
    # The stem's 3x3 layers also look one frame back and ahead (3x3x3): motion from the
    # first layer on, as a 3-D CNN has it.
    stem_temporal: bool = False
    stem_layers: int = 2  # 2 or 3 (a stride-1 layer between the two stride-2 ones)
    # "conv": plain 3x3(x3) layers; "r2plus1d": R(2+1)D's stem and two residual (2+1)D
    # blocks (the second doubling the channels), the same downsampling by 4.
    stem_kind: str = "conv"
    # "cls": the class token's output, as in the paper; "mean": the average of the class
    # token and every patch token; "max": each feature's largest value over every patch
    # token of every frame. From scratch on small objects over busy backgrounds, "max"
    # leaves the loss's plateau first (a 16-way supervised probe: after ~100 steps against
    # ~275 for "mean"; with "cls" or "mean", GDT training stayed on it for 5-8 minutes).
    pool: str = "cls"
    # The output's normalisation: "layer" (the paper) or "batch" (features that keep
    # their differences across clips, which the contrastive loss feeds on).
    final_norm: str = "layer"
    dropout: float = 0.0

    @classmethod
    def ci(cls) -> TimeSformerConfig:
        return cls(frames=8, size_px=32, patch_px=8, dim=128, depth=2, heads=4)

    @property
    def patches(self) -> int:
        return (self.size_px // self.patch_px) ** 2


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, D) -> (B, L, D)
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        out = nn.functional.scaled_dot_product_attention(q, k, v)  # (B, heads, L, D/heads)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))  # type: ignore[no-any-return]


class _DividedBlock(nn.Module):
    def __init__(self, cfg: TimeSformerConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm_t = nn.LayerNorm(d)
        self.attn_t = _Attention(d, cfg.heads)
        self.fc_t = nn.Linear(d, d)
        nn.init.zeros_(self.fc_t.weight)
        nn.init.zeros_(self.fc_t.bias)
        self.norm_s = nn.LayerNorm(d)
        self.attn_s = _Attention(d, cfg.heads)
        self.norm_mlp = nn.LayerNorm(d)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(d, hidden), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(hidden, d)
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, cls: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # cls: (B, 1, D); x: (B, T, N, D) patch tokens.
        b, t, n, d = x.shape
        # Time: each patch position attends to itself across frames.
        xt = x.permute(0, 2, 1, 3).reshape(b * n, t, d)
        xt = self.fc_t(self.attn_t(self.norm_t(xt)))
        x = x + self.drop(xt.view(b, n, t, d).permute(0, 2, 1, 3))
        # Space: each frame's patches and the class token attend to each other.
        xs = torch.cat([cls.repeat_interleave(t, dim=0), x.reshape(b * t, n, d)], dim=1)
        xs = self.attn_s(self.norm_s(xs))  # (B*T, 1+N, D)
        cls = cls + self.drop(xs[:, :1].view(b, t, d).mean(dim=1, keepdim=True))
        x = x + self.drop(xs[:, 1:].reshape(b, t, n, d))
        cls = cls + self.drop(self.mlp(self.norm_mlp(cls)))
        x = x + self.drop(self.mlp(self.norm_mlp(x)))
        return cls, x


class TimeSformer(nn.Module):
    """(B, 3, T, H, W) clips in [0, 1] -> (B, dim) class-token features."""

    def __init__(self, cfg: TimeSformerConfig) -> None:
        super().__init__()
        if cfg.size_px % cfg.patch_px or cfg.dim % cfg.heads:
            raise ValueError(f"size {cfg.size_px} must divide into {cfg.patch_px} px patches")
        self.cfg = cfg
        self.dim = cfg.dim
        self.stem: nn.Module = nn.Identity()
        if cfg.stem_channels and cfg.stem_kind == "r2plus1d":
            c = cfg.stem_channels
            self.stem = nn.Sequential(
                nn.Conv3d(3, c, (1, 5, 5), stride=(1, 2, 2), padding=(0, 2, 2), bias=False),
                nn.BatchNorm3d(c),
                nn.ReLU(inplace=True),
                nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0), bias=False),
                nn.BatchNorm3d(c),
                nn.ReLU(inplace=True),
                ResidualBlock2Plus1D(c, c, (1, 1)),
                ResidualBlock2Plus1D(c, 2 * c, (1, 2)),
            )
            left = cfg.patch_px // 4
            self.embed: nn.Module = nn.Conv2d(2 * c, cfg.dim, left, stride=left)
        elif cfg.stem_channels:
            # 3x3(x3) convolutions, two of them stride 2, then a projection of what is left
            # of each patch.
            c = cfg.stem_channels
            kt = 3 if cfg.stem_temporal else 1
            layers: list[nn.Module] = []
            for i, stride in enumerate((2, 1, 2) if cfg.stem_layers == 3 else (2, 2)):
                layers += [
                    nn.Conv3d(
                        3 if i == 0 else c,
                        c,
                        (kt, 3, 3),
                        stride=(1, stride, stride),
                        padding=(kt // 2, 1, 1),
                        bias=False,
                    ),
                    nn.BatchNorm3d(c),
                    nn.ReLU(inplace=True),
                ]
            self.stem = nn.Sequential(*layers)
            left = cfg.patch_px // 4
            self.embed = nn.Conv2d(c, cfg.dim, left, stride=left)
        else:
            self.embed = nn.Conv2d(3, cfg.dim, cfg.patch_px, stride=cfg.patch_px)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_space = nn.Parameter(torch.zeros(1, 1, cfg.patches, cfg.dim))
        self.pos_time = nn.Parameter(torch.zeros(1, cfg.frames, 1, cfg.dim))
        for p in (self.cls, self.pos_space, self.pos_time):
            nn.init.trunc_normal_(p, std=0.02)
        self.blocks = nn.ModuleList(_DividedBlock(cfg) for _ in range(cfg.depth))
        self.norm: nn.Module = {
            "batch": nn.BatchNorm1d(cfg.dim),
            "layer": nn.LayerNorm(cfg.dim),
            "none": nn.Identity(),
        }[cfg.final_norm]
        self.apply(_init_linear)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.features(clips)[0]

    def features(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, dim) pooled features and (B, dim, T) per frame (each feature's largest
        value over the frame's patch tokens)."""
        x = self.stem(clips - 0.5)  # (B, C', T, H', W')
        b, c, t, h, w = x.shape
        x = self.embed(x.transpose(1, 2).reshape(b * t, c, h, w))  # (B*T, D, H/p, W/p)
        x = x.flatten(2).transpose(1, 2).reshape(b, t, -1, self.dim)  # (B, T, N, D)
        x = x + self.pos_space + self.pos_time[:, :t]
        cls = self.cls.expand(b, -1, -1)
        for block in self.blocks:
            cls, x = block(cls, x)
        per_frame = x.amax(dim=2)  # (B, T, D)
        if self.cfg.pool == "max":
            pooled = per_frame.amax(dim=1)
        elif self.cfg.pool == "mean":
            pooled = (cls[:, 0] + x.mean(dim=(1, 2))) / 2
        else:
            pooled = cls[:, 0]
        return self.norm(pooled), per_frame.transpose(1, 2)


def _init_linear(module: nn.Module) -> None:
    if isinstance(module, nn.Linear) and module.weight.abs().sum() > 0:
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
