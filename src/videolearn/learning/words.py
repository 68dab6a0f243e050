"""Seeing from words: a map from what the learned model sees in a shot (`av_video`) into
the space of the multilingual text vectors, learned from the words said and shown with
the library's own shots, so that a text query finds shots by their look alone.

A shot and the sentences said or written while it is shown (within `window_s` around it:
people say what they show a little before or after) are a pair. The map is linear, on
the frozen vectors the library stores (training reads no video; its steps, not the
library's size, set its time), and learns with CLIP's loss against the frozen text vectors
(`objectives.text_alignment_loss`: every other pair in a batch a negative, one sentence
said with two shots right for both, every sentence near a shot right for it). On the
generated shapes of `bench/learn_from_words.py --quick` (192 clips with a sentence each,
the shipped model's vectors), it found silent clips by a query in four languages at 6.9
times chance (precision@5 0.43), in 6 s of training.

The map names the model whose vectors it learned from: vectors of other weights do not
go through it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from videolearn.config import Settings

VERSION = 1
# Where a library keeps its map (`videolearn learn --words`).
WORDS_MAP = Path("models") / "words.npz"


@dataclass(frozen=True)
class SeenWords:
    """The learned map: `weight` (look dim, text dim) and `bias` (text dim)."""

    weight: np.ndarray
    bias: np.ndarray
    model: str  # the `av_embed` model whose vectors it maps
    pairs: int  # shot-sentence pairs it learned from
    shots: int
    sentences: int
    steps: int
    loss: float

    def project(self, looks: np.ndarray) -> np.ndarray:
        """Unit vectors in the text space, one per row of `looks` (N, look dim)."""
        out: np.ndarray = looks.astype(np.float32) @ self.weight + self.bias
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        unit: np.ndarray = (out / np.where(norms == 0, 1, norms)).astype(np.float32)
        return unit

    def similarities(
        self, looks: np.ndarray, texts: np.ndarray, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """Cosine similarity (N, K) of each row of `looks` (N, look dim), mapped, with each
        unit text vector of `texts` (K, text dim), as `project(looks) @ texts.T` gives it,
        without mapping every look: the dot products go through the map's (look dim, K)
        product, the lengths through its Gram matrix (`lengths`, given when kept from an
        earlier call). At 100,000 shots of 128 dimensions, mapping them all took about a
        second a query."""
        looks = np.asarray(looks, np.float32)  # no copy of float32 vectors
        dots = looks @ (self.weight @ texts.T) + self.bias @ texts.T
        if lengths is None:
            lengths = self.lengths(looks)
        out: np.ndarray = (dots / np.where(lengths == 0, 1, lengths)[:, None]).astype(np.float32)
        return out

    def lengths(self, looks: np.ndarray) -> np.ndarray:
        """The length of each row of `looks` (N, look dim) mapped, through the map's (look
        dim, look dim) Gram matrix: (N,)."""
        looks = np.asarray(looks, np.float32)  # no copy of float32 vectors
        gram = self.weight @ self.weight.T
        squared = (
            np.einsum("nd,nd->n", looks @ gram, looks)
            + 2 * looks @ (self.weight @ self.bias)
            + float(self.bias @ self.bias)
        )
        out: np.ndarray = np.sqrt(np.maximum(squared, 0)).astype(np.float32)
        return out

    def save(self, path: Path) -> None:
        """Write the map (weights in a .npz, the rest in its metadata), atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "version": VERSION,
            "model": self.model,
            "pairs": self.pairs,
            "shots": self.shots,
            "sentences": self.sentences,
            "steps": self.steps,
            "loss": self.loss,
        }
        partial = path.with_name(path.name + ".partial.npz")
        np.savez(partial, weight=self.weight, bias=self.bias, meta=np.array(json.dumps(meta)))
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> SeenWords:
        """Read a saved map.

        Raises:
            ValueError: the file is not a map this version reads.
        """
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("version") != VERSION:
                raise ValueError(f"{path}: a map of version {meta.get('version')}, not {VERSION}")
            return cls(
                np.asarray(data["weight"], np.float32),
                np.asarray(data["bias"], np.float32),
                str(meta["model"]),
                int(meta["pairs"]),
                int(meta["shots"]),
                int(meta["sentences"]),
                int(meta["steps"]),
                float(meta["loss"]),
            )


def pair_up(
    shots: list[tuple[str, float, float]],
    sentences: list[tuple[str, float, float]],
    window_s: float,
) -> list[tuple[int, int]]:
    """(shot row, sentence row) for each sentence said or shown in a video within
    `window_s` of a shot of it (each given as (video id, start s, end s))."""
    by_video: dict[str, list[int]] = {}
    for row, (video_id, _, _) in enumerate(shots):
        by_video.setdefault(video_id, []).append(row)
    pairs = []
    for s_row, (video_id, start_s, end_s) in enumerate(sentences):
        for row in by_video.get(video_id, ()):
            _, shot_start, shot_end = shots[row]
            if shot_start < end_s + window_s and start_s - window_s < shot_end:
                pairs.append((row, s_row))
    return pairs


