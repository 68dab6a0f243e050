"""Policy enforcement: each video's verdict under each policy (`apps/policies.py`), with
the evidence that decided it, read from what indexing stored (no decoding): transcripts
and on-screen text for listed terms and for meaning, sound events, nudity, and the
videos' matches against the hash banks.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.apps.audit import actor, record
from videolearn.apps.banks import add_file
from videolearn.apps.policies import Policies, Policy, TermMatcher, load_policies, policy_file
from videolearn.apps.search import QueryEmbedder, background_queries, relevance
from videolearn.errors import ExtractorError, PolicyError, ReviewError
from videolearn.extractors.sounds import sound_classes
from videolearn.extractors.text_embed import TextEmbedder
from videolearn.library import Library
from videolearn.store.moderation import STATUSES, ReviewItem
from videolearn.store.tables import MomentRow, VideoRow
from videolearn.text import guess_language, words_in

# The text vectors a meaning rule compares with its description: speech and on-screen text.
MEANING_KINDS = ("e5_speech", "e5_text")
# At most this many moments a video are compared by meaning.
MEANING_DEPTH = 200
# Who acts when no person does (an index run, a re-moderation).
SYSTEM = "videolearn"


@dataclass(frozen=True)
class Evidence:
    """What one signal found: where, its score, and the words or label."""

    signal: str  # speech, text, sound, nudity, bank, meaning
    start_s: float
    end_s: float
    score: float
    text: str = ""
    matched: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "score": round(self.score, 4),
            "text": self.text,
            "matched": self.matched,
        }


@dataclass(frozen=True)
class Verdict:
    """A policy's verdict on a video: its action, how sure (0-1: the strongest evidence;
    a listed term or a bank match is 1), and the evidence, in time order."""

    video_id: str
    path: str
    policy: str
    action: str
    score: float
    evidence: tuple[Evidence, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "video_id": self.video_id,
            "path": self.path,
            "policy": self.policy,
            "action": self.action,
            "score": round(self.score, 4),
            "evidence": [e.to_json() for e in self.evidence],
        }


@dataclass
class ModerationReport:
    """The verdicts of a moderation run, how many videos it looked at, and the review
    items it kept that were not kept before."""

    videos: int = 0
    verdicts: list[Verdict] = field(default_factory=list)
    policies: int = 0
    new_items: list[ReviewItem] = field(default_factory=list)


def evidence_key(verdict: Verdict) -> str:
    """What makes a verdict's evidence the same as before: its signals, what they found,
    and where, to the second (a video indexed again finds the same words a little
    earlier or later)."""
    parts = sorted(
        {(e.signal, e.matched, round(e.start_s), round(e.end_s)) for e in verdict.evidence}
    )
    return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()[:32]


def _strength(evidence: Evidence, policy: Policy) -> float:
    """How sure one piece of evidence is, 0-1."""
    if evidence.signal in ("sound", "nudity"):
        return evidence.score
    if evidence.signal == "meaning" and policy.meaning is not None:
        # Half-sure at the rule's floor, surer the further above it.
        return 1.0 - policy.meaning.min_relevance / (2 * max(evidence.score, 1e-6))
    return 1.0


class Moderator:
    """Judges videos under a library's policies from their stored signals."""

    def __init__(
        self, library: Library, policies: Policies, embedder: QueryEmbedder | None = None
    ) -> None:
        self.library = library
        self.policies = policies
        self.embedder = embedder
        self._matchers: dict[str, TermMatcher] = {}
        self._described: dict[str, np.ndarray] = {}
        banks = {s.name for s in library.store.banks.summaries()}
        for policy in policies.policies:
            _check_labels(library, policies, policy)
            if policy.terms is not None:
                self._matchers[policy.name] = TermMatcher(
                    policies.terms[policy.name],
                    inflections=policy.terms.inflections,
                    lookalikes=policy.terms.lookalikes,
                )
            missing = sorted(set(policy.banks.names if policy.banks else ()) - banks)
            if missing:
                raise PolicyError(
                    f"{policies.where('policies', policy.name, 'banks', 'names')}: "
                    f"policies.{policy.name}.banks: no bank named {', '.join(missing)} in "
                    "this library (`videolearn bank list`)"
                )

    def judge(self, video: VideoRow) -> list[Verdict]:
        """The video's verdicts: one per policy that found something."""
        store = self.library.store
        moments = store.rows_of(MomentRow, video.video_id)
        matches: list[dict[str, Any]] | None = None
        verdicts = []
        for policy in self.policies.policies:
            found: list[Evidence] = []
            if policy.terms is not None:
                found += self._terms(policy, moments)
            if policy.sounds is not None:
                rule = policy.sounds
                found += [
                    Evidence("sound", m.span.start_s, m.span.end_s, m.score, matched=m.label)
                    for m in moments
                    if m.modality == "sound"
                    and m.label in rule.labels
                    and m.score >= rule.min_score
                ]
            if policy.nudity is not None:
                nude = policy.nudity
                found += [
                    Evidence("nudity", m.span.start_s, m.span.end_s, m.score, matched=m.label)
                    for m in moments
                    if m.modality == "nudity"
                    and m.label in nude.classes
                    and m.score >= nude.min_score
                ]
            if policy.banks is not None:
                if matches is None:
                    matches = store.banks.matches_of(video.video_id)
                found += [
                    Evidence(
                        "bank",
                        float(str(m["query_start_s"])),
                        float(str(m["query_end_s"])),
                        1.0,
                        text=str(m.get("matched_content", "")),
                        matched=f"{m['bank']} ({m['signal_type']})",
                    )
                    for m in matches
                    if m["bank"] in policy.banks.names
                ]
            if policy.meaning is not None:
                found += self._meaning(policy, video.video_id)
            if found:
                found.sort(key=lambda e: (e.start_s, e.end_s, e.signal))
                verdicts.append(
                    Verdict(
                        video.video_id,
                        video.path,
                        policy.name,
                        policy.action,
                        max(_strength(e, policy) for e in found),
                        tuple(found),
                    )
                )
        return verdicts

    def _terms(self, policy: Policy, moments: Sequence[MomentRow]) -> list[Evidence]:
        assert policy.terms is not None
        matcher = self._matchers[policy.name]
        out = []
        for m in moments:
            if m.modality not in policy.terms.where or not m.text:
                continue
            language = m.language or guess_language(words_in(m.text))
            for hit in matcher.find(m.text, language):
                out.append(
                    Evidence(m.modality, m.span.start_s, m.span.end_s, 1.0, m.text, hit.term)
                )
        return out

    def _meaning(self, policy: Policy, video_id: str) -> list[Evidence]:
        assert policy.meaning is not None
        rule = policy.meaning
        if self.embedder is None:
            self.embedder = TextEmbedder()
        vector = self._described.get(rule.description)
        if vector is None:
            vector = self._described[rule.description] = self.embedder.query(rule.description)
        hits = self.library.store.search_text_vectors(
            vector,
            MEANING_DEPTH,
            MEANING_KINDS,
            (video_id,),
            stored_only=False,
            background=background_queries(self.embedder),
        )
        out = []
        for hit in hits:
            value = relevance(hit)
            if value >= rule.min_relevance:
                signal = "speech" if hit.kind == "e5_speech" else "text"
                out.append(
                    Evidence(
                        "meaning",
                        hit.span.start_s,
                        hit.span.end_s,
                        value,
                        hit.text,
                        f"{signal}: {rule.description}",
                    )
                )
        return out


