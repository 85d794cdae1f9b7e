"""Starts the mock provider and the Switchyard proxy binaries once per test session.

The binaries come from $SWITCHYARD_MOCK_PROVIDER_BIN and $SWITCHYARD_PROXY_BIN, else
target/debug at the workspace root (build them with
`cargo build -p switchyard-proxy -p switchyard-mock-provider`).
"""

import json
import os
import pathlib
import socket
import subprocess
import time
import urllib.request

import pytest

WORKSPACE = pathlib.Path(__file__).resolve().parents[3]


def _binary(variable: str, name: str) -> str:
    path = os.environ.get(variable) or str(WORKSPACE / "target" / "debug" / name)
    if not os.path.exists(path):
        pytest.fail(f"{name} not found at {path}; run cargo build -p {name}")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manifests(mock_url: str) -> str:
    """Public models the tests call, each served by the mock in one provider's wire format."""

    def model(name, provider, endpoint, extra=""):
        return f"""---
apiVersion: switchyard.dev/v1alpha1
kind: AIModel
metadata: {{name: {name}}}
spec:
  provider: {provider}
  model: {name}
  endpoint: {endpoint}
  credentials: {{secretRef: {{name: mock, key: apiKey}}}}
  pricing: {{input: "2", output: "8"}}
{extra}"""

    def route(public, backend, extra=""):
        return f"""---
apiVersion: switchyard.dev/v1alpha1
kind: AIRoute
metadata: {{name: {public}}}
spec:
  models: [{public}]
  backends: [{{modelRef: {{name: {backend}}}}}]
  retry: {{attempts: 1}}
{extra}"""

    return "\n".join(
        [
            """apiVersion: v1
kind: Secret
metadata: {name: mock}
stringData: {apiKey: mock-key}
---
apiVersion: switchyard.dev/v1alpha1
kind: AIPolicy
metadata: {name: anyone}
spec:
  targetRefs: [{kind: Namespace}]
  authentication: {anonymous: true}
""",
            model("gpt-4o", "openai-compatible", f"{mock_url}/v1"),
            model("text-embedding-3-small", "openai-compatible", f"{mock_url}/v1"),
            model("claude-sonnet-4", "anthropic", mock_url),
            route("gpt-4o", "gpt-4o"),
            route("text-embedding-3-small", "text-embedding-3-small"),
            route("claude-sonnet-4", "claude-sonnet-4"),
            # The same OpenAI backend behind the Anthropic Messages API.
            route("gpt-via-messages", "gpt-4o"),
            # A backend scripted to fail: the mock answers what x-mock-* headers ask for.
            route("always-429", "gpt-4o", '  transforms: {setHeaders: {x-mock-status: "429", x-mock-retry-after: "3"}}\n'),
            route("claude-429", "claude-sonnet-4", '  transforms: {setHeaders: {x-mock-status: "429"}}\n'),
        ]
    )


class Gateway:
    """The running proxy and the mock behind it."""

    def __init__(self, url: str, admin: str, mock_url: str):
        self.url = url
        self.admin = admin
        self.mock_url = mock_url

    def mock_requests(self) -> list:
        with urllib.request.urlopen(f"{self.mock_url}/_mock/requests") as response:
            return json.load(response)

    def clear(self) -> None:
        request = urllib.request.Request(f"{self.mock_url}/_mock/requests", method="DELETE")
        urllib.request.urlopen(request).close()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory):
    mock = subprocess.Popen(
        [_binary("SWITCHYARD_MOCK_PROVIDER_BIN", "switchyard-mock-provider"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    proxy = None
    try:
        line = mock.stdout.readline().strip()
        assert line.startswith("listening on "), f"unexpected first line: {line!r}"
        mock_url = "http://" + line.removeprefix("listening on ")
        config = tmp_path_factory.mktemp("switchyard") / "switchyard.yaml"
        config.write_text(manifests(mock_url))
        port, admin_port = _free_port(), _free_port()
        log = open(config.with_name("proxy.log"), "w")
        proxy = subprocess.Popen(
            [
                _binary("SWITCHYARD_PROXY_BIN", "switchyard-proxy"),
                "--config", str(config),
                "--listen", f"127.0.0.1:{port}",
                "--admin-listen", f"127.0.0.1:{admin_port}",
                "--threads", "2",
            ],
            stderr=log,
        )
        admin = f"http://127.0.0.1:{admin_port}"
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"{admin}/readyz") as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail(f"the proxy did not become ready: {config.with_name('proxy.log').read_text()}")
        yield Gateway(f"http://127.0.0.1:{port}", admin, mock_url)
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=30)
        mock.terminate()
        mock.wait(timeout=10)


@pytest.fixture
def openai_client(gateway):
    import openai

    # Any key: the route's policy admits anonymous callers; the SDK insists on one.
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)


@pytest.fixture
def anthropic_client(gateway):
    import anthropic

    return anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0)
