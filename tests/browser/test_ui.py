"""The web UI in a real browser (Debian's Chromium through Playwright) against a real
server on 127.0.0.1: search, open a moment in the player, follow the transcript. Each
journey saves a screenshot under `tests/browser/screenshots/` (ignored by git) to look at."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.server.test_api import Server
from videolearn.apps import moderation, tokens
from videolearn.config import Settings, load_settings
from videolearn.library import open_library
from videolearn.samples import BLUE, RED, Caption, sound_effect, write_captioned_video, write_video

CHROMIUM = "/usr/bin/chromium"
IMAGES_SHOWN = "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
PLAYER_READY = (
    "() => { const v = document.getElementById('player'); return v && v.readyState >= 1; }"
)
SHOTS = Path(__file__).parent / "screenshots"
EXTRACTORS = ["file_hash", "media_info", "shots", "thumbnails", "ocr", "sounds", "speech"]
EXTRACTORS += ["text_embed"]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Settings:
    folder = tmp_path_factory.mktemp("ui")
    media = folder / "media"
    media.mkdir()
    write_captioned_video(
        media / "harbour.mp4",
        [
            Caption("HARBOUR", 0.0, 3.0),
            Caption("MARKET", 3.0, 6.0),
            Caption("TIMETABLE", 6.0, 9.0),
        ],
        9.0,
        audio=sound_effect("music", 9.0),
    )
    # Like harbour.mp4 in earnest: the same music under 9 of its 13 s (no copy: the rest
    # is silent), and a harbour said on screen.
    music = np.concatenate([sound_effect("music", 9.0), np.zeros(4 * 16_000, np.float32)])
    write_captioned_video(
        media / "ferry.mp4",
        [Caption("FERRY", 0.0, 5.0), Caption("HARBOUR", 5.0, 13.0)],
        13.0,
        audio=music,
    )
    shutil.copy(shared_data / "speech" / "jfk.flac", media / "jfk.flac")
    write_video(media / "colours.mkv", [(RED, 1.0), (BLUE, 1.0)], tone_hz=None)
    settings = load_settings(folder / "library", extractors=EXTRACTORS)
    with open_library(create=True, settings=settings) as lib:
        results = lib.index([media])
        assert [r.status for r in results] == ["indexed"] * 4, results
        # Two verdicts for a reviewer (neither a block, which would hide its video from
        # the other journeys) and a flag.
        (settings.library / "policies.toml").write_text(POLICIES, encoding="utf-8")
        report = moderation.moderate(lib, [])
    assert sorted(v.policy for v in report.verdicts) == ["markets", "patriotism", "timetables"]
    SHOTS.mkdir(exist_ok=True)
    return settings


POLICIES = """
[policies.patriotism]
action = "review"
[policies.patriotism.terms]
words = ["country"]
in = ["speech"]

[policies.timetables]
action = "review"
[policies.timetables.terms]
words = ["timetable"]
in = ["text"]

[policies.markets]
action = "flag"
[policies.markets.terms]
words = ["market"]
in = ["text"]
"""


@pytest.fixture(scope="module")
def site(library: Settings) -> Iterator[str]:
    server = Server(library)
    with server:
        yield server.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--autoplay-policy=no-user-gesture-required", "--mute-audio"],
        )
        yield chromium
        chromium.close()


PHONE = {"width": 390, "height": 844}


DESKTOP = {"width": 1100, "height": 800}


@contextmanager
def _page_at(browser: Any, viewport: dict[str, int]) -> Iterator[Any]:
    """A page in a context of its own at `viewport`'s size, closed after."""
    context = browser.new_context(viewport=viewport)
    try:
        yield context.new_page()
    finally:
        context.close()


def _phone(browser: Any) -> AbstractContextManager[Any]:
    """A page at a phone's width, closed after."""
    return _page_at(browser, PHONE)


