"""The HTTP API against a real uvicorn server on 127.0.0.1, over a library indexed from
generated videos: the CLI's JSON shapes, range requests, tokens, limits and errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn

from videolearn.apps import tokens
from videolearn.config import Settings, load_settings
from videolearn.library import open_library
from videolearn.samples import BLUE, RED, Caption, write_captioned_video, write_video
from videolearn.server import create_app
from videolearn.serving import http_protocol

EXTRACTORS = ["file_hash", "media_info", "shots", "thumbnails", "ocr", "text_embed"]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("api")
    media = folder / "media"
    media.mkdir()
    write_captioned_video(
        media / "harbour.mp4",
        [Caption("HARBOUR FERRY", 0.0, 2.0), Caption("CITY MARKET", 2.0, 4.0)],
        4.0,
    )
    write_video(media / "colours.mp4", [(RED, 1.0), (BLUE, 1.0)])
    settings = load_settings(folder / "library", keep_versions_s=0, extractors=EXTRACTORS)
    with open_library(create=True, settings=settings) as lib:
        results = lib.index([media])
        assert [r.status for r in results] == ["indexed", "indexed"], results
    return settings


class Server:
    """A uvicorn server in a thread, on a free port of 127.0.0.1."""

    def __init__(self, settings: Settings, **app_options: bool) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(
            create_app(settings, **app_options),
            log_level="warning",
            http=http_protocol(settings.serve.max_head_bytes),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, args=([self.socket],))

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        self.client = httpx.Client(base_url=self.url, timeout=60)
        return self.client

    def __exit__(self, *_: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()


@pytest.fixture(scope="module")
def api(indexed: Settings) -> Iterator[httpx.Client]:
    with Server(indexed) as client:
        yield client


def _token(settings: Settings, name: str) -> str:
    with open_library(settings=settings) as lib:
        return tokens.create_token(lib, name).token


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "videolearn.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_status_and_videos_have_the_cli_shapes(api: httpx.Client, indexed: Settings) -> None:
    status = api.get("/api/v1/status")
    assert status.status_code == 200
    cli = json.loads(_run("status", "--library", indexed.library, "--json").stdout)
    assert status.json() == cli
    page = api.get("/api/v1/videos", params={"limit": 1}).json()
    assert page["total"] == 2 and page["offset"] == 0 and len(page["videos"]) == 1
    second = api.get("/api/v1/videos", params={"limit": 1, "offset": 1}).json()
    paths = [page["videos"][0]["path"], second["videos"][0]["path"]]
    assert [Path(p).name for p in paths] == ["colours.mp4", "harbour.mp4"]
    video_id = page["videos"][0]["video_id"]
    detail = api.get(f"/api/v1/videos/{video_id[:8]}").json()
    shown = json.loads(_run("show", video_id, "--library", indexed.library, "--json").stdout)
    assert detail == shown
    assert [m["modality"] for m in detail["moments"]].count("shot") == 2


def test_similar_and_sound_alike_answer_what_the_commands_print(
    api: httpx.Client, indexed: Settings
) -> None:
    harbour = next(
        v for v in api.get("/api/v1/videos").json()["videos"] if v["path"].endswith("harbour.mp4")
    )
    answer = api.get(f"/api/v1/videos/{harbour['video_id']}/similar").json()
    cli = _run("similar", harbour["path"], "--library", indexed.library, "--json").stdout
    assert answer == json.loads(cli)
    # The only other video (red and blue shots) has nothing in common with it: not shown.
    assert answer["results"] == []
    assert answer["query"] == [{"video_id": harbour["video_id"], "path": harbour["path"]}]
    alike = api.get(f"/api/v1/videos/{harbour['video_id']}/sound-alike")
    assert alike.status_code == 200 and alike.json() == []
    assert api.get("/api/v1/videos/" + "0" * 64 + "/similar").status_code == 404
    assert api.get(f"/api/v1/videos/{harbour['video_id']}/similar?limit=0").status_code == 400


def test_search_answers_what_search_json_prints(api: httpx.Client, indexed: Settings) -> None:
    found = api.get("/api/v1/search", params={"q": "ferry"})
    assert found.status_code == 200
    hits = found.json()
    assert hits and Path(hits[0]["path"]).name == "harbour.mp4"
    assert hits[0]["start_s"] < 2.0 and "FERRY" in hits[0]["snippet"].upper()
    cli = _run("search", "ferry", "--library", indexed.library, "--json").stdout
    assert hits == [json.loads(line) for line in cli.splitlines()]
    text_only = api.get("/api/v1/search", params={"q": "ferry", "modality": "speech"}).json()
    assert text_only == []
    every = api.get("/api/v1/search", params={"q": "market", "all": "true"}).json()
    cli = _run("search", "market", "--all", "--library", indexed.library, "--json").stdout
    assert every == [json.loads(line) for line in cli.splitlines()]
    assert any(h["start_s"] >= 1.5 and "**MARKET**" in h["snippet"] for h in every)
    # "HARBOUR FERRY" comes near "market" by meaning (relevance 5.3), far under the
    # caption that says it (6.5): not an answer beside it.
    assert all("MARKET" in h["snippet"] for h in every)


def test_bad_requests_are_named_without_a_trace(api: httpx.Client) -> None:
    for url, params, status, says in [
        ("/api/v1/search", {}, 400, "q"),
        ("/api/v1/search", {"q": "ferry", "modality": "smell"}, 400, "smell"),
        ("/api/v1/search", {"q": "ferry", "limit": "0"}, 400, "limit"),
        ("/api/v1/videos/zzzzzzzz", {}, 404, "not a video id"),
        ("/api/v1/videos/" + "0" * 64, {}, 404, "no indexed video"),
        ("/api/v1/videos/" + "0" * 64 + "/media", {}, 404, "no indexed video"),
        ("/api/v1/videos/../../etc/passwd/media", {}, 404, ""),
        ("/api/v1/nothing", {}, 404, ""),
    ]:
        answer = api.get(url, params=params)
        assert answer.status_code == status, (url, answer.text)
        assert "Traceback" not in answer.text and 'File "' not in answer.text
        if says:
            assert says in answer.json()["error"], (url, answer.text)


def test_media_is_served_with_ranges(api: httpx.Client, indexed: Settings) -> None:
    video = api.get("/api/v1/videos").json()["videos"][1]
    url = f"/api/v1/videos/{video['video_id']}/media"
    whole = Path(video["path"]).read_bytes()
    full = api.get(url)
    assert full.status_code == 200 and full.content == whole
    assert full.headers["content-type"] == "video/mp4"
    assert full.headers["accept-ranges"] == "bytes"
    part = api.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(whole)}"
    tail = api.get(url, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == whole[-100:]
    rest = api.get(url, headers={"Range": f"bytes={len(whole) - 5}-"})
    assert rest.status_code == 206 and rest.content == whole[-5:]
    beyond = api.get(url, headers={"Range": f"bytes={len(whole) + 10}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(whole)}"
    thumb = api.get(f"/api/v1/videos/{video['video_id']}/thumbnails/0.jpg")
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert api.get(f"/api/v1/videos/{video['video_id']}/thumbnails/99.jpg").status_code == 404


def _picture(jpeg: bytes) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).astype(np.float32)


def _frame_at(path: Path, time_s: float, size: tuple[int, int]) -> np.ndarray:
    """The frame shown at `time_s`, decoded from the start with PyAV, as BGR at `size`."""
    import av
    import cv2

    shown = None
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if float(frame.time or 0.0) > time_s:
                break
            shown = frame.to_ndarray(format="bgr24")
    assert shown is not None
    return cv2.resize(shown, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def test_a_moment_shows_the_frame_at_it(api: httpx.Client, indexed: Settings) -> None:
    video = next(v for v in api.get("/api/v1/videos").json()["videos"] if "harbour" in v["path"])
    url = f"/api/v1/videos/{video['video_id']}/thumbnail.jpg"
    # One shot: its thumbnail is the frame at 2 s; a caption changes there.
    early, late = api.get(url, params={"t": 0.5}), api.get(url, params={"t": 3.5})
    assert early.status_code == late.status_code == 200
    assert early.headers["content-type"] == "image/jpeg"
    picture = _picture(late.content)
    size = (picture.shape[1], picture.shape[0])
    at = _frame_at(Path(video["path"]), 3.5, size)
    before = _frame_at(Path(video["path"]), 0.5, size)
    # JPEG and scaling aside, the still is the frame at the moment, not the one before.
    assert np.abs(picture - at).mean() * 2 < np.abs(picture - before).mean()
    early_picture = _picture(early.content)
    assert np.abs(early_picture - before).mean() * 2 < np.abs(early_picture - at).mean()
    kept = indexed.library / "stills" / video["video_id"]
    assert len(list(kept.glob("*.jpg"))) == 2
    assert api.get(url, params={"t": 3.55}).content == late.content  # the same quarter second


def test_a_changed_or_escaping_file_is_not_served(indexed: Settings, tmp_path: Path) -> None:
    with open_library(settings=indexed) as lib:
        video = next(v for v in lib.store.videos() if v.path.endswith("colours.mp4"))
    outside = indexed.model_copy(
        update={"serve": indexed.serve.model_copy(update={"roots": [tmp_path]})}
    )
    with Server(outside) as client:
        refused = client.get(f"/api/v1/videos/{video.video_id}/media")
        assert refused.status_code == 404 and "serve.roots" in refused.json()["error"]
    path = Path(video.path)
    saved = path.read_bytes()
    stat = path.stat()
    try:
        path.write_bytes(saved + b"\0")  # no longer the file that was indexed
        with Server(indexed) as client:
            assert client.get(f"/api/v1/videos/{video.video_id}/media").status_code == 404
    finally:
        path.write_bytes(saved)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_writes_need_a_token_and_a_revoked_one_is_refused(
    indexed: Settings, tmp_path: Path
) -> None:
    settings = load_settings(
        tmp_path / "library",
        keep_versions_s=0,
        extractors=EXTRACTORS[:2],
        serve={"loopback_tokens": True},  # as beyond loopback
    )
    write_video(tmp_path / "a.mp4", [(RED, 1.0)])
    with open_library(create=True, settings=settings) as lib:
        [result] = lib.index([tmp_path / "a.mp4"])
    token = _token(settings, "ops")
    with Server(settings) as client:
        url = f"/api/v1/videos/{result.video_id}"
        refused = client.delete(url)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert client.delete(url, headers={"Authorization": "Bearer vl_wrong"}).status_code == 401
        assert client.get(url).status_code == 200  # reads on loopback need none
        done = client.delete(url, headers={"Authorization": f"Bearer {token}"})
        assert done.status_code == 200
        assert done.json() == {
            "video_id": result.video_id,
            "path": result.path,
            "status": "forgotten",
        }
        assert client.get(url).status_code == 404
    listed = json.loads(_run("token", "list", "--library", settings.library, "--json").stdout)
    assert listed["name"] == "ops" and listed["active"] and listed["last_used_at"]
    assert token not in _run("token", "list", "--library", settings.library).stdout
    assert _run("token", "revoke", "ops", "--library", settings.library).returncode == 0
    with Server(settings) as client:
        again = client.delete(url, headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 401


def test_on_loopback_a_person_writes_without_a_token_but_no_other_site_does(
    indexed: Settings, tmp_path: Path
) -> None:
    settings = load_settings(tmp_path / "library", keep_versions_s=0, extractors=EXTRACTORS[:2])
    files = [
        write_video(tmp_path / "a.mp4", [(RED, 1.0)]),
        write_video(tmp_path / "b.mp4", [(BLUE, 1.0)]),
        write_video(tmp_path / "c.mp4", [(RED, 0.5), (BLUE, 0.5)]),
    ]
    with open_library(create=True, settings=settings) as lib:
        ids = [r.video_id for r in lib.index(files)]
        app_token = tokens.create_token(lib, "app").token
    server = Server(settings)
    with server as client:
        # A page of another site: refused, whether its browser says so by Origin or by
        # Sec-Fetch-Site, and nothing is forgotten.
        elsewhere = {"Origin": "http://attacker.example"}
        refused = client.delete(f"/api/v1/videos/{ids[0]}", headers=elsewhere)
        assert refused.status_code == 403
        assert "another site" in refused.json()["error"]
        cross = {"Sec-Fetch-Site": "cross-site"}
        assert client.delete(f"/api/v1/videos/{ids[0]}", headers=cross).status_code == 403
        assert client.get(f"/api/v1/videos/{ids[0]}").status_code == 200
        # A client of another origin that brings a token (CORS, say) may write.
        bearer = {"Authorization": f"Bearer {app_token}", **elsewhere}
        assert client.delete(f"/api/v1/videos/{ids[2]}", headers=bearer).status_code == 200
        # The pages say so: the upload form is there, the login page says what is true.
        assert "needs a token" not in client.get("/upload").text
        assert "nothing needs a token" in client.get("/login").text
        # This server's own page, and a client that is no browser: done, no token.
        own = {"Origin": server.url, "Sec-Fetch-Site": "same-origin"}
        assert client.delete(f"/api/v1/videos/{ids[0]}", headers=own).status_code == 200
        assert client.delete(f"/api/v1/videos/{ids[1]}").status_code == 200
        assert client.get("/api/v1/videos").json()["total"] == 0
        # The audit log names who acted without a token.
        (settings.library / "policies.toml").write_text(
            '[policies.words]\naction = "review"\nterms = { words = ["zeppelin"] }\n',
            encoding="utf-8",
        )
        assert client.post("/api/v1/moderate", json={}).status_code == 200
    proc = _run("audit", "--library", settings.library, "--json")
    whos = {json.loads(line)["who"] for line in proc.stdout.splitlines()}
    assert whos == {"someone on this machine"}


def test_the_library_view_pages_sorts_and_filters(api: httpx.Client) -> None:
    listed = api.get("/api/v1/library", params={"sort": "name", "order": "asc"}).json()
    assert [Path(v["path"]).name for v in listed["videos"]] == ["colours.mp4", "harbour.mp4"]
    assert listed["total"] == 2 and listed["sort"] == "name" and listed["order"] == "asc"
    harbour = listed["videos"][1]
    assert harbour["kinds"] == ["text"] and harbour["pictures"] and harbour["duration_s"] > 3
    assert [f["videos"] for f in listed["folders"]] == [2]
    second = api.get("/api/v1/library", params={"sort": "name", "offset": 1, "limit": 1}).json()
    assert [Path(v["path"]).name for v in second["videos"]] == ["colours.mp4"]  # name, desc
    texts = api.get("/api/v1/library", params={"kind": "text"}).json()
    assert [Path(v["path"]).name for v in texts["videos"]] == ["harbour.mp4"]
    wrong = api.get("/api/v1/library", params={"sort": "colour"})
    assert wrong.status_code == 400 and "sort by one of added" in wrong.json()["error"]
    [month] = listed["months"]  # the media were written by this test run
    assert month == {"month": time.strftime("%Y-%m"), "videos": 2}
    assert api.get("/api/v1/library", params={"month": month["month"]}).json()["total"] == 2
    assert api.get("/api/v1/library", params={"month": "1999-01"}).json()["total"] == 0
    assert api.get("/api/v1/library", params={"month": "May"}).status_code == 400
    poster = api.get(f"/api/v1/videos/{harbour['video_id']}/poster.jpg")
    assert poster.status_code == 200 and poster.content[:2] == b"\xff\xd8"  # a JPEG


def test_the_video_page_lists_every_path_of_a_copy(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "library", keep_versions_s=0, extractors=EXTRACTORS[:2])
    original = write_video(tmp_path / "harbour.mp4", [(RED, 1.0)])
    copy = tmp_path / "uploads" / "ferry-trip-2024.mp4"
    copy.parent.mkdir()
    copy.write_bytes(original.read_bytes())
    with open_library(create=True, settings=settings) as lib:
        [first] = lib.index([original])
        lib.index([copy])
    with Server(settings) as client:
        page = client.get(f"/videos/{first.video_id}").text
    assert "<h1" in page and ">harbour.mp4</h1>" in page  # shown where it was
    assert f'the same file also at <span class="path">{copy}</span>' in page


def test_beyond_loopback_reads_need_a_token_too(indexed: Settings) -> None:
    token = _token(indexed, "reader")
    with Server(indexed, require_read_token=True) as client:
        assert client.get("/api/v1/status").status_code == 401
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/status", headers=bearer).status_code == 200


def test_too_many_requests_get_429(indexed: Settings) -> None:
    tight = indexed.model_copy(
        update={"serve": indexed.serve.model_copy(update={"rate_per_s": 1.0, "rate_burst": 3})}
    )
    with Server(tight) as client:
        codes = [client.get("/api/v1/status").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        limited = client.get("/api/v1/status")
        assert limited.headers["retry-after"] == "1" and "slow down" in limited.json()["error"]


def test_docs_are_served_without_a_network(api: httpx.Client) -> None:
    page = api.get("/docs")
    assert page.status_code == 200 and "cdn" not in page.text.lower()
    assets = [a.split('"')[0] for a in page.text.split('src="')[1:]]
    assert assets and all(api.get(a).status_code == 200 for a in assets if a.startswith("/"))
    spec = api.get("/openapi.json").json()
    assert "/api/v1/search" in spec["paths"] and "/api/v1/videos/{video}/media" in spec["paths"]


# Routes that answer with bytes or text rather than JSON.
NOT_JSON = {
    "/api/v1/videos/{video}/poster.jpg",
    "/api/v1/videos/{video}/media",
    "/api/v1/videos/{video}/playable",
    "/api/v1/videos/{video}/thumbnails/{number}.jpg",
    "/api/v1/videos/{video}/thumbnail.jpg",
    "/api/v1/videos/{video}/transcript.{fmt}",
    "/api/v1/jobs/{job_id}/events",
}


def test_every_json_route_documents_its_shape(api: httpx.Client) -> None:
    """`/openapi.json` names a schema for what each JSON route answers (not a bare
    object), with the fields the CLI's `--json` prints."""
    spec = api.get("/openapi.json").json()
    untyped = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            answer = next(v for k, v in operation["responses"].items() if k.startswith("2"))
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            schema = schema.get("items", schema) if schema.get("type") == "array" else schema
            if "$ref" not in schema and path not in NOT_JSON:
                untyped.append((method, path))
    assert untyped == []
    shapes = spec["components"]["schemas"]
    assert {"video_id", "path", "start_s", "end_s", "snippet", "scores"} <= set(
        shapes["MomentHit"]["properties"]
    )
    assert {"query", "duplicates", "results"} <= set(shapes["Recommendations"]["properties"])


