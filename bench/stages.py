"""Where an index run's time goes, per stage, and what it implies for a large library.

Each default extractor is run alone beside decoding (`file_hash` and `media_info`, with
the extractors it needs: `shots` for `thumbnails` and `av_embed`; speech, on-screen text
and sound events for `text_embed`, which reads them) in a `videolearn index` process of
its own, over the shared real videos (tree.avi, vtest.avi, box.mp4, Megamind.avi: 135.5 s
of footage, speech and on-screen text among it), and again over a 2-second cut of box.mp4
with its sound (what starting the process and loading the models costs). The CPU time of
the whole process tree (the index process, its decode children and its model workers) is
read from /proc every 0.1 s, so it holds on a busy machine where wall time does not. A
stage's cost is its run's CPU less that of the run without it, over the 4 videos less
over the cut, per hour of footage; the reference, in the same run, is decoding alone
(`file_hash` and `media_info`).

It prints each stage's CPU seconds per hour of footage and its share, the models'
start-up, and what the sum implies for 1 million hours of video on 1, 10 and 100 machines
of 16 cores (CPU alone: no GPU was measured here).

    python bench/stages.py [--quick] [--workdir DIR]

`--quick` measures the stages without the large models (no speech, on-screen text, text
vectors, nudity or learned look).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from videolearn.samples import read_audio, read_frames, write_av

SHARED = Path(
    os.environ.get(
        "VIDEOLEARN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
VIDEOS = ["tree.avi", "vtest.avi", "box.mp4", "Megamind.avi"]
BASE = ["file_hash", "media_info"]
# Each stage, and what runs with it (and is taken off its cost).
STAGES: dict[str, list[str]] = {
    "shots": [],
    "thumbnails": ["shots"],
    "pdq": [],
    "vpdq": [],
    "vpdq_cropped": [],
    "vpdq_tiles": [],
    "sketch": [],
    "fingerprint": [],
    "sounds": [],
    "speech": [],
    "ocr": [],
    "text_embed": ["speech", "ocr", "sounds"],
    "nudity": [],
    "av_embed": ["shots"],
}
LARGE = {"speech", "ocr", "text_embed", "nudity", "av_embed"}
HOURS = 1_000_000
CORES = 16


def process_tree(root: int, fields: str) -> dict[int, str]:
    """`root` and every process under it, each with the text of its /proc file `fields`
    (`stat`, `status`)."""
    parents: dict[int, int] = {}
    texts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            texts[int(entry.name)] = stat if fields == "stat" else (entry / fields).read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family = {root}
    grown = True
    while grown:
        grown = False
        for pid, parent in parents.items():
            if parent in family and pid not in family:
                family.add(pid)
                grown = True
    return {pid: texts[pid] for pid in family if pid in texts}


def _tree_cpu_s(root: int, seen: dict[int, float]) -> None:
    """Add the CPU seconds so far of `root` and every process under it to `seen`."""
    tick = os.sysconf("SC_CLK_TCK")
    for pid, stat in process_tree(root, "stat").items():
        fields = stat.rsplit(")", 1)[1].split()
        seen[pid] = max(seen.get(pid, 0.0), (int(fields[11]) + int(fields[12])) / tick)


def _index_cpu_s(media: Path, library: Path, extractors: list[str]) -> float:
    """CPU seconds of a `videolearn index` of `media` into a new library at `library`."""
    shutil.rmtree(library, ignore_errors=True)
    env = {**os.environ, "VIDEOLEARN_EXTRACTORS": json.dumps(extractors)}
    command = [sys.executable, "-m", "videolearn", "index", str(media), "--library", str(library)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: dict[int, float] = {}
    while proc.poll() is None:
        _tree_cpu_s(proc.pid, seen)
        time.sleep(0.1)
    if proc.returncode != 0:
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"index with {extractors} failed ({proc.returncode}): {stderr[-2000:]}")
    return sum(seen.values())


def _duration_s(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        return float(container.duration or 0) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the stages without large models")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    stages = {s: n for s, n in STAGES.items() if not (args.quick and s in LARGE)}
    tmp = Path(tempfile.mkdtemp(dir=args.workdir))
    try:
        whole, cut = tmp / "whole", tmp / "cut"
        whole.mkdir()
        cut.mkdir()
        for name in VIDEOS:
            shutil.copy(SHARED / "video" / name, whole / name)
        box = SHARED / "video" / "box.mp4"
        frames = read_frames(box, 10, 320, 2.0)
        write_av(cut / "box-2s.mp4", frames, 10, read_audio(box)[: 2 * 16_000], 16_000)
        footage_s = sum(_duration_s(whole / name) for name in VIDEOS) - len(frames) / 10

        runs: dict[tuple[str, ...], tuple[float, float]] = {}

        def measure(extractors: list[str]) -> tuple[float, float]:
            key = tuple(sorted(extractors))
            if key not in runs:
                full = _index_cpu_s(whole, tmp / "library", [*BASE, *extractors])
                start = _index_cpu_s(cut, tmp / "library", [*BASE, *extractors])
                runs[key] = (full, start)
            return runs[key]

        base_full, base_start = measure([])
        decode_h = (base_full - base_start) / footage_s * 3600
        print(f"decoding alone (file_hash, media_info): {decode_h:,.0f} CPU s an hour of footage")
        rows = []
        for stage, with_it in stages.items():
            full, start = measure([*with_it, stage])
            less_full, less_start = measure(with_it)
            per_hour = ((full - start) - (less_full - less_start)) / footage_s * 3600
            rows.append((stage, per_hour, start - less_start))
            print(
                f"  {stage}: {per_hour:,.0f} CPU s an hour ({per_hour / decode_h:.1f}x decoding)",
                flush=True,
            )
        total = decode_h + sum(max(0.0, r[1]) for r in rows)
        print()
        print("| stage | CPU s an hour of footage | share | start-up (CPU s) |")
        print("|---|---|---|---|")
        share = decode_h / total
        print(f"| decoding (reference) | {decode_h:,.0f} | {share:.0%} | {base_start:.1f} |")
        for stage, per_hour, start in sorted(rows, key=lambda r: -r[1]):
            print(f"| {stage} | {per_hour:,.0f} | {max(0.0, per_hour) / total:.0%} | {start:.1f} |")
        print(f"| all | {total:,.0f} | 100% | |")
        cpu_hours = HOURS * total / 3600
        print()
        print(f"{HOURS:,} hours of footage: {cpu_hours:,.0f} CPU hours")
        for machines in (1, 10, 100):
            days = cpu_hours / (machines * CORES) / 24
            print(f"  on {machines} machine(s) of {CORES} cores: {days:,.1f} days")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
