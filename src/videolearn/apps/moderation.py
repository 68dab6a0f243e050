"""Policy enforcement: each video's verdict under each policy (`apps/policies.py`), with
the evidence that decided it, read from what indexing stored (no decoding): transcripts
and on-screen text for listed terms and for meaning, sound events, nudity, and the
videos' matches against the hash banks.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videolearn.apps.audit import actor, record
from videolearn.apps.banks import add_file
from videolearn.apps.policies import Policies, Policy, TermMatcher, load_policies, policy_file
from videolearn.apps.search import (
    VECTOR_MODALITIES,
    QueryEmbedder,
    background_queries,
    relevances,
)
from videolearn.apps.webhooks import Deliverer
from videolearn.config import Settings
from videolearn.errors import ExtractorError, PolicyError, ReviewError, ReviewItemNotFoundError
from videolearn.extractors.sounds import sound_classes
from videolearn.extractors.text_embed import TextEmbedder
from videolearn.library import Library
from videolearn.pipeline.hooks import StoredVideo, after_run_progress
from videolearn.store import Store
from videolearn.store.moderation import STATUSES, ReviewItem
from videolearn.store.tables import MomentRow, VideoRow
from videolearn.text import clean_text, guess_language, words_in

# The text vectors a meaning rule compares with its description: speech and on-screen text.
MEANING_KINDS = ("e5_speech", "e5_text")
# The moments a policy reads: where terms are looked for, and sounds and nudity.
TERM_MODALITIES = ("speech", "text")
JUDGED_MODALITIES = ("speech", "text", "sound", "nudity")
# Videos judged together when the whole library is (their signals read at once).
BATCH = 256
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
        self,
        store: Store,
        settings: Settings,
        policies: Policies,
        embedder: QueryEmbedder | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.policies = policies
        self.embedder = embedder
        # One matcher for the policies that share term settings, and which policies
        # list each of its terms.
        self._matchers: list[tuple[TermMatcher, dict[str, list[Policy]]]] = []
        groups: dict[tuple[bool, bool], dict[str, list[Policy]]] = {}
        for policy in policies.policies:
            if policy.terms is not None:
                owners = groups.setdefault((policy.terms.inflections, policy.terms.lookalikes), {})
                for term in policies.terms[policy.name]:
                    owners.setdefault(term, []).append(policy)
        for (inflections, lookalikes), owners in groups.items():
            matcher = TermMatcher(owners, inflections=inflections, lookalikes=lookalikes)
            self._matchers.append((matcher, owners))
        self._described: dict[str, np.ndarray] = {}
        banks = {s.name for s in store.banks.summaries()}
        self._allow = store.banks.allow_lists()
        for policy in policies.policies:
            _check_labels(settings, policies, policy)

            missing = sorted(set(policy.banks.names if policy.banks else ()) - banks)
            if missing:
                raise PolicyError(
                    f"{policies.where('policies', policy.name, 'banks', 'names')}: "
                    f"policies.{policy.name}.banks: no bank named {', '.join(missing)} in "
                    "this library (`videolearn bank list`)"
                )
            allow = sorted(set(policy.banks.names if policy.banks else ()) & self._allow)
            if allow:
                raise PolicyError(
                    f"{policies.where('policies', policy.name, 'banks', 'names')}: "
                    f"policies.{policy.name}.banks: {', '.join(allow)} is an allow list: its "
                    "matches clear a video, they never flag one"
                )

    def judge(self, video: VideoRow) -> list[Verdict]:
        """The video's verdicts: one per policy that found something."""
        return self.judge_many([video])

    def judge_many(self, videos: Sequence[VideoRow]) -> list[Verdict]:
        """Each video's verdicts, its stored signals read for all of them at once."""
        ids = [v.video_id for v in videos]
        moments: dict[str, list[MomentRow]] = {v: [] for v in ids}
        for m in self.store.moments_of(JUDGED_MODALITIES, ids):
            moments[m.video_id].append(m)
        terms = {v: self._terms(moments[v]) for v in ids}
        meaning = self._meaning(ids, moments)
        verdicts = []
        for video in videos:
            vid = video.video_id
            matches: list[dict[str, Any]] | None = None
            for policy in self.policies.policies:
                found = list(terms[vid].get(policy.name, ()))
                if policy.sounds is not None:
                    rule = policy.sounds
                    found += _labelled(moments[vid], "sound", rule.labels, rule.min_score)
                if policy.nudity is not None:
                    nude = policy.nudity
                    found += _labelled(moments[vid], "nudity", nude.classes, nude.min_score)
                if policy.banks is not None:
                    if matches is None:
                        matches = self.store.banks.matches_of(vid)
                    found += self._banked(policy, matches)
                found += meaning.get((vid, policy.name), [])
                if found:
                    found.sort(key=lambda e: (e.start_s, e.end_s, e.signal))
                    strength = max(_strength(e, policy) for e in found)
                    verdicts.append(
                        Verdict(vid, video.path, policy.name, policy.action, strength, tuple(found))
                    )
        return verdicts

    def _banked(self, policy: Policy, matches: Sequence[dict[str, Any]]) -> list[Evidence]:
        assert policy.banks is not None
        cleared = [_span(m) for m in matches if m["bank"] in self._allow]
        return [
            Evidence(
                "bank",
                *_span(m, whole=False),
                1.0,
                text=str(m.get("matched_content", "")),
                matched=f"{m['bank']} ({m['signal_type']})",
            )
            for m in matches
            if m["bank"] in policy.banks.names and not any(_overlap(_span(m), c) for c in cleared)
        ]

    def _terms(self, moments: Sequence[MomentRow]) -> dict[str, list[Evidence]]:
        """Listed terms found in a video's moments, by policy: each text is read once by
        each matcher (the policies that share term settings share one)."""
        out: dict[str, list[Evidence]] = {}
        for matcher, owners in self._matchers:
            for m in moments:
                if m.modality not in TERM_MODALITIES or not m.text:
                    continue
                language = m.language or _guessed_language(m.text)
                for hit in matcher.find(m.text, language):
                    for policy in owners[hit.term]:
                        assert policy.terms is not None
                        if m.modality in policy.terms.where:
                            start_s, end_s = _said_when(m, hit.start, hit.end)
                            out.setdefault(policy.name, []).append(
                                Evidence(m.modality, start_s, end_s, 1.0, m.text, hit.term)
                            )
        return out

    def _meaning(
        self, ids: Sequence[str], moments: dict[str, list[MomentRow]]
    ) -> dict[tuple[str, str], list[Evidence]]:
        """What was said or written near each meaning rule's description, by video and
        policy: the videos' text vectors compared with it, relevance as search ranks it."""
        rules = [p for p in self.policies.policies if p.meaning is not None]
        out: dict[tuple[str, str], list[Evidence]] = {}
        if not rules:
            return out
        if self.embedder is None:
            self.embedder = TextEmbedder()
        background = background_queries(self.embedder)
        texts = {(m.video_id, m.modality, m.span.start_s): m.text for v in ids for m in moments[v]}
        for kind in MEANING_KINDS:
            places, matrix = self.store.text_vector_matrix([kind], ids)
            if not places:
                continue
            modality = VECTOR_MODALITIES[kind]
            for policy in rules:
                rule = policy.meaning
                assert rule is not None
                if rule.description not in self._described:
                    self._described[rule.description] = self.embedder.query(rule.description)
                values = relevances(matrix, self._described[rule.description], background)
                for i in np.flatnonzero(values >= rule.min_relevance):
                    place = places[int(i)]
                    out.setdefault((place.video_id, policy.name), []).append(
                        Evidence(
                            "meaning",
                            place.start_s,
                            place.end_s,
                            float(values[i]),
                            texts.get((place.video_id, modality, place.start_s), ""),
                            f"{modality}: {rule.description}",
                        )
                    )
        return out