def _fits_a_phone(p: Any, shot: str) -> None:
    """Nothing runs off the side at a phone's width; the page saved to look at."""
    width = p.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    p.screenshot(path=str(SHOTS / shot), full_page=True)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    yield page
    context.close()
    assert errors == [], errors


def test_search_then_open_a_moment_at_its_start(site: str, page: Any) -> None:
    p = page
    p.goto(f"{site}/")
    p.fill("#q", "timetable")
    p.keyboard.press("Enter")
    p.wait_for_selector(".chip")
    group = p.locator(".video").first
    assert group.locator("h2").inner_text() == "harbour.mp4"
    chip = group.locator(".chip", has=p.locator("mark")).first
    assert chip.locator("mark").first.inner_text().upper() == "TIMETABLE"
    start = float(chip.get_attribute("data-start"))
    assert 5.0 <= start <= 7.5
    thumb = chip.locator("img")
    p.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    p.screenshot(path=str(SHOTS / "search.png"), full_page=True)

    chip.click()
    p.wait_for_url("**/videos/*?t=*")
    p.wait_for_function(PLAYER_READY)
    at = p.evaluate("document.getElementById('player').currentTime")
    assert abs(at - start) < 0.3, (at, start)
    assert p.locator(".timeline .mark.text").count() >= 3
    assert p.locator(".timeline .mark.sound").count() >= 1
    p.screenshot(path=str(SHOTS / "video.png"), full_page=True)
    # Similar videos link to their own pages: the one like it, and no other.
    others = p.locator(".similar a")
    assert others.count() == 1
    name = others.first.inner_text()
    assert name == "ferry.mp4"
    others.first.click()
    p.wait_for_url("**/videos/*")
    assert p.locator("h1").inner_text() == name


def test_the_library_is_shown_sorted_and_filtered(site: str, page: Any, browser: Any) -> None:
    p = page
    p.goto(f"{site}/")
    p.wait_for_selector(".tile")
    names = [t.inner_text() for t in p.locator(".tile .title").all()]
    assert {"harbour.mp4", "ferry.mp4", "jfk.flac", "colours.mkv"} <= set(names)
    p.wait_for_function(IMAGES_SHOWN)  # every poster came
    assert p.locator(".tile", has_text="jfk.flac").locator(".sound-only").count() == 1
    assert "speech" in p.locator(".tile", has_text="jfk.flac").locator(".badges").inner_text()
    p.screenshot(path=str(SHOTS / "library.png"), full_page=True)
    p.locator(".filters summary").click()
    p.select_option("select[name=sort]", "name")
    p.select_option("select[name=order]", "asc")
    p.get_by_role("button", name="Apply").click()
    p.wait_for_url("**sort=name**")
    by_name = [t.inner_text() for t in p.locator(".tile .title").all()]
    assert by_name == sorted(by_name, key=str.lower)
    p.select_option("select[name=kind]", "speech")
    p.get_by_role("button", name="Apply").click()
    p.wait_for_url("**kind=speech**")
    assert [t.inner_text() for t in p.locator(".tile .title").all()] == ["jfk.flac"]
    p.goto(f"{site}/?folder=/nowhere")
    assert "No video here matches these filters" in p.locator(".shelf").inner_text()
    p.goto(f"{site}/")
    p.locator(".filters summary").click()
    this_month = datetime.now().strftime("%Y-%m")
    p.select_option("select[name=month]", this_month)  # a month the files are from
    p.get_by_role("button", name="Apply").click()
    p.wait_for_url(f"**month={this_month}**")
    assert f"from {this_month}" in p.locator(".shelf .hint").inner_text()
    assert p.locator(".tile").count() >= 4
    with _phone(browser) as small:
        small.goto(f"{site}/")
        small.wait_for_selector(".tile")
        small.wait_for_function(IMAGES_SHOWN)
        _fits_a_phone(small, "library-phone.png")


