"""Recommendation quality on a generated library whose groups are known (and hidden from
the system): `similar`'s precision@10 per kind of group, same-sound recall and location,
and the themes' agreement with the groups (NMI, ARI).

The library (written with the samples' own writers, indexed with the default extractors):

- `audio`: 4 songs, each laid at a random place (15 s) over the noise of 4 videos with
  pictures of their own;
- `topic`: 3 spoken topics, each said in English, German, Spanish and French (espeak-ng)
  over pictures of its own;
- `concept`: 3 of the learning benchmark's audio-visual concepts, 4 random instances each
  (12 s: three 4 s renders one after another);
- 6 unrelated videos (noise pictures with a tone, a ring, beeps, hiss, silence).

For each video of a group, `similar --limit 10`: precision@10 is the share of what could
be found (the group's 3 others) among the results; for the audio groups, the share of
the others found under "same audio track", and how far the located stretch lies from the
truth. The same is run with text signals alone (`recommend.weights` without look, hearing
and same audio), beside. Themes: `themes --update`, NMI and ARI (scikit-learn) of the
themes (videos in none each on their own) against the groups (unrelated ones each on their
own). Goals: same audio recall 1.0 located within 1 s; precision@10 at least 0.8 on the
audio and topic groups; themes NMI at least 0.7.

    python bench/recommend_quality.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from videolearn.apps.recommend import similar
from videolearn.apps.themes import update_themes
from videolearn.config import load_settings
from videolearn.learning.synthetic import CONCEPTS, render
from videolearn.library import open_library
from videolearn.samples import SPOKEN_PASSAGES, read_audio, song, sound_effect, speak, write_av

RATE = 16_000
TOPICS = {
    "park": SPOKEN_PASSAGES,
    "train": {
        "en": "The train to the city leaves the station at eight. We bought two tickets and "
        "found our seats by the window.",
        "de": "Der Zug in die Stadt fährt um acht Uhr vom Bahnhof ab. Wir haben zwei "
        "Fahrkarten gekauft und unsere Plätze am Fenster gefunden.",
        "es": "El tren a la ciudad sale de la estación a las ocho. Compramos dos billetes y "
        "encontramos nuestros asientos junto a la ventana.",
        "fr": "Le train pour la ville part de la gare à huit heures. Nous avons acheté deux "
        "billets et trouvé nos places près de la fenêtre.",
    },
    "baking": {
        "en": "Put the flour, the eggs and the milk in a bowl and mix them well. Bake the "
        "cake in a hot oven for thirty minutes.",
        "de": "Gib das Mehl, die Eier und die Milch in eine Schüssel und verrühre alles gut. "
        "Backe den Kuchen dreißig Minuten in einem heißen Ofen.",
        "es": "Pon la harina, los huevos y la leche en un bol y mézclalo todo bien. Hornea "
        "el pastel en un horno caliente durante treinta minutos.",
        "fr": "Mets la farine, les oeufs et le lait dans un bol et mélange bien. Fais cuire "
        "le gâteau dans un four chaud pendant trente minutes.",
    },
}


def _pictures(seconds: float, rng: np.random.Generator, fps: int = 10) -> np.ndarray:
    """Slowly drifting noise of a random tint, 64 x 64."""
    tint = rng.integers(40, 215, 3)
    base = rng.normal(0, 25, (8, 8, 3))
    frames = []
    for n in range(round(seconds * fps)):
        drift = np.roll(base, n // 5, axis=1)
        big = np.kron(drift, np.ones((8, 8, 1)))
        frames.append(np.clip(tint + big, 0, 255).astype(np.uint8))
    return np.stack(frames)


def _write_media(
    folder: Path, rng: np.random.Generator
) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[float, float]]]:
    """The files, each one's (kind, group) (unrelated ones are their own group), and
    where the song lies in each song video."""
    truth: dict[str, tuple[str, str]] = {}
    places: dict[str, tuple[float, float]] = {}
    for s in range(4):
        music = song(15, seed=100 + s)
        for n in range(4):
            at = float(rng.uniform(2, 13))
            sound = rng.normal(0, 0.02, 30 * RATE).astype(np.float32)
            sound[round(at * RATE) : round(at * RATE) + music.size] += music
            name = f"song{s}-{n}.mp4"
            write_av(folder / name, _pictures(30, rng), 10, sound, RATE)
            truth[name] = ("audio", f"song{s}")
            places[name] = (at, at + 15)
    for topic, passages in TOPICS.items():
        for language, text in passages.items():
            voice = read_audio(speak(folder / f"{topic}-{language}.wav", text, language))
            (folder / f"{topic}-{language}.wav").unlink()
            name = f"{topic}-{language}.mp4"
            write_av(folder / name, _pictures(voice.size / RATE + 0.5, rng), 10, voice, RATE)
            truth[name] = ("topic", topic)
    for concept in CONCEPTS[:3]:
        for n in range(4):
            clips = [render(concept, rng, 4.0, 8.0, 64) for _ in range(3)]
            frames = np.concatenate([c.frames for c in clips])
            audio = np.concatenate([c.audio for c in clips])
            name = f"concept{concept.index}-{n}.mp4"
            write_av(folder / name, frames, 8.0, audio, RATE)
            truth[name] = ("concept", f"concept{concept.index}")
    for n, kind in enumerate(["beeps", "phone", "noise", "silence", "music", "noise"]):
        name = f"other{n}.mp4"
        write_av(folder / name, _pictures(10, rng), 10, sound_effect(kind, 10, seed=n), RATE)
        truth[name] = ("unrelated", name)
    return truth, places


def _evaluate(library: Path, truth: dict[str, tuple[str, str]], weights: dict[str, float] | None):
    settings = load_settings(library)
    if weights is not None:
        settings = settings.model_copy(
            update={"recommend": settings.recommend.model_copy(update={"weights": weights})}
        )
    precision: dict[str, list[float]] = {}
    found_same, wanted_same = 0, 0
    with open_library(settings=settings) as lib:
        paths = {Path(v.path).name: v.path for v in lib.store.videos()}
        for name, (kind, group) in truth.items():
            if kind == "unrelated":
                continue
            others = {n for n, (_, g) in truth.items() if g == group and n != name}
            answer = similar(lib, [paths[name]], limit=10)
            got = [Path(r.path).name for r in answer.results]
            precision.setdefault(kind, []).append(len(others & set(got)) / len(others))
            if kind == "audio":
                wanted_same += len(others)
                found_same += sum(
                    Path(r.path).name in others
                    and any(x.startswith("same audio track") for x in r.reasons)
                    for r in answer.results
                )
    return {k: float(np.mean(v)) for k, v in precision.items()}, found_same / max(wanted_same, 1)


def _location_errors(library: Path, places: dict[str, tuple[float, float]]) -> list[float]:
    """How far each located stretch's ends lie from where the song is in the other video."""
    from videolearn.apps.sound import sound_alike

    errors = []
    with open_library(library) as lib:
        paths = {Path(v.path).name: v.path for v in lib.store.videos()}
        for name in places:
            for alike in sound_alike(lib, paths[name]):
                other = Path(alike.path).name
                if other not in places or other.split("-")[0] != name.split("-")[0]:
                    continue
                start, end = places[other]
                for s in alike.shared:
                    errors += [abs(s.other.start_s - start), abs(s.other.end_s - end)]
    return errors or [float("nan")]


