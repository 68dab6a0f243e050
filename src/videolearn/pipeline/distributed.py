"""The index pipeline on a Ray cluster (`index --engine ray`): the same files, the same
extractors and the same library as the local engine, with the decoding and extracting
spread over the cluster's machines.

The driver (the `index` process) does what needs the library: it lists the files, asks
the ledger which need work (`LocalPipeline._decide`, as the local engine does), writes
each video's rows through the store (derived rows, then the video row: a reader never
sees half a video), tells the hooks and marks the file indexed, as results come in.

The extractors run in Ray actors, a pool per model family (`main` for those that run in
the index process on the local engine), each actor loading its family's models once and
taking files one after the other, `ray.files_ahead` at a time so that it never waits for
the driver. Each actor decodes what its own extractors need (the `main` actor, or the
first family's on a file without `main` work, what the local engine's one decode would:
the video's row comes from it), so a file's frames never leave the actor that decodes
them and nothing is spilled to Ray's object store but the rows found. A family whose
extractors read another family's signals (text vectors read speech, on-screen text and
sound events) takes a file once that family has answered for it, with those signals.
How many actors a family has, and the CPUs and GPUs Ray sets aside for each, are
settings (`ray.families`).

An actor's process that dies (killed, out of memory, its machine lost) is started again
by Ray and its file is extracted again (`max_restarts`, `max_task_retries`); the driver
writes a file once, when every family has answered. A killed driver leaves the files it
had not written pending in the ledger: the next run (with either engine) takes them up.

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
from dataclasses import dataclass, field
from typing import Any

from videolearn.config import RayFamily, RaySettings, Settings
from videolearn.errors import ExtractorError, MediaError, RayEngineError
from videolearn.extractors.base import Extractor, Signal
from videolearn.extractors.runner import decode_request
from videolearn.ingest.decode import DecodeRequest
from videolearn.ingest.scan import FileIdentity, FoundFile
from videolearn.ingest.worker import open_decode
from videolearn.pipeline.hooks import IndexHook
from videolearn.pipeline.local import LocalPipeline, Started, extract
from videolearn.pipeline.types import IndexProgress, IndexResult
from videolearn.store import ExtractorOutput
from videolearn.store.tables import VideoRow

# The family of the extractors that run in the index process itself on the local engine.
MAIN = "main"


def family_of(extractor: Extractor) -> str:
    """The model family whose actors run `extractor` on the ray engine."""
    return extractor.family or MAIN


class _Extracting:
    """A Ray actor: one model family's extractors, loaded once, run over one file at a
    time."""

    def __init__(self, settings: Settings, names: Sequence[str]) -> None:
        from videolearn.extractors.registry import available_extractors

        classes = available_extractors()
        self.settings = settings
        self.extractors: list[Extractor] = [classes[name](settings) for name in names]
        for ex in self.extractors:
            ex.load()

    def extract(
        self,
        identity: FileIdentity,
        names: frozenset[str],
        given: dict[str, list[Signal]],
        request: DecodeRequest | None,
    ) -> tuple[VideoRow, list[ExtractorOutput]] | str:
        """The file's row and the outputs of the extractors `names` (reading what others
        found in `given`), decoding what `request` asks for (theirs when None), or why it
        could not be indexed."""
        running = [ex for ex in self.extractors if ex.name in names]
        try:
            request = request or decode_request(running)
            decode = open_decode(identity.path, request, self.settings.decode)
            return extract(decode, identity, running, given=given)
        except MediaError as err:
            return err.reason
        except ExtractorError as err:
            return str(err)


@dataclass
class _File:
    """A file on its way through the families' actors."""

    started: Started
    # The extractors each family runs on it, the families in the order they may run.
    families: dict[str, frozenset[str]]
    # The family whose decode gives the video's row, and what it decodes: what the local
    # engine's one decode would (a new video; a stored one keeps its row).
    row_family: str
    request: DecodeRequest | None
    outputs: dict[str, ExtractorOutput] = field(default_factory=dict)
    row: VideoRow | None = None
    handed: set[str] = field(default_factory=set)  # queued for, or sent to, or done
    done: set[str] = field(default_factory=set)
    flying: int = 0
    failure: str | None = None

    @property
    def over(self) -> bool:
        """Whether every family has answered for it, or one failed it and no other is
        still working on it."""
        return self.flying == 0 and (self.failure is not None or self.done == set(self.families))


