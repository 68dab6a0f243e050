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


# On-screen readings mended with the words of the languages a library is likely to show.
# OCR engines drop accents ("Dzien dobry, prosze wejsc" for "Dzień dobry, proszę wejść")
# and read some letters as others that look alike: "StraBe", "cæur", "0slo", and "¡"
# before a word as "i" ("iMañana"). A word read is mended to the likeliest word it may
# stand for in the line's language, one that differs from it only by accents added to
# plain letters and such look-alikes, in at most `MAX_MENDED_LETTERS` letters, when the
# language does not know the word read or that word is `MEND_MARGIN` (Zipf) likelier
# than it: people write "dzien" for "dzień" online, so the lists hold both. The line's
# languages are those whose word frequencies explain its known words within
# `LINE_MARGIN` of the best (English words are in every list, rarer than in English);
# lines with none of its words known, or more than `MAX_LINE_LANGUAGES` languages that
# fit, are left as read, as are words a mending would drop or swap an accent of
# ("Reykjavík"). Word lists: wordfreq's small ones (Zipf frequency at least about 3),
# where German spells ß "ss".
MAX_MENDED_LETTERS = 2
MEND_MARGIN = 1.0
LINE_MARGIN = 2.0
MAX_LINE_LANGUAGES = 3
# Glyphs read for a letter: (what the engine read, what was shown).
_READ_FOR = {("b", "ß"), ("æ", "œ"), ("0", "o")}
_LONGEST = 32  # bytes of a word kept in the lists


@functools.cache
def _reading_class(ch: str) -> str:
    """What a reading of `ch` may stand for, as one letter: itself lower-cased without its
    accent (ü, ú and u: u; ł: l), B for ß too, æ for œ, o for a zero."""
    low = ch.lower()
    shape = {"ß": "b", "œ": "æ", "0": "o", "ł": "l", "ø": "o", "\u0131": "i", "đ": "d"}.get(low)
    if shape is not None:
        return shape
    base = "".join(c for c in unicodedata.normalize("NFKD", low) if not unicodedata.combining(c))
    return base if len(base) == 1 else low


def _reading_key(word: str) -> str:
    return "".join(_reading_class(ch) for ch in word)