def _check_labels(library: Library, policies: Policies, policy: Policy) -> None:
    """Refuse sound labels that are no AudioSet class ("Gunshot" for "Gunshot, gunfire")
    and nudity classes the library does not store: rules that could never find a thing."""
    if policy.sounds is not None:
        try:
            known = {c.name for c in sound_classes()}
        except ExtractorError:
            known = set()  # without the model no label is stored either
        for label in policy.sounds.labels:
            if known and label not in known:
                near = [n for n in sorted(known) if n.casefold().startswith(label.casefold())]
                near += difflib.get_close_matches(label, known, n=3, cutoff=0.6)
                near = list(dict.fromkeys(near))[:3]
                hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
                raise PolicyError(
                    f"{policies.where('policies', policy.name, 'sounds', 'labels')}: "
                    f"policies.{policy.name}.sounds: {label!r} is no AudioSet class{hint}"
                )
    if policy.nudity is not None:
        stored = library.settings.nudity.classes
        for name in policy.nudity.classes:
            if name not in stored:
                raise PolicyError(
                    f"{policies.where('policies', policy.name, 'nudity', 'classes')}: "
                    f"policies.{policy.name}.nudity: {name!r} is not among the classes the "
                    f"library stores (nudity.classes: {', '.join(stored)})"
                )


