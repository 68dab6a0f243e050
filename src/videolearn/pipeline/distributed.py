"""The index pipeline on a Ray cluster (`index --engine ray`): the same files, the same
extractors and the same library as the local engine, with the decoding and extracting
spread over the cluster's machines.

The driver (the `index` process) does what needs the library: it lists the files, asks
the ledger which need work (`LocalPipeline._decide`, as the local engine does), writes
each video's rows through the store (derived rows, then the video row: a reader never
sees half a video), tells the hooks and marks the file indexed, as results come in. The
decoding and the extractors run in Ray actors, `ray.workers` of them (by default one per
`ray.cpus_per_worker` of the cluster's CPUs), each loading the models once and taking
files one after the other: a file's frames never leave the actor that decodes them, so
nothing is spilled to Ray's object store but the rows found. Each actor is handed
`ray.files_ahead` files at once, so that it never waits for the driver.

An actor's process that dies (killed, out of memory, its machine lost) is started again
by Ray and its file is extracted again (`max_restarts`, `max_task_retries`); the driver
writes a file once, when its result comes. A killed driver leaves the files it had not
written pending in the ledger: the next run (with either engine) takes them up.

Every machine needs videolearn installed (the same version), the library's extractors'
models, and the media files at the same paths (a shared file system). The library itself
is written by the driver only.
"""

from __future__ import annotations

import socket
import warnings
from collections import deque
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from videolearn.config import RaySettings, Settings
from videolearn.errors import ExtractorError, MediaError, RayEngineError
from videolearn.extractors.base import Extractor
from videolearn.extractors.runner import open_extractor_decode
from videolearn.ingest.scan import FileIdentity, FoundFile
from videolearn.pipeline.hooks import IndexHook
from videolearn.pipeline.local import LocalPipeline, Started, extract
from videolearn.pipeline.types import IndexProgress, IndexResult
from videolearn.store import ExtractorOutput
from videolearn.store.tables import VideoRow


class _Extracting:
    """A Ray actor: the library's extractors, loaded once, run over one file at a time."""

    def __init__(self, settings: Settings, names: Sequence[str]) -> None:
        from videolearn.extractors.registry import available_extractors

        classes = available_extractors()
        self.settings = settings
        self.extractors: list[Extractor] = [classes[name](settings) for name in names]
        for ex in self.extractors:
            ex.load()

    def extract(
        self, identity: FileIdentity, rerun: frozenset[str] | None = None
    ) -> tuple[VideoRow, list[ExtractorOutput]] | str:
        """The file's row and outputs (of the extractors `rerun` only, when given), or why
        it could not be indexed."""
        running = [ex for ex in self.extractors if rerun is None or ex.name in rerun]
        try:
            decode = open_extractor_decode(identity.path, running, self.settings.decode)
            return extract(decode, identity, running)
        except MediaError as err:
            return err.reason
        except ExtractorError as err:
            return str(err)