def test_search_filters_keep_what_a_person_asks_for(
    site: str, library: Settings, page: Any, browser: Any
) -> None:
    p = page
    p.goto(f"{site}/?q=harbour")
    p.wait_for_selector(".chip")
    assert {n.inner_text() for n in p.locator(".video h2").all()} == {"harbour.mp4", "ferry.mp4"}
    p.locator(".filters summary").click()
    p.select_option("select[name=kind]", "speech")  # harbour is written, never said
    p.get_by_role("button", name="Apply").click()
    p.wait_for_selector(".nothing")
    assert "with these filters" in p.locator(".nothing").inner_text()
    assert p.locator(".filters").get_attribute("open") is not None  # the filters stay shown
    p.select_option("select[name=kind]", "text")
    p.fill("input[name=folder]", str(library.library.parent / "media"))
    p.get_by_role("button", name="Apply").click()
    p.wait_for_selector(".chip")
    assert {c.inner_text() for c in p.locator(".chip .kind").all()} == {"text"}
    p.screenshot(path=str(SHOTS / "filters.png"), full_page=True)
    p.fill("input[name=folder]", "/nowhere")
    p.get_by_role("button", name="Apply").click()
    p.wait_for_selector(".nothing")
    p.get_by_role("link", name="search without them").click()
    p.wait_for_selector(".chip")
    # Files from tomorrow on: none yet.
    tomorrow = (datetime.now() + timedelta(days=1)).date().isoformat()
    p.goto(f"{site}/?q=harbour&after={tomorrow}")
    p.wait_for_selector(".nothing")
    with _phone(browser) as small:
        small.goto(f"{site}/?q=harbour&kind=text")
        small.wait_for_selector(".chip")
        _fits_a_phone(small, "filters-phone.png")


def test_the_transcript_follows_playback_and_seeks(site: str, page: Any) -> None:
    p = page
    p.goto(f"{site}/?q=country")
    chip = p.locator(".chip", has_text="country").first
    assert chip.locator(".kind").inner_text() == "speech"
    chip.click()
    p.wait_for_selector("#transcript .line")
    lines = p.locator("#transcript .line")
    assert lines.count() >= 1
    last = lines.nth(lines.count() - 1)
    last.focus()
    p.keyboard.press("Enter")  # keyboard alone seeks
    wanted = float(last.get_attribute("data-start"))
    p.wait_for_function(
        f"() => Math.abs(document.getElementById('player').currentTime - {wanted}) < 0.3"
    )
    p.evaluate("document.getElementById('player').play()")
    p.wait_for_selector("#transcript .line.now")
    assert p.locator("#transcript .line.now").inner_text() == last.inner_text()
    tracks = p.evaluate("document.getElementById('player').textTracks.length")
    assert tracks == 1
    assert p.locator(".transcript h2 .lang").inner_text() == "en"  # the language spoken
    p.screenshot(path=str(SHOTS / "transcript.png"), full_page=True)