def _said_when(moment: MomentRow, start: int, end: int) -> tuple[float, float]:
    """When the words at `start:end` of a moment's cleaned text (`clean_text`, as term
    matching reads it) were said: from the first of its timed words they touch to the
    last; the moment's span when it has no timed words (on-screen text) or they cannot be
    laid along its text."""
    words = moment.attrs.get("words") or []
    text = clean_text(moment.text)
    touched: list[tuple[float, float]] = []
    at = 0
    for word in words:
        token = clean_text(str(word.get("word", ""))).strip()
        if not token:
            continue
        found = text.find(token, at)
        if found < 0:
            return moment.span.start_s, moment.span.end_s
        at = found + len(token)
        if found < end and at > start:
            touched.append((float(word["start_s"]), float(word["end_s"])))
    if not touched:
        return moment.span.start_s, moment.span.end_s
    return touched[0][0], touched[-1][1]


def _labelled(
    moments: Sequence[MomentRow], modality: str, labels: Sequence[str], min_score: float
) -> list[Evidence]:
    """A rule's labelled moments (sound events, nudity) at its score or above."""
    return [
        Evidence(modality, m.span.start_s, m.span.end_s, m.score, matched=m.label)
        for m in moments
        if m.modality == modality and m.label in labels and m.score >= min_score
    ]


