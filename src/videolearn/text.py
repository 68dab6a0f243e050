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
import threading
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


def reads_as_text(text: str) -> bool:
    """Whether an on-screen reading is text a person would call text: `holds_words`, and
    not a lone word of two letters in an alphabet (a reading of a texture: "Уй" on the
    printed pattern of box.mp4's box, the one such moment on the shared real videos),
    where two ideographs or syllables (Chinese, Japanese, Korean) can be a word whole
    ("大学", "出口"). Speech keeps its "Oh." and "No.": `holds_words` alone."""
    if not holds_words(text):
        return False
    tokens: list[str] = [t for t in _TOKEN.findall(text) if any(ch.isalpha() for ch in t)]
    if len(tokens) != 1 or any(ch.isdigit() for ch in text):
        return True
    letters = [ch for ch in tokens[0] if ch.isalpha()]
    return len(letters) > 2 or any(_syllabic(ch) for ch in letters)


def _syllabic(ch: str) -> bool:
    """A letter that is a word or a syllable on its own: CJK ideographs, kana, Hangul."""
    return unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL"))


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


# Each thread's stemmers by language: a Snowball stemmer keeps the word it works on in
# itself, so two threads stemming with one broke each other's words (a server's searches
# at once: "string index out of range").
_STEMMERS = threading.local()


def _stemmer(language: str) -> Any:
    """This thread's Snowball stemmer for a language (ISO 639-1), None where it has none."""
    made: dict[str, Any] = _STEMMERS.__dict__.setdefault("by_language", {})
    if language not in made:
        import snowballstemmer

        name = STOPWORD_LANGUAGES.get(language)
        known = name in snowballstemmer.algorithms()
        made[language] = snowballstemmer.stemmer(name) if known else None
    return made[language]


def stems(words: Iterable[str], language: str) -> set[str]:
    """The stems of folded words in `language` (Snowball), so that "seats" holds "seat"
    and "tickets" "ticket"; the words themselves where the language has no stemmer."""
    return set(stem_list(list(words), language))


def stem_list(words: list[str], language: str) -> list[str]:
    """`stems`, word for word in order."""
    if _stemmer(language) is None:
        return words
    return [stem_word(w, language) for w in words]


@functools.lru_cache(maxsize=1 << 16)
def stem_word(word: str, language: str) -> str:
    """A folded word's stem in `language` (Snowball: 90 us a word; words repeat)."""
    stemmer = _stemmer(language)
    return str(stemmer.stemWord(word)) if stemmer is not None else word


# Term matching (policies): what a word is spelled with when someone hides it. Digits and
# signs that stand in for letters ("k1ll", "$hit", "@ss"), and letters of Cyrillic and
# Greek that look like Latin ones ("kill" with a Ukrainian i), fold to one letter; "l", "1",
# "|" and "!" all fold to "i", as readers confuse them.
_LOOKALIKES = str.maketrans(
    {
        "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a",
        "$": "s", "!": "i", "|": "i", "l": "i",
        # Cyrillic: a, ve, ie, io, ka, em, en, o, er, es, te, u, ha, i, yi, je, dze, komi de,
        # shha, qa, we
        "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u0451": "e", "\u043a": "k", "\u043c": "m",
        "\u043d": "h", "\u043e": "o",
        "\u0440": "p", "\u0441": "c", "\u0442": "t", "\u0443": "y", "\u0445": "x", "\u0456": "i",
        "\u0457": "i", "\u0458": "j",
        "\u0455": "s", "\u0501": "d", "\u04bb": "h", "\u051b": "q", "\u051d": "w",
        # Latin script g and dotless i
        "\u0261": "g", "\u0131": "i",
        # Greek: alpha, beta, epsilon, eta, iota, kappa, nu, omicron, rho, tau, upsilon, chi,
        # omega
        "\u03b1": "a", "\u03b2": "b", "\u03b5": "e", "\u03b7": "n", "\u03b9": "i", "\u03ba": "k",
        "\u03bd": "v",
        "\u03bf": "o", "\u03c1": "p", "\u03c4": "t", "\u03c5": "u", "\u03c7": "x", "\u03c9": "w",
    }
)  # fmt: skip
# A word: letters and digits, with the signs above inside or before it ("k!ll", "$hit";
# the "!" that ends "kill!" is no part of it).
_TERM_WORD = re.compile(r"(?:[^\W_]|[@$!|](?=[^\W_]))+")
# Scripts written without spaces between words: each character is a word of its own, so a
# listed term is found inside a sentence ("杀" in "我要杀了你").
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)


def clean_text(text: str) -> str:
    """NFKC, with invisible format characters (zero-width joiners and spaces, soft
    hyphens, direction marks) dropped: what term matching reads."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def term_words(text: str, *, lookalikes: bool) -> list[tuple[str, int, int]]:
    """The words of a cleaned text (`clean_text`) for term matching: each folded as search
    folds words (case, accents, "ß"; the Turkish "İ" is "i"), with `lookalikes` folded
    too, and where it lies in the text (start, end)."""
    out: list[tuple[str, int, int]] = []
    for m in _TERM_WORD.finditer(text):
        pieces = [(m.group(), m.start())]
        if _UNSPACED.search(m.group()):
            pieces = [
                (p.group(), m.start() + p.start())
                for p in re.finditer(
                    f"{_UNSPACED.pattern}|(?:(?!{_UNSPACED.pattern}).)+", m.group()
                )
            ]
        for word, start in pieces:
            folded = fold_word(word)
            if lookalikes:
                folded = folded.translate(_LOOKALIKES)
            if folded:  # a lone combining mark folds to nothing
                out.append((folded, start, start + len(word)))
    return out


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
