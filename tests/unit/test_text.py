"""What counts as words: the rule transcripts and on-screen readings are kept by."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from videolearn.text import (
    content_words,
    holds_words,
    lexicon,
    reads_as_text,
    stem_list,
    stems,
    stopwords,
)


@pytest.mark.parametrize(
    "text",
    ["Oh.", "GRANDMA'S 80TH BIRTHDAY", "Straße", "12:30", "2019", "大学", "€ 4,99", "ok"],
)
def test_text_a_person_would_call_text_is_kept(text: str) -> None:
    assert holds_words(text)


@pytest.mark.parametrize("text", ["...", "C", "8", "00", "9.0", "口", "大", " - ", "O)", ""])
def test_marks_and_stray_characters_are_not(text: str) -> None:
    assert not holds_words(text)


@pytest.mark.parametrize(
    "text",
    ["GRANDMA'S 80TH BIRTHDAY", "Straße", "12:30", "大学", "출구", "Bus 42", "TV 5", "Oh no"],
)
def test_on_screen_text_a_person_would_call_text_is_kept(text: str) -> None:
    assert reads_as_text(text)


@pytest.mark.parametrize("text", ["Уй", "ok", "Ab.", "C", "00", "口"])
def test_a_lone_two_letter_word_on_screen_is_no_text(text: str) -> None:
    assert not reads_as_text(text)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("train tickets at the station", {"train", "tickets", "station"}),
        ("Wo ist der Bahnhof und die Fahrkarten", {"bahnhof", "fahrkarten"}),
        ("Où est la gare et les billets", {"gare", "billets"}),
        ("car door", {"car", "door"}),  # one French, one Dutch stop word: still English
        ("the who", {"the", "who"}),  # nothing but stop words: all of them
        ("Straße", {"strasse"}),
    ],
)
def test_content_words_leave_out_stop_words_of_the_query_language(
    query: str, words: set[str]
) -> None:
    assert content_words(query) == words


def test_stop_words_of_a_language_not_known_are_none() -> None:
    assert stopwords("xx") == frozenset()
    assert "und" in stopwords("de") and "und" not in stopwords("en")


@pytest.mark.parametrize(
    ("words", "language", "same"),
    [
        (["seats", "seat"], "en", True),
        (["tickets", "ticket"], "en", True),
        (["fahrkarten", "fahrkarte"], "de", True),
        (["billets", "billet"], "fr", True),
        (["seat", "window"], "en", False),
    ],
)
def test_words_compare_by_their_stems(words: list[str], language: str, same: bool) -> None:
    assert (len(stems(words, language)) == 1) == same


def test_a_language_without_a_stemmer_keeps_its_words() -> None:
    assert stems(["慢慢", "走"], "zh") == {"慢慢", "走"}


def test_threads_stemming_at_once_each_get_their_own_words_stems() -> None:
    """A server's searches stem at once: a Snowball stemmer keeps the word it works on in
    itself, so one shared by threads broke words ("string index out of range", a 500)."""
    import snowballstemmer

    english = snowballstemmer.stemmer("english")
    rng = random.Random(7)
    batches = [
        ["".join(rng.choice("abcdeilnorstuy") for _ in range(rng.randint(5, 12))) + "ings"
         for _ in range(3000)]
        for _ in range(6)
    ]  # fmt: skip
    with ThreadPoolExecutor(6) as pool:
        got = list(pool.map(lambda words: stem_list(words, "en"), batches))
    assert got == [[english.stemWord(w) for w in words] for words in batches]


# The fourteen languages `ocr.lexicon` names by default.
_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "tr", "sv", "da", "nb", "fi", "cs")


@pytest.mark.parametrize(
    ("read", "shown"),
    [
        # What the OCR engines read on bench/ocr_quality.py's captions.
        ("StraBe gesperrt: Mullerweg 12", "Straße gesperrt: Mullerweg 12"),
        ("Le cæur de la forêt", "Le cœur de la forêt"),
        ("iMañana a las 8! Año nuevo", "¡Mañana a las 8! Año nuevo"),
        ("iQuién ganó el partido?", "¿Quién ganó el partido?"),
        ("Ferry to 0slo: 10:45, pier 3", "Ferry to Oslo: 10:45, pier 3"),
        ("Dzien dobry, prosze wejsc", "Dzień dobry, proszę wejść"),
        ("FuBgangerzone: bitte absteigen", "Fußgängerzone: bitte absteigen"),
    ],
)
def test_a_reading_is_mended_to_the_words_of_its_language(read: str, shown: str) -> None:
    assert lexicon(_LANGUAGES).mend(read) == shown


@pytest.mark.parametrize(
    "read",
    [
        "Welcome home, Dr. Smith!",
        "GRANDMA'S 80TH BIRTHDAY",
        "iPhone 15 Pro",  # a known word is left as it is
        "Zentrix GmbH opens in Reykjavík",  # names in no list; an accent is never dropped
        "the surer reading was kept",  # "sürer" is Turkish: not the line's language
        "api/schemas.py",  # in every list or none: no language to mend in
        "Das ist schon gut",  # "schön" is no likelier than "schon"
        "H264 MP3 4x4",
    ],
)
def test_words_that_are_no_misreading_are_left_as_read(read: str) -> None:
    assert lexicon(_LANGUAGES).mend(read) == read


def test_without_the_lines_language_among_the_lists_nothing_is_mended() -> None:
    assert lexicon(("en",)).mend("Dzien dobry, prosze wejsc") == "Dzien dobry, prosze wejsc"