def test_serve_command_serves_the_library(indexed: Settings) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOLEARN_")}
    command = [sys.executable, "-m", "videolearn.cli.main", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--library", str(indexed.library)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/api/v1/status", timeout=5)
                break
            except httpx.ConnectError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve exited"
                time.sleep(0.2)
        assert status.status_code == 200 and status.json()["videos"]["indexed"] == 2
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"127.0.0.1:{port}/api/v1/" in err


def test_the_stored_transcript_as_transcribe_writes_it(shared_data: Path, tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "library", extractors=["file_hash", "media_info", "speech"])
    jfk = shared_data / "speech" / "jfk.flac"
    with open_library(create=True, settings=settings) as lib:
        [result] = lib.index([jfk])
    assert result.status == "indexed", result.reason
    with Server(settings) as client:
        base = f"/api/v1/videos/{result.video_id}"
        for fmt, media_type in [("srt", "application/x-subrip"), ("vtt", "text/vtt")]:
            answer = client.get(f"{base}/transcript.{fmt}")
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith(media_type)
            made = _run("transcribe", jfk, "--format", fmt, "--library", settings.library)
            assert answer.text == made.stdout
        transcript = client.get(f"{base}/transcript").json()
        assert transcript["language"] == "en" and "country" in transcript["segments"][-1]["text"]
        assert client.get(f"{base}/transcript.doc").status_code == 404
        media = client.get(f"{base}/media", headers={"Range": "bytes=0-3"})
        assert media.status_code == 206 and media.content == b"fLaC"
        assert media.headers["content-type"] == "audio/flac"


