"""Learning to see from what is said: text-to-clip search on silent videos, after a video
tower learned from clips and the words said with them.

Generated clips (`learning.synthetic`: a shape moving in one of four ways, random colours,
backgrounds and distractors) stand for the library's shots. Training clips come with a
sentence that names what they show, in English, German, Spanish or French ("Look, the
circle is bouncing up and down."), as a person filming would say it; its vector is
multilingual-e5-small's (frozen), the one the library stores for speech. The video tower
learns to meet it (`objectives.text_alignment_loss`). Then silent clips, new renders never
seen in training, are searched by short queries in each language ("Kreis springt"), and it
prints, per language and over all, precision@5 and nDCG@10 (the right clips: those of the
query's shape and motion) against chance, for:

- `untrained`: the tower at random initialisation, frozen, a linear head trained;
- `GDT only`: the shipped audio-visual model's tower (`default_av.pt`, trained on sound
  and picture alone), frozen, the same head trained;
- `from words`: the same tower trained end to end with its head on the words;
- `learn --words`: what `videolearn learn --words` does in a library
  (`learning.words.learn_seen_words`): the shipped tower's vector of each clip (the mean
  of its windows', as `av_embed` stores a shot's) mapped linearly into the text space;
- `perfect look`: the same trainer on a look that knows each clip's shape and motion
  exactly (a one-hot vector of its pair): the most any look reaches through these words,
  this loss and these text vectors, so what the text side allows (seen pairs only).

Shapes and motions in training: every combination but a third (`synthetic.HELD_OUT`),
searched too, as new combinations of seen words and looks. Steps, not time, budget the
training; `--quick` trains fewer steps on fewer clips (under 15 minutes on 2 cores).

    python bench/learn_from_words.py [--quick] [--steps N] [--seed 0] [--curve]

`--curve` also prints how much speech `learn --words` needs (maps learned from 1-12
clips with words per pair) and what search's relevance floors show (right clips shown,
precision, queries with no answer that show a clip).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from videolearn.config import LearnSettings
from videolearn.extractors.text_embed import TextEmbedder
from videolearn.learning.data import to_video_tensor
from videolearn.learning.objectives import text_alignment_loss
from videolearn.learning.synthetic import HELD_OUT, SEEN, Concept, render
from videolearn.learning.train import LearnConfig, build_model, load_model
from videolearn.learning.words import learn_seen_words

DEFAULT_MODEL = (
    Path(__file__).resolve().parents[1] / "src" / "videolearn" / "learning" / "default_av.pt"
)
LANGUAGES = ("en", "de", "es", "fr")
SHAPE_WORDS = {
    "circle": ("circle", "Kreis", "círculo", "cercle"),
    "square": ("square", "Quadrat", "cuadrado", "carré"),
    "triangle": ("triangle", "Dreieck", "triángulo", "triangle"),
    "cross": ("cross", "Kreuz", "cruz", "croix"),
    "ring": ("ring", "Ring", "anillo", "anneau"),
    "bar": ("bar", "Balken", "barra", "barre"),
}
# What a person filming says (training), and what a person searching types (queries).
SAID = {
    "en": {
        "bounce": "Look, the {} is bouncing up and down.",
        "slide": "The {} slides from one side to the other.",
        "orbit": "The {} goes round and round in a circle.",
        "pulse": "The {} grows and shrinks like a heartbeat.",
    },
    "de": {
        "bounce": "Schau, der {} springt auf und ab.",
        "slide": "Der {} gleitet von einer Seite zur anderen.",
        "orbit": "Der {} dreht sich immer im Kreis.",
        "pulse": "Der {} wird größer und kleiner wie ein Herzschlag.",
    },
    "es": {
        "bounce": "Mira, el {} rebota arriba y abajo.",
        "slide": "El {} se desliza de un lado a otro.",
        "orbit": "El {} da vueltas y vueltas en círculo.",
        "pulse": "El {} crece y se encoge como un latido.",
    },
    "fr": {
        "bounce": "Regarde, le {} rebondit de haut en bas.",
        "slide": "Le {} glisse d'un côté à l'autre.",
        "orbit": "Le {} tourne en rond.",
        "pulse": "Le {} grandit et rétrécit comme un battement de cœur.",
    },
}
ASKED = {
    "en": {
        "bounce": "bouncing {}",
        "slide": "sliding {}",
        "orbit": "{} circling",
        "pulse": "pulsing {}",
    },
    "de": {
        "bounce": "{} springt",
        "slide": "{} gleitet",
        "orbit": "{} kreist",
        "pulse": "{} pulsiert",
    },
    "es": {"bounce": "{} rebota", "slide": "{} se desliza", "orbit": "{} gira", "pulse": "{} late"},
    "fr": {
        "bounce": "{} rebondit",
        "slide": "{} glisse",
        "orbit": "{} tourne",
        "pulse": "{} palpite",
    },
}
FRAMES = 8  # a clip's frames (the tower's input), from a render's 32
WINDOWS = 4  # a clip's windows, averaged when a clip is embedded


def said(concept: Concept, language: str) -> str:
    word = SHAPE_WORDS[concept.shape][LANGUAGES.index(language)]
    return SAID[language][concept.motion].format(word)


def asked(concept: Concept, language: str) -> str:
    word = SHAPE_WORDS[concept.shape][LANGUAGES.index(language)]
    return ASKED[language][concept.motion].format(word)


def clips(
    concepts: tuple[Concept, ...], per: int, rng: np.random.Generator
) -> tuple[torch.Tensor, list[Concept]]:
    """`per` renders of each concept: (N, WINDOWS, 3, FRAMES, 32, 32) and their concepts."""
    out, made = [], []
    for concept in concepts:
        for _ in range(per):
            frames = render(concept, rng).frames  # (32, 32, 32, 3)
            out.append(
                torch.stack(
                    [to_video_tensor(frames[w * FRAMES : (w + 1) * FRAMES]) for w in range(WINDOWS)]
                )
            )
            made.append(concept)
    return torch.stack(out), made


def one_hot(made: list[Concept]) -> np.ndarray:
    """A look that knows each clip's shape and motion: (N, pairs) one-hot."""
    out = np.zeros((len(made), len(SEEN)), np.float32)
    out[np.arange(len(made)), [SEEN.index(c) for c in made]] = 1
    return out