def test_a_moments_link_is_copied_and_opens_there(site: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    p = context.new_page()
    p.goto(f"{site}/?q=country")
    p.locator(".chip", has_text="country").first.click()
    p.wait_for_function(PLAYER_READY)
    p.evaluate("document.getElementById('player').currentTime = 4.0")
    p.wait_for_function("() => new URL(location.href).searchParams.get('t') === '4.0'")
    p.get_by_role("button", name="Copy a link to this moment").click()
    p.wait_for_selector("#copy-link:has-text('Link copied')")
    link = p.evaluate("navigator.clipboard.readText()")
    assert link.startswith(site + "/videos/") and link.endswith("?t=4.0")
    p.goto(link)  # the link opens the player at that moment
    p.wait_for_function(PLAYER_READY)
    at = p.evaluate("document.getElementById('player').currentTime")
    assert abs(at - 4.0) < 0.3, at
    context.close()


def test_a_file_browsers_cannot_play_is_played_from_a_version_made_for_them(
    site: str, library: Settings, page: Any
) -> None:
    with open_library(settings=library) as lib:
        video = next(v for v in lib.store.videos() if v.path.endswith(".mkv"))
    p = page
    p.goto(f"{site}/videos/{video.video_id}?t=1.2")
    note = p.locator("#made-for-browsers")
    assert "copied into MP4" in note.inner_text()
    p.wait_for_function(PLAYER_READY, timeout=60_000)
    at = p.evaluate("document.getElementById('player').currentTime")
    assert abs(at - 1.2) < 0.3, at
    assert p.locator("#preparing").is_hidden()
    assert p.locator("#unplayable").is_hidden()
    p.screenshot(path=str(SHOTS / "remuxed.png"), full_page=True)


def test_readable_at_a_phone_width(site: str, browser: Any) -> None:
    with _phone(browser) as p:
        p.goto(f"{site}/?q=harbour")
        p.wait_for_selector(".chip")
        p.wait_for_function(IMAGES_SHOWN)
        _fits_a_phone(p, "phone.png")
        p.locator(".chip").first.click()  # the video page, its timeline and transcript
        p.wait_for_function(PLAYER_READY)
        _fits_a_phone(p, "phone-video.png")


def test_a_reviewer_decides_verdicts_from_their_evidence(
    site: str, page: Any, browser: Any
) -> None:
    p = page
    p.goto(f"{site}/")
    p.get_by_role("link", name="Review").click()
    p.wait_for_url("**/review")
    assert p.locator("#tab-pending .count").inner_text() == "2"
    assert p.locator("#tab-noted .count").inner_text() == "1"
    items = p.locator(".review .item")
    assert items.count() == 2  # the two `review` verdicts; the flag waits for nobody
    speech = items.filter(has_text="jfk.flac")
    assert speech.locator(".badge").inner_text() == "review"
    # Each time the word was said, at its own time (the words' times, not the segment's),
    # the word marked in what was said.
    said = speech.locator(".evidence li")
    assert said.count() == 2
    assert [m.lower() for m in said.first.locator("mark").all_inner_texts()] == ["country"] * 2
    when = [
        float(a.split("t=")[1])
        for a in said.locator(".evidence-at").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
    ]
    assert 4.5 < when[0] < 7.0 < when[1] < 10.5, when  # "your country" at 5.8 s and 10 s
    assert speech.locator(".evidence img").count() == 0  # sound only: no frame to show
    shown = items.filter(has_text="harbour.mp4")
    frame = shown.locator(".evidence img")
    p.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=frame.element_handle())
    at = float(shown.locator(".evidence-at").get_attribute("href").split("t=")[1])
    assert 5.0 <= at <= 7.5, at  # TIMETABLE is on screen from 6 s (read every second)
    p.screenshot(path=str(SHOTS / "review.png"), full_page=True)

    shown.locator("input[name=note]").fill("a timetable is fine")
    shown.get_by_role("button", name="Accept").click()
    decided = shown.locator(".decided")
    decided.wait_for(state="visible")
    assert decided.inner_text().startswith("Accepted by someone on this machine just now")
    assert "a timetable is fine" in decided.inner_text()
    assert shown.locator("form.decide").count() == 0
    speech.get_by_role("button", name="Reject").click()
    speech.locator(".decided").wait_for(state="visible")
    assert speech.locator(".decided").inner_text().startswith("Rejected by")

    p.reload()  # what was decided left the queue, and is kept under its status
    assert p.locator("#tab-pending .count").inner_text() == "0"
    assert "Nothing waits for review" in p.locator("#nothing").inner_text()
    p.locator("#tab-accepted").click()
    p.wait_for_url("**/review?status=accepted")
    kept = p.locator(".review .item")
    assert kept.count() == 1
    assert "a timetable is fine" in kept.locator(".decided").inner_text()
    # Changing one's mind stays possible: rejecting now is offered, accepting again not.
    assert kept.get_by_role("button", name="Reject").count() == 1
    assert kept.get_by_role("button", name="Accept").count() == 0
    audit = p.request.get(f"{site}/api/v1/audit").json()
    decisions = [e for e in audit if e["what"] == "decision"]
    assert [d["detail"]["status"] for d in decisions] == ["accepted", "rejected"]
    assert decisions[0]["detail"]["note"] == "a timetable is fine"

    # The evidence opens the video at that moment, where its verdict is told.
    kept.locator(".evidence-at").first.click()
    p.wait_for_url("**/videos/*?t=*")
    p.wait_for_function(PLAYER_READY)
    assert abs(p.evaluate("document.getElementById('player').currentTime") - at) < 0.3
    told = p.locator("#verdicts").inner_text()
    assert "timetables (review): accepted by someone on this machine" in told
    assert "markets (flag): flagged" in told

    with _phone(browser) as phone:
        phone.goto(f"{site}/review?status=accepted")
        phone.wait_for_function(IMAGES_SHOWN)
        _fits_a_phone(phone, "phone-review.png")