def test_serve_refuses_a_folder_that_is_not_a_library(tmp_path: Path) -> None:
    proc = _run("serve", "--library", tmp_path / "none")
    assert proc.returncode == 2 and "not a videolearn library" in proc.stderr


def test_moderation_and_review_over_http_name_who_decided(
    indexed: Settings, tmp_path: Path
) -> None:
    import shutil

    shutil.copytree(indexed.library, tmp_path / "library")
    settings = load_settings(
        tmp_path / "library",
        keep_versions_s=0,
        extractors=EXTRACTORS,
        serve={"loopback_tokens": True},
    )
    (settings.library / "policies.toml").write_text(
        '[policies.boats]\naction = "block"\n'
        'meaning = { description = "a ferry in the harbour", min_relevance = 3.0 }\n',
        encoding="utf-8",
    )
    bearer = {"Authorization": f"Bearer {_token(settings, 'reviewer')}"}
    with Server(settings) as client:
        assert client.post("/api/v1/moderate", json={}).status_code == 401
        verdicts = client.post("/api/v1/moderate", json={}, headers=bearer).json()
        assert [(Path(v["path"]).name, v["action"]) for v in verdicts] == [("harbour.mp4", "block")]
        listed = {Path(v["path"]).name for v in client.get("/api/v1/videos").json()["videos"]}
        assert listed == {"colours.mp4"}  # held back while the verdict stands
        [item] = client.get("/api/v1/review", params={"status": "pending"}).json()
        paged = client.get("/api/v1/review", params={"limit": 10}).json()
        assert paged == [item]  # a page of the pending ones
        # The review page shows it to a person, and the video's page says it is held back.
        review_page = client.get("/review").text
        assert "harbour.mp4" in review_page and 'class="badge action-block"' in review_page
        video_page = client.get(f"/videos/{item['video_id']}").text
        assert "Held back:" in video_page and "waiting for review" in video_page
        decided = client.post(
            f"/api/v1/review/{item['id']}",
            json={"decision": "reject", "note": "a ferry is fine"},
            headers=bearer,
        ).json()
        assert decided["status"] == "rejected" and decided["decided_by"] == "reviewer"
        missing = client.post("/api/v1/review/999", json={"decision": "accept"}, headers=bearer)
        assert missing.status_code == 404 and "no review item 999" in missing.json()["error"]
        listed = {Path(v["path"]).name for v in client.get("/api/v1/videos").json()["videos"]}
        assert listed == {"colours.mp4", "harbour.mp4"}
        assert client.get("/api/v1/review", params={"limit": 10}).json() == []
        rejected = client.get("/api/v1/review", params={"status": "rejected", "limit": 10})
        assert [i["note"] for i in rejected.json()] == ["a ferry is fine"]
        assert "Held back:" not in client.get(f"/videos/{item['video_id']}").text
        log = client.get("/api/v1/audit").json()
        assert (log[-1]["what"], log[-1]["who"]) == ("decision", "reviewer")
        assert client.get("/api/v1/audit/verify").json() == {
            "ok": True,
            "rows": len(log),
            "problems": [],
        }


