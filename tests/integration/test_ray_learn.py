"""`videolearn learn --engine ray` on a real Ray cluster of two nodes on 127.0.0.1: Ray
Train's workers run the training `torchrun` runs, step for step, and follow a single
process at the same global batch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.integration.test_learn import ENV, learn, make_library

pytest.importorskip("ray.train")

STEPS = "4"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_library(tmp_path_factory.mktemp("ray-learn"))


def _losses(library: Path, command: list[str], env: dict[str, str]) -> list[float]:
    """The loss of each step of a run from scratch, as `learn --json` reports them."""
    shutil.rmtree(library / "models", ignore_errors=True)
    proc = subprocess.run(
        [*command, "--json"], env=env, capture_output=True, text=True, timeout=200, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert torch.load(library / "models" / "av.pt", weights_only=False)["step"] == int(STEPS)
    return [line["loss"] for line in lines if "loss" in line]


def test_ray_workers_train_as_torchrun_does(library: Path, cluster: str) -> None:
    """Two Ray Train workers, one on each node, give the losses two torchrun processes
    give at every step, and those of one process at the same global batch on average
    (each rank's batch norm sees its half of the batch)."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    ranks = _losses(library, [*torchrun, *learn(library, "--steps", STEPS)[1:]], ENV)
    on_ray = _losses(
        library,
        learn(library, "--steps", STEPS, "--engine", "ray", "--ray-address", cluster),
        {**ENV, "VIDEOLEARN_RAY__WORKERS": "2"},
    )
    alone = _losses(library, learn(library, "--steps", STEPS), ENV)
    assert len(on_ray) == len(ranks) == len(alone) == int(STEPS)
    assert on_ray == pytest.approx(ranks, rel=1e-4)
    assert np.mean(on_ray) == pytest.approx(np.mean(alone), rel=0.1)


def test_a_batch_that_does_not_split_over_the_workers_is_refused(
    library: Path, cluster: str
) -> None:
    proc = subprocess.run(
        learn(library, "--steps", "1", "--engine", "ray", "--ray-address", cluster),
        env={**ENV, "VIDEOLEARN_RAY__WORKERS": "3"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "a batch of 8 clips does not split over 3 workers" in proc.stderr
