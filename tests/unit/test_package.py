from __future__ import annotations

import subprocess
import sys

import videolearn


def test_public_api_is_small_sorted_and_importable() -> None:
    assert list(videolearn.__all__) == sorted(videolearn.__all__)
    for name in videolearn.__all__:
        assert getattr(videolearn, name) is not None


def test_cli_help_loads_no_heavy_modules() -> None:
    code = (
        "import sys, videolearn.cli.main as m\n"
        "heavy = {'av', 'lancedb', 'cv2', 'scenedetect', 'numpy', 'pyarrow'} & set(sys.modules)\n"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