@functools.lru_cache(maxsize=4096)
def _guessed_language(text: str) -> str:
    """The language of a text without one (on-screen text), guessed once for every
    policy that reads it."""
    return guess_language(words_in(text))


def _span(match: dict[str, Any], whole: bool = True) -> tuple[float, float]:
    """Where a bank match lies in the video; with `whole`, the whole video for a match of
    the whole file (MD5) or of a still (PDQ)."""
    start, end = float(str(match["query_start_s"])), float(str(match["query_end_s"]))
    return (start, end) if end > start or not whole else (0.0, float("inf"))


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _check_labels(settings: Settings, policies: Policies, policy: Policy) -> None:
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
        stored = settings.nudity.classes
        for name in policy.nudity.classes:
            if name not in stored:
                raise PolicyError(
                    f"{policies.where('policies', policy.name, 'nudity', 'classes')}: "
                    f"policies.{policy.name}.nudity: {name!r} is not among the classes the "
                    f"library stores (nudity.classes: {', '.join(stored)})"
                )


def library_policies(settings: Settings) -> Policies:
    """The library's policies (`moderation.policies`, or `LIBRARY/policies.toml`).

    Raises:
        PolicyError: the file holds an error.
    """
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
    policies = library_policies(library.settings) if policies is None else policies
    rows = [library.resolve(v) for v in videos] if videos else None
    report = ModerationReport(policies=len(policies.policies))
    if not policies:
        report.videos = len(rows) if rows is not None else 0
        return report
    store = library.store
    moderator = Moderator(store, library.settings, policies)
    _note_policies(store, policies, who)
    every = rows if rows is not None else store.videos()
    for start in range(0, len(every), BATCH):
        batch = every[start : start + BATCH]
        report.videos += len(batch)
        verdicts = moderator.judge_many(batch)
        report.verdicts += verdicts
        if keep:
            report.new_items += _keep(store, policies, verdicts, who)
    if keep and rows is None:
        store.moderation.set_state("judged", _judged_under(store, policies))
    if keep:
        _deliver(store, library.settings)
    return report


def _deliver(store: Store, settings: Settings, deliverer: Deliverer | None = None) -> None:
    """Post what waits for the policies' webhooks, waiting at most the grace period."""
    if store.moderation.next_due() is None:
        return
    deliverer = deliverer or Deliverer(settings.library, settings.moderation)
    deliverer.start()
    deliverer.finish()


def _keep(
    store: Store, policies: Policies, verdicts: Sequence[Verdict], who: str
) -> list[ReviewItem]:
    """Keep the verdicts not kept before, each with a row in the audit log, and those of
    a policy with a webhook in the outbox."""
    items = store.moderation
    hooks = {p.name: p.webhook for p in policies.policies if p.webhook}
    new = []
    for v in verdicts:
        item = items.keep(v.video_id, v.policy, v.action, evidence_key(v), v.to_json())
        if item is not None:
            new.append(item)
            if v.policy in hooks:
                body = json.dumps({"item": item.id, **v.to_json()}, ensure_ascii=False)
                items.enqueue(item.id, v.video_id, hooks[v.policy], body)
            items.append(
                who or SYSTEM,
                "verdict",
                v.video_id,
                {
                    "item": item.id,
                    "policy": v.policy,
                    "action": v.action,
                    "score": v.score,
                    "evidence": [e.to_json() for e in v.evidence],
                },
            )
    return new


def _digest(policies: Policies) -> str:
    return hashlib.sha256(policies.source.encode("utf-8")).hexdigest()


def _judged_under(store: Store, policies: Policies) -> str:
    """What the library's verdicts depend on beyond each video: the policies and the
    banks (their generation)."""
    return f"{_digest(policies)}:{store.banks.generation()}"


def _note_policies(store: Store, policies: Policies, who: str) -> None:
    """A row in the audit log when the policies differ from those last used."""
    digest = _digest(policies)
    if store.moderation.get_state("policies") == digest:
        return
    store.moderation.append(
        who or SYSTEM,
        "policies",
        str(policies.path),
        {"sha256": digest, "policies": [p.name for p in policies.policies]},
    )
    store.moderation.set_state("policies", digest)


