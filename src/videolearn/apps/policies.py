"""Policies: what the library's owner does not want, as signals with thresholds and an
action, read from a TOML file (`LIBRARY/policies.toml`, or `moderation.policies`).

A policy names one or more rules; any rule that finds something in a video makes the
policy's verdict on it, with the evidence:

    [policies.threats]
    action = "review"                  # flag, review or block
    [policies.threats.terms]           # words said or written on screen
    words = ["kill you", "shoot you"]
    in = ["speech", "text"]
    inflections = true                 # "killed you" too
    lookalikes = true                  # "k1ll y0u", a Cyrillic o too (the default)
    [policies.threats.sounds]          # sound events, by AudioSet name
    labels = ["Gunshot, gunfire", "Screaming"]
    min_score = 0.5
    [policies.threats.meaning]         # said or written in any words, in any language
    description = "a threat to hurt someone"
    min_relevance = 5.0
    [policies.known.banks]             # matches in hash banks
    names = ["KNOWN_BAD"]
    [policies.nudity.nudity]           # exposed body parts (the nsfw extra)
    classes = ["FEMALE_BREAST_EXPOSED"]
    min_score = 0.6

A file with an error is refused whole, with the file, the line and the reason.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from videolearn.errors import PolicyError
from videolearn.text import clean_text, stem_list, term_words

POLICY_FILE_NAME = "policies.toml"
# A documented example, shipped with the package.
EXAMPLE_POLICIES = Path(__file__).resolve().parents[1] / "examples" / "policies.toml"
ACTIONS = ("flag", "review", "block")
# Between the words of a term, in the strings the matcher reads: no word holds it.
_JOIN = "\x1f"


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class TermsRule(_Rule):
    """Listed words and phrases, found as whole words in speech and on-screen text."""

    words: tuple[str, ...] = ()
    # Files of terms, one a line ("#" starts a comment); relative to the policy file.
    files: tuple[Path, ...] = ()
    where: tuple[Literal["speech", "text"], ...] = Field(default=("speech", "text"), alias="in")
    # "kill" finds "killed" and "killing" (Snowball stems in the text's language).
    inflections: bool = False
    # "k1ll", "$hit", Cyrillic or Greek letters that look like Latin ones.
    lookalikes: bool = True


class SoundsRule(_Rule):
    """Sound events by their AudioSet name ("Gunshot, gunfire", "Screaming")."""

    labels: tuple[str, ...]
    min_score: float = Field(default=0.5, gt=0, le=1)


class NudityRule(_Rule):
    """Exposed body parts (the nudity extractor's classes)."""

    classes: tuple[str, ...]
    min_score: float = Field(default=0.5, gt=0, le=1)


class BanksRule(_Rule):
    """Matches against hash banks (`videolearn bank`)."""

    names: tuple[str, ...]


class MeaningRule(_Rule):
    """What was said or written, in any words and language, near a description (the
    multilingual text vectors; relevance as search ranks it: standard deviations above
    what the text scores for unrelated queries)."""

    description: str = Field(min_length=3)
    min_relevance: float = Field(default=5.0, gt=0)


class Policy(_Rule):
    """One policy: an action, and the rules that find what it is about."""

    name: str = ""
    action: Literal["flag", "review", "block"]
    description: str = ""
    terms: TermsRule | None = None
    sounds: SoundsRule | None = None
    nudity: NudityRule | None = None
    banks: BanksRule | None = None
    meaning: MeaningRule | None = None
    # Each new verdict of this policy is posted here as JSON (`http://` or `https://`).
    webhook: str | None = Field(default=None, pattern=r"^https?://[^\s/]+")


class _PolicyFile(_Rule):
    policies: dict[str, Policy] = Field(default_factory=dict)

    @field_validator("policies")
    @classmethod
    def _named(cls, policies: dict[str, Policy]) -> dict[str, Policy]:
        for name in policies:
            if not _NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r}: a policy's name is 1-64 letters, digits, '.', '_' and '-'"
                )
        return policies


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Policies:
    """The policies of a library, as read from `path` (None: no policy file)."""

    path: Path | None
    policies: tuple[Policy, ...]
    # Each policy's terms, read from its words and files.
    terms: dict[str, tuple[str, ...]]
    # The file's text, to name the line of a key.
    source: str = ""

    def __bool__(self) -> bool:
        return bool(self.policies)

    def where(self, *keys: str) -> str:
        """ "FILE line N", N the line that sets `keys` (a path of keys)."""
        return f"{self.path} line {_line_of(self.source, keys)}"


def policy_file(library: Path, configured: Path | None) -> Path:
    """Where a library's policies are read from: `moderation.policies` when set (relative
    to the library), else `LIBRARY/policies.toml`."""
    if configured is None:
        return library / POLICY_FILE_NAME
    return configured if configured.is_absolute() else library / configured


