"""Words, for every layer: what counts as text (a transcript segment or an on-screen
reading is kept only when a person would call it text), how words are folded for
comparing (search, recommendations and themes compare them the same way), and which
words carry no meaning of their own (stop words, per language).

Seen stored before this rule: Whisper segments of "..." (ranked second for a quote they do
not hold), and rapidocr readings of "C", "8", "00", "9.0", "口" and "大" on footage with no
text in it. Short texts like these come close to every query by meaning, so they are junk
twice over.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from typing import Any

_TOKEN = re.compile(r"[^\W_]+")
_WORD = re.compile(r"\w+")


def holds_words(text: str, min_letters: int = 2, min_digits: int = 3) -> bool:
    """Whether `text` holds a word of at least `min_letters` letters (any script), or at
    least `min_digits` digits in all (a year, a time, a price)."""
    tokens: list[str] = _TOKEN.findall(text)
    if any(sum(ch.isalpha() for ch in t) >= min_letters for t in tokens):
        return True
    return sum(ch.isdigit() for t in tokens for ch in t) >= min_digits


def is_sentence(text: str) -> bool:
    """Whether `text` says something: at least two words of two letters or more (a
    caption, a spoken phrase), not a counter, a number or a single word."""
    tokens: list[str] = _TOKEN.findall(text)
    return sum(sum(ch.isalpha() for ch in t) >= 2 for t in tokens) >= 2


@functools.lru_cache(maxsize=1 << 16)
def fold_word(word: str) -> str:
    """Lower case without accents, as the full-text index compares words."""
    decomposed = unicodedata.normalize("NFKD", word.casefold().replace("ß", "ss"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words_in(text: str) -> set[str]:
    """The folded words of `text`."""
    return {fold_word(w) for w in _WORD.findall(text)}


# The languages whose stop words are known (the `stop-words` package's lists, BSD-3), by
# ISO 639-1 code.
STOPWORD_LANGUAGES = {
    "ar": "arabic", "bg": "bulgarian", "ca": "catalan", "cs": "czech", "da": "danish",
    "de": "german", "el": "greek", "en": "english", "es": "spanish", "fa": "persian",
    "fi": "finnish", "fr": "french", "he": "hebrew", "hi": "hindi", "hu": "hungarian",
    "id": "indonesian", "it": "italian", "ja": "japanese", "ko": "korean", "ms": "malaysian",
    "nl": "dutch", "no": "norwegian", "pl": "polish", "pt": "portuguese", "ro": "romanian",
    "ru": "russian", "sk": "slovak", "sv": "swedish", "tr": "turkish", "uk": "ukrainian",
    "vi": "vietnamese", "zh": "chinese",
}  # fmt: skip


@functools.cache
def stopwords(language: str) -> frozenset[str]:
    """The folded stop words of a language (ISO 639-1; none for a language not known)."""
    name = STOPWORD_LANGUAGES.get(language)
    if name is None:
        return frozenset()
    from stop_words import get_stop_words

    return frozenset(fold_word(w) for w in get_stop_words(name))


def stopwords_of(languages: Iterable[str]) -> frozenset[str]:
    """The stop words of any of `languages` (English always among them)."""
    out: set[str] = set(stopwords("en"))
    for language in languages:
        out |= stopwords(language)
    return frozenset(out)


@functools.cache
def _stemmer(language: str) -> Any:
    """Snowball's stemmer for a language (ISO 639-1), None where it has none."""
    import snowballstemmer

    name = STOPWORD_LANGUAGES.get(language)
    return snowballstemmer.stemmer(name) if name in snowballstemmer.algorithms() else None


def stems(words: Iterable[str], language: str) -> set[str]:
    """The stems of folded words in `language` (Snowball), so that "seats" holds "seat"
    and "tickets" "ticket"; the words themselves where the language has no stemmer."""
    stemmer = _stemmer(language)
    folded = list(words)
    return set(stemmer.stemWords(folded)) if stemmer is not None else set(folded)


def guess_language(words: Iterable[str]) -> str:
    """The language whose stop words a short text (a query) uses most, English unless
    another has at least two of them and more than English: "billets de la gare" is
    French, "car door" (a French and a Dutch stop word) stays English."""
    folded = list(words)
    english = sum(w in stopwords("en") for w in folded)
    best, most = "en", english
    for language in STOPWORD_LANGUAGES:
        found = sum(w in stopwords(language) for w in folded)
        if found >= 2 and found > most:
            best, most = language, found
    return best


def content_words(text: str, language: str | None = None) -> set[str]:
    """The folded words of `text` that are no stop words of English or of its language
    (guessed when not given); all its words when every one is a stop word ("the who")."""
    words = words_in(text)
    stop = stopwords_of([language or guess_language(words)])
    return (words - stop) or words
