"""Playing a stored video: the file to serve for it, a version browsers play when they
cannot play that file (`PlayableVersions`), and its shots' thumbnails.

A video's file is served only as it was indexed: from a path the ledger holds for it,
unchanged in size and modification time since, a regular file once symlinks are followed,
and inside `serve.roots` when those are set. Nothing a request names reaches the
filesystem: it names a video id, and the path comes from the ledger.
"""

from __future__ import annotations

import mimetypes
import os
import re
import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from videolearn.errors import MediaError, VideoNotFoundError
from videolearn.ingest.playable import Playable, PlayPlan, make_playable, plan_playback
from videolearn.library import Library
from videolearn.store.ledger import FileStatus
from videolearn.store.tables import ThumbnailRow, VideoRow

UPLOADS_FOLDER = "uploads"
_VIDEO_REF = re.compile(r"^[0-9a-f]{6,64}$")
_VIDEO_ID = re.compile(r"^[0-9a-f]{64}$")
# What mimetypes does not know on every system.
_MEDIA_TYPES = {
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".flac": "audio/flac",
    ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
}


def uploads_folder(library: Library) -> Path:
    """Where the server keeps uploaded files: inside the library."""
    return library.settings.library / UPLOADS_FOLDER


def allowed_folders(library: Library) -> list[Path]:
    """The folders a server may index from: `serve.roots` and the uploads folder (with
    symlinks followed)."""
    folders = [*library.settings.serve.roots, uploads_folder(library)]
    return [Path(os.path.realpath(f)) for f in folders]


@dataclass(frozen=True)
class MediaFile:
    """A stored video's file, ready to serve."""

    video_id: str
    path: Path
    size_bytes: int
    media_type: str


def find_video(library: Library, ref: str) -> VideoRow:
    """The stored video a request names: its id, or a unique prefix of 6 or more hex
    characters (never a path).

    Raises:
        VideoNotFoundError: nothing, or more than one video, matches.
    """
    if not _VIDEO_REF.match(ref):
        raise VideoNotFoundError(f"{ref!r} is not a video id")
    return library.resolve(ref)


def media_file(library: Library, ref: str) -> MediaFile:
    """The file to serve for a video.

    Raises:
        VideoNotFoundError: no such video, or none of its files is where and as it was
            indexed (moved, changed, or outside `serve.roots`).
    """
    # A whole id needs no look-up in the tables: the ledger holds its files (marked
    # indexed only once the video is stored), and a table query costs milliseconds.
    video_id = ref if _VIDEO_ID.match(ref) else find_video(library, ref).video_id
    roots = allowed_folders(library) if library.settings.serve.roots else []
    for path in library.store.ledger.paths_of(video_id):
        entry = library.store.ledger.get(path)
        if entry is None or entry.status != FileStatus.INDEXED:
            continue
        real = Path(os.path.realpath(path))
        if roots and not any(real.is_relative_to(root) for root in roots):
            continue
        try:
            stat = real.stat()
        except OSError:
            continue
        if not real.is_file() or (stat.st_size, stat.st_mtime_ns) != (
            entry.size_bytes,
            entry.mtime_ns,
        ):
            continue
        suffix = real.suffix.lower()
        media_type = _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(real.name)[0]
        return MediaFile(video_id, real, stat.st_size, media_type or "application/octet-stream")
    if not library.store.ledger.paths_of(video_id):
        find_video(library, ref)  # says which: no such video
    raise VideoNotFoundError(
        f"the file of video {video_id[:12]} is not where it was indexed, has changed "
        "since, or lies outside serve.roots"
    )


def thumbnail(library: Library, ref: str, number: int) -> bytes:
    """The JPEG of a video's `number`th shot thumbnail (from 0, in time order).

    Raises:
        VideoNotFoundError: no such video, or it has no thumbnail of that number.
    """
    video = find_video(library, ref)
    thumbnails = library.store.rows_of(ThumbnailRow, video.video_id)
    if not 0 <= number < len(thumbnails):
        raise VideoNotFoundError(
            f"video {video.video_id[:12]} has {len(thumbnails)} thumbnails, not a number {number}"
        )
    return thumbnails[number].jpeg


def thumbnail_at(library: Library, ref: str, time_s: float) -> bytes:
    """The JPEG of the shot a video is in at `time_s` (the last one that starts at or
    before it; the first when none does).

    Raises:
        VideoNotFoundError: no such video, or it has no thumbnails.
    """
    video = find_video(library, ref)
    thumbnails = library.store.rows_of(ThumbnailRow, video.video_id)
    if not thumbnails:
        raise VideoNotFoundError(f"video {video.video_id[:12]} has no thumbnails")
    at = [t for t in thumbnails if t.start_s <= time_s]
    return (at[-1] if at else thumbnails[0]).jpeg


def poster(library: Library, ref: str) -> bytes:
    """The JPEG a person would pick to stand for a video: its longest shot's thumbnail
    (stored by `index`, nothing decoded), else the frame a third of the way in.

    Raises:
        VideoNotFoundError: no such video, or it has no pictures.
    """
    video = find_video(library, ref)
    if not video.width_px:
        raise VideoNotFoundError(f"video {video.video_id[:12]} has no pictures")
    thumbnails = library.store.rows_of(ThumbnailRow, video.video_id)
    if thumbnails:
        return max(thumbnails, key=lambda t: (t.end_s - t.start_s, -t.start_s)).jpeg
    return still(library, video.video_id, (video.duration_s or 0.0) / 3)


