"""Learning throughput: training and inference clips/s per model and size, and whether the
data loader keeps up.

For each video model (TimeSformer, R(2+1)D) and size ("ci": 8 x 32 px, "tiny": 8 x 112 px)
on generated benchmark files decoded through our decode path:
- train: steps of the whole audio-visual model (both towers, heads, GDT loss with shifted
  and reversed audio, AdamW) on batches made beforehand, clips/s;
- infer: both towers' features in inference mode, clips/s;
- loader: the training DataLoader alone (`learn.loader_workers` worker processes making
  augmented batches), clips/s, and its ratio to the training rate (goal: at least 1.5,
  the loader never the bottleneck);
- end to end: `train()` itself with its loader for a fixed time, clips/s, and its ratio to
  the training rate measured without a loader (1.0: the loader costs the model nothing).

    python bench/learning.py [--sizes ci,tiny] [--models timesformer,r2plus1d] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from videolearn.config import DecodeLimits
from videolearn.learning.benchmark import BenchmarkConfig, generate
from videolearn.learning.data import ClipSpec, decode_media
from videolearn.learning.train import LearnConfig, _Batches, build_model, train

SPECS = {"ci": ClipSpec(8, 8.0, 32), "tiny": ClipSpec(8, 8.0, 112)}


def _rate(clips: int, fn: object, seconds: float) -> float:
    """Clips/s of calling fn() (which handles `clips` clips) repeatedly for `seconds`."""
    assert callable(fn)
    fn()  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn()
        done += clips
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="ci,tiny")
    parser.add_argument("--models", default="timesformer,r2plus1d")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    device = args.device
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes.split(","):
            spec = SPECS[size]
            folder = Path(scratch) / size
            config = BenchmarkConfig(
                spec=spec, size=size, train_files=48, eval_per_concept=1, duplicates=1
            )
            manifest = generate(folder, config)
            media = [
                decode_media(folder / item["path"], spec, DecodeLimits())
                for item in manifest["splits"]["train"]
            ]
            for name in args.models.split(","):
                learn = LearnConfig(video_model=name, size=size, batch_size=args.batch, spec=spec)
                results.append(
                    _measure(name, size, media, learn, device=device, seconds=args.seconds)
                )
                print(json.dumps(results[-1]), flush=True)
    print("model        size  train/s  infer/s  loader/s  loader:train  end-to-end:train")
    for r in results:
        print(
            f"{r['model']:<12} {r['size']:<5} {r['train_clips_s']:7.1f} {r['infer_clips_s']:8.1f}"
            f" {r['loader_clips_s']:9.1f} {r['loader_ratio']:13.2f} {r['end_to_end_ratio']:17.2f}"
        )


def _measure(
    name: str, size: str, media: list, learn: LearnConfig, *, device: str, seconds: float
) -> dict[str, object]:
    from videolearn.learning.data import TrainingClips

    torch.manual_seed(0)
    model = build_model(learn).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    clips = TrainingClips(media, learn.spec, seed=0, shift_s=learn.shift_s)
    video, audio, shifted = (
        t.to(device) for t in next(iter(_Batches(clips, learn.batch_size, 0, 1, rank=0, ranks=1)))
    )

    def step() -> None:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            loss = model(video, audio, shifted)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()

    def infer() -> None:
        with torch.inference_mode():
            model.embed_video(video)
            model.embed_audio(audio)
        if device == "cuda":
            torch.cuda.synchronize()

    model.train()
    train_rate = _rate(learn.batch_size, step, seconds)
    model.eval()
    infer_rate = _rate(learn.batch_size, infer, seconds)

    loader = torch.utils.data.DataLoader(
        _Batches(clips, learn.batch_size, 0, 1_000_000, rank=0, ranks=1),
        batch_size=None,
        num_workers=learn.loader_workers,
        prefetch_factor=4 if learn.loader_workers else None,
    )
    batches = iter(loader)
    next(batches)  # the worker has started
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        next(batches)
        done += learn.batch_size
    loader_rate = done / (time.perf_counter() - started)
    del batches, loader

    with tempfile.TemporaryDirectory() as scratch:
        steps: list[float] = []
        run = replace(learn, budget_s=seconds + 5, steps=1_000_000, warmup_steps=1)

        def on_step(report: object) -> None:
            steps.append(time.perf_counter())

        train(media, run, Path(scratch) / "bench.pt", on_step=on_step, device=device)
        # The first steps include the loader's start; time the rest.
        timed = steps[len(steps) // 4 :]
        end_to_end = (len(timed) - 1) * learn.batch_size / max(1e-9, timed[-1] - timed[0])
    return {
        "model": name,
        "size": size,
        "batch": learn.batch_size,
        "train_clips_s": round(train_rate, 1),
        "infer_clips_s": round(infer_rate, 1),
        "loader_clips_s": round(loader_rate, 1),
        "loader_ratio": round(loader_rate / train_rate, 2),
        "end_to_end_clips_s": round(end_to_end, 1),
        "end_to_end_ratio": round(end_to_end / train_rate, 2),
    }


if __name__ == "__main__":
    main()