class Aligned(nn.Module):
    """A video tower and a linear head into the text vectors' space."""

    def __init__(self, tower: nn.Module, dim: int, text_dim: int) -> None:
        super().__init__()
        self.tower = tower
        self.head = nn.Linear(dim, text_dim)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.tower(video)), dim=-1)


def train(
    model: Aligned,
    videos: torch.Tensor,
    text: torch.Tensor,
    *,
    steps: int,
    batch: int,
    tower_lr: float,
    seed: int,
) -> float:
    """Train for `steps` batches of a random window of random clips; the last loss."""
    generator = torch.Generator().manual_seed(seed)
    frozen = tower_lr == 0
    for p in model.tower.parameters():
        p.requires_grad_(not frozen)
    groups = [{"params": model.head.parameters(), "lr": 1e-3}]
    if not frozen:
        groups.append({"params": model.tower.parameters(), "lr": tower_lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=1e-4)
    for group in optimizer.param_groups:
        group["initial_lr"] = group["lr"]
    model.train()
    if frozen:
        model.tower.eval()
    loss = torch.tensor(0.0)
    for step in range(steps):
        rows = torch.randint(len(videos), (batch,), generator=generator)
        windows = torch.randint(WINDOWS, (batch,), generator=generator)
        scale = 0.5 * (1 + math.cos(math.pi * step / steps))  # cosine decay
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] * scale
        loss = text_alignment_loss(model(videos[rows, windows]), text[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss.detach())


@torch.no_grad()
def looks(tower: nn.Module, videos: torch.Tensor) -> np.ndarray:
    """Each clip's tower vector as `av_embed` stores a shot's: its windows' mean, unit."""
    tower.eval()
    n = len(videos)
    feats = torch.cat([tower(videos[i : i + 64].flatten(0, 1)) for i in range(0, n, 64)])
    return F.normalize(feats.view(n, WINDOWS, -1).mean(1), dim=-1).numpy()


@torch.no_grad()
def embed(model: Aligned, videos: torch.Tensor) -> torch.Tensor:
    """Each clip's point: the mean of its windows', normalised."""
    model.eval()
    n = len(videos)
    points = torch.cat([model(videos[i : i + 64].flatten(0, 1)) for i in range(0, n, 64)])
    return F.normalize(points.view(n, WINDOWS, -1).mean(1), dim=-1)


def scores(
    points: torch.Tensor, made: list[Concept], queries: dict[tuple[Concept, str], torch.Tensor]
) -> dict[str, tuple[float, float, float, float]]:
    """precision@5, nDCG@10, recall@1 (the first clip is right) and recall@5 (the share of
    the right clips among the first five) per language and over all."""
    per: dict[str, list[tuple[float, float, float, float]]] = {lang: [] for lang in LANGUAGES}
    for (concept, language), vector in queries.items():
        order = torch.argsort(points @ vector, descending=True)[:10].tolist()
        right = [made[i] == concept for i in order]
        wanted = sum(m == concept for m in made)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, wanted)))
        gain = sum(r / math.log2(i + 2) for i, r in enumerate(right))
        got = (sum(right[:5]) / 5, gain / ideal, float(right[0]), sum(right[:5]) / wanted)
        per[language].append(got)
    out = {lang: tuple(np.mean(v, axis=0)) for lang, v in per.items()}
    out["all"] = tuple(np.mean([x for v in per.values() for x in v], axis=0))
    return out  # type: ignore[return-value]