def learn_seen_words(  # noqa: PLR0917  the data and the training's few knobs
    looks: np.ndarray,
    texts: np.ndarray,
    pairs: list[tuple[int, int]],
    model: str,
    steps: int = 400,
    batch: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    dropout: float = 0.3,
    videos: Sequence[int] | None = None,
) -> SeenWords:
    """Learn the map from shot vectors `looks` (N, d) and unit sentence vectors `texts`
    (M, 384) on `pairs` of their rows: `steps` batches of random pairs, AdamW with a
    cosine decay, a `dropout` share of each look's dimensions zeroed at each step (a shot
    seen a little differently each time: on the generated shapes, three draws, the silent
    clips' precision@5 rose from 0.32-0.37 to 0.42-0.43 with 0.3; learning from each
    second's vector instead of the shot's mean gave 0.37-0.38). `videos` numbers each shot
    row's video (one number for a video and its copies): a sentence said in a shot's own
    video, or a copy of it, and not near it is no negative for it. Raises ValueError
    without pairs."""
    import torch
    from torch.nn import functional as F  # noqa: N812

    from videolearn.learning.objectives import text_alignment_loss

    if not pairs:
        raise ValueError("no shot with words said or shown near it to learn from")
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    shot_rows = torch.tensor([p[0] for p in pairs])
    text_rows = torch.tensor([p[1] for p in pairs])
    # A sentence said near several shots is right for each of them (MIL-NCE's bag): the
    # pairs as one sorted key each, to tell which of a batch's sentences each shot heard.
    keys = torch.unique(shot_rows * len(texts) + text_rows)
    video_of = torch.as_tensor(np.arange(len(looks)) if videos is None else np.asarray(videos))
    look = torch.from_numpy(np.array(looks, np.float32))  # a copy torch may write
    text = F.normalize(torch.from_numpy(np.array(texts, np.float32)), dim=-1)
    head = torch.nn.Linear(look.shape[1], text.shape[1])
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=1e-4)
    size = min(batch, len(pairs))
    loss = torch.tensor(0.0)
    for step in range(steps):
        chosen = torch.randint(len(pairs), (size,), generator=generator)
        for group in optimizer.param_groups:
            group["lr"] = lr * 0.5 * (1 + np.cos(np.pi * step / steps))
        seen = F.dropout(look[shot_rows[chosen]], dropout)
        projected = F.normalize(head(seen), dim=-1)
        # The sentences near one shot are all its right answers, never its negatives.
        heard = shot_rows[chosen][:, None] * len(texts) + text_rows[chosen][None, :]
        right = torch.isin(heard, keys)
        video = video_of[shot_rows[chosen]]  # a sentence's video is that of its pair's shot
        apart = video[:, None] == video[None, :]
        loss = text_alignment_loss(projected, text[text_rows[chosen]], right=right, apart=apart)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    with torch.no_grad():
        weight = head.weight.detach().T.contiguous().numpy().astype(np.float32)
        bias = head.bias.detach().numpy().astype(np.float32)
    return SeenWords(
        weight,
        bias,
        model,
        len(pairs),
        len({p[0] for p in pairs}),
        len({p[1] for p in pairs}),
        steps,
        float(loss.detach()),
    )


_loaded: dict[Path, tuple[tuple[int, int, int, int], SeenWords | None]] = {}


def library_map(settings: Settings) -> SeenWords | None:
    """The library's map when it learned one from the vectors of the model that embeds its
    shots now, else None (`unused_map` says why); read again when the map or the model
    changes. (No torch here: a search process keeps to the text model's engine.)"""
    from videolearn.learning.embed import embed_checkpoint

    path = settings.library / WORDS_MAP
    if not path.is_file():
        return None
    checkpoint = embed_checkpoint(settings)
    # Sizes too: a map written twice within a clock tick of a coarse file system differs
    # in its size when it names other weights.
    mine, weights = path.stat(), checkpoint.stat()
    stamp = (mine.st_mtime_ns, mine.st_size, weights.st_mtime_ns, weights.st_size)
    cached = _loaded.get(path)
    if cached is None or cached[0] != stamp:
        learned = _read_map(settings)
        _loaded[path] = cached = (stamp, learned if isinstance(learned, SeenWords) else None)
    return cached[1]


def unused_map(settings: Settings) -> str | None:
    """Why search does not use the library's map (unreadable, or learned from the vectors
    of other weights than those that embed its shots now); None when it does, or when
    there is no map."""
    if not (settings.library / WORDS_MAP).is_file():
        return None
    learned = _read_map(settings)
    return learned if isinstance(learned, str) else None


def _read_map(settings: Settings) -> SeenWords | str:
    """The library's map, or why it is not to be used."""
    from videolearn.learning.embed import embed_checkpoint, embed_model_name

    path = settings.library / WORDS_MAP
    try:
        learned = SeenWords.load(path)
    except (OSError, ValueError, KeyError) as err:
        return f"{path} cannot be read ({err})"
    now = embed_model_name(embed_checkpoint(settings))
    if learned.model != now:
        return (
            f"{path} was learned from the shot vectors of {learned.model}, and shots are "
            f"embedded by {now} now"
        )
    return learned
