"""Policy enforcement on real media: listed words said and shown, sounds, banked copies;
verdicts read from what indexing stored, with the evidence and where it lies."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from videolearn.apps.audit import audit_log, verify_audit
from videolearn.apps.banks import add_file, create_bank
from videolearn.apps.moderation import decide, moderate, review_items
from videolearn.config import load_settings
from videolearn.errors import PolicyError
from videolearn.library import open_library
from videolearn.samples import (
    SPOKEN_PASSAGES,
    Caption,
    read_audio,
    sound_effect,
    speak,
    write_av,
    write_captioned_video,
)

CLI = [sys.executable, "-m", "videolearn"]
RATE = 16_000
WANTED = ["file_hash", "media_info", "speech", "ocr", "sounds", "text_embed", "vpdq"]
POLICIES = """
[policies.threats]
action = "review"
terms = { words = ["kill you", "burn your house"], inflections = true }

[policies.phones]
action = "flag"
sounds = { labels = ["Telephone", "Telephone bell ringing", "Ringtone"], min_score = 0.5 }

[policies.known]
action = "block"
banks = { names = ["KNOWN"] }
"""


def _voice(folder: Path, text: str, gap_s: float = 0.0) -> np.ndarray:
    return read_audio(speak(folder / "voice.wav", text, "en", gap_before_s=gap_s))


@pytest.fixture(scope="module")
def library(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("moderation")
    media = folder / "media"
    media.mkdir()
    # Said at about 3 s: a listed phrase.
    write_captioned_video(
        media / "threat-said.mp4",
        [],
        8.0,
        audio=_voice(folder, "If you come back here, I will kill you.", gap_s=3.0),
    )
    # Written on screen from 2 to 6 s, with digits for letters.
    write_captioned_video(
        media / "threat-shown.mp4", [Caption("I WILL BURN Y0UR H0USE", 2.0, 6.0, size_px=36)], 8.0
    )
    ring = np.zeros(8 * RATE, np.float32)
    ring[3 * RATE : 6 * RATE] = sound_effect("phone", 3.0)
    frames = np.full((80, 96, 128, 3), 90, np.uint8)
    write_av(media / "phone.mp4", frames, 10, ring, RATE)
    # Safe: a walk in the park said and a greeting shown.
    write_captioned_video(
        media / "safe.mp4",
        [Caption("Welcome to the Harbour", 0.0, 4.0)],
        9.0,
        audio=_voice(folder, SPOKEN_PASSAGES["en"]),
    )
    copy = shared_data / "threatexchange" / "videos" / "chair-22-sd-grey-bar.mp4"
    (media / "grey-chair.mp4").write_bytes(copy.read_bytes())
    settings = load_settings(
        folder / "library", keep_versions_s=0, extractors=WANTED, ocr={"engine": "tesseract"}
    )
    with open_library(create=True, settings=settings) as lib:
        create_bank(lib, "KNOWN")
        add_file(
            lib, "KNOWN", shared_data / "threatexchange" / "videos" / "chair-orig-22-sd-bar.mp4"
        )
        results = lib.index([media])
        assert {r.status for r in results} == {"indexed"}, results
    (folder / "library" / "policies.toml").write_text(POLICIES, encoding="utf-8")
    return folder / "library"


def _verdicts(library: Path) -> dict[tuple[str, str], dict]:
    with open_library(library) as lib:
        report = moderate(lib, keep=False)
        assert report.videos == 5 and report.policies == 3
        return {(Path(v.path).name, v.policy): v.to_json() for v in report.verdicts}


def test_each_video_gets_the_verdicts_its_signals_earn(library: Path) -> None:
    verdicts = _verdicts(library)
    assert set(verdicts) == {
        ("threat-said.mp4", "threats"),
        ("threat-shown.mp4", "threats"),
        ("phone.mp4", "phones"),
        ("grey-chair.mp4", "known"),
    }
    said = verdicts[("threat-said.mp4", "threats")]
    assert said["action"] == "review" and said["score"] == 1.0
    [evidence] = said["evidence"]
    assert evidence["signal"] == "speech" and evidence["matched"] == "kill you"
    assert "kill you" in evidence["text"].lower()
    # When "kill you" itself was said (the sentence's last words; it starts at 3 s), not
    # the whole segment.
    assert 3.5 <= evidence["start_s"] <= 5.5 and evidence["end_s"] <= 7.0, evidence
    assert evidence["end_s"] - evidence["start_s"] < 1.5, evidence
    shown = verdicts[("threat-shown.mp4", "threats")]["evidence"]
    assert {e["signal"] for e in shown} == {"text"}
    assert {e["matched"] for e in shown} == {"burn your house"}
    assert min(e["start_s"] for e in shown) <= 3.0 and max(e["end_s"] for e in shown) >= 5.0
    assert max(e["end_s"] for e in shown) <= 7.0
    phone = verdicts[("phone.mp4", "phones")]
    assert phone["action"] == "flag" and phone["score"] >= 0.5
    assert all(e["start_s"] >= 2.0 and e["end_s"] <= 7.0 for e in phone["evidence"])
    known = verdicts[("grey-chair.mp4", "known")]
    assert known["action"] == "block"
    assert {e["signal"] for e in known["evidence"]} == {"bank"}
    assert {e["text"] for e in known["evidence"]} == {"chair-orig-22-sd-bar.mp4"}


def test_the_command_line_gives_the_same_verdicts(library: Path, tmp_path: Path) -> None:
    copy = tmp_path / "library"
    shutil.copytree(library, copy)  # the command keeps what it finds
    proc = subprocess.run(
        [*CLI, "moderate", "--library", str(copy), "--json"],
        capture_output=True,
        text=True,
        timeout=280,
        check=True,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {(Path(v["path"]).name, v["policy"]): v for v in lines} == _verdicts(library)
    one = subprocess.run(
        [*CLI, "moderate", "safe.mp4", "--library", str(copy)],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
        cwd=library.parent / "media",
    )
    assert one.returncode == 0, one.stderr
    assert "1 video(s) under 3 policies: 0 with a verdict" in one.stdout


def test_a_policy_file_with_an_error_changes_nothing_and_names_its_line(
    library: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "policies.toml"
    broken.write_text(POLICIES.replace('names = ["KNOWN"]', 'names = ["UNKNOWN"]'), "utf-8")
    proc = subprocess.run(
        [*CLI, "moderate", "--library", str(library), "--policies", str(broken)],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"{broken} line 12" in proc.stderr and "no bank named UNKNOWN" in proc.stderr


def _cli(*args: str | Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, timeout=280, check=False
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    return proc


def test_verdicts_wait_for_people_once_and_a_rejection_holds(library: Path, tmp_path: Path) -> None:
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    with open_library(copy) as lib:
        first = moderate(lib, who="tester")
        assert sorted((Path(i.verdict["path"]).name, i.status) for i in first.new_items) == [
            ("grey-chair.mp4", "pending"),
            ("phone.mp4", "noted"),
            ("threat-said.mp4", "pending"),
            ("threat-shown.mp4", "pending"),
        ]
        assert moderate(lib).new_items == []  # the same evidence is kept once
        said = next(i for i in first.new_items if i.verdict["path"].endswith("threat-said.mp4"))
        decide(lib, said.id, accept=False, note="a line from a play", who="reviewer")
        assert moderate(lib).new_items == []  # rejected stays rejected
        assert [i.id for i in review_items(lib, "rejected")] == [said.id]
        assert len(review_items(lib, "pending")) == 2
        log = audit_log(lib)
        assert [e.what for e in log] == ["bank", "bank", "policies", *["verdict"] * 4, "decision"]
        assert log[-1].who == "reviewer" and log[-1].detail["note"] == "a line from a play"
        assert verify_audit(lib).ok
    # Another policy file is a change of policy: written to the log.
    (copy / "policies.toml").write_text(POLICIES.replace("min_score = 0.5", "min_score = 0.6"))
    with open_library(copy) as lib:
        moderate(lib)
        assert audit_log(lib)[-1].what == "policies"


def test_a_reviewer_accepts_and_banks_from_the_command_line(library: Path, tmp_path: Path) -> None:
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    _cli("moderate", "--library", copy)
    items = [
        json.loads(x)
        for x in _cli("review", "list", "--library", copy, "--json").stdout.splitlines()
    ]
    assert {i["status"] for i in items} == {"pending", "noted"}
    [chair] = [i for i in items if i["path"].endswith("grey-chair.mp4")]
    assert chair["action"] == "block" and chair["evidence"][0]["signal"] == "bank"
    _cli("bank", "create", "REVIEWED", "--library", copy)
    decided = _cli(
        "review",
        "decide",
        str(chair["id"]),
        "--accept",
        "--bank",
        "REVIEWED",
        "--note",
        "seen",
        "--library",
        copy,
        "--json",
    )
    assert json.loads(decided.stdout)["status"] == "accepted"
    banks = [
        json.loads(x) for x in _cli("bank", "list", "--library", copy, "--json").stdout.splitlines()
    ]
    assert next(b for b in banks if b["name"] == "REVIEWED")["entries"]["vpdq"] == 1
    wrong = _cli("review", "decide", "999", "--reject", "--library", copy, code=2)
    assert "no review item 999" in wrong.stderr
    log = [json.loads(x) for x in _cli("audit", "--library", copy, "--json").stdout.splitlines()]
    assert [e["what"] for e in log[-4:]] == ["bank", "decision", "bank", "action"]
    assert log[-1]["detail"]["bank"] == "REVIEWED"
    assert _cli("audit", "verify", "--library", copy).stdout.strip().endswith("whole")


def test_the_audit_log_refuses_changes_and_finds_them(library: Path, tmp_path: Path) -> None:
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    _cli("moderate", "--library", copy)
    database = next(copy.glob("*.sqlite"))
    with sqlite3.connect(database) as db:
        with pytest.raises(sqlite3.DatabaseError, match="only appended to"):
            db.execute("UPDATE audit_log SET who = 'someone else' WHERE id = 2")
        with pytest.raises(sqlite3.DatabaseError, match="only appended to"):
            db.execute("DELETE FROM audit_log WHERE id = 2")
        # Behind the library's back: the triggers dropped, a row changed, another deleted.
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("DROP TRIGGER audit_log_no_delete")
        db.execute("UPDATE audit_log SET who = 'someone else' WHERE id = 2")
        db.execute("DELETE FROM audit_log WHERE id = 4")
    db.close()
    found = _cli("audit", "verify", "--library", copy, code=1).stdout
    assert "row 2 was changed after it was written" in found
    assert "rows 4-4 are missing" in found and "CHANGED" in found
    doctor = json.loads(_cli("doctor", "--library", copy, "--json", code=1).stdout)
    assert "audit log: row 2 was changed after it was written" in doctor["problems"]


def test_index_judges_what_it_stores_and_the_library_when_the_rules_change(
    library: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    settings = load_settings(
        copy, keep_versions_s=0, extractors=WANTED, ocr={"engine": "tesseract"}
    )
    new = write_captioned_video(
        tmp_path / "new.mp4",
        [],
        6.0,
        audio=_voice(tmp_path, "Give me the money or I will burn your house.", gap_s=1.0),
    )
    with open_library(settings=settings) as lib:
        [result] = lib.index([new])
        assert result.status == "indexed", result
        pending = {Path(i.verdict["path"]).name for i in review_items(lib, "pending")}
        # The new video, and (never judged whole before) the library's others.
        assert pending == {"new.mp4", "threat-said.mp4", "threat-shown.mp4", "grey-chair.mp4"}
        before = len(audit_log(lib))
    # Changed rules: the next run judges the library again, and the log says so.
    (copy / "policies.toml").write_text(
        POLICIES + '\n[policies.money]\naction = "flag"\n'
        'terms = { words = ["give me the money"] }\n'
    )
    with open_library(settings=settings) as lib:
        lib.index([new])
        log = audit_log(lib)[before:]
        assert [e.what for e in log] == ["policies", "verdict"]
        assert log[1].detail["policy"] == "money"
    # A policy file with an error: the file is stored, failed with the reason, and
    # judged by the next run once the file is mended.
    (copy / "policies.toml").write_text(POLICIES.replace('action = "flag"', 'action = "note"'))
    other = write_captioned_video(
        tmp_path / "other.mp4", [], 4.0, audio=_voice(tmp_path, "I will kill you.", gap_s=0.5)
    )
    with open_library(settings=settings) as lib:
        [failed] = lib.index([other])
        assert failed.status == "failed"
        assert "moderation" in failed.reason and "policies.toml line" in failed.reason
    (copy / "policies.toml").write_text(POLICIES)
    with open_library(settings=settings) as lib:
        [again] = lib.index([other])
        assert again.status == "unchanged"  # stored before; judged at the run's end
        assert "other.mp4" in {Path(i.verdict["path"]).name for i in review_items(lib, "pending")}


def test_a_blocked_video_is_left_out_until_its_verdict_is_rejected(
    library: Path, tmp_path: Path
) -> None:
    from videolearn.apps.catalog import list_videos, show
    from videolearn.apps.search import search_moments

    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    (copy / "policies.toml").write_text(POLICIES.replace('"review"', '"block"'), "utf-8")
    with open_library(copy) as lib:

        def shown() -> tuple[set[str], set[str]]:
            found = {Path(h.path).name for h in search_moments(lib, "kill you")}
            listed = {Path(v.path).name for v in list_videos(lib).videos}
            return found, listed

        found, listed = shown()
        assert "threat-said.mp4" in found and len(listed) == 5
        report = moderate(lib)
        blocked = {Path(i.verdict["path"]).name for i in report.new_items if i.action == "block"}
        assert blocked == {"threat-said.mp4", "threat-shown.mp4", "grey-chair.mp4"}
        found, listed = shown()
        assert found == set() and listed == {"phone.mp4", "safe.mp4"}
        # A reviewer still sees it, with why it is held back.
        held = show(lib, str(library.parent / "media" / "threat-said.mp4"))
        assert [(r["action"], r["status"]) for r in held.review] == [("block", "pending")]
        said = next(i for i in report.new_items if i.verdict["path"].endswith("threat-said.mp4"))
        decide(lib, said.id, accept=False, note="a quote")
        found, listed = shown()
        assert "threat-said.mp4" in found and listed == {"phone.mp4", "safe.mp4", "threat-said.mp4"}


class _Receiver(BaseHTTPRequestHandler):
    """Answers 503 to the first post, 200 after; keeps what it was sent."""

    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(json.loads(body))
        self.send_response(503 if len(self.received) == 1 else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_policys_webhook_gets_each_new_verdict_retried_and_logged(
    library: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/verdicts"
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    policies = POLICIES.replace(
        'action = "flag"\n', f'action = "flag"\nwebhook = "{url}"\n'
    ).replace('action = "block"\n', f'action = "block"\nwebhook = "{dead}"\n')
    (copy / "policies.toml").write_text(policies, "utf-8")
    settings = load_settings(
        copy, moderation={"webhook_retry_s": 0.2, "webhook_attempts": 3, "webhook_grace_s": 20}
    )
    try:
        with open_library(settings=settings) as lib:
            report = moderate(lib)
            phone = next(i for i in report.new_items if i.policy == "phones")
            # Refused once, then taken: the same verdict twice.
            assert [r["item"] for r in _Receiver.received] == [phone.id, phone.id]
            assert _Receiver.received[-1]["policy"] == "phones"
            assert _Receiver.received[-1]["evidence"][0]["signal"] == "sound"
            deliveries = [e.detail for e in audit_log(lib) if e.what == "delivery"]
            by_url = {u: [d["outcome"] for d in deliveries if d["url"] == u] for u in (url, dead)}
            assert by_url[url] == ["failed, to be tried again", "delivered"]
            assert by_url[dead] == ["failed, to be tried again"] * 2 + ["given up"]
            assert verify_audit(lib).ok
            assert moderate(lib).new_items == []  # nothing new: nothing posted again
            assert len(_Receiver.received) == 2
    finally:
        server.shutdown()
        server.server_close()


def test_an_allow_list_clears_a_match_and_a_switched_off_entry_matches_nothing(
    library: Path, tmp_path: Path, shared_data: Path
) -> None:
    from videolearn.apps.banks import bank_entries, switch_entry

    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    original = shared_data / "threatexchange" / "videos" / "chair-orig-22-sd-bar.mp4"

    def known() -> set[str]:
        with open_library(copy) as lib:
            return {
                Path(v.path).name for v in moderate(lib, keep=False).verdicts if v.policy == "known"
            }

    assert known() == {"grey-chair.mp4"}
    with open_library(copy) as lib:
        entries = bank_entries(lib, "KNOWN")  # the file's MD5 and its vPDQ signals
        for entry in entries:
            switch_entry(lib, entry.id, enabled=False)
        assert {e.enabled for e in bank_entries(lib, "KNOWN")} == {False}
    assert known() == set()  # matched again without them: nothing
    with open_library(copy) as lib:
        for entry in entries:
            switch_entry(lib, entry.id, enabled=True)
        assert {e.what for e in audit_log(lib)[-len(entries) :]} == {"bank"}
    assert known() == {"grey-chair.mp4"}
    # The same clip, known to be safe: its match clears the other bank's.
    with open_library(copy) as lib:
        create_bank(lib, "SAFE", allow=True)
        add_file(lib, "SAFE", original)
    assert known() == set()
    (copy / "policies.toml").write_text(POLICIES.replace('["KNOWN"]', '["KNOWN", "SAFE"]'))
    with open_library(copy) as lib, pytest.raises(PolicyError, match="SAFE is an allow list"):
        moderate(lib)


def test_a_meaning_rule_finds_what_is_said_in_other_words_and_nothing_else(
    library: Path, tmp_path: Path
) -> None:
    from videolearn.apps.policies import load_policies

    path = tmp_path / "policies.toml"
    path.write_text(
        '[policies.outings]\naction = "flag"\n'
        'meaning = { description = "a sunny day out in the park", min_relevance = 5.0 }\n',
        "utf-8",
    )
    with open_library(library) as lib:
        report = moderate(lib, policies=load_policies(path), keep=False)
    [verdict] = report.verdicts
    assert Path(verdict.path).name == "safe.mp4"
    said = [e for e in verdict.evidence if e.signal == "meaning"]
    assert said and all("park" in e.text.lower() for e in said)
    assert all(e.matched == "speech: a sunny day out in the park" for e in said)
