"""Memory of a long `index` run: does what the run holds grow with the files it has done?

Generates `--files` short videos (`--seconds` each, 640x360: a caption that changes from
video to video over a drifting gradient, a song of its own, and a spoken sentence when
espeak-ng is installed) and indexes them with the default extractors in one `videolearn
index --json` process, as a person indexes a folder. While it runs, the resident memory
(VmRSS) of the whole process tree (the index process, its decode children and its model
workers) and of the index process alone is read from /proc every 0.2 s, against the files
done so far (each file's line comes as soon as it is done).

The reference, in the same run: the largest resident memory over the files after the first
`--warm` (the models loaded, the first files through). The figure: the largest over the
last tenth of the files, as a ratio to it. Goal: under 1.10 (grows by under 10%). What the
run holds after its files (the hooks' work over the library, its maintenance) is printed
apart.

    python bench/index_memory.py [--files 300] [--seconds 8] [--warm 20] [--quick]
        [--workdir DIR]

`--quick`: 40 files, 10 of them to warm up.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from stages import process_tree
from videolearn.samples import Caption, read_audio, song, speak, write_captioned_video

PLACES = ["Harbour", "Market", "Station", "Museum", "Bridge", "Garden", "Castle", "Beach"]


def _tree_rss_mb(root: int) -> tuple[float, float]:
    """Resident MiB of `root` and every process under it, and of `root` alone."""
    rss: dict[int, float] = {}
    for pid, status in process_tree(root, "status").items():
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss[pid] = float(fields.get("VmRSS", "0 kB").split()[0]) / 1024
    return sum(rss.values()), rss.get(root, 0.0)


def _write_media(folder: Path, files: int, seconds: float) -> None:
    spoken = shutil.which("espeak-ng") is not None
    for n in range(files):
        place = PLACES[n % len(PLACES)]
        audio = 0.4 * song(seconds, seed=n)
        if spoken:
            said = read_audio(speak(folder / f"said-{n}.wav", f"Welcome to the {place} number {n}"))
            (folder / f"said-{n}.wav").unlink()
            audio[: min(len(said), len(audio))] += said[: len(audio)]
        caption = Caption(f"{place.upper()} {n}", 0.5, seconds - 0.5, x=0.1, y=0.4, size_px=48)
        write_captioned_video(folder / f"clip-{n:04d}.mp4", [caption], seconds, audio=audio, seed=n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warm", type=int, default=20, help="files before the reference")
    parser.add_argument("--quick", action="store_true", help="40 files, 10 to warm up")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.files, args.warm = 40, 10
    if args.files < 2 * args.warm:
        parser.error("--files must be at least twice --warm")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        media, library = Path(tmp) / "media", Path(tmp) / "library"
        media.mkdir()
        started = time.perf_counter()
        _write_media(media, args.files, args.seconds)
        written_s = time.perf_counter() - started
        print(f"{args.files} videos of {args.seconds:.0f} s written in {written_s:.0f} s")
        command = [sys.executable, "-m", "videolearn", "index", str(media)]
        command += ["--library", str(library), "--json"]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        done = [0]

        def count() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("{"):
                    done[0] += 1

        reader = threading.Thread(target=count, daemon=True)
        reader.start()
        samples: list[tuple[int, float, float]] = []  # (files done, tree MiB, index MiB)
        started = time.perf_counter()
        while proc.poll() is None:
            tree, own = _tree_rss_mb(proc.pid)
            samples.append((done[0], tree, own))
            time.sleep(0.2)
        reader.join(timeout=10)
        if proc.returncode not in (0, 1):
            stderr = proc.stderr.read() if proc.stderr else ""
            raise SystemExit(f"index exited {proc.returncode}: {stderr[-2000:]}")
        elapsed = time.perf_counter() - started
        print(
            f"indexed {done[0]} of {args.files} files in {elapsed:.0f} s (exit {proc.returncode})"
        )
        last = args.files - max(1, args.files // 10)
        for column, what in ((1, "process tree"), (2, "index process")):
            warm = max((s[column] for s in samples if args.warm <= s[0] < last), default=0.0)
            end = max((s[column] for s in samples if last <= s[0] < args.files), default=0.0)
            first = max((s[column] for s in samples if s[0] < args.warm), default=0.0)
            after = max((s[column] for s in samples if s[0] >= args.files), default=0.0)
            ratio = end / warm if warm else float("nan")
            print(
                f"{what}: resident {first:,.0f} MiB over the first {args.warm} files, "
                f"{warm:,.0f} MiB over files {args.warm + 1}-{last}, {end:,.0f} MiB over the "
                f"last {args.files - last}: ratio {ratio:.3f} (goal: under 1.10); "
                f"after the files (the run's hooks and maintenance) {after:,.0f} MiB"
            )


if __name__ == "__main__":
    main()
