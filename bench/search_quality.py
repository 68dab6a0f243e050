"""Search quality on media whose content is known: recall@1, recall@10 and span overlap.

The evaluation set is generated here: six videos with espeak-ng sentences in English,
German, Spanish and French at known times, two burnt-in captions each, and generated
sounds (music under a spoken birthday wish, a ringing phone, beeps, white noise), plus
the shared `jfk.flac`. Each query has one right video and time span. Kinds of query:

- `speech`: words of a sentence, in its language;
- `cross`: the meaning of a sentence in another language (no word in common);
- `text`: words of a caption;
- `sound`: a sound's name;
- `combined`: a sound while something is said (`sound:music & speech:birthday`).

- `none`: queries nothing in the set answers (in every language), which should return
  nothing at all.

A returned moment is right when it is of the right video and its span overlaps the
truth's. Prints per kind and overall: recall@1 and recall@10 (a right moment first / in the
first ten), nDCG@10 (one right moment: 1 / log2(1 + its rank)), precision@5 (the share of
the first five moments shown that are right, over the queries that showed any), and for
`--all` searches recall and the share of the moments returned that are right (its
precision: a query may rightly match more than one place, so this is a lower bound); for
`none`, the share of queries that returned nothing, ranked and with `--all`. The relevance
floors (`search.min_relevance`) were chosen on this set; check them on media of your own.

    python bench/search_quality.py [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from videolearn.apps.search import MomentHit, search_moments
from videolearn.extractors.text_embed import TextEmbedder
from videolearn.library import open_library
from videolearn.samples import Caption, read_audio, sound_effect, speak, write_captioned_video

RATE = 16_000
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
EXTRACTORS = ["file_hash", "media_info", "speech", "sounds", "ocr", "text_embed"]
GAP_S = 1.5
FIRST_S = 1.0


@dataclass(frozen=True)
class Video:
    name: str
    voice: str
    sentences: tuple[str, ...]
    captions: tuple[tuple[str, float, float], ...]
    # A sound after the speech (kind, seconds), or under the sentence it names.
    sound: tuple[str, float] = ("", 0.0)
    sound_under: int = -1


VIDEOS = (
    Video(
        "kitchen",
        "en",
        (
            "The oven timer rang while the bread was still baking.",
            "Please remember to water the tomato plants every morning.",
            "Our train to Edinburgh leaves at half past nine.",
        ),
        (("Grandma's Birthday Party", 0.0, 5.0), ("Summer Holidays 2019", 20.0, 25.0)),
    ),
    Video(
        "berlin",
        "de",
        (
            "Der Zug nach Hamburg hat heute zwanzig Minuten Verspätung.",
            "Im Garten blühen die Rosen schon seit Anfang Mai.",
            "Mein Bruder repariert am Wochenende sein altes Fahrrad.",
        ),
        (("Willkommen in Berlin", 0.0, 5.0), ("Fahrradtour am Rhein", 15.0, 20.0)),
        ("noise", 4.0),
    ),
    Video(
        "mallorca",
        "es",
        (
            "La biblioteca cierra a las ocho de la noche.",
            "Compramos pescado fresco en el mercado del puerto.",
            "El perro de mi vecino ladra cada mañana.",
        ),
        (("Vacaciones en Mallorca", 0.0, 5.0), ("Receta de Paella", 15.0, 20.0)),
    ),
    Video(
        "marseille",
        "fr",
        (
            "Le musée d'art moderne est fermé le mardi.",
            "Nous avons fait du ski dans les Alpes en février.",
            "Ma grand-mère prépare une tarte aux pommes délicieuse.",
        ),
        (("Bienvenue à Marseille", 0.0, 5.0), ("Le Tour de France", 15.0, 20.0)),
        ("beeps", 4.0),
    ),
    Video(
        "weekend",
        "en",
        (
            "The football match was cancelled because of heavy rain.",
            "She painted the fence bright yellow last summer.",
            "The dentist appointment is on Thursday afternoon.",
        ),
        (("Wedding Anniversary Dinner", 0.0, 5.0), ("Museum of Natural History", 15.0, 20.0)),
        ("phone", 6.0),
    ),
    Video(
        "party",
        "en",
        (
            "The volcano erupted for the first time in a century.",
            "We counted forty seven stars through the telescope.",
            "Happy birthday to you, dear Anna, and many happy returns.",
        ),
        (("First Day at School", 0.0, 5.0), ("Camping by the Lake", 15.0, 20.0)),
        ("music", 0.0),
        2,
    ),
)

# (kind, query, video, sentence index or caption text or sound kind)
QUERIES: tuple[tuple[str, str, str, int | str], ...] = (
    ("speech", "oven timer bread baking", "kitchen", 0),
    ("speech", "water the tomato plants", "kitchen", 1),
    ("speech", "train to Edinburgh", "kitchen", 2),
    ("speech", "Zug nach Hamburg Verspätung", "berlin", 0),
    ("speech", "Rosen im Garten", "berlin", 1),
    ("speech", "Bruder repariert Fahrrad", "berlin", 2),
    ("speech", "la biblioteca cierra", "mallorca", 0),
    ("speech", "pescado fresco mercado", "mallorca", 1),
    ("speech", "el perro del vecino ladra", "mallorca", 2),
    ("speech", "musée d'art moderne", "marseille", 0),
    ("speech", "ski dans les Alpes", "marseille", 1),
    ("speech", "tarte aux pommes", "marseille", 2),
    ("speech", "football match cancelled rain", "weekend", 0),
    ("speech", "painted the fence yellow", "weekend", 1),
    ("speech", "dentist appointment Thursday", "weekend", 2),
    ("speech", "volcano erupted", "party", 0),
    ("speech", "stars through the telescope", "party", 1),
    ("speech", "happy birthday Anna", "party", 2),
    ("speech", "ask not what your country can do for you", "jfk", 0),
    ("speech", "my fellow Americans", "jfk", 0),
    ("cross", "the train to Hamburg is twenty minutes late", "berlin", 0),
    ("cross", "roses have been blooming in the garden since May", "berlin", 1),
    ("cross", "my brother fixes his old bicycle at the weekend", "berlin", 2),
    ("cross", "the library closes at eight in the evening", "mallorca", 0),
    ("cross", "we bought fresh fish at the harbour market", "mallorca", 1),
    ("cross", "my neighbour's dog barks every morning", "mallorca", 2),
    ("cross", "the modern art museum is closed on Tuesdays", "marseille", 0),
    ("cross", "we went skiing in the Alps in February", "marseille", 1),
    ("cross", "my grandmother bakes a delicious apple pie", "marseille", 2),
    ("cross", "das Fußballspiel wurde wegen Regen abgesagt", "weekend", 0),
    ("cross", "la cita con el dentista es el jueves por la tarde", "weekend", 2),
    ("cross", "le volcan est entré en éruption", "party", 0),
    ("text", "grandma's birthday party", "kitchen", "Grandma's Birthday Party"),
    ("text", "summer holidays 2019", "kitchen", "Summer Holidays 2019"),
    ("text", "willkommen in Berlin", "berlin", "Willkommen in Berlin"),
    ("text", "Fahrradtour Rhein", "berlin", "Fahrradtour am Rhein"),
    ("text", "vacaciones en Mallorca", "mallorca", "Vacaciones en Mallorca"),
    ("text", "receta de paella", "mallorca", "Receta de Paella"),
    ("text", "bienvenue à Marseille", "marseille", "Bienvenue à Marseille"),
    ("text", "tour de France", "marseille", "Le Tour de France"),
    ("text", "wedding anniversary dinner", "weekend", "Wedding Anniversary Dinner"),
    ("text", "museum of natural history", "weekend", "Museum of Natural History"),
    ("text", "first day at school", "party", "First Day at School"),
    ("text", "camping by the lake", "party", "Camping by the Lake"),
    ("sound", "sound:music", "party", "music"),
    ("sound", "sound:telephone ringing", "weekend", "phone"),
    ("sound", "sound:beep", "marseille", "beeps"),
    ("sound", "sound:white noise", "berlin", "noise"),
    ("combined", "sound:music & speech:birthday", "party", "music"),
    ("combined", "speech:birthday & sound:music", "party", 2),
)
# Queries nothing in the set answers.
NO_ANSWER = (
    "snowboarding accident",
    "stock market crash",
    "a cat sleeping on the sofa",
    "quantum physics lecture",
    "Flughafen Check-in Schalter",
    "la playa de arena blanca",
    "guitar solo",
    "earthquake in Japan",
    "Hochzeit in Venedig",
    "swimming pool",
    "my fellow Germans",
    "train delays in Paris",
    "recipe",
    "sound:dog barking",
    "la lavadora está rota",
    "la réunion est annulée",
)


@dataclass(frozen=True)
class Truth:
    video: str
    start_s: float
    end_s: float


def build(folder: Path) -> tuple[list[Path], dict[tuple[str, int | str], Truth]]:
    """Write the videos; return them and the truth of every sentence, caption and sound."""
    truths: dict[tuple[str, int | str], Truth] = {}
    paths = []
    for v in VIDEOS:
        pieces, t = [np.zeros(round(FIRST_S * RATE), np.float32)], FIRST_S
        spans = []
        for i, sentence in enumerate(v.sentences):
            spoken = read_audio(speak(folder / f"{v.name}-{i}.wav", sentence, v.voice))
            spans.append((t, t + spoken.size / RATE))
            truths[(v.name, i)] = Truth(v.name, t, t + spoken.size / RATE)
            pieces += [spoken, np.zeros(round(GAP_S * RATE), np.float32)]
            t += spoken.size / RATE + GAP_S
        audio = np.concatenate(pieces)
        kind, seconds = v.sound
        if kind and v.sound_under >= 0:
            start, end = spans[v.sound_under]
            under = 0.4 * sound_effect(kind, end - start + 1.0)
            at = round((start - 0.5) * RATE)
            audio[at : at + under.size] += under[: audio.size - at]
            truths[(v.name, kind)] = Truth(v.name, start - 0.5, end + 0.5)
        elif kind:
            truths[(v.name, kind)] = Truth(v.name, t, t + seconds)
            audio = np.concatenate([audio, sound_effect(kind, seconds), np.zeros(RATE, np.float32)])
        for text, start, end in v.captions:
            truths[(v.name, text)] = Truth(v.name, start, end)
        seconds_total = max(audio.size / RATE, max(c[2] for c in v.captions) + 1.0)
        audio = np.concatenate([audio, np.zeros(round(seconds_total * RATE) - audio.size)])
        captions = [Caption(text, start, end) for text, start, end in v.captions]
        path = folder / f"{v.name}.mp4"
        if not path.exists():
            write_captioned_video(path, captions, seconds_total, audio=audio.astype(np.float32))
        paths.append(path)
    jfk = SHARED / "speech" / "jfk.flac"
    paths.append(jfk)
    truths[("jfk", 0)] = Truth("jfk", 0.0, 11.0)
    return paths, truths


def _right(hit: MomentHit, truth: Truth) -> bool:
    return (
        Path(hit.path).stem == truth.video
        and hit.span.start_s <= truth.end_s
        and truth.start_s <= hit.span.end_s
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="Print the results as JSON too.")
    parser.add_argument(
        "--workdir",
        type=Path,
        help="Keep the media and library here, and reuse them when they are there already.",
    )
    args = parser.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        rows = evaluate(args.workdir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            rows = evaluate(Path(tmp))
    _report(rows)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))


def evaluate(folder: Path) -> list[dict]:
    """Build (or reuse) the set in `folder` and run every query on it."""
    from videolearn.config import load_settings

    began = time.perf_counter()
    paths, truths = build(folder)
    settings = load_settings(folder / "library", keep_versions_s=0, extractors=EXTRACTORS)
    with open_library(create=True, settings=settings) as lib:
        results = lib.index(paths)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise SystemExit(f"indexing failed: {failed}")
    print(f"indexed {len(paths)} files in {time.perf_counter() - began:.1f} s")
    embedder = TextEmbedder()
    embedder.load()
    rows = []
    with open_library(folder / "library") as lib:
        for kind, query, video, what in QUERIES:
            truth = truths[(video, what)]
            top = search_moments(lib, query, 10, embedder)
            every = search_moments(lib, query, None, embedder, every=True)
            rank = next((i for i, h in enumerate(top, 1) if _right(h, truth)), None)
            shown = top[:5]
            rows.append(
                {
                    "kind": kind,
                    "query": query,
                    "rank": rank,
                    "precision5": sum(_right(h, truth) for h in shown) / len(shown)
                    if shown
                    else None,
                    "top_right": sum(_right(h, truth) for h in top),
                    "top_count": len(top),
                    "all_found": any(_right(h, truth) for h in every),
                    "all_right": sum(_right(h, truth) for h in every),
                    "all_count": len(every),
                    "first": top[0].to_json() if top else None,
                    "right": next((h.to_json() for h in top if _right(h, truth)), None),
                }
            )
        for query in NO_ANSWER:
            top = search_moments(lib, query, 10, embedder)
            every = search_moments(lib, query, None, embedder, every=True)
            rows.append(
                {
                    "kind": "none",
                    "query": query,
                    "top_count": len(top),
                    "all_count": len(every),
                    "first": top[0].to_json() if top else None,
                }
            )
    return rows


def _report(rows: list[dict]) -> None:
    answered = [r for r in rows if r["kind"] != "none"]
    print(f"{len(answered)} queries with an answer")
    head = (
        "kind      queries  recall@1  recall@10  nDCG@10  precision@5  shown  all-recall"
        "  all-precision"
    )
    print(head)
    kinds = [k for k in dict.fromkeys(r["kind"] for r in answered)]
    recall10: dict[str, float] = {}
    for kind in [*kinds, "speech+text", "all"]:
        if kind == "all":
            part = answered
        elif kind == "speech+text":
            part = [r for r in answered if r["kind"] in ("speech", "cross", "text")]
        else:
            part = [r for r in answered if r["kind"] == kind]
        n = len(part)
        r1 = sum(r["rank"] == 1 for r in part) / n
        r10 = recall10[kind] = sum(r["rank"] is not None for r in part) / n
        ndcg = sum(1 / math.log2(1 + r["rank"]) for r in part if r["rank"]) / n
        shown = [r["precision5"] for r in part if r["precision5"] is not None]
        p5 = sum(shown) / len(shown) if shown else 0.0
        all_recall = sum(r["all_found"] for r in part) / n
        precision = sum(r["all_right"] for r in part) / max(1, sum(r["all_count"] for r in part))
        print(
            f"{kind:10}{n:7}  {r1:8.3f}  {r10:9.3f}  {ndcg:7.3f}  {p5:11.3f}  {len(shown) / n:5.2f}"
            f"  {all_recall:10.3f}  {precision:13.3f}"
        )
    print(
        f"recall@10 on speech and on-screen text queries: {recall10['speech+text']:.3f} "
        "(goal at least 0.97)"
    )
    none = [r for r in rows if r["kind"] == "none"]
    if none:
        empty = sum(r["top_count"] == 0 for r in none) / len(none)
        empty_all = sum(r["all_count"] == 0 for r in none) / len(none)
        print(
            f"{len(none)} queries without an answer: {empty:.3f} returned nothing "
            f"({empty_all:.3f} with --all; goal at least 0.95)"
        )
        for r in none:
            if r["top_count"]:
                first = r["first"]
                print(f"  answered {r['query']!r}: {first['modality']} {first['snippet']!r}")
    for r in answered:
        if r["rank"] != 1:
            first = r["first"]
            said = f"{first['modality']} {first['snippet']!r}" if first else "nothing"
            print(f"  missed at 1 ({r['kind']}): {r['query']!r} rank {r['rank']}; first: {said}")


if __name__ == "__main__":
    main()
