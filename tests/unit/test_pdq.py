"""Our PDQ hasher against Facebook's C++ PDQ (the `pdqhash` bindings), bit for bit."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pdqhash
import pytest

from videolearn.extractors.pdq import PdqHasher, hash_pictures


def cpp_pdq(image: np.ndarray) -> tuple[bytes, int]:
    bits, quality = pdqhash.compute(np.ascontiguousarray(image))
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes(), int(quality)


def same_luma_both_ways(image: np.ndarray) -> np.ndarray:
    """The picture with black wherever luma in float32 (the C++, and ours) and luma in
    float64 rounded to float32 (what the bindings hand the C++) differ in the last bit:
    on what is left both must give the same hash."""
    f = image.astype(np.float32)
    luma32 = np.float32(0.299) * f[..., 0] + np.float32(0.587) * f[..., 1]
    luma32 += np.float32(0.114) * f[..., 2]
    luma64 = image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114
    out = image.copy()
    out[luma32 != luma64.astype(np.float32)] = 0
    return out


def video_frames(path: Path, every: int) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        frames = container.decode(video=0)
        return [f.to_ndarray(format="rgb24") for i, f in enumerate(frames) if i % every == 0]


def test_real_frames_hash_as_the_cpp_does(shared_data: Path) -> None:
    hasher = PdqHasher()
    videos = shared_data / "threatexchange" / "videos"
    frames = video_frames(videos / "chair-19-sd-bar.mp4", 40)  # 720x480
    frames += video_frames(videos / "test-padded-dimensions.mp4", 30)  # 1080x1080
    frames += video_frames(shared_data / "video" / "vtest.avi", 200)
    assert len(frames) >= 20
    for frame in frames:
        picture = same_luma_both_ways(frame)
        assert hasher.hash(picture) == cpp_pdq(picture)


@pytest.mark.parametrize(
    "shape", [(5, 5), (5, 300), (64, 64), (63, 65), (100, 40), (129, 257), (400, 7)]
)
def test_every_size_hashes_as_the_cpp_does(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    y, x = np.mgrid[: shape[0], : shape[1]]
    smooth = np.stack([(x * 7 + y * 3) % 256, (x * y) % 256, (x + y * 5) % 256], axis=-1)
    noise = rng.integers(0, 256, (*shape, 3))
    hasher = PdqHasher()
    for raw in (smooth, noise):
        picture = same_luma_both_ways(raw.astype(np.uint8))
        assert hasher.hash(picture) == cpp_pdq(picture)


def test_degenerate_pictures() -> None:
    hasher = PdqHasher()
    assert hasher.hash(np.zeros((4, 100, 3), np.uint8)) == (bytes(32), 0)  # under 5 px
    digest, quality = hasher.hash(np.full((50, 50, 3), 128, np.uint8))
    assert quality == 0 and (digest, quality) == cpp_pdq(np.full((50, 50, 3), 128, np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        hasher.hash(np.zeros((10, 10), np.uint8))


def test_threads_hash_as_one_does(shared_data: Path) -> None:
    frames = video_frames(shared_data / "threatexchange/videos/chair-19-sd-bar.mp4", 20)
    frames += [np.zeros((3, 3, 3), np.uint8), frames[0][100:300, 50:400]]
    one = hash_pictures(frames, threads=1)
    assert one == [[PdqHasher().hash(f)] for f in frames]
    for threads in (2, 3, 0):
        assert hash_pictures(frames, threads=threads) == one
    halves = hash_pictures(frames, threads=2, prepare=lambda f: [f[::-1], f[:, ::-1]])
    assert halves == [[PdqHasher().hash(f[::-1]), PdqHasher().hash(f[:, ::-1])] for f in frames]