def main() -> None:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        truth, places = _write_media(media, rng)
        library = Path(tmp) / "library"
        started = time.perf_counter()
        with open_library(create=True, settings=load_settings(library, keep_versions_s=0)) as lib:
            results = lib.index([media])
        failed = [r for r in results if r.status == "failed"]
        print(
            f"indexed {len(results)} videos in {time.perf_counter() - started:.0f} s, "
            f"{len(failed)} failed {[r.reason for r in failed]}"
        )
        every, same = _evaluate(library, truth, None)
        text_only, _ = _evaluate(
            library, truth, {"meaning": 1.0, "words": 0.7, "sound_events": 0.5}
        )
        print("precision@10 by group kind (all signals | text signals only):")
        for kind in every:
            print(f"  {kind:8s} {every[kind]:.2f} | {text_only.get(kind, 0.0):.2f}")
        print(f"same audio track found for {same:.0%} of the songs' other videos")
        errors = _location_errors(library, places)
        print(
            f"shared song located: worst end off by {max(errors):.2f} s, median "
            f"{float(np.median(errors)):.2f} s, over {len(errors) // 2} stretches"
        )
        with open_library(library) as lib:
            found = update_themes(lib)
            theme_of = {Path(m.path).name: t.theme_id for t in found for m in t.members}
        names = sorted(truth)
        labels = [truth[n][1] for n in names]
        clusters = [str(theme_of.get(n, f"none-{n}")) for n in names]
        print(
            f"themes: {len(found)}; NMI {normalized_mutual_info_score(labels, clusters):.2f}, "
            f"ARI {adjusted_rand_score(labels, clusters):.2f}"
        )
        for t in found:
            print(f"  #{t.theme_id} {t.label!r}: {sorted(Path(m.path).name for m in t.members)}")


if __name__ == "__main__":
    main()
