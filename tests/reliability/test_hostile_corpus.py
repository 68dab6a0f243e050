"""The hostile corpus (`corpus.py`) in one folder beside good videos, indexed as a person
would: each entry gets one line with the status and the true reason expected of it, the
good files are indexed, `status` repeats each reason, nothing prints a traceback, and no
file outside the folder is read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.reliability.corpus import CORPUS, make_corpus

CLI = [sys.executable, "-m", "videolearn"]
# The extractors that decode every picture and every sound, without large models.
ENV = {
    **os.environ,
    "VIDEOLEARN_EXTRACTORS": json.dumps(
        ["file_hash", "media_info", "shots", "thumbnails", "fingerprint"]
    ),
}


def _index(*args: str | Path) -> tuple[dict[str, dict], subprocess.CompletedProcess[str]]:
    proc = subprocess.run(
        [*CLI, "index", *map(str, args), "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=ENV,
    )
    said = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return {r["path"]: r for r in said}, proc


def _check(name: str, line: dict | None, status: str, reason: tuple[str, ...]) -> list[str]:
    if line is None:
        return [f"{name}: no line"]
    said = (line.get("reason") or "").lower()
    if line["status"] != status or not all(w.lower() in said for w in reason):
        return [f"{name}: {line['status']} ({line.get('reason')}), expected {status} {reason}"]
    return []


def test_every_hostile_entry_gets_its_own_true_line(tmp_path: Path) -> None:
    folder, outside, library = tmp_path / "media", tmp_path / "outside", tmp_path / "lib"
    expected = make_corpus(folder, outside)
    assert len(CORPUS) >= 30
    said, proc = _index(folder, "--library", library)
    assert proc.returncode == 1, proc.stderr  # some files failed, the run did not
    assert "Traceback" not in proc.stderr, proc.stderr
    shown = {os.path.relpath(p, folder): r for p, r in said.items()}
    wrong = []
    for name, want in expected.items():
        if want.named:
            if name in shown:
                wrong.append(f"{name}: a folder's scan listed it")
            continue
        wrong += _check(name, shown.get(name), want.status, want.reason)
    assert not set(shown) - set(expected), set(shown) - set(expected)
    named = [folder / n for n, want in expected.items() if want.named]
    said_named, proc = _index(*named, "--library", library)
    assert "Traceback" not in proc.stderr, proc.stderr
    for path in named:
        want = expected[path.name]
        wrong += _check(path.name, said_named.get(str(path)), want.status, want.reason)
    assert not wrong, "\n".join(wrong)
    # `status` says the same of each failure; nothing beyond the folder was read.
    status = subprocess.run(
        [*CLI, "status", "--library", str(library), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    [counts] = [json.loads(line) for line in status.stdout.splitlines()]
    failed = {**{p: r for p, r in said.items() if r["status"] == "failed"}}
    failed |= {p: r for p, r in said_named.items() if r["status"] == "failed"}
    assert {f["path"]: f["reason"] for f in counts["failures"]} == {
        p: r["reason"] for p, r in failed.items()
    }
    indexed = {p for p, r in {**said, **said_named}.items() if r["status"] == "indexed"}
    assert counts["videos"]["indexed"] == len(indexed)
    assert all(Path(p).is_relative_to(folder) for p in indexed)