class ModerationHook:
    """Judges each video an index run stores under the library's policies, and, at the
    end of the run, the whole library again when the policies or the banks changed since
    it was last judged whole (from stored signals; no decoding). Registered under
    `videolearn.hooks`; a policy file with an error fails the run's files with its
    reason (they are stored, and judged by the next run)."""

    name = "moderation"

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._moderator: Moderator | None = None
        self._policies: Policies | None = None
        self._deliverer = Deliverer(settings.library, settings.moderation)

    def _ready(self) -> Moderator | None:
        if self._policies is None:
            self._policies = library_policies(self.settings)
            if self._policies:
                self._moderator = Moderator(self.store, self.settings, self._policies)
                _note_policies(self.store, self._policies, "")
        return self._moderator

    def video_stored(self, video: StoredVideo) -> None:
        try:
            moderator = self._ready()
        except PolicyError:
            # The next run with a mended file judges the library whole, this video too.
            self.store.moderation.set_state("judged", "")
            raise
        row = self.store.get_video(video.video_id)
        if moderator is None or row is None or self._policies is None:
            return
        if _keep(self.store, self._policies, moderator.judge(row), ""):
            self._deliverer.start()  # posts while the run goes on

    def run_finished(self) -> None:
        try:
            moderator = self._ready()
        except PolicyError:
            self.store.moderation.set_state("judged", "")
            return  # each stored file failed with the reason
        if moderator is None or self._policies is None:
            return
        judged = _judged_under(self.store, self._policies)
        if self.store.moderation.get_state("judged") != judged:
            every = self.store.videos()
            for start in range(0, len(every), BATCH):
                after_run_progress("judging under the policies", start, len(every))
                verdicts = moderator.judge_many(every[start : start + BATCH])
                _keep(self.store, self._policies, verdicts, "")
            after_run_progress("judging under the policies", len(every), len(every))
            self.store.moderation.set_state("judged", judged)
        _deliver(self.store, self.settings, self._deliverer)


def review_items(library: Library, status: str | None = None) -> list[ReviewItem]:
    """Kept verdicts, oldest first; with `status` (pending, accepted, rejected, noted)
    only those.

    Raises:
        ReviewError: an unknown status.
    """
    if status is not None and status not in STATUSES:
        raise ReviewError(f"no status {status!r}: one of {', '.join(STATUSES)}")
    return library.store.moderation.items(status)


# Review items a page shows.
REVIEW_PAGE = 20


@dataclass(frozen=True)
class ReviewPage:
    """A page of kept verdicts with one status, in the order a reviewer takes them, and how
    many items have each status."""

    status: str
    items: list[ReviewItem]
    counts: dict[str, int]
    offset: int
    limit: int
    # The items' videos as stored (what a page shows of each: its name, whether it has
    # pictures).
    videos: dict[str, VideoRow]
    # Where the library's policies are read from (it may not exist yet).
    policies: Path

    @property
    def total(self) -> int:
        return self.counts.get(self.status, 0)


def review_page(
    library: Library, status: str = "pending", offset: int = 0, limit: int = REVIEW_PAGE
) -> ReviewPage:
    """A page of the kept verdicts with `status`: pending ones `block` first (each holds
    its video back until decided), then `review`, oldest first; decided ones latest
    decision first; noted flags newest first.

    Raises:
        ReviewError: an unknown status.
    """
    if status not in STATUSES:
        raise ReviewError(f"no status {status!r}: one of {', '.join(STATUSES)}")
    store = library.store.moderation
    offset, limit = max(offset, 0), max(limit, 1)
    items = store.page(status, offset, limit)
    shown = list(dict.fromkeys(item.video_id for item in items))
    videos = {row.video_id: row for row in library.store.videos_of(shown)}
    settings = library.settings
    policies = policy_file(settings.library, settings.moderation.policies)
    return ReviewPage(status, items, store.counts(), offset, limit, videos, policies)


def verdicts_on(library: Library, video_id: str) -> list[ReviewItem]:
    """The kept verdicts on one video, oldest first, whatever their status."""
    return library.store.moderation.items(video_id=video_id)


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
        raise ReviewItemNotFoundError(
            f"no review item {item_id} (`videolearn review list` lists them)"
        )
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
