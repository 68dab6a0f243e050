"""Where same sound is located, on generated songs whose place is known: how far the
ends of every shared stretch lie from the song's, found from each side.

Three surroundings, each over `--seeds` draws:

- `noise`: one 15 s song at random places in 30 s of low noise (0.02), three videos;
- `silence-one-side`: a 12 s song after digital silence, ending 0.5-2.5 s before one
  file's end, and in the middle of low noise in the other;
- `silence`: a 12 s song at random places in 30 s of digital silence, two videos.

It prints per surrounding the stretches found, the median and largest error of their
ends (s), how many lie more than 1 s off, and videos sharing the song that were not found.
Fingerprints only (no decoding): a second or two on 2 cores.

    python bench/same_sound.py [--seeds N]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import numpy as np

from videolearn.apps.sound import Fingerprint, FingerprintIndex
from videolearn.config import RecommendSettings
from videolearn.extractors.fingerprint import decode, fingerprint
from videolearn.samples import song

RATE = 16_000


def _print(samples: np.ndarray, name: str) -> Fingerprint:
    return Fingerprint(name, 0.0, samples.size / RATE, decode(fingerprint(samples)))


def _with_song(host: np.ndarray, music: np.ndarray, at: float) -> np.ndarray:
    host[round(at * RATE) : round(at * RATE) + music.size] += music
    return host


def noise(seed: int) -> tuple[list[np.ndarray], list[float], float]:
    rng = np.random.default_rng(seed)
    music = song(15, seed=100 + seed % 3)
    starts = [float(rng.uniform(2, 13)) for _ in range(3)]
    hosts = [rng.normal(0, 0.02, 30 * RATE).astype(np.float32) for _ in starts]
    return [_with_song(h, music, at) for h, at in zip(hosts, starts, strict=True)], starts, 15.0


def silence_one_side(seed: int) -> Iterator[tuple[list[np.ndarray], list[float], float]]:
    for gap in (0.5, 1.0, 1.5, 2.0, 2.5):
        rng = np.random.default_rng(seed)
        music = song(12, seed=70 + seed)
        at = 30 - gap - 12
        quiet = _with_song(np.zeros(30 * RATE, np.float32), music, at)
        noisy = _with_song(rng.normal(0, 0.02, 30 * RATE).astype(np.float32), music, 8.0)
        yield [quiet, noisy], [at, 8.0], 12.0


def silence(seed: int) -> tuple[list[np.ndarray], list[float], float]:
    rng = np.random.default_rng(seed)
    music = song(12, seed=80 + seed)
    starts = [float(rng.uniform(2, 16)) for _ in range(2)]
    hosts = [np.zeros(30 * RATE, np.float32) for _ in starts]
    return [_with_song(h, music, at) for h, at in zip(hosts, starts, strict=True)], starts, 12.0


def measure(cases: list[tuple[list[np.ndarray], list[float], float]]) -> str:
    settings = RecommendSettings()
    errors: list[float] = []
    missed = 0
    for sounds, starts, length in cases:
        prints = [_print(s, str(n)) for n, s in enumerate(sounds)]
        index = FingerprintIndex(prints)
        for query in range(len(prints)):
            found = dict(index.alike(prints[query], settings))
            missed += len(prints) - 1 - len(found)
            for other, stretches in found.items():
                for s in stretches:
                    for span, at in ((s.query, starts[query]), (s.other, starts[int(other)])):
                        errors += [abs(span.start_s - at), abs(span.end_s - at - length)]
    worst = np.asarray(errors).reshape(-1, 4).max(axis=1) if errors else np.zeros(0)
    return (
        f"{len(worst)} stretches; ends off by median {np.median(errors):.2f} s, max "
        f"{max(errors):.2f} s; {int((worst > 1).sum())} more than 1 s off; {missed} not found "
        "(goal: every end within 1 s, none missed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    seeds = range(args.seeds)
    print(f"noise:            {measure([noise(s) for s in seeds])}")
    print(f"silence-one-side: {measure([c for s in seeds for c in silence_one_side(s)])}")
    print(f"silence:          {measure([silence(s) for s in seeds])}")


if __name__ == "__main__":
    main()
