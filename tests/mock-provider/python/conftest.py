"""Starts the mock provider binary once per test session and hands its base URL to tests.

The binary comes from $SWITCHYARD_MOCK_PROVIDER_BIN, else target/debug/switchyard-mock-provider
at the workspace root (build it with `cargo build -p switchyard-mock-provider`).
"""

import json
import os
import pathlib
import subprocess
import urllib.request

import pytest

API_KEY = "mock-key"
WORKSPACE = pathlib.Path(__file__).resolve().parents[3]


def _binary() -> str:
    configured = os.environ.get("SWITCHYARD_MOCK_PROVIDER_BIN")
    if configured:
        return configured
    return str(WORKSPACE / "target" / "debug" / "switchyard-mock-provider")


class Mock:
    """A running mock provider: its base URL and its /_mock endpoints."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def requests(self) -> list:
        with urllib.request.urlopen(f"{self.base_url}/_mock/requests") as response:
            return json.load(response)

    def clear(self) -> None:
        request = urllib.request.Request(f"{self.base_url}/_mock/requests", method="DELETE")
        urllib.request.urlopen(request).close()

    def last(self) -> dict:
        return self.requests()[-1]


@pytest.fixture(scope="session")
def mock():
    binary = _binary()
    if not os.path.exists(binary):
        pytest.fail(f"mock provider binary not found at {binary}; run cargo build -p switchyard-mock-provider")
    process = subprocess.Popen(
        [binary, "--port", "0", "--api-key", API_KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("listening on "), f"unexpected first line: {line!r}"
        yield Mock("http://" + line.removeprefix("listening on "))
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def recorded(mock):
    """The mock, with its recordings cleared before the test."""
    mock.clear()
    return mock
