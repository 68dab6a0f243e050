"""What counts as words, for every layer: a transcript segment or an on-screen reading is
kept only when a person would call it text.

Seen stored before this rule: Whisper segments of "..." (ranked second for a quote they do
not hold), and rapidocr readings of "C", "8", "00", "9.0", "口" and "大" on footage with no
text in it. Short texts like these come close to every query by meaning, so they are junk
twice over.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[^\W_]+")


def holds_words(text: str, min_letters: int = 2, min_digits: int = 3) -> bool:
    """Whether `text` holds a word of at least `min_letters` letters (any script), or at
    least `min_digits` digits in all (a year, a time, a price)."""
    tokens: list[str] = _TOKEN.findall(text)
    if any(sum(ch.isalpha() for ch in t) >= min_letters for t in tokens):
        return True
    return sum(ch.isdigit() for t in tokens for ch in t) >= min_digits
