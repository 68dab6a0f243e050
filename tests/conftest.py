"""Shared fixtures: generated media with exact expectations, the shared test data, libraries."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from videolearn.config import Settings, load_settings
from videolearn.library import Library, open_library

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("VIDEOLEARN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(tmp_path / "library", keep_versions_s=0)


@pytest.fixture
def library(settings: Settings) -> Library:
    lib = open_library(create=True, settings=settings)
    yield lib
    lib.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A real Ray cluster on this machine, a head and a worker node of one CPU each; its
    address."""
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    nodes = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    try:
        yield nodes.address
    finally:
        nodes.shutdown()
