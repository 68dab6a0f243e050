"""The HTTP API under load: search requests per second and their p95, the server's memory
over a soak, and media range requests against a plain static file server.

Writes a library of `--moments` synthetic moments (10,000 by default) with their text
vectors through the store, as `bench/search.py` does, and starts `videolearn serve` on it
(a subprocess; rate limit lifted). Then, from this process (a second process to the
server, over loopback):

- `python`: the same searches through the Python API (`apps.search.Searcher`), one at a
  time, in this process: the reference the API is given as a ratio to;
- `api`: `GET /api/v1/search` from `--clients` threads, `--requests` in all (the
  `--queries` queries in turn); requests/s over the reference's searches/s, and p95 (goal:
  at least 100 requests/s, p95 under 100 ms on 2 cores);
- `api, new`: a quarter as many requests again, each a query not asked before, so that
  no kept query vector (`search.cached_queries`) helps;
- `soak`: the same load for `--soak-s` seconds (600 by default), the server's resident
  memory read from /proc at the start and the end (goal: under 10% growth);
- `media`: 1 MiB range requests over a `--media-mb` file from the API's media endpoint and
  from a plain static file server on the same folder (`python -m RangeHTTPServer`: the
  standard library's `http.server` with range requests, which it lacks itself; installed
  by `make bench-tools`) (goal: ratio at least 0.8).

    python bench/api.py [--moments 10000] [--clients 4] [--requests 2000] [--soak-s 600]
"""

from __future__ import annotations

import argparse
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from search import build, percentiles, vocabulary
from videolearn.apps.search import Searcher
from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.store.ledger import FileStatus


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{shlex.join(map(str, proc.args))} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit("no VmRSS")


