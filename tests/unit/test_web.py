"""The web UI's helpers: times, sizes, snippets marked without letting markup through,
timeline marks kept apart, a long transcript segment read as sentences."""

from __future__ import annotations

from videolearn.apps.transcribe import sentences
from videolearn.extractors.speech import SpeechSegment, Word
from videolearn.types import TimeSpan
from videolearn.web.pages import LANE_PX, _lanes, _place, clock, marked, size


def test_clock_and_size_read_as_a_person_reads_them() -> None:
    assert [clock(s) for s in (0, 5.9, 65, 3600 + 61)] == ["0:00", "0:05", "1:05", "1:01:01"]
    assert [size(n) for n in (512, 2048, 200_000, 2 * 1024**3)] == [
        "512 bytes",
        "2 KiB",
        "195 KiB",
        "2 GiB",
    ]


def test_snippets_show_the_marks_search_made_and_escape_the_rest() -> None:
    assert str(marked("Welcome to the **Harbour**")) == "Welcome to the <mark>Harbour</mark>"
    assert str(marked("**ask** not **what**")) == "<mark>ask</mark> not <mark>what</mark>"
    hostile = str(marked('<script>alert("x")</script> **ferry**'))
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile
    assert hostile.endswith("<mark>ferry</mark>")
    assert str(marked("a ** b")) == "a ** b"  # unpaired: text


def test_overlapping_marks_go_to_lanes_of_their_own() -> None:
    def mark(kind: str, start_s: float, end_s: float) -> dict:
        return {"modality": kind, "start_s": start_s, **_place(start_s, end_s, 100.0)}

    events = [
        mark("sound", 10, 20),  # Music
        mark("sound", 12, 14),  # Speech under the music: a lane below it
        mark("sound", 30, 40),  # after both: back in the first lane
        mark("sound", 40, 45),  # where the one before ends: the same lane
        mark("text", 0, 50),
        mark("text", 60, 70),
    ]
    lanes = _lanes(events)
    tops = [e["top_px"] for e in events]
    assert lanes == 3
    assert tops == [3 + LANE_PX, 3 + 2 * LANE_PX, 3 + LANE_PX, 3 + LANE_PX, 3, 3]  # text above


def test_a_long_segment_reads_as_its_sentences() -> None:
    said = [
        (0.0, " We"),
        (0.4, " met."),
        (5.0, " The"),
        (5.5, " ferry"),
        (6.0, " left?"),
        (19.0, " Yes."),
    ]
    words = tuple(Word(t, t + 0.4, w, 0.9) for t, w in said)
    long = SpeechSegment(
        TimeSpan(0.0, 19.4), "We met. The ferry left? Yes.", "en", words, -0.2, False
    )
    short = SpeechSegment(TimeSpan(20.0, 23.0), "Short. Kept whole.", "de", (), -0.2, False)
    lines = sentences([long, short])
    assert [(s.span.start_s, s.span.end_s, s.text) for s in lines] == [
        (0.0, 0.8, "We met."),
        (5.0, 6.4, "The ferry left?"),
        (19.0, 19.4, "Yes."),
        (20.0, 23.0, "Short. Kept whole."),
    ]
    assert [s.language for s in lines] == ["en", "en", "en", "de"]