def test_a_title_a_person_gives_is_listed_searched_kept_and_audited(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "library", keep_versions_s=0, extractors=EXTRACTORS[:2])
    media = tmp_path / "media"
    media.mkdir()
    harbour = write_video(media / "harbour.mp4", [(RED, 1.0)])
    write_video(media / "colours.mp4", [(BLUE, 1.0)])
    with open_library(create=True, settings=settings) as lib:
        first, _ = sorted(lib.index([media]), key=lambda r: r.path, reverse=True)
    token = _token(settings, "curator")
    url = f"/api/v1/videos/{first.video_id}/title"
    with Server(settings) as client:
        named = client.put(
            url,
            json={"title": "  Zeppelin over the\nlighthouses  "},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert named.status_code == 200, named.text
        assert named.json() == {
            "video_id": first.video_id,
            "path": str(harbour),
            "title": "Zeppelin over the lighthouses",  # one line, as a person meant it
        }
        shown = client.get(f"/api/v1/videos/{first.video_id}").json()
        assert shown["title"] == "Zeppelin over the lighthouses"
        # Sorted by name, it goes by its title: after colours.mp4 from A to Z.
        listed = client.get("/api/v1/library", params={"sort": "name", "order": "asc"}).json()
        assert [v["title"] for v in listed["videos"]] == [None, "Zeppelin over the lighthouses"]
        # Found by its words, their other forms too; the whole video is the moment.
        for query in ("lighthouse", "zeppelins lighthouses", "ZEPPELIN"):
            hits = client.get("/api/v1/search", params={"q": query}).json()
            assert [(h["video_id"], h["modality"]) for h in hits] == [(first.video_id, "title")]
            assert hits[0]["start_s"] == 0.0 and "**" in hits[0]["snippet"]
        assert client.get("/api/v1/search", params={"q": "zeppelin harbour"}).json() == []
        page = client.get(f"/videos/{first.video_id}").text
        assert ">Zeppelin over the lighthouses</h1>" in page and ">harbour.mp4</p>" in page
        too_long = client.put(url, json={"title": "x" * (settings.title_max_chars + 1)})
        assert too_long.status_code == 400 and "title_max_chars" in too_long.json()["error"]
    with open_library(settings=settings) as lib:  # indexed again: the title stays
        lib.index([media])
    printed = _run("title", harbour, "--library", settings.library, "--json")
    assert json.loads(printed.stdout)["title"] == "Zeppelin over the lighthouses"
    printed = _run("audit", "--library", settings.library, "--json")
    audit = [json.loads(line) for line in printed.stdout.splitlines()]
    [entry] = [e for e in audit if e["what"] == "title"]
    assert entry["who"] == "curator" and entry["subject"] == first.video_id
    cleared = _run("title", harbour, "--clear", "--library", settings.library)
    assert cleared.returncode == 0 and "has no title" in cleared.stdout
    assert _run("title", harbour, "--library", settings.library).stdout.strip() == (
        f"{harbour} has no title"
    )
    with Server(settings) as client:
        assert client.get("/api/v1/search", params={"q": "zeppelin"}).json() == []