def test_beyond_loopback_a_person_logs_in_with_a_token(library: Settings, browser: Any) -> None:
    with open_library(settings=library) as lib:
        token = tokens.create_token(lib, "browser").token
    server = Server(library, require_read_token=True)
    with server:
        context = browser.new_context()
        try:
            p = context.new_page()
            p.goto(f"{server.url}/?q=harbour")
            assert "/login" in p.url
            p.fill("#token", "vl_wrong")
            p.keyboard.press("Enter")
            p.wait_for_selector(".problem")
            p.fill("#token", token)
            p.keyboard.press("Enter")
            p.wait_for_selector(".chip")
            assert p.url.endswith("/?q=harbour")
            p.locator(".chip").first.click()
            p.wait_for_function(PLAYER_READY)
        finally:
            context.close()


def test_upload_files_watch_them_indexed_and_forget_one(
    site: str, page: Any, tmp_path: Path
) -> None:
    """On loopback, one person on their own machine uploads without a token: two files
    at once, each indexed in turn; then forgets one, told first what goes."""
    clip = write_captioned_video(
        tmp_path / "lighthouse.mp4", [Caption("LIGHTHOUSE", 0.0, 2.0)], 2.0
    )
    other = write_captioned_video(tmp_path / "pier.mp4", [Caption("PIER", 0.0, 2.0)], 2.0)
    p = page
    p.goto(f"{site}/upload")
    assert p.get_by_role("link", name="log in").count() == 0
    p.set_input_files("#file", [str(clip), str(other)])
    p.get_by_role("button", name="Upload and index").click()
    p.wait_for_selector("#stage:has-text('Done.')", timeout=120_000)
    links = p.locator("#results a")
    assert [a.inner_text() for a in links.all()] == ["lighthouse.mp4", "pier.mp4"]
    p.screenshot(path=str(SHOTS / "upload.png"), full_page=True)
    links.first.click()
    p.wait_for_function(PLAYER_READY)
    assert "LIGHTHOUSE" in p.locator(".events").inner_text().upper()
    download = p.get_by_role("link", name="Download the original")
    assert download.get_attribute("download") is not None
    p.get_by_role("button", name="Forget this video…").click()
    dialog = p.locator("#forget-dialog")
    assert "Forget lighthouse.mp4?" in dialog.inner_text()
    assert "The file stays where it is" in dialog.inner_text()
    p.screenshot(path=str(SHOTS / "forget.png"))
    dialog.get_by_role("button", name="Keep it").click()  # nothing happens
    assert not dialog.is_visible()
    p.get_by_role("button", name="Forget this video…").click()
    dialog.get_by_role("button", name="Forget it").click()
    p.wait_for_selector(".notice")
    assert "lighthouse.mp4 was forgotten" in p.locator(".notice").inner_text()
    names = [t.inner_text() for t in p.locator(".tile .title").all()]
    assert "lighthouse.mp4" not in names and "pier.mp4" in names