def heard(points: torch.Tensor, transcripts: torch.Tensor) -> float:
    """Transcript-to-shot recall@1: the share of clips found first by the query of what
    was said with them (row i of `transcripts` was said with clip i)."""
    first = torch.argmax(transcripts @ points.T, dim=1)
    return float((first == torch.arange(len(points))).float().mean())


NO_ANSWER = (
    "birthday cake",
    "a red car on the highway",
    "Wie spät ist es",
    "el perro ladra",
    "la tour Eiffel",
    "stock market news",
    "a cat sleeping",
    "how to cook rice",
    "Schnee in den Bergen",
    "piano concert",
)


def curve(  # noqa: PLR0917  the clips, their words and the queries
    train_looks: np.ndarray,
    text: np.ndarray,
    made: list[Concept],
    seen_looks: np.ndarray,
    seen_made: list[Concept],
    queries: dict[tuple[Concept, str], torch.Tensor],
    embedder: TextEmbedder,
) -> None:
    """How much speech `learn --words` needs (maps learned from a share of the clips with
    words, three draws each), and what search's relevance floor shows (the map from all)."""
    from videolearn.apps.search import background_queries, relevances

    chance = sum(m == seen_made[0] for m in seen_made) / len(seen_made)
    steps = LearnSettings().words_steps
    for per in (1, 2, 4, 8, 12):
        got = []
        for seed in range(3):
            r = np.random.default_rng(seed)
            rows = [
                i
                for c in SEEN
                for i in r.permutation([j for j, m in enumerate(made) if m == c])[:per]
            ]
            pairs = [(k, k) for k in range(len(rows))]
            learned = learn_seen_words(
                train_looks[rows], text[rows], pairs, "x", steps=steps, seed=seed
            )
            points = torch.from_numpy(learned.project(seen_looks))
            got.append(scores(points, seen_made, queries)["all"][0])
        print(
            f"learn --words from {per} clip(s) with words per pair ({per * len(SEEN)} in all): "
            f"precision@5 {np.mean(got):.2f} ({np.mean(got) / chance:.1f}x chance; draws "
            f"{', '.join(f'{g:.2f}' for g in got)})"
        )
    learned = learn_seen_words(
        train_looks, text, [(i, i) for i in range(len(made))], "x", steps=steps
    )
    projected = learned.project(seen_looks)
    background = background_queries(embedder)
    right, wrong = [], []
    for (concept, _), vector in queries.items():
        values = relevances(projected, vector.numpy(), background)
        for value, shown in zip(values, seen_made, strict=True):
            (right if shown == concept else wrong).append(value)
    empty = [relevances(projected, embedder.query(q), background).max() for q in NO_ANSWER]
    r, w = np.array(right), np.array(wrong)
    for floor in (2.5, 3.0, 3.5, 4.0, 4.5):
        shown_right, shown_wrong = int((r >= floor).sum()), int((w >= floor).sum())
        print(
            f"relevance floor {floor}: {shown_right} of {len(r)} right clips shown, precision "
            f"{shown_right / max(1, shown_right + shown_wrong):.2f}; {len(NO_ANSWER)} queries "
            f"with no answer: {sum(e >= floor for e in empty)} show a clip"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips and steps")
    parser.add_argument("--steps", type=int, default=None, help="training steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--curve",
        action="store_true",
        help="also: learn --words from a share of the clips with words, and its floors",
    )
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(args.seed)
    per_train, per_test = (12, 4) if args.quick else (40, 8)
    steps = args.steps or (300 if args.quick else 2000)
    started = time.perf_counter()
    train_videos, train_made = clips(SEEN, per_train, rng)
    test_seen, seen_made = clips(SEEN, per_test, rng)
    test_new, new_made = clips(HELD_OUT, per_test, rng)
    embedder = TextEmbedder()
    embedder.load()
    languages = rng.integers(len(LANGUAGES), size=len(train_made))
    sentences = [said(c, LANGUAGES[k]) for c, k in zip(train_made, languages, strict=True)]
    text = torch.from_numpy(embedder.passages(sentences))
    queries_seen = {
        (c, lang): torch.from_numpy(embedder.query(asked(c, lang)))
        for c in SEEN
        for lang in LANGUAGES
    }
    queries_new = {
        (c, lang): torch.from_numpy(embedder.query(asked(c, lang)))
        for c in HELD_OUT
        for lang in LANGUAGES
    }
    # What was said with each silent clip of the seen pairs, had it been heard (a language
    # each), asked as a query: transcript-to-shot search finds the clip itself.
    spoken = rng.integers(len(LANGUAGES), size=len(seen_made))
    transcripts = torch.from_numpy(
        np.stack(
            [embedder.query(said(c, LANGUAGES[k])) for c, k in zip(seen_made, spoken, strict=True)]
        )
    )
    print(
        f"{len(train_made)} training clips of {len(SEEN)} shape-motion pairs, each with a "
        f"sentence in one of {len(LANGUAGES)} languages; {len(seen_made)} silent clips of the "
        f"same pairs and {len(new_made)} of {len(HELD_OUT)} pairs never seen together; "
        f"{time.perf_counter() - started:.0f} s to make"
    )
    print(
        f"chance: precision@5 {per_test / len(seen_made):.3f} (seen pairs), "
        f"{per_test / len(new_made):.3f} (new pairs)"
    )
    config = LearnConfig(size="ci")
    rows = []
    for name, tower_lr in (("untrained", 0.0), ("GDT only", 0.0), ("from words", 3e-4)):
        torch.manual_seed(args.seed)
        if name == "untrained":
            tower = build_model(config).video
        else:
            tower = load_model(DEFAULT_MODEL)[0].video
        model = Aligned(tower, int(tower.dim), text.shape[1])
        t = time.perf_counter()
        loss = train(
            model, train_videos, text, steps=steps, batch=32, tower_lr=tower_lr, seed=args.seed
        )
        took = time.perf_counter() - t
        points = embed(model, test_seen)
        seen = scores(points, seen_made, queries_seen)
        new = scores(embed(model, test_new), new_made, queries_new)
        rows.append((name, seen, new, heard(points, transcripts)))
        print(f"{name}: {steps} steps in {took:.0f} s, last loss {loss:.3f}", flush=True)
    # What `learn --words` learns in a library, on the same clips and words.
    tower = load_model(DEFAULT_MODEL)[0].video
    t = time.perf_counter()
    train_looks, seen_looks = looks(tower, train_videos), looks(tower, test_seen)
    learned = learn_seen_words(
        train_looks,
        text.numpy(),
        [(i, i) for i in range(len(train_made))],
        "default_av.pt",
        steps=LearnSettings().words_steps,
        seed=args.seed,
    )
    took = time.perf_counter() - t
    points = torch.from_numpy(learned.project(seen_looks))
    seen = scores(points, seen_made, queries_seen)
    new = scores(torch.from_numpy(learned.project(looks(tower, test_new))), new_made, queries_new)
    rows.append(("learn --words", seen, new, heard(points, transcripts)))
    print(f"learn --words: {learned.steps} steps in {took:.0f} s, last loss {learned.loss:.3f}")
    # What the text side allows: a look that is the clip's pair itself.
    perfect = learn_seen_words(
        one_hot(train_made),
        text.numpy(),
        [(i, i) for i in range(len(train_made))],
        "perfect",
        steps=LearnSettings().words_steps,
        seed=args.seed,
        dropout=0.0,  # a one-hot look with a dimension dropped is no look at all
    )
    points = torch.from_numpy(perfect.project(one_hot(seen_made)))
    ceiling = scores(points, seen_made, queries_seen)
    print("text-to-clip search on silent clips: precision@5 / nDCG@10")
    print(f"{'model':13s} {'pairs':5s} " + " ".join(f"{k:>11s}" for k in (*LANGUAGES, "all")))
    for name, seen, new, _ in rows:
        for label, got in (("seen", seen), ("new", new)):
            cells = " ".join(f"{got[k][0]:.2f} / {got[k][1]:.2f}" for k in (*LANGUAGES, "all"))
            print(f"{name:13s} {label:5s} {cells}")
    cells = " ".join(f"{ceiling[k][0]:.2f} / {ceiling[k][1]:.2f}" for k in (*LANGUAGES, "all"))
    print(f"{'perfect look':13s} {'seen':5s} {cells}")
    print(
        f"all languages, seen pairs (chance: recall@1 {per_test / len(seen_made):.3f}, "
        f"recall@5 {5 / len(seen_made):.3f}; transcript recall@1 {1 / len(seen_made):.3f}, "
        f"at most {1 / per_test:.2f} for a look that knows only the pair)"
    )
    print(f"{'model':13s} {'R@1':>5s} {'R@5':>5s} {'nDCG@10':>7s} {'transcript R@1':>14s}")
    for name, seen, _, by_transcript in rows:
        got = seen["all"]
        print(f"{name:13s} {got[2]:5.2f} {got[3]:5.2f} {got[1]:7.2f} {by_transcript:14.2f}")
    if args.curve:
        curve(train_looks, text.numpy(), train_made, seen_looks, seen_made, queries_seen, embedder)
    (_, gdt, _, _), (_, ours, _, _), (_, library, library_new, _) = rows[1], rows[2], rows[3]
    chance = per_test / len(seen_made)
    print(
        f"from words, seen pairs, all languages: precision@5 ratio to chance "
        f"{ours['all'][0] / chance:.1f} (goal 5), to GDT only "
        f"{ours['all'][0] / max(gdt['all'][0], 1e-9):.1f} (goal 2); a perfect look reaches "
        f"{ceiling['all'][0]:.2f}, {ceiling['all'][0] / max(gdt['all'][0], 1e-9):.1f}x GDT only; "
        f"twice GDT only's recall@5 is {2 * gdt['all'][3]:.2f} (recall@5 is at most 1)"
    )
    print(
        f"learn --words, all languages: precision@5 ratio to chance "
        f"{library['all'][0] / chance:.1f} on seen pairs, "
        f"{library_new['all'][0] / (per_test / len(new_made)):.1f} on new pairs"
    )


if __name__ == "__main__":
    main()
