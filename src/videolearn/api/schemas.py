"""The shapes the API answers with, for `/openapi.json` and `/docs`: each the JSON the
matching CLI command prints with `--json` (its apps object's `to_json`), so that the two
stay one shape.

Every model lets fields it does not name through (`extra="allow"`): a route validates and
documents its answer, and a field added to a `to_json` before it is named here still
reaches the client rather than being dropped.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- the library ---------------------------------------------------------------------------


class VideoCounts(Shape):
    indexed: int
    failed: int
    pending: int


class FileFailure(Shape):
    path: str
    reason: str


class PluginProblem(Shape):
    group: str
    name: str
    reason: str


class LibraryStatus(Shape):
    """`status --json`."""

    videos: VideoCounts
    failures: list[FileFailure]
    skipped_plugins: list[PluginProblem]


class Video(Shape):
    """A stored video's row."""

    video_id: str
    path: str
    size_bytes: int | None = None
    duration_s: float | None = None
    container: str | None = None
    width_px: int | None = None
    height_px: int | None = None
    rotation_deg: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_sample_rate_hz: int | None = None
    frames_decoded: int | None = None
    corrupt_packets: int | None = None


class VideoPage(Shape):
    videos: list[Video]
    total: int
    offset: int
    limit: int


class ShelfVideo(Shape):
    video_id: str
    path: str
    duration_s: float | None
    modified: float | None = Field(description="The file's time (seconds since the epoch).")
    added_at: float
    pictures: bool
    kinds: list[str] = Field(description="Kinds of moment found in it: speech, text, sound...")
    title: str | None = Field(description="What a person called it (null: no one did).")


class FolderCount(Shape):
    folder: str
    videos: int


class MonthCount(Shape):
    month: str
    videos: int


class LibraryPage(Shape):
    """A page of the library view."""

    videos: list[ShelfVideo]
    total: int
    offset: int
    limit: int
    sort: str
    order: Literal["asc", "desc"]
    folder: str
    kind: str
    folders: list[FolderCount]
    month: str
    months: list[MonthCount]


class Span(Shape):
    start_s: float
    end_s: float


class StoredMoment(Shape):
    """A moment as stored; `text` or `label`, and what its extractor kept beside it."""

    modality: str
    start_s: float
    end_s: float
    text: str | None = None
    label: str | None = None
    score: float
    extractor: str


class StoredVector(Shape):
    kind: str
    start_s: float
    end_s: float
    dim: int
    model: str


class VideoDetail(Video):
    """`show --json`: the video's row, then what was found in it."""

    paths: list[str]
    hashes: dict[str, str]
    extractors: dict[str, int | str]
    thumbnails: list[Span]
    moments: list[StoredMoment]
    embeddings: list[StoredVector]
    matches: list[dict[str, Any]]
    review: list[dict[str, Any]]
    title: str | None = Field(description="What a person called it (null: no one did).")


class VideoTitle(Shape):
    """`title --json`."""

    video_id: str
    path: str
    title: str | None = Field(description="Its title now (null: none, its file's name shown).")


class Forgotten(Shape):
    """`forget --json`."""

    video_id: str
    path: str
    status: Literal["forgotten"]


class Playable(Shape):
    state: Literal["ready", "preparing", "failed"]
    plan: Literal["as_is", "remux", "transcode"]
    error: str | None = None


class Word(Shape):
    start_s: float
    end_s: float
    word: str
    probability: float


class SpeechSegment(Shape):
    start_s: float
    end_s: float
    text: str
    language: str
    language_probability: float
    low_confidence: bool
    words: list[Word]


class Transcript(Shape):
    """`transcribe --format json`."""

    language: str
    duration_s: float
    segments: list[SpeechSegment]


# -- search and recommendations ----------------------------------------------------------


class MomentHit(Shape):
    """A `search --json` line."""

    video_id: str
    path: str
    start_s: float
    end_s: float
    score: float
    modality: str
    snippet: str
    scores: dict[str, float] = Field(description="What each ranking gave it.")


class Copy(Shape):
    video_id: str
    path: str
    reason: str
    copy_of: str


class Recommendation(Shape):
    video_id: str
    path: str
    score: float
    scores: dict[str, float]
    reasons: list[str]
    copies: list[Copy]


class QueryVideo(Shape):
    video_id: str
    path: str


class Recommendations(Shape):
    """`similar --json`."""

    query: list[QueryVideo]
    duplicates: list[Copy]
    results: list[Recommendation]


class SharedSound(Shape):
    query_start_s: float
    query_end_s: float
    start_s: float
    end_s: float
    agreement: float


class SoundAlike(Shape):
    """A `sound-alike --json` line."""

    video_id: str
    path: str
    shared_s: float
    shared: list[SharedSound]


class ThemeMember(Shape):
    video_id: str
    path: str
    joined: float


class Theme(Shape):
    """A `themes --json` line."""

    id: int
    label: str
    size: int
    growing: bool
    members: list[ThemeMember]


# -- index jobs ------------------------------------------------------------------------


class IndexResult(Shape):
    """An `index --json` line."""

    path: str
    video_id: str | None
    status: str
    reason: str | None
    ran_again: list[str]
    dropped: list[str]


class AfterRun(Shape):
    what: str
    done: int
    total: int


class Job(Shape):
    id: int
    state: str
    paths: list[str]
    files_total: int
    files_done: int
    current: str
    reached_s: float
    duration_s: float
    results: list[IndexResult]
    error: str
    after_run: AfterRun | None


class Upload(Shape):
    path: str
    size_bytes: int
    job: Job


# -- hashes, banks, policies -------------------------------------------------------------


class FileHash(Shape):
    """A `hash --json` line: the MD5, or a frame's PDQ hash."""

    signal: str
    hash: str
    frame: int | None = None
    quality: int | None = None
    timestamp_s: float | None = None


class Match(Shape):
    """A `match --json` line."""

    bank: str
    signal_type: str
    path: str
    matched_content: str
    distance: int | None = None
    query_match_percent: float | None = None
    target_match_percent: float | None = None
    query_start_s: float
    query_end_s: float
    match_start_s: float
    match_end_s: float


class MatchReport(Shape):
    matches: list[Match]
    notes: list[str]


class BankSummary(Shape):
    """A `bank list --json` line."""

    name: str
    entries: dict[str, int]
    allow: bool
    switched_off: int


class BankCreated(Shape):
    bank: str
    status: Literal["created"]


class BankChange(Shape):
    """`bank add --json`, `bank import --json`."""

    bank: str
    added: int
    rematched_videos: int | None = None
    matches: int | None = None
    rematch_deferred: str | None = None


class ExportedSignal(Shape):
    signal_type: str
    signal: str


class Evidence(Shape):
    signal: str
    start_s: float
    end_s: float
    score: float
    text: str
    matched: str


class Verdict(Shape):
    """A `moderate --json` line."""

    video_id: str
    path: str
    policy: str
    action: Literal["flag", "review", "block"]
    score: float
    evidence: list[Evidence]


class ReviewItem(Shape):
    """A `review list --json` line."""

    id: int
    video_id: str
    path: str
    policy: str
    action: str
    status: Literal["pending", "accepted", "rejected", "noted"]
    score: float | None
    evidence: list[Evidence]
    created: float
    decided: float | None
    decided_by: str
    note: str


class AuditEntry(Shape):
    """An `audit --json` line."""

    id: int
    at: float
    who: str
    what: str
    subject: str
    detail: dict[str, Any]
    hash: str


class AuditCheck(Shape):
    """`audit verify --json`."""

    ok: bool
    rows: int
    problems: list[str]
