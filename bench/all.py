"""Every benchmark in one run, and one table of what each printed: `bench/RESULTS.md`.

Runs each benchmark of this folder in turn (a process of its own, with a time cap), keeps
what it printed, and writes `bench/RESULTS.md`: when and where (the date, the commit, the
cores, the load before and after each), then a row per benchmark with its command, its
exit, how long it took, and the lines it printed that hold a ratio or a goal (each
benchmark prints its figures against a reference measured in the same run). The whole
output of each goes to `bench/results/NAME.log`.

    python bench/all.py [--quick] [--only NAME ...] [--timeout-s 7200]

`--quick` runs each benchmark's short form (minutes, not hours: the smaller libraries,
a short soak); `make bench` runs the full forms. `--only` runs the benchmarks named and
keeps the other rows of `bench/RESULTS.md` as an earlier run wrote them (each row says
when it ran and at which commit).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# name: (full arguments, quick arguments)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "ingest": ([], ["--repeats", "1"]),
    "speech": ([], ["--repeats", "1"]),
    "hashing": ([], ["--repeats", "1"]),
    "matching": ([], ["--n", "1000000", "--queries", "200"]),
    "perception": ([], ["--seconds", "20", "--repeats", "1"]),
    "learning": ([], ["--seconds", "20"]),
    "search": ([], ["--moments", "100000", "--videos", "100"]),
    "search_quality": ([], []),
    "api": (["--soak-s", "600"], ["--requests", "1000", "--soak-s", "30"]),
    "store_growth": (["--videos", "100000", "--rewrites", "200"], ["--videos", "5000"]),
    "recommend": ([], ["--videos", "1000", "--queries", "50", "--cli", "3"]),
    "same_sound": ([], ["--seeds", "2"]),
    "library_view": ([], ["--videos", "2000", "--repeats", "10"]),
    "answer_quality": ([], ["--quick"]),
    "moderate": ([], ["--quick"]),
    "moderation_quality": ([], ["--quick"]),
    "ocr_quality": ([], ["--quick"]),
    "stages": ([], ["--quick"]),
    "scale": ([], ["--quick"]),
    "index_memory": ([], ["--quick"]),
    "learn_from_words": ([], ["--quick"]),
    "seen_search": ([], []),
}
# A line worth a place in the table: a figure against its reference, or a goal.
_FIGURE = re.compile(r"ratio|goal|x realtime", re.IGNORECASE)
_ROW = re.compile(r"^\| `python bench/(?P<name>\w+)\.py")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _commit() -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    commit = found.stdout.strip() or "unknown"
    # The code measured differs from the commit's when src/ or bench/ hold changes.
    changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "src", "bench"], check=False)
    return f"{commit} with changes" if changed.returncode else commit


def _cell(text: str) -> str:
    return text.replace("|", "\\|").strip()


def _rows(results: Path) -> dict[str, str]:
    """The rows of an earlier `RESULTS.md`, by benchmark."""
    if not results.is_file():
        return {}
    found = (_ROW.match(line) for line in results.read_text().splitlines())
    return {m["name"]: m.string for m in found if m}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each benchmark's short form")
    parser.add_argument("--only", nargs="*", default=None, help="these benchmarks alone")
    parser.add_argument("--timeout-s", type=float, default=7200.0, help="a cap per benchmark")
    args = parser.parse_args()
    unknown = set(args.only or ()) - set(BENCHMARKS)
    if unknown:
        parser.error(f"no benchmark named {', '.join(sorted(unknown))}")
    logs = HERE / "results"
    logs.mkdir(exist_ok=True)
    results = HERE / "RESULTS.md"
    # With --only, the other benchmarks keep the rows an earlier run wrote (each row says
    # when and at which commit it ran).
    rows = _rows(results) if args.only else {}
    when = f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {_commit()}"
    for name, (full, quick) in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        command = [sys.executable, f"{name}.py", *(quick if args.quick else full)]
        shown = " ".join(["python", f"bench/{name}.py", *command[2:]])
        print(f"{shown} ...", flush=True)
        before, started = _load(), time.monotonic()
        try:
            done = subprocess.run(
                command,
                cwd=HERE,
                capture_output=True,
                text=True,
                timeout=args.timeout_s,
                check=False,
            )
            code, out = str(done.returncode), done.stdout + done.stderr
        except subprocess.TimeoutExpired as err:
            code = f"stopped after {args.timeout_s:.0f} s"
            out = (
                (err.stdout or b"").decode() if isinstance(err.stdout, bytes) else err.stdout or ""
            )
        seconds = time.monotonic() - started
        (logs / f"{name}.log").write_text(out)
        figures = [line for line in out.splitlines() if _FIGURE.search(line)]
        cell = "<br>".join(_cell(f) for f in figures) or "(none printed)"
        load = f"{before} / {_load()}"
        rows[name] = f"| `{shown}` | {code} | {seconds:.0f} | {when} | {load} | {cell} |"
        print(f"  exit {code}, {seconds:.0f} s, {len(figures)} figure lines", flush=True)
    lines = [
        "# Benchmark results",
        "",
        f"Last written by `python bench/all.py{' --quick' if args.quick else ''}"
        f"{' --only ' + ' '.join(args.only) if args.only else ''}` on {os.cpu_count()} cores. "
        "Each figure is as the benchmark printed it, against the reference it measured in "
        "the same run; each row says when it ran and at which commit (a row --only did not "
        "run is kept from an earlier run), and the load average "
        "(1, 5, 15 minutes) before and after it says how busy the machine was. Whole "
        "outputs: `bench/results/`.",
        "",
        "| benchmark | exit | seconds | run (date, commit) | load before / after | figures |",
        "|---|---|---|---|---|---|",
        *(rows[name] for name in BENCHMARKS if name in rows),
    ]
    results.write_text("\n".join(lines) + "\n")
    print(f"wrote {results}")


if __name__ == "__main__":
    main()
