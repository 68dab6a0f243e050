"""Runs extractors over one video from a single decode pass.

The runner merges what every extractor needs into one decode request (each distinct frame
sampling once, audio once), hands each decoded chunk to every pass, and finishes passes in
dependency order so that an extractor can read the signals of those it `needs`. The
extractors of a model family may run elsewhere (`pipeline.workers` runs each family in a
worker process of its own): the runner feeds and finishes them there the same way, through
the `RemotePasses` interface.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from videolearn.config import DecodeLimits, Settings
from videolearn.errors import ExtractorError
from videolearn.extractors.base import Extractor, Signal, VideoContext, describe_failure
from videolearn.ingest.decode import DecodeRequest, MediaChunk
from videolearn.ingest.scan import FileIdentity, identify
from videolearn.ingest.worker import DecodeProcess, open_decode


class RemotePasses(Protocol):
    """Extractor passes that run outside this process (one worker per model family):
    begun, fed and finished by `run_extractors` beside the passes it runs itself."""

    @property
    def names(self) -> frozenset[str]:
        """The extractors that run remotely."""
        ...

    def begin(self, video: VideoContext, names: frozenset[str] | None = None) -> None:
        """Start the passes of `names` (every remote extractor when None) over a video."""
        ...

    def feed(self, chunk: MediaChunk) -> None: ...
    def request_finish(
        self, name: str, end_s: float, earlier: Mapping[str, Sequence[Signal]]
    ) -> None: ...
    def collect(self, name: str) -> list[Signal]:
        """Every signal `name` found in the current video. Raises ExtractorError."""
        ...


def decode_request(extractors: Sequence[Extractor], chunk_s: float = 2.0) -> DecodeRequest:
    """One request covering every extractor's sampling."""
    frames = []
    for ex in extractors:
        sampling = ex.sampling.frames
        if sampling is not None and sampling not in frames:
            frames.append(sampling)
    return DecodeRequest(
        frames=tuple(frames),
        audio=any(ex.sampling.audio for ex in extractors),
        chunk_s=chunk_s,
    )


def run_extractors(
    extractors: Sequence[Extractor],
    video: VideoContext,
    chunks: Iterable[MediaChunk],
    on_progress: Callable[[float], None] | None = None,
    workers: RemotePasses | None = None,
    *,
    given: Mapping[str, Sequence[Signal]] | None = None,
) -> dict[str, list[Signal]]:
    """Feed every extractor from one stream of chunks; signals by extractor name.

    `extractors` must already be in dependency order (see `registry.order_by_needs`).
    `on_progress` is called with the media time reached after each chunk. Extractors that
    `workers` runs get the chunks in their worker processes (sent before the index
    process works on a chunk itself); the rest run here. Only `extractors` run, in the
    workers too (a video whose other extractors' output is current runs these alone).
    `given` holds signals that other extractors found elsewhere (the ray engine runs
    each model family on actors of its own), read by those that need them.
    """
    given = given or {}
    asked = frozenset(ex.name for ex in extractors)
    remote = workers.names & asked if workers is not None else frozenset()
    if workers is not None and remote:
        workers.begin(video, asked)
    passes = []
    for ex in extractors:
        if ex.name not in remote:
            with _blame(ex):
                passes.append((ex, ex.begin(video)))
    signals: dict[str, list[Signal]] = {ex.name: [] for ex in extractors}
    end_s = 0.0
    for chunk in chunks:
        end_s = max(end_s, chunk.end_s)
        if workers is not None and remote:
            workers.feed(chunk)
        for ex, work in passes:
            with _blame(ex):
                signals[ex.name].extend(work.feed(chunk))
        if on_progress is not None:
            on_progress(end_s)
    local = dict(passes)
    waiting: set[str] = set()  # asked to finish in a worker, signals not yet collected
    for ex in extractors:
        inputs = [name for name in (*ex.needs, *ex.reads) if name in signals]
        for name in inputs:
            if name in waiting and workers is not None:
                signals[name] = workers.collect(name)
                waiting.discard(name)
        earlier = {name: signals[name] for name in inputs}
        earlier |= {name: list(given[name]) for name in (*ex.needs, *ex.reads) if name in given}
        if ex in local:
            with _blame(ex):
                signals[ex.name].extend(local[ex].finish(end_s, earlier))
        elif workers is not None:
            workers.request_finish(ex.name, end_s, earlier)
            waiting.add(ex.name)
    for name in sorted(waiting):
        assert workers is not None
        signals[name] = workers.collect(name)
    return signals


@contextmanager
def _blame(extractor: Extractor) -> Iterator[None]:
    """Turn an extractor's crash into an ExtractorError that names it: one file fails,
    not the run."""
    try:
        yield
    except ExtractorError:
        raise
    except Exception as err:
        raise ExtractorError(describe_failure(extractor.name, err)) from err


def open_extractor_decode(
    path: Path, extractors: Sequence[Extractor], limits: DecodeLimits
) -> DecodeProcess:
    """Start decoding `path` in the limited child process, at every sampling `extractors`
    ask for; `.info` is ready when this returns. Feed its chunks to `run_extractors`.

    Raises:
        MediaError: the file cannot be opened, breaks a limit, or the decoder died.
    """
    return open_decode(path, decode_request(extractors), limits)


def extract_file(
    path: Path, extractors: Sequence[Extractor], settings: Settings
) -> tuple[FileIdentity, dict[str, list[Signal]]]:
    """Run extractors over one file outside any library: identify it, decode it once in
    the limited child process, and return its identity and the signals by extractor.

    Raises:
        MediaError: the file cannot be read or decoded.
    """
    identity = identify(path, settings.decode.max_file_size_bytes)
    with open_extractor_decode(path, extractors, settings.decode) as decode:
        video = VideoContext(identity.sha256, path, decode.info, identity)
        return identity, run_extractors(extractors, video, decode)