@dataclass
class _Family:
    """One model family's actors and the files ready for them."""

    name: str
    actors: list[Any]
    # Families whose extractors' signals this family's extractors read.
    reads: frozenset[str]
    busy: list[int] = field(default_factory=list)
    ready: deque[_File] = field(default_factory=deque)


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
            RayEngineError: Ray could not be reached or started, or `ray.families` names
                a family no extractor is of.
        """
        families = self._families()
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
            self._extract_on(ray, families, waiting, hooks, progress, results, len(found))

    def _families(self) -> dict[str, list[Extractor]]:
        """The run's extractors by family, the families in an order in which each comes
        after those whose extractors it reads.

        Raises:
            RayEngineError: a family named in `ray.families` that no extractor is of, or
                families that read each other's extractors.
        """
        from videolearn.extractors.registry import available_extractors

        known = {MAIN} | {c.family for c in available_extractors().values() if c.family}
        for name in self.settings.ray.families:
            if name not in known:
                raise RayEngineError(
                    f"ray.families.{name}: no extractor is of that family "
                    f"(families: {', '.join(sorted(known))})"
                )
        by_family: dict[str, list[Extractor]] = {}
        for ex in self.extractors:  # in the order of their needs
            by_family.setdefault(family_of(ex), []).append(ex)
        reads = _family_reads(self.extractors)
        ordered: list[str] = []
        while len(ordered) < len(by_family):
            free = [f for f in by_family if f not in ordered and reads[f] <= set(ordered)]
            if not free:
                left = sorted(set(by_family) - set(ordered))
                raise RayEngineError(
                    f"the extractors of the families {', '.join(left)} read each other's "
                    "signals: the ray engine runs a family after those it reads"
                )
            ordered.append(free[0])
        return {f: by_family[f] for f in ordered}

    def _extract_on(  # noqa: PLR0917  the run's state, handed down
        self,
        ray: Any,
        by_family: dict[str, list[Extractor]],
        waiting: deque[Started],
        hooks: Sequence[IndexHook],
        progress: IndexProgress,
        results: list[IndexResult],
        total: int,
    ) -> None:
        """Hand the waiting files to each family's actors, each family after those it
        reads, and store each file once every family has answered for it."""
        options = self.settings.ray
        slots = options.workers or cluster_slots(ray, options)
        reads = _family_reads(self.extractors)
        family_of_name = {ex.name: family_of(ex) for ex in self.extractors}
        actor = ray.remote(_Extracting)
        families: dict[str, _Family] = {}
        for name, extractors in by_family.items():
            own = options.families.get(name, RayFamily())
            count = min(own.workers or slots, len(waiting))
            made = actor.options(
                num_cpus=own.cpus or options.cpus_per_worker / len(by_family),
                num_gpus=own.gpus,
                max_restarts=-1,
                max_task_retries=-1,
            )
            pool = [
                made.remote(self.settings, [ex.name for ex in extractors]) for _ in range(count)
            ]
            families[name] = _Family(name, pool, reads[name], [0] * count)
        running: dict[Any, tuple[_File, str, int]] = {}

        def release(file: _File) -> None:
            """Queue the file for each family whose reads it has all answered."""
            for name in file.families:
                needed = families[name].reads & set(file.families)
                if name not in file.handed and needed <= file.done:
                    families[name].ready.append(file)
                    file.handed.add(name)

        def hand_out() -> None:
            for family in families.values():
                while family.ready:
                    slot = min(range(len(family.actors)), key=family.busy.__getitem__)
                    if family.busy[slot] >= options.files_ahead:
                        break
                    file = family.ready.popleft()
                    if file.failure is not None:
                        continue
                    given = {
                        n: list(o.signals)
                        for n, o in file.outputs.items()
                        if family_of_name[n] in family.reads
                    }
                    request = file.request if family.name == file.row_family else None
                    task = family.actors[slot].extract.remote(
                        file.started.identity, file.families[family.name], given, request
                    )
                    running[task] = (file, family.name, slot)
                    family.busy[slot] += 1
                    file.flying += 1

        # Files open at once (handed to a family, not yet stored): a family that runs
        # ahead of the others holds its outputs here until they catch up.
        window = 2 * max(len(f.actors) * options.files_ahead for f in families.values())
        open_files = 0

        def admit() -> None:
            nonlocal open_files
            while waiting and open_files < window:
                release(self._routed(waiting.popleft(), by_family))
                open_files += 1

        try:
            admit()
            hand_out()
            while running:
                (done,), _ = ray.wait(list(running), num_returns=1)
                file, name, slot = running.pop(done)
                families[name].busy[slot] -= 1
                file.flying -= 1
                file.done.add(name)
                try:
                    outcome = ray.get(done)
                except Exception as err:  # what the actor raised, as Ray hands it back
                    outcome = f"extracting failed on the cluster: {first_line_of(err)}"
                if isinstance(outcome, str):
                    file.failure = file.failure or outcome
                else:
                    row, outputs = outcome
                    file.outputs.update((o.name, o) for o in outputs)
                    if name == file.row_family:
                        file.row = row
                    release(file)
                if file.over:
                    self._store_file(file, hooks, progress, results, total)
                    open_files -= 1
                    admit()
                hand_out()
        finally:
            for family in families.values():
                for worker in family.actors:
                    ray.kill(worker)

    def _routed(self, started: Started, by_family: dict[str, list[Extractor]]) -> _File:
        """A waiting file with the extractors each family runs on it: every one for a new
        video, those behind for a stored one."""
        asked = self._running(started)
        families = {
            name: frozenset(ex.name for ex in extractors if ex in asked)
            for name, extractors in by_family.items()
        }
        families = {name: names for name, names in families.items() if names}
        row_family = MAIN if MAIN in families else next(iter(families))
        request = decode_request(asked) if started.rerun is None else None
        return _File(started, families, row_family, request)

    def _store_file(
        self,
        file: _File,
        hooks: Sequence[IndexHook],
        progress: IndexProgress,
        results: list[IndexResult],
        total: int,
    ) -> None:
        """Store what the families found in a file (or that it failed), as the local
        engine does when its extractors are through."""
        started = file.started
        assert started.identity is not None
        progress.file_started(started.identity.path, len(results) + 1, total)
        if file.failure is not None:
            key = str(started.identity.path)
            result = self.files.failed(key, file.failure, started.identity)
        else:
            assert file.row is not None
            outputs = [file.outputs[ex.name] for ex in self.extractors if ex.name in file.outputs]
            result = self._store(started, file.row, outputs, hooks)
        results.append(result)
        progress.file_done(result)


def _family_reads(extractors: Sequence[Extractor]) -> dict[str, frozenset[str]]:
    """Each family's families whose extractors' signals its extractors read."""
    family_of_name = {ex.name: family_of(ex) for ex in extractors}
    reads: dict[str, set[str]] = {family_of(ex): set() for ex in extractors}
    for ex in extractors:
        for name in (*ex.needs, *ex.reads):
            if name in family_of_name and family_of_name[name] != family_of(ex):
                reads[family_of(ex)].add(family_of_name[name])
    return {f: frozenset(r) for f, r in reads.items()}


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