def test_a_folder_on_the_server_is_indexed_from_the_upload_page(
    browser: Any, tmp_path: Path
) -> None:
    roots = tmp_path / "videos"
    (roots / "trip").mkdir(parents=True)
    write_video(roots / "trip" / "a.mp4", [(RED, 1.0)])
    write_video(roots / "trip" / "b.mp4", [(BLUE, 1.0)])
    settings = load_settings(
        tmp_path / "library",
        keep_versions_s=0,
        extractors=["file_hash", "media_info", "shots"],
        serve={"roots": [roots]},
    )
    with open_library(create=True, settings=settings):
        pass
    server = Server(settings)
    with server, _page_at(browser, DESKTOP) as p:
        p.goto(f"{server.url}/upload")
        p.fill("#folder", str(roots / "trip"))
        p.get_by_role("button", name="Index the folder").click()
        p.wait_for_selector("#stage:has-text('Done.')", timeout=120_000)
        names = [a.inner_text() for a in p.locator("#results a").all()]
        assert names == ["a.mp4", "b.mp4"]
        p.fill("#folder", str(tmp_path))  # outside serve.roots: refused, said why
        p.get_by_role("button", name="Index the folder").click()
        p.wait_for_selector("#stage:has-text('refused')")
        assert "not inside serve.roots" in p.locator("#stage").inner_text()


def test_keyboard_alone_finds_and_opens_a_moment(site: str, page: Any) -> None:
    p = page
    p.goto(f"{site}/")
    # The search box takes the focus as the page loads (a loaded machine gets there a
    # moment after `goto` returns; it once read "" there).
    p.wait_for_function("document.activeElement && document.activeElement.id === 'q'")
    assert p.evaluate("document.activeElement.id") == "q"
    p.keyboard.type("market")
    p.keyboard.press("Enter")
    p.wait_for_selector(".chip")
    for _ in range(10):  # Tab through the header to the first result
        p.keyboard.press("Tab")
        if p.evaluate("document.activeElement.classList.contains('chip')"):
            break
    assert p.evaluate("document.activeElement.classList.contains('chip')")
    wanted = float(p.evaluate("document.activeElement.dataset.start"))
    p.keyboard.press("Enter")
    p.wait_for_function(PLAYER_READY)
    at = p.evaluate("document.getElementById('player').currentTime")
    assert abs(at - wanted) < 0.3


SAMPLES = {
    "Megamind.avi": "video",  # MPEG-4 Part 2 and AC-3 with a corrupt packet: transcoded
    "vtest.avi": "video",  # MS-MPEG-4 v3, no sound: transcoded
    "tree.avi": "video",  # Cinepak: transcoded
    "box.mp4": "video",  # H.264 and MP3 (PyAV's decoder: mp3float): played as it is
    "jfk.flac": "speech",
    "hotwords.mp3": "speech",
    "multilingual.mp3": "speech",
}


