"""Requests as a hostile client or page would make them, against a real server on
127.0.0.1: same-name uploads at once, foreign Host names, oversized heads, NUL bytes, and
an OpenAPI document that says what the server answers."""

from __future__ import annotations

import contextlib
import hashlib
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.server.test_api import Server
from videolearn.apps import tokens
from videolearn.config import Settings, load_settings
from videolearn.library import open_library
from videolearn.server import allowed_hosts


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Settings, httpx.Client, dict]]:
    folder = tmp_path_factory.mktemp("hostile")
    settings = load_settings(
        folder / "library",
        keep_versions_s=0,
        extractors=["file_hash", "media_info"],
        serve={"roots": [folder], "rate_per_s": 10_000, "rate_burst": 10_000},
    )
    with open_library(create=True, settings=settings) as lib:
        token = tokens.create_token(lib, "client").token
    with Server(settings) as client:
        yield settings, client, {"Authorization": f"Bearer {token}"}


def _bodies(n: int) -> list[bytes]:
    return [f"client {i} ".encode() * (1000 + 37 * i) for i in range(n)]


def _at_once(
    client: httpx.Client, url: str, bodies: list[bytes], auth: dict
) -> list[httpx.Response]:
    """Each body POSTed to `url`, 16 requests at a time; the answers in order."""
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda body: client.post(url, content=body, headers=auth), bodies))


def test_same_name_uploads_at_once_each_get_their_own_file(served) -> None:
    settings, client, auth = served
    bodies = _bodies(100)

    answers = _at_once(client, "/api/v1/uploads?name=same.mp4", bodies, auth)
    assert [a.status_code for a in answers] == [201] * len(bodies), {
        a.status_code: a.text for a in answers if a.status_code != 201
    }
    paths = [Path(a.json()["path"]) for a in answers]
    assert len(set(paths)) == len(paths)
    for body, answer, path in zip(bodies, answers, paths, strict=True):
        assert answer.json()["size_bytes"] == len(body)
        assert path.read_bytes() == body  # the client's own bytes, whoever came at once
    assert not list((settings.library / "uploads").glob("*.partial"))


def test_files_to_hash_at_once_are_each_hashed_as_sent(served) -> None:
    _, client, auth = served
    bodies = _bodies(24)

    answers = _at_once(client, "/api/v1/hash?name=same.mp4&signal=md5", bodies, auth)
    for body, answer in zip(bodies, answers, strict=True):
        assert answer.status_code == 200, answer.text
        assert answer.json()[0]["hash"] == hashlib.md5(body).hexdigest()


def _raw(url: str, request: bytes) -> bytes:
    """Send `request` as it is and read the answer (httpx fixes up what it sends)."""
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=30) as conn:
        # The server may answer and close before the rest is sent.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


def test_only_the_hosts_the_server_listens_on_are_answered(served) -> None:
    _, client, _ = served
    port = urlsplit(str(client.base_url)).port
    for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.nip.io", ""):
        refused = client.get("/api/v1/status", headers={"Host": host})
        assert refused.status_code == 400, host
        assert "serve.allowed_hosts" in refused.json()["error"]
    media = client.get("/api/v1/videos/0/media", headers={"Host": "rebound.example"})
    assert media.status_code == 400
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
        assert client.get("/api/v1/status", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_follow_the_listening_address() -> None:
    assert "localhost" in allowed_hosts("127.0.0.1", [])
    assert "example.org" not in allowed_hosts("127.0.0.1", [])
    assert "videos.example.org" in allowed_hosts("127.0.0.1", ["videos.example.org"])
    assert allowed_hosts("192.168.1.5", []) == {"192.168.1.5"}
    assert socket.gethostname().lower() in allowed_hosts("0.0.0.0", [])


def test_an_oversized_head_is_refused_before_it_is_read(served) -> None:
    settings, client, _ = served
    limit = settings.serve.max_head_bytes
    head = b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    big = head + b"X-Filler: " + b"a" * (4 * limit) + b"\r\n\r\n"
    answer = _raw(str(client.base_url), big)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    many = head + b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(2000)) + b"\r\n"
    assert _raw(str(client.base_url), many).startswith(b"HTTP/1.1 431 ")
    # A head under the limit, and the next request on the same connection, are answered.
    small = head + b"X-Filler: " + b"c" * (limit // 2) + b"\r\n\r\n"
    assert (
        _raw(str(client.base_url), small + head + b"Connection: close\r\n\r\n").count(
            b"HTTP/1.1 200 "
        )
        == 2
    )


def test_a_nul_byte_in_a_path_is_a_bad_request(served) -> None:
    _, client, auth = served
    answer = client.post("/api/v1/jobs", json={"paths": ["/tmp/a\x00b.mp4"]}, headers=auth)
    assert answer.status_code == 400 and "NUL" in answer.json()["error"]


def test_the_openapi_document_says_what_the_server_answers(served) -> None:
    _, client, auth = served
    spec = client.get("/openapi.json").json()
    operations = {
        (path, method): operation
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    }
    assert not [key for key, op in operations.items() if "422" in op["responses"]]
    events = operations[("/api/v1/jobs/{job_id}/events", "get")]["responses"]["200"]
    assert "text/event-stream" in events["content"]
    upload = operations[("/api/v1/uploads", "post")]
    name = next(p for p in upload["parameters"] if p["name"] == "name")
    assert "pattern" in name["schema"]
    for method, url, kw in [
        ("get", "/api/v1/search", {}),
        ("get", "/api/v1/search", {"params": {"q": "x", "limit": "many"}}),
        ("get", "/api/v1/videos", {"params": {"limit": "0"}}),
        ("get", "/api/v1/videos/{video}", {"path": ("{video}", "zz")}),
        ("get", "/api/v1/videos/{video}/similar", {"path": ("{video}", "0" * 64)}),
        ("get", "/api/v1/jobs/{job_id}", {"path": ("{job_id}", "99999")}),
        ("get", "/api/v1/jobs/{job_id}", {"path": ("{job_id}", "x")}),
        ("post", "/api/v1/uploads", {"params": {"name": "0"}, "content": b"x"}),
        ("post", "/api/v1/hash", {"params": {"name": "a.mp4", "signal": "sha1"}, "content": b"x"}),
        ("post", "/api/v1/jobs", {"json": {}}),
        ("get", "/api/v1/banks/{bank}/export", {"path": ("{bank}", "NOPE")}),
    ]:
        target = url.replace(*kw.pop("path")) if "path" in kw else url
        answer = client.request(method.upper(), target, headers=auth, **kw)
        documented = operations[(url, method)]["responses"]
        assert str(answer.status_code) in documented, (method, target, answer.status_code)
        assert answer.status_code < 500 and "error" in answer.json()