class RayPipeline(LocalPipeline):
    """Indexes files into a store with the extracting done on a Ray cluster. Build one per
    run (`open_pipeline`, with `engine = "ray"`)."""

    def _work(
        self,
        found: Sequence[FoundFile],
        hooks: Sequence[IndexHook],
        progress: IndexProgress,
        results: list[IndexResult],
        stack: ExitStack,
    ) -> None:
        """What needs no extracting is answered here; the rest is extracted on the Ray
        cluster at `ray.address` (a Ray started on this machine for the run when empty).

        Raises:
            RayEngineError: Ray could not be reached or started.
        """
        waiting: deque[Started] = deque()
        for item in found:
            started = self._decide(item)
            if started.result is None:
                waiting.append(started)
                continue
            progress.file_started(item.path, len(results) + 1, len(found))
            results.append(started.result)
            progress.file_done(started.result)
        if waiting:
            ray = stack.enter_context(RayConnection(self.settings.ray))
            self._extract_on(ray, waiting, hooks, progress, results, len(found))

    def _extract_on(  # noqa: PLR0917  the run's state, handed down
        self,
        ray: Any,
        waiting: deque[Started],
        hooks: Sequence[IndexHook],
        progress: IndexProgress,
        results: list[IndexResult],
        total: int,
    ) -> None:
        """Hand the waiting files to actors and store each result as it comes."""
        options = self.settings.ray
        count = options.workers or cluster_slots(ray, options)
        count = min(count, len(waiting))
        actor = ray.remote(_Extracting).options(
            num_cpus=options.cpus_per_worker, max_restarts=-1, max_task_retries=-1
        )
        names = [ex.name for ex in self.extractors]
        pool = [actor.remote(self.settings, names) for _ in range(count)]
        running: dict[Any, tuple[Started, Any]] = {}

        def hand(worker: Any) -> None:
            started = waiting.popleft()
            assert started.identity is not None
            running[worker.extract.remote(started.identity, started.rerun)] = (started, worker)

        try:
            for worker in pool:
                for _ in range(options.files_ahead):
                    if waiting:
                        hand(worker)
            while running:
                (done,), _ = ray.wait(list(running), num_returns=1)
                started, worker = running.pop(done)
                assert started.identity is not None
                key = str(started.identity.path)
                progress.file_started(started.identity.path, len(results) + 1, total)
                try:
                    outcome = ray.get(done)
                except Exception as err:  # what the actor raised, as Ray hands it back
                    outcome = f"extracting failed on the cluster: {first_line_of(err)}"
                if isinstance(outcome, str):
                    result = self.files.failed(key, outcome, started.identity)
                else:
                    row, outputs = outcome
                    result = self._store(started, row, outputs, hooks)
                results.append(result)
                progress.file_done(result)
                if waiting:
                    hand(worker)
        finally:
            for worker in pool:
                ray.kill(worker)


def _check_reachable(address: str) -> None:
    """Refuse a cluster address nothing answers at, at once: Ray itself waits minutes
    for one before it gives up."""
    host_port = address.removeprefix("ray://")
    if host_port == "auto":
        return
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=10):
            pass
    except (OSError, ValueError) as err:
        reason = err.strerror or str(err) if isinstance(err, OSError) else "no port"
        raise RayEngineError(f"could not start or reach Ray at {address}: {reason}") from None


def cluster_slots(ray: Any, settings: RaySettings) -> int:
    """How many workers of `settings.cpus_per_worker` CPUs the cluster holds (one at least)."""
    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    return max(1, int(cpus // settings.cpus_per_worker))


def first_line_of(err: BaseException) -> str:
    """The first line of what went wrong inside a Ray task or run, through Ray's
    wrappers."""
    cause: BaseException = err
    while (inner := getattr(cause, "cause", None) or cause.__cause__) is not None:
        cause = inner
    lines = str(cause).strip().splitlines()
    return (lines[0] if lines else type(cause).__name__)[:300]


class RayConnection:
    """Ray, connected to `settings.address` (started on this machine for the run when
    empty) for the length of a `with`; a connection made before is used and kept."""

    def __init__(self, settings: RaySettings) -> None:
        self.settings = settings
        self.started = False

    def __enter__(self) -> Any:
        try:
            import ray
        except ImportError:
            raise RayEngineError(
                "the ray engine needs Ray: pip install 'videolearn[ray]'"
            ) from None
        if not ray.is_initialized():
            address = self.settings.address or None
            if address:
                _check_reachable(address)
            try:
                with warnings.catch_warnings():
                    # Starting Ray here forks and execs its processes at once: nothing of
                    # Lance's runs in a forked child.
                    warnings.filterwarnings("ignore", message=r"lance(db)? .*fork")
                    ray.init(
                        address=address,
                        num_cpus=None if address else self.settings.local_cpus or None,
                        include_dashboard=False,
                        log_to_driver=False,
                        configure_logging=False,
                    )
            except (ConnectionError, RuntimeError, ValueError) as err:
                where = f"at {address}" if address else "on this machine"
                raise RayEngineError(f"could not start or reach Ray {where}: {err}") from None
            self.started = True
        return ray

    def __exit__(self, *exc: object) -> None:
        if self.started:
            import ray

            ray.shutdown()