@pytest.fixture(scope="module")
def samples_site(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    """A server over a library of every shared sample video and sound file."""
    folder = tmp_path_factory.mktemp("samples")
    media = folder / "media"
    media.mkdir()
    for name, kind in SAMPLES.items():
        shutil.copy(shared_data / kind / name, media / name)
    settings = load_settings(
        folder / "library", keep_versions_s=0, extractors=["file_hash", "media_info", "shots"]
    )
    with open_library(create=True, settings=settings) as lib:
        assert {r.status for r in lib.index([media])} == {"indexed"}
        ids = {Path(v.path).name: v.video_id for v in lib.store.videos()}
    server = Server(settings)
    with server:
        yield server.url, ids


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_shared_sample_plays(
    samples_site: tuple[str, dict[str, str]], page: Any, name: str
) -> None:
    site, ids = samples_site
    p = page
    p.goto(f"{site}/videos/{ids[name]}")
    # A version made for browsers is made while the page waits, then played.
    p.wait_for_function(PLAYER_READY, timeout=120_000)
    p.evaluate(
        "(() => { const v = document.getElementById('player'); v.muted = true; v.play(); })()"
    )
    p.wait_for_function("() => document.getElementById('player').currentTime > 0.5", timeout=60_000)
    assert p.locator("#unplayable").is_hidden()
    assert p.locator("#preparing").count() == 0 or p.locator("#preparing").is_hidden()
    if name == "box.mp4":  # H.264 and MP3 in MP4: no version made
        assert p.locator("#made-for-browsers").count() == 0
    p.screenshot(path=str(SHOTS / f"plays-{Path(name).stem}.png"), full_page=True)


def test_a_person_gives_a_video_a_title_seen_in_the_library_and_search(
    browser: Any, tmp_path: Path
) -> None:
    """On the video's page a person gives it a title: the page says it at once (the file's
    name below it), the library lists it by it, and the search finds it by its words."""
    media = tmp_path / "media"
    media.mkdir()
    write_video(media / "harbour.mp4", [(RED, 1.0), (BLUE, 1.0)])
    write_video(media / "colours.mp4", [(BLUE, 1.0), (RED, 1.0)])
    settings = load_settings(
        tmp_path / "library",
        keep_versions_s=0,
        extractors=["file_hash", "media_info", "shots", "thumbnails"],
    )
    with open_library(create=True, settings=settings) as lib:
        [harbour] = [r for r in lib.index([media]) if r.path.endswith("harbour.mp4")]
    server = Server(settings)
    with server, _page_at(browser, DESKTOP) as p:
        p.goto(f"{server.url}/videos/{harbour.video_id}")
        assert p.locator("h1").inner_text() == "harbour.mp4"
        p.get_by_role("button", name="Give it a title…").click()
        p.fill("#title-input", "Zeppelin at dawn")
        p.screenshot(path=str(SHOTS / "title.png"))
        p.get_by_role("button", name="Save").click()
        p.wait_for_function("document.querySelector('h1').textContent === 'Zeppelin at dawn'")
        assert p.locator("#file-name").inner_text() == "harbour.mp4"
        assert not p.locator("#title-form").is_visible()
        assert p.title() == "Zeppelin at dawn - videolearn"
        p.reload()  # kept
        assert p.locator("h1").inner_text() == "Zeppelin at dawn"
        p.get_by_role("button", name="Change the title…").click()
        p.fill("#title-input", "x" * (settings.title_max_chars + 5))  # cut at the limit
        assert len(p.input_value("#title-input")) == settings.title_max_chars
        p.get_by_role("button", name="Cancel").click()
        p.goto(f"{server.url}/?sort=name&order=asc")
        names = [t.inner_text() for t in p.locator(".tile .title").all()]
        assert names == ["colours.mp4", "Zeppelin at dawn"]
        p.screenshot(path=str(SHOTS / "library-titled.png"), full_page=True)
        p.goto(f"{server.url}/?q=zeppelin")
        assert [h.inner_text() for h in p.locator(".results h2").all()] == ["Zeppelin at dawn"]
        with _phone(browser) as phone:
            phone.goto(f"{server.url}/videos/{harbour.video_id}")
            phone.get_by_role("button", name="Change the title…").click()
            _fits_a_phone(phone, "title-phone.png")
        # Forgotten, it is said by the name the page showed.
        p.goto(f"{server.url}/videos/{harbour.video_id}")
        p.get_by_role("button", name="Forget this video…").click()
        p.get_by_role("button", name="Forget it").click()
        p.wait_for_url("**/?forgotten=*")
        assert "Zeppelin at dawn was forgotten" in p.locator(".notice").inner_text()
