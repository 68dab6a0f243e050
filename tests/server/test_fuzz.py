"""The API fuzzed from its own OpenAPI document (schemathesis and Hypothesis): requests
with the values the document allows and values it does not, against a real server on
127.0.0.1 with a token: never a 500, never a stack trace in an answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.server.test_api import Server
from videolearn.apps import tokens
from videolearn.config import load_settings
from videolearn.library import open_library
from videolearn.samples import BLUE, RED, Caption, write_captioned_video, write_video


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder = tmp_path_factory.mktemp("fuzz")
    media = folder / "media"
    media.mkdir()
    write_captioned_video(media / "harbour.mp4", [Caption("HARBOUR FERRY", 0.0, 2.0)], 2.0)
    write_video(media / "colours.mp4", [(RED, 1.0), (BLUE, 1.0)])
    settings = load_settings(
        folder / "library",
        keep_versions_s=0,
        extractors=["file_hash", "media_info", "shots", "thumbnails", "ocr", "text_embed"],
        serve={"rate_per_s": 100_000, "rate_burst": 100_000},
    )
    with open_library(create=True, settings=settings) as lib:
        lib.index([media])
        token = tokens.create_token(lib, "fuzz").token
    server = Server(settings)
    with server:
        yield server.url, token


def test_no_request_gets_a_server_error_or_a_trace(served: tuple[str, str]) -> None:
    url, token = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    wrong: dict[str, str] = {}  # the first bad answer of each operation

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def answers(case: schemathesis.Case) -> None:
            response = case.call(base_url=url, headers=headers, timeout=60)
            if response.status_code >= 500 or "Traceback" in response.text:
                where = f"{case.method} {case.formatted_path} {case.query or ''}"
                wrong.setdefault(case.operation.label, f"{where}: {response.text[:300]}")

        answers()
    assert not wrong, "\n".join(wrong.values())
