"""Training on a Ray cluster (`learn --engine ray`): Ray Train's `TorchTrainer` runs the
training function `torchrun` runs (`learning.train.train`) in `ray.workers` processes
over the cluster, each a rank of one torch process group (gloo on CPUs, NCCL on GPUs):
each trains its share of every batch, and the loss gathers every rank's features, so
the negatives are the whole global batch's.

Each worker decodes the library's files itself (the media at the same paths on every
machine, as for `index --engine ray`); rank 0 writes the checkpoint into the library (a
file system every machine shares), which every rank reads when it starts, so a run cut
short is resumed by the next `learn`, on either engine. Rank 0's steps and the files it
could not read come back to the driver through a Ray queue as they happen, to be reported
as a local run reports them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from videolearn.config import Settings
from videolearn.errors import OptionError, RayEngineError
from videolearn.learning.train import LearnConfig, StepReport, library_media, train
from videolearn.pipeline.distributed import RayConnection, cluster_slots, first_line_of


def train_on_ray(
    paths: Sequence[Path],
    config: LearnConfig,
    checkpoint: Path,
    settings: Settings,
    *,
    device: str = "cpu",
    on_step: Callable[[StepReport], None] | None = None,
    on_skipped: Callable[[str], None] | None = None,
) -> None:
    """Train (resuming `checkpoint` when it exists) on the Ray cluster of `settings.ray`
    (one started on this machine for the run when it names none).

    Raises:
        RayEngineError: Ray could not be reached or started, or the training failed there.
        OptionError: the batch does not split evenly over the workers asked for.
    """
    # Absolute: Ray's workers run in folders of their own.
    checkpoint = checkpoint.resolve()
    with RayConnection(settings.ray) as ray:
        try:
            from ray.train import RunConfig, ScalingConfig
            from ray.train.torch import TorchTrainer
        except ImportError:
            raise RayEngineError(
                "training on Ray needs Ray Train: pip install 'videolearn[ray]'"
            ) from None
        from ray.util.queue import Empty, Queue

        workers = _workers(ray, settings, config)
        messages = Queue()
        trainer = TorchTrainer(
            _worker,
            train_loop_config={
                "paths": [str(p.resolve()) for p in paths],
                "config": config,
                "checkpoint": str(checkpoint),
                "settings": settings,
                "device": device,
                "messages": messages,
            },
            scaling_config=ScalingConfig(
                num_workers=workers,
                use_gpu=device == "cuda",
                resources_per_worker={"CPU": settings.ray.cpus_per_worker},
            ),
            run_config=RunConfig(storage_path=str(checkpoint.parent / "ray"), name="learn"),
        )
        failed: list[BaseException] = []

        def fit() -> None:
            try:
                trainer.fit()
            except Exception as err:  # what Ray Train raises for a failed run
                failed.append(err)

        fitting = threading.Thread(target=fit, name="ray-train", daemon=True)
        fitting.start()
        while fitting.is_alive() or not messages.empty():
            try:
                kind, item = messages.get(timeout=0.5)
            except Empty:
                continue
            if kind == "step" and on_step is not None:
                on_step(item)
            elif kind == "skipped" and on_skipped is not None:
                on_skipped(item)
        fitting.join()
        if failed:
            raise RayEngineError(f"training on the Ray cluster failed: {first_line_of(failed[0])}")


def _workers(ray: Any, settings: Settings, config: LearnConfig) -> int:
    """`ray.workers`, or as many as the cluster's CPUs hold that split the batch evenly."""
    asked = settings.ray.workers
    if asked:
        if config.batch_size % asked:
            raise OptionError(
                f"a batch of {config.batch_size} clips does not split over {asked} workers "
                "(learn.batch_size must be a multiple of ray.workers)"
            )
        return asked
    most = cluster_slots(ray, settings.ray)
    return max(n for n in range(1, most + 1) if config.batch_size % n == 0)


def _worker(loop: dict[str, Any]) -> None:
    """One rank: decode the library's files, then train its share of each batch."""
    settings: Settings = loop["settings"]
    config: LearnConfig = loop["config"]
    messages = loop["messages"]
    first = int(os.environ.get("RANK", "0")) == 0
    media, skipped = library_media(
        [Path(p) for p in loop["paths"]], config.spec, settings.decode, settings.learn.max_file_s
    )
    if first:
        for line in skipped:
            messages.put(("skipped", line))
    if not media:
        raise RayEngineError("no video with pictures and sound could be read on the cluster")
    train(
        media,
        config,
        Path(loop["checkpoint"]),
        on_step=lambda report: messages.put(("step", report)),
        device=loop["device"],
    )