def library_policies(library: Library) -> Policies:
    """The library's policies (`moderation.policies`, or `LIBRARY/policies.toml`).

    Raises:
        PolicyError: the file holds an error.
    """
    settings = library.settings
    return load_policies(policy_file(settings.library, settings.moderation.policies))


def moderate(
    library: Library,
    videos: Sequence[str] = (),
    policies: Policies | None = None,
    *,
    keep: bool = True,
    who: str = "",
) -> ModerationReport:
    """Judge videos (paths or ids; every indexed video when none) under the library's
    policies, or under `policies`, from their stored signals. With `keep`, verdicts not
    kept before are kept for review (`review_items`) and written to the audit log.

    Raises:
        PolicyError: the policy file holds an error, or names a bank the library lacks.
        VideoNotFoundError: a video given is not indexed.
    """
    policies = library_policies(library) if policies is None else policies
    rows = [library.resolve(v) for v in videos] if videos else None
    report = ModerationReport(policies=len(policies.policies))
    if not policies:
        report.videos = len(rows) if rows is not None else 0
        return report
    moderator = Moderator(library, policies)
    _note_policies(library, policies, who)
    for row in rows if rows is not None else _every(library):
        report.videos += 1
        verdicts = moderator.judge(row)
        report.verdicts += verdicts
        if keep:
            report.new_items += _keep(library, verdicts, who)
    return report


def _keep(library: Library, verdicts: Sequence[Verdict], who: str) -> list[ReviewItem]:
    """Keep the verdicts not kept before, each with a row in the audit log."""
    store = library.store.moderation
    new = []
    for v in verdicts:
        item = store.keep(v.video_id, v.policy, v.action, evidence_key(v), v.to_json())
        if item is not None:
            new.append(item)
            record(
                library,
                "verdict",
                v.video_id,
                {
                    "item": item.id,
                    "policy": v.policy,
                    "action": v.action,
                    "score": v.score,
                    "evidence": [e.to_json() for e in v.evidence],
                },
                who or SYSTEM,
            )
    return new


def _note_policies(library: Library, policies: Policies, who: str) -> None:
    """A row in the audit log when the policies differ from those last used."""
    digest = hashlib.sha256(policies.source.encode("utf-8")).hexdigest()
    store = library.store.moderation
    if store.get_state("policies") == digest:
        return
    record(
        library,
        "policies",
        str(policies.path),
        {"sha256": digest, "policies": [p.name for p in policies.policies]},
        who or SYSTEM,
    )
    store.set_state("policies", digest)


def review_items(library: Library, status: str | None = None) -> list[ReviewItem]:
    """Kept verdicts, oldest first; with `status` (pending, accepted, rejected, noted)
    only those.

    Raises:
        ReviewError: an unknown status.
    """
    if status is not None and status not in STATUSES:
        raise ReviewError(f"no status {status!r}: one of {', '.join(STATUSES)}")
    return library.store.moderation.items(status)


def decide(
    library: Library,
    item_id: int,
    *,
    accept: bool,
    note: str = "",
    bank: str | None = None,
    who: str = "",
) -> ReviewItem:
    """A person's decision on a kept verdict: accepted (the verdict stands; a `block`
    keeps the video out of every listing) or rejected (it does not; the same evidence is
    not queued again). With `bank`, an accepted video's file is added to that hash bank.

    Raises:
        ReviewError: no such item, or a bank given with a rejection.
        BankError: no such bank.
    """
    store = library.store.moderation
    item = store.item(item_id)
    if item is None:
        raise ReviewError(f"no review item {item_id} (`videolearn review list` lists them)")
    if bank and not accept:
        raise ReviewError("--bank goes with --accept: only an accepted verdict is banked")
    if bank:
        library.store.banks.require(bank)
    status = "accepted" if accept else "rejected"
    decided = store.decide(item_id, status, actor(who), note)
    record(
        library,
        "decision",
        item.video_id,
        {"item": item_id, "policy": item.policy, "status": status, "note": note},
        who,
    )
    if bank:
        paths = library.store.ledger.paths_of(item.video_id)
        if not paths:
            raise ReviewError(f"the video of item {item_id} has no file left to bank")
        change = add_file(library, bank, Path(paths[0]))
        record(
            library,
            "action",
            item.video_id,
            {"item": item_id, "action": "banked", "bank": bank, "added": change.added},
            who,
        )
    return decided


def _every(library: Library) -> Iterator[VideoRow]:
    yield from library.store.videos()
