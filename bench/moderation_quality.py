"""Policy enforcement quality on media whose content is known: precision and recall per
policy, what was missed and what was wrongly flagged.

Two parts:

- listed terms, text in (no media): ten terms in ten languages, each written the ways
  people hide a word (capitals, digits for letters, zero-width characters between its
  letters, Cyrillic letters that look like Latin ones, full-width letters, a Turkish
  dotted capital I), and sentences with innocent words that hold a listed term ("skillful"
  holds "kill", "matador" "matar"): recall over the hidden spellings, and hits on the
  innocent sentences;
- media, through `index` and `moderate` with the default extractors' readings: espeak-ng
  speech in English, German, Spanish and French with and without a listed term; captions
  with a hidden term, and with an innocent word, in ten languages; stand-ins for violent
  sounds (shots, a blast, a scream) beside everyday ones (music, a phone, speech);
  near-copies of a banked video (the shared `chair-*` family) beside the shared samples,
  which no policy may flag; and a meaning rule ("I am going to kill you") that should
  judge the spoken threats in every language and nothing else.

A case is right when the policy that should judge it does and no other does. Prints per
policy: true and false verdicts, precision and recall, and each miss and false verdict.

    python bench/moderation_quality.py [--quick] [--ocr auto|rapidocr|tesseract]
        [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from videolearn.apps.banks import add_file, create_bank
from videolearn.apps.moderation import moderate
from videolearn.apps.policies import TermMatcher
from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.samples import (
    Caption,
    read_audio,
    sound_effect,
    speak,
    write_av,
    write_captioned_video,
)

RATE = 16_000
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CHAIRS = "threatexchange/videos"

# Spoken: (language, listed term, sentences that say it, sentences that do not).
SPOKEN = {
    "en": (
        "kill you",
        ["If you come back here, I will kill you.", "Tomorrow night I am going to kill you."],
        ["The chef cooked with great skill, you know.", "We walked to the old kiln by the river."],
    ),
    "de": (
        "umbringen",
        ["Ich werde dich umbringen, wenn du zurückkommst.", "Er will seinen Nachbarn umbringen."],
        ["Wir bringen die Kinder um acht zur Schule.", "Der Zug kommt heute etwas später an."],
    ),
    "es": (
        "matar",
        ["Te voy a matar si vuelves aquí.", "Quieren matar al testigo mañana."],
        ["El matador saludó al público en la plaza.", "Vamos a la playa el domingo."],
    ),
    "fr": (
        "tuer",
        ["Je vais te tuer si tu reviens.", "Il veut tuer le témoin demain."],
        ["Le tuteur est arrivé ce matin.", "Il fait très beau aujourd'hui."],
    ),
}
# Written: (language, listed term, how a caption hides it, an innocent caption).
WRITTEN = [
    ("en", "kill", "K1LL THEM ALL", "SKILLFUL CHEF"),
    ("de", "mord", "M0RD IM PARK", "MORDSSPASS HEUTE"),
    ("es", "matar", "MAT4R YA", "EL MATADOR"),
    ("fr", "tuer", "TU3R TOUT", "LE TUTEUR"),
    ("it", "ammazzare", "AMMAZZ4RE", "UN AMMAZZACAFFE"),
    ("pt", "matar", "M@TAR AGORA", "RUA MATARAZZO"),
    ("nl", "moord", "M00RD", "MOORDRECHT STATION"),
    ("tr", "işkence", "İŞKENCE", "İŞKEMBE ÇORBASI"),
    ("ru", "убить", "УБИТЬ", "ДУБИТЬ КОЖУ"),
    ("pl", "zabić", "ZABIĆ", "ZABIEG JUTRO"),
]
# Ways people hide a word, for the text-in part.
# Latin a, e, o, p, c, x, y in both cases, and the Cyrillic letters that look like them.
_TO_CYRILLIC = str.maketrans(
    "aeopcxyAEOPCXY",
    "\u0430\u0435\u043e\u0440\u0441\u0445\u0443\u0410\u0415\u041e\u0420\u0421\u0425\u0423",
)
_LEET = str.maketrans("aeiosAEIOS", "4310$4310$")


def hidden_spellings(term: str) -> dict[str, str]:
    return {
        "capitals": term.upper(),
        "digits for letters": term.translate(_LEET),
        "zero-width between letters": "\u200b".join(term),
        "joiners between letters": "\u200d".join(term),
        "look-alike letters": term.translate(_TO_CYRILLIC),
        "full-width": "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in term),
        "title case": term.title(),
    }


INNOCENT = {
    "en": "A skillful chef fired the clay in a kiln.",
    "de": "Das war ein Mordsspaß im Park.",
    "es": "El matador saludó al público.",
    "fr": "Le tuteur est arrivé en retard.",
    "it": "Dopo cena un ammazzacaffè.",
    "pt": "Moramos na rua Matarazzo.",
    "nl": "De trein stopt in Moordrecht.",
    "tr": "Sabah işkembe çorbas\u0131 içtik.",  # dotless i
    "ru": "Мастер будет дубить кожу.",
    "pl": "Mam jutro zabieg u lekarza.",
}


def text_part() -> None:
    terms = [t for _, t, _, _ in WRITTEN]
    matcher = TermMatcher(terms, inflections=False, lookalikes=True)
    found = total = 0
    misses = []
    for language, term, _, _ in WRITTEN:
        for way, text in hidden_spellings(term).items():
            total += 1
            sentence = f"they said {text} twice"
            if term in [h.term for h in matcher.find(sentence, language)]:
                found += 1
            else:
                misses.append(f"{language} {way}: {text!r}")
    false = [(lang, h.term) for lang, s in INNOCENT.items() for h in matcher.find(s, lang)]
    print(f"terms, text in: recall {found / total:.2f} ({found}/{total} hidden spellings)")
    for miss in misses:
        print(f"  missed {miss}")
    print(f"  innocent sentences with a hit: {len(false)} of {len(INNOCENT)} {false or ''}")


POLICIES = """
[policies.spoken]
action = "review"
terms = {{ words = {spoken}, in = ["speech"], inflections = true }}

