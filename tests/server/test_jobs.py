"""Uploads and index jobs through a real server on 127.0.0.1: the body streamed to disk
under its limit, the job's progress as server-sent events, paths kept inside serve.roots."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.test_api import Server, _run
from videolearn.apps import tokens
from videolearn.config import Settings, load_settings
from videolearn.library import open_library
from videolearn.samples import BLUE, RED, Caption, write_captioned_video, write_video


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Settings, httpx.Client, dict[str, str], Path]]:
    roots = tmp_path / "videos"
    roots.mkdir()
    settings = load_settings(
        tmp_path / "library",
        keep_versions_s=0,
        extractors=["file_hash", "media_info", "shots"],
        serve={"roots": [roots], "upload_max_bytes": 200_000, "loopback_tokens": True},
        themes={"min_size": 2},  # two videos make themes, and a search for copies
    )
    with open_library(create=True, settings=settings) as lib:
        token = tokens.create_token(lib, "uploader").token
    with Server(settings) as client:
        yield settings, client, {"Authorization": f"Bearer {token}"}, roots


def _events(client: httpx.Client, job_id: int, auth: dict[str, str]) -> list[tuple[str, dict]]:
    events, kind = [], ""
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=auth) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        for line in answer.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    return events


def test_an_upload_is_stored_and_indexed_with_progress(
    setup: tuple[Settings, httpx.Client, dict[str, str], Path], tmp_path: Path
) -> None:
    settings, client, auth, _ = setup
    clip = write_video(tmp_path / "clip.mp4", [(RED, 1.0), (BLUE, 1.0)])
    url = "/api/v1/uploads?name=holiday clip.mp4"
    assert client.post(url, content=clip.read_bytes()).status_code == 401  # a write
    answer = client.post(url, content=clip.read_bytes(), headers=auth)
    assert answer.status_code == 201, answer.text
    stored = Path(answer.json()["path"])
    assert stored == settings.library / "uploads" / "holiday clip.mp4"
    assert stored.read_bytes() == clip.read_bytes()
    events = _events(client, answer.json()["job"]["id"], auth)
    assert events[-1][0] == "done" and [k for k, _ in events[:-1]] == ["progress"] * (
        len(events) - 1
    )
    done = events[-1][1]
    assert done["state"] == "done" and done["files_done"] == done["files_total"] == 1
    [result] = done["results"]
    assert result["status"] == "indexed" and result["path"] == str(stored)
    shown = client.get(f"/api/v1/videos/{result['video_id']}").json()
    assert [m["modality"] for m in shown["moments"]] == ["shot", "shot"]
    media = client.get(f"/api/v1/videos/{result['video_id']}/media")  # uploads are playable
    assert media.status_code == 200 and media.content == clip.read_bytes()
    assert done["after_run"] is None  # one video: no themes, no search for copies
    again = client.post(url, content=clip.read_bytes(), headers=auth).json()
    assert Path(again["path"]).name == "holiday clip-2.mp4"  # never overwrites
    # Another video makes two: the run searches them for copies after its file, and
    # says how far it got.
    other = write_video(tmp_path / "other.mp4", [(BLUE, 1.0), (RED, 1.5)])
    third = client.post(url, content=other.read_bytes(), headers=auth).json()
    finished = _events(client, third["job"]["id"], auth)[-1][1]
    assert finished["after_run"] == {"what": "finding copies", "done": 2, "total": 2}
    listed = client.get("/api/v1/jobs").json()
    assert [j["id"] for j in listed] == [third["job"]["id"], again["job"]["id"], done["id"]]


def test_uploads_over_the_limit_or_misnamed_are_refused_and_leave_nothing(
    setup: tuple[Settings, httpx.Client, dict[str, str], Path],
) -> None:
    settings, client, auth, _ = setup
    big = b"\0" * 300_000
    declared = client.post("/api/v1/uploads?name=big.mp4", content=big, headers=auth)
    assert declared.status_code == 413 and "upload_max_bytes" in declared.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(30):
            yield b"\0" * 10_000

    streamed = client.post("/api/v1/uploads?name=big.mp4", content=chunks(), headers=auth)
    assert streamed.status_code == 413 and "upload_max_bytes" in streamed.json()["error"]
    for name, says in [("notes.txt", "extension"), ("noextension", "extension"), (".mp4", "")]:
        bad = client.post(f"/api/v1/uploads?name={name}", content=b"x", headers=auth)
        assert bad.status_code == 400 and says in bad.json()["error"], (name, bad.text)
    empty = client.post("/api/v1/uploads?name=empty.mp4", content=b"", headers=auth)
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    uploads = settings.library / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_a_broken_upload_fails_its_file_with_a_reason(
    setup: tuple[Settings, httpx.Client, dict[str, str], Path],
) -> None:
    _, client, auth, _ = setup
    answer = client.post(
        "/api/v1/uploads?name=broken.mp4", content=b"not a video" * 100, headers=auth
    )
    events = _events(client, answer.json()["job"]["id"], auth)
    [result] = events[-1][1]["results"]
    assert result["status"] == "failed" and "not a media file" in result["reason"]


def test_jobs_index_only_inside_the_roots(
    setup: tuple[Settings, httpx.Client, dict[str, str], Path], tmp_path: Path
) -> None:
    _, client, auth, roots = setup
    write_video(roots / "inside.mp4", [(RED, 1.0)])
    outside = write_video(tmp_path / "outside.mp4", [(BLUE, 1.0)])
    (roots / "escape.mp4").symlink_to(outside)
    for path, says in [
        (outside, "serve.roots"),
        (roots / "escape.mp4", "serve.roots"),  # a link out of the roots is outside
        (roots / ".." / "outside.mp4", "serve.roots"),
        (roots / "missing.mp4", "no such file"),
    ]:
        refused = client.post("/api/v1/jobs", json={"paths": [str(path)]}, headers=auth)
        assert refused.status_code == 400 and says in refused.json()["error"], path
    assert client.post("/api/v1/jobs", json={"paths": []}, headers=auth).status_code == 400
    started = client.post("/api/v1/jobs", json={"paths": [str(roots / "inside.mp4")]}, headers=auth)
    assert started.status_code == 201
    events = _events(client, started.json()["id"], auth)
    assert [r["status"] for r in events[-1][1]["results"]] == ["indexed"]
    assert client.get("/api/v1/jobs/999").status_code == 404


def test_banks_hash_and_match_as_the_cli_does(
    setup: tuple[Settings, httpx.Client, dict[str, str], Path], tmp_path: Path
) -> None:
    settings, client, auth, _ = setup
    clip = write_captioned_video(tmp_path / "known.mp4", [Caption("KNOWN CONTENT", 0, 2)], 2.0)
    other = write_video(tmp_path / "other.mp4", [(BLUE, 2.0)])
    body = clip.read_bytes()
    hashed = client.post("/api/v1/hash?name=known.mp4&signal=vpdq", content=body, headers=auth)
    assert hashed.status_code == 200
    cli = _run("hash", clip, "--signal", "vpdq", "--json", "--library", settings.library)
    assert hashed.json() == [json.loads(line) for line in cli.stdout.splitlines()]
    md5 = client.post("/api/v1/hash?name=known.mp4&signal=md5", content=body, headers=auth)
    assert md5.json() == [{"signal": "md5", "hash": hashlib.md5(body).hexdigest()}]
    bad = client.post("/api/v1/hash?name=known.mp4&signal=sha1", content=body, headers=auth)
    assert bad.status_code == 400 and "'pdq', 'vpdq' or 'md5'" in bad.json()["error"]

    assert client.post("/api/v1/banks", json={"name": "KNOWN"}).status_code == 401
    made = client.post("/api/v1/banks", json={"name": "KNOWN"}, headers=auth)
    assert made.status_code == 201 and made.json() == {"bank": "KNOWN", "status": "created"}
    assert client.post("/api/v1/banks", json={"name": "bad name"}, headers=auth).status_code == 400
    added = client.post(
        "/api/v1/banks/KNOWN/signals",
        json={"signal_type": "md5", "value": hashlib.md5(body).hexdigest()},
        headers=auth,
    )
    assert added.status_code == 200 and added.json()["added"] == 1
    vpdq = "\n".join(
        f"{h['frame']},{h['quality']},{h['hash']},{h['timestamp_s']:.3f}" for h in hashed.json()
    )
    imported = client.post("/api/v1/banks/KNOWN/import?name=known.vpdq", content=vpdq, headers=auth)
    assert imported.status_code == 200, imported.text
    assert client.get("/api/v1/banks").json() == [
        json.loads(line)
        for line in _run(
            "bank", "list", "--json", "--library", settings.library
        ).stdout.splitlines()
    ]
    exported = client.get("/api/v1/banks/KNOWN/export").json()
    assert {e["signal_type"] for e in exported} == {"video_md5", "vpdq"}

    matched = client.post("/api/v1/match?name=known.mp4", content=body, headers=auth).json()
    # The MD5 matches; the generated frames are too flat for vPDQ, and the notes say so.
    assert [m["signal_type"] for m in matched["matches"]] == ["md5"]
    assert "below the vPDQ quality bar" in " ".join(matched["notes"])
    assert all(m["bank"] == "KNOWN" for m in matched["matches"])
    unknown = client.post("/api/v1/match?name=other.mp4", content=other.read_bytes(), headers=auth)
    assert unknown.json()["matches"] == []
    incoming = settings.library / "uploads" / ".incoming"
    assert list(incoming.iterdir()) == []  # nothing kept of what was hashed or matched


def test_a_file_browsers_cannot_play_gets_a_version_made_once(
    setup: tuple[Settings, httpx.Client, dict[str, str], Path],
) -> None:
    settings, client, auth, roots = setup
    mkv = write_video(roots / "clip.mkv", [(RED, 1.0), (BLUE, 1.0)])
    mp4 = write_video(roots / "clip.mp4", [(BLUE, 1.0)])
    job = client.post("/api/v1/jobs", json={"paths": [str(roots)]}, headers=auth).json()
    ids = {
        Path(r["path"]).name: r["video_id"]
        for r in _events(client, job["id"], auth)[-1][1]["results"]
    }
    as_is = client.get(f"/api/v1/videos/{ids['clip.mp4']}/playable")
    assert as_is.status_code == 200 and as_is.content == mp4.read_bytes()
    assert client.get(f"/api/v1/videos/{ids['clip.mp4']}/playable/status").json() == {
        "state": "ready",
        "plan": "as_is",
    }
    url = f"/api/v1/videos/{ids['clip.mkv']}/playable"
    first = client.get(url)
    assert first.status_code in (200, 202)
    deadline = time.monotonic() + 60
    while (status := client.get(f"{url}/status").json())["state"] == "preparing":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status == {"state": "ready", "plan": "remux"}
    made = client.get(url, headers={"Range": "bytes=4-7"})
    assert made.status_code == 206 and made.content == b"ftyp"  # an MP4
    assert made.headers["content-type"] == "video/mp4"
    kept = settings.library / "playable" / f"{ids['clip.mkv']}.mp4"
    assert kept.is_file() and mkv.read_bytes() != kept.read_bytes()
    # A browser that could not decode it as remuxed asks for it transcoded: another
    # version, made once beside the first.
    url = f"/api/v1/videos/{ids['clip.mkv']}/playable"
    deadline = time.monotonic() + 60
    while (status := client.get(f"{url}/status?transcode=true").json())["state"] == "preparing":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status == {"state": "ready", "plan": "transcode"}
    transcoded = settings.library / "playable" / f"{ids['clip.mkv']}.transcoded.mp4"
    assert client.get(f"{url}?transcode=true").content == transcoded.read_bytes()
    assert transcoded.read_bytes() != kept.read_bytes()
    assert client.delete(f"/api/v1/videos/{ids['clip.mkv']}", headers=auth).status_code == 200
    assert not kept.exists() and not transcoded.exists()  # forgotten with its video
