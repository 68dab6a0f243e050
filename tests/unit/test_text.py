"""What counts as words: the rule transcripts and on-screen readings are kept by."""

from __future__ import annotations

import pytest

from videolearn.text import holds_words


@pytest.mark.parametrize(
    "text",
    ["Oh.", "GRANDMA'S 80TH BIRTHDAY", "Straße", "12:30", "2019", "大学", "€ 4,99", "ok"],
)
def test_text_a_person_would_call_text_is_kept(text: str) -> None:
    assert holds_words(text)


@pytest.mark.parametrize("text", ["...", "C", "8", "00", "9.0", "口", "大", " - ", "O)", ""])
def test_marks_and_stray_characters_are_not(text: str) -> None:
    assert not holds_words(text)
