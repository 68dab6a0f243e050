"""Answer quality on a generated library whose truth is known (and hidden from the
system): what a person sees from `similar`, copies, same sound, themes and search.

The library, generated afresh (seeded) with the samples' own writers and indexed with the
default extractors:

- `song`: songs, each laid at a random place (15 s) over the noise of 3 videos with
  footage of their own (drifting shapes);
- `topic`: spoken topics, each said in English, German, Spanish and French (espeak-ng)
  over footage of its own;
- `copies`: clips of the shared real videos (`box.mp4`, `Megamind.avi`, `vtest.avi`) with
  their sound, and every usual edit of each (`samples.EDITS`: crop, pad, logo, CRF 40
  re-encode, resize, letterbox, mirror, sepia): one family each;
- traps, each its own group: the first clip's pictures over a German commentary, a test
  card over a 1 kHz tone and the same card over a song;
- unrelated clips (footage with beeps, a ring, hiss, silence, music).

`--quick` makes fewer of each (one copy family) and indexes in about half the time.

It prints, per answer, what a person would count:

- `similar` precision@k per group kind, k = the group's size - 1 (the share of the first k
  results that belong to the group), with the default blend and with text signals alone,
  and the share of every result listed for a song or topic video that belongs with it;
- copies: the edits set apart as the query's copies (of all that should be), copies leaked
  into the results, and videos wrongly called copies;
- same sound: how far the located stretches' ends lie from where each song really is
  (median, max), and stretches reported between videos that share no song;
- themes: NMI and ARI against the groups (a copy family one group, each trap and unrelated
  clip its own), and the share of theme ids kept, with every member they had, when the
  library grows by a fifth (another video of each song, unrelated clips);
- search: nDCG@10 and precision@5 for topic queries (the right videos: the topic's four),
  and the share of queries with no answer that return nothing;
- junk moments: the shared real videos (tree.avi, vtest.avi, box.mp4, Megamind.avi)
  indexed in a library of their own, and every moment of speech, on-screen text or sound
  stored there that a person watching them would not (`REAL_VIDEOS`).

    python bench/answer_quality.py [--quick] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from videolearn.apps.catalog import show
from videolearn.apps.recommend import similar
from videolearn.apps.search import search_moments
from videolearn.apps.sound import sound_alike
from videolearn.apps.themes import update_themes
from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.samples import (
    EDITS,
    SPOKEN_PASSAGES,
    colour_bars,
    edited,
    read_audio,
    read_frames,
    song,
    sound_effect,
    speak,
    tone,
    write_av,
)

RATE = 16_000
FPS = 10
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
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
# Search queries: (query, topic whose four videos answer it, or "" for none).
QUERIES = [
    ("a basket of apples in the park", "park"),
    ("nice weather, we go to the park", "park"),
    ("train tickets at the station", "train"),
    ("seats by the window of the train", "train"),
    ("bake a cake in the oven", "baking"),
    ("flour, eggs and milk in a bowl", "baking"),
    ("Kuchen backen", "baking"),
    ("billets de train", "train"),
    ("birthday party with candles", ""),
    ("a volcano erupts", ""),
    ("the stock market crashed", ""),
    ("how to repair a bicycle tyre", ""),
    ("Geburtstagsfeier", ""),
    ("le chien aboie", ""),
]
CLIPS = (("box", "video/box.mp4"), ("mega", "video/Megamind.avi"), ("vtest", "video/vtest.avi"))
# What a person finds in the shared real videos, each watched and listened to: tree.avi,
# vtest.avi and box.mp4 show no writing and hold nothing said or worth naming in their
# sound; Megamind.avi's trailer has its lines spoken (any of its speech counts) over music.
# Any other moment of speech, on-screen text or sound is junk.
REAL_VIDEOS: dict[str, dict[str, set[str] | None]] = {
    "tree.avi": {},
    "vtest.avi": {},
    "box.mp4": {},
    "Megamind.avi": {"speech": None, "sound": {"Speech", "Music"}},
}
COMMENTARY = (
    "Und da kommt der Ball, ein langer Pass nach vorne, der Stürmer nimmt ihn an und "
    "schießt, aber der Torwart hält."
)


@dataclass
class Truth:
    """Each file's group and kind; where each song lies in its videos."""

    group: dict[str, str] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)
    song_at: dict[str, tuple[float, float]] = field(default_factory=dict)

    def add(self, name: str, kind: str, group: str) -> None:
        self.group[name], self.kind[name] = group, kind

    def others(self, name: str) -> set[str]:
        return {n for n, g in self.group.items() if g == self.group[name] and n != name}


