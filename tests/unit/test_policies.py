"""Policy files and listed terms: whole words in every script, hidden spellings, and
errors that name the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from videolearn.apps.policies import EXAMPLE_POLICIES, TermMatcher, load_policies
from videolearn.errors import PolicyError


def _found(matcher: TermMatcher, text: str, language: str = "en") -> list[str]:
    return [h.term for h in matcher.find(text, language)]


def test_terms_are_found_as_whole_words_only() -> None:
    matcher = TermMatcher(["ass", "kill you", "hell"], inflections=False, lookalikes=True)
    assert _found(matcher, "What an ass.") == ["ass"]
    # Innocent words that hold a listed term.
    for text in ("a classic bass line", "assistant", "shell, hello, Michelle", "skill yourself"):
        assert _found(matcher, text) == [], text
    hits = matcher.find("Then I will kill you, he said")
    assert [(h.term, h.found) for h in hits] == [("kill you", "kill you")]
    assert "Then I will kill you, he said"[hits[0].start : hits[0].end] == "kill you"


@pytest.mark.parametrize(
    "text",
    [
        "I will k1ll you",  # digits for letters
        "I will KILL YOU",
        "i will k\u0456ll y\u043eu",  # a Ukrainian i, a Cyrillic o
        "i will \u03baill you",  # a Greek kappa
        "i will ki\u200bll y\u200dou",  # zero-width space and joiner
        "I WİLL KİLL YOU",  # the Turkish dotted capital I
        "i will \uff4b\uff49\uff4c\uff4c you",  # full-width letters
        "i will k!ll you",
    ],
)
def test_hidden_spellings_are_found(text: str) -> None:
    matcher = TermMatcher(["kill you"], inflections=False, lookalikes=True)
    assert _found(matcher, text) == ["kill you"], text


def test_hidden_spellings_count_only_when_asked() -> None:
    plain = TermMatcher(["kill you"], inflections=False, lookalikes=False)
    assert _found(plain, "I will k1ll you") == []
    assert _found(plain, "I will KILL YOU") == ["kill you"]


def test_inflections_follow_the_texts_language() -> None:
    matcher = TermMatcher(["kill", "Waffe"], inflections=True, lookalikes=False)
    assert _found(matcher, "they were killed, he is killing") == ["kill", "kill"]
    assert _found(matcher, "zwei Waffen im Auto", "de") == ["Waffe"]
    exact = TermMatcher(["kill"], inflections=False, lookalikes=False)
    assert _found(exact, "they were killed") == []


def test_terms_in_scripts_without_spaces_and_many_at_once() -> None:
    matcher = TermMatcher(["杀", "爆炸", "Straße"], inflections=False, lookalikes=True)
    assert _found(matcher, "我要杀了你") == ["杀"]
    assert _found(matcher, "大楼发生爆炸了") == ["爆炸"]
    assert _found(matcher, "DIE STRASSE IST GESPERRT") == ["Straße"]
    many = TermMatcher([f"word{n}x" for n in range(10_000)], inflections=False, lookalikes=False)
    assert _found(many, "this holds word9999x and word12x but not word10000x") == [
        "word9999x",
        "word12x",
    ]


def test_the_shipped_example_loads(tmp_path: Path) -> None:
    policies = load_policies(EXAMPLE_POLICIES)
    assert policies and all(p.name for p in policies.policies)
    assert {p.action for p in policies.policies} <= {"flag", "review", "block"}
    assert load_policies(tmp_path / "none.toml").policies == ()


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ('[policies.a]\naction = "review"\n[policies.a.terms]\nwordz = ["x"]\n', 4, "wordz"),
        ('[policies.a]\naction = "bann"\nsounds = { labels = ["Speech"] }\n', 2, "action"),
        ('[policies.a]\naction = "review"\n', 1, "no rule"),
        ('[policies.a]\naction = "review"\n[policies.a.terms]\nwords = []\n', 3, "no terms"),
        ('[policies.a]\naction = "review"\n\n[policies.a.terms]\nwords = ["?!"]\n', 5, "no word"),
        ('[policies.a]\naction = "review\n', 2, "not valid TOML"),
        ('[policies."a b"]\naction = "review"\n', 1, "name"),
        (
            '[policies.a]\naction = "flag"\n'
            'meaning = { description = "x y", min_relevance = -1 }\n',
            3,
            "greater than 0",
        ),
    ],
)
def test_an_error_names_the_file_and_the_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = tmp_path / "policies.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        load_policies(path)
    message = str(err.value)
    assert message.startswith(str(path)) and reason in message
    assert f"line {line}" in message, message


def test_terms_are_read_from_a_list_file(tmp_path: Path) -> None:
    (tmp_path / "terms.txt").write_text("# weapons\nrifle\n\nhandgun  # and more\n", "utf-8")
    path = tmp_path / "policies.toml"
    path.write_text(
        '[policies.weapons]\naction = "flag"\nterms = { files = ["terms.txt"], words = ["gun"] }\n',
        encoding="utf-8",
    )
    assert load_policies(path).terms["weapons"] == ("gun", "rifle", "handgun")
    (tmp_path / "terms.txt").unlink()
    with pytest.raises(PolicyError, match=r"line 3.*terms\.txt"):
        load_policies(path)