STILLS_FOLDER = "stills"
# Stills are made for moments this far apart (the sketches' rate): two moments a tenth of
# a second apart share one.
STILL_STEP_S = 0.25
# Stills decoded at once (each in a child process); more requests wait their turn.
_still_slots = threading.BoundedSemaphore(2)


def still(library: Library, ref: str, time_s: float) -> bytes:
    """The JPEG of the frame a video shows at `time_s` (what a search result shows for
    its moment), made once in a limited child process and kept in `LIBRARY/stills/`; the
    shot's thumbnail when the file cannot be read or decoded there.

    Raises:
        VideoNotFoundError: no such video, or neither a still nor a thumbnail can be had.
    """
    from videolearn.ingest.stills import still_at

    video = find_video(library, ref)
    step = round(max(time_s, 0.0) / STILL_STEP_S)
    kept = library.settings.library / STILLS_FOLDER / video.video_id / f"{step}.jpg"
    if kept.is_file():
        return kept.read_bytes()
    settings = library.settings
    try:
        original = media_file(library, video.video_id)
        with _still_slots:
            jpeg = still_at(
                original.path,
                step * STILL_STEP_S,
                settings.thumbnail_width_px,
                settings.thumbnail_jpeg_quality,
                settings.decode,
            )
    except (MediaError, VideoNotFoundError):
        return thumbnail_at(library, video.video_id, time_s)
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = kept.with_name(f"{kept.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.write_bytes(jpeg)
    partial.replace(kept)
    return jpeg


PLAYABLE_FOLDER = "playable"


def delete_playable(library: Library, video_id: str) -> None:
    """Delete what was made of a video for browsers, its playable versions and stills
    (when it is forgotten)."""
    for made in (library.settings.library / PLAYABLE_FOLDER).glob(f"{video_id}.*"):
        made.unlink(missing_ok=True)
    shutil.rmtree(library.settings.library / STILLS_FOLDER / video_id, ignore_errors=True)


class PlayState(StrEnum):
    READY = "ready"
    PREPARING = "preparing"
    FAILED = "failed"


@dataclass(frozen=True)
class PlayableVersion:
    """What a browser is to play for a video: the file as indexed (`plan` as_is), or a
    version made for browsers, `ready`, still `preparing`, or `failed` with the reason."""

    state: PlayState
    plan: PlayPlan
    media: MediaFile | None = None
    reason: str = ""

    def to_json(self) -> dict[str, str]:
        out = {"state": str(self.state), "plan": str(self.plan)}
        return out | ({"error": self.reason} if self.reason else {})


class PlayableVersions:
    """Versions of stored videos that browsers play, made once (remuxed or transcoded, in
    a limited child process, one at a time in a thread) and kept in `LIBRARY/playable/`
    under the video's id."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.folder = library.settings.library / PLAYABLE_FOLDER
        self._making: dict[str, Future[None]] = {}
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="playable")

    def get(self, ref: str, transcode: bool = False) -> PlayableVersion:
        """The video's playable version, starting to make it when it is needed and not
        there yet; with `transcode`, a version transcoded to H.264 and AAC whatever the
        file holds (what a browser asks for when it could not decode the file as it is
        or as remuxed: Chromium stops on a frame of box.mp4 that FFmpeg decodes).

        Raises:
            VideoNotFoundError: as `media_file`.
        """
        original = media_file(self.library, ref)
        row = self.library.store.get_video(original.video_id)
        if row is None:
            raise VideoNotFoundError(f"no indexed video has the id {original.video_id!r}")
        playable = plan_playback(
            original.path, row.container or "", row.video_codec, row.audio_codec
        )
        if transcode and playable.plan != PlayPlan.TRANSCODE:
            sound_only = row.video_codec is None
            playable = Playable(PlayPlan.TRANSCODE, ".m4a" if sound_only else ".mp4", "transcoded")
        if playable.plan == PlayPlan.AS_IS:
            return PlayableVersion(PlayState.READY, playable.plan, original)
        name = ".".join(filter(None, (original.video_id, playable.variant))) + playable.suffix
        target = self.folder / name
        with self._lock:
            if target.is_file():
                media_type = "audio/mp4" if playable.suffix == ".m4a" else "video/mp4"
                made = MediaFile(original.video_id, target, target.stat().st_size, media_type)
                return PlayableVersion(PlayState.READY, playable.plan, made)
            if name in self._failed:
                return PlayableVersion(PlayState.FAILED, playable.plan, reason=self._failed[name])
            if name not in self._making:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._making[name] = self._pool.submit(self._make, original, target, playable.plan)
        return PlayableVersion(PlayState.PREPARING, playable.plan)

    def _make(self, original: MediaFile, target: Path, plan: PlayPlan) -> None:
        try:
            make_playable(original.path, target, plan, self.library.settings.decode)
        except MediaError as err:
            with self._lock:
                self._failed[target.name] = err.reason
        finally:
            with self._lock:
                self._making.pop(target.name, None)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