[policies.written]
action = "review"
terms = {{ words = {written}, in = ["text"] }}

[policies.violence]
action = "flag"
[policies.violence.sounds]
labels = ["Gunshot, gunfire", "Machine gun", "Explosion", "Boom", "Screaming"]
min_score = 0.5

[policies.known]
action = "block"
banks = {{ names = ["KNOWN"] }}

[policies.threat-meaning]
action = "review"
meaning = {{ description = "I am going to kill you", min_relevance = 5.0 }}
"""


def _shots(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    rng = np.random.default_rng(3)
    for at in (0.5, 1.1, 1.6, 2.8):
        part = (t >= at) & (t < at + 0.3)
        out[part] += rng.normal(0, 0.9, part.sum()) * np.exp(-(t[part] - at) / 0.04)
    return np.clip(out, -1, 1).astype(np.float32)


def _blast(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    noise = np.random.default_rng(4).normal(0, 1, t.size)
    low = np.convolve(noise, np.ones(40) / 40, mode="same")  # a muffled rumble
    out = 3 * low * np.exp(-np.maximum(t - 0.8, 0) / 0.6) * (t >= 0.8)
    return np.clip(out, -1, 1).astype(np.float32)


def _scream(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    pitch = 900 + 300 * np.sin(2 * np.pi * 6 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.clip(np.minimum(t - 0.5, 3.0 - t) * 8, 0, 1)
    return (0.4 * voice * envelope).astype(np.float32)


def write_media(folder: Path, quick: bool) -> dict[str, str]:
    """The files, and the policy each should get ("" for none)."""
    truth: dict[str, str] = {}
    frames = np.full((40, 96, 128, 3), 80, np.uint8)
    for language, (_, said, unsaid) in SPOKEN.items():
        for kind, sentences in (("term", said), ("plain", unsaid)):
            for n, sentence in enumerate(sentences[: 1 if quick else 2]):
                voice = read_audio(speak(folder / "voice.wav", sentence, language, 0.5))
                name = f"said-{language}-{kind}{n}.mp4"
                seconds = voice.size / RATE + 0.5
                frames = np.full((round(seconds * 10), 96, 128, 3), 80, np.uint8)
                write_av(folder / name, frames, 10, voice, RATE)
                truth[name] = "spoken+threat-meaning" if kind == "term" else ""
    (folder / "voice.wav").unlink(missing_ok=True)
    for language, _, hidden, innocent in WRITTEN:
        for kind, caption in (("term", hidden), ("plain", innocent)):
            name = f"shown-{language}-{kind}.mp4"
            write_captioned_video(folder / name, [Caption(caption, 0.5, 3.0, size_px=40)], 3.5)
            # A hidden threat on screen may or may not be near the meaning rule's words.
            truth[name] = "written+~threat-meaning" if kind == "term" else ""
    sounds = {
        "shots": (_shots(4.0), "violence"),
        "blast": (_blast(4.0), "violence"),
        "scream": (_scream(4.0), "violence"),
        "music": (sound_effect("music", 4.0), ""),
        "phone": (sound_effect("phone", 4.0), ""),
    }
    for label, (audio, policy) in sounds.items():
        write_av(
            folder / f"heard-{label}.mp4", np.full((40, 96, 128, 3), 60, np.uint8), 10, audio, RATE
        )
        truth[f"heard-{label}.mp4"] = policy
    chairs = ["chair-19-sd-bar", "chair-22-sd-grey-bar", "chair-22-with-small-logo-bar"]
    if not quick:
        chairs += ["chair-20-sd-bar", "chair-22-sd-sepia-bar", "chair-22-with-large-logo-bar"]
    for name in chairs:
        shutil.copy(SHARED / CHAIRS / f"{name}.mp4", folder / f"{name}.mp4")
        truth[f"{name}.mp4"] = "known"
    for name in ["box.mp4", "tree.avi"] + ([] if quick else ["vtest.avi", "Megamind.avi"]):
        shutil.copy(SHARED / "video" / name, folder / name)
        truth[name] = ""
    return truth


def media_part(workdir: Path, quick: bool, ocr: str) -> None:
    media = workdir / "media"
    media.mkdir()
    truth = write_media(media, quick)
    library = workdir / "library"
    settings = load_settings(library, keep_versions_s=0, ocr={"engine": ocr})
    started = time.perf_counter()
    with open_library(create=True, settings=settings) as lib:
        create_bank(lib, "KNOWN")
        add_file(lib, "KNOWN", SHARED / CHAIRS / "chair-orig-22-sd-bar.mp4")
        failed = [r for r in lib.index([media]) if r.status == "failed"]
    print(f"indexed {len(truth)} files in {time.perf_counter() - started:.0f} s; failed: {failed}")
    (library / "policies.toml").write_text(
        POLICIES.format(
            spoken=[t for t, _, _ in SPOKEN.values()], written=[t for _, t, _, _ in WRITTEN]
        ).replace("'", '"'),
        encoding="utf-8",
    )
    with open_library(library) as lib:
        report = moderate(lib, keep=False)
    got: dict[str, set[str]] = {}
    evidence: dict[tuple[str, str], str] = {}
    for v in report.verdicts:
        name = Path(v.path).name
        got.setdefault(name, set()).add(v.policy)
        evidence[(name, v.policy)] = "; ".join(
            f"{e.signal} {e.matched} {e.text!r}".strip() for e in v.evidence[:2]
        )
    for policy in ("spoken", "written", "violence", "known", "threat-meaning"):
        should = {n for n, p in truth.items() if policy in p.split("+")}
        either = {n for n, p in truth.items() if f"~{policy}" in p.split("+")}
        did = {n for n, ps in got.items() if policy in ps} - either
        right = should & did
        precision = len(right) / len(did) if did else 1.0
        recall = len(right) / len(should) if should else 1.0
        print(
            f"{policy:9} precision {precision:.2f} recall {recall:.2f} "
            f"({len(right)} right, {len(did - should)} wrong, {len(should - did)} missed)"
        )
        for name in sorted(should - did):
            print(f"    missed {name}")
        for name in sorted(did - should):
            print(f"    wrongly {name}: {evidence[(name, policy)]}")
    safe = [n for n, p in truth.items() if not p and n in got]
    print(
        f"files that should get no verdict: {sum(not p for p in truth.values())}, "
        f"with one: {len(safe)}{' ' + str(safe) if safe else ''} (goal 0)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer files of each kind")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the library and media")
    parser.add_argument(
        "--ocr", choices=["auto", "rapidocr", "tesseract"], default="auto", help="ocr.engine"
    )
    args = parser.parse_args()
    text_part()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(dir=args.workdir))
    try:
        media_part(workdir, args.quick, args.ocr)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