def load(
    fetch: Callable[[httpx.Client, int], None], clients: int, total: int | None, seconds: float
) -> tuple[list[float], float]:
    """Run `fetch(client, i)` from `clients` threads until `total` requests or `seconds`
    have passed; every request's seconds, and the wall time."""
    times: list[float] = []
    lock = threading.Lock()
    count = iter(range(total if total is not None else 1 << 62))
    stop = time.monotonic() + seconds

    def worker() -> None:
        with httpx.Client(timeout=60) as client:
            while time.monotonic() < stop:
                with lock:
                    i = next(count, None)
                if i is None:
                    return
                t = time.perf_counter()
                fetch(client, i)
                with lock:
                    times.append(time.perf_counter() - t)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moments", type=int, default=10_000)
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--vocabulary", type=int, default=5_000)
    parser.add_argument("--topics", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--soak-s", type=float, default=600.0)
    parser.add_argument("--media-mb", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, folder: Path) -> None:
    rng = np.random.default_rng(0)
    words = vocabulary(rng, args.vocabulary)
    settings = load_settings(folder / "library", keep_versions_s=0)
    build(args, settings, rng, words)
    middle = words[len(words) // 50 : len(words) // 5]
    queries = [
        " ".join(rng.choice(middle, size=int(rng.integers(2, 4)), replace=False))
        for _ in range(args.queries)
    ]
    media = folder / "media" / "big.mp4"
    media.parent.mkdir()
    media.write_bytes(rng.integers(0, 256, args.media_mb << 20, dtype=np.uint8).tobytes())
    stat = media.stat()
    with open_library(settings=settings) as lib:
        # The media file stands for an indexed video: the ledger is what the API serves from.
        video_id = lib.store.videos()[0].video_id
        lib.store.ledger.set(
            str(media),
            FileStatus.INDEXED,
            video_id=video_id,
            size_bytes=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
        )
        searcher = Searcher(lib)
        for q in queries[:5]:
            searcher.search(q, 10)
        python_times = []
        for q in queries:
            t = time.perf_counter()
            searcher.search(q, 10)
            python_times.append(time.perf_counter() - t)
    python_qps = len(python_times) / sum(python_times)

    port, static_port = free_port(), free_port()
    env = os.environ | {
        "VIDEOLEARN_SERVE__RATE_PER_S": "1000000",
        "VIDEOLEARN_SERVE__RATE_BURST": "1000000",
    }
    serve = [sys.executable, "-m", "videolearn.cli.main", "serve", "--port", str(port)]
    server = subprocess.Popen(
        [*serve, "--library", str(settings.library)],
        env=env,
    )
    static = subprocess.Popen(
        [sys.executable, "-m", "RangeHTTPServer", str(static_port), "--bind", "127.0.0.1"],
        cwd=media.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(f"{base}/api/v1/status", server)
        wait_up(f"http://127.0.0.1:{static_port}/", static)

        def search(client: httpx.Client, i: int) -> None:
            answer = client.get(f"{base}/api/v1/search", params={"q": queries[i % len(queries)]})
            answer.raise_for_status()

        load(search, args.clients, 50, 60)  # warm the server's models and caches
        api_times, wall = load(search, args.clients, args.requests, 3600)
        api_rps = len(api_times) / wall

        # Every request a query the server has not seen: what the kept query vectors
        # (`search.cached_queries`) cannot help with.
        seen = set(queries)
        fresh: list[str] = []
        while len(fresh) < args.requests // 4:
            q = " ".join(rng.choice(middle, size=int(rng.integers(2, 4)), replace=False))
            if q not in seen:
                seen.add(q)
                fresh.append(q)

        def search_new(client: httpx.Client, i: int) -> None:
            answer = client.get(f"{base}/api/v1/search", params={"q": fresh[i]})
            answer.raise_for_status()

        new_times, new_wall = load(search_new, args.clients, len(fresh), 3600)
        new_rps = len(new_times) / new_wall
        p50, p95, _ = percentiles(api_times)
        n50, n95, _ = percentiles(new_times)
        py50, py95, _ = percentiles(python_times)
        print(
            f"{args.moments:,} moments, {len(queries)} distinct queries asked "
            f"{args.requests:,} times, then {len(fresh):,} new ones; {args.clients} clients"
        )
        print("search        p50 ms   p95 ms   per second   ratio")
        print(f"python       {py50:7.1f}  {py95:7.1f}  {python_qps:11.1f}    1.00")
        print(f"api          {p50:7.1f}  {p95:7.1f}  {api_rps:11.1f}  {api_rps / python_qps:6.2f}")
        print(f"api, new     {n50:7.1f}  {n95:7.1f}  {new_rps:11.1f}  {new_rps / python_qps:6.2f}")
        print("goal: at least 100 requests/s with p95 under 100 ms")

        size = stat.st_size
        chunk = 1 << 20
        starts = [int(s) for s in rng.integers(0, size - chunk, 200)]

        def ranges(url: str) -> Callable[[httpx.Client, int], None]:
            def fetch(client: httpx.Client, i: int) -> None:
                start = starts[i % len(starts)]
                headers = {"Range": f"bytes={start}-{start + chunk - 1}"}
                answer = client.get(url, headers=headers)
                assert answer.status_code == 206 and len(answer.content) == chunk

            return fetch

        media_url = f"{base}/api/v1/videos/{video_id}/media"
        static_url = f"http://127.0.0.1:{static_port}/big.mp4"
        ours, ours_wall = load(ranges(media_url), args.clients, 400, 600)
        theirs, theirs_wall = load(ranges(static_url), args.clients, 400, 600)
        ours_mbs = len(ours) / ours_wall
        theirs_mbs = len(theirs) / theirs_wall
        print(
            f"media: 1 MiB ranges, API {ours_mbs:.0f} MiB/s, "
            f"RangeHTTPServer {theirs_mbs:.0f} MiB/s, "
            f"ratio {ours_mbs / theirs_mbs:.2f} (goal: at least 0.8)"
        )

        before = rss_bytes(server.pid)
        soak, soak_wall = load(search, args.clients, None, args.soak_s)
        after = rss_bytes(server.pid)
        print(
            f"soak: {len(soak):,} searches in {soak_wall:.0f} s ({len(soak) / soak_wall:.0f}/s); "
            f"server memory {before / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB "
            f"({100 * (after - before) / before:+.1f}%; goal under +10%)"
        )
    finally:
        for proc in (server, static):
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
