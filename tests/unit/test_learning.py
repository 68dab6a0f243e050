"""The learning core's parts: towers, the GDT loss, clips through the decode path,
training that resumes exactly, and the evaluation protocols on features of known quality."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from videolearn.config import DecodeLimits
from videolearn.learning.data import ClipSpec, decode_media, window
from videolearn.learning.evaluation import (
    knn_accuracy,
    linear_probe_accuracy,
    nmi,
    retrieval,
    sync_accuracy,
)
from videolearn.learning.models import (
    AudioResNet,
    AudioResNetConfig,
    R2Plus1D,
    R2Plus1DConfig,
    TimeSformer,
    TimeSformerConfig,
)
from videolearn.learning.models.audio import LogMel, mel_filters
from videolearn.learning.objectives import gdt_loss, sync_loss, text_alignment_loss
from videolearn.learning.synthetic import CONCEPTS, HELD_OUT, SEEN, event_times, render
from videolearn.learning.train import (
    AudioVisualModel,
    LearnConfig,
    StepReport,
    load_model,
    train,
)
from videolearn.samples import write_av

SPEC = ClipSpec(frames=8, fps=8.0, size_px=32)


@pytest.mark.parametrize(
    "model",
    [
        TimeSformer(TimeSformerConfig.ci()),
        TimeSformer(replace(TimeSformerConfig.ci(), stem_channels=16, stem_temporal=True)),
        TimeSformer(replace(TimeSformerConfig.ci(), stem_channels=16, pool="max")),
        R2Plus1D(R2Plus1DConfig.ci()),
    ],
)
def test_video_towers_map_clips_to_features(model: torch.nn.Module) -> None:
    clips = torch.rand(3, 3, 8, 32, 32)
    out = model(clips)
    assert out.shape == (3, model.dim)
    out.sum().backward()  # every parameter is reached
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    # Different clips, different features.
    assert not torch.allclose(out[0], out[1])


def test_timesformer_attends_across_time() -> None:
    torch.manual_seed(0)
    model = TimeSformer(TimeSformerConfig.ci()).eval()
    for block in model.blocks:  # the temporal projection starts at zero; open it
        torch.nn.init.normal_(block.fc_t.weight, std=0.1)
    clip = torch.rand(1, 3, 8, 32, 32)
    shuffled = clip[:, :, torch.randperm(8)]
    # Frame order matters: time positions and temporal attention.
    assert not torch.allclose(model(clip), model(shuffled), atol=1e-4)
    with pytest.raises(ValueError, match="patches"):
        TimeSformer(TimeSformerConfig(size_px=30, patch_px=8))


def test_log_mel_front_end() -> None:
    filters = mel_filters()
    assert filters.shape == (64, 257) and (filters >= 0).all()
    assert (filters.sum(dim=1) > 0).all()  # no empty band
    t = torch.arange(16000) / 16000
    low, high = torch.sin(2 * math.pi * 300 * t), torch.sin(2 * math.pi * 3000 * t)
    mel = LogMel()(torch.stack([low, high]))[:, 0]  # (2, 64, frames)
    assert mel.shape == (2, 64, 101)
    assert mel[0].mean(-1).argmax() < mel[1].mean(-1).argmax()  # higher pitch, higher band
    audio = AudioResNet(AudioResNetConfig.ci())
    assert audio(torch.randn(2, 16000)).shape == (2, audio.dim)


def test_gdt_loss_prefers_matching_pairs() -> None:
    torch.manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(16, 32), dim=1)
    matched = gdt_loss(v, v)
    shuffled = gdt_loss(v, v[torch.randperm(16)])
    assert matched < 0.1 < math.log(16) / 2 < shuffled
    # Uninformative features sit at ln(batch), the plateau training starts on.
    flat = torch.nn.functional.normalize(torch.ones(16, 32), dim=1)
    assert gdt_loss(flat, flat).item() == pytest.approx(math.log(16), rel=1e-4)
    # A hard negative equal to the positive costs exactly one more equal logit.
    hard = gdt_loss(v, v, v[:, None, :])
    assert hard > matched


def test_text_alignment_counts_one_sentence_said_twice_as_right_both_times() -> None:
    torch.manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(8, 32), dim=1)
    # Clips 0 and 1 were said the same sentence.
    text[1] = text[0]
    matched = text_alignment_loss(text, text)
    assert matched < text_alignment_loss(text, text[torch.randperm(8)])
    # Each of clips 0 and 1 scores both copies of its sentence alike: counted as a
    # negative, the other copy would cost their rows ln 2 each (0.17 over the batch).
    assert matched < 0.05
    near_other = text.clone()
    near_other[1] = text[2]
    assert text_alignment_loss(near_other, text) > matched + 0.5


def test_text_alignment_counts_every_sentence_near_one_shot_as_right() -> None:
    torch.manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(8, 32), dim=1)
    video = text.clone()
    # Rows 0 and 1 are one shot said two sentences: its vector lies between them.
    video[0] = video[1] = torch.nn.functional.normalize(text[0] + text[1], dim=0)
    alone = text_alignment_loss(video, text)
    right = torch.zeros(8, 8, dtype=torch.bool)
    right[:2, :2] = True
    bag = text_alignment_loss(video, text, right=right)
    # Each sentence a negative of the other, the shot's rows cannot both be right.
    assert bag < alone - 0.1
    assert bag < 0.05


def test_text_alignment_pulls_a_shot_towards_a_sentence_said_near_it_in_another_pair() -> None:
    torch.manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(8, 32), dim=1)
    # Sentence 1 (the pair of shot 1) was said across shots 0 and 1.
    right = torch.zeros(8, 8, dtype=torch.bool)
    right[0, 1] = True

    def pull(right: torch.Tensor | None) -> float:
        """How the loss changes as shot 0 moves towards sentence 1 (negative: it falls)."""
        video = text.clone().requires_grad_(True)
        text_alignment_loss(video, text, right=right).backward()
        assert video.grad is not None
        return float(video.grad[0] @ text[1])

    assert pull(None) > 0  # as any other pair's sentence, a negative: pushed away
    assert pull(right) < 0  # right for shot 0 too: pulled towards


def test_text_alignment_takes_no_negative_from_the_clips_own_video() -> None:
    torch.manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(8, 32), dim=1)
    far = text_alignment_loss(text, text)
    # Shots 0 and 1 are of one video, whose sentences both lie near shot 0's look.
    near = text.clone()
    near[1] = torch.nn.functional.normalize(text[0] + 0.3 * text[1], dim=0)
    assert text_alignment_loss(near, near) > far + 0.05  # a hard negative of another video
    apart = torch.zeros(8, 8, dtype=torch.bool)
    apart[0, 1] = apart[1, 0] = True
    assert text_alignment_loss(near, near, apart=apart) == pytest.approx(float(far), abs=0.01)
    # Right for the shot too (said near it), it stays right.
    right = torch.zeros(8, 8, dtype=torch.bool)
    right[0, 1] = True
    with_both = text_alignment_loss(near, near, right=right, apart=apart)
    assert with_both > text_alignment_loss(near, near, apart=apart)


@pytest.mark.parametrize("video_model", ["timesformer", "r2plus1d"])
def test_transformations_and_the_sync_head_reach_the_loss(video_model: str) -> None:
    torch.manual_seed(0)
    video, audio = torch.rand(4, 3, 8, 32, 32), torch.randn(4, 16000) * 0.1
    plain = AudioVisualModel(video_model, "ci")
    both = AudioVisualModel(video_model, "ci", reverse=True, sync=True)
    assert plain.sync_head is None and both.sync_head is not None
    loss = both(video, audio, audio.roll(4000, -1))
    loss.backward()
    assert torch.isfinite(loss)
    for layer in (both.sync_head.video[0], both.sync_head.audio_out):
        assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    both.eval()
    with torch.no_grad():
        v, a = both.project_video(video), plain.eval().project_audio(audio)
        timeline = both.sync_head.audio_timeline(audio)
    # The joint space: the concept projection beside the scaled synchrony timeline.
    assert v.shape == (4, 128 + timeline.shape[1]) and a.shape == (4, 128)
    assert torch.allclose(v.norm(dim=1), torch.ones(4))
    assert timeline.shape == (4, 32 * 8) and torch.allclose(timeline.norm(dim=1), torch.ones(4))


def test_sync_loss_prefers_the_true_timeline() -> None:
    torch.manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    others = torch.nn.functional.normalize(torch.randn(8, 2, 16), dim=-1)
    assert (
        sync_loss(v, v, others)
        < 0.1
        < sync_loss(v, others[:, 0], torch.stack([v, others[:, 1]], 1))
    )


def test_synthetic_concepts_and_events() -> None:
    assert len(CONCEPTS) == 24 and len(SEEN) == 16 and len(HELD_OUT) == 8
    assert {c.shape for c in HELD_OUT} == {c.shape for c in CONCEPTS}
    assert np.allclose(event_times("bounce", 1.0, 0.25, 3.0), [0.75, 1.75, 2.75])
    assert np.allclose(event_times("slide", 1.0, 0.0, 1.6), [0.0, 0.5, 1.0, 1.5])
    rng = np.random.default_rng(0)
    clip = render(CONCEPTS[0], rng, duration_s=2.0, fps=8, size_px=32)
    assert clip.frames.shape == (16, 32, 32, 3) and clip.audio.shape == (32000,)
    # The sound is loudest at the events.
    loud = [
        np.abs(clip.audio[round(e * 16000) : round(e * 16000) + 800]).mean()
        for e in clip.event_times_s
    ]
    assert min(loud) > 3 * np.abs(clip.audio).mean() / 2


def test_clips_come_through_the_decode_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    clip = render(CONCEPTS[5], rng, duration_s=3.0, fps=8, size_px=32)
    path = write_av(tmp_path / "clip.mp4", clip.frames, 8.0, clip.audio, 16000)
    media = decode_media(path, SPEC, DecodeLimits())
    assert media.frames.shape[1:] == (32, 32, 3) and 23 <= len(media.frames) <= 24
    assert abs(media.duration_s - 3.0) < 0.2
    frames, audio = window(media, 1.0, SPEC)
    assert frames.shape == (8, 32, 32, 3) and audio.shape == (16000,)
    # H.264 and AAC keep the picture and the sound.
    assert np.abs(frames.astype(int) - clip.frames[8:16]).mean() < 12
    onset = round((clip.event_times_s[0]) * 16000)
    assert np.abs(media.audio[onset : onset + 800]).mean() > np.abs(media.audio).mean()


def _files(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(2)
    return [
        write_av(
            folder / f"{i}.mp4",
            (c := render(SEEN[i % 16], rng, 2.0, 8, 32)).frames,
            8.0,
            c.audio,
            16000,
        )
        for i in range(n)
    ]


class _KilledError(Exception):
    pass


def _kill_at(step: int) -> Callable[[StepReport], None]:
    def on_step(report: StepReport) -> None:
        if report.step == step:
            raise _KilledError

    return on_step


def test_training_resumes_exactly_after_a_stop(tmp_path: Path) -> None:
    media = [decode_media(p, SPEC, DecodeLimits()) for p in _files(tmp_path, 6)]
    config = LearnConfig(
        video_model="r2plus1d",
        size="ci",
        batch_size=4,
        steps=5,
        loader_workers=1,
        checkpoint_every_s=0.0,
        spec=SPEC,
    )
    straight = tmp_path / "straight.pt"
    train(media, config, straight)
    # The same run killed after its third step's checkpoint, then resumed.
    split = tmp_path / "split.pt"
    with pytest.raises(_KilledError):
        train(media, config, split, on_step=_kill_at(3))
    assert torch.load(split, weights_only=False)["step"] == 3
    train(media, config, split)
    a, _, step_a = load_model(straight)
    b, _, step_b = load_model(split)
    assert step_a == step_b == 5
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.allclose(pa.float(), pb.float(), atol=1e-6), name


def test_protocols_on_features_of_known_quality() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 20)
    centres = rng.normal(size=(6, 16)) * 3
    good = centres[labels] + rng.normal(size=(120, 16))
    noise = rng.normal(size=(120, 16))
    assert knn_accuracy(good, labels) > 0.9 and knn_accuracy(noise, labels) < 0.4
    assert linear_probe_accuracy(good, labels) > 0.9 and linear_probe_accuracy(noise, labels) < 0.4
    assert nmi(good, labels) > 0.8 and nmi(noise, labels) < 0.3
    found = retrieval(good, good + rng.normal(size=good.shape) * 0.1, labels)
    assert found["instance_r1"] > 0.9 and found["concept_top1"] > 0.9
    shuffled = retrieval(good, noise, labels)
    assert shuffled["instance_r10"] < 0.3
    assert sync_accuracy(good, good, noise, noise) > 0.95
    assert 0.3 < sync_accuracy(noise, good, good[::-1], good[rng.permutation(120)]) < 0.7