def _footage(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Shapes of random colours drifting over a tinted background, 128 x 96: footage that
    moves, unlike any other's."""
    n = round(seconds * FPS)
    frames = np.empty((n, 96, 128, 3), np.uint8)
    base = rng.integers(30, 200, 3)
    shapes = [
        (
            rng.uniform(0, 128, 2),
            rng.uniform(-3, 3, 2),
            rng.integers(8, 30),
            rng.integers(0, 255, 3),
        )
        for _ in range(4)
    ]
    yy, xx = np.mgrid[0:96, 0:128]
    for t in range(n):
        frame = np.empty((96, 128, 3), np.uint8)
        frame[:] = base
        for (x0, y0), (dx, dy), size, colour in shapes:
            x, y = (x0 + dx * t) % 128, (y0 + dy * t) % 96
            frame[(np.abs(xx - x) < size) & (np.abs(yy - y) < size // 2)] = colour
        frames[t] = frame
    return frames


def _voice(folder: Path, text: str, language: str) -> np.ndarray:
    wav = speak(folder / "voice.wav", text, language)
    samples = read_audio(wav)
    wav.unlink()
    return samples


KINDS = ("beeps", "phone", "noise", "silence", "music")


def _song_video(
    folder: Path, name: str, group: str, truth: Truth, rng: np.random.Generator
) -> None:
    """30 s of footage over low noise with the group's 15 s song laid at a random place."""
    music = song(15, seed=100 + int(group.removeprefix("song")))
    at = float(rng.uniform(2, 13))
    sound = rng.normal(0, 0.02, 30 * RATE).astype(np.float32)
    sound[round(at * RATE) : round(at * RATE) + music.size] += music
    write_av(folder / name, _footage(30, rng), FPS, sound, RATE)
    truth.add(name, "song", group)
    truth.song_at[name] = (at, at + 15)


def _unrelated_video(
    folder: Path, name: str, kind: str, *, seed: int, truth: Truth, rng: np.random.Generator
) -> None:
    """10 s of footage of its own over a sound effect: like nothing else."""
    write_av(folder / name, _footage(10, rng), FPS, sound_effect(kind, 10, seed=seed), RATE)
    truth.add(name, "unrelated", name)


def write_media(folder: Path, quick: bool, rng: np.random.Generator) -> Truth:
    truth = Truth()
    songs, topics, clips = (2, 2, 1) if quick else (3, 3, len(CLIPS))
    for s in range(songs):
        for n in range(3):
            _song_video(folder, f"song{s}-{n}.mp4", f"song{s}", truth, rng)
    for topic in list(TOPICS)[:topics]:
        for language, text in TOPICS[topic].items():
            voice = _voice(folder, text, language)
            name = f"{topic}-{language}.mp4"
            write_av(folder / name, _footage(voice.size / RATE + 0.5, rng), FPS, voice, RATE)
            truth.add(name, "topic", topic)
    first_clip: tuple[np.ndarray, np.ndarray] | None = None
    for label, source in CLIPS[:clips]:
        frames = read_frames(SHARED / source, FPS, 320, 10.0)
        seconds = len(frames) / FPS
        sound = read_audio(SHARED / source)[: round(seconds * RATE)]
        if sound.size < seconds * RATE:  # a clip without sound gets a song of its own
            sound = song(seconds, seed=200 + len(truth.group))
        first_clip = first_clip or (frames, sound)
        write_av(folder / f"{label}.mp4", frames, FPS, sound, RATE)
        truth.add(f"{label}.mp4", "copies", label)
        for edit in EDITS:
            name = f"{label}-{edit}.mp4"
            crf = 40 if edit == "reencode" else 18
            write_av(folder / name, edited(frames, edit), FPS, sound, RATE, crf=crf)
            truth.add(name, "copies", label)
    assert first_clip is not None
    frames, _ = first_clip
    commentary = _voice(folder, COMMENTARY, "de")
    voice = np.zeros(round(len(frames) / FPS * RATE), np.float32)
    voice[: min(voice.size, commentary.size)] = commentary[: voice.size]
    write_av(folder / "trap-commentary.mp4", frames, FPS, voice, RATE)
    card = colour_bars(8, FPS)
    write_av(folder / "trap-card-tone.mp4", card, FPS, tone(8, 1000, RATE), RATE)
    write_av(folder / "trap-card-song.mp4", card, FPS, song(8, seed=300), RATE)
    for name in ("trap-commentary.mp4", "trap-card-tone.mp4", "trap-card-song.mp4"):
        truth.add(name, "trap", name)
    for n, kind in enumerate(KINDS[: 3 if quick else 5]):
        _unrelated_video(folder, f"other-{kind}.mp4", kind, seed=n, truth=truth, rng=rng)
    return truth


def write_more(folder: Path, truth: Truth, rng: np.random.Generator) -> list[str]:
    """A fifth more videos, as a library grows: another video of each song, then clips
    unrelated to anything."""
    wanted = math.ceil(len(truth.group) / 5)
    songs = sorted({truth.group[n] for n, kind in truth.kind.items() if kind == "song"})
    added: list[str] = []
    for group in songs[:wanted]:
        added.append(f"{group}-more.mp4")
        _song_video(folder, added[-1], group, truth, rng)
    for n in range(wanted - len(added)):
        kind = KINDS[n % len(KINDS)]
        added.append(f"more-{n}-{kind}.mp4")
        _unrelated_video(folder, added[-1], kind, seed=50 + n, truth=truth, rng=rng)
    return added


def themes_kept(before: dict[int, set[str]], after: dict[int, set[str]]) -> float:
    """The share of themes whose id is kept, with every member it had, after growth."""
    if not before:
        return 1.0
    kept = sum(t in after and members <= after[t] for t, members in before.items())
    return kept / len(before)


# -- measures -----------------------------------------------------------------------------


def similar_precision(
    library: Path, truth: Truth, weights: dict[str, float] | None
) -> tuple[dict[str, float], dict[str, int]]:
    """precision@k per group kind (songs and topics), and the copy counts."""
    settings = load_settings(library)
    if weights is not None:
        recommend = settings.recommend.model_copy(update={"weights": weights})
        settings = settings.model_copy(update={"recommend": recommend})
    precision: dict[str, list[float]] = defaultdict(list)
    counts = {"set_apart": 0, "should": 0, "leaked": 0, "wrongly_called": 0, "shown": 0}
    counts["shown_right"] = 0
    with open_library(settings=settings) as lib:
        paths = {Path(v.path).name: v.path for v in lib.store.videos()}
        for name, kind in truth.kind.items():
            answer = similar(lib, [paths[name]], limit=10)
            shown = [Path(r.path).name for r in answer.results]
            folded = {Path(c.path).name for r in answer.results for c in r.copies}
            copies = {Path(c.path).name for c in answer.duplicates}
            others = truth.others(name)
            if kind in {"song", "topic"}:
                k = len(others)
                precision[kind].append(len(others & set(shown[:k])) / k)
                counts["shown"] += len(shown)
                counts["shown_right"] += len(others & set(shown))
            if kind == "copies":
                counts["should"] += len(others)
                counts["set_apart"] += len(others & copies)
                counts["leaked"] += len(others & (set(shown) | folded))
            counts["wrongly_called"] += len(copies - others if kind == "copies" else copies)
    return {k: float(np.mean(v)) for k, v in precision.items()}, counts


def sound_location(library: Path, truth: Truth) -> tuple[list[float], int]:
    """Errors (s) of the located ends of shared songs, and stretches shared where no
    song is shared."""
    errors: list[float] = []
    false = 0
    with open_library(library) as lib:
        paths = {Path(v.path).name: v.path for v in lib.store.videos()}
        for name, kind in truth.kind.items():
            for alike in sound_alike(lib, paths[name]):
                other = Path(alike.path).name
                if kind == "copies" and other in truth.others(name):
                    continue  # a copy shares its whole sound
                if kind != "song" or other not in truth.others(name):
                    false += len(alike.shared)
                    continue
                start, end = truth.song_at[other]
                for s in alike.shared:
                    errors += [abs(s.other.start_s - start), abs(s.other.end_s - end)]
    return errors, false


def themes_agreement(library: Path, truth: Truth) -> tuple[float, float, int, dict[int, set[str]]]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    with open_library(library) as lib:
        found = update_themes(lib)
    members = {t.theme_id: {Path(m.path).name for m in t.members} for t in found}
    theme_of = {n: t for t, names in members.items() for n in names}
    names = sorted(truth.group)
    labels = [truth.group[n] for n in names]
    clusters = [str(theme_of.get(n, f"none-{n}")) for n in names]
    for t in found:
        print(f"    #{t.theme_id} {t.label!r}: {sorted(members[t.theme_id])}")
    return (
        float(normalized_mutual_info_score(labels, clusters)),
        float(adjusted_rand_score(labels, clusters)),
        len(found),
        members,
    )


def junk_moments(folder: Path) -> list[str]:
    """The moments a person would call junk (`REAL_VIDEOS`) that indexing the shared
    real videos with the default extractors stores, each as `file modality span 'text'`."""
    media = folder / "real"
    media.mkdir()
    for name in REAL_VIDEOS:
        shutil.copy(SHARED / "video" / name, media / name)
    library = folder / "real-library"
    junk = []
    with open_library(create=True, settings=load_settings(library, keep_versions_s=0)) as lib:
        results = lib.index([media])
        failed = [(r.path, r.reason) for r in results if r.status == "failed"]
        if failed:
            raise SystemExit(f"the shared real videos failed to index: {failed}")
        for name, wanted in REAL_VIDEOS.items():
            for m in show(lib, str(media / name)).moments:
                if m.modality not in {"speech", "text", "sound"}:
                    continue  # shots and scenes: where the picture changes
                allowed = wanted.get(m.modality, set())
                if allowed is None or m.label in allowed:
                    continue
                span = f"{m.span.start_s:.1f}-{m.span.end_s:.1f} s"
                junk.append(f"{name} {m.modality} {span} {m.text or m.label!r}")
    return junk


def search_quality(library: Path, truth: Truth) -> tuple[float, float, float]:
    """nDCG@10 and precision@5 over queries with an answer (videos, best moment each);
    the share of queries without one (their topic not made, in `--quick`) that return
    nothing."""
    ndcg, p5, empty = [], [], []
    made = set(truth.group.values())
    with open_library(library) as lib:
        for query, wanted in QUERIES:
            topic = wanted if wanted in made else ""
            hits = search_moments(lib, query, limit=50)
            videos = list(dict.fromkeys(Path(h.path).name for h in hits))[:10]
            if not topic:
                empty.append(not videos)
                continue
            right = [v.startswith(topic + "-") for v in videos]
            gain = sum(r / math.log2(i + 2) for i, r in enumerate(right))
            ideal = sum(1 / math.log2(i + 2) for i in range(4))
            ndcg.append(gain / ideal)
            if videos:
                p5.append(sum(right[:5]) / len(right[:5]))
    return float(np.mean(ndcg)), float(np.mean(p5)) if p5 else 0.0, float(np.mean(empty))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer videos of each kind")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the library and media")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=args.workdir))
    try:
        media = tmp / "media"
        media.mkdir()
        started = time.perf_counter()
        truth = write_media(media, args.quick, rng)
        print(f"wrote {len(truth.group)} videos in {time.perf_counter() - started:.0f} s")
        library = tmp / "library"
        started = time.perf_counter()
        with open_library(create=True, settings=load_settings(library, keep_versions_s=0)) as lib:
            results = lib.index([media])
        failed = [(r.path, r.reason) for r in results if r.status == "failed"]
        print(f"indexed in {time.perf_counter() - started:.0f} s; failed: {failed}")

        started = time.perf_counter()
        blend, counts = similar_precision(library, truth, None)
        text_only, _ = similar_precision(
            library, truth, {"meaning": 1.0, "words": 0.7, "sound_events": 0.5}
        )
        calls = len(truth.group) * 2
        print(f"similar: {(time.perf_counter() - started) / calls * 1000:.0f} ms a call")
        print("similar precision@k (default blend | text signals only):")
        for kind in blend:
            print(f"  {kind:6s} {blend[kind]:.2f} | {text_only.get(kind, 0.0):.2f}")
        right, shown = counts["shown_right"], counts["shown"]
        print(
            f"  every result listed for a song or topic: {right} of {shown} belong "
            f"(precision {right / max(shown, 1):.2f})"
        )
        print(
            f"copies: {counts['set_apart']}/{counts['should']} set apart, "
            f"{counts['leaked']} leaked into results, {counts['wrongly_called']} wrongly called"
        )
        errors, false = sound_location(library, truth)
        if errors:
            print(
                f"same sound: ends off by median {np.median(errors):.2f} s, max "
                f"{max(errors):.2f} s over {len(errors) // 2} stretches; {false} false stretches"
            )
        ndcg, p5, empty = search_quality(library, truth)
        print(
            f"search: nDCG@10 {ndcg:.2f}, precision@5 {p5:.2f}, no-answer queries empty {empty:.0%}"
        )
        print("themes:")
        nmi, ari, count, before = themes_agreement(library, truth)
        print(f"  {count} themes; NMI {nmi:.2f}, ARI {ari:.2f}")

        more = tmp / "more"
        more.mkdir()
        added = write_more(more, truth, rng)
        with open_library(library) as lib:
            lib.index([more])
        print(f"themes after {len(added)} more videos ({', '.join(added)}):")
        nmi, ari, count, after = themes_agreement(library, truth)
        kept = themes_kept(before, after)
        print(f"  {count} themes; NMI {nmi:.2f}, ARI {ari:.2f}; ids kept whole {kept:.0%}")

        started = time.perf_counter()
        junk = junk_moments(tmp)
        print(
            f"junk moments on {', '.join(REAL_VIDEOS)}: {len(junk)} (goal 0; indexed in "
            f"{time.perf_counter() - started:.0f} s)"
        )
        for line in junk:
            print(f"  {line}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
