"""`av_embed`: per-shot vectors from the learned audio-visual model, streamed clip by clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.contract import ExtractorContract, run_extractor
from videolearn.apps import catalog
from videolearn.config import DecodeLimits, load_settings
from videolearn.errors import ExtractorError
from videolearn.extractors.base import Embedding
from videolearn.learning.data import ClipSpec, decode_media, window
from videolearn.learning.embed import DEFAULT_CHECKPOINT, AvEmbedExtractor
from videolearn.learning.synthetic import SEEN, render
from videolearn.learning.train import LearnConfig, load_model, train
from videolearn.library import open_library
from videolearn.samples import write_av, write_tone
from videolearn.store.tables import EmbeddingRow


class TestAvEmbedContract(ExtractorContract):
    extractor_class = AvEmbedExtractor


def _embed(path: Path, library: Path, **overrides: object) -> list[Embedding]:
    _, found = run_extractor("av_embed", path, load_settings(library, **overrides))
    assert all(isinstance(s, Embedding) for s in found)
    return found  # type: ignore[return-value]


@pytest.fixture(scope="module")
def av_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6.5 s square 32 px clip with sound: one shot, frames the clip size already."""
    clip = render(SEEN[3], np.random.default_rng(5), 6.5, 8.0, 32)
    path = tmp_path_factory.mktemp("av") / "one-shot.mp4"
    return write_av(path, clip.frames, 8.0, clip.audio, 16_000)


def test_streamed_clips_match_whole_file_windows(av_file: Path, tmp_path: Path) -> None:
    """The pass cuts its clips from a bounded buffer as chunks arrive; every clip must be
    the one a whole-file decode gives at the same start."""
    [video, audio] = _embed(av_file, tmp_path / "lib")
    assert (video.kind, audio.kind) == ("av_video", "av_audio")
    assert video.span == audio.span and video.span.start_s == 0.0
    model, config, _ = load_model(DEFAULT_CHECKPOINT)
    spec = config.spec
    media = decode_media(av_file, spec, DecodeLimits())
    starts = np.arange(0.0, media.duration_s - spec.duration_s + 1e-9, 1.0)
    assert len(starts) == 6
    clips = [window(media, float(s), spec) for s in starts]
    with torch.inference_mode():
        v = model.embed_video(
            torch.stack([torch.from_numpy(f).permute(3, 0, 1, 2).float() / 255 for f, _ in clips])
        )
        a = model.embed_audio(torch.stack([torch.from_numpy(s) for _, s in clips]))
    for got, want in ((video, v.mean(0).numpy()), (audio, a.mean(0).numpy())):
        assert got.vector.shape == want.shape
        np.testing.assert_allclose(got.vector, want / np.linalg.norm(want), atol=1e-4)
    assert video.model.startswith("default_av.pt:")


def test_sound_only_file_gets_only_audio_vectors(tmp_path: Path) -> None:
    tone = write_tone(tmp_path / "tone.flac", 2.0)
    found = _embed(tone, tmp_path / "lib")
    assert {e.kind for e in found} == {"av_audio"}
    assert found[0].span.start_s == 0.0 and abs(found[0].span.end_s - 2.0) < 0.05


def test_a_library_that_trained_uses_its_own_model(av_file: Path, tmp_path: Path) -> None:
    library = tmp_path / "lib"
    spec = ClipSpec(frames=8, fps=8.0, size_px=32)
    media = [decode_media(av_file, spec, DecodeLimits())]
    config = LearnConfig(video_model="r2plus1d", size="ci", batch_size=4, steps=2, spec=spec)
    train(media, config, library / "models" / "av.pt")
    found = _embed(av_file, library)
    assert {e.model.split(":")[0] for e in found} == {"av.pt"}
    default = _embed(av_file, tmp_path / "other")
    assert {e.model.split(":")[0] for e in default} == {"default_av.pt"}
    assert not np.allclose(found[0].vector, default[0].vector)
    # The clip spacing is a setting: two clips a second, twice as many clips, same shots.
    denser = _embed(av_file, library, learn={"embed_every_s": 0.5})
    assert [e.span for e in denser] == [e.span for e in found]
    assert not np.allclose(denser[0].vector, found[0].vector)


def test_index_embeds_again_once_the_library_has_its_own_model(
    av_file: Path, tmp_path: Path
) -> None:
    library = tmp_path / "lib"
    settings = load_settings(library, extractors=["shots", "av_embed"])
    with open_library(create=True, settings=settings) as lib:
        [first] = lib.index([av_file])
        assert [r.status for r in lib.index([av_file])] == ["unchanged"]
    spec = ClipSpec(frames=8, fps=8.0, size_px=32)
    config = LearnConfig(video_model="r2plus1d", size="ci", batch_size=4, steps=2, spec=spec)
    train([decode_media(av_file, spec, DecodeLimits())], config, library / "models" / "av.pt")
    with open_library(settings=settings) as lib:
        [after] = lib.index([av_file])  # new weights: the stored vectors are stale
        assert after.status == "indexed" and after.video_id == first.video_id
        rows = lib.store.rows_of(EmbeddingRow, after.video_id)
        assert rows and {r.model.split(":")[0] for r in rows} == {"av.pt"}
        shown = catalog.show(lib, str(av_file)).video.extractors["av_embed"]
        assert str(shown).startswith("1:av.pt:")
        assert [r.status for r in lib.index([av_file])] == ["unchanged"]


def test_an_unreadable_library_model_is_named(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    (library / "models").mkdir(parents=True)
    (library / "models" / "av.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ExtractorError, match=r"av_embed: cannot read the model .*av\.pt"):
        AvEmbedExtractor(load_settings(library))
