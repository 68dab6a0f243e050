"""The encoders GDT trains: video towers behind one interface, and the audio tower.

Every video tower maps (B, C, T, H, W) float clips to (B, dim) features and has `.dim`;
the audio tower maps (B, 1, mels, frames) log-mel spectrograms to (B, dim).
"""

from __future__ import annotations

from videolearn.learning.models.audio import AudioResNet, AudioResNetConfig
from videolearn.learning.models.r2plus1d import R2Plus1D, R2Plus1DConfig
from videolearn.learning.models.timesformer import TimeSformer, TimeSformerConfig

__all__ = [
    "AudioResNet",
    "AudioResNetConfig",
    "R2Plus1D",
    "R2Plus1DConfig",
    "TimeSformer",
    "TimeSformerConfig",
]