class Lexicon:
    """The words of some languages (ISO 639-1 codes wordfreq has lists for), each with its
    Zipf frequency in each, in sorted arrays (about 25 MB for fourteen languages), and per
    reading key the likeliest word it may stand for."""

    def __init__(self, languages: Iterable[str]) -> None:
        import numpy as np
        from wordfreq import get_frequency_dict, get_frequency_list

        self.languages = tuple(languages)
        spelled, columns, zipfs = [], [], []
        for n, language in enumerate(self.languages):
            listed = {
                encoded: frequency
                for word, frequency in get_frequency_dict(language, wordlist="small").items()
                if len(encoded := word.encode()) <= _LONGEST  # longer ones: never mended to
            }
            spelled += list(listed)
            columns.append(np.full(len(listed), n, np.int64))
            zipfs.append(np.log10(np.fromiter(listed.values(), np.float64, len(listed))) + 9)
        self.words, row = np.unique(np.array(spelled, f"S{_LONGEST}"), return_inverse=True)
        self.zipfs = np.zeros((len(self.words), len(self.languages)), np.uint8)
        if spelled:
            zipf = np.clip(np.round(10 * np.concatenate(zipfs)), 1, 255).astype(np.uint8)
            self.zipfs[row, np.concatenate(columns)] = zipf
        # wordfreq keeps every list it read (about 150 MB for fourteen): these arrays hold
        # what is needed of them.
        get_frequency_dict.cache_clear()
        get_frequency_list.cache_clear()
        words = [bytes(w).decode(errors="replace") for w in self.words]
        # Per reading key that is no word itself spelled so, the likeliest word it stands for.
        classes = {ch: _reading_class(ch) for ch in set("".join(words))}
        table = str.maketrans({ch: c for ch, c in classes.items() if len(c) == 1})
        best: dict[str, tuple[int, int]] = {}
        top = self.zipfs.max(axis=1) if words else np.zeros(0, np.uint8)
        for at, word in enumerate(words):
            key = word.translate(table)
            if key != word and (key not in best or best[key][0] < top[at]):
                best[key] = (int(top[at]), at)
        order = sorted(best)
        self.keys = np.array([k.encode() for k in order], f"S{_LONGEST}")
        self.key_rows = np.array([best[k][1] for k in order], np.int64)

    def _row(self, word: str) -> int:
        import numpy as np

        wanted = word.lower().encode()
        if len(wanted) > _LONGEST:  # no list word is so long (numpy would cut it to one)
            return -1
        at = int(np.searchsorted(self.words, wanted))
        return at if at < len(self.words) and self.words[at] == wanted else -1

    def zipf(self, word: str) -> Any:
        """A word's Zipf frequency in each language (zeros where unknown)."""
        import numpy as np

        at = self._row(word)
        return self.zipfs[at] / 10 if at >= 0 else np.zeros(len(self.languages))

    def _spelled(self, key: str) -> str | None:
        import numpy as np

        wanted = key.encode()
        if len(wanted) > _LONGEST:
            return None
        at = int(np.searchsorted(self.keys, wanted))
        if at < len(self.keys) and self.keys[at] == wanted:
            return bytes(self.words[self.key_rows[at]]).decode()
        return None

    def mend(self, text: str) -> str:
        """`text` as read, each word mended where it stands for another (see above)."""

        words = _WORD.findall(text)
        named = [w for w in words if len(w) >= 2 and not w.isdigit()]
        known = [z for w in named if (z := self.zipf(w)).any()]
        if not known:
            return text  # nothing to tell the line's language by
        fit = sum(z - z.max() for z in known)
        line = fit >= fit.max() - LINE_MARGIN
        if line.sum() > MAX_LINE_LANGUAGES:
            return text
        mended = {
            w: m
            for w in named
            if sum(c.isalpha() for c in w) >= 3 and (m := self._mended(w, line, text)) is not None
        }
        return _WORD.sub(lambda m: mended.get(m.group(0), m.group(0)), text)

    def _mended(self, read: str, line: Any, text: str) -> str | None:
        likely = float(self.zipf(read)[line].max())
        inverted = len(read) > 3 and read[0] == "i" and read[1].isupper() and likely == 0
        if inverted and self.zipf(read[1:])[line].any():  # "¡" or "¿" read as "i"
            after = text[text.index(read) :]
            return ("¿" if "?" in after and "!" not in after else "¡") + read[1:]
        # German lists spell ß as "ss": a B between small letters may stand for it.
        forms = [(read, -1)] + [
            (read[:at] + "ss" + read[at + 1 :], at)
            for at in range(1, len(read) - 1)
            if read[at] == "B" and read[at - 1].islower() and read[at + 1].islower()
        ]
        for form, sharp_at in forms:
            key = _reading_key(form)
            for shown in (self._spelled(key), key):
                if shown is None or shown == read.lower():
                    continue
                changes = _letters_mended(form, shown)
                if changes < 0 or not 0 < changes + (sharp_at >= 0) <= MAX_MENDED_LETTERS:
                    continue
                zipf = float(self.zipf(shown)[line].max())
                if zipf == 0 or (likely > 0 and zipf < likely + MEND_MARGIN):
                    continue
                out = _in_case_of(form, shown)
                return out if sharp_at < 0 else out[:sharp_at] + "ß" + out[sharp_at + 2 :]
        return None


def _letters_mended(read: str, shown: str) -> int:
    """How many letters of a reading differ from the word it stands for (same length),
    or -1 where one differs as OCR does not misread: an accent dropped or swapped."""
    changes = 0
    for r, s in zip(read.lower(), shown, strict=True):
        if r == s:
            continue
        if (r, s) in _READ_FOR or (r.isascii() and r.isalpha()):
            changes += 1
        else:
            return -1
    return changes


def _in_case_of(read: str, shown: str) -> str:
    """`shown` (lower case) in the case of the reading: each letter as read; a digit read
    for a letter upper case at a word's start or in a word in capitals."""
    capitals = sum(c.isupper() for c in read) > sum(c.islower() for c in read)
    return "".join(
        s.upper() if r.isupper() or (not r.isalpha() and (capitals or i == 0)) else s
        for i, (r, s) in enumerate(zip(read, shown, strict=True))
    )


@functools.cache
def lexicon(languages: tuple[str, ...]) -> Lexicon:
    """The `Lexicon` of some languages, loaded once per process."""
    return Lexicon(languages)