def load_policies(path: Path) -> Policies:
    """The policies in a TOML file; none when the file does not exist.

    Raises:
        PolicyError: the file cannot be read or holds an error (the file, the line and
            the reason); nothing of it is used.
    """
    if not path.is_file():
        return Policies(None, (), {})
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as err:
        raise PolicyError(f"{path}: cannot be read: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(f"{path}: not valid TOML: {err}") from None
    try:
        parsed = _PolicyFile.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = tuple(str(p) for p in first["loc"])
        where = ".".join(loc)
        raise PolicyError(f"{path} line {_line_of(text, loc)}: {where}: {first['msg']}") from None
    policies, terms = [], {}
    for name, policy in parsed.policies.items():
        named = policy.model_copy(update={"name": name})
        rules = [named.terms, named.sounds, named.nudity, named.banks, named.meaning]
        if not any(rules):
            raise PolicyError(
                f"{path} line {_line_of(text, ('policies', name))}: policies.{name}: "
                "no rule (terms, sounds, nudity, banks or meaning)"
            )
        terms[name] = _terms_of(path, text, named)
        policies.append(named)
    return Policies(path, tuple(policies), terms, text)


def _terms_of(path: Path, text: str, policy: Policy) -> tuple[str, ...]:
    rule = policy.terms
    if rule is None:
        return ()
    found = [w for w in rule.words if w.strip()]
    for listed in rule.files:
        source = listed if listed.is_absolute() else path.parent / listed
        try:
            lines = source.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            line = _line_of(text, ("policies", policy.name, "terms", "files"))
            raise PolicyError(
                f"{path} line {line}: policies.{policy.name}.terms: term list {source} "
                f"cannot be read: {err}"
            ) from None
        found += [t for t in (ln.split("#", 1)[0].strip() for ln in lines) if t]
    for term in found:
        if not term_words(clean_text(term), lookalikes=False):
            line = _line_of(text, ("policies", policy.name, "terms", "words"))
            raise PolicyError(
                f"{path} line {line}: policies.{policy.name}.terms: {term!r} holds no word"
            )
    if not found:
        line = _line_of(text, ("policies", policy.name, "terms"))
        raise PolicyError(f"{path} line {line}: policies.{policy.name}.terms: no terms listed")
    return tuple(dict.fromkeys(found))


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")


def _dotted(key: str) -> tuple[str, ...]:
    return tuple(p.strip().strip("\"'") for p in key.split("."))


def _line_of(text: str, loc: Sequence[str]) -> int:
    """The line of a TOML file that sets the deepest part of `loc` (a path of keys)
    found: a table's header or a key's line."""
    best, best_len = 1, 0
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _dotted(header.group(1))
            path: tuple[str, ...] = table
        else:
            key = _KEY.match(line)
            if not key:
                continue
            path = (*table, *_dotted(key.group(1)))
        common = 0
        for a, b in zip(path, loc, strict=False):
            if a != b:
                break
            common += 1
        if common == len(path) and common > best_len:
            best, best_len = number, common
    return best


# The policies of a library read the same texts: each is cleaned and split once.
_clean = functools.lru_cache(maxsize=4096)(clean_text)


@functools.lru_cache(maxsize=4096)
def _term_words(text: str, lookalikes: bool) -> list[tuple[str, int, int]]:
    return term_words(text, lookalikes=lookalikes)


@dataclass(frozen=True)
class TermHit:
    """A listed term found in a text: the term, and the words it was found as."""

    term: str
    start: int
    end: int
    found: str


class TermMatcher:
    """Finds many listed terms at once, as whole words (Aho-Corasick over the words of a
    text, folded as search folds them)."""

    def __init__(self, terms: Iterable[str], *, inflections: bool, lookalikes: bool) -> None:
        self.terms = tuple(terms)
        self.inflections = inflections
        self.lookalikes = lookalikes
        # One automaton a language where terms are stemmed (stems depend on it).
        self._automata: dict[str, object] = {}

    def _words(self, text: str, language: str) -> list[tuple[str, int, int]]:
        words = _term_words(text, self.lookalikes)
        if self.inflections and words:
            folded = stem_list([w for w, _, _ in words], language)
            words = [(s, a, b) for s, (_, a, b) in zip(folded, words, strict=True)]
        return words

    def _automaton(self, language: str) -> object:
        import ahocorasick

        key = language if self.inflections else ""
        automaton = self._automata.get(key)
        if automaton is None:
            automaton = ahocorasick.Automaton()
            for term in self.terms:
                words = self._words(clean_text(term), language)
                if words:
                    joined = _JOIN + _JOIN.join(w for w, _, _ in words) + _JOIN
                    automaton.add_word(joined, (term, len(words), len(joined)))
            automaton.make_automaton()
            self._automata[key] = automaton
        return automaton

    def find(self, text: str, language: str = "en") -> list[TermHit]:
        """The listed terms in `text`, in order; `language` (ISO 639-1) chooses the
        stemmer when inflections count."""
        cleaned = _clean(text)
        words = self._words(cleaned, language)
        if not words or not self.terms:
            return []
        joined = _JOIN + _JOIN.join(w for w, _, _ in words) + _JOIN
        # Where each word starts in `joined`, to find a hit's words.
        starts, at = {}, 1
        for i, (w, _, _) in enumerate(words):
            starts[at] = i
            at += len(w) + 1
        hits = []
        automaton = self._automaton(language)
        for end, (term, count, size) in automaton.iter(joined):  # type: ignore[attr-defined]
            first = starts[end - size + 2]  # the key starts with a separator
            a, b = words[first][1], words[first + count - 1][2]
            hits.append(TermHit(term, a, b, cleaned[a:b]))
        return hits
