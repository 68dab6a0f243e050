"""The web UI's helpers: times, sizes, and snippets marked without letting markup through."""

from __future__ import annotations

from videolearn.web.pages import clock, marked, size


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
