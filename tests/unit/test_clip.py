"""The clip extractor and visual search with a tiny CLIP model trained here: colours and
their names. No CLIP weights ship, so the test builds, trains and saves one in Hugging
Face format, as a user's own model would be, and loads it from that folder."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from tests.contract import ExtractorContract, run_extractor
from videolearn.apps.search import SearchFilters, search_moments
from videolearn.config import Settings, load_settings
from videolearn.errors import ExtractorError
from videolearn.extractors.base import Embedding
from videolearn.extractors.clip import ClipExtractor, ClipModel, model_folder
from videolearn.library import open_library
from videolearn.samples import write_video

pytest.importorskip("transformers")

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 200, 40),
    "blue": (30, 40, 220),
    "yellow": (230, 220, 30),
}
WORDS = ["a", "picture", "of", *COLOURS]
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _images(rng: np.random.Generator, names: list[str], size: int) -> np.ndarray:
    """Frames like the test video's: a colour, noise, a square of the opposite colour."""
    out = np.empty((len(names), size, size, 3), np.uint8)
    for i, name in enumerate(names):
        colour = np.array(COLOURS[name], np.float32)
        image = colour + rng.normal(0, 12, (size, size, 3))
        x, y = rng.integers(0, size - 6, 2)
        image[y : y + 6, x : x + 6] = 255 - colour
        out[i] = np.clip(image, 0, 255)
    return out


def build_tiny_clip(folder: Path, steps: int = 300) -> Path:
    """Train a CLIP with two 2-layer towers to match colours with their names; save it."""
    import json

    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import CLIPConfig, CLIPModel, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<unk>": 1, "<bos>": 2, "<eos>": 3}
    vocab |= {w: i + 4 for i, w in enumerate(WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", 2), ("<eos>", 3)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=12,
    )
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    small |= {"num_attention_heads": 2}
    config = CLIPConfig(
        text_config=small
        | {"vocab_size": len(vocab), "max_position_embeddings": 12}
        | {"bos_token_id": 2, "eos_token_id": 3, "pad_token_id": 0},
        vision_config=small | {"image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    torch.manual_seed(0)
    model = CLIPModel(config)
    clip = ClipModel(str(folder))  # its preprocessing, with the mean and deviation below
    clip.image_size, clip.mean, clip.std = 32, np.array(MEAN, np.float32), np.array(STD, np.float32)
    rng = np.random.default_rng(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    names = list(COLOURS)
    for _ in range(steps):
        batch = [names[i] for i in rng.permutation(len(names))]
        captions = [f"a picture of {n}" if rng.random() < 0.5 else n for n in batch]
        pixels = torch.from_numpy(clip.preprocess(list(_images(rng, batch, 48))))
        tokens = tokenizer(captions, padding=True, return_tensors="pt")
        loss = model(**tokens, pixel_values=pixels, return_loss=True).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(
        json.dumps({"image_mean": list(MEAN), "image_std": list(STD)})
    )
    return folder


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="module")
def coloured(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shots = [(COLOURS["red"], 4.0), (COLOURS["blue"], 4.0), (COLOURS["green"], 4.0)]
    return write_video(
        tmp_path_factory.mktemp("media") / "colours.mp4", shots, size=(320, 180), tone_hz=None
    )


class TestClipContract(ExtractorContract):
    extractor_class = ClipExtractor

    @pytest.fixture(scope="class")
    @classmethod
    def contract_settings(
        cls, tiny_clip: Path, tmp_path_factory: pytest.TempPathFactory
    ) -> Settings:
        folder = tmp_path_factory.mktemp("lib") / "library"
        return load_settings(folder, keep_versions_s=0, clip={"model": str(tiny_clip)})


def test_the_saved_model_names_colours(tiny_clip: Path) -> None:
    model = ClipModel(str(tiny_clip))
    model.load()
    assert model.image_size == 32 and np.allclose(model.mean, MEAN)
    rng = np.random.default_rng(1)
    names = list(COLOURS)
    images = model.images(list(_images(rng, names, 64)))
    texts = model.texts(names)
    assert images.shape == (4, 16) and np.allclose(np.linalg.norm(images, axis=1), 1, atol=1e-5)
    assert (images @ texts.T).argmax(axis=1).tolist() == [0, 1, 2, 3]


def test_the_extractor_embeds_sampled_frames_over_the_whole_video(
    tiny_clip: Path, coloured: Path, tmp_path: Path
) -> None:
    settings = load_settings(tmp_path / "library", clip={"model": str(tiny_clip)})
    _, found = run_extractor("clip", coloured, settings)
    assert all(isinstance(e, Embedding) and e.kind == "clip_image" for e in found)
    starts = [e.span.start_s for e in found]
    assert starts == pytest.approx([0, 2, 4, 6, 8, 10], abs=0.05)  # 0.5 frames a second
    assert found[-1].span.end_s == pytest.approx(12.0, abs=0.1)
    assert all(a.span.end_s == b.span.start_s for a, b in itertools.pairwise(found))
    model = ClipModel(str(tiny_clip))
    blue = model.texts(["blue"])[0]
    best = max(found, key=lambda e: float(e.vector @ blue))
    assert 4.0 <= best.span.start_s < 8.0


def test_visual_search_finds_when_a_colour_is_shown(
    tiny_clip: Path, coloured: Path, tmp_path: Path
) -> None:
    settings = load_settings(
        tmp_path / "library",
        keep_versions_s=0,
        extractors=["file_hash", "media_info", "clip"],
        clip={"model": str(tiny_clip), "min_similarity": 0.5},
    )
    with open_library(create=True, settings=settings) as lib:
        assert [r.status for r in lib.index([coloured])] == ["indexed"]
        for colour, (start, end) in {"blue": (4, 8), "green": (8, 12), "red": (0, 4)}.items():
            first = search_moments(lib, f"a picture of {colour}", 3)[0]
            assert first.modality == "visual" and set(first.scores) == {"visual"}
            assert start <= first.span.start_s and first.span.end_s <= end + 0.1, colour
        # Every time blue is shown: the two blue frames, merged into one moment.
        every = search_moments(lib, "visual:blue", None, every=True)
        assert [(h.span.start_s, h.span.end_s) for h in every] == [
            pytest.approx((4.0, 8.0), abs=0.1)
        ]
        # No CLIP vectors are searched for other modalities.
        assert search_moments(lib, "blue", 3, filters=SearchFilters(modalities=("speech",))) == []


def test_clip_runs_only_when_a_model_is_set_and_never_downloads(tmp_path: Path) -> None:
    with open_library(create=True, settings=load_settings(tmp_path / "library")) as lib:
        assert "clip" not in [e.name for e in lib.extractors]
    named = load_settings(tmp_path / "library", extractors=["clip"])
    with open_library(settings=named) as lib, pytest.raises(ExtractorError, match=r"clip\.model"):
        _ = lib.extractors
    with pytest.raises(ExtractorError, match="never downloads"):
        model_folder("nobody/no-such-clip-model")
